"""Write the bad-input corpus: one small file per case under tests/data/bad_inputs/ and the manifest cases.json.

Run ``.venv/bin/python -m tests.bad_inputs.make_corpus`` after changing a case; ``test_corpus.py`` checks that the
committed files are exactly what this writes. Every expectation below is written by hand from TikTok's rules
(tiktok-api.md) and what an Airflow user should see, never computed with the provider's code.

A case feeds one input to one operator and expects one outcome:

- ``error``: the task fails with our exception type, the message naming the row (and field where one is at
  fault), before anything is sent;
- ``rejects``: the rows named (row, field, reason) go to the rejects file, every other row is delivered;
- ``accepted``: the odd-looking input is understood (a BOM, ``"usd "``, epoch milliseconds...) or is empty, and
  the rows listed are delivered.

``never`` lists raw values that must not appear in any exception, log record, XCom value or rejects file;
the raw e-mails and phones of every row are added to it automatically.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1] / "data" / "bad_inputs"
MANIFEST = ROOT / "cases.json"
#: The emulator's and the operators' clock in these tests (EMULATOR_NOW in tests/helpers/clock.py).
NOW = "2026-03-10T15:30:00+00:00"
#: 2026-03-10T14:00:00Z, ninety minutes before NOW.
T0 = 1773151200
EVENT_HEADER = ["event", "event_time", "email", "phone", "page_url", "value", "currency", "order_id"]
LONG_TOKEN = "LongValue-"
#: A slice of every long value: finding it anywhere means the long value leaked.
LONG_MARK = LONG_TOKEN * 6


# ------------------------------------------------------------------------------------------- rows
def event(row: int, **overrides: Any) -> dict[str, Any]:
    """A good purchase for ``row``: raw e-mail and US phone, a time ``row`` minutes after T0, order ``o<row>``;
    an override of None leaves the field out."""
    record: dict[str, Any] = {
        "event": "Purchase",
        "event_time": f"2026-03-10T14:{row:02d}:00Z",
        "email": f"buyer{row}@example.com",
        "phone": f"(415) 555-{100 + row:04d}",
        "page_url": f"https://shop.example.com/p/{row}",
        "value": 19.99,
        "currency": "USD",
        "order_id": f"o{row}",
    }
    record.update(overrides)
    return {key: value for key, value in record.items() if value is not None}


def member(row: int) -> str:
    """A good audience member e-mail for ``row``."""
    return f"member{row}@example.com"


def raw_identifiers(records: Iterable[dict[str, Any]]) -> list[str]:
    """The raw e-mails and phones in ``records`` (each must never leak)."""
    found = []
    for record in records:
        for key in ("email", "phone"):
            value = record.get(key)
            if isinstance(value, str) and value.strip():
                found.append(value.strip())
    return found


# ----------------------------------------------------------------------------------------- writers
def csv_text(header: list[str], rows: list[dict[str, Any]]) -> bytes:
    """A comma-separated file with ``header``; absent values as empty cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else row[column] for column in header])
    return out.getvalue().encode("utf-8")


def jsonl_text(rows: list[Any]) -> bytes:
    """One JSON value a line (NaN and Infinity written as Python's json does)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


class Corpus:
    """Collects files and cases, then writes them."""

    def __init__(self) -> None:
        """Nothing collected yet."""
        self.files: dict[str, bytes] = {}
        self.cases: list[dict[str, Any]] = []

    def file(self, name: str, content: bytes) -> str:
        """Add one corpus file; returns its name relative to the corpus root."""
        assert name not in self.files, name
        self.files[name] = content
        return name

    def case(self, case_id: str, operator: str, what: str, expect: str, **fields: Any) -> None:
        """Add one case; ``feeds`` default to the file as is, ``stage`` to execute."""
        assert all(c["id"] != case_id for c in self.cases), case_id
        assert expect in ("error", "rejects", "accepted")
        entry: dict[str, Any] = {"id": case_id, "operator": operator, "what": what, "expect": expect}
        entry.update({key: value for key, value in fields.items() if value is not None})
        entry.setdefault("feeds", ["file"] if "file" in entry else [])
        entry.setdefault("kwargs", {})
        entry.setdefault("stage", "execute")
        entry["never"] = sorted(set(entry.get("never", [])))
        self.cases.append(entry)

    def write(self, root: Path) -> None:
        """Write every file and the manifest under ``root``."""
        for name, content in self.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        manifest = {"now": NOW, "cases": self.cases}
        (root / "cases.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def error(type_: str, match: str, row: int | None = None, field: str | None = None) -> dict[str, Any]:
    """An expected failure: our exception type, a regex its message matches, the row and field it names."""
    return {"type": type_, "match": match, "row": row, "field": field}


def input_error(match: str, row: int | None, field: str | None = None) -> dict[str, Any]:
    """A TikTokInputError naming ``row`` (and ``field``)."""
    return error("TikTokInputError", match, row, field)


def config_error(match: str) -> dict[str, Any]:
    """A TikTokConfigError about an argument (it names the argument, never its value)."""
    return error("TikTokConfigError", match)


# ------------------------------------------------------------------------------------------ events
def events_cases(c: Corpus) -> None:
    """TikTokEventsUploadOperator: files, JSON values, identifiers, amounts, times, long texts, SQL, arguments."""
    good = [event(1), event(2), event(3)]
    c.file("events/good_rows.csv", csv_text(EVENT_HEADER, good))
    _events_csv(c)
    _events_json_lines(c)
    _events_empty_and_compressed(c)
    _events_identifiers(c)
    _events_currency_and_amounts(c)
    _events_wrong_types(c)
    _events_timestamps(c)
    _events_long_values(c)
    _events_sql(c)
    _events_arguments(c)


def _events_rejects(
    c: Corpus,
    name: str,
    what: str,
    bad: dict[str, Any],
    field: str,
    reason: str,
    *,
    kind: str = "jsonl",
    never: list[str] | None = None,
    feeds: list[str] | None = None,
) -> None:
    """Three rows, the second one bad: it is rejected naming ``field``, rows 1 and 3 are delivered."""
    rows = [event(1), bad, event(3)]
    content = jsonl_text(rows) if kind == "jsonl" else csv_text(EVENT_HEADER, rows)
    path = c.file(f"events/{name}.{kind}", content)
    c.case(
        f"events/{name}",
        "events",
        what,
        "rejects",
        file=path,
        feeds=feeds or (["file", "list", "gzip"] if kind == "jsonl" else ["file", "gzip"]),
        received=3,
        rejects=[[2, field, reason]],
        delivered=[1, 3],
        never=raw_identifiers(rows) + (never or []),
    )


def _events_accepted(
    c: Corpus,
    name: str,
    what: str,
    bad: dict[str, Any],
    *,
    sent: dict[str, Any] | None = None,
    dropped: dict[str, int] | None = None,
    names: dict[str, int] | None = None,
    kwargs: dict[str, Any] | None = None,
    never: list[str] | None = None,
) -> None:
    """Three rows whose second one looks odd but is understood: all three are delivered; ``sent`` gives fields
    of row 2's event as TikTok receives it (dotted paths)."""
    rows = [event(1), bad, event(3)]
    path = c.file(f"events/{name}.jsonl", jsonl_text(rows))
    c.case(
        f"events/{name}",
        "events",
        what,
        "accepted",
        file=path,
        feeds=["file", "list"],
        kwargs=kwargs,
        received=3,
        delivered=[1, 2, 3],
        row2_sent=sent,
        dropped_fields=dropped,
        nonstandard_event_names=names,
        never=raw_identifiers(rows) + (never or []),
    )


def _events_csv(c: Corpus) -> None:
    """Malformed, empty, mis-encoded and mis-shaped CSV files of events."""
    rows = [event(1), event(2), event(3)]
    header = ",".join(EVENT_HEADER)
    lines = [",".join(str(r.get(k, "")) for k in EVENT_HEADER) for r in rows]
    unbalanced = 'Purchase,2026-03-10T14:02:00Z,"quoted-secret@example.com,,https://shop.example.com/p/2,19.99,USD,o2'
    c.case(
        "events/csv_unbalanced_quote",
        "events",
        "row 2 opens a quote it never closes (lax CSV parsing would swallow row 3 into row 2's e-mail)",
        "error",
        file=c.file("events/csv_unbalanced_quote.csv", f"{header}\n{lines[0]}\n{unbalanced}\n{lines[2]}\n".encode()),
        feeds=["file", "gzip"],
        error=input_error(r"row 2: is not valid CSV: unexpected end of data", 2),
        never=[*raw_identifiers(rows), "quoted-secret@example.com"],
    )
    c.case(
        "events/csv_ragged_row",
        "events",
        "row 2 has a ninth field (an unquoted comma in the page URL)",
        "error",
        file=c.file(
            "events/csv_ragged_row.csv",
            f"{header}\n{lines[0]}\n{lines[1].replace('/p/2', '/p/2,ref=mail')}\n{lines[2]}\n".encode(),
        ),
        feeds=["file", "gzip"],
        error=input_error(r"row 2: has 9 fields, the header has 8", 2),
        never=raw_identifiers(rows),
    )
    c.case(
        "events/csv_header_only",
        "events",
        "a header and no rows: nothing to send, and nothing is sent",
        "accepted",
        file=c.file("events/csv_header_only.csv", f"{header}\n".encode()),
        feeds=["file", "gzip"],
        received=0,
        delivered=[],
    )
    c.case(
        "events/csv_bom",
        "events",
        "a UTF-8 byte-order mark before the header (Excel's 'CSV UTF-8'): the first column is still 'event'",
        "accepted",
        file=c.file("events/csv_bom.csv", "\ufeff".encode() + csv_text(EVENT_HEADER, rows)),
        feeds=["file", "gzip"],
        received=3,
        delivered=[1, 2, 3],
        never=raw_identifiers(rows),
    )
    c.case(
        "events/csv_utf16_bom",
        "events",
        "a UTF-16 file with its byte-order mark (a comma-separated 'Unicode text'): its mark says how to read it "
        "(issue 15: read, no longer refused as 'not UTF-8')",
        "accepted",
        file=c.file("events/csv_utf16_bom.csv", csv_text(EVENT_HEADER, rows).decode().encode("utf-16")),
        feeds=["file", "gzip"],
        received=3,
        delivered=[1, 2, 3],
        never=raw_identifiers(rows),
    )
    for name, delimiter in (("semicolon", ";"), ("tab", "\t")):
        text = "".join(
            delimiter.join(str(r.get(k, "")) for k in EVENT_HEADER) + "\n"
            for r in [dict(zip(EVENT_HEADER, EVENT_HEADER, strict=True)), *rows]
        )
        c.case(
            f"events/csv_{name}_delimited",
            "events",
            f"a {name}-separated export named .csv",
            "error",
            file=c.file(f"events/csv_{name}_delimited.csv", text.encode()),
            feeds=["file", "gzip"],
            error=input_error(
                rf"row 0: the CSV header is one column holding {name}s: the file looks {name}-separated", 0
            ),
            never=raw_identifiers(rows),
        )
    c.case(
        "events/csv_no_header",
        "events",
        "the header row is missing: the first purchase's values would be column names",
        "error",
        file=c.file("events/csv_no_header.csv", ("\n".join(lines) + "\n").encode()),
        feeds=["file", "gzip"],
        error=input_error(r"row 1: has columns whose names are not field names \(is the CSV header row missing\?\)", 1),
        never=raw_identifiers(rows),
    )
    c.case(
        "events/csv_leading_blank_lines",
        "events",
        "two blank lines before the header (they used to hide the whole file)",
        "accepted",
        file=c.file("events/csv_leading_blank_lines.csv", b"\n\n" + csv_text(EVENT_HEADER, rows)),
        received=3,
        delivered=[1, 2, 3],
        never=raw_identifiers(rows),
    )
    c.case(
        "events/csv_repeated_column",
        "events",
        "two columns named email",
        "error",
        file=c.file("events/csv_repeated_column.csv", csv_text([*EVENT_HEADER, "email"], rows)),
        error=input_error(r"row 0: the CSV header has empty or repeated column names", 0),
        never=raw_identifiers(rows),
    )
    c.case(
        "events/csv_bare_carriage_returns",
        "events",
        "old Mac line ends (CR only)",
        "error",
        file=c.file("events/csv_bare_carriage_returns.csv", csv_text(EVENT_HEADER, rows).replace(b"\n", b"\r")),
        error=input_error(r"row 1: is not valid CSV: a line ends in a bare carriage return", 1),
        never=raw_identifiers(rows),
    )
    latin = [event(1), event(2, email="müller2@example.de"), event(3)]
    c.case(
        "events/csv_latin1",
        "events",
        "a latin-1 file: row 2's e-mail has a u-umlaut as one byte 0xFC",
        "error",
        file=c.file("events/csv_latin1.csv", csv_text(EVENT_HEADER, latin).decode().encode("latin-1")),
        error=input_error(r"line 3 is not UTF-8 text: save the file as UTF-8", None),
        never=[*raw_identifiers(latin), "ller2@example.de"],
    )
    broken = csv_text(EVENT_HEADER, rows).replace(b"buyer3@", b"buy\xff\xfer3@")
    c.case(
        "events/csv_invalid_byte_in_row_3",
        "events",
        "one invalid UTF-8 byte pair in row 3 of an otherwise UTF-8 file",
        "error",
        file=c.file("events/csv_invalid_byte_in_row_3.csv", broken),
        feeds=["file", "gzip"],
        error=input_error(r"line 4 is not UTF-8 text", None),
        never=[*raw_identifiers(rows), "r3@example.com"],
    )
    missing = [{k: v for k, v in r.items() if k != "event_time"} for r in rows]
    c.case(
        "events/csv_missing_event_time_column",
        "events",
        "no event_time column: every row is rejected naming the field (the task fails on the rejected share)",
        "rejects",
        file=c.file(
            "events/csv_missing_event_time_column.csv",
            csv_text([k for k in EVENT_HEADER if k != "event_time"], missing),
        ),
        feeds=["file", "gzip"],
        received=3,
        rejects=[[n, "event_time", "is missing"] for n in (1, 2, 3)],
        delivered=[],
        never=raw_identifiers(rows),
    )
    anonymous = [{k: v for k, v in r.items() if k not in ("email", "phone")} for r in rows]
    c.case(
        "events/csv_missing_identity_columns",
        "events",
        "no email, phone or external_id column: web events cannot be matched to anyone",
        "rejects",
        file=c.file(
            "events/csv_missing_identity_columns.csv",
            csv_text([k for k in EVENT_HEADER if k not in ("email", "phone")], anonymous),
        ),
        received=3,
        rejects=[[n, "user", "a web event needs a usable email, phone or external_id"] for n in (1, 2, 3)],
        delivered=[],
    )
    extra = [{**r, "coupon_code": f"SPRING{n}"} for n, r in enumerate(rows, start=1)]
    c.case(
        "events/csv_unknown_column",
        "events",
        "an extra column coupon_code: the upload stops before sending and says how to map or drop it (a silently "
        "ignored column could be a misspelt identifier)",
        "error",
        file=c.file("events/csv_unknown_column.csv", csv_text([*EVENT_HEADER, "coupon_code"], extra)),
        error=input_error(r"row 1, field 'coupon_code': is not an Events API field: .*field_map", 1, "coupon_code"),
        never=raw_identifiers(rows),
    )
    c.case(
        "events/csv_unknown_column_dropped_by_field_map",
        "events",
        "the same extra column, dropped with field_map={'coupon_code': None}",
        "accepted",
        file="events/csv_unknown_column.csv",
        kwargs={"field_map": {"coupon_code": None}},
        received=3,
        delivered=[1, 2, 3],
        never=raw_identifiers(rows),
    )


def _events_json_lines(c: Corpus) -> None:
    """Malformed JSON Lines: truncated, arrays, bare values, trailing text, deep nesting, huge numbers."""
    rows = [event(1), event(2), event(3)]
    text = jsonl_text(rows).decode()
    cut = text.rstrip("\n")[: -len('", "order_id": "o3"}')] + "\n"
    c.case(
        "events/jsonl_truncated_last_line",
        "events",
        "the last line stops in the middle of a string (an export cut short)",
        "error",
        file=c.file("events/jsonl_truncated_last_line.jsonl", cut.encode()),
        feeds=["file", "gzip"],
        error=input_error(r"row 3: is not valid JSON", 3),
        never=raw_identifiers(rows),
    )
    c.case(
        "events/json_array_file",
        "events",
        "a pretty-printed JSON array in a .json file instead of JSON Lines",
        "error",
        file=c.file("events/json_array_file.json", (json.dumps(rows, indent=2) + "\n").encode()),
        error=input_error(
            r"row 1: is not valid JSON: the file looks like one JSON array; write one JSON object a line", 1
        ),
        never=raw_identifiers(rows),
    )
    c.case(
        "events/jsonl_array_line",
        "events",
        "row 2 is an array holding the event instead of the event object",
        "error",
        file=c.file("events/jsonl_array_line.jsonl", jsonl_text([rows[0], [rows[1]], rows[2]])),
        feeds=["file", "gzip"],
        error=input_error(r"row 2: must be a JSON object, not an array", 2),
        never=raw_identifiers(rows),
    )
    c.case(
        "events/jsonl_bare_string_line",
        "events",
        "row 2 is a bare JSON string (an e-mail)",
        "error",
        file=c.file("events/jsonl_bare_string_line.jsonl", jsonl_text([rows[0], "stray-secret@example.com", rows[2]])),
        feeds=["file", "gzip"],
        error=input_error(r"row 2: must be a JSON object, not a bare value", 2),
        never=[*raw_identifiers(rows), "stray-secret@example.com"],
    )
    c.case(
        "events/jsonl_bare_number_line",
        "events",
        "row 2 is a bare number",
        "error",
        file=c.file("events/jsonl_bare_number_line.jsonl", jsonl_text([rows[0], 4155550102, rows[2]])),
        feeds=["file", "gzip"],
        error=input_error(r"row 2: must be a JSON object, not a bare value", 2),
        never=[*raw_identifiers(rows), "4155550102"],
    )
    garbage = text.split("\n")
    garbage[1] += " trailing-secret@example.com"
    c.case(
        "events/jsonl_trailing_garbage",
        "events",
        "row 2 has text after its closing brace",
        "error",
        file=c.file("events/jsonl_trailing_garbage.jsonl", "\n".join(garbage).encode()),
        feeds=["file", "gzip"],
        error=input_error(r"row 2: is not valid JSON", 2),
        never=[*raw_identifiers(rows), "trailing-secret@example.com"],
    )
    c.case(
        "events/jsonl_deep_nesting",
        "events",
        "row 2 nests 100,000 arrays (json.loads would raise RecursionError)",
        "error",
        file=c.file(
            "events/jsonl_deep_nesting.jsonl.gz",
            gzip.compress(jsonl_text([rows[0]]) + b"[" * 100_000 + b"\n", mtime=0),
        ),
        error=input_error(r"row 2: is nested too deeply", 2),
        never=raw_identifiers(rows),
    )
    c.case(
        "events/jsonl_5000_digit_number",
        "events",
        "row 2's value is a 5,000-digit integer (beyond Python's int parsing limit)",
        "error",
        file=c.file(
            "events/jsonl_5000_digit_number.jsonl",
            text.replace(
                '"value": 19.99, "currency": "USD", "order_id": "o2"', '"value": ' + "9" * 5000 + ', "order_id": "o2"'
            ).encode(),
        ),
        error=input_error(r"row 2: is not valid JSON", 2),
        never=[*raw_identifiers(rows), "9" * 60],
    )
    c.case(
        "events/jsonl_reordered_fields_and_blank_lines",
        "events",
        "fields in another order and blank lines between rows: nothing odd for JSON Lines",
        "accepted",
        file=c.file(
            "events/jsonl_reordered_fields_and_blank_lines.jsonl",
            b"\n".join(json.dumps(dict(reversed(list(r.items())))).encode() + b"\n" for r in rows),
        ),
        feeds=["file", "list"],
        received=3,
        delivered=[1, 2, 3],
        never=raw_identifiers(rows),
    )
    c.case(
        "events/jsonl_unknown_field",
        "events",
        "row 2 carries a field the Events API does not have (coupon)",
        "error",
        file=c.file(
            "events/jsonl_unknown_field.jsonl", jsonl_text([rows[0], {**rows[1], "coupon": "SPRING"}, rows[2]])
        ),
        feeds=["file", "list"],
        error=input_error(r"row 2, field 'coupon': is not an Events API field", 2, "coupon"),
        never=raw_identifiers(rows),
    )


def _events_empty_and_compressed(c: Corpus) -> None:
    """Empty inputs (accepted, nothing sent) and corrupt or truncated gzip (errors)."""
    rows = [event(1), event(2), event(3)]
    empties = [
        ("csv_zero_bytes.csv", b"", "a 0-byte CSV"),
        ("jsonl_zero_bytes.jsonl", b"", "a 0-byte JSON Lines file"),
        ("csv_blank_lines_only.csv", b"\n\n\r\n\n", "blank lines only"),
        ("jsonl_blank_lines_only.jsonl", b"\n  \n\t\n\n", "blank and whitespace-only lines"),
        ("csv_gzip_of_nothing.csv.gz", gzip.compress(b"", mtime=0), "a gzip stream of zero bytes"),
        ("jsonl_zero_byte_gz.jsonl.gz", b"", "a 0-byte file named .gz"),
    ]
    for name, content, what in empties:
        c.case(
            f"events/{name.split('.')[0]}",
            "events",
            f"{what}: an empty input sends nothing and succeeds (received 0)",
            "accepted",
            file=c.file(f"events/{name}", content),
            received=0,
            delivered=[],
        )
    c.case(
        "events/csv_corrupt_gzip",
        "events",
        "a file named .csv.gz that is plain text",
        "error",
        file=c.file("events/csv_corrupt_gzip.csv.gz", csv_text(EVENT_HEADER, rows)),
        error=input_error(r"the gzip file is not valid gzip data \(after line 0\)", None),
        never=raw_identifiers(rows),
    )
    packed = gzip.compress(jsonl_text(rows), mtime=0)
    c.case(
        "events/jsonl_truncated_gzip",
        "events",
        "a gzip file cut 20 bytes before its end (an interrupted copy)",
        "error",
        file=c.file("events/jsonl_truncated_gzip.jsonl.gz", packed[:-20]),
        error=input_error(r"the gzip file is truncated", None),
        never=raw_identifiers(rows),
    )
    c.case(
        "events/parquet_named_input",
        "events",
        "a file type the readers do not know",
        "error",
        file=c.file("events/parquet_named_input.parquet", b"PAR1"),
        error=config_error(r"must end in \.csv, \.jsonl, \.ndjson or \.json"),
    )


def _events_identifiers(c: Corpus) -> None:
    """Unusable e-mails and phones (rejected when the row has no other identity), bad device ids."""
    emails = {
        "email_no_at": ("buyer2.example.com", "is not a valid e-mail address"),
        "email_inner_space": ("buyer 2@example.com", "is not a valid e-mail address"),
        "email_fullwidth_at": ("buyer2\uff20example.com", "is not a valid e-mail address"),
        "email_zero_width_space": ("buyer2\u200b@example.com", "contains invisible or control characters"),
        "email_rtl_override": ("\u202ebuyer2@example.com", "contains invisible or control characters"),
        "email_300_chars": ("b" * 288 + "@example.com", "is longer than 254 characters"),
        "email_two_at_signs": ("buyer2@@example.com", "is not a valid e-mail address"),
    }
    for name, (raw, reason) in emails.items():
        _events_rejects(
            c,
            name,
            f"row 2's only identifier is an unusable e-mail ({name.removeprefix('email_').replace('_', ' ')})",
            event(2, email=raw, phone=None),
            "email",
            f"{reason}, and a web event needs a usable email, phone or external_id",
            kind="csv" if name != "email_300_chars" else "jsonl",
            never=[raw, raw.strip().lower()],
        )
    phones = {
        "phone_letters": ("call-me-maybe", "is not a phone number (read in region US)"),
        "phone_too_short": ("415-555-01", "has an impossible length for its country (region US)"),
        "phone_too_long": ("+1 415 555 0102 4155550102", "is not a phone number (read in region US)"),
        "phone_extension_only": ("ext. 0102", "has an impossible length for its country (region US)"),
        "phone_all_zeros": ("000-000-0000", "is all zeros"),
    }
    for name, (raw, reason) in phones.items():
        _events_rejects(
            c,
            name,
            f"row 2's only identifier is an unusable phone ({name.removeprefix('phone_').replace('_', ' ')})",
            event(2, email=None, phone=raw),
            "phone",
            f"{reason}, and a web event needs a usable email, phone or external_id",
            kind="csv",
            never=[raw],
        )
    _events_accepted(
        c,
        "phone_bad_email_good",
        "row 2 has a good e-mail and an unusable phone: the phone is left out (counted), the event is sent",
        event(2, phone="call-me-maybe"),
        dropped={"phone": 1},
        never=["call-me-maybe"],
    )
    app_rows = [
        {
            "event": "Purchase",
            "event_time": "2026-03-10T14:01:00Z",
            "idfa": "6D92078A-8246-4BA4-AE5B-76104861E701",
            "order_id": "o1",
        },
        {
            "event": "Purchase",
            "event_time": "2026-03-10T14:02:00Z",
            "idfa": "6D92078A-8246-4BA4-AE5B-76104861E7",
            "order_id": "o2",
        },
        {
            "event": "Purchase",
            "event_time": "2026-03-10T14:03:00Z",
            "idfa": "00000000-0000-0000-0000-000000000000",
            "order_id": "o3",
        },
        {
            "event": "Purchase",
            "event_time": "2026-03-10T14:04:00Z",
            "gaid": "38400000-8cf0-11bd-b23e-10b96e40zzzz",
            "order_id": "o4",
        },
    ]
    c.case(
        "events/app_device_ids_invalid",
        "events",
        "app events whose IDFA is too short or all zeros, or whose GAID is not hex: the ids are left out "
        "(counted), the events are sent (app events need no identifier)",
        "accepted",
        file=c.file("events/app_device_ids_invalid.jsonl", jsonl_text(app_rows)),
        feeds=["file", "list"],
        kwargs={"event_source": "app", "app_id": "1234567890"},
        received=4,
        delivered=[1, 2, 3, 4],
        dropped_fields={"gaid": 1, "idfa": 2},
        never=[row.get("idfa") or row["gaid"] for row in app_rows],
    )


def _events_currency_and_amounts(c: Corpus) -> None:
    """Currencies that are not ISO 4217 codes; amounts and counts of the wrong sign, type or size."""
    _events_accepted(
        c,
        "currency_lowercase_with_space",
        "currency 'usd ' is read as USD",
        event(2, currency="usd "),
        sent={"properties.currency": "USD", "properties.value": 19.99},
    )
    for name, raw in (("currency_zzz", "ZZZ"), ("currency_us_dollar_sign", "US$"), ("currency_word", "EURO")):
        _events_rejects(
            c,
            name,
            f"currency {raw!r} is no ISO 4217 code",
            event(2, currency=raw),
            "currency",
            "is not an ISO 4217 currency code",
            kind="csv",
        )
    _events_rejects(
        c,
        "currency_numeric",
        "currency given as the ISO number 840",
        event(2, currency=840),
        "currency",
        "is not an ISO 4217 currency code",
    )
    amounts = {
        "value_negative": (-12.5, "value", "must not be negative"),
        "value_text": ("twelve", "value", "must be a number"),
        "value_boolean": (True, "value", "must be a number"),
        "value_object": ({"amount": 12.5}, "value", "must be a number"),
        "value_nan": (float("nan"), "value", "must be a finite number"),
        "value_infinity": (float("inf"), "value", "must be a finite number"),
        "value_1e400": ("1e400", "value", "is too large (at most 1,000,000,000,000,000)"),
    }
    for name, (raw, field, reason) in amounts.items():
        _events_rejects(c, name, f"value {raw!r}", event(2, value=raw), field, reason)
    counts = {
        "quantity_negative": (
            {"content_id": "sku-2", "price": 19.99, "quantity": -1},
            "quantity",
            "must not be negative",
        ),
        "quantity_fraction": (
            {"content_id": "sku-2", "price": 19.99, "quantity": 1.5},
            "quantity",
            "must be a whole number",
        ),
        "quantity_huge": (
            {"content_id": "sku-2", "price": 19.99, "quantity": 10**12},
            "quantity",
            "is too large (at most 2,147,483,647)",
        ),
        "price_negative": ({"content_id": "sku-2", "price": -5, "quantity": 1}, "price", "must not be negative"),
    }
    for name, (content, field, reason) in counts.items():
        _events_rejects(c, name, f"{field} {content[field]!r}", event(2, value=None, **content), field, reason)


def _events_wrong_types(c: Corpus) -> None:
    """Fields of the wrong JSON type, null where required, values outside their allowed set."""
    wrong = {
        "event_time_object": (
            {"event_time": {"seconds": T0}},
            "event_time",
            "must be ISO 8601 text, Unix seconds or milliseconds",
        ),
        "event_null": ({"event": None}, "event", "is missing: add an event column or set default_event"),
        "event_boolean": ({"event": True}, "event", "must be text"),
        "event_list": ({"event": ["Purchase"]}, "event", "must be text"),
        "event_time_null": ({"event_time": None}, "event_time", "is missing"),
        "page_url_list": ({"page_url": ["https://shop.example.com/p/2"]}, "page_url", "must be text"),
        "page_url_null": ({"page_url": None}, "page_url", "is required for web events"),
        "page_url_not_http": ({"page_url": "javascript:alert(1)"}, "page_url", "must be an http(s) URL"),
        "event_id_object": ({"event_id": {"id": 2}}, "event_id", "must be text"),
        "limited_data_use_maybe": ({"limited_data_use": "maybe"}, "limited_data_use", "must be true or false"),
        "contents_not_json": ({"contents": "sku-2 x1", "value": None}, "contents", "is not a JSON list"),
        "contents_object": (
            {"contents": {"content_id": "sku-2"}, "value": None},
            "contents",
            "must be a list of objects",
        ),
        "contents_numbers": ({"contents": [1, 2], "value": None}, "contents", "must be a list of objects"),
        "contents_unknown_field": (
            {"contents": [{"sku": "sku-2"}], "value": None},
            "contents.0.sku",
            "is not a contents field",
        ),
        "email_list": (
            {"email": ["buyer2@example.com"], "phone": None},
            "email",
            "must be text, and a web event needs a usable email, phone or external_id",
        ),
        "content_type_unknown": ({"content_type": "sku"}, "content_type", "must be one of product, product_group"),
    }
    for name, (overrides, field, reason) in wrong.items():
        raw = overrides.get("email")
        _events_rejects(
            c,
            name,
            f"row 2: {field} is {json.dumps(next(iter(overrides.values())))}",
            event(2, **overrides),
            field,
            reason,
            never=["buyer2@example.com"] if raw else None,
        )
    _events_accepted(
        c,
        "event_number",
        "event name given as the number 42: sent as the custom event '42' and listed as non-standard",
        event(2, event=42),
        sent={"event": "42"},
        names={"42": 1},
    )
    _events_accepted(
        c,
        "value_as_text",
        "value written as the text '19.99' (CSV habit in JSON): read as the number",
        event(2, value="19.99"),
        sent={"properties.value": 19.99},
    )


def _events_timestamps(c: Corpus) -> None:
    """event_time in every shape: the ones read correctly and the ones rejected."""
    row2 = T0 + 120
    accepted = {
        "ts_epoch_seconds": (row2, "Unix seconds"),
        "ts_epoch_milliseconds": (row2 * 1000, "Unix milliseconds"),
        "ts_13_digit_string": (str(row2 * 1000), "a 13-digit string (milliseconds)"),
        "ts_float_seconds": (row2 + 0.75, "fractional seconds (floored)"),
        "ts_iso_without_timezone": ("2026-03-10T14:02:00", "ISO 8601 without an offset (read as UTC)"),
        "ts_iso_space_and_offset": ("2026-03-10 15:02:00+01:00", "ISO 8601 with a space and an offset"),
    }
    for name, (raw, what) in accepted.items():
        _events_accepted(c, name, f"event_time as {what}", event(2, event_time=raw), sent={"event_time": row2})
    rejected = {
        "ts_future_epoch": (1893456000, "is more than 5 minutes in the future"),
        "ts_future_milliseconds": (1893456000000, "is more than 5 minutes in the future"),
        "ts_microseconds": (row2 * 1_000_000, "is more than 5 minutes in the future"),
        "ts_before_1970": (-86400, "must be a positive Unix timestamp"),
        "ts_iso_before_1970": ("1969-07-20T20:17:00Z", "is older than 28 days"),
        "ts_epoch_zero": (0, "is older than 28 days"),
        "ts_29_days_old": ("2026-02-09T14:02:00Z", "is older than 28 days"),
        "ts_february_30": ("2026-02-30T14:02:00Z", "is not ISO 8601, Unix seconds or milliseconds"),
        "ts_yesterday": ("yesterday", "is not ISO 8601, Unix seconds or milliseconds"),
        "ts_empty": ("", "is missing"),
        "ts_date_only": ("2026-03-10", "needs a date and a time"),
        "ts_offset_25_hours": ("2026-03-10T14:02:00+25:00", "is not ISO 8601, Unix seconds or milliseconds"),
        "ts_us_format": ("03/10/2026 14:02", "is not ISO 8601, Unix seconds or milliseconds"),
        "ts_boolean": (True, "must be ISO 8601 text, Unix seconds or milliseconds"),
        "ts_nan": (float("nan"), "must be a positive Unix timestamp"),
        "ts_5000_digits": ("9" * 5000, "is more than 5 minutes in the future"),
        "ts_exponent_text": ("1.7731512e9", "is not ISO 8601, Unix seconds or milliseconds"),
    }
    for name, (raw, reason) in rejected.items():
        shown = raw if not isinstance(raw, str) or len(raw) < 40 else f"{len(raw)} digits"
        _events_rejects(c, name, f"event_time {shown!r}", event(2, event_time=raw), "event_time", reason)


def _events_long_values(c: Corpus) -> None:
    """Event names and texts far longer than any real one, up to a 1 MB field."""
    _events_rejects(
        c,
        "event_name_10k_chars",
        "a 10,000-character event name",
        event(2, event=LONG_TOKEN * 1000),
        "event",
        "is longer than 8192 characters",
        never=[LONG_MARK],
    )
    _events_rejects(
        c,
        "event_name_300_chars",
        "a 300-character event name (a description pasted into the event column); the rejects file keeps it, "
        "as it keeps every value that is not an identifier and not over 8192 characters",
        event(2, event=LONG_TOKEN * 30),
        "event",
        "is longer than 255 characters",
        never=[],
    )
    megabyte = LONG_TOKEN * 104_858  # 1,048,580 characters
    rows = [event(1), event(2, description=megabyte), event(3)]
    c.case(
        "events/description_1mb",
        "events",
        "a 1 MB description in row 2 (JSON Lines, gzipped): the row is rejected, the value is kept nowhere",
        "rejects",
        file=c.file("events/description_1mb.jsonl.gz", gzip.compress(jsonl_text(rows), mtime=0)),
        received=3,
        rejects=[[2, "description", "is longer than 8192 characters"]],
        delivered=[1, 3],
        never=[*raw_identifiers(rows), LONG_MARK],
    )
    rows = [event(1), event(2, order_id=megabyte), event(3)]
    c.case(
        "events/csv_field_1mb",
        "events",
        "a 1 MB cell in row 2 of a gzipped CSV: beyond csv's field limit, the file is refused at that row",
        "error",
        file=c.file("events/csv_field_1mb.csv.gz", gzip.compress(csv_text(EVENT_HEADER, rows), mtime=0)),
        error=input_error(r"row 2: is not valid CSV: has a field longer than csv's limit \(131072\)", 2),
        never=[*raw_identifiers(rows), LONG_MARK],
    )
    _events_rejects(
        c,
        "user_agent_20k_chars",
        "a 20,000-character user agent",
        event(2, user_agent=(LONG_TOKEN * 2000)),
        "user_agent",
        "is longer than 8192 characters",
        never=[LONG_MARK],
    )


SQL_EVENTS = {
    "sql_event_time_as_date": """
create table bad_events_date (event text, event_time date, email text, page_url text, order_id text);
insert into bad_events_date values
  ('Purchase', '2026-03-10', 'sql1@example.com', 'https://shop.example.com/p/1', 'o1'),
  ('Purchase', '2026-03-10', 'sql2@example.com', 'https://shop.example.com/p/2', 'o2');
-- query: select * from bad_events_date order by order_id
""",
    "sql_email_as_bytea": """
create table bad_events_bytea (event text, event_time timestamptz, email bytea, page_url text, order_id text);
insert into bad_events_bytea values
  ('Purchase', '2026-03-10T14:01:00Z', convert_to('sql1@example.com', 'UTF8'), 'https://shop.example.com/p/1', 'o1'),
  ('Purchase', '2026-03-10T14:02:00Z', convert_to('sql2@example.com', 'UTF8'), 'https://shop.example.com/p/2', 'o2');
-- query: select * from bad_events_bytea order by order_id
""",
    "sql_value_as_text": """
create table bad_events_value (
  event text, event_time timestamptz, email text, page_url text, value text, currency text, order_id text
);
insert into bad_events_value values
  ('Purchase', '2026-03-10T14:01:00Z', 'sql1@example.com', 'https://shop.example.com/p/1', '19.99', 'USD', 'o1'),
  ('Purchase', '2026-03-10T14:02:00Z', 'sql2@example.com', 'https://shop.example.com/p/2', 'n/a', 'USD', 'o2'),
  ('Purchase', '2026-03-10T14:03:00Z', 'sql3@example.com', 'https://shop.example.com/p/3', '5', 'USD', 'o3');
-- query: select * from bad_events_value order by order_id
""",
    "sql_contents_as_json_object": """
create table bad_events_json (
  event text, event_time timestamptz, email text, page_url text, contents json, order_id text
);
insert into bad_events_json values
  ('Purchase', '2026-03-10T14:01:00Z', 'sql1@example.com', 'https://shop.example.com/p/1',
   '[{"content_id": "a", "price": 2.5, "quantity": 2}]', 'o1'),
  ('Purchase', '2026-03-10T14:02:00Z', 'sql2@example.com', 'https://shop.example.com/p/2',
   '{"content_id": "b"}', 'o2'),
  ('Purchase', '2026-03-10T14:03:00Z', 'sql3@example.com', 'https://shop.example.com/p/3',
   '[{"content_id": "c", "price": 1, "quantity": 1}]', 'o3');
-- query: select * from bad_events_json order by order_id
""",
}


def _events_sql(c: Corpus) -> None:
    """SQL results whose column types do not fit the Events API fields (PostgreSQL)."""
    for name, text in SQL_EVENTS.items():
        c.file(f"events/{name}.sql", text.lstrip().encode())
    all_rejected = "must be text, and a web event needs a usable email, phone or external_id"
    cases = [
        (
            "sql_event_time_as_date",
            "SQL whose event_time column is a DATE: each row lacks a time of day",
            2,
            [[1, "event_time", "needs a date and a time"], [2, "event_time", "needs a date and a time"]],
            [],
        ),
        (
            "sql_email_as_bytea",
            "SQL whose email column is BYTEA (bytes, not text): no usable identity",
            2,
            [[1, "email", all_rejected], [2, "email", all_rejected]],
            [],
        ),
        (
            "sql_value_as_text",
            "SQL whose value column is TEXT with one non-number: that row is rejected, the others are sent",
            3,
            [[2, "value", "must be a number"]],
            [1, 3],
        ),
        (
            "sql_contents_as_json_object",
            "SQL whose contents column is JSON holding an object in row 2 (arrays in rows 1 and 3)",
            3,
            [[2, "contents", "must be a list of objects"]],
            [1, 3],
        ),
    ]
    for name, what, received, rejects, delivered in cases:
        c.case(
            f"events/{name}",
            "events",
            what,
            "rejects",
            sql=f"events/{name}.sql",
            received=received,
            rejects=rejects,
            delivered=delivered,
            never=[f"sql{n}@example.com" for n in range(1, received + 1)],
        )


def _events_arguments(c: Corpus) -> None:
    """Operator arguments refused when the DAG is parsed (init) or when the task runs."""
    init = [
        ("max_rejected_fraction_text", {"max_rejected_fraction": "abc"}, "max_rejected_fraction must be a number"),
        ("max_rejected_fraction_none", {"max_rejected_fraction": None}, "max_rejected_fraction must be a number"),
        ("batch_size_zero", {"batch_size": 0}, "batch_size must be a whole number from 1 to 1000"),
        ("batch_size_text", {"batch_size": "500"}, "batch_size must be a whole number from 1 to 1000"),
        ("max_in_flight_huge", {"max_in_flight": 1000}, "max_in_flight must be a whole number from 1 to 64"),
    ]
    for name, kwargs, match in init:
        c.case(
            f"events/arg_{name}",
            "events",
            f"argument {kwargs}",
            "error",
            stage="init",
            kwargs=kwargs,
            error=config_error(match),
        )
    run = [
        ("field_map_list", {"field_map": ["mail", "email"]}, "field_map must be a mapping"),
        ("field_map_number_target", {"field_map": {"mail": 5}}, "field_map must map column names"),
        ("default_currency_symbol", {"default_currency": "US$"}, "default_currency must be an ISO 4217 code"),
        (
            "default_phone_region_three_letters",
            {"default_phone_region": "USA"},
            "default_phone_region must be a two-letter",
        ),
        ("event_source_tv", {"event_source": "tv"}, "event_source must be one of web, app, offline, crm"),
        ("event_source_id_blank", {"event_source_id": "  "}, "event_source_id is required"),
        ("max_event_age_29", {"max_event_age_days": 29}, "max_event_age_days must be a whole number from 1 to 28"),
        ("events_single_mapping", {"events": {"event": "Purchase"}}, "not a single mapping"),
        ("events_number", {"events": 42}, "unsupported input type int"),
        ("events_missing_file", {"events": "/nonexistent/bad_inputs/events.csv"}, "input file not found"),
        ("sql_without_connection", {"events": None, "sql": "select 1"}, "sql needs sql_conn_id"),
    ]
    for name, kwargs, match in run:
        c.case(
            f"events/arg_{name}",
            "events",
            f"argument {kwargs}",
            "error",
            file="events/good_rows.csv",
            kwargs=kwargs,
            error=config_error(match),
        )


# ---------------------------------------------------------------------------------------- audience
def audience_cases(c: Corpus) -> None:
    """TikTokAudienceSyncOperator: unusable identifiers of each id type, file shapes, SQL, arguments."""
    good = [member(1), member(2), member(3)]
    c.file("audience/good_members.csv", csv_text(["email"], [{"email": e} for e in good]))
    invalid = {
        "email": {
            "no_at": ("member2.example.com", "is not a valid e-mail address"),
            "inner_space": ("member 2@example.com", "is not a valid e-mail address"),
            "zero_width_space": ("member2\u200b@example.com", "contains invisible or control characters"),
            "fullwidth_at": ("member2\uff20example.com", "is not a valid e-mail address"),
            "300_chars": ("m" * 288 + "@example.com", "is longer than 254 characters"),
            "empty": ("", "is missing"),
        },
        "phone": {
            "letters": ("call-me-maybe", "is not a phone number (read in region US)"),
            "too_short": ("415-555-01", "has an impossible length for its country (region US)"),
            "too_long": ("+1 415 555 0102 4155550102", "is not a phone number (read in region US)"),
            "extension_only": ("ext. 0102", "has an impossible length for its country (region US)"),
            "all_zeros": ("000-000-0000", "is all zeros"),
        },
        "idfa": {
            "wrong_length": ("6D92078A-8246-4BA4-AE5B-76104861E7", "is not a device id in UUID form (8-4-4-4-12 hex)"),
            "non_hex": ("6D92078A-8246-4BA4-AE5B-76104861EXYZ", "is not a device id in UUID form (8-4-4-4-12 hex)"),
            "no_hyphens": ("6D92078A82464BA4AE5B76104861E702", "is not a device id in UUID form (8-4-4-4-12 hex)"),
            "all_zeros": ("00000000-0000-0000-0000-000000000000", "is the all-zero device id (ad tracking disabled)"),
        },
        "gaid": {
            "wrong_length": ("38400000-8cf0-11bd-b23e-10b96e4000", "is not a device id in UUID form (8-4-4-4-12 hex)"),
            "non_hex": ("38400000-8cf0-11bd-b23e-10b96e40zzzz", "is not a device id in UUID form (8-4-4-4-12 hex)"),
            "all_zeros": ("00000000-0000-0000-0000-000000000000", "is the all-zero device id (ad tracking disabled)"),
        },
    }
    goods = {
        "email": ([member(1), member(3)], [member(1), member(3)]),
        # customer files: digits with the country code, no "+" (TikTok's customer-file page)
        "phone": (["(415) 555-0101", "+1 415.555.0103"], ["14155550101", "14155550103"]),
        "idfa": (
            ["6D92078A-8246-4BA4-AE5B-76104861E701", "6d92078a-8246-4ba4-ae5b-76104861e703"],
            ["6d92078a-8246-4ba4-ae5b-76104861e701", "6d92078a-8246-4ba4-ae5b-76104861e703"],
        ),
        "gaid": (
            ["38400000-8cf0-11bd-b23e-10b96e400001", "38400000-8CF0-11BD-B23E-10B96E400003"],
            ["38400000-8cf0-11bd-b23e-10b96e400001", "38400000-8cf0-11bd-b23e-10b96e400003"],
        ),
    }
    for id_type, shapes in invalid.items():
        raw_good, normalised = goods[id_type]
        for shape, (raw, reason) in shapes.items():
            name = f"{id_type}_{shape}"
            values = [raw_good[0], raw, raw_good[1]]
            c.case(
                f"audience/{name}",
                "audience",
                f"member 2 is an unusable {id_type} ({shape.replace('_', ' ')})",
                "rejects",
                file=c.file(f"audience/{name}.csv", csv_text([id_type], [{id_type: v} for v in values])),
                feeds=["file", "list"],
                kwargs={"id_type": id_type},
                received=3,
                rejects=[[2, id_type, reason]],
                members=normalised,
                never=[v for v in values if v],
            )
    _audience_structure(c, good)
    _audience_arguments(c)


def _audience_structure(c: Corpus, good: list[str]) -> None:
    """Member files with a wrong column, encoding, quoting, compression or JSON types; SQL results."""
    never = good
    c.case(
        "audience/missing_email_column",
        "audience",
        "the identifier column is called mail, not email: the sync stops and says how to map it",
        "error",
        file=c.file("audience/missing_email_column.csv", csv_text(["mail"], [{"mail": e} for e in good])),
        error=input_error(r"row 1, field 'email': no row has the field 'email': .*field_map", 1, "email"),
        never=never,
    )
    c.case(
        "audience/extra_columns_ignored",
        "audience",
        "extra columns (customer_id, first_name) next to email are ignored, and named once in the log: only the "
        "id_type column is read",
        "accepted",
        file=c.file(
            "audience/extra_columns_ignored.csv",
            csv_text(
                ["customer_id", "email", "first_name"],
                [{"customer_id": f"c{n}", "email": e, "first_name": f"Name{n}"} for n, e in enumerate(good, 1)],
            ),
        ),
        feeds=["file", "gzip"],
        received=3,
        members=good,
        log=r"Audience members are read from field 'email'; 2 other column\(s\) ignored: customer_id, first_name$",
        never=[*never, "Name1", "Name2"],
    )
    c.case(
        "audience/every_member_invalid",
        "audience",
        "a customer-number column mapped to email: every member is rejected, so the sync fails instead of "
        "creating an empty audience",
        "error",
        file=c.file("audience/every_member_invalid.jsonl", jsonl_text([{"email": 10001}, {"email": 10002}])),
        feeds=["file", "list"],
        error=input_error(
            r"row 1, field 'email': is not a valid e-mail address; so was every other member \(2 of 2\)", 1, "email"
        ),
        never=["10001", "10002"],
    )
    c.case(
        "audience/latin1",
        "audience",
        "a latin-1 member file (an e-mail with a u-umlaut as byte 0xFC)",
        "error",
        file=c.file(
            "audience/latin1.csv",
            csv_text(["email"], [{"email": e} for e in [good[0], "müller@example.de"]]).decode().encode("latin-1"),
        ),
        error=input_error(r"line 3 is not UTF-8 text", None),
        never=[*never, "ller@example.de"],
    )
    c.case(
        "audience/unbalanced_quote",
        "audience",
        "member 2 opens a quote it never closes",
        "error",
        file=c.file("audience/unbalanced_quote.csv", f'email\n{good[0]}\n"{good[1]}\n{good[2]}\n'.encode()),
        error=input_error(r"row 2: is not valid CSV: unexpected end of data", 2),
        never=never,
    )
    for name, content, what in (
        ("zero_bytes.csv", b"", "a 0-byte member file"),
        ("header_only.csv", b"email\n", "a header and no members"),
        ("gzip_of_nothing.csv.gz", gzip.compress(b"", mtime=0), "a gzip stream of zero bytes"),
    ):
        c.case(
            f"audience/{name.split('.')[0]}",
            "audience",
            f"{what}: no audience is created, no audience call is spent",
            "accepted",
            file=c.file(f"audience/{name}", content),
            received=0,
            members=[],
        )
    c.case(
        "audience/corrupt_gzip",
        "audience",
        "a plain CSV named .csv.gz",
        "error",
        file=c.file("audience/corrupt_gzip.csv.gz", csv_text(["email"], [{"email": e} for e in good])),
        error=input_error(r"the gzip file is not valid gzip data", None),
        never=never,
    )
    c.case(
        "audience/wrong_types",
        "audience",
        "members of the wrong JSON types (true, a list, an object, null, a number, NaN) among two good ones",
        "rejects",
        file=c.file(
            "audience/wrong_types.jsonl",
            jsonl_text(
                [
                    {"email": good[0]},
                    {"email": True},
                    {"email": [good[1]]},
                    {"email": {"address": good[1]}},
                    {"email": None},
                    {"email": 4155550102},
                    {"email": float("nan")},
                    {"email": good[2]},
                ]
            ),
        ),
        feeds=["file", "list", "gzip"],
        received=8,
        rejects=[
            [2, "email", "must be text"],
            [3, "email", "must be text"],
            [4, "email", "must be text"],
            [5, "email", "is missing"],
            [6, "email", "is not a valid e-mail address"],
            [7, "email", "must be text"],
        ],
        members=[good[0], good[2]],
        never=[*never, "4155550102"],
    )
    megabyte = LONG_TOKEN * 104_858
    c.case(
        "audience/email_1mb",
        "audience",
        "a 1 MB 'e-mail' in member 2 (JSON Lines, gzipped)",
        "rejects",
        file=c.file(
            "audience/email_1mb.jsonl.gz",
            gzip.compress(
                jsonl_text([{"email": good[0]}, {"email": megabyte + "@example.com"}, {"email": good[2]}]), mtime=0
            ),
        ),
        received=3,
        rejects=[[2, "email", "is longer than 254 characters"]],
        members=[good[0], good[2]],
        never=[*never, LONG_MARK],
    )
    c.case(
        "audience/sql_email_as_integer",
        "audience",
        "SQL returning an INTEGER customer id as email: every member is rejected, the sync fails",
        "error",
        sql="audience/sql_email_as_integer.sql",
        error=input_error(
            r"row 1, field 'email': is not a valid e-mail address; so was every other member \(2 of 2\)", 1, "email"
        ),
        never=["4155550101"],
    )
    c.file(
        "audience/sql_email_as_integer.sql",
        b"create table bad_members_int (email bigint);\n"
        b"insert into bad_members_int values (4155550101), (4155550102);\n"
        b"-- query: select email from bad_members_int order by email\n",
    )
    c.case(
        "audience/sql_email_as_jsonb",
        "audience",
        "SQL returning a JSONB email column holding an object in row 2: that member is rejected, the others synced",
        "rejects",
        sql="audience/sql_email_as_jsonb.sql",
        received=3,
        rejects=[[2, "email", "must be text"]],
        members=[good[0], good[2]],
        never=never,
    )
    c.file(
        "audience/sql_email_as_jsonb.sql",
        b"create table bad_members_jsonb (n int, email jsonb);\n"
        b"insert into bad_members_jsonb values (1, '\"member1@example.com\"'),"
        b' (2, \'{"address": "member2@example.com"}\'), (3, \'"member3@example.com"\');\n'
        b"-- query: select email from bad_members_jsonb order by n\n",
    )


def _audience_arguments(c: Corpus) -> None:
    """Operator arguments refused at parse time or before any audience call."""
    name_200 = "Spring buyers " + "x" * 186
    init = [
        (
            "audience_name_200_chars",
            {"audience_name": name_200},
            r"audience_name must have 1 to 128 characters \(TikTok's limit\), not 200",
            [name_200[:40]],
        ),
        ("audience_name_blank", {"audience_name": "   "}, "audience_name must be text that is not blank", []),
        ("id_type_unknown", {"id_type": "ssn"}, "id_type must be one of email, phone, idfa, gaid", []),
        ("mode_unknown", {"mode": "upsert"}, "mode must be one of mirror, append, remove", []),
        (
            "replace_processing_text",
            {"replace_processing_minutes": "thirty"},
            "replace_processing_minutes must be a number",
            [],
        ),
        (
            "replace_processing_nan",
            {"replace_processing_minutes": float("nan")},
            "replace_processing_minutes must be a number",
            [],
        ),
        ("members_and_sql", {"sql": "select 1"}, "pass exactly one of members or sql", []),
    ]
    for name, kwargs, match, never in init:
        c.case(
            f"audience/arg_{name}",
            "audience",
            f"argument {next(iter(kwargs))}",
            "error",
            stage="init",
            file="audience/good_members.csv",
            kwargs=kwargs,
            error=config_error(match),
            never=never,
        )
    run = [
        ("default_phone_region_unknown", {"default_phone_region": "XX"}, "default_phone_region must be a two-letter"),
        ("retention_zero", {"retention_in_days": 0}, "retention_in_days must be between 1 and 365"),
        ("retention_text", {"retention_in_days": "30"}, "retention_in_days must be a whole number"),
        ("daily_call_limit_25", {"daily_call_limit": 25}, "daily_call_limit must be between 1 and 24"),
        ("daily_call_limit_text", {"daily_call_limit": "24"}, "daily_call_limit must be a whole number"),
        ("min_audience_size_10", {"min_audience_size": 10}, "min_audience_size must be at least 1000"),
        (
            "advertiser_id_letters",
            {"advertiser_id": "act_7000000000000000001"},
            "advertiser_id must contain digits only",
        ),
        ("advertiser_id_negative", {"advertiser_id": "-7000000000000000001"}, "advertiser_id must contain digits only"),
        ("audience_id_letters", {"audience_id": "aud-1", "audience_name": None}, "digits"),
        ("members_single_mapping", {"members": {"email": "member1@example.com"}}, "not a single mapping"),
        ("field_map_list", {"field_map": ["mail"]}, "field_map must be a mapping"),
    ]
    for name, kwargs, match in run:
        c.case(
            f"audience/arg_{name}",
            "audience",
            f"argument {kwargs}",
            "error",
            file="audience/good_members.csv",
            kwargs=kwargs,
            error=config_error(match),
            never=["member1@example.com"],
        )


# -------------------------------------------------------------------------------------- ad metrics
def ad_metrics_cases(c: Corpus) -> None:
    """TikTokAdMetricsOperator: dates, ranges, lookback, history, advertiser ids and UTM defaults."""
    init = [
        ("lookback_negative", {"lookback_days": -1}, "lookback_days must be a whole number of days, 0 or more"),
        ("lookback_text", {"lookback_days": "7"}, "lookback_days must be a whole number of days"),
        ("lookback_billion_days", {"lookback_days": 10**9}, "lookback_days must be at most 365"),
        ("max_history_billion_days", {"max_history_days": 10**9}, "max_history_days must be at most 3650"),
        ("max_history_zero", {"max_history_days": 0}, "max_history_days must be a whole number of days, 1 or more"),
        ("table_without_connection", {"table": "metrics"}, "sql_conn_id and table go together"),
    ]
    for name, kwargs, match in init:
        c.case(
            f"ad_metrics/arg_{name}",
            "ad_metrics",
            f"argument {kwargs}",
            "error",
            stage="init",
            kwargs={"date_from": "2026-03-01", **kwargs},
            error=config_error(match),
        )
    run = [
        (
            "range_longer_than_a_year",
            {"date_from": "2025-01-01", "date_to": "2026-03-01"},
            r"date_from 2025-01-01 is more than max_history_days=365 days before today",
        ),
        (
            "start_after_end",
            {"date_from": "2026-03-05", "date_to": "2026-03-01"},
            "date_to must not be earlier than date_from",
        ),
        ("february_30", {"date_from": "2026-02-30"}, r"date_from is not a calendar date \(YYYY-MM-DD\)"),
        ("yesterday_word", {"date_from": "yesterday"}, "date_from must be a date written YYYY-MM-DD"),
        ("slashes", {"date_from": "2026/03/01"}, "date_from must be a date written YYYY-MM-DD"),
        ("us_order", {"date_from": "03-01-2026"}, "date_from must be a date written YYYY-MM-DD"),
        ("epoch_number", {"date_from": 1772323200}, "date_from must be a date written YYYY-MM-DD"),
        (
            "date_to_garbage",
            {"date_from": "2026-03-01", "date_to": "soon"},
            "date_to must be a date written YYYY-MM-DD",
        ),
        ("no_data_interval", {"date_from": "None"}, "date_from is empty: this run has no data interval"),
        ("today_not_over", {"date_from": "2026-03-10"}, "date_to 2026-03-10 is not over yet"),
        ("future_range", {"date_from": "2027-01-01"}, "is not over yet"),
        (
            "advertiser_id_letters",
            {"date_from": "2026-03-01", "advertiser_id": "act_123"},
            "advertiser_id must contain digits only",
        ),
        (
            "advertiser_id_with_space_inside",
            {"date_from": "2026-03-01", "advertiser_id": "7000 0000"},
            "advertiser_id must contain digits only",
        ),
        ("advertiser_id_unknown", {"date_from": "2026-03-01", "advertiser_id": "7999999999999999999"}, None),
        (
            "utm_defaults_list",
            {"date_from": "2026-03-01", "utm_defaults": ["tiktok"]},
            "utm_defaults must be a mapping",
        ),
        (
            "utm_defaults_unknown_key",
            {"date_from": "2026-03-01", "utm_defaults": {"utm_term": "x"}},
            "unknown key 'utm_term'",
        ),
        (
            "utm_defaults_number",
            {"date_from": "2026-03-01", "utm_defaults": {"utm_source": 5}},
            "utm_source must be a non-empty string",
        ),
    ]
    for name, kwargs, match in run:
        if match is None:  # TikTok answers: the error is TikTok's own, with a request id, and nothing is written
            c.case(
                f"ad_metrics/arg_{name}",
                "ad_metrics",
                f"argument {kwargs}",
                "error",
                kwargs=kwargs,
                error=error("TikTokApiError", r"code=40001, http_status=200, request_id=\S+"),
            )
            continue
        c.case(
            f"ad_metrics/arg_{name}",
            "ad_metrics",
            f"argument {kwargs}",
            "error",
            kwargs=kwargs,
            error=config_error(match),
        )

    c.case(
        "ad_metrics/arg_advertiser_id_fullwidth_digits",
        "ad_metrics",
        "advertiser_id written in full-width digits (str.isdigit() accepts them; TikTok ids are ASCII)",
        "error",
        kwargs={"date_from": "2026-03-01", "advertiser_id": "\uff17\uff10\uff10\uff10\uff11"},
        error=config_error("advertiser_id must contain digits only"),
    )


# ------------------------------------------------------------------------- issue 15: real-world identifiers
def _sha(text: str) -> str:
    """SHA-256 hex of a normalised identifier, computed here (hashlib), not with the provider's code."""
    return hashlib.sha256(text.encode()).hexdigest()


#: The reason an event row gets when its only identifier is unusable (web events need one).
WEB_NEEDS = ", and a web event needs a usable email, phone or external_id"
PII_IN_CLEAR = "personal data must not be sent in clear"


def _real_world_identifiers(c: Corpus) -> None:
    """Issue 15, classes 1, 2 and 5: identifiers wrapped the way exports wrap them (cleaned when unambiguous,
    else dropped or rejected naming the shape), phones only dialable locally (dropped or rejected, never hashed
    as a made-up number), and personal data in clear-text fields (the row rejected, the value kept nowhere)."""
    _wrapped_event_identifiers(c)
    _local_event_phones(c)
    _personal_data_in_clear_text(c)
    _wrapped_members(c)
    _local_member_phones(c)


def _wrapped_event_identifiers(c: Corpus) -> None:
    """Class 1, events: mailto:, JSON quotes, display names, typographic quotes, tel: URIs, quoted ids."""
    cleaned = {
        "wrapped_email_mailto": (
            "a CRM's link column: 'mailto:' before the address",
            "email",
            "mailto:Buyer2@Example.com",
        ),
        "wrapped_email_json_quotes": ("a JSON column cast to text keeps its quotes", "email", '"buyer2@example.com"'),
        "wrapped_email_display_name": (
            "an address book export: display name and <address>",
            "email",
            "Buyer Two <buyer2@example.com>",
        ),
        "wrapped_email_typographic_quotes": (
            "typographic quotes from a word processor",
            "email",
            "\u201cbuyer2@example.com\u201d",
        ),
        "wrapped_email_slack_link": (
            "a chat export's <mailto:address|address> link",
            "email",
            "<mailto:buyer2@example.com|buyer2@example.com>",
        ),
        "wrapped_phone_tel_uri": ("a telephony export's tel: URI", "phone", "tel:+1-415-555-0102"),
        "wrapped_phone_json_quotes": ("a JSON column cast to text", "phone", '"(415) 555-0102"'),
        "wrapped_phone_spreadsheet_marker": (
            "a spreadsheet's leading ' that keeps the + as text",
            "phone",
            "'+14155550102",
        ),
        "wrapped_external_id_quotes": ("a JSON column cast to text", "external_id", '"CUST-0002"'),
    }
    normalised = {"email": "buyer2@example.com", "phone": "+14155550102", "external_id": "CUST-0002"}
    for name, (what, field, raw) in cleaned.items():
        other = {"email": None} if field == "phone" else {"phone": None}  # the wrapped value is the only one
        _events_accepted(
            c,
            name,
            f"row 2's {field} is wrapped ({what}): unwrapped and hashed as TikTok matches it, nothing dropped",
            event(2, **other, **{field: raw}),
            sent={f"user.{field}": _sha(normalised[field])},
            dropped={},
            never=[raw, normalised[field]] if field != "external_id" else [raw],
        )
    rows = [
        event(1, email='"buyer1@example.com"', phone=None),
        event(2, email='"Two, Buyer" <buyer2@example.com>', phone=None),
        event(3, email="MAILTO:buyer3@example.com", phone=None),
    ]
    c.case(
        "events/wrapped_emails_csv",
        "events",
        "a CSV export whose e-mail cells are JSON-quoted, display-name and mailto: forms (CSV-quoted in turn)",
        "accepted",
        file=c.file("events/wrapped_emails_csv.csv", csv_text(EVENT_HEADER, rows)),
        feeds=["file", "gzip", "list"],
        received=3,
        delivered=[1, 2, 3],
        row2_sent={"user.email": _sha("buyer2@example.com")},
        dropped_fields={},
        never=[*raw_identifiers(rows), "buyer1@example.com", "buyer2@example.com", "buyer3@example.com"],
    )
    ambiguous = {
        "ambiguous_email_list": (
            "email",
            "buyer2@example.com; billing2@example.com",
            "holds more than one e-mail address (a list?): give one address a row",
        ),
        "ambiguous_email_two_addresses": (
            "email",
            "billing2@example.com <buyer2@example.com>",
            "holds two different e-mail addresses",
        ),
        "ambiguous_email_unbalanced_quote": (
            "email",
            '"buyer2@example.com',
            "has an unbalanced quote (is the column cut or badly quoted?)",
        ),
        "ambiguous_email_json_array": (
            "email",
            '["buyer2@example.com"]',
            "is a list in brackets (a JSON array?): give one address a row",
        ),
        "ambiguous_phone_list": (
            "phone",
            "(415) 555-0102 / (415) 555-0199",
            "holds more than one phone number (a list?): give one number a row",
        ),
    }
    for name, (field, raw, reason) in ambiguous.items():
        other = {"phone": None} if field == "email" else {"email": None}
        _events_accepted(
            c,
            f"{name}_dropped",
            f"row 2's {field} is wrapped ambiguously but it has another identifier: the {field} is left out "
            "(counted), the event is sent",
            event(2, **{field: raw}, external_id="CUST-0002", **other),
            dropped={field: 1},
            never=[raw, "buyer2@example.com", "billing2@example.com"],
        )
        _events_rejects(
            c,
            f"{name}_only_identifier",
            f"row 2's only identifier is an ambiguously wrapped {field}: rejected naming the shape, never the value",
            event(2, **{field: raw}, **other),
            field,
            reason + WEB_NEEDS,
            never=[raw, "buyer2@example.com", "billing2@example.com"],
        )


def _local_event_phones(c: Corpus) -> None:
    """Class 2, events: numbers only possible locally (no area code) or with a prefix not in use."""
    local = {
        "phone_local_only_us": (
            "555-0102",
            "a US number without its area code",
            "is not a valid number for region US (a local number without its area code?)",
        ),
        "phone_invalid_exchange_us": (
            "(415) 123-0102",
            "a US number whose exchange starts with 1 (not in use)",
            "is not a valid number for region US (a local number without its area code, or a prefix not in use?)",
        ),
        "phone_invalid_area_code_us": (
            "+1 999 555 0102",
            "an international number with area code 999 (not in use)",
            "is not a valid number for region US (a local number without its area code, or a prefix not in use?)",
        ),
    }
    for name, (raw, what, reason) in local.items():
        _events_accepted(
            c,
            f"{name}_dropped",
            f"row 2's phone is {what}; the row keeps its e-mail: the phone is left out (counted), never hashed "
            "as a made-up E.164 number",
            event(2, phone=raw),
            dropped={"phone": 1},
            never=[raw],
        )
        _events_rejects(
            c,
            f"{name}_only_identifier",
            f"row 2's only identifier is {what}: rejected, counted",
            event(2, email=None, phone=raw),
            "phone",
            reason + WEB_NEEDS,
            kind="csv",
            never=[raw],
        )
    rows = [event(1, phone="030 901820"), event(2, email=None, phone="901821"), event(3, phone="+49 30 901823")]
    c.case(
        "events/phone_local_only_de",
        "events",
        "German phones (default_phone_region='DE'); row 2's only identifier is a number without its area code",
        "rejects",
        file=c.file("events/phone_local_only_de.jsonl", jsonl_text(rows)),
        feeds=["file", "list"],
        kwargs={"default_phone_region": "DE"},
        received=3,
        rejects=[
            [
                2,
                "phone",
                "is not a valid number for region DE (a local number without its area code, or a prefix not in use?)"
                + WEB_NEEDS,
            ]
        ],
        delivered=[1, 3],
        dropped_fields={"phone": 1},
        never=raw_identifiers(rows),
    )


def _personal_data_in_clear_text(c: Corpus) -> None:
    """Class 5, events: e-mails and phones in fields TikTok, the summary and the log receive in clear."""
    cases = {
        "pii_event_name_email": (
            "event",
            "buyer2@example.com",
            f"looks like an e-mail address: {PII_IN_CLEAR}; map the column to email",
        ),
        "pii_event_name_phone": (
            "event",
            "(415) 555-0102",
            f"looks like a phone number: {PII_IN_CLEAR}; map the column to phone",
        ),
        "pii_event_name_bare_phone": (
            "event",
            "4155550102",
            f"looks like a phone number: {PII_IN_CLEAR}; map the column to phone",
        ),
        "pii_description_email": (
            "description",
            "gift, send the receipt to Buyer2@Example.com",
            f"holds an e-mail address: {PII_IN_CLEAR}; remove it from the text",
        ),
        "pii_query_phone": (
            "query",
            "call me +1 415 555 0102",
            f"holds a phone number: {PII_IN_CLEAR}; remove it from the text",
        ),
        "pii_content_name_email": (
            "content_name",
            "buyer2@example.com",
            f"looks like an e-mail address: {PII_IN_CLEAR}; map the column to email",
        ),
        "pii_user_agent_phone": (
            "user_agent",
            "415.555.0102",
            f"looks like a phone number: {PII_IN_CLEAR}; map the column to phone",
        ),
        "pii_page_url_email_query": (
            "page_url",
            "https://shop.example.com/thanks?email=buyer2%40example.com",
            f"holds an e-mail address: {PII_IN_CLEAR}; remove it from the URL",
        ),
    }
    for name, (field, raw, reason) in cases.items():
        overrides: dict[str, Any] = {field: raw}
        if field == "content_name":
            overrides.update(content_id="sku-2", price=19.99, quantity=1, value=None)
        rows = [event(1), event(2, **overrides), event(3)]
        c.case(
            f"events/{name}",
            "events",
            f"row 2's {field} holds personal data (a mis-mapped column or a typed note): the row is rejected "
            "without repeating the value, which is listed nowhere (custom event names, rejects file, log)",
            "rejects",
            file=c.file(f"events/{name}.jsonl", jsonl_text(rows)),
            feeds=["file", "list"],
            received=3,
            rejects=[[2, field, reason]],
            delivered=[1, 3],
            nonstandard_event_names={},
            never=[*raw_identifiers(rows), raw, "buyer2@example.com", "4155550102", "415.555.0102", "415 555 0102"],
        )
    contents = [{"content_id": "sku-2", "content_name": "+1 (415) 555-0102", "price": 19.99, "quantity": 1}]
    rows = [event(1), event(2, contents=contents, value=None), event(3)]
    c.case(
        "events/pii_contents_entry_phone",
        "events",
        "a phone number in a contents entry's content_name: rejected naming contents.0.content_name",
        "rejects",
        file=c.file("events/pii_contents_entry_phone.jsonl", jsonl_text(rows)),
        feeds=["file", "list"],
        received=3,
        rejects=[[2, "contents.0.content_name", f"looks like a phone number: {PII_IN_CLEAR}; map the column to phone"]],
        delivered=[1, 3],
        never=[*raw_identifiers(rows), "(415) 555-0102", "4155550102"],
    )
    header = ["event_name", "event_time", "customer_email", "phone", "page_url", "value", "currency", "order_id"]
    rows = [
        {**event(n, email=None), "event_name": "Purchase", "customer_email": f"Mapped.Buyer{n}@Example.com"}
        for n in (1, 2, 3)
    ]
    c.case(
        "events/pii_mis_mapped_email_column_as_event",
        "events",
        "a CSV export whose field_map swaps two columns: the e-mails land in event, the event names in email; "
        "every row is rejected, no e-mail reaches TikTok, the summary's custom event names or the log",
        "rejects",
        file=c.file("events/pii_mis_mapped_email_column_as_event.csv", csv_text(header, rows)),
        feeds=["file", "gzip", "list"],
        kwargs={"field_map": {"customer_email": "event", "event_name": "email"}},
        received=3,
        rejects=[
            [n, "event", f"looks like an e-mail address: {PII_IN_CLEAR}; map the column to email"] for n in (1, 2, 3)
        ],
        delivered=[],
        nonstandard_event_names={},
        never=[f"Mapped.Buyer{n}@Example.com" for n in (1, 2, 3)] + [f"mapped.buyer{n}@example.com" for n in (1, 2, 3)],
    )


def _wrapped_members(c: Corpus) -> None:
    """Class 1, audiences: wrapped members cleaned (customer-file rules), ambiguous ones rejected by shape."""
    wrapped = [
        "mailto:Member1@Example.com",
        '"member2@example.com"',
        "Member Three <member3@example.com>",
        "\u201cmember4@example.com\u201d",
        "<mailto:member5@example.com|member5@example.com>",
        '"Six, Member" <member6@example.com>',
    ]
    clean = [member(n) for n in range(1, 7)]
    c.case(
        "audience/email_wrapped",
        "audience",
        "members as exports wrap them (mailto:, JSON quotes, display names, typographic quotes, a chat link): "
        "each is unwrapped and synced",
        "accepted",
        file=c.file("audience/email_wrapped.csv", csv_text(["email"], [{"email": v} for v in wrapped])),
        feeds=["file", "gzip", "list"],
        received=6,
        members=clean,
        never=[*wrapped, *clean],
    )
    values = [
        member(1),
        "member2@example.com; member9@example.com",
        "other@example.com <member3@example.com>",
        '"member4@example.com',
        '["member5@example.com"]',
        "Member Six <member6@example.com",
        member(7),
    ]
    c.case(
        "audience/email_wrapped_ambiguously",
        "audience",
        "members wrapped ambiguously (a list, two addresses, an unbalanced quote or bracket, a JSON array): "
        "each is rejected naming the shape, the others are synced",
        "rejects",
        file=c.file("audience/email_wrapped_ambiguously.jsonl", jsonl_text([{"email": v} for v in values])),
        feeds=["file", "list"],
        received=7,
        rejects=[
            [2, "email", "holds more than one e-mail address (a list?): give one address a row"],
            [3, "email", "holds two different e-mail addresses"],
            [4, "email", "has an unbalanced quote (is the column cut or badly quoted?)"],
            [5, "email", "is a list in brackets (a JSON array?): give one address a row"],
            [6, "email", "has unbalanced angle brackets"],
        ],
        members=[member(1), member(7)],
        never=[*values[1:-1], "member9@example.com", "other@example.com"],
    )
    phones = ["tel:+1-415-555-0101", '"(415) 555-0102"', "'+14155550103", "Phone: (415) 555-0104"]
    c.case(
        "audience/phone_wrapped",
        "audience",
        "phone members wrapped (tel: URI, JSON quotes, a spreadsheet's text marker, a label): unwrapped, synced as "
        "digits with the country code",
        "accepted",
        file=c.file("audience/phone_wrapped.csv", csv_text(["phone"], [{"phone": v} for v in phones])),
        feeds=["file", "list"],
        kwargs={"id_type": "phone"},
        received=4,
        members=["14155550101", "14155550102", "14155550103", "14155550104"],
        never=phones,
    )


def _local_member_phones(c: Corpus) -> None:
    """Class 2, audiences: member phones only possible locally, or with a prefix not in use, are rejected."""
    local_only = "is not a valid number for region {} (a local number without its area code?)"
    not_in_use = "is not a valid number for region {} (a local number without its area code, or a prefix not in use?)"
    cases = [
        (
            "phone_local_only_us",
            "US phones, two of them without their area code (7 digits) and one with an exchange not in use",
            "US",
            ["(415) 555-0101", "555-0102", "555 0103", "(415) 123-0104", "(415) 555-0105"],
            [
                [2, "phone", local_only.format("US")],
                [3, "phone", local_only.format("US")],
                [4, "phone", not_in_use.format("US")],
            ],
            ["14155550101", "14155550105"],
        ),
        (
            "phone_local_only_de",
            "German phones (default_phone_region='DE'), one without its area code",
            "DE",
            ["030 901820", "901821", "+49 30 901822"],
            [[2, "phone", not_in_use.format("DE")]],
            ["4930901820", "4930901822"],
        ),
        (
            "phone_list_in_one_cell",
            "two numbers in one cell (a list)",
            "US",
            ["(415) 555-0101", "(415) 555-0102 / (415) 555-0199", "(415) 555-0103"],
            [[2, "phone", "holds more than one phone number (a list?): give one number a row"]],
            ["14155550101", "14155550103"],
        ),
    ]
    for name, what, region, values, rejects, members in cases:
        c.case(
            f"audience/{name}",
            "audience",
            f"{what}: rejected and counted, never hashed as made-up numbers; the others are synced",
            "rejects",
            file=c.file(f"audience/{name}.csv", csv_text(["phone"], [{"phone": v} for v in values])),
            feeds=["file", "gzip", "list"],
            kwargs={"id_type": "phone", "default_phone_region": region},
            received=len(values),
            rejects=rejects,
            members=members,
            never=values,
        )


# ------------------------------------------------------------------- issue 15: files as tools write them
BOM = "\ufeff".encode()
#: The feeds of a file the readers must read wherever it is kept: local or object storage, plain or gzip.
EVERY_STORE = ["file", "gzip", "memory", "memory_gzip"]
#: The first line Windows PowerShell's Export-Csv writes unless told -NoTypeInformation.
PS_TYPE_LINE = "#TYPE System.Management.Automation.PSCustomObject\r\n"


def quoted_crlf_csv(header: list[str], rows: list[dict[str, Any]]) -> str:
    """CSV as PowerShell's Export-Csv writes it: every name and cell quoted, CRLF line ends (text, to encode)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else row[column] for column in header])
    return out.getvalue()


def xlsx_bytes() -> bytes:
    """A minimal ZIP archive laid out like an .xlsx workbook (stored, fixed timestamps: the same bytes each run)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, text in (
            ("[Content_Types].xml", '<?xml version="1.0"?><Types/>'),
            ("xl/workbook.xml", '<?xml version="1.0"?><workbook/>'),
            ("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet><c t="s">buyer1@example.com</c></worksheet>'),
        ):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 3, 10, 0, 0, 0)), text)
    return out.getvalue()


def _real_world_files(c: Corpus) -> None:
    """Issue 15, class 4: files as PowerShell, Excel, editors and warehouses write them (byte-order marks, quoted
    headers, CRLF, UTF-16, preamble lines) are read by every reader; files that truly cannot be read fail
    naming the cause, never 'is the header row missing?'."""
    _real_world_event_files(c)
    _unreadable_event_files(c)
    _real_world_member_files(c)


def _events_read(c: Corpus, name: str, what: str, content: bytes, feeds: list[str], **fields: Any) -> None:
    """An events file whose three good rows are all understood and delivered."""
    rows = [event(1), event(2), event(3)]
    c.case(
        f"events/{name.split('.')[0]}",
        "events",
        what,
        "accepted",
        file=c.file(f"events/{name}", content),
        feeds=feeds,
        received=3,
        delivered=[1, 2, 3],
        never=raw_identifiers(rows),
        **fields,
    )


def _real_world_event_files(c: Corpus) -> None:
    """Event files written by real tools: read exactly, from every store, plain or gzip."""
    rows = [event(1), event(2), event(3)]
    _events_read(
        c,
        "csv_powershell51_utf8_bom_quoted.csv",
        "Windows PowerShell 5.1 'Export-Csv -Encoding UTF8 -NoTypeInformation': a byte-order mark before the "
        'quoted header ("event","event_time",...), every cell quoted, CRLF line ends',
        BOM + quoted_crlf_csv(EVENT_HEADER, rows).encode(),
        EVERY_STORE,
    )
    _events_read(
        c,
        "csv_powershell51_type_line.csv",
        "Windows PowerShell 5.1 'Export-Csv -Encoding UTF8' without -NoTypeInformation: a '#TYPE ...' line before "
        "the quoted header",
        BOM + (PS_TYPE_LINE + quoted_crlf_csv(EVENT_HEADER, rows)).encode(),
        ["file", "gzip", "memory"],
    )
    _events_read(
        c,
        "csv_powershell7_quoted_crlf.csv",
        "PowerShell 7 'Export-Csv' on Windows: UTF-8 without a byte-order mark, quoted, CRLF line ends",
        quoted_crlf_csv(EVENT_HEADER, rows).encode(),
        ["file", "gzip", "memory"],
    )
    _events_read(
        c,
        "csv_powershell_utf16.csv",
        "Windows PowerShell 'Export-Csv -Encoding Unicode' (or ConvertTo-Csv piped to Out-File, whose default is "
        "UTF-16): UTF-16 LE with its byte-order mark, a '#TYPE' line, quoted, CRLF",
        codecs.BOM_UTF16_LE + (PS_TYPE_LINE + quoted_crlf_csv(EVENT_HEADER, rows)).encode("utf-16-le"),
        EVERY_STORE,
    )
    note = "Gift note:\r\nHappy birthday, Sam"
    with_note = [event(1), event(2, description=note), event(3)]
    excel = csv_text([*EVENT_HEADER, "description"], with_note).decode().replace("\n", "\r\n")
    excel = excel.replace("Gift note:\r\r\nHappy", "Gift note:\r\nHappy")  # the cell keeps its own CRLF
    _events_read(
        c,
        "csv_excel_utf8_crlf_multiline_cell.csv",
        "Excel's 'CSV UTF-8': a byte-order mark, CRLF line ends, and row 2's description holding a CRLF and a comma "
        "inside its quotes (kept exactly)",
        BOM + excel.encode(),
        EVERY_STORE,
        row2_sent={"properties.description": note},
    )
    _events_read(
        c,
        "csv_excel_sep_line.csv",
        "a CSV made for Excel: a 'sep=,' line before the header (Excel's separator hint), CRLF line ends",
        b"sep=,\r\n" + csv_text(EVENT_HEADER, rows).replace(b"\n", b"\r\n"),
        ["file", "gzip"],
    )
    trailing = csv_text([*EVENT_HEADER, "", ""], rows)
    _events_read(
        c,
        "csv_trailing_empty_columns.csv",
        "a spreadsheet's used range: two empty columns without names after the last one (every row ends ',,')",
        trailing,
        ["file", "gzip"],
    )
    _events_read(
        c,
        "jsonl_bom_crlf.jsonl",
        "JSON Lines saved by a Windows editor (or 'Set-Content -Encoding UTF8'): a byte-order mark and CRLF",
        BOM + jsonl_text(rows).replace(b"\n", b"\r\n"),
        EVERY_STORE,
    )
    _events_read(
        c,
        "jsonl_utf16_bom.jsonl",
        "JSON Lines written with Windows PowerShell's Out-File (UTF-16 LE with its byte-order mark, CRLF)",
        codecs.BOM_UTF16_LE + jsonl_text(rows).decode().replace("\n", "\r\n").encode("utf-16-le"),
        ["file", "gzip", "memory"],
    )
    c.case(
        "events/csv_bom_only",
        "events",
        "a file holding only a UTF-8 byte-order mark (an empty sheet saved as 'CSV UTF-8'): empty, nothing sent",
        "accepted",
        file=c.file("events/csv_bom_only.csv", BOM),
        feeds=["file", "gzip"],
        received=0,
        delivered=[],
    )


def _unreadable_event_files(c: Corpus) -> None:
    """Event files that cannot be read: the error names the cause and what to do."""
    rows = [event(1), event(2), event(3)]
    never = raw_identifiers(rows)
    export = BOM + quoted_crlf_csv(EVENT_HEADER, rows).encode()
    unreadable = [
        (
            "csv_joined_exports.csv",
            "two PowerShell exports joined with 'cat' or 'copy /b': the second one's byte-order mark at line 5",
            export + export,
            r"^line 5 starts with a byte-order mark.*several files joined together",
            None,
        ),
        (
            "jsonl_joined_exports.jsonl",
            "two JSON Lines exports, each with its byte-order mark, joined together",
            (BOM + jsonl_text(rows)) * 2,
            r"^line 4 starts with a byte-order mark",
            None,
        ),
        (
            "csv_utf16_without_bom.csv",
            "UTF-16 LE without a byte-order mark (every other byte is NUL)",
            csv_text(EVENT_HEADER, rows).decode().encode("utf-16-le"),
            r"^line 1 contains NUL bytes: the file is binary, or UTF-16 text without a byte-order mark",
            None,
        ),
        (
            "csv_nul_padding.csv",
            "a file padded with NUL bytes after its last row (a copy interrupted by a crash)",
            csv_text(EVENT_HEADER, rows) + b"\x00" * 512,
            r"^line 5 contains NUL bytes",
            None,
        ),
        (
            "csv_xlsx_named_csv.csv",
            "an Excel workbook renamed to .csv",
            xlsx_bytes(),
            r"^the file is a ZIP archive \(an Excel \.xlsx workbook\?\), not text: save the sheet as CSV UTF-8",
            None,
        ),
        (
            "csv_gzip_named_csv.csv",
            "gzip data in a file named .csv (the .gz left off)",
            gzip.compress(csv_text(EVENT_HEADER, rows), mtime=0),
            r"^the file is gzip-compressed: name it \.gz",
            None,
        ),
        (
            "csv_sep_semicolon_line.csv",
            "a 'sep=;' line (Excel's hint) before a semicolon-separated export",
            b"sep=;\r\n" + csv_text(EVENT_HEADER, rows).replace(b",", b";"),
            r"^row 0: the file starts with Excel's separator line 'sep=': it is semicolon-separated",
            0,
        ),
        (
            "csv_empty_header_name.csv",
            "the header cell of column 5 is blank while its rows have values",
            csv_text([*EVENT_HEADER[:4], "", *EVENT_HEADER[5:]], [{**r, "": r["page_url"]} for r in rows]),
            r"^row 0: the CSV header has empty or repeated column names: column 5 has no name",
            0,
        ),
        (
            "csv_value_under_unnamed_column.csv",
            "a spreadsheet's extra column without a name, empty in row 1 but holding a value in row 2",
            csv_text([*EVENT_HEADER, ""], [rows[0], {**rows[1], "": "see note"}, rows[2]]),
            r"^row 2: has a value in column 9, which has no name in the header row",
            2,
        ),
        (
            "jsonl_old_mac_line_ends.jsonl",
            "JSON Lines with old Mac line ends (a carriage return alone)",
            jsonl_text(rows).replace(b"\n", b"\r"),
            r"^row 1: is not valid JSON: its lines end in a bare carriage return",
            1,
        ),
    ]
    for name, what, content, match, row in unreadable:
        c.case(
            f"events/{name.split('.')[0]}",
            "events",
            what,
            "error",
            file=c.file(f"events/{name}", content),
            feeds=["file", "gzip"],
            error=input_error(match, row),
            never=never,
        )


def _real_world_member_files(c: Corpus) -> None:
    """Audience member files written by real tools: read from every store, or refused naming the cause."""
    good = [member(1), member(2), member(3)]
    quoted = quoted_crlf_csv(["email"], [{"email": e} for e in good])
    for name, what, content, feeds in (
        (
            "powershell51_type_line_bom_quoted.csv",
            "Windows PowerShell 5.1 'Export-Csv -Encoding UTF8': a byte-order mark, a '#TYPE' line, a quoted "
            '"email" header, CRLF',
            BOM + (PS_TYPE_LINE + quoted).encode(),
            EVERY_STORE,
        ),
        (
            "powershell_utf16.csv",
            "Windows PowerShell 'Export-Csv -Encoding Unicode': UTF-16 LE with its byte-order mark, quoted, CRLF",
            codecs.BOM_UTF16_LE + (PS_TYPE_LINE + quoted).encode("utf-16-le"),
            EVERY_STORE,
        ),
        (
            "jsonl_bom_crlf.jsonl",
            "member JSON Lines with a byte-order mark and CRLF line ends",
            BOM + jsonl_text([{"email": e} for e in good]).replace(b"\n", b"\r\n"),
            ["file", "gzip", "memory"],
        ),
    ):
        c.case(
            f"audience/{name.split('.')[0]}",
            "audience",
            what,
            "accepted",
            file=c.file(f"audience/{name}", content),
            feeds=feeds,
            received=3,
            members=good,
            never=good,
        )
    export = BOM + quoted.encode()
    for name, what, content, match in (
        (
            "joined_exports.csv",
            "two member exports joined together: the second byte-order mark at line 5",
            export + export,
            r"^line 5 starts with a byte-order mark",
        ),
        ("xlsx_named_csv.csv", "an Excel workbook renamed to .csv", xlsx_bytes(), r"^the file is a ZIP archive"),
        (
            "utf16_without_bom.csv",
            "UTF-16 LE without a byte-order mark",
            quoted.encode("utf-16-le"),
            r"^line 1 contains NUL bytes",
        ),
        (
            "email_column_twice.csv",
            "a header naming two columns 'email' (a join that kept both tables' columns)",
            csv_text(["email", "name", "email"], [{"email": e, "name": f"N{n}"} for n, e in enumerate(good)]),
            r"^row 0: the CSV header has empty or repeated column names: 'email' names columns 1 and 3",
        ),
    ):
        c.case(
            f"audience/{name.split('.')[0]}",
            "audience",
            what,
            "error",
            file=c.file(f"audience/{name}", content),
            feeds=["file", "gzip"],
            error=input_error(match, 0 if match.startswith("^row 0") else None),
            never=good,
        )


# --------------------------------------------------------------------- issue 15: derived event_ids collide
def _event_id_collisions(c: Corpus) -> None:
    """Issue 15, class 3: without an order_id or event_id, the derived event_id depends on the whole event, so
    different purchases of one shopper in one second (or on one day-level timestamp) all reach TikTok; only an
    identical row is the same event (TikTok counts it once). ``stored_events``: events TikTok holds at the end."""
    shopper = {"email": "buyer1@example.com", "phone": "(415) 555-0101", "page_url": "https://shop.example.com/p/1"}
    moment = "2026-03-10T14:05:00Z"
    one_second = [
        {"event": "Purchase", "event_time": moment, **shopper, "content_id": "shoes", "price": 59.0, "quantity": 1},
        {"event": "Purchase", "event_time": moment, **shopper, "content_id": "socks", "price": 4.0, "quantity": 2},
        {"event": "Purchase", "event_time": moment, **shopper, "value": 4.0, "currency": "USD"},
    ]
    c.case(
        "events/event_id_one_second_no_order_id",
        "events",
        "three purchases by one shopper in the same second, no order_id: shoes, two pairs of socks, a 4.00 add-on "
        "(the old id, made of identity, event, time and order_id, let TikTok keep one of them)",
        "accepted",
        file=c.file("events/event_id_one_second_no_order_id.jsonl", jsonl_text(one_second)),
        feeds=["file", "list", "gzip"],
        received=3,
        delivered=[1, 2, 3],
        stored_events=3,
        never=raw_identifiers(one_second),
    )
    day = "2026-03-10T00:00:00Z"
    other = {"email": "buyer2@example.com", "phone": "(415) 555-0102", "page_url": "https://shop.example.com/p/2"}
    daily = [
        {"event": "Purchase", "event_time": day, **shopper, "value": 19.99, "currency": "USD"},
        {"event": "Purchase", "event_time": day, **shopper, "value": 5.0, "currency": "USD"},
        {"event": "Purchase", "event_time": day, **other, "value": 19.99, "currency": "USD", "content_id": "sku-1"},
        {"event": "Purchase", "event_time": day, **other, "value": 19.99, "currency": "USD", "content_id": "sku-2"},
    ]
    header = ["event", "event_time", "email", "phone", "page_url", "value", "currency", "content_id"]
    c.case(
        "events/event_id_day_level_timestamps",
        "events",
        "a warehouse export whose event_time is the order DATE (midnight), no order_id: two shoppers, two "
        "purchases each on the same day",
        "accepted",
        file=c.file("events/event_id_day_level_timestamps.csv", csv_text(header, daily)),
        feeds=["file", "gzip"],
        received=4,
        delivered=[1, 2, 3, 4],
        stored_events=4,
        never=raw_identifiers(daily),
    )
    lines = [event(1, content_id="sku-a"), event(1, content_id="sku-b", value=5.0), event(2, content_id="sku-a")]
    c.case(
        "events/event_id_order_lines",
        "events",
        "an order-lines export: one row per product, so order o1 appears twice with different products and values",
        "accepted",
        file=c.file("events/event_id_order_lines.jsonl", jsonl_text(lines)),
        feeds=["file", "list"],
        received=3,
        delivered=[1, 2, 3],
        stored_events=3,
        never=raw_identifiers(lines),
    )
    twice = [one_second[0], one_second[0], one_second[1]]
    c.case(
        "events/event_id_identical_rows",
        "events",
        "the same row twice (an export run twice into one file): one event, the same id, so TikTok counts it "
        "once; every row is still sent (a real repeat needs an order_id or event_id)",
        "accepted",
        file=c.file("events/event_id_identical_rows.jsonl", jsonl_text(twice)),
        feeds=["file", "list"],
        received=3,
        delivered=[1, 2, 3],
        stored_events=2,
        never=raw_identifiers(twice),
    )


def build() -> Corpus:
    """Every case of the corpus, in manifest order."""
    corpus = Corpus()
    events_cases(corpus)
    audience_cases(corpus)
    ad_metrics_cases(corpus)
    _real_world_identifiers(corpus)
    _real_world_files(corpus)
    _event_id_collisions(corpus)
    return corpus


def main() -> None:
    """Rewrite tests/data/bad_inputs/ from ``build()`` (stale files removed)."""
    corpus = build()
    for path in sorted(ROOT.rglob("*"), reverse=True):
        if path.is_file():
            path.unlink()
    corpus.write(ROOT)
    print(f"{len(corpus.cases)} cases, {len(corpus.files)} files in {ROOT}")


if __name__ == "__main__":
    main()
