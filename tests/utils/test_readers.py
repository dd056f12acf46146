"""Streaming readers: lists, CSV and JSON Lines (plain or gzip), SQL; errors name rows, never values."""

from __future__ import annotations

import codecs
import gzip
import json
import re
import tracemalloc

import pytest

from airflow_provider_tiktok.exceptions import TikTokConfigError, TikTokInputError
from airflow_provider_tiktok.utils.readers import iter_records
from airflow_provider_tiktok.utils.storage import as_path


@pytest.mark.unit
def test_list_of_records_and_scalars():
    assert list(iter_records([{"a": 1}, {"a": 2}])) == [(1, {"a": 1}), (2, {"a": 2})]
    assert list(iter_records(["x@example.com", 5])) == [(1, {"value": "x@example.com"}), (2, {"value": 5})]


@pytest.mark.unit
def test_field_map_renames_and_refuses_collisions():
    assert list(iter_records([{"mail": "m", "x": 1}], field_map={"mail": "email"})) == [(1, {"email": "m", "x": 1})]
    with pytest.raises(TikTokInputError, match=r"row 1.*field_map"):
        list(iter_records([{"mail": "m", "email": "e"}], field_map={"mail": "email"}))


@pytest.mark.unit
def test_field_map_to_none_drops_a_column():
    rows = list(
        iter_records([{"mail": "m", "internal": 1, "note": "x"}], field_map={"mail": "email", "internal": None})
    )
    assert rows == [(1, {"email": "m", "note": "x"})]


@pytest.mark.unit
def test_csv_with_bom_empty_cells_and_gzip(tmp_path):
    text = "\ufeffemail,value\njane@example.com,12.5\nbob@example.com,\n"
    plain = tmp_path / "in.csv"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / "in.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    expected = [(1, {"email": "jane@example.com", "value": "12.5"}), (2, {"email": "bob@example.com", "value": None})]
    assert list(iter_records(str(plain))) == expected
    assert list(iter_records(f"file://{packed}")) == expected


@pytest.mark.unit
def test_json_lines(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"a": 1}\n\n{"a": [2]}\n', encoding="utf-8")
    assert list(iter_records(path)) == [(1, {"a": 1}), (2, {"a": [2]})]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", b"email,value\nsecret@example.com,1,EXTRA\n", "row 1: has 3 fields"),
        ("bad.csv", b"email,email\nx,y\n", "repeated"),
        ("bad.csv", b"email\nok@example.com\n\xff\xfesecret\n", "line 3 is not UTF-8"),
        ("bad.jsonl", b'{"a": 1}\n{"email": "secret@example.com"\n', "row 2: is not valid JSON"),
        ("bad.jsonl", b'["secret@example.com"]\n', "row 1: must be a JSON object"),
    ],
)
def test_malformed_files_name_the_row_not_the_value(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TikTokInputError) as info:
        list(iter_records(str(path)))
    assert message in str(info.value)
    assert "secret" not in str(info.value)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("source", "kwargs", "message"),
    [
        (None, {}, "no input"),
        ({"a": 1}, {}, "single mapping"),
        ("/nowhere/in.csv", {}, "not found"),
        ("/tmp/in.parquet", {}, "must end in"),
        (None, {"sql": "select 1"}, "sql_conn_id"),
        ([], {"sql": "select 1", "sql_conn_id": "x"}, "not both"),
    ],
)
def test_bad_arguments_are_config_errors(source, kwargs, message):
    with pytest.raises(TikTokConfigError, match=message):
        list(iter_records(source, **kwargs))


@pytest.mark.unit
def test_empty_inputs_yield_nothing(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("email\n")
    assert list(iter_records(str(tmp_path / "empty.csv"))) == []
    assert list(iter_records(str(tmp_path / "header.csv"))) == []
    assert list(iter_records([])) == []


@pytest.mark.unit
def test_large_file_streams_in_flat_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w") as handle:
        for n in range(200_000):
            handle.write(json.dumps({"email": f"user{n}@example.com", "value": n}) + "\n")
    tracemalloc.start()
    count = sum(1 for _ in iter_records(str(path)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 200_000
    assert peak < 5_000_000, f"peak {peak} bytes: the reader must not hold the file"


@pytest.mark.integration
def test_sql_is_streamed_from_a_real_postgres_in_chunks(postgres_server, monkeypatch):
    import psycopg2

    with psycopg2.connect(postgres_server.dsn) as conn, conn.cursor() as cursor:
        cursor.execute("drop table if exists members; create table members (email text, n int)")
        cursor.executemany("insert into members values (%s, %s)", [(f"u{n}@example.com", n) for n in range(25)])
    monkeypatch.setenv("AIRFLOW_CONN_MEMBERS_DB", postgres_server.airflow_conn_json())
    rows = list(
        iter_records(None, sql="select email, n from members order by n", sql_conn_id="members_db", chunk_size=7)
    )
    assert len(rows) == 25
    assert rows[0] == (1, {"email": "u0@example.com", "n": 0})
    assert rows[-1] == (
        25,
        {"email": "u24@example.com", "n": 24},
    )


# ------------------------------------------------------------------- files as tools write them (issue 15)
BOM = "\ufeff".encode()
#: Rows every readable real-world file below holds (as the readers give them: text, empty cells None).
ROWS = [
    (1, {"email": "jane@example.com", "event": "Purchase", "note": None}),
    (2, {"email": "müller@example.de", "event": "Lead", "note": 'line one\r\nline two, with "quotes"'}),
]
CSV_QUOTED = (
    '"email","event","note"\r\n"jane@example.com","Purchase",""\r\n'
    '"müller@example.de","Lead","line one\r\nline two, with ""quotes"""\r\n'
)
JSON_LINES = (
    '{"email": "jane@example.com", "event": "Purchase", "note": null}\r\n'
    '{"email": "müller@example.de", "event": "Lead", "note": "line one\\r\\nline two, with \\"quotes\\""}\r\n'
)

#: (file name, bytes) of files that must read as ROWS.
READABLE = {
    "powershell_export_csv_utf8_bom": ("in.csv", BOM + CSV_QUOTED.encode()),
    "powershell7_export_csv_no_bom": ("in.csv", CSV_QUOTED.encode()),
    "powershell5_type_line": (
        "in.csv",
        BOM + ("#TYPE System.Management.Automation.PSCustomObject\r\n" + CSV_QUOTED).encode(),
    ),
    "excel_csv_utf8_unquoted_header": (
        "in.csv",
        BOM + CSV_QUOTED.replace('"email","event","note"', "email,event,note").encode(),
    ),
    "excel_sep_line": ("in.csv", BOM + ("sep=,\r\n" + CSV_QUOTED).encode()),
    "bom_written_twice": ("in.csv", BOM + BOM + CSV_QUOTED.encode()),
    "utf16_le_bom": ("in.csv", CSV_QUOTED.encode("utf-16")),  # Python writes the native (little-endian) order
    "utf16_be_bom": ("in.csv", codecs.BOM_UTF16_BE + CSV_QUOTED.encode("utf-16-be")),
    "utf16_le_with_type_line": (
        "in.csv",
        ("#TYPE System.Management.Automation.PSCustomObject\r\n" + CSV_QUOTED).encode("utf-16"),
    ),
    "utf32_bom": ("in.csv", CSV_QUOTED.encode("utf-32")),
    "trailing_unnamed_empty_columns": (
        "in.csv",
        CSV_QUOTED.replace('"note"\r\n', '"note",,\r\n')
        .replace('""\r\n', '"",,\r\n')
        .replace('"""\r\n', '""",,\r\n')
        .encode(),
    ),
    "json_lines_bom_crlf": ("in.jsonl", BOM + JSON_LINES.encode()),
    "json_lines_utf16_bom": ("in.ndjson", JSON_LINES.encode("utf-16")),
}

#: (file name, bytes, the cause the error must name) of files that cannot be read.
UNREADABLE = {
    "utf16_without_bom": (
        "in.csv",
        CSV_QUOTED.encode("utf-16-le"),
        r"^line 1 contains NUL bytes: .*UTF-16 text without a byte-order mark",
    ),
    "nul_padding_after_a_crash": ("in.csv", CSV_QUOTED.encode() + b"\x00" * 64, r"^line 5 contains NUL bytes"),
    "xlsx_named_csv": (
        "in.csv",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00secret@example.com",
        r"ZIP archive \(an Excel \.xlsx workbook\?\)",
    ),
    "xls_named_csv": ("in.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1secret", r"Excel \.xls workbook"),
    "gzip_without_gz_name": (
        "in.jsonl",
        gzip.compress(JSON_LINES.encode(), mtime=0),
        r"is gzip-compressed: name it \.gz",
    ),
    "csv_files_joined_bom_in_middle": (
        "in.csv",
        (BOM + CSV_QUOTED.encode()) * 2,
        r"^line 5 starts with a byte-order mark.*joined together",
    ),
    "json_lines_joined_bom_in_middle": (
        "in.jsonl",
        (BOM + JSON_LINES.encode()) * 2,
        r"^line 3 starts with a byte-order mark",
    ),
    "utf16_files_joined": ("in.csv", CSV_QUOTED.encode("utf-16") * 2, r"^line 5 starts with a byte-order mark"),
    "utf16_lone_surrogate": (
        "in.csv",
        codecs.BOM_UTF16_LE + "email\r\n".encode("utf-16-le") + b"\x00\xd8a\x00\r\x00\n\x00",
        r"^line 2 is not valid UTF-16 text .*save it as UTF-8",
    ),
    "latin1": ("in.csv", CSV_QUOTED.encode("latin-1"), r"^line 3 is not UTF-8 text"),
    "duplicate_header_name": (
        "in.csv",
        b"email,event,email\r\nsecret@example.com,Lead,x@example.com\r\n",
        r"^row 0: the CSV header has empty or repeated column names: 'email' names columns 1 and 3",
    ),
    "duplicate_values_as_header": (
        "in.csv",
        b"secret@example.com,secret@example.com\r\n",
        r"^row 0: .*the same name is given to columns 1 and 2",
    ),
    "empty_header_name": ("in.csv", b"email,,event\r\nsecret@example.com,,Lead\r\n", r"^row 0: .*column 2 has no name"),
    "header_of_commas": (
        "in.csv",
        b",,,\r\nsecret@example.com,,,\r\n",
        r"^row 0: the CSV header row has no column names",
    ),
    "value_under_unnamed_column": (
        "in.csv",
        b"email,event,\r\na@example.com,Lead,\r\nb@example.com,Lead,secret\r\n",
        r"^row 2: has a value in column 3, which has no name",
    ),
    "excel_sep_semicolon": (
        "in.csv",
        b"sep=;\r\nemail;event\r\nsecret@example.com;Lead\r\n",
        r"^row 0: .*separator line 'sep=': it is semicolon-separated",
    ),
    "json_lines_old_mac_line_ends": (
        "in.jsonl",
        JSON_LINES.replace("\r\n", "\r").encode(),
        r"^row 1: is not valid JSON: its lines end in a bare carriage return",
    ),
    "csv_old_mac_line_ends": (
        "in.csv",
        CSV_QUOTED.replace("\r\n", "\r").encode(),
        r"^row 1: is not valid CSV: a line ends in a bare carriage return",
    ),
}


def _stored(where: str, tmp_path, memory_store: str, name: str, content: bytes) -> str:
    """Put ``content`` where the reader will find it: a local path or the in-memory object store, plain or gzip."""
    if where.endswith("gzip"):
        name, content = f"{name}.gz", gzip.compress(content, mtime=0)
    location = str(tmp_path / name) if where.startswith("local") else f"{memory_store}/input/{name}"
    as_path(location).write_bytes(content)
    return location


WHERE = ["local", "local_gzip", "memory", "memory_gzip"]


@pytest.mark.unit
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("case", sorted(READABLE))
def test_files_as_tools_write_them_are_read_exactly(case, where, tmp_path, memory_store):
    name, content = READABLE[case]
    assert list(iter_records(_stored(where, tmp_path, memory_store, name, content))) == ROWS


@pytest.mark.unit
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_files_that_cannot_be_read_fail_naming_the_cause(case, where, tmp_path, memory_store):
    name, content, cause = UNREADABLE[case]
    with pytest.raises(TikTokInputError) as info:
        list(iter_records(_stored(where, tmp_path, memory_store, name, content)))
    assert re.search(cause, str(info.value)), str(info.value)
    assert "header row missing" not in str(info.value)
    assert "secret" not in str(info.value)


@pytest.mark.unit
@pytest.mark.parametrize(
    "content",
    [BOM, BOM + b"\r\n\r\n", codecs.BOM_UTF16_LE, "\r\n".encode("utf-16"), BOM + b"email,event\r\n"],
    ids=["utf8_bom_only", "bom_and_blank_lines", "utf16_bom_only", "utf16_blank_line", "bom_and_header_only"],
)
def test_a_file_holding_only_a_byte_order_mark_is_empty(content, tmp_path):
    for name in ("in.csv", "in.jsonl"):
        if name.endswith(".jsonl") and b"email" in content:
            continue
        path = tmp_path / name
        path.write_bytes(content)
        assert list(iter_records(str(path))) == []


@pytest.mark.unit
def test_a_utf16_file_is_streamed_in_flat_memory(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-16", newline="") as handle:
        handle.write("email,value\r\n")
        for n in range(100_000):
            handle.write(f"user{n}@example.com,{n}\r\n")
    tracemalloc.start()
    rows = iter_records(str(path))
    first = next(rows)
    count = 1 + sum(1 for _ in rows)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert first == (1, {"email": "user0@example.com", "value": "0"})
    assert count == 100_000
    assert peak < 5_000_000, f"peak {peak} bytes: the reader must not hold the file"


@pytest.mark.unit
def test_a_truncated_gzip_of_a_utf16_file_says_after_which_line(tmp_path):
    text = "email\r\n" + "".join(f"user{n}@example.com\r\n" for n in range(2000))
    path = tmp_path / "in.csv.gz"
    path.write_bytes(gzip.compress(text.encode("utf-16"), mtime=0)[:-200])
    with pytest.raises(
        TikTokInputError, match=r"^the gzip file is truncated \(after line [1-9]\d*\): compress it again"
    ):
        list(iter_records(str(path)))


@pytest.mark.unit
def test_a_powershell_type_line_naming_a_generic_type_is_skipped(tmp_path):
    path = tmp_path / "in.csv"
    type_line = "#TYPE System.Collections.Generic.KeyValuePair`2[[System.String, mscorlib],[System.Int32, mscorlib]]"
    path.write_bytes(BOM + f'{type_line}\r\n"email","value"\r\n"jane@example.com","1"\r\n'.encode())
    assert list(iter_records(str(path))) == [(1, {"email": "jane@example.com", "value": "1"})]
