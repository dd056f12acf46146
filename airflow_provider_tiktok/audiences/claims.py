"""Per-day claims on an audience's call budget: one file per call, created exclusively on the shared store.

The ledger says which calls an audience made; the claims make the daily limit hold whoever writes the
ledger. Before a call is sent it claims a numbered slot of each UTC day it counts against::

    <audience folder>/claims/<YYYY-MM-DD>/<01..limit>

A slot is taken by creating its file only if it does not exist (``O_CREAT | O_EXCL`` on a local or mounted
folder; mode ``"xb"`` on an object store, which s3fs sends as ``If-None-Match: *`` and the store checks
atomically), so two workers can never take the same slot, and no more than ``limit`` calls can be claimed
on a day however many syncs race. A store that cannot create exclusively is refused before any call.
No Airflow import.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.utils.storage import PRIVATE_FILE_MODE, ensure_dir, is_local_path

CLAIMS_DIR = "claims"


class DayFull(Exception):
    """Every slot of ``day`` is taken: the call must not be sent."""

    def __init__(self, day: str) -> None:
        super().__init__(f"no audience call left on {day}")
        self.day = day


def _slot_name(slot: int) -> str:
    return f"{slot:02d}"


def claimed(folder: Any, day: str) -> int:
    """How many slots of ``day`` are taken (by any worker, whether or not its ledger entry survived)."""
    day_folder = folder / CLAIMS_DIR / day
    if not day_folder.exists():
        return 0
    return sum(1 for path in day_folder.iterdir() if path.name.isdigit())


def _create_exclusively(path: Any, body: bytes) -> bool:
    """Create ``path`` holding ``body`` unless it exists; False when another claim holds it."""
    if is_local_path(path):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        except FileExistsError:
            return False
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        return True
    try:
        with path.open("xb") as handle:  # non-empty: s3fs commits an empty file without its condition
            handle.write(body)
    except FileExistsError:
        return False
    except (ValueError, NotImplementedError) as error:
        raise TikTokConfigError(
            f"state_uri on {getattr(path, 'protocol', 'this store')!r} cannot create files exclusively ({error}), "
            "which keeps the daily audience budget across workers: use a shared folder or AWS S3 (s3fs)"
        ) from error
    return True


def claim(folder: Any, day: str, limit: int, reservation: str, at: str) -> int | None:
    """Take the lowest free slot of ``day`` for ``reservation``; its number, or None when all ``limit`` are taken."""
    day_folder = folder / CLAIMS_DIR / day
    ensure_dir(day_folder)
    taken = {path.name for path in day_folder.iterdir()}
    body = json.dumps({"reservation": reservation, "at": at}).encode()
    for slot in range(1, limit + 1):  # the free slots as listed; one a racer took meanwhile is simply skipped
        if _slot_name(slot) not in taken and _create_exclusively(day_folder / _slot_name(slot), body):
            return slot
    return None


def claim_days(folder: Any, days: list[str], limit: int, reservation: str, at: str) -> dict[str, int]:
    """A slot on every day of ``days`` (a call near 00:00 UTC counts on two), or none: raises :class:`DayFull`
    naming the first full day, after giving back the slots it took."""
    taken: dict[str, int] = {}
    for day in days:
        slot = claim(folder, day, limit, reservation, at)
        if slot is None:
            for claimed_day, claimed_slot in taken.items():
                release(folder, claimed_day, claimed_slot)
            raise DayFull(day)
        taken[day] = slot
    return taken


def release(folder: Any, day: str, slot: int) -> None:
    """Give back a slot whose call was never sent (another day it counts against had none left)."""
    path = folder / CLAIMS_DIR / day / _slot_name(slot)
    if path.exists():
        path.unlink()


def prune(folder: Any, keep: list[str]) -> None:
    """Delete the claim folders of days not in ``keep`` (days that can no longer matter)."""
    root = folder / CLAIMS_DIR
    if not root.exists():
        return
    for day_folder in root.iterdir():
        if day_folder.name not in keep:
            for path in day_folder.iterdir():
                path.unlink()
            if is_local_path(day_folder):  # an object store has no folder left once its files are gone
                day_folder.rmdir()
