"""Stream input records from a list/XCom value, a CSV or JSON Lines file (local or object storage), or SQL.

Every reader yields ``(row_number, record)`` one at a time, so memory stays flat whatever the input
size; row numbers are 1-based data rows, used in error messages instead of values.

Files are read as tools write them: UTF-8 with or without a byte-order mark, UTF-16 or UTF-32 when their
byte-order mark says so, LF or CRLF line ends (inside quoted CSV cells too), PowerShell's ``#TYPE`` line and
Excel's ``sep=,`` line before a CSV header. A file that is not such text fails naming the cause (the line of
a byte that is not UTF-8, NUL bytes, a workbook or archive, a byte-order mark further down, a bad header).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import itertools
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
_UTF8_BOM = codecs.BOM_UTF8
#: Byte-order marks of the wide Unicode encodings (PowerShell 5's ``Out-File`` and ``Export-Csv -Encoding Unicode``,
#: Excel's "Unicode text") and the codec of the order each gives: such a file is read in that encoding. UTF-32 first:
#: its little-endian mark starts with UTF-16's.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: The first bytes of files that are not text at all, and what to say about them.
_BINARY_STARTS = (
    (b"PK\x03\x04", "is a ZIP archive (an Excel .xlsx workbook?), not text: save the sheet as CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "is an Excel .xls workbook, not text: save the sheet as CSV UTF-8"),
    (b"\x1f\x8b", "is gzip-compressed: name it .gz (e.g. events.csv.gz), and compress it only once"),
    (b"\xfd7zXZ\x00", "is xz-compressed: decompress it, or compress it with gzip and name it .gz"),
    (b"\x28\xb5\x2f\xfd", "is zstd-compressed: decompress it, or compress it with gzip and name it .gz"),
    (b"%PDF-", "is a PDF document, not CSV or JSON Lines"),
)
#: What a file with old Mac line ends (a carriage return alone) needs.
_BARE_CR = "a bare carriage return (old Mac style): save the file with \\n or \\r\\n line ends"
#: The first line of Windows PowerShell's ``Export-Csv`` output unless ``-NoTypeInformation`` is given.
_POWERSHELL_TYPE_LINE = "#TYPE "
#: Excel's separator hint, a first line ``sep=,`` (csv reads it as the cells ``sep=`` and empty).
_SEPARATOR_HINT = re.compile(r"sep=(.?)", re.IGNORECASE)


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
    """The file's text, line by line (each with its line end; ``\\r\\n`` kept for csv): UTF-8, its byte-order
    mark dropped, or UTF-16/UTF-32 when the file starts with their byte-order mark. What is not text fails
    naming the cause: a byte that is not UTF-8 (at its own line: decoding in blocks would not say where), NUL
    bytes (binary, or UTF-16 without a byte-order mark), a workbook or archive, a byte-order mark further down
    (files joined together). A corrupt or truncated gzip stream is reported after the last line it gave."""
    lines = iter(binary.readline, b"")  # not iter(binary): Airflow 3.0 wraps object-store files in a non-iterable
    line_number = 0
    try:
        first = next(lines, None)
        if first is None:
            return
        for bom, encoding in _WIDE_BOMS:
            if first.startswith(bom):
                yield from _wide_lines(first[len(bom) :], lines, encoding)
                return
        for start, problem in _BINARY_STARTS:
            if first.startswith(start):
                raise TikTokInputError(f"the file {problem}")
        while first.startswith(_UTF8_BOM):  # a mark written twice (a tool adding one to a file that had one) too
            first = first[len(_UTF8_BOM) :]
        for raw in itertools.chain((first,), lines):
            line_number += 1
            if b"\x00" in raw:
                raise TikTokInputError(_nul_problem(line_number))
            if raw.startswith(_UTF8_BOM) and line_number > 1:
                raise TikTokInputError(_joined_problem(line_number))
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise TikTokInputError(
                    f"line {line_number} is not UTF-8 text: save the file as UTF-8 (e.g. convert it from latin-1)"
                ) from None
    except _GZIP_ERRORS as exc:
        raise _gzip_problem(exc, line_number) from None


#: What reading a corrupt (BadGzipFile, zlib.error) or truncated (EOFError) gzip stream raises.
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def _gzip_problem(exc: BaseException, line_number: int) -> TikTokInputError:
    """The error for a gzip stream that broke after ``line_number`` lines (gzip's messages quote the file's first
    bytes: not kept)."""
    problem = "is truncated" if isinstance(exc, EOFError) else "is not valid gzip data"
    return TikTokInputError(f"the gzip file {problem} (after line {line_number}): compress it again")


def _wide_lines(first: bytes, rest: Iterator[bytes], encoding: str) -> Iterator[str]:
    """Lines of a UTF-16 or UTF-32 file (``first`` without its byte-order mark), split after each ``\\n`` like
    the UTF-8 lines; the raw chunks are pieces of the file that need not end at a character."""
    decoder = codecs.getincrementaldecoder(encoding)()
    pending = ""
    line_number = 0
    try:
        for chunk in itertools.chain((first,), rest):
            *lines, pending = (pending + decoder.decode(chunk)).split("\n")
            for line in lines:
                line_number += 1
                yield _checked_wide_line(line + "\n", line_number)
        pending += decoder.decode(b"", final=True)
    except _GZIP_ERRORS as exc:
        raise _gzip_problem(exc, line_number) from None
    except UnicodeDecodeError as exc:  # at the line of the bad bytes: the lines decoded before them are counted
        before = exc.object[: exc.start].decode(encoding, errors="ignore") if isinstance(exc.object, bytes) else ""
        line_number += before.count("\n") + 1
        name = encoding[:6].upper()
        raise TikTokInputError(
            f"line {line_number} is not valid {name} text (the file starts with a {name} byte-order mark): save it "
            "as UTF-8"
        ) from None
    if pending:
        yield _checked_wide_line(pending, line_number + 1)


def _checked_wide_line(line: str, line_number: int) -> str:
    """A decoded UTF-16/32 line, unless it holds NUL characters or starts with a second byte-order mark."""
    if "\x00" in line:
        raise TikTokInputError(_nul_problem(line_number))
    if line_number > 1 and line.startswith("\ufeff"):
        raise TikTokInputError(_joined_problem(line_number))
    return line


def _nul_problem(line_number: int) -> str:
    """Why a line holding NUL bytes cannot be read (no text file holds them)."""
    return (
        f"line {line_number} contains NUL bytes: the file is binary, or UTF-16 text without a byte-order mark: "
        "save it as UTF-8 text"
    )


def _joined_problem(line_number: int) -> str:
    """Why a byte-order mark below the first line cannot be read (it marks the start of another file)."""
    return (
        f"line {line_number} starts with a byte-order mark, which belongs only at the start of a file: the file "
        "looks like several files joined together; join them again without their byte-order marks (and, for "
        "CSV, without their repeated header rows)"
    )


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
    unclosed quote fails at its row instead of swallowing the rows after it. Spreadsheet habits are understood:
    Excel's ``sep=,`` first line, and empty unnamed columns at the end (a sheet's used range)."""
    with _open_binary(location) as binary:
        reader = csv.reader(_decoded_lines(binary), strict=True)
        number = 0
        try:
            header = _header(reader)
            if header is None:
                return
            width = len(header)
            while header and header[-1] == "":
                header.pop()
            _check_header(header)
            named = len(header)
            for number, cells in enumerate(reader, start=1):
                if not cells:
                    continue
                if len(cells) != width:
                    raise TikTokInputError(f"has {len(cells)} fields, the header has {width}", row=number)
                if named != width:
                    cells = _named_cells(cells, named, number)
                # CSV cannot say null: an empty cell is an absent value.
                yield number, {key: (value if value != "" else None) for key, value in zip(header, cells, strict=True)}
        except csv.Error as exc:
            raise TikTokInputError(f"is not valid CSV: {_csv_problem(exc)}", row=number + 1) from None


def _header(reader: Iterator[list[str]]) -> list[str] | None:
    """The first non-blank row, its names trimmed (None for a file without one). The lines tools put before a
    header are skipped: Windows PowerShell's ``#TYPE <class>`` line (``Export-Csv`` without
    ``-NoTypeInformation``), then Excel's ``sep=,`` line; ``sep=`` naming another separator is refused."""
    header = next((cells for cells in reader if cells), None)
    if header is not None and header[0].startswith(_POWERSHELL_TYPE_LINE):  # a generic type may hold commas
        header = next((cells for cells in reader if cells), None)
    hint = _SEPARATOR_HINT.fullmatch(header[0].strip(" ")) if header and len(header) <= 2 else None
    if header is not None and hint is not None:
        separator = "," if len(header) == 2 and not hint.group(1) and not header[1] else hint.group(1)
        if separator != ",":
            name = _OTHER_DELIMITERS.get(separator, repr(separator))
            raise TikTokInputError(
                f"the file starts with Excel's separator line 'sep=': it is {name}-separated, but CSV input must be "
                "comma-separated (export it with commas, or as JSON Lines)",
                row=0,
            )
        header = next((cells for cells in reader if cells), None)
    if header is None:
        return None
    return [column.replace("\ufeff", "").strip() for column in header]


def _named_cells(cells: list[str], named: int, row: int) -> list[str]:
    """The cells under named columns; the unnamed columns at the end must be empty."""
    for offset, value in enumerate(cells[named:]):
        if value.strip():
            raise TikTokInputError(
                f"has a value in column {named + offset + 1}, which has no name in the header row: name the column "
                "in the header, or remove it",
                row=row,
            )
    return cells[:named]


def _csv_problem(exc: csv.Error) -> str:
    """csv's message in the user's terms (its messages describe the syntax, never a cell's text)."""
    text = str(exc)
    if text.startswith("new-line character seen in unquoted field"):
        return f"a line ends in {_BARE_CR}"
    return text.replace("field larger than field limit", "has a field longer than csv's limit")


def _check_header(header: list[str]) -> None:
    """Refuse a header with empty or repeated names, or one column that is really a ;/tab/| separated header;
    the error says which column (a name is quoted only when it looks like one: the row may hold values)."""
    if not header:
        raise TikTokInputError("the CSV header row has no column names (only commas)", row=0)
    if len(header) == 1:
        for delimiter, name in _OTHER_DELIMITERS.items():
            if delimiter in header[0]:
                raise TikTokInputError(
                    f"the CSV header is one column holding {name}s: the file looks {name}-separated, but CSV input "
                    "must be comma-separated (export it with commas, or as JSON Lines)",
                    row=0,
                )
    if "" in header:
        raise TikTokInputError(
            f"the CSV header has empty or repeated column names: column {header.index('') + 1} has no name", row=0
        )
    if len(set(header)) != len(header):
        seen: dict[str, int] = {}
        for position, name in enumerate(header, start=1):
            if name in seen:
                what = f"{name!r} names" if is_column_name(name) else "the same name is given to"
                raise TikTokInputError(
                    f"the CSV header has empty or repeated column names: {what} columns {seen[name]} and {position} "
                    "(rename one, or drop it before the upload)",
                    row=0,
                )
            seen[name] = position


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
                elif not nested and "\r" in line.rstrip():
                    reason += f": its lines end in {_BARE_CR}"
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
        rows = cursor.fetchmany(chunk_size)
        # A server-side cursor describes its columns only once it has fetched (psycopg2, used on Airflow 3.0).
        columns = [column[0] for column in cursor.description or []]
        number = 0
        while rows:
            for row in rows:
                number += 1
                yield number, dict(zip(columns, row, strict=True))
            rows = cursor.fetchmany(chunk_size)
        cursor.close()
    finally:
        conn.close()


def _streaming_cursor(conn: Any) -> Any:
    """A server-side cursor where the driver has one (psycopg), so big results are not loaded at once."""
    if type(conn).__module__.startswith("psycopg"):  # psycopg2 and psycopg 3
        return conn.cursor(name="tiktok_provider_reader")
    return conn.cursor()
