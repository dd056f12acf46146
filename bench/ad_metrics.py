"""Benchmark of the ad-metric import: a year of an emulator advertiser with 1,000 ads, as one ranged run
and as 365 daily runs, TikTok calls next to the minimum TikTok's limits allow.

    .venv/bin/python bench/ad_metrics.py              # 365 days of advertiser 7000000000000000001
    .venv/bin/python bench/ad_metrics.py --days 60    # a shorter range

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
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAILY_TARGET_CALLS = 2


def peak_rss_mb() -> float:
    """Peak resident set size of this process (emulator included), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days to import, ending yesterday (default 365)")
    parser.add_argument("--advertiser", default=None, help="emulator advertiser (default the 1,000-ad one)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tiktok-bench-ad-metrics-"))
    os.environ["AIRFLOW_HOME"] = str(work / "airflow")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    logging.getLogger("airflow_provider_tiktok").setLevel(logging.WARNING)

    from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, APP_ID, APP_SECRET
    from airflow_provider_tiktok.emulator.testing import EmulatorServer
    from airflow_provider_tiktok.utils.reporting import date_windows, days_between

    advertiser_id = args.advertiser or ADVERTISER_A
    with EmulatorServer() as emulator:
        os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"] = json.dumps(
            {
                "conn_type": "tiktok_ads",
                "host": emulator.url,
                "password": ACCESS_TOKEN,
                "extra": {"app_id": APP_ID, "app_secret": APP_SECRET, "advertiser_id": advertiser_id},
            }
        )
        advertiser = emulator.state.dataset.advertisers[advertiser_id]
        today = datetime.now(advertiser.zone).date()
        first, last = today - timedelta(days=args.days), today - timedelta(days=1)
        days = days_between(first, last)
        rows_per_day = {day: len(emulator.state.expected_daily_rows(advertiser_id, day, True)) for day in days}
        ads = len(emulator.state.dataset.ads[advertiser_id])
        windows = date_windows(first, last)
        report_pages = sum(math.ceil(sum(rows_per_day[d] for d in days_between(*w)) / 1000) for w in windows)
        ad_pages = math.ceil(ads / 1000)
        print(
            f"advertiser {advertiser_id} ({advertiser.currency}, {advertiser.timezone}, {ads} ads): "
            f"{args.days} days {first}..{last}, {sum(rows_per_day.values())} rows"
        )

        # One ranged run (cold cache: it also reads advertiser/info once).
        started = time.perf_counter()
        ranged = run_import(work / "ranged", date_from=str(first), date_to=str(last), rate_limit=100_000)
        ranged_seconds = time.perf_counter() - started
        minimum = report_pages + ad_pages
        print(
            f"ranged run : {ranged['api_calls']} calls ({ranged['api_calls'] - 1} + 1 advertiser/info) in "
            f"{ranged['windows']} windows, {ranged_seconds:.1f} s wall, peak RSS {peak_rss_mb():.0f} MB; "
            f"minimum {minimum} "
            f"({report_pages} report pages over {len(windows)} windows + {ad_pages} ad/get page); "
            f"ratio {(ranged['api_calls'] - 1) / minimum:.2f}"
        )

        # The same year as daily runs (the cache now holds the advertiser's profile).
        started = time.perf_counter()
        calls = [run_import(work / "daily", date_from=str(day), rate_limit=100_000)["api_calls"] for day in days]
        daily_seconds = time.perf_counter() - started
        daily_minimum = sum(math.ceil(n / 1000) for n in rows_per_day.values()) + ad_pages * len(days)
        print(
            f"daily runs : {sum(calls)} calls for {len(days)} runs (max {max(calls)}, "
            f"mean {sum(calls) / len(calls):.2f} per run; target <= {DAILY_TARGET_CALLS}), {daily_seconds:.1f} s wall "
            f"({daily_seconds / len(days) * 1000:.0f} ms a run); minimum {daily_minimum}; "
            f"ratio {sum(calls) / daily_minimum:.2f}"
        )
        print(f"same files : {tree_digest(work / 'ranged') == tree_digest(work / 'daily')}")
        print(f"emulator   : {emulator.state.stats()['calls']}")


if __name__ == "__main__":
    main()
