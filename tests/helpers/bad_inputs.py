"""The bad-input corpus: its manifest and cases, feeding a case to its operator, and reading what a run left."""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator.testing import EmulatorServer
from tests.helpers.events import PIXEL

DATA = Path(__file__).parents[1] / "data" / "bad_inputs"
MANIFEST = json.loads((DATA / "cases.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = MANIFEST["cases"]
PACKAGE_DIR = str(Path(__file__).parents[2] / "airflow_provider_tiktok")
SQL_CONN_ID = "bad_inputs_db"
RUN_ID = "manual__bad_inputs"


def case_params() -> Iterator[Any]:
    """One pytest param per (case, feed): ``file`` as is, ``gzip`` compressed on the fly, ``list`` parsed into
    records, ``memory``/``memory_gzip`` from an object store; argument and SQL cases have a single run. SQL
    cases carry the ``postgres`` mark."""
    for case in CASES:
        marks = [pytest.mark.postgres] if "sql" in case else []
        if "xfail" in case:  # a fix requested in a file this suite does not own; strict: passes once it lands
            marks.append(pytest.mark.xfail(strict=True, reason=case["xfail"]))
        for feed in case["feeds"] or ["-"]:
            yield pytest.param(case, feed, id=f"{case['id']}[{feed}]", marks=marks)


@dataclass
class Outcome:
    """What one run left behind: the exception or the summary, and everything a user could read."""

    error: BaseException | None = None
    summary: dict[str, Any] | None = None
    xcom: dict[str, Any] = field(default_factory=dict)
    operator: Any = None

    def exception_text(self) -> str:
        """The exception as a task log shows it: message, type and the whole chain of causes."""
        if self.error is None:
            return ""
        return "".join(traceback.format_exception(self.error)) + repr(self.error)


def last_frame_file(error: BaseException) -> str:
    """The file of the frame that raised ``error``."""
    tb = error.__traceback__
    assert tb is not None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


def raised_by_us(error: BaseException) -> bool:
    """True when the raising frame is in the provider's package (not deep inside a library)."""
    return last_frame_file(error).startswith(PACKAGE_DIR)


def records_of(path: Path) -> list[Any]:
    """A file's rows as an upstream task would pass them: JSON values, or CSV rows with empty cells as None."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(handle)]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sql_parts(name: str) -> tuple[str, str, str]:
    """(table, setup statements, query) of a corpus ``.sql`` file (the query is on its ``-- query:`` line)."""
    text = (DATA / name).read_text(encoding="utf-8")
    table = re.search(r"create table (\w+)", text)
    query = re.search(r"^-- query: (.+)$", text, re.M)
    assert table, name
    assert query, name
    return table.group(1), text, query.group(1)


def written_text(root: Path) -> str:
    """Every file under ``root`` (state, progress, rejects, partitions), gunzipped, as one text."""
    parts = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            parts.append(_gunzipped(path.read_bytes()).decode("utf-8", "replace"))
    return "\n".join(parts)


def _gunzipped(raw: bytes) -> bytes:
    """gzip data uncompressed; other bytes as they are (a rate-limit stamp, a packed time, can start with the
    gzip magic bytes by chance)."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error):
        return raw


#: Where the ``memory`` feeds put a case's file: the in-memory object store of the ``memory_store`` fixture.
MEMORY_INPUT = "memory://tiktok-state/bad-inputs"


def case_source(case: dict[str, Any], feed: str, folder: Path) -> Any:
    """The operator's input for ``feed`` (None for SQL and argument-only cases); ``memory`` and ``memory_gzip``
    put the file in the in-memory object store (the caller registers it) as is or compressed, as S3 or GCS would
    hold it."""
    if "file" not in case or "sql" in case:
        return None
    path = DATA / case["file"]
    if feed in ("memory", "memory_gzip"):
        from airflow_provider_tiktok.utils.storage import as_path

        content, name = path.read_bytes(), path.name
        if feed == "memory_gzip":
            content, name = gzip.compress(content, mtime=0), f"{name}.gz"
        location = f"{MEMORY_INPUT}/{folder.name}/{name}"
        as_path(location).write_bytes(content)
        return location
    if feed == "gzip":
        packed = folder / f"{path.name}.gz"
        packed.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        return str(packed)
    if feed == "list":
        return records_of(path)
    copy = folder / path.name  # the corpus stays read-only whatever the operator does
    shutil.copyfile(path, copy)
    return str(copy)


def case_operator(
    kind: str, source: Any, kwargs: dict[str, Any], case_id: str, home: Path, emulator: EmulatorServer
) -> Any:
    """The case's operator with the corpus defaults (events: rejects allowed, to read the summary; audience: a
    name of its own and a state folder under AIRFLOW_HOME); ``kwargs`` override them."""
    if kind == "events":
        from airflow_provider_tiktok.operators.events import TikTokEventsUploadOperator

        op = TikTokEventsUploadOperator(
            **{"task_id": "upload", "event_source_id": PIXEL, "events": source, "max_rejected_fraction": 1.0, **kwargs}
        )
    elif kind == "audience":
        from airflow_provider_tiktok.operators.audience import TikTokAudienceSyncOperator

        defaults = {
            "task_id": "sync",
            "members": source,
            "id_type": "email",
            "audience_name": f"bad inputs {case_id}",
            "state_uri": str(home / "audience_state"),
        }
        op = TikTokAudienceSyncOperator(**{**defaults, **kwargs})
    else:
        from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator

        op = TikTokAdMetricsOperator(**{"task_id": "metrics", "destination": str(home / "metrics"), **kwargs})
    op.hook.sleep = lambda seconds: None
    return op
