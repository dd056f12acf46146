"""Load runs: 5,000,000 events through one task, a 10,000,000-member first sync and a 1% churn sync, and the
three example DAGs at once on one app's rate limit. Bounded time and memory, reported; never fails on them.

    .venv/bin/python bench/load.py                          # all three parts at full size (about 30 min)
    .venv/bin/python bench/load.py --part events --events 500000
    .venv/bin/python bench/load.py --part audience --members 1000000
    .venv/bin/python bench/load.py --part dags --backfill-days 30
    .venv/bin/python bench/load.py --quick                  # 200k events, 200k members, a 7-day backfill

Each part starts its own emulator as a separate process (``python -m airflow_provider_tiktok.emulator``,
with ``--receipts-only`` for the events: 5M kept event bodies would take ~11 GB) and runs the operator in
a child process whose own peak RSS (``VmHWM``) is reported.

- ``events``: a generated CSV of N funnel events (raw e-mails and phones, explicit ``event_id``) streamed
  through one ``TikTokEventsUploadOperator.execute`` with the connection's default rate limits. Reports
  wall time, events/s, requests (target ceil(N/1000)), peak RSS (target <= 300 MB) and how much the peak
  of the upload's second half exceeds its first half's (flat: <= 20 MB). The emulator must hold exactly
  the N expected event_ids, each received once.
- ``audience``: a CSV of N raw e-mails synced by ``TikTokAudienceSyncOperator`` (mirror mode) to a new
  audience, then a cohort with 1% removed and as many added. Per sync: wall time, peak RSS, audience calls
  (against TikTok's 24 a day) and HTTP requests; the audience at the emulator must then hold exactly the
  cohort (``cover_num`` from ``dmp/custom_audience/get/``, and every member compared by a streamed digest
  against SHA-256 computed here).
- ``dags``: ``scripts/stack.Stack`` (Airflow standalone) with the emulator enforcing an app limit
  (``qps``, ``per_minute``) and the connection's ``rate_limit`` extra set to it; the events DAG, the
  audience DAG and an ad-metrics backfill are fired at the same moment, in two rounds: TikTok's default
  10/s and 600/min, then 3/s and 180/min, below what the DAGs ask together (``--limits``). From the
  arrival times in the emulator's request log: the most app requests (``event/track`` excluded: TikTok
  limits it apart) in any 1 s and any 60 s window against the limit, and how many 40100 answers were given.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import hashlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.figures import Figure, Section, at_most, check, exactly, info, render_text, vs_peer, write_json
from bench.measure import peak_rss_mb, rss_mb

REPO = Path(__file__).resolve().parents[1]
PIXEL = "CLOADPIXEL000000001"
FULL_EVENTS, FULL_MEMBERS, FULL_BACKFILL_DAYS = 5_000_000, 10_000_000, 30
QUICK_EVENTS, QUICK_MEMBERS, QUICK_BACKFILL_DAYS = 200_000, 200_000, 7
EVENTS_RSS_TARGET_MB = 300.0
EVENTS_RSS_GROWTH_MB = 20.0
SYNC_RSS_TARGET_MB = 1024.0
CALLS_PER_SYNC_TARGET = 2
TIKTOK_DAILY_CALLS = 24
CHURN = 0.01
#: App limits of the DAG rounds (requests a second, a minute): TikTok's default (tiktok-api.md), then a tight
#: one below the DAGs' combined demand (4 parallel ad-metrics tasks at 2.5/s each want 10/s), which only the
#: host-wide client limiter can hold.
DAG_LIMITS = ((10.0, 600), (3.0, 180))
EVENTS_PATH = "event/track"
API = "/open_api/v1.3/"


# ------------------------------------------------------------------------------------------ emulator
def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatorProcess:
    """The emulator as a separate process on a free port (its memory and CPU apart from the task's)."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)

    def __enter__(self) -> EmulatorProcess:
        import requests

        command = [sys.executable, "-m", "airflow_provider_tiktok.emulator", "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=REPO)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/_emulator/stats", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the emulator did not start on port {self.port}")
            time.sleep(0.2)

    def get(self, path: str, **params: Any) -> Any:
        """A control endpoint's JSON (``/_emulator/...``)."""
        import requests

        answer = requests.get(f"{self.url}/_emulator/{path}", params=params or None, timeout=600)
        answer.raise_for_status()
        return answer.json()

    def peak_rss_mb(self) -> float:
        """The emulator process's peak RSS so far."""
        return peak_rss_mb(self.proc.pid)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def connection_env(url: str, **extra: str) -> dict[str, str]:
    """``AIRFLOW_CONN_TIKTOK_DEFAULT`` for the emulator at ``url`` (default rate limits unless given)."""
    from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, APP_ID, APP_SECRET

    extras = {"app_id": APP_ID, "app_secret": APP_SECRET, "advertiser_id": ADVERTISER_A, **extra}
    conn = {"conn_type": "tiktok_ads", "host": url, "password": ACCESS_TOKEN, "extra": extras}
    return {"AIRFLOW_CONN_TIKTOK_DEFAULT": json.dumps(conn)}


# ------------------------------------------------------------------------------------- task children
class TaskInstance:
    """What ``execute`` needs of a task instance: names and an XCom push that keeps nothing."""

    dag_id, task_id, run_id, map_index, try_number = "load", "load", "load", -1, 1

    def xcom_push(self, key: str, value: object) -> None:
        return None


class RssSampler:
    """Samples this process's RSS every ``interval`` seconds while a block runs."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), rss_mb()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic(), rss_mb()))

    def peak_within(self, start: float, end: float) -> float:
        """The highest sampled RSS between two fractions (0..1) of the sampled period."""
        first, last = self.samples[0][0], self.samples[-1][0]
        low, high = first + (last - first) * start, first + (last - first) * end
        return max((rss for t, rss in self.samples if low <= t <= high), default=0.0)


def run_task(execute: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Call ``execute`` as a task would, timing it and sampling this process's memory."""
    from airflow.sdk.bases.operator import ExecutorSafeguard
    from airflow.sdk.execution_time.context import OutletEventAccessors

    ExecutorSafeguard.test_mode = True  # executed directly, as in Airflow's own tests, not by a task runner
    context = {"ti": TaskInstance(), "run_id": "load", "outlet_events": OutletEventAccessors()}
    rss_before = rss_mb()
    with RssSampler() as sampler:
        started = time.monotonic()
        summary = execute(context)
        seconds = time.monotonic() - started
    return {
        "summary": summary,
        "seconds": seconds,
        "rss_before_mb": rss_before,
        "rss_first_half_mb": sampler.peak_within(0.0, 0.5),
        "rss_second_half_mb": sampler.peak_within(0.5, 1.0),
        "rss_sampled_peak_mb": sampler.peak_within(0.0, 1.0),
        "peak_rss_mb": peak_rss_mb(),
    }


def events_child(path: str) -> None:
    """In a fresh process (env set by the parent): one ``TikTokEventsUploadOperator.execute`` over ``path``."""
    from airflow_provider_tiktok.operators.events import TikTokEventsUploadOperator

    operator = TikTokEventsUploadOperator(task_id="load_events", events=path, event_source_id=PIXEL)
    print(json.dumps(run_task(operator.execute)))


def audience_child(path: str, state_uri: str, name: str) -> None:
    """In a fresh process: one ``TikTokAudienceSyncOperator.execute`` of the members in ``path``."""
    from airflow_provider_tiktok.operators.audience import TikTokAudienceSyncOperator

    operator = TikTokAudienceSyncOperator(
        task_id="load_audience",
        members=path,
        id_type="email",
        audience_name=name,
        state_uri=state_uri,
        on_quota_exhausted="fail",
    )
    print(json.dumps(run_task(operator.execute)))


def run_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run this script as a task child; its last stdout line is its JSON result (stderr passes through)."""
    out = subprocess.run(
        [sys.executable, __file__, *args], env={**os.environ, **env}, stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    if out.returncode != 0:
        raise RuntimeError(f"task child {args[0]} failed with exit {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def size_label(n: int) -> str:
    """A count as a short label: 5M, 2.5M, 200k, 900."""
    for scale, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= scale:
            return f"{n / scale:g}{suffix}"
    return str(n)


# ------------------------------------------------------------------------------------------ events
def event_id(n: int) -> str:
    """The explicit event_id of generated event ``n`` (what the emulator must hold once)."""
    return f"L{n:010d}"


def write_events(path: Path, count: int, now: datetime) -> None:
    """A CSV (gzipped when the name ends ``.gz``) of ``count`` funnel events within the day before ``now``."""
    from bench.events import COLUMNS, raw_row

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:  # type: ignore[operator]
        writer = csv.writer(handle)
        writer.writerow([*COLUMNS, "event_id"])
        for n in range(count):
            row = raw_row(n, now=now)
            writer.writerow([*(row[c] for c in COLUMNS), event_id(n)])


def part_events(work: Path, count: int, gz: bool, out: Callable[[str], None]) -> list[Figure]:
    """5M events through one task; exact delivery checked at the emulator."""
    path = work / ("events.csv.gz" if gz else "events.csv")
    started = time.monotonic()
    write_events(path, count, datetime.now(timezone.utc))
    out(
        f"  wrote {count:,} events to {path.name} ({path.stat().st_size / 2**20:,.0f} MB) in "
        f"{time.monotonic() - started:.0f} s"
    )
    home = work / "events-home"
    home.mkdir()
    with EmulatorProcess("--receipts-only", "--log-level", "warning") as emulator:
        env = {"AIRFLOW_HOME": str(home), **connection_env(emulator.url)}
        result = run_child(["--events-child", str(path)], env)
        summary = result["summary"]
        stats = emulator.get("stats")
        started = time.monotonic()
        receipts = emulator.get("events", event_source_id=PIXEL)["receipts"]
        fetch_s = time.monotonic() - started
        emulator_rss = emulator.peak_rss_mb()
    path.unlink()
    requests = stats["calls"].get(f"{API}{EVENTS_PATH}/", 0)
    expected_requests = math.ceil(count / 1000)
    missing = sum(1 for n in range(count) if event_id(n) not in receipts)
    unexpected = len(receipts) - (count - missing)
    twice = sum(1 for c in receipts.values() if c != 1)
    growth = result["rss_second_half_mb"] - result["rss_first_half_mb"]
    rate = summary["sent"] / result["seconds"]
    out(
        f"  {summary['sent']:,} sent of {summary['received']:,} in {result['seconds']:.1f} s ({rate:,.0f} events/s), "
        f"{requests:,} requests (target {expected_requests:,}), codes {stats['codes']}"
    )
    out(
        f"  task peak RSS {result['peak_rss_mb']:.0f} MB (before execute {result['rss_before_mb']:.0f} MB, "
        f"first half {result['rss_first_half_mb']:.0f} MB, second half {result['rss_second_half_mb']:.0f} MB); "
        f"emulator peak RSS {emulator_rss:,.0f} MB"
    )
    out(
        f"  at the emulator: {len(receipts):,} distinct event_ids, {missing} expected missing, {unexpected} "
        f"unexpected, {twice} received more than once (receipts fetched in {fetch_s:.0f} s)"
    )
    size = size_label(count)
    return [
        info(f"{size} events through one task: wall time", result["seconds"], "s"),
        info(f"{size} events: events/s end to end", rate, "/s"),
        exactly(f"{size} events: requests vs ceil(n/1000)", requests, expected_requests),
        at_most(f"{size} events: peak RSS of the task", result["peak_rss_mb"], EVENTS_RSS_TARGET_MB, "MB"),
        at_most(
            f"{size} events: RSS growth, 2nd half of the upload vs 1st", round(growth, 1), EVENTS_RSS_GROWTH_MB, "MB"
        ),
        exactly(f"{size} events: distinct event_ids at the emulator", len(receipts) - unexpected, count),
        exactly(f"{size} events: expected event_ids missing or extra", missing + unexpected, 0),
        exactly(f"{size} events: event_ids received more than once", twice, 0),
        info(f"{size} events: emulator peak RSS (receipts only)", emulator_rss, "MB"),
    ]


# ---------------------------------------------------------------------------------------- audience
def member_email(i: int) -> str:
    """Raw fake e-mail of member ``i`` as a CRM export would hold it (mixed case, trailing space)."""
    return f"Member{i}@Example.com "


def member_hash(i: int) -> str:
    """SHA-256 of member ``i``'s normalised e-mail, computed here independently of the provider."""
    return hashlib.sha256(f"member{i}@example.com".encode()).hexdigest()


def write_members(path: Path, members: Iterable[int]) -> int:
    """A one-column CSV (``email``) of the given members; returns how many."""
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("email\n")
        for i in members:
            handle.write(member_email(i) + "\n")
            count += 1
    return count


def cohort_digest(members: Iterable[int]) -> tuple[int, int]:
    """(count, sum of the members' SHA-256 values mod 2**256): compared with the emulator's audience."""
    total = count = 0
    for i in members:
        total += int(member_hash(i), 16)
        count += 1
    return count, total % 2**256


_HEX64 = re.compile(rb'"([0-9a-f]{64})"')


def emulator_digest(emulator: EmulatorProcess, audience_id: str) -> tuple[int, int, bool]:
    """(count, digest, strictly ascending) of the audience's members, streamed from the emulator's members list
    without holding it (10M ids are 700 MB of JSON)."""
    import requests

    total = count = 0
    previous = b""
    ascending = True
    carry = b""
    with requests.get(f"{emulator.url}/_emulator/audiences/{audience_id}/members", stream=True, timeout=3600) as r:
        r.raise_for_status()
        for chunk in r.iter_content(chunk_size=1 << 20):
            data = carry + chunk
            end = 0
            for match in _HEX64.finditer(data):
                value = match.group(1)
                ascending = ascending and value > previous
                previous = value
                total += int(value, 16)
                count += 1
                end = match.end()
            carry = data[end:][-80:]  # an id cut by the chunk boundary is completed by the next chunk
    return count, total % 2**256, ascending


def audience_size(emulator: EmulatorProcess, audience_id: str) -> int:
    """``cover_num`` from TikTok's own ``dmp/custom_audience/get/`` (a read: no audience budget)."""
    import requests

    from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A

    answer = requests.get(
        f"{emulator.url}{API}dmp/custom_audience/get/",
        params={"advertiser_id": ADVERTISER_A, "custom_audience_ids": json.dumps([audience_id])},
        headers={"Access-Token": ACCESS_TOKEN},
        timeout=120,
    ).json()
    return int(answer["data"]["list"][0]["audience_details"]["cover_num"])


def sync_figures(label: str, result: dict[str, Any], size: int, cohort: int, digest_ok: bool) -> list[Figure]:
    """The figures of one sync: time, memory, calls against the budget, requests, size and membership."""
    summary = result["summary"]
    calls = len(summary["actions"])
    return [
        info(f"{label}: wall time", result["seconds"], "s"),
        at_most(f"{label}: peak RSS of the task", result["peak_rss_mb"], SYNC_RSS_TARGET_MB, "MB"),
        vs_peer(f"{label}: audience calls vs 24 a day", calls, CALLS_PER_SYNC_TARGET, TIKTOK_DAILY_CALLS, "of 24"),
        info(f"{label}: HTTP requests (uploads and look-ups included)", summary["api_calls"]),
        exactly(f"{label}: audience size at the emulator (cover_num)", size, cohort),
        check(f"{label}: members at the emulator equal the cohort", digest_ok, "equal"),
    ]


def part_audience(work: Path, count: int, out: Callable[[str], None]) -> list[Figure]:
    """A ``count``-member first sync, then a 1% churn sync; exact membership checked at the emulator."""
    moved = int(count * CHURN)
    first_path, churn_path = work / "members.csv", work / "members-churn.csv"
    started = time.monotonic()
    write_members(first_path, range(count))
    write_members(churn_path, range(moved, count + moved))
    out(f"  wrote {count:,} + {count:,} members in {time.monotonic() - started:.0f} s")
    home, state = work / "audience-home", work / "audience-state"
    home.mkdir()
    name = f"Load {count:,} members"
    figures: list[Figure] = []
    with EmulatorProcess("--log-level", "warning") as emulator:
        env = {"AIRFLOW_HOME": str(home), **connection_env(emulator.url)}
        for label, path, members in (
            (f"{size_label(count)} first sync", first_path, range(count)),
            (
                f"{size_label(count)} churn sync ({size_label(moved)} out, {size_label(moved)} in)",
                churn_path,
                range(moved, count + moved),
            ),
        ):
            result = run_child(["--audience-child", str(path), str(state), name], env)
            summary = result["summary"]
            audience_id = summary["audience_id"]
            started = time.monotonic()
            size = audience_size(emulator, audience_id)
            found = emulator_digest(emulator, audience_id)
            expected = cohort_digest(members)
            verify_s = time.monotonic() - started
            digest_ok = found[2] and found[:2] == expected
            out(
                f"  {label}: {result['seconds']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB, actions "
                f"{summary['actions']}, {summary['api_calls']} HTTP requests, +{summary['added']:,} "
                f"-{summary['removed']:,}; emulator cover_num {size:,}, members {found[0]:,} "
                f"{'equal to' if digest_ok else 'DIFFERENT from'} the cohort (checked in {verify_s:.0f} s)"
            )
            figures += sync_figures(label, result, size, expected[0], digest_ok)
        stats = emulator.get("stats")
        used = sum(stats["audience_calls"].get(audience_id, {}).values())
        emulator_rss = emulator.peak_rss_mb()
    out(f"  audience calls at the emulator: {used}; emulator peak RSS {emulator_rss:,.0f} MB")
    first_path.unlink()
    churn_path.unlink()
    return [
        *figures,
        vs_peer(
            "audience calls at the emulator for both syncs",
            used,
            2 * CALLS_PER_SYNC_TARGET,
            TIKTOK_DAILY_CALLS,
            "of 24",
        ),
        info(f"{size_label(count)} members: emulator peak RSS", emulator_rss, "MB"),
    ]


# -------------------------------------------------------------------------------------------- dags
def max_in_window(times: list[float], width: float) -> int:
    """The most timestamps in any half-open window ``[t, t + width)`` (what a sliding limit counts)."""
    ordered = sorted(times)
    return max((bisect_left(ordered, t + width) - i for i, t in enumerate(ordered)), default=0)


DAG_IDS = ("tiktok_events_upload", "tiktok_audience_sync", "tiktok_ad_metrics")


#: Fresh stacks tried after the scheduler died in a round (Airflow 3.3 on SQLite: see part_dags).
SCHEDULER_RESTARTS = 1


def part_dags(work: Path, days: int, limits: Iterable[tuple[float, int]], out: Callable[[str], None]) -> list[Figure]:
    """The three example DAGs fired at once, one round per app limit, on one stack; each round's ad-metrics
    backfill covers ``days`` days before the previous round's.

    Airflow 3.3's scheduler on SQLite can die while a backfill's runs are being created ("IntegrityError while
    creating the TIs", then ObjectDeletedError; seen here once in six backfills). A round whose scheduler died
    starts again, once, on a fresh stack, and the figures count it.
    """
    from scripts.stack import SchedulerStopped, Stack

    figures: list[Figure] = []
    pending = list(enumerate(limits))
    yesterday = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    stacks = crashes = 0
    while pending:
        stacks += 1
        started = time.monotonic()
        group: int | None = None
        try:
            with Stack(work / f"airflow-{stacks}", emulator_args=["--log-level", "warning"]) as stack:
                out(f"  Airflow standalone up in {time.monotonic() - started:.0f} s")
                stack.wait_for_dags(DAG_IDS)
                since = time.time()  # unpausing schedules the latest interval of the scheduled DAGs: count it
                for dag_id in DAG_IDS:
                    stack.unpause(dag_id)
                while pending:
                    index, (qps, per_minute) = pending[0]
                    last_day = yesterday - timedelta(days=index * days)
                    try:
                        figures += _dags_round(stack, qps, per_minute, last_day, days, since, out)
                    except SchedulerStopped as err:
                        crashes += 1
                        group = stack.procs["airflow"].pid
                        out(f"  the Airflow scheduler stopped during the round: {err}")
                        if crashes > SCHEDULER_RESTARTS:
                            raise
                        out("  the round starts again on a fresh stack")
                        break
                    pending.pop(0)
                    since = time.time()
        finally:
            if group is not None:  # a dead scheduler's LocalExecutor workers outlive the stack's SIGTERM
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
    figures.append(info("3 DAGs at once: Airflow scheduler deaths (round rerun on a fresh stack)", crashes))
    return figures


def _dags_round(
    stack: Any, qps: float, per_minute: int, last_day: datetime, days: int, since: float, out: Callable[[str], None]
) -> list[Figure]:
    """Set the app limit at the emulator and in the connection, fire the three DAGs, measure the windows."""
    rate = min(qps, per_minute / 60)
    stack.session.delete(f"{stack.emulator_url}/_emulator/faults", timeout=30).raise_for_status()
    limit = {"qps": qps, "per_minute": per_minute}
    stack.session.post(f"{stack.emulator_url}/_emulator/faults", json=limit, timeout=30).raise_for_status()
    _connect_with_rate_limit(stack, rate)
    before = {dag_id: {r["dag_run_id"] for r in stack.runs(dag_id)} for dag_id in DAG_IDS}
    stamp = datetime.now(timezone.utc).strftime("%H%M%S")
    fire = [
        lambda: stack.trigger("tiktok_events_upload", f"load_events_{stamp}", None),
        lambda: stack.trigger("tiktok_audience_sync", f"load_audience_{stamp}", None),
        lambda: stack.backfill("tiktok_ad_metrics", last_day - timedelta(days=days - 1), last_day, max_active_runs=4),
    ]
    fired = time.monotonic()
    with ThreadPoolExecutor(len(fire)) as pool:
        answers = list(pool.map(lambda call: call(), fire))
    backfill = f"/api/v2/backfills/{answers[2]['id']}"
    stack.wait_scheduled(lambda: bool(stack.api("GET", backfill).get("completed_at")), 3600, "the ad-metrics backfill")

    def finished() -> bool:
        return all(r["state"] in ("success", "failed") for dag_id in DAG_IDS for r in stack.runs(dag_id))

    stack.wait_scheduled(finished, 3600, "every DAG run")
    wall = time.monotonic() - fired
    runs = {dag_id: [r for r in stack.runs(dag_id) if r["dag_run_id"] not in before[dag_id]] for dag_id in DAG_IDS}
    log = stack.session.get(f"{stack.emulator_url}/_emulator/requests", params={"since": since}, timeout=60).json()
    entries = log["requests"]
    arrivals = [(e.get("arrived", e["t"]), EVENTS_PATH in e["path"]) for e in entries]
    app = [t for t, is_event in arrivals if not is_event]
    events = [t for t, is_event in arrivals if is_event]
    limited = sum(1 for e in entries if e["code"] == 40100)
    states = {dag_id: Counter(r["state"] for r in dag_runs) for dag_id, dag_runs in runs.items()}
    succeeded = sum(counts["success"] for counts in states.values())
    total_runs = sum(counts.total() for counts in states.values())
    outcome = {dag_id: dict(counts) for dag_id, counts in states.items()}
    per_second, per_minute_seen = max_in_window(app, 1.0), max_in_window(app, 60.0)
    out(
        f"  app limit {qps:g}/s and {per_minute}/min (connection rate_limit {rate:g}/s): {total_runs} runs, "
        f"{succeeded} succeeded ({outcome}) in {wall:.0f} s; {len(app)} app requests, {len(events)} event/track "
        f"requests, {limited} answered 40100"
    )
    out(f"    most app requests in any 1 s: {per_second}; in any 60 s: {per_minute_seen}")
    if len(entries) >= 10_000:
        out("    (the emulator keeps the last 10,000 requests: the windows cover those only)")
    name = f"3 DAGs at once, app limit {qps:g}/s {per_minute}/min"
    runs_note = ", ".join(f"{counts.total()} {dag_id.removeprefix('tiktok_')}" for dag_id, counts in states.items())
    return [
        at_most(
            f"{name}: most app requests in any 1 s",
            per_second,
            int(qps) if qps == int(qps) else qps,
            note=f"of {len(app)}",
        ),
        at_most(f"{name}: most app requests in any 60 s", per_minute_seen, per_minute),
        exactly(f"{name}: 40100 (rate limit) answers", limited, 0),
        exactly(f"{name}: DAG runs succeeded", succeeded, total_runs, note=runs_note),
        info(f"{name}: wall time from firing to the last run", wall, "s"),
    ]


def _connect_with_rate_limit(stack: Any, rate: float) -> None:
    """``tiktok_default`` as the stack makes it, plus the ``rate_limit`` extra of the app."""
    from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, APP_ID, APP_SECRET

    extra = {"app_id": APP_ID, "app_secret": APP_SECRET, "advertiser_id": ADVERTISER_A, "rate_limit": f"{rate:g}"}
    body = {
        "connection_id": "tiktok_default",
        "conn_type": "tiktok_ads",
        "host": stack.emulator_url,
        "password": ACCESS_TOKEN,
        "extra": json.dumps(extra),
    }
    stack.api("DELETE", "/api/v2/connections/tiktok_default", ok=(204, 404))
    stack.api("POST", "/api/v2/connections", json=body)


# -------------------------------------------------------------------------------------------- main
PARTS = ("events", "audience", "dags")


def run(
    quick: bool = False,
    *,
    parts: Iterable[str] = PARTS,
    events: int | None = None,
    members: int | None = None,
    backfill_days: int | None = None,
    limits: Iterable[tuple[float, int]] = DAG_LIMITS,
    gz: bool = False,
    keep: bool = False,
    out: Callable[[str], None] = print,
) -> list[Figure]:
    """Run the chosen parts; print details through ``out`` and return the figures."""
    events = events or (QUICK_EVENTS if quick else FULL_EVENTS)
    members = members or (QUICK_MEMBERS if quick else FULL_MEMBERS)
    backfill_days = backfill_days or (QUICK_BACKFILL_DAYS if quick else FULL_BACKFILL_DAYS)
    work = Path(tempfile.mkdtemp(prefix="tiktok-load-"))
    figures: list[Figure] = []
    runners: dict[str, Callable[[], list[Figure]]] = {
        "events": lambda: part_events(work, events, gz, out),
        "audience": lambda: part_audience(work, members, out),
        "dags": lambda: part_dags(work, backfill_days, limits, out),
    }
    try:
        for part in parts:
            out(f"{part}:")
            started = time.monotonic()
            try:
                figures += runners[part]()
            except Exception as err:  # one part's failure must not hide the others' figures
                out(f"  part {part} failed: {type(err).__name__}: {err}")
                figures.append(check(f"part {part} ran to the end", False, "yes", note=f"{type(err).__name__}"))
            out(f"  ({part} took {time.monotonic() - started:.0f} s)")
    finally:
        if keep:
            out(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    internal = {
        "--events-child": lambda rest: events_child(*rest),
        "--audience-child": lambda rest: audience_child(*rest),
    }
    if argv and argv[0] in internal:  # this script as the emulator or a task process (see the parts)
        internal[argv[0]](argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", default="all", help="events, audience, dags, a comma-separated list, or all")
    parser.add_argument("--quick", action="store_true", help="200k events, 200k members, a 7-day backfill")
    parser.add_argument("--events", type=int, help=f"events of part events (default {FULL_EVENTS:,})")
    parser.add_argument("--members", type=int, help=f"members of part audience (default {FULL_MEMBERS:,})")
    parser.add_argument(
        "--backfill-days", type=int, help=f"ad-metrics days of part dags (default {FULL_BACKFILL_DAYS})"
    )
    parser.add_argument(
        "--limits",
        default=",".join(f"{q:g}/{m}" for q, m in DAG_LIMITS),
        help="app limits of the DAG rounds as QPS/PER_MINUTE, comma-separated (default %(default)s)",
    )
    parser.add_argument("--gzip", action="store_true", help="stream the events from a .csv.gz file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (Airflow home, state)")
    parser.add_argument("--figures-json", metavar="PATH", help="also write the figures as JSON (for run_all.py)")
    args = parser.parse_args(argv)
    parts = PARTS if args.part == "all" else tuple(p.strip() for p in args.part.split(",") if p.strip())
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; known: {', '.join(PARTS)}")
    try:
        limits = [(float(q), int(m)) for q, m in (item.split("/") for item in args.limits.split(","))]
    except ValueError:
        parser.error("--limits takes QPS/PER_MINUTE pairs, e.g. 10/600,3/180")
    figures = run(
        args.quick,
        parts=parts,
        events=args.events,
        members=args.members,
        backfill_days=args.backfill_days,
        limits=limits,
        gz=args.gzip,
        keep=args.keep,
    )
    print(render_text([Section("load", figures)]))
    if args.figures_json:
        write_json(args.figures_json, figures)
    if any(f.name.startswith("part ") and f.ok is False for f in figures):
        sys.exit(1)


if __name__ == "__main__":
    main()
