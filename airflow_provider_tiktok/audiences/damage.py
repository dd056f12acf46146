"""Checks of an audience's stored state, the ledger and the accepted snapshot, and the error a damaged file raises.

A ledger or snapshot that cannot be trusted stops the sync before any audience call: a damaged ledger could
forget calls TikTok counted (and so exceed its 24 a day), a damaged snapshot would make the diff send wrong
additions and removals. :class:`DamagedState` names the file, what is wrong with it and the safe way out:
the repair command of :mod:`airflow_provider_tiktok.audiences.repair`. No Airflow import.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Collection, Iterator
from datetime import date, datetime
from typing import Any

from airflow_provider_tiktok.audiences import snapshots
from airflow_provider_tiktok.exceptions import TikTokConfigError

REPAIR_MODULE = "airflow_provider_tiktok.audiences.repair"
#: A snapshot line: one SHA-256 in lower-case hex and a line end (what the sync writes, sorted and unique).
_ID_LINE = re.compile(r"[0-9a-f]{64}\n")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_OPTIONAL_TEXT = ("audience_name", "calculate_type", "request_id", "run")


class Damage(ValueError):
    """What is wrong with a state file, in words (raised by the checks, turned into :class:`DamagedState`)."""


class DamagedState(TikTokConfigError):
    """An audience's ledger or snapshot file is damaged: nothing was sent; the message says what is safe to do.

    ``path`` is the damaged file, ``problem`` what is wrong with it, ``command`` the repair command line.
    """

    def __init__(self, path: str, problem: str, command: str, *, snapshot: bool) -> None:
        self.path = path
        self.problem = problem
        self.command = command
        remedy = SNAPSHOT_REMEDY if snapshot else LEDGER_REMEDY
        super().__init__(f"{path}: {problem}. No audience call was made. {remedy.format(command=command)}")


LEDGER_REMEDY = (
    "The audience ledger cannot be trusted, and a sync without it could exceed TikTok's 24 calls a day. Safe to "
    "do: run `{command}`. It moves the file aside as ledger.json.damaged-<UTC time> and writes a fresh ledger "
    "that keeps today's calls when they can be read whole, else counts today as fully used (24 of 24), and "
    "forgets the snapshot: the next sync sends one REPLACE of the whole cohort (one audience call). Do not "
    "delete or hand-edit the file: that would forget the calls TikTok counted today."
)
SNAPSHOT_REMEDY = (
    "The sync diffs the cohort against this snapshot of what TikTok holds, so a damaged copy would send wrong "
    "changes. Safe to do: run `{command}`. It moves the file aside as <name>.damaged-<UTC time> next to "
    "ledger.json and marks the membership unknown, keeping every counted call: the next sync sends one REPLACE "
    "of the whole cohort (one audience call) and writes a fresh snapshot."
)


def repair_command(root: str, advertiser_id: str, key: str) -> str:
    """The shell command that repairs one audience's state (see :mod:`airflow_provider_tiktok.audiences.repair`)."""
    return (
        f"python -m {REPAIR_MODULE} --state-uri {shlex.quote(root)} --advertiser-id {advertiser_id} "
        f"--audience-key {key}"
    )


def decode_ledger(raw: bytes, *, version: int, statuses: Collection[str]) -> dict[str, Any]:
    """The ledger's data from its bytes, checked whole; raises :class:`Damage` naming the first problem."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Damage(f"byte {err.start} is not UTF-8 text: the file was overwritten or corrupted") from None
    if not text.strip():
        raise Damage("the file is empty: it was cut short")
    try:
        data = json.loads(text)
    except ValueError as err:
        where = f" ({err.msg}, line {err.lineno} column {err.colno})" if isinstance(err, json.JSONDecodeError) else ""
        raise Damage(f"the file is not valid JSON{where}: it was cut short or corrupted") from None
    return check_ledger(data, version=version, statuses=statuses)


def check_ledger(data: object, *, version: int, statuses: Collection[str]) -> dict[str, Any]:
    """``data`` if it has the ledger's shape (version, calls per UTC day, optional fields); else :class:`Damage`."""
    if not isinstance(data, dict):
        raise Damage(f"the file holds a JSON {_kind(data)}, not an object")
    if "version" not in data:
        raise Damage("the ledger has no 'version'")
    if data["version"] != version:
        raise Damage(
            f"unknown ledger version {data['version']!r} (this provider reads version {version}; if a newer "
            "provider version wrote it, upgrade this one instead of repairing)"
        )
    if "calls" not in data:
        raise Damage("the ledger has no 'calls'")
    calls = data["calls"]
    if not isinstance(calls, dict):
        raise Damage(f"'calls' is a JSON {_kind(calls)}, not an object of UTC days")
    for day, entries in calls.items():
        if not is_day(day):
            raise Damage(f"'calls' has the key {day!r}, which is no UTC day (YYYY-MM-DD)")
        if not isinstance(entries, list):
            raise Damage(f"the calls of {day} are a JSON {_kind(entries)}, not a list")
        for number, entry in enumerate(entries, start=1):
            problem = entry_problem(entry, statuses)
            if problem:
                raise Damage(f"call {number} of {day} {problem}")
    problem = _fields_problem(data)
    if problem:
        raise Damage(problem)
    return data


def entry_problem(entry: object, statuses: Collection[str]) -> str | None:
    """What is wrong with one recorded call, or None (``id``, ``action``, ``at`` and ``status`` are required)."""
    if not isinstance(entry, dict):
        return f"is a JSON {_kind(entry)}, not an object"
    for key in ("id", "action", "at", "status"):
        if key not in entry:
            return f"has no {key!r}"
        if not isinstance(entry[key], str):
            return f"has a JSON {_kind(entry[key])} as {key!r}, not text"
    if entry["status"] not in statuses:
        return f"has the unknown status {entry['status']!r}"
    if not is_instant(entry["at"]):
        return "has an 'at' that is no ISO time with a UTC offset"
    checks: dict[str, Callable[[Any], bool]] = {
        "seq": _is_count,
        "also": lambda v: isinstance(v, list) and all(is_day(d) for d in v),
        "answered": lambda v: isinstance(v, bool),
        "code": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
        **dict.fromkeys(_OPTIONAL_TEXT, lambda v: v is None or isinstance(v, str)),
    }
    for key, valid in checks.items():
        if key in entry and not valid(entry[key]):
            return f"has an invalid {key!r} ({_kind(entry[key])})"
    return None


def _fields_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with the ledger's optional fields, or None."""
    checks: dict[str, Callable[[Any], bool]] = {
        "seq": _is_count,
        "snapshot_seq": _is_count,
        "audience_id": lambda v: v is None or (isinstance(v, str) and v.isascii() and v.isdigit()),
        "last_replace_at": lambda v: v is None or is_instant(v),
        "size_refused_on": lambda v: v is None or is_day(v),
        **dict.fromkeys(_OPTIONAL_TEXT[:2], lambda v: v is None or isinstance(v, str)),
    }
    for key, valid in checks.items():
        if key in data and not valid(data[key]):
            return f"the ledger's {key!r} is invalid ({_kind(data[key])})"
    return _snapshot_problem(data.get("snapshot"))


def _snapshot_problem(value: object) -> str | None:
    """What is wrong with the ledger's snapshot pointer, or None."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"file", "count", "accepted_at"}:
        return "the ledger's 'snapshot' is not an object of file, count and accepted_at"
    name = value["file"]
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        return "the ledger's 'snapshot' has a malformed snapshot name"
    if not _is_count(value["count"]) or not is_instant(value["accepted_at"]):
        return "the ledger's 'snapshot' has an invalid count or accepted_at"
    return None


def checked_lines(path: Any, count: int) -> Iterator[str]:
    """The id lines of a snapshot, checked as they stream: 64 lower-case hex each, with a line end, strictly
    increasing (sorted, unique), ``count`` of them; raises :class:`Damage` at the first problem."""
    previous = ""
    number = 0
    try:
        for number, line in enumerate(snapshots.iter_lines(path), start=1):
            if not _ID_LINE.fullmatch(line):
                if not line.endswith("\n"):
                    raise Damage(f"line {number}, the last, has no line end: the file was cut short")
                raise Damage(f"line {number} is not a 64-character lower-case hex id (SHA-256)")
            if line <= previous:
                order = "repeats" if line == previous else "sorts before"
                raise Damage(f"line {number} {order} line {number - 1}: the file is not sorted and de-duplicated")
            previous = line
            yield line
    except FileNotFoundError:
        raise Damage("the snapshot file the ledger points at is missing") from None
    except UnicodeDecodeError:
        raise Damage("the file holds bytes that are not ASCII text: it was overwritten or corrupted") from None
    if number != count:
        raise Damage(f"the file holds {number} ids but the ledger says {count}: it was cut short or replaced")


def is_day(value: object) -> bool:
    """Whether ``value`` is a ``YYYY-MM-DD`` calendar day."""
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_instant(value: object) -> bool:
    """Whether ``value`` is an ISO date-time with a UTC offset."""
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _kind(value: object) -> str:
    """The JSON name of a value's type, for messages (never the value itself)."""
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
