"""Where the provider keeps files: local paths or any ObjectStoragePath, written atomically and owner-only.

Operators write outputs (metric partitions), rejects files and durable state (audience ledger,
upload progress). A reader must never see half a file, and files that may hold hashed identifiers
are created readable by their owner only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def airflow_home() -> Path:
    """``$AIRFLOW_HOME``, else Airflow's default ``~/airflow``."""
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")


def default_root(kind: str) -> Path:
    """The default folder for ``kind`` (e.g. ``state``, ``ad_metrics``) under ``$AIRFLOW_HOME/tiktok``."""
    return airflow_home() / "tiktok" / kind


def is_local(location: str | os.PathLike[str]) -> bool:
    """True for plain paths and ``file://`` URIs; False for other URI schemes."""
    text = os.fspath(location)
    return "://" not in text or text.startswith("file://")


def is_local_path(path: Any) -> bool:
    """Whether ``path`` (from :func:`as_path`) is on the local file system. An ``ObjectStoragePath`` is a
    ``pathlib.Path`` subclass on Airflow 3.0 (universal-pathlib 0.2), so the type alone does not tell."""
    return isinstance(path, Path) and not hasattr(path, "protocol")


def as_path(location: str | os.PathLike[str]) -> Any:
    """A ``pathlib.Path`` for local locations, an ``ObjectStoragePath`` for any other URI scheme."""
    text = os.fspath(location)
    if is_local(text):
        return Path(text.removeprefix("file://")).expanduser()
    from airflow_provider_tiktok.compat import ObjectStoragePath

    return ObjectStoragePath(text)


def ensure_dir(path: Any) -> None:
    """Create a folder (and parents); local folders are created owner-only, parents included.

    ``Path.mkdir(parents=True, mode=...)`` applies ``mode`` to the last folder only, so each missing
    parent is created here in turn (their names can reveal DAG, run and advertiser ids).
    """
    if is_local_path(path):
        for folder in [*reversed(path.parents), path]:
            if not folder.exists():
                folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    else:
        path.mkdir(parents=True, exist_ok=True)


def atomic_write_lines(path: Any, lines: Iterable[str]) -> int:
    """Stream ``lines`` (each ending in ``\\n``) to ``path`` so readers see the old or the new file, never
    a mix; returns the number of lines written. Local files: temp file + fsync + rename, mode 0600."""
    ensure_dir(path.parent)
    count = 0
    if is_local_path(path):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                for line in lines:
                    handle.write(line)
                    count += 1
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return count
    # Object stores publish an object only when its upload completes, which is atomic for readers.
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line)
            count += 1
    return count


def atomic_write_text(path: Any, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_lines`)."""
    atomic_write_lines(path, [text])
