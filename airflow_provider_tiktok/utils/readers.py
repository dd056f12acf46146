"""Stream input records from a list/XCom value, a CSV or JSON Lines file (local or object storage), or SQL.

Every reader yields ``(row_number, record)`` one at a time, so memory stays flat whatever the input
size; row numbers are 1-based data rows, used in error messages instead of values.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, BinaryIO, cast

from airflow_provider_tiktok.exceptions import TikTokConfigError, TikTokInputError
from airflow_provider_tiktok.utils.storage import as_path

Record = dict[str, Any]
_JSON_LINES = (".jsonl", ".ndjson", ".json")
#: Separators a CSV export may use by mistake; a header of one column holding one of them gives it away.
_OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
#: A source column name as people write them; anything else (an e-mail, a date) suggests a CSV whose header row
#: is missing, so its values stand where names should: such a "name" is never logged or put in an error.
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,63}")


def is_column_name(name: object) -> bool:
    """Whether ``name`` looks like a column name, so it may be quoted in a log line or an error."""
    return isinstance(name, str) and _COLUMN_NAME.fullmatch(name) is not None


def iter_records(
    source: Any,
    *,
    sql: str | None = None,
    sql_conn_id: str | None = None,
    field_map: Mapping[str, str | None] | None = None,
    chunk_size: int = 10_000,
) -> Iterator[tuple[int, Record]]:
    """Yield ``(row_number, record)`` from ``source`` (list, file URI) or from ``sql`` on ``sql_conn_id``.

    Scalars in a list become ``{"value": item}``; ``field_map`` renames source columns (None drops one).
    """
    _check_field_map(field_map)
    if sql:
        if source is not None:
            raise TikTokConfigError("give either an input source or sql + sql_conn_id, not both")
        if not sql_conn_id:
            raise TikTokConfigError("sql needs sql_conn_id (an Airflow SQL connection)")
        rows = _iter_sql(sql, sql_conn_id, chunk_size)
    elif source is None:
        raise TikTokConfigError("no input: give records, a file URI, or sql + sql_conn_id")
    elif isinstance(source, str | os.PathLike):
        rows = _iter_file(os.fspath(source))
    elif isinstance(source, Mapping | bytes):
        raise TikTokConfigError("the input must be a list of records, a file URI or sql, not a single mapping")
    elif isinstance(source, Iterable):
        rows = _iter_items(source)
    else:
        raise TikTokConfigError(f"unsupported input type {type(source).__name__}")
    yield from _renamed(rows, field_map) if field_map else rows


def _check_field_map(field_map: Any) -> None:
    """``field_map`` must map column names to field names (or None to drop a column)."""
    if field_map is None:
        return
    if not isinstance(field_map, Mapping):
        raise TikTokConfigError("field_map must be a mapping of source column to field name, e.g. {'mail': 'email'}")
    for key, target in field_map.items():
        if not isinstance(key, str) or not (target is None or isinstance(target, str)):
            raise TikTokConfigError("field_map must map column names (text) to field names (text) or None")


def _renamed(rows: Iterator[tuple[int, Record]], field_map: Mapping[str, str | None]) -> Iterator[tuple[int, Record]]:
    """Apply ``field_map`` to each record (a column mapped to None is dropped); two columns mapped onto one
    name is an error."""
    for number, record in rows:
        renamed: Record = {}
        for key, value in record.items():
            target = field_map.get(key, key)
            if target is None:
                continue
            if target in renamed:
                raise TikTokInputError(f"two source columns map to {target!r}: fix field_map", row=number, field=target)
            renamed[target] = value
        yield number, renamed


def _iter_items(items: Iterable[Any]) -> Iterator[tuple[int, Record]]:
    for number, item in enumerate(items, start=1):
        if isinstance(item, Mapping):
            yield number, dict(item)
        elif item is None or isinstance(item, str | int | float):
            yield number, {"value": item}
        else:
            raise TikTokInputError(f"expected a record or a value, got {type(item).__name__}", row=number)


def _open_binary(location: str) -> BinaryIO:
    """Open a local or object-storage file for reading bytes, transparently gunzipping ``.gz``."""
    path = as_path(location)
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise TikTokConfigError(f"input file not found: {location}") from None
    if location.lower().endswith(".gz"):
        return cast(BinaryIO, _ClosingGzipFile(raw))
    return cast(BinaryIO, raw)


class _ClosingGzipFile(gzip.GzipFile):
    """A gzip reader that also closes the file it reads from (``GzipFile`` leaves a given file open)."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__(fileobj=source)
        self._source = source

    def close(self) -> None:
        """Close the gzip stream, then its source."""
        try:
            super().close()
        finally:
            self._source.close()


def _decoded_lines(binary: BinaryIO) -> Iterator[str]:
    """Decode line by line, so a bad byte is reported at its own line (decoding in blocks would not); a
    corrupt or truncated gzip stream is reported after the last line it gave."""
    line_number = 0
    lines = iter(binary)
    while True:
        try:
            raw = next(lines, None)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:  # messages quote the file's first bytes: not kept
            problem = "is truncated" if isinstance(exc, EOFError) else "is not valid gzip data"
            raise TikTokInputError(f"the gzip file {problem} (after line {line_number}): compress it again") from None
        if raw is None:
            return
        line_number += 1
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TikTokInputError(
                f"line {line_number} is not UTF-8 text: save the file as UTF-8 (e.g. convert it from latin-1)"
            ) from None


def _iter_file(location: str) -> Iterator[tuple[int, Record]]:
    name = location.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        yield from _iter_csv(location)
    elif name.endswith(_JSON_LINES):
        yield from _iter_json_lines(location)
    else:
        raise TikTokConfigError(f"input file {location} must end in .csv, .jsonl, .ndjson or .json (optionally .gz)")


def _iter_csv(location: str) -> Iterator[tuple[int, Record]]:
    """Comma-separated rows under a header row (blank lines skipped); quotes must balance (``strict``), so an
    unclosed quote fails at its row instead of swallowing the rows after it."""
    with _open_binary(location) as binary:
        reader = csv.reader(_decoded_lines(binary), strict=True)
        number = 0
        try:
            header = next((cells for cells in reader if cells), None)
            if header is None:
                return
            header = [column.strip().lstrip("\ufeff").strip() for column in header]
            _check_header(header)
            for number, cells in enumerate(reader, start=1):
                if not cells:
                    continue
                if len(cells) != len(header):
                    raise TikTokInputError(f"has {len(cells)} fields, the header has {len(header)}", row=number)
                # CSV cannot say null: an empty cell is an absent value.
                yield number, {key: (value if value != "" else None) for key, value in zip(header, cells, strict=True)}
        except csv.Error as exc:
            raise TikTokInputError(f"is not valid CSV: {_csv_problem(exc)}", row=number + 1) from None


def _csv_problem(exc: csv.Error) -> str:
    """csv's message in the user's terms (its messages describe the syntax, never a cell's text)."""
    text = str(exc)
    if text.startswith("new-line character seen in unquoted field"):
        return "a line ends in a bare carriage return (old Mac style): save the file with \\n or \\r\\n line ends"
    return text.replace("field larger than field limit", "has a field longer than csv's limit")


def _check_header(header: list[str]) -> None:
    """Refuse a header with empty or repeated names, or one column that is really a ;/tab/| separated header."""
    if len(header) == 1:
        for delimiter, name in _OTHER_DELIMITERS.items():
            if delimiter in header[0]:
                raise TikTokInputError(
                    f"the CSV header is one column holding {name}s: the file looks {name}-separated, but CSV input "
                    "must be comma-separated (export it with commas, or as JSON Lines)",
                    row=0,
                )
    if len(set(header)) != len(header) or "" in header:
        raise TikTokInputError("the CSV header has empty or repeated column names", row=0)


def _iter_json_lines(location: str) -> Iterator[tuple[int, Record]]:
    with _open_binary(location) as binary:
        number = 0
        for line in _decoded_lines(binary):
            if not line.strip():
                continue
            number += 1
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:  # JSONDecodeError, a 5000-digit number, deep nesting
                nested = isinstance(exc, RecursionError)
                reason = "is nested too deeply" if nested else "is not valid JSON"
                if number == 1 and not nested and line.lstrip().startswith("["):
                    reason += ": the file looks like one JSON array; write one JSON object a line (JSON Lines)"
                raise TikTokInputError(reason, row=number) from None
            if not isinstance(record, dict):
                kind = "an array" if isinstance(record, list) else "a bare value"
                raise TikTokInputError(f"must be a JSON object, not {kind} (one object a line)", row=number)
            yield number, record


def _iter_sql(sql: str, conn_id: str, chunk_size: int) -> Iterator[tuple[int, Record]]:
    """Run ``sql`` through the connection's common.sql hook and fetch ``chunk_size`` rows at a time."""
    from airflow_provider_tiktok.compat import connection_hook

    hook = connection_hook(conn_id)
    if not hasattr(hook, "get_conn"):
        raise TikTokConfigError(f"connection {conn_id!r} is not a SQL connection")
    conn = hook.get_conn()
    try:
        cursor = _streaming_cursor(conn)
        cursor.execute(sql)
        columns = [column[0] for column in cursor.description or []]
        number = 0
        while rows := cursor.fetchmany(chunk_size):
            for row in rows:
                number += 1
                yield number, dict(zip(columns, row, strict=True))
        cursor.close()
    finally:
        conn.close()


def _streaming_cursor(conn: Any) -> Any:
    """A server-side cursor where the driver has one (psycopg), so big results are not loaded at once."""
    if type(conn).__module__.startswith("psycopg"):  # psycopg2 and psycopg 3
        return conn.cursor(name="tiktok_provider_reader")
    return conn.cursor()
