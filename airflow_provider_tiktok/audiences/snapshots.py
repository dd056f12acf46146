"""Sorted, de-duplicated id files in bounded memory, streaming comparisons, and upload files with MD5 signatures.

A cohort of 10M hashed ids does not fit comfortably in a Python set, so it is sorted externally: chunks of
``chunk_size`` ids are sorted in memory and spilled as sorted runs to temporary files, then the runs are
merged with :func:`heapq.merge` into one sorted file without duplicates. Two such files are compared in a
single pass (:func:`compare_sorted`), and the ids a call must upload are written straight to files of a
bounded size (:class:`UploadFileWriter`). Ids travel as text lines ending in ``\\n``. No Airflow import.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from airflow_provider_tiktok.utils.storage import is_local_path

#: Ids sorted in memory at once (about 130 MB of Python strings).
DEFAULT_CHUNK_SIZE = 1_000_000
_BUFFER = 1 << 20
#: Read buffer of each run during a merge (many runs are open at once).
_RUN_BUFFER = 1 << 18

#: Where an id of :func:`compare_sorted` is: only in the old list, only in the new one, or in both.
OLD = 1
NEW = 2
BOTH = 3


@dataclass(frozen=True)
class UploadFile:
    """A customer file ready to upload: its path, id count and the MD5 hex of its exact bytes."""

    path: Path
    count: int
    md5: str


def _open_private(path: Path) -> TextIO:
    """A new owner-only text file for writing (hashed ids are personal data)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w", encoding="ascii", newline="", buffering=_BUFFER)


def iter_lines(path: Any) -> Iterator[str]:
    """The lines of a local or object-store text file, read in large buffers and closed at the end."""
    if is_local_path(path):
        handle = open(path, encoding="ascii", newline="", buffering=_BUFFER)  # noqa: SIM115 - closed below
    else:
        handle = path.open("r", encoding="ascii", newline="")
    with handle:
        yield from iter(handle.readline, "")  # Airflow 3.0 wraps object-store files in a non-iterable tracker


def sorted_runs(lines: Iterable[str], work_dir: Path, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[Path]:
    """Spill ``lines`` as sorted runs of at most ``chunk_size`` lines into ``work_dir``."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    runs: list[Path] = []
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= chunk_size:
            runs.append(_spill(chunk, work_dir, len(runs)))
            chunk = []
    if chunk or not runs:
        runs.append(_spill(chunk, work_dir, len(runs)))
    return runs


def _spill(chunk: list[str], work_dir: Path, index: int) -> Path:
    """Sort one chunk in memory and write it as a run file."""
    chunk.sort()
    path = work_dir / f"run-{index:05d}.txt"
    with _open_private(path) as handle:
        handle.writelines(chunk)
    return path


def merge_unique(paths: Iterable[Path]) -> Iterator[str]:
    """K-way merge of sorted files, each line yielded once."""
    with contextlib.ExitStack() as stack:
        handles = [
            stack.enter_context(open(path, encoding="ascii", newline="", buffering=_RUN_BUFFER)) for path in paths
        ]
        previous = None
        for line in heapq.merge(*handles):
            if line != previous:
                yield line
                previous = line


def external_sort(lines: Iterable[str], dest: Path, work_dir: Path, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """Write ``lines`` sorted and de-duplicated to ``dest`` in bounded memory; returns the distinct count."""
    runs = sorted_runs(lines, work_dir, chunk_size=chunk_size)
    count = 0
    try:
        with _open_private(dest) as out:
            for line in merge_unique(runs):
                out.write(line)
                count += 1
    finally:
        for run in runs:
            run.unlink(missing_ok=True)
    return count


def compare_sorted(old: Iterable[str], new: Iterable[str]) -> Iterator[tuple[str, int]]:
    """Walk two sorted, de-duplicated streams once, yielding each id with :data:`OLD`, :data:`NEW` or :data:`BOTH`."""
    old_it, new_it = iter(old), iter(new)
    a = next(old_it, None)
    b = next(new_it, None)
    while a is not None and b is not None:
        if a == b:
            yield a, BOTH
            a = next(old_it, None)
            b = next(new_it, None)
        elif a < b:
            yield a, OLD
            a = next(old_it, None)
        else:
            yield b, NEW
            b = next(new_it, None)
    if a is not None:
        yield a, OLD
        for line in old_it:
            yield line, OLD
    if b is not None:
        yield b, NEW
        for line in new_it:
            yield line, NEW


@dataclass(frozen=True)
class Diff:
    """A mirror diff: the upload files of the additions and of the removals, with their counts."""

    added: list[UploadFile]
    removed: list[UploadFile]
    added_count: int
    removed_count: int


def diff_to_files(old: Iterable[str], new: Iterable[str], work_dir: Path, ids_per_file: int) -> Diff:
    """Compare two sorted streams once, writing additions and removals straight to upload files."""
    with (
        UploadFileWriter(work_dir, "added", ids_per_file) as added,
        UploadFileWriter(work_dir, "removed", ids_per_file) as removed,
    ):
        for line, where in compare_sorted(old, new):
            if where == NEW:
                added.write(line)
            elif where == OLD:
                removed.write(line)
    return Diff(added.close(), removed.close(), added.count, removed.count)


def merge_to_file(old: Iterable[str], new: Iterable[str], dest: Path, *, union: bool) -> tuple[int, int]:
    """Write ``old | new`` (``union``) or ``old - new`` sorted to ``dest``; returns (ids changed, ids written).

    The ids changed are those of ``new`` not in ``old`` for a union, those of ``new`` in ``old`` otherwise.
    """
    keep = (OLD, BOTH, NEW) if union else (OLD,)
    changed_where = NEW if union else BOTH
    changed = written = 0
    with _open_private(dest) as out:
        for line, where in compare_sorted(old, new):
            changed += where == changed_where
            if where in keep:
                out.write(line)
                written += 1
    return changed, written


class UploadFileWriter:
    """Write ids to numbered ``.txt`` files of at most ``ids_per_file`` lines each, for one upload set.

    :param work_dir: local folder for the files.
    :param prefix: file name prefix (e.g. ``added``).
    :param ids_per_file: lines per file (see :func:`~airflow_provider_tiktok.audiences.plan.ids_per_file`).
    """

    def __init__(self, work_dir: Path, prefix: str, ids_per_file: int) -> None:
        if ids_per_file < 1:
            raise ValueError("ids_per_file must be positive")
        self.work_dir = work_dir
        self.prefix = prefix
        self.ids_per_file = ids_per_file
        self.count = 0
        self._paths: list[Path] = []
        self._counts: list[int] = []
        self._handle: Any = None
        self._in_file = 0

    def write(self, line: str) -> None:
        """Add one id line, starting a new file when the current one is full."""
        if self._handle is None or self._in_file >= self.ids_per_file:
            self._roll()
        self._handle.write(line)
        self._in_file += 1
        self.count += 1

    def _roll(self) -> None:
        self._close_current()
        path = self.work_dir / f"{self.prefix}-{len(self._paths) + 1:04d}.txt"
        self._handle = _open_private(path)
        self._paths.append(path)
        self._in_file = 0

    def _close_current(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._counts.append(self._in_file)
            self._handle = None

    def close(self) -> list[UploadFile]:
        """Finish the last file and return every file with its MD5 signature (read back from disk)."""
        self._close_current()
        return [UploadFile(path, count, file_md5(path)) for path, count in zip(self._paths, self._counts, strict=True)]

    def __enter__(self) -> UploadFileWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close_current()


def file_md5(path: Path) -> str:
    """MD5 hex of a file's bytes (TikTok's ``file_signature``)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BUFFER), b""):
            digest.update(block)
    return digest.hexdigest()


def split_into_files(lines: Iterable[str], work_dir: Path, prefix: str, ids_per_file: int) -> list[UploadFile]:
    """Write ``lines`` to upload files of at most ``ids_per_file`` ids each."""
    writer = UploadFileWriter(work_dir, prefix, ids_per_file)
    with writer:
        for line in lines:
            writer.write(line)
    return writer.close()
