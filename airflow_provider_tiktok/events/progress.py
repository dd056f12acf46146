"""Durable bookkeeping of one event upload run: which batches TikTok accepted, and the rejected rows.

A task retry reads the progress file of its run and skips every batch whose events TikTok already
accepted (same fingerprint), so nothing is sent twice; the rejects file keeps the rows refused in those
batches and gets this attempt's rejections. Both are owner-only files (local) or any ObjectStoragePath.
No Airflow import here unless an object-storage URI is used.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from airflow_provider_tiktok.utils.storage import as_path, atomic_write_lines, atomic_write_text, default_root

PROGRESS_VERSION = 1


def run_key(dag_id: str, task_id: str, run_id: str, map_index: int = -1) -> str:
    """``<dag_id>/<task_id>/<run_id>`` with each part made safe as a file name (reversibly quoted)."""
    parts = [dag_id, task_id, run_id if map_index < 0 else f"{run_id}.{map_index}"]
    return "/".join(quote(str(part), safe="") for part in parts)


def progress_location(key: str, state_uri: str | None = None, *, shared_root: str | None = None) -> str:
    """The run's progress file: under ``state_uri`` when given, else ``<shared_root>/events`` (the state every
    worker sees, from the connection), else ``$AIRFLOW_HOME/tiktok/state/events``."""
    if state_uri:
        root = state_uri.rstrip("/")
    else:
        root = f"{shared_root.rstrip('/')}/events" if shared_root else str(default_root("state") / "events")
    return f"{root}/{key}.json"


def rejects_location(key: str, rejects_uri: str | None = None, *, shared_root: str | None = None) -> str:
    """The run's rejects file: ``rejects_uri`` when given, else under ``<shared_root>/rejects/events`` (a retry on
    another worker carries the earlier attempt's rejections over), else ``$AIRFLOW_HOME/tiktok/rejects/events``."""
    if rejects_uri:
        return rejects_uri
    root = f"{shared_root.rstrip('/')}/rejects" if shared_root else str(default_root("rejects"))
    return f"{root}/events/{key}.jsonl"


class UploadProgress:
    """Accepted batches of one run (index -> fingerprint, events sent, rejections by reason), saved after each."""

    def __init__(self, location: str, scope: str) -> None:
        self.location = location
        self.scope = scope
        self._path = as_path(location)
        self.batches: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            saved = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable progress only costs a resend, which TikTok de-duplicates by event_id
        if not isinstance(saved, dict) or saved.get("version") != PROGRESS_VERSION or saved.get("scope") != self.scope:
            return {}
        batches = saved.get("batches")
        return batches if isinstance(batches, dict) else {}

    def accepted(self, index: int, fingerprint: str) -> dict[str, Any] | None:
        """What an earlier attempt recorded for this batch, if it sent exactly these events."""
        entry = self.batches.get(str(index))
        return entry if isinstance(entry, dict) and entry.get("fingerprint") == fingerprint else None

    def record(self, index: int, fingerprint: str, sent: int, rejected: Mapping[str, int]) -> None:
        """Remember an accepted batch and save at once (a crash right after loses nothing)."""
        self.batches[str(index)] = {"fingerprint": fingerprint, "sent": sent, "rejected": dict(rejected)}
        body = {"version": PROGRESS_VERSION, "scope": self.scope, "batches": self.batches}
        atomic_write_text(self._path, json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n")


class RejectsLog:
    """The run's rejected rows as JSON Lines: spooled to a private temp file, published atomically at the end.

    Entries of batches an earlier attempt finished are carried over when this attempt skips those batches;
    validation rejections are recomputed by every attempt.
    """

    def __init__(self, location: str, run_id: str) -> None:
        self.location = location
        self.run_id = run_id
        self._path = as_path(location)
        self._earlier = self._read_earlier()
        # Private (0600) and deleted on close; it lives until publish(), hence no with-block.
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.count = 0

    def _read_earlier(self) -> dict[int, list[str]]:
        """TikTok's rejections of this run's earlier attempts, by batch index."""
        earlier: dict[int, list[str]] = {}
        try:
            with self._path.open("r", encoding="utf-8") as handle:
                for line in iter(handle.readline, ""):  # Airflow 3.0's object-store files are not iterable
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if (
                        isinstance(entry, dict)
                        and entry.get("run_id") == self.run_id
                        and entry.get("batch") is not None
                    ):
                        earlier.setdefault(int(entry["batch"]), []).append(line if line.endswith("\n") else line + "\n")
        except (FileNotFoundError, OSError):
            pass
        return earlier

    def add(self, entry: Mapping[str, Any]) -> None:
        """Append one rejection (row, field, reason, the event with hashed identifiers only)."""
        line = json.dumps({"run_id": self.run_id, **entry}, ensure_ascii=False, separators=(",", ":"), default=str)
        self._spool.write(line + "\n")
        self.count += 1

    def carry(self, batch_index: int) -> None:
        """Keep the rejections an earlier attempt recorded for a batch this attempt does not resend."""
        for line in self._earlier.pop(batch_index, []):
            self._spool.write(line)
            self.count += 1

    def publish(self) -> str | None:
        """Write the rejects file (or remove a stale one when nothing was rejected); returns its location."""
        try:
            if not self.count:
                self._remove_stale()
                return None
            atomic_write_lines(self._path, self._spooled())
            return self.location
        finally:
            self._spool.close()

    def _spooled(self) -> Iterator[str]:
        self._spool.flush()
        self._spool.seek(0)
        yield from self._spool

    def _remove_stale(self) -> None:
        try:
            if self._path.exists():
                self._path.unlink()
        except OSError:
            pass
