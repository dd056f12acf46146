"""Durable per-audience state: the UTC-day ledger of audience calls and the last snapshot TikTok accepted.

One folder per advertiser and audience under a state root (a local folder or any ObjectStoragePath)::

    <root>/audiences/<advertiser_id>/<audience key>/
        ledger.json      calls per UTC day, audience id, pointer to the accepted snapshot
        snapshots/       sorted hashed-id files; the ledger names the accepted one
        .lock            flock target (local roots only)

Every audience call is *reserved* in ``ledger.json`` (written and fsynced) before it is sent, so a crash
between the reservation and the call wastes one call of the day but can never let the count exceed the
limit. Task retries, reruns, backfills and concurrent runs share the ledger because it is keyed by the
audience, not by the run.

Concurrency: on a local root :meth:`AudienceLedger.locked` holds an exclusive ``fcntl.flock`` on ``.lock``
for the whole sync (released by the kernel if the process dies). Object stores offer no lock: there the
Airflow pool ``tiktok_audience`` (one slot per audience) must serialise syncs; two workers syncing one
audience at once could both read the same count. ``flock`` on NFS is only as good as the NFS lock manager.
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
from typing import Any, cast

from airflow_provider_tiktok.audiences.plan import TIKTOK_DAILY_CALL_LIMIT, next_utc_midnight, utc_day
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.utils.storage import as_path, atomic_write_text, default_root, ensure_dir

log = logging.getLogger(__name__)

LEDGER_FILE = "ledger.json"
LOCK_FILE = ".lock"
SNAPSHOT_DIR = "snapshots"
LEDGER_VERSION = 1
#: UTC days of call history kept in the ledger (older days can no longer matter).
KEEP_DAYS = 7
DEFAULT_LOCK_TIMEOUT = 3600.0

RESERVED = "reserved"
ACCEPTED = "accepted"
FAILED = "failed"


class DailyCallLimitReached(RuntimeError):
    """The audience has no calls left in the current UTC day; ``resets_at`` is the next 00:00 UTC."""

    def __init__(self, audience: str, used: int, limit: int, needed: int, resets_at: datetime) -> None:
        self.audience = audience
        self.used = used
        self.limit = limit
        self.needed = needed
        self.resets_at = resets_at
        super().__init__(
            f"Audience {audience}: {used} of {limit} audience calls used today (UTC), this sync needs {needed}; "
            f"the budget resets at {resets_at.isoformat()}"
        )


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


class AudienceLedger:
    """Calls and snapshot of one audience, read and written only while :meth:`locked` is held.

    :param root: the state root (local path or URI); ``None`` for ``$AIRFLOW_HOME/tiktok/state``.
    :param advertiser_id: the audience's advertiser.
    :param key: the audience key from :func:`audience_key`.
    :param daily_call_limit: audience calls allowed per UTC day (at most TikTok's 24).
    :param lock_timeout: seconds to wait for another sync of the audience to release its lock.
    :param sleep: how the wait for the lock pauses between polls.
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
    ) -> None:
        if not 1 <= daily_call_limit <= TIKTOK_DAILY_CALL_LIMIT:
            raise TikTokConfigError(f"daily_call_limit must be between 1 and {TIKTOK_DAILY_CALL_LIMIT}")
        if not (str(advertiser_id).isascii() and str(advertiser_id).isdigit()):
            raise TikTokConfigError("advertiser_id must contain digits only")
        base = as_path(root) if root is not None else default_state_root()
        self.folder = base / "audiences" / str(advertiser_id) / key
        self.key = key
        self.daily_call_limit = daily_call_limit
        self.lock_timeout = lock_timeout
        self.sleep = sleep
        self._held = False
        self._data: dict[str, Any] = {}

    @property
    def is_local(self) -> bool:
        """Whether the state lives on a local file system (where a lock is available)."""
        return isinstance(self.folder, Path)

    # ------------------------------------------------------------------ lock
    @contextlib.contextmanager
    def locked(self) -> Iterator[AudienceLedger]:
        """Hold the audience's lock (local roots) and load the ledger; everything else needs it held."""
        ensure_dir(self.folder)
        with contextlib.ExitStack() as stack:
            if self.is_local:
                stack.enter_context(self._flock())
            else:
                log.info("State on an object store: no lock; the Airflow pool tiktok_audience serialises syncs")
            self._data = self._read()
            self._held = True
            try:
                yield self
            finally:
                self._held = False

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        """An exclusive ``flock`` on ``.lock``, polled until ``lock_timeout`` (another sync holds it)."""
        import fcntl

        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(
                            f"Another sync of audience {self.key} held its lock for over {self.lock_timeout:.0f}s"
                        ) from None
                    self.sleep(0.05)  # another sync of this audience holds the lock: poll it
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _require_lock(self) -> None:
        if not self._held:
            raise RuntimeError("the audience ledger is used outside AudienceLedger.locked()")

    # ------------------------------------------------------------- storage
    def _read(self) -> dict[str, Any]:
        path = self.folder / LEDGER_FILE
        if not path.exists():
            return {"version": LEDGER_VERSION, "calls": {}}
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != LEDGER_VERSION:
            raise TikTokConfigError(f"{path}: unknown ledger version {data.get('version')!r}")
        return cast(dict[str, Any], data)

    def _write(self) -> None:
        """Persist the ledger: temp file, fsync, rename, fsync of the folder (local); one PUT (object store)."""
        atomic_write_text(self.folder / LEDGER_FILE, json.dumps(self._data, indent=1, sort_keys=True) + "\n")
        if self.is_local:
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # --------------------------------------------------------------- calls
    def calls_on(self, now: datetime) -> list[dict[str, Any]]:
        """The calls recorded on ``now``'s UTC day (reserved, accepted or failed: each one counts)."""
        self._require_lock()
        return list(self._data["calls"].get(utc_day(now), []))

    def calls_used(self, now: datetime) -> int:
        """Audience calls counted on ``now``'s UTC day."""
        return len(self.calls_on(now))

    def calls_left(self, now: datetime) -> int:
        """Audience calls still allowed on ``now``'s UTC day."""
        return max(0, self.daily_call_limit - self.calls_used(now))

    def check_budget(self, needed: int, now: datetime) -> None:
        """Raise :class:`DailyCallLimitReached` unless ``needed`` calls fit in today's budget."""
        used = self.calls_used(now)
        if used + needed > self.daily_call_limit:
            label = self._data.get("audience_id") or self.key
            raise DailyCallLimitReached(label, used, self.daily_call_limit, needed, next_utc_midnight(now))

    def reserve(self, action: str, now: datetime, *, run: str | None = None) -> str:
        """Record a call about to be sent (durably, before sending it) and return its reservation id."""
        self.check_budget(1, now)
        reservation = uuid.uuid4().hex
        day = utc_day(now)
        calls = self._data["calls"]
        self._data["seq"] = seq = int(self._data.get("seq", 0)) + 1
        calls.setdefault(day, []).append(
            {"id": reservation, "seq": seq, "action": action, "at": now.isoformat(), "run": run, "status": RESERVED}
        )
        for old in sorted(calls)[:-KEEP_DAYS]:
            del calls[old]
        self._write()
        return reservation

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
