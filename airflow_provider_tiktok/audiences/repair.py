"""Repair an audience's damaged state, the safe way out that :class:`~.damage.DamagedState` names::

    python -m airflow_provider_tiktok.audiences.repair --state-uri URI --advertiser-id ID \\
        (--audience-key KEY | --audience-id ID | --audience-name NAME) [--check] [--forget-snapshot]

Under the audience's lock. A damaged ``ledger.json`` is copied aside as ``ledger.json.damaged-<UTC time>`` and
replaced by a fresh ledger that keeps every call it can read back whole and counts each day a call sent now
would count against as fully used (24 of 24) when that day's calls cannot be read whole: a truncated file
loses its newest calls first, so a partial count could let TikTok's limit be exceeded. A damaged snapshot is
moved aside as ``<name>.damaged-<UTC time>`` next to ``ledger.json``; every counted call is kept. Either way
the ledger forgets the snapshot, so the next sync sends one REPLACE of the whole cohort (one audience call)
and writes a fresh snapshot. ``--forget-snapshot`` does that for a sound snapshot too (to resync from scratch);
``--check`` only reports. The files moved aside hold hashed ids: delete them once looked at.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_tiktok.audiences.damage import (
    Damage,
    checked_lines,
    decode_ledger,
    entry_problem,
    is_day,
    is_instant,
)
from airflow_provider_tiktok.audiences.ledger import (
    LEDGER_FILE,
    LEDGER_VERSION,
    STATUSES,
    UNKNOWN,
    AudienceLedger,
    Snapshot,
    audience_key,
    counted_on,
)
from airflow_provider_tiktok.audiences.plan import REPLACE, TIKTOK_DAILY_CALL_LIMIT, utc_day
from airflow_provider_tiktok.utils import clock
from airflow_provider_tiktok.utils.storage import is_local_path

_CALLS_KEY = re.compile(r'"calls"\s*:\s*')
Calls = dict[str, list[dict[str, Any]]]


@dataclass
class RepairReport:
    """What the repair found and did (``problem`` None: the state is sound)."""

    folder: str
    exists: bool = True
    problem: str | None = None
    repaired: bool = False
    moved: list[str] = field(default_factory=list)
    #: Calls now counted on each day a call sent now counts against.
    counted: dict[str, int] = field(default_factory=dict)
    #: Days counted as fully used because their calls could not be read whole.
    filled: list[str] = field(default_factory=list)
    snapshot_forgotten: bool = False

    def lines(self) -> list[str]:
        """The report as plain lines for the terminal."""
        if not self.exists:
            return [f"audience state: {self.folder}", "no ledger yet: nothing to repair"]
        out = [f"audience state: {self.folder}", f"problem: {self.problem or 'none found'}"]
        out += [f"moved aside: {name}" for name in self.moved]
        if self.filled:
            out.append(f"counted as fully used ({TIKTOK_DAILY_CALL_LIMIT} calls): {', '.join(self.filled)}")
        out += [f"calls counted on {day}: {n}" for day, n in sorted(self.counted.items())]
        if self.snapshot_forgotten:
            out.append("snapshot forgotten: the next sync sends one REPLACE of the whole cohort (one audience call)")
        if self.problem and not self.repaired:
            out.append("nothing changed (--check)")
        return out


def repair_audience(
    book: AudienceLedger, now: datetime, *, forget_snapshot: bool = False, check: bool = False
) -> RepairReport:
    """Check the audience's ledger and snapshot under its lock and repair what is damaged (unless ``check``)."""
    report = RepairReport(str(book.folder))
    path = book.folder / LEDGER_FILE
    if not path.exists():  # checked before the lock, which would create the folder
        report.exists = False
        return report
    with book.exclusive():
        raw = path.read_bytes()
        try:
            data = decode_ledger(raw, version=LEDGER_VERSION, statuses=STATUSES)
        except Damage as damage:
            report.problem = f"{path}: {damage}"
            if not check:
                _rebuild_ledger(book, raw, now, report)
            return report
        snapshot_damage = _snapshot_damage(book, data)
        if snapshot_damage is not None:
            report.problem = snapshot_damage
        if check or (snapshot_damage is None and not forget_snapshot):
            return report
        _forget_snapshot(book, data, now, report, moved_aside=snapshot_damage is not None)
    return report


def _snapshot_damage(book: AudienceLedger, data: dict[str, Any]) -> str | None:
    """What is wrong with the accepted snapshot (read through once), or None."""
    if not data.get("snapshot"):
        return None
    snapshot = Snapshot(**data["snapshot"])
    path = book.snapshot_path(snapshot)
    try:
        for _ in checked_lines(path, snapshot.count):
            pass
    except Damage as damage:
        return f"{path}: {damage}"
    return None


def _forget_snapshot(
    book: AudienceLedger, data: dict[str, Any], now: datetime, report: RepairReport, *, moved_aside: bool
) -> None:
    """Move a damaged snapshot aside (first: a crash then leaves a ledger naming a missing file, which the next
    sync reports again) and write the ledger without it, every call kept."""
    snapshot = Snapshot(**data["snapshot"]) if data.get("snapshot") else None
    if snapshot is not None and moved_aside:
        source = book.snapshot_path(snapshot)
        if source.exists():
            target = _aside(book.folder, snapshot.file, now)
            _move(source, target)
            report.moved.append(str(target))
    data["snapshot"] = None
    data["repaired"] = {"at": now.isoformat(), "problem": report.problem, "moved": report.moved}
    book.write_data(data)
    report.repaired = report.snapshot_forgotten = True
    report.counted = {day: len(counted_on(data["calls"], day)) for day in book.days_counted(now)}


def _rebuild_ledger(book: AudienceLedger, raw: bytes, now: datetime, report: RepairReport) -> None:
    """Copy the damaged ledger aside, then write a fresh one in its place (atomically: never no ledger at all)."""
    calls, unknown = salvage_calls(raw)
    seq = max((int(entry.get("seq", 0)) for entries in calls.values() for entry in entries), default=0)
    fresh: dict[str, Any] = {"version": LEDGER_VERSION, "calls": calls, "seq": seq, "snapshot": None}
    if book.key.startswith("id-"):
        fresh["audience_id"] = book.key.removeprefix("id-")
    replaced = [entry["at"] for entries in calls.values() for entry in entries if entry.get("action") == REPLACE]
    replaced += _readable_field(raw, "last_replace_at", is_instant)
    if replaced:  # TikTok refuses a REPLACE while an earlier one is processing
        fresh["last_replace_at"] = max(replaced, key=datetime.fromisoformat)
    days = book.days_counted(now)
    unsure = set(days) if unknown is None else {d for day in unknown for d in _around(day)} & set(days)
    for day in sorted(unsure):
        missing = TIKTOK_DAILY_CALL_LIMIT - len(counted_on(calls, day))
        for _ in range(max(0, missing)):
            fresh["seq"] += 1
            calls.setdefault(day, []).append(_placeholder(fresh["seq"], now))
        report.filled.append(day)
    target = _aside(book.folder, LEDGER_FILE, now)
    _write_bytes(target, raw)
    report.moved.append(str(target))
    fresh["repaired"] = {"at": now.isoformat(), "problem": report.problem, "moved": report.moved}
    book.write_data(fresh)
    report.repaired = report.snapshot_forgotten = True
    report.counted = {day: len(counted_on(calls, day)) for day in days}


def salvage_calls(raw: bytes) -> tuple[Calls, set[str] | None]:
    """The calls a damaged ledger still holds whole, and the days whose list could not be read (None: no day's).

    The ``calls`` object is decoded on its own, so a file cut short after it still yields every call. A call
    that is not well formed is kept as a call of unknown outcome that counts on its day and the days beside it.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {}, None
    decoder = json.JSONDecoder()
    for match in _CALLS_KEY.finditer(text):
        try:
            calls, _ = decoder.raw_decode(text, match.end())
        except ValueError:
            continue
        if isinstance(calls, dict) and all(is_day(day) for day in calls):
            return _readable(calls)
    return {}, None


def _readable_field(raw: bytes, key: str, valid: Callable[[object], bool]) -> list[Any]:
    """``[value]`` of a top-level field when the damaged ledger still parses and the value is valid, else ``[]``."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return []
    value = data.get(key) if isinstance(data, dict) else None
    return [value] if valid(value) else []


def _readable(calls: dict[str, Any]) -> tuple[Calls, set[str]]:
    """Each day's list with its malformed calls replaced by placeholders, and the days that hold no list."""
    kept: Calls = {}
    unknown: set[str] = set()
    for day, entries in calls.items():
        if not isinstance(entries, list):
            unknown.add(day)
            continue
        kept[day] = []
        for entry in entries:
            if entry_problem(entry, STATUSES) is None:
                kept[day].append(entry)
            else:
                moment = datetime.fromisoformat(day + "T12:00:00+00:00")
                kept[day].append({**_placeholder(0, moment), "also": _around(day, itself=False)})
    return kept, unknown


def _placeholder(seq: int, now: datetime) -> dict[str, Any]:
    """A call the repair could not read back: it counts, its outcome is unknown."""
    return {
        "id": f"repair-{uuid.uuid4().hex}",
        "seq": seq,
        "action": "UNKNOWN",
        "at": now.isoformat(),
        "run": "repair",
        "status": UNKNOWN,
    }


def _around(day: str, *, itself: bool = True) -> list[str]:
    """``day`` and the UTC days either side of it (a call near midnight counts on two days)."""
    moment = datetime.fromisoformat(day + "T12:00:00+00:00")
    return [utc_day(moment + timedelta(days=n)) for n in (-1, 0, 1) if itself or n]


def _aside(folder: Any, name: str, now: datetime) -> Any:
    """``<folder>/<name>.damaged-<UTC time>``, numbered when a repair in the same second left one already."""
    base = f"{name}.damaged-{now.strftime('%Y%m%dT%H%M%SZ')}"
    target, number = folder / base, 1
    while target.exists():
        number += 1
        target = folder / f"{base}-{number}"
    return target


def _write_bytes(path: Any, raw: bytes) -> None:
    """Write a new owner-only file (never over an existing one) and flush it to disk."""
    if is_local_path(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
    else:
        path.write_bytes(raw)


def _move(source: Any, target: Any) -> None:
    """Rename on a local file system; copy then delete on an object store."""
    if is_local_path(source):
        os.replace(source, target)
        return
    with source.open("rb") as reader, target.open("wb") as writer:
        shutil.copyfileobj(reader, writer)
    source.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: repair (or ``--check``) one audience's state; exit 1 when ``--check`` finds damage."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_tiktok.audiences.repair",
        description="Repair a TikTok audience's damaged ledger or snapshot; the next sync then sends one REPLACE.",
    )
    parser.add_argument("--state-uri", help="the sync's state_uri (default $AIRFLOW_HOME/tiktok/state)")
    parser.add_argument("--advertiser-id", required=True)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--audience-key", help="the folder name the error message gives (id-... or name-...)")
    which.add_argument("--audience-id", help="the audience_id the sync is given")
    which.add_argument("--audience-name", help="the audience_name the sync is given (when it has no audience_id)")
    parser.add_argument("--check", action="store_true", help="only report what is damaged; change nothing")
    parser.add_argument(
        "--forget-snapshot", action="store_true", help="forget a sound snapshot too: the next sync sets the audience"
    )
    args = parser.parse_args(argv)
    key = args.audience_key or audience_key(args.audience_id, args.audience_name)
    if not re.fullmatch(r"(id|name)-[0-9a-z]+", key):
        parser.error("--audience-key must look like id-<digits> or name-<hex>")
    book = AudienceLedger(args.state_uri, args.advertiser_id, key)
    report = repair_audience(book, clock.utcnow(), forget_snapshot=args.forget_snapshot, check=args.check)
    print("\n".join(report.lines()))
    return 1 if args.check and report.problem else 0


if __name__ == "__main__":
    sys.exit(main())
