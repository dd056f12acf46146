"""Benchmark of the ad-metric import: a year of an emulator advertiser with 1,000 ads, as one ranged run next to
the bare-client floor, and as 365 daily runs; TikTok calls next to the minimum TikTok's limits allow.

    .venv/bin/python bench/ad_metrics.py              # 365 days of advertiser 7000000000000000001
    .venv/bin/python bench/ad_metrics.py --days 60    # a shorter range
    .venv/bin/python bench/ad_metrics.py --quick      # 30 days
    .venv/bin/python bench/ad_metrics.py --profile /tmp/import.prof   # also cProfile the ranged import

The emulator runs as its own process with TikTok's default app limit (10 requests a second, 600 a minute) and
30 ms of latency; the import runs at the connection's default client limit, as a task would. The floor is a
bare ``requests`` client in this process that, right after the import, asks for the very report pages the
import asked for (their query strings read from the emulator's request log), one after the other, each
departure 1.1 / rate after the previous one as the provider's limiter spaces them, parsing nothing but the
JSON. ``import / floor`` is the users' question: how much slower than fetching alone is importing? It sums two
import-then-floor rounds, as the load of a shared machine drifts. The emulator must answer no request of
either with a rate-limit error (40100).

The minimum for the ranged run is, over its <=30-day windows, the sum of ceil(rows / 1000) report pages, plus
ceil(ads / 1000) ``ad/get/`` pages; for a daily run of an advertiser with <= 1,000 ads it is 2 (one report
page, one ``ad/get/`` page). The advertiser's currency and time zone cost one ``advertiser/info/`` call per
worker, then come from a local cache; the numbers below show it separately. Prints, never fails.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.figures import (
    Figure,
    Section,
    at_least,
    at_most,
    check,
    count_vs_floor,
    exactly,
    info,
    render_text,
    write_json,
)
from bench.load import EmulatorProcess, connection_env
from bench.measure import peak_rss_mb

DAILY_TARGET_CALLS = 2
FULL_DAYS = 365
QUICK_DAYS = 30
#: TikTok's default app limit and the latency the floor is measured at (the issue's setting).
APP_QPS, APP_PER_MINUTE, LATENCY_MS = 10, 600, 30
#: The import may take at most this many times the bare client's time.
FLOOR_TARGET = 1.2
#: Import-then-floor rounds per run: the machine's load drifts, so one pair alone can mislead either way.
ROUNDS = 2
#: Seconds between two phases (import, floor, daily runs): they space their calls apart, not from each other,
#: so the emulator's one-second window must empty before the next phase starts (else 11 arrivals can meet).
PHASE_PAUSE = 1.5
REPORT_PATH = "/open_api/v1.3/report/integrated/get/"
RATE_LIMITED = "40100"


def tree_digest(root: Path) -> str:
    """One SHA-256 over every partition's relative path and bytes (to compare two imports)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.jsonl")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class TaskInstance:
    """Accepts the operator's XCom push."""

    def xcom_push(self, key: str, value: object) -> None:
        return None


def operator(destination: Path, **kwargs: object) -> Any:
    """The operator of one run, built as a DAG file would (Airflow imported before any timing starts)."""
    from airflow.sdk.bases.operator import ExecutorSafeguard

    from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator

    ExecutorSafeguard.test_mode = True  # executed directly, as in Airflow's own tests, not by a task runner
    return TikTokAdMetricsOperator(task_id="bench", destination=str(destination), **kwargs)


def execute(op: Any) -> dict[str, Any]:
    """One operator run, as a task would execute it."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return dict(op.execute({"ti": TaskInstance(), "outlet_events": OutletEventAccessors()}))


def rate_limited(emulator: EmulatorProcess) -> int:
    """How many 40100 answers the emulator has given so far."""
    return int(emulator.get("stats")["codes"].get(RATE_LIMITED, 0))


def logged(emulator: EmulatorProcess, since: float, path: str = "") -> list[dict[str, Any]]:
    """The emulator's log of the requests answered at or after ``since`` (wall clock) whose path holds ``path``."""
    import requests

    answer = requests.get(f"{emulator.url}/_emulator/requests", params={"path": path, "since": since}, timeout=60)
    answer.raise_for_status()
    return list(answer.json()["requests"])


def report_queries(emulator: EmulatorProcess, since: float) -> list[dict[str, str]]:
    """The query strings of the report requests the emulator received at or after ``since``, by window and
    page: what the import asked for, as it went on the wire."""
    queries = [dict(entry["query"]) for entry in logged(emulator, since, REPORT_PATH)]
    return sorted(queries, key=lambda query: (query["start_date"], int(query["page"])))


def tightest_second(emulator: EmulatorProcess, since: float, limit: int = APP_QPS) -> float | None:
    """The shortest time in which the emulator saw ``limit + 1`` requests arrive since ``since`` (more than 1 s
    keeps within ``limit`` a second); None when fewer arrived."""
    arrivals = sorted(entry["arrived"] for entry in logged(emulator, since))
    spans = [last - first for first, last in zip(arrivals, arrivals[limit:], strict=False)]
    return min(spans) if spans else None


def bare_floor(url: str, queries: list[dict[str, str]], rate: float) -> tuple[float, int, int]:
    """Fetch ``queries`` one after the other with a bare session, each departure ``1.1 / rate`` after the previous
    one (as the provider's limiter spaces them), parsing only the JSON; (seconds, rows, non-zero codes)."""
    import requests

    from airflow_provider_tiktok.emulator import ACCESS_TOKEN
    from airflow_provider_tiktok.utils.ratelimit import ARRIVAL_JITTER

    interval = (1 + ARRIVAL_JITTER) / rate
    rows = errors = 0
    with requests.Session() as session:
        session.headers.update({"Access-Token": ACCESS_TOKEN})
        started = time.perf_counter()
        last: float | None = None
        for query in queries:
            if last is not None and (wait := last + interval - time.monotonic()) > 0:
                time.sleep(wait)
            last = time.monotonic()
            answer = session.get(url + REPORT_PATH, params=query, timeout=60).json()
            errors += answer["code"] != 0
            rows += len((answer.get("data") or {}).get("list") or [])
        return time.perf_counter() - started, rows, errors


def run(
    quick: bool = False,
    *,
    days: int | None = None,
    advertiser: str | None = None,
    profile: str | None = None,
    out: Callable[[str], None] = print,
) -> list[Figure]:
    """Import ``days`` (default 365, 30 with ``quick``) ranged, then the floor, then daily; print, return figures."""
    days_n = days or (QUICK_DAYS if quick else FULL_DAYS)
    with tempfile.TemporaryDirectory(prefix="tiktok-bench-ad-metrics-") as tmp:
        return _run(Path(tmp), days_n, advertiser, profile, out)


@dataclass
class Plan:
    """The range ending yesterday in the advertiser's zone, and the least TikTok's limits allow for it."""

    advertiser_id: str
    days: list[date]
    rows_per_day: dict[date, int]
    ads: int
    currency: str
    timezone: str

    @classmethod
    def of(cls, advertiser_id: str, days_n: int, anchor: date) -> Plan:
        """From the emulator's own data (seed and anchor), computed in this process."""
        from airflow_provider_tiktok.emulator import DEFAULT_SEED
        from airflow_provider_tiktok.emulator.data import expected_daily_rows, get_dataset

        dataset = get_dataset(DEFAULT_SEED, anchor)
        account = dataset.advertisers[advertiser_id]
        today = datetime.now(account.zone).date()
        days = [today - timedelta(days=n) for n in range(days_n, 0, -1)]
        rows = {
            day: len(expected_daily_rows(advertiser_id, day, True, seed=DEFAULT_SEED, anchor=anchor)) for day in days
        }
        return cls(advertiser_id, days, rows, len(dataset.ads[advertiser_id]), account.currency, account.timezone)

    @property
    def ad_pages(self) -> int:
        return math.ceil(self.ads / 1000)

    def report_pages(self) -> tuple[int, int]:
        """(report pages, windows) of the least ranged import: ceil(rows / 1000) per <=30-day window."""
        from airflow_provider_tiktok.ad_metrics.report import date_windows, days_between

        windows = date_windows(self.days[0], self.days[-1])
        pages = sum(math.ceil(sum(self.rows_per_day[d] for d in days_between(*w)) / 1000) for w in windows)
        return pages, len(windows)


def timed_import(emulator: EmulatorProcess, plan: Plan, destination: Path, profile: str | None) -> Measured:
    """One ranged import at the connection's default limit, with a cold advertiser cache (so it also reads
    advertiser/info once) and Airflow already imported; optionally profiled."""
    from airflow_provider_tiktok.ad_metrics.profile import PROFILE_FOLDER
    from airflow_provider_tiktok.utils.storage import default_root

    shutil.rmtree(default_root("ad_metrics") / PROFILE_FOLDER, ignore_errors=True)
    time.sleep(PHASE_PAUSE)
    op = operator(destination, date_from=str(plan.days[0]), date_to=str(plan.days[-1]))
    since, limited = time.time(), rate_limited(emulator)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    summary = execute(op)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    seconds = time.perf_counter() - started
    return Measured(summary, seconds, since, rate_limited(emulator) - limited, tightest_second(emulator, since))


@dataclass
class Measured:
    """One ranged import: its summary, wall time, start (wall clock), 40100 answers and tightest arrivals."""

    summary: dict[str, Any]
    seconds: float
    since: float
    limited: int
    tightest: float | None


def ranged_run(
    emulator: EmulatorProcess, plan: Plan, work: Path, profile: str | None, out: Callable[[str], None]
) -> list[Figure]:
    """Ranged imports, each followed by the bare client over the report pages it asked for (ROUNDS times, so
    load that drifts during the run weighs on both sides alike); their figures."""
    imports: list[Measured] = []
    floors: list[tuple[float, int, int]] = []
    for n in range(ROUNDS):
        run = timed_import(emulator, plan, work / ("ranged" if n == 0 else f"ranged-{n}"), profile if n == 0 else None)
        imports.append(run)
        out(
            f"ranged run : {run.summary['api_calls']} calls in {run.summary['windows']} windows, "
            f"{run.summary['rows']} rows, {run.seconds:.1f} s wall; 40100 answers {run.limited}; tightest "
            f"{APP_QPS + 1} arrivals at the emulator {run.tightest or 0:.3f} s (over 1 s keeps the limit)"
        )
        queries = report_queries(emulator, run.since)
        limited = rate_limited(emulator)
        time.sleep(PHASE_PAUSE)
        seconds, rows, errors = bare_floor(emulator.url, queries, APP_QPS)
        floors.append((seconds, rows, rate_limited(emulator) - limited))
        out(
            f"bare floor : {len(queries)} report pages, {rows} rows, {seconds:.1f} s wall (one after the other, "
            f"departures {1.1 / APP_QPS:.2f} s apart); non-zero codes {errors}; 40100 answers {floors[-1][2]}"
        )
        out(f"             this round's import / floor = {run.seconds / seconds:.2f}")
    ranged, rss = imports[0].summary, peak_rss_mb()
    seconds, floor_seconds = sum(run.seconds for run in imports), sum(floor[0] for floor in floors)
    ratio = seconds / floor_seconds
    tightest = min((run.tightest for run in imports if run.tightest is not None), default=None)
    ranged_limited = sum(run.limited for run in imports)
    floor_rows, floor_limited = floors[0][1], sum(floor[2] for floor in floors)
    report_pages, windows = plan.report_pages()
    minimum = report_pages + plan.ad_pages
    out(
        f"calls      : {ranged['api_calls']} ({ranged['api_calls'] - 1} + 1 advertiser/info); minimum {minimum} "
        f"({report_pages} report pages over {windows} windows + {plan.ad_pages} ad/get page); "
        f"ratio {(ranged['api_calls'] - 1) / minimum:.2f}; peak RSS {rss:.0f} MB"
    )
    out(
        f"import / floor = {ratio:.2f}  ({seconds:.1f} s / {floor_seconds:.1f} s over {ROUNDS} rounds; "
        f"target <= {FLOOR_TARGET})"
    )
    days_n = len(plan.days)
    return [
        count_vs_floor(
            f"report calls of one {days_n}-day ranged import vs floor",
            ranged["api_calls"] - 1,
            minimum,
            "calls",
            note="+1 advertiser/info, cached",
        ),
        Figure(
            f"wall time of the {days_n}-day ranged import vs the bare client",
            round(seconds / ROUNDS, 2),
            "s",
            f"<= {FLOOR_TARGET} x floor ({floor_seconds / ROUNDS:.1f} s)",
            ratio,
            "floor",
            ratio <= FLOOR_TARGET,
            note=f"mean of {ROUNDS} rounds; app limit {APP_QPS}/s, {LATENCY_MS} ms latency, emulator out of process",
        ),
        exactly("rows the bare client read vs the import", floor_rows, ranged["rows"], "rows"),
        exactly("40100 answers to the import and the bare client", ranged_limited + floor_limited, 0),
        *(
            [at_least(f"tightest {APP_QPS + 1} import arrivals at the emulator", tightest, 1.0, "s")]
            if tightest
            else []
        ),
        info(f"peak RSS of the {days_n}-day ranged import", rss, "MB"),
    ]


def daily_runs(plan: Plan, work: Path, out: Callable[[str], None]) -> list[Figure]:
    """The same range as daily runs (the cache now holds the advertiser's profile), and the byte check."""
    time.sleep(PHASE_PAUSE)
    started = time.perf_counter()
    calls = [execute(operator(work / "daily", date_from=str(day)))["api_calls"] for day in plan.days]
    seconds = time.perf_counter() - started
    minimum = sum(math.ceil(n / 1000) for n in plan.rows_per_day.values()) + plan.ad_pages * len(plan.days)
    out(
        f"daily runs : {sum(calls)} calls for {len(plan.days)} runs (max {max(calls)}, "
        f"mean {sum(calls) / len(calls):.2f} per run; target <= {DAILY_TARGET_CALLS}), {seconds:.1f} s "
        f"wall ({seconds / len(plan.days) * 1000:.0f} ms a run); minimum {minimum}; ratio {sum(calls) / minimum:.2f}"
    )
    same = tree_digest(work / "ranged") == tree_digest(work / "daily")
    out(f"same files : {same}")
    return [
        count_vs_floor(
            "report calls per backfill day vs floor",
            sum(calls) / len(calls),
            minimum / len(plan.days),
            "calls",
            limit=DAILY_TARGET_CALLS,
        ),
        at_most("most calls of one daily run", max(calls), DAILY_TARGET_CALLS, "calls"),
        info(f"wall time per daily run ({len(plan.days)} runs)", seconds / len(plan.days) * 1000, "ms"),
        check("ranged and daily imports wrote the same bytes", same, "identical"),
    ]


def _run(
    work: Path, days_n: int, advertiser: str | None, profile: str | None, out: Callable[[str], None]
) -> list[Figure]:
    os.environ["AIRFLOW_HOME"] = str(work / "airflow")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    logging.getLogger("airflow_provider_tiktok").setLevel(logging.ERROR)

    from airflow_provider_tiktok.emulator import ADVERTISER_A

    anchor = datetime.now(timezone.utc).date()
    plan = Plan.of(advertiser or ADVERTISER_A, days_n, anchor)
    limits = ("--qps", str(APP_QPS), "--per-minute", str(APP_PER_MINUTE), "--latency-ms", str(LATENCY_MS))
    with EmulatorProcess(*limits, "--anchor", anchor.isoformat(), "--log-level", "warning") as emulator:
        os.environ.update(connection_env(emulator.url, advertiser_id=plan.advertiser_id))
        out(
            f"advertiser {plan.advertiser_id} ({plan.currency}, {plan.timezone}, {plan.ads} ads): {days_n} days "
            f"{plan.days[0]}..{plan.days[-1]}, {sum(plan.rows_per_day.values())} rows; emulator out of process, "
            f"app limit {APP_QPS}/s and {APP_PER_MINUTE}/min, {LATENCY_MS} ms latency"
        )
        figures = ranged_run(emulator, plan, work, profile, out) + daily_runs(plan, work, out)
        stats = emulator.get("stats")
        out(f"emulator   : {stats['calls']}, codes {stats['codes']}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=None, help="days to import, ending yesterday (default 365)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DAYS} days instead of {FULL_DAYS}")
    parser.add_argument("--advertiser", default=None, help="emulator advertiser (default the 1,000-ad one)")
    parser.add_argument("--profile", metavar="PATH", help="write a cProfile of the ranged import (its main thread)")
    parser.add_argument("--figures-json", metavar="PATH", help="also write the figures as JSON (for run_all.py)")
    args = parser.parse_args()
    figures = run(args.quick, days=args.days, advertiser=args.advertiser, profile=args.profile)
    print(render_text([Section("ad_metrics", figures)]))
    if args.figures_json:
        write_json(args.figures_json, figures)


if __name__ == "__main__":
    main()
