"""Durable per-audience state: the UTC-day ledger of audience calls and the last snapshot TikTok accepted.

One folder per advertiser and audience under a state root (a local folder or any ObjectStoragePath)::

    <root>/audiences/<advertiser_id>/<audience key>/
        ledger.json      calls per UTC day, audience id, pointer to the accepted snapshot
        snapshots/       sorted hashed-id files; the ledger names the accepted one
        claims/<day>/    one exclusively created file per call: the daily limit across workers (``claims``)
        .lock            flock target (local and mounted roots)

Every audience call is *reserved* in ``ledger.json`` (written and fsynced) before it is sent, so a crash
between the reservation and the call wastes one call of the day but can never let the count exceed the
limit. Task retries, reruns, backfills and concurrent runs share the ledger because it is keyed by the
audience, not by the run.

Near 00:00 UTC a call counts on both days (:meth:`AudienceLedger.days_counted`): it may reach TikTok after
midnight and the clocks may differ. A damaged ledger or snapshot stops the sync before any call (``damage``).

Concurrency across workers and hosts: the Airflow pool ``tiktok_audience`` (one slot per audience) serialises
syncs; on a local or mounted root :meth:`AudienceLedger.locked` also holds an exclusive ``fcntl.flock`` on
``.lock`` for the whole sync (released by the kernel if the process dies; across hosts as good as the network
file system's lock manager, e.g. NFSv4). Object stores offer no lock. If two syncs race anyway, the budget
still holds: each call first claims a slot of its day by exclusive create (``claims``), and the counts
checked are the larger of the ledger's and the claims'; the ledger itself keeps the last writer's record.
No Airflow import.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow_provider_tiktok.audiences import claims
from airflow_provider_tiktok.audiences.damage import Damage, DamagedState, checked_lines, decode_ledger, repair_command
from airflow_provider_tiktok.audiences.locking import flock
from airflow_provider_tiktok.audiences.plan import TIKTOK_DAILY_CALL_LIMIT, utc_day, utc_day_end, utc_days_between
from airflow_provider_tiktok.audiences.plan import DailyCallLimitReached as DailyCallLimitReached  # re-exported
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.utils.storage import as_path, atomic_write_text, default_root, ensure_dir, is_local_path

log = logging.getLogger(__name__)

LEDGER_FILE = "ledger.json"
LOCK_FILE = ".lock"
SNAPSHOT_DIR = "snapshots"
LEDGER_VERSION = 1
#: UTC days of call history kept in the ledger (older days can no longer matter).
KEEP_DAYS = 7
DEFAULT_LOCK_TIMEOUT = 3600.0

#: How far the worker's clock may be from TikTok's, either way: a call this close to 00:00 UTC counts on both days.
DEFAULT_CLOCK_SKEW = timedelta(seconds=30)
#: How long after its reservation a call may still reach TikTok: the hook's default timeout (60 s) plus the
#: minute in which TikTok may still carry out a call that got no answer (the sync's landing margin).
DEFAULT_IN_FLIGHT = timedelta(seconds=120)
#: The longest clock-skew allowance or time in flight accepted (a sanity bound).
MAX_GUARD = timedelta(hours=6)

RESERVED = "reserved"
ACCEPTED = "accepted"
FAILED = "failed"
#: A call the repair could not read back: counted, its outcome unknown (written by the repair only).
UNKNOWN = "unknown"
STATUSES = frozenset({RESERVED, ACCEPTED, FAILED, UNKNOWN})


@dataclass(frozen=True)
class Snapshot:
    """The membership TikTok last accepted: a sorted file of hashed ids in the ledger folder."""

    file: str
    count: int
    accepted_at: str


def default_state_root() -> Path:
    """``$AIRFLOW_HOME/tiktok/state``."""
    return default_root("state")


def audience_key(audience_id: str | None, audience_name: str | None) -> str:
    """The ledger folder name: ``id-<audience id>``, else ``name-<hash of the name>`` (safe in any path)."""
    if audience_id:
        text = str(audience_id).strip()
        if not (text.isascii() and text.isdigit()):
            raise TikTokConfigError("audience_id must contain digits only")
        return f"id-{text}"
    if audience_name:
        return "name-" + hashlib.sha256(audience_name.encode("utf-8")).hexdigest()[:32]
    raise TikTokConfigError("pass audience_id, or audience_name to find or create the audience")


def counted_on(calls: dict[str, list[dict[str, Any]]], day: str) -> list[dict[str, Any]]:
    """The calls counted on ``day``, oldest first: listed under it, or near its edge under the day beside (``also``)."""
    return sorted(
        (
            entry
            for listed, entries in calls.items()
            for entry in entries
            if listed == day or day in entry.get("also", ())
        ),
        key=lambda entry: int(entry.get("seq", 0)),
    )


class AudienceLedger:
    """Calls and snapshot of one audience, read and written only while :meth:`locked` is held.

    :param root: the state root (local path or URI); ``None`` for ``$AIRFLOW_HOME/tiktok/state``.
    :param advertiser_id: the audience's advertiser.
    :param key: the audience key from :func:`audience_key`.
    :param daily_call_limit: audience calls allowed per UTC day (at most TikTok's 24).
    :param lock_timeout: seconds to wait for another sync of the audience to release its lock.
    :param sleep: how the wait for the lock pauses between polls.
    :param clock_skew: how far the worker's clock may be from TikTok's, either way.
    :param in_flight: how long after its reservation a call may still reach TikTok (timeout plus landing margin).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None,
        advertiser_id: str,
        key: str,
        *,
        daily_call_limit: int = TIKTOK_DAILY_CALL_LIMIT,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
        in_flight: timedelta = DEFAULT_IN_FLIGHT,
    ) -> None:
        if not 1 <= daily_call_limit <= TIKTOK_DAILY_CALL_LIMIT:
            raise TikTokConfigError(f"daily_call_limit must be between 1 and {TIKTOK_DAILY_CALL_LIMIT}")
        if not (str(advertiser_id).isascii() and str(advertiser_id).isdigit()):
            raise TikTokConfigError("advertiser_id must contain digits only")
        for name, value in (("clock_skew", clock_skew), ("in_flight", in_flight)):
            if not timedelta(0) <= value <= MAX_GUARD:
                raise TikTokConfigError(f"{name} must be between 0 and {MAX_GUARD.total_seconds():.0f} seconds")
        base = as_path(root) if root is not None else default_state_root()
        self.root = str(base)
        self.advertiser_id = str(advertiser_id)
        self.folder = base / "audiences" / str(advertiser_id) / key
        self.key = key
        self.daily_call_limit = daily_call_limit
        self.lock_timeout = lock_timeout
        self.sleep = sleep
        self.clock_skew = clock_skew
        self.in_flight = in_flight
        self._held = False
        self._data: dict[str, Any] = {}

    @property
    def is_local(self) -> bool:
        """Whether the state lives on a local file system (where a lock is available)."""
        return is_local_path(self.folder)

    # ------------------------------------------------------------------ lock
    @contextlib.contextmanager
    def locked(self) -> Iterator[AudienceLedger]:
        """Hold the audience's lock (local roots) and load the ledger; everything else needs it held.

        A damaged ledger raises :class:`~airflow_provider_tiktok.audiences.damage.DamagedState`.
        """
        with self.exclusive():
            self._data = self._read()
            self._held = True
            try:
                yield self
            finally:
                self._held = False

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the audience's lock (local roots) without reading the ledger (the repair reads the raw file)."""
        ensure_dir(self.folder)
        with contextlib.ExitStack() as stack:
            if self.is_local:
                stack.enter_context(
                    flock(self.folder / LOCK_FILE, self.lock_timeout, self.sleep, f"audience {self.key}")
                )
            else:
                log.info("State on an object store: no lock; the Airflow pool tiktok_audience serialises syncs")
            yield

    def _require_lock(self) -> None:
        if not self._held:
            raise RuntimeError("the audience ledger is used outside AudienceLedger.locked()")

    # ------------------------------------------------------------- storage
    def _read(self) -> dict[str, Any]:
        """The ledger's data, checked whole (a new audience starts empty); raises DamagedState."""
        path = self.folder / LEDGER_FILE
        if not path.exists():
            return {"version": LEDGER_VERSION, "calls": {}}
        try:
            return decode_ledger(path.read_bytes(), version=LEDGER_VERSION, statuses=STATUSES)
        except Damage as damage:
            raise self.damaged(path, str(damage), snapshot=False) from None

    def damaged(self, path: Any, problem: str, *, snapshot: bool) -> DamagedState:
        """The error for a damaged state file of this audience, naming its repair command."""
        command = repair_command(self.root, self.advertiser_id, self.key)
        return DamagedState(str(path), problem, command, snapshot=snapshot)

    def _write(self) -> None:
        """Persist the ledger: temp file, fsync, rename, fsync of the folder (local); one PUT (object store)."""
        self.write_data(self._data)

    def write_data(self, data: dict[str, Any]) -> None:
        """Write ``data`` as the ledger (the lock must be held); ``_write`` and the repair use it."""
        atomic_write_text(self.folder / LEDGER_FILE, json.dumps(data, indent=1, sort_keys=True) + "\n")
        if self.is_local:
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # --------------------------------------------------------------- calls
    def days_counted(self, now: datetime) -> list[str]:
        """The UTC days a call reserved at ``now`` counts against: every day TikTok's clock may show when the call
        reaches it, from ``now - clock_skew`` to ``now + in_flight + clock_skew``. One day, except within that
        reach of 00:00 UTC, where the call counts on both days so TikTok can never count more than the ledger."""
        return utc_days_between(now - self.clock_skew, now + self.in_flight + self.clock_skew)

    def _counted(self, day: str) -> list[dict[str, Any]]:
        self._require_lock()
        return counted_on(self._data["calls"], day)

    def _used(self, day: str) -> int:
        """Calls counted on ``day``: the ledger's, or the claims' when a racing or crashed sync claimed more."""
        return max(len(self._counted(day)), claims.claimed(self.folder, day))

    def calls_on(self, now: datetime) -> list[dict[str, Any]]:
        """The calls counted on ``now``'s UTC day (reserved, accepted, failed or unknown: each one counts)."""
        return self._counted(utc_day(now))

    def calls_used(self, now: datetime) -> int:
        """Audience calls counted on ``now``'s UTC day."""
        return len(self.calls_on(now))

    def calls_left(self, now: datetime) -> int:
        """Audience calls that may still be reserved at ``now`` (on every day such a call counts against)."""
        used = max(self._used(day) for day in self.days_counted(now))
        return max(0, self.daily_call_limit - used)

    def check_budget(self, needed: int, now: datetime) -> None:
        """Raise :class:`DailyCallLimitReached` unless ``needed`` calls fit on every day they would count against."""
        for day in self.days_counted(now):
            used = self._used(day)
            if used + needed > self.daily_call_limit:
                raise self._limit_reached(day, used, needed, now)

    def _limit_reached(self, day: str, used: int, needed: int, now: datetime) -> DailyCallLimitReached:
        """The error for ``needed`` more calls on a ``day`` that has ``used`` of its limit."""
        end = utc_day_end(day)
        resets_at = end if end > now else end + self.clock_skew
        other = None if day == utc_day(now) else day
        label = self._data.get("audience_id") or self.key
        return DailyCallLimitReached(label, used, self.daily_call_limit, needed, resets_at, day=other)

    def reserve(self, action: str, now: datetime, *, run: str | None = None) -> str:
        """Record a call about to be sent (durably, before sending it) and return its reservation id.

        The call is listed under ``now``'s UTC day; near 00:00 UTC ``also`` names the other day it counts against.
        """
        self.check_budget(1, now)
        reservation = uuid.uuid4().hex
        day = utc_day(now)
        self._claim(reservation, now)
        calls = self._data["calls"]
        self._data["seq"] = seq = int(self._data.get("seq", 0)) + 1
        entry = {"id": reservation, "seq": seq, "action": action, "at": now.isoformat(), "run": run, "status": RESERVED}
        also = [other for other in self.days_counted(now) if other != day]
        if also:
            entry["also"] = also
        calls.setdefault(day, []).append(entry)
        for old in sorted(calls)[:-KEEP_DAYS]:
            del calls[old]
        self._write()
        claims.prune(self.folder, sorted(calls)[-KEEP_DAYS:])
        return reservation

    def _claim(self, reservation: str, now: datetime) -> None:
        """Claim a slot on every day the call counts against, or none: DailyCallLimitReached when a day is full."""
        at = now.isoformat()
        try:
            slots = claims.claim_days(self.folder, self.days_counted(now), self.daily_call_limit, reservation, at)
        except claims.DayFull as full:  # a racing sync took the last slot since check_budget
            raise self._limit_reached(full.day, self.daily_call_limit, 1, now) from None
        for day, slot in slots.items():
            if (outside := slot - 1 - len(self._counted(day))) > 0:
                log.warning(
                    "Audience %s: %d call(s) of %s were claimed outside this ledger (a sync on another worker at "
                    "the same time, or one that crashed); they count against the daily limit",
                    self.key,
                    outside,
                    day,
                )

    def settle(
        self,
        reservation: str,
        status: str,
        *,
        request_id: str | None = None,
        code: int | None = None,
        answered: bool = True,
    ) -> None:
        """Record how a reserved call ended (``accepted`` or ``failed``); the call stays counted either way.

        ``answered=False`` marks a failure without any answer (timeout, dropped connection): TikTok may still
        carry the call out, which :meth:`unanswered` tells a later sync.
        """
        self._require_lock()
        for entries in self._data["calls"].values():
            for entry in entries:
                if entry["id"] == reservation:
                    entry.update(status=status, request_id=request_id, code=code)
                    if not answered:
                        entry["answered"] = False
                    self._write()
                    return
        raise KeyError(f"no reservation {reservation}")

    def unanswered(self) -> list[dict[str, Any]]:
        """Calls since the accepted snapshot whose outcome is unknown, oldest first: never settled (the process
        died with the call in flight) or failed without an answer. TikTok may still carry them out, so the
        membership it holds is uncertain until a sync sets it whole."""
        self._require_lock()
        since = int(self._data.get("snapshot_seq", 0))
        return [
            entry
            for entries in self._data["calls"].values()
            for entry in entries
            if int(entry.get("seq", 0)) > since
            and (entry.get("status") == RESERVED or (entry.get("status") == FAILED and entry.get("answered") is False))
        ]

    # ------------------------------------------------------------ audience
    @property
    def audience_id(self) -> str | None:
        """The TikTok audience id recorded for this key, if any."""
        self._require_lock()
        return self._data.get("audience_id")

    def record_audience(self, audience_id: str, **details: Any) -> None:
        """Remember the audience id (found by name or created) and plain details such as its name and type."""
        self._require_lock()
        self._data["audience_id"] = str(audience_id)
        self._data.update(details)
        self._write()

    @property
    def last_replace_at(self) -> datetime | None:
        """When the last accepted REPLACE was sent."""
        self._require_lock()
        value = self._data.get("last_replace_at")
        return datetime.fromisoformat(value) if value else None

    def replace_allowed(self, now: datetime, processing: timedelta) -> bool:
        """False while the last accepted REPLACE may still be processing (TikTok rejects another meanwhile)."""
        last = self.last_replace_at
        return last is None or now - last >= processing

    def note_size_refused(self, now: datetime) -> None:
        """Remember that TikTok refused an update today for the audience's size: none is sent again today."""
        self._require_lock()
        self._data["size_refused_on"] = utc_day(now)
        self._write()

    def size_refused_today(self, now: datetime) -> bool:
        """Whether TikTok refused an update of this audience for its size on ``now``'s UTC day."""
        self._require_lock()
        return bool(self._data.get("size_refused_on") == utc_day(now))

    # ------------------------------------------------------------ snapshot
    @property
    def snapshot(self) -> Snapshot | None:
        """The accepted snapshot, if any."""
        self._require_lock()
        value = self._data.get("snapshot")
        return Snapshot(**value) if value else None

    def snapshot_path(self, snapshot: Snapshot) -> Any:
        """Where a snapshot's file lives."""
        if "/" in snapshot.file or snapshot.file.startswith("."):
            raise TikTokConfigError(f"{self.folder / LEDGER_FILE}: malformed snapshot name")
        return self.folder / SNAPSHOT_DIR / snapshot.file

    def snapshot_lines(self, snapshot: Snapshot) -> Iterator[str]:
        """The snapshot's id lines, checked as they stream: a damaged file raises DamagedState (before any call)."""
        path = self.snapshot_path(snapshot)
        try:
            yield from checked_lines(path, snapshot.count)
        except Damage as damage:
            raise self.damaged(path, str(damage), snapshot=True) from None

    def new_snapshot_name(self, now: datetime) -> str:
        """A fresh, sortable snapshot file name."""
        return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:12]}.txt"

    def accept_snapshot(self, file: str, count: int, now: datetime, *, replaced: bool = False) -> None:
        """Point the ledger at a written snapshot (TikTok accepted it) and delete every other snapshot file."""
        self._require_lock()
        self._data["snapshot"] = {"file": file, "count": count, "accepted_at": now.isoformat()}
        self._data["snapshot_seq"] = int(self._data.get("seq", 0))  # calls before it no longer matter
        if replaced:
            self._data["last_replace_at"] = now.isoformat()
        self._write()
        self.prune_snapshots()

    def prune_snapshots(self) -> None:
        """Delete snapshot files the ledger does not point at (left by failed or withheld syncs)."""
        self._require_lock()
        current = self.snapshot
        folder = self.folder / SNAPSHOT_DIR
        if not folder.exists():
            return
        for path in folder.iterdir():
            if current is None or path.name != current.file:
                path.unlink()
