"""Benchmark of the ad-metric import: a year of an emulator advertiser with 1,000 ads, as one ranged run
and as 365 daily runs, TikTok calls next to the minimum TikTok's limits allow.

    .venv/bin/python bench/ad_metrics.py              # 365 days of advertiser 7000000000000000001
    .venv/bin/python bench/ad_metrics.py --days 60    # a shorter range
    .venv/bin/python bench/ad_metrics.py --quick      # 30 days

The emulator runs in this process (``EmulatorServer``) on real time; the client rate limit is raised so the
wall time measures the import, not the spacing. The minimum for the ranged run is, over its <=30-day
windows, the sum of ceil(rows / 1000) report pages, plus ceil(ads / 1000) ``ad/get/`` pages; for a daily
run of an advertiser with <= 1,000 ads it is 2 (one report page, one ``ad/get/`` page). The advertiser's
currency and time zone cost one ``advertiser/info/`` call per worker, then come from a local cache; the
numbers below show it separately. Prints, never fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.figures import Figure, Section, at_most, check, count_vs_floor, info, render_text, write_json
from bench.measure import peak_rss_mb

DAILY_TARGET_CALLS = 2
FULL_DAYS = 365
QUICK_DAYS = 30


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


def run_import(destination: Path, **kwargs: object) -> dict:
    """One operator run, as a task would execute it."""
    from airflow.sdk.bases.operator import ExecutorSafeguard
    from airflow.sdk.execution_time.context import OutletEventAccessors

    from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator

    ExecutorSafeguard.test_mode = True  # executed directly, as in Airflow's own tests, not by a task runner
    op = TikTokAdMetricsOperator(task_id="bench", destination=str(destination), **kwargs)
    return op.execute({"ti": TaskInstance(), "outlet_events": OutletEventAccessors()})


def run(
    quick: bool = False, *, days: int | None = None, advertiser: str | None = None, out: Callable[[str], None] = print
) -> list[Figure]:
    """Import ``days`` (default 365, 30 with ``quick``) ranged and daily; print details, return the figures."""
    days_n = days or (QUICK_DAYS if quick else FULL_DAYS)
    with tempfile.TemporaryDirectory(prefix="tiktok-bench-ad-metrics-") as tmp:
        return _run(Path(tmp), days_n, advertiser, out)


def _run(work: Path, days_n: int, advertiser: str | None, out: Callable[[str], None]) -> list[Figure]:
    os.environ["AIRFLOW_HOME"] = str(work / "airflow")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    logging.getLogger("airflow_provider_tiktok").setLevel(logging.WARNING)

    from airflow_provider_tiktok.ad_metrics.report import date_windows, days_between
    from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, APP_ID, APP_SECRET
    from airflow_provider_tiktok.emulator.testing import EmulatorServer

    advertiser_id = advertiser or ADVERTISER_A
    with EmulatorServer() as emulator:
        os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"] = json.dumps(
            {
                "conn_type": "tiktok_ads",
                "host": emulator.url,
                "password": ACCESS_TOKEN,
                "extra": {"app_id": APP_ID, "app_secret": APP_SECRET, "advertiser_id": advertiser_id},
            }
        )
        dataset = emulator.state.dataset
        zone = dataset.advertisers[advertiser_id].zone
        today = datetime.now(zone).date()
        first, last = today - timedelta(days=days_n), today - timedelta(days=1)
        days_list = days_between(first, last)
        rows_per_day = {day: len(emulator.state.expected_daily_rows(advertiser_id, day, True)) for day in days_list}
        ads = len(dataset.ads[advertiser_id])
        windows = date_windows(first, last)
        report_pages = sum(math.ceil(sum(rows_per_day[d] for d in days_between(*w)) / 1000) for w in windows)
        ad_pages = math.ceil(ads / 1000)
        profile = dataset.advertisers[advertiser_id]
        out(
            f"advertiser {advertiser_id} ({profile.currency}, {profile.timezone}, {ads} ads): "
            f"{days_n} days {first}..{last}, {sum(rows_per_day.values())} rows"
        )

        # One ranged run (cold cache: it also reads advertiser/info once).
        started = time.perf_counter()
        ranged = run_import(work / "ranged", date_from=str(first), date_to=str(last), rate_limit=100_000)
        ranged_seconds = time.perf_counter() - started
        ranged_rss = peak_rss_mb()
        minimum = report_pages + ad_pages
        out(
            f"ranged run : {ranged['api_calls']} calls ({ranged['api_calls'] - 1} + 1 advertiser/info) in "
            f"{ranged['windows']} windows, {ranged_seconds:.1f} s wall, peak RSS {ranged_rss:.0f} MB; "
            f"minimum {minimum} "
            f"({report_pages} report pages over {len(windows)} windows + {ad_pages} ad/get page); "
            f"ratio {(ranged['api_calls'] - 1) / minimum:.2f}"
        )

        # The same range as daily runs (the cache now holds the advertiser's profile).
        started = time.perf_counter()
        calls = [run_import(work / "daily", date_from=str(day), rate_limit=100_000)["api_calls"] for day in days_list]
        daily_seconds = time.perf_counter() - started
        daily_minimum = sum(math.ceil(n / 1000) for n in rows_per_day.values()) + ad_pages * len(days_list)
        out(
            f"daily runs : {sum(calls)} calls for {len(days_list)} runs (max {max(calls)}, "
            f"mean {sum(calls) / len(calls):.2f} per run; target <= {DAILY_TARGET_CALLS}), {daily_seconds:.1f} s "
            f"wall ({daily_seconds / len(days_list) * 1000:.0f} ms a run); minimum {daily_minimum}; "
            f"ratio {sum(calls) / daily_minimum:.2f}"
        )
        same = tree_digest(work / "ranged") == tree_digest(work / "daily")
        out(f"same files : {same}")
        out(f"emulator   : {emulator.state.stats()['calls']}")
    return [
        count_vs_floor(
            f"report calls of one {days_n}-day ranged import vs floor",
            ranged["api_calls"] - 1,
            minimum,
            "calls",
            note="+1 advertiser/info, cached",
        ),
        info(f"wall time of the {days_n}-day ranged import", ranged_seconds, "s"),
        info(f"peak RSS of the {days_n}-day ranged import (emulator in-process)", ranged_rss, "MB"),
        count_vs_floor(
            "report calls per backfill day vs floor",
            sum(calls) / len(calls),
            daily_minimum / len(days_list),
            "calls",
            limit=DAILY_TARGET_CALLS,
        ),
        at_most("most calls of one daily run", max(calls), DAILY_TARGET_CALLS, "calls"),
        info(f"wall time per daily run ({len(days_list)} runs)", daily_seconds / len(days_list) * 1000, "ms"),
        check("ranged and daily imports wrote the same bytes", same, "identical"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=None, help="days to import, ending yesterday (default 365)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DAYS} days instead of {FULL_DAYS}")
    parser.add_argument("--advertiser", default=None, help="emulator advertiser (default the 1,000-ad one)")
    parser.add_argument("--figures-json", metavar="PATH", help="also write the figures as JSON (for run_all.py)")
    args = parser.parse_args()
    figures = run(args.quick, days=args.days, advertiser=args.advertiser)
    print(render_text([Section("ad_metrics", figures)]))
    if args.figures_json:
        write_json(args.figures_json, figures)


if __name__ == "__main__":
    main()
