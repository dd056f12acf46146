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

import csv
import gzip
import io
import json
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
        "a UTF-16 file with its byte-order mark (Excel's 'Unicode text')",
        "error",
        file=c.file("events/csv_utf16_bom.csv", csv_text(EVENT_HEADER, rows).decode().encode("utf-16")),
        error=input_error(r"line 1 is not UTF-8 text", None),
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


def build() -> Corpus:
    """Every case of the corpus, in manifest order."""
    corpus = Corpus()
    events_cases(corpus)
    audience_cases(corpus)
    ad_metrics_cases(corpus)
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
