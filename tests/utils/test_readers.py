"""Streaming readers: lists, CSV and JSON Lines (plain or gzip), SQL; errors name rows, never values."""

from __future__ import annotations

import gzip
import json
import tracemalloc

import pytest

from airflow_provider_tiktok.exceptions import TikTokConfigError, TikTokInputError
from airflow_provider_tiktok.utils.readers import iter_records


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
