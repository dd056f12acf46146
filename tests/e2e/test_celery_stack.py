"""Multi-host Airflow: CeleryExecutor with two workers standing for two hosts, one app-wide TikTok limit (in the
Redis the Celery deployment already has) and one shared state folder (standing for a network mount).

The emulator enforces an app limit of 5 requests/s and 300/min and records every request's arrival. The three
example DAGs (the ad-metrics one as a backfill) and a mapped upload of a big events file run at once on both
workers; the test then measures at the emulator the most app requests in any 1 s and any 60 s, the rate-limit
answers, the audience calls per UTC day, the receipts per event id, and which worker ran each task.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scripts.celery_stack import CeleryStack
from scripts.demo import example_dag_ids
from scripts.stack import DAGS_FOLDER, link_dags_folder

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

CELERY_DAGS = Path(__file__).parent / "celery_dags"
FANOUT = "tiktok_events_fanout"
FANOUT_PIXEL = "CFANOUTPIXEL0000001"
EXAMPLE_PIXEL = "CEXAMPLEPIXEL000001"
AD_METRICS = "tiktok_ad_metrics"
AUDIENCE = "tiktok_audience_sync"
ADVERTISER_TZ = ZoneInfo("America/Los_Angeles")
WORKERS = ("host1", "host2")
#: The app limit the emulator enforces, and the connection's rate limit (the same: no hand division by hosts).
QPS, PER_MINUTE = 5, 300
#: The connection's Events API budget: the emulator does not enforce it, the test measures it.
EVENTS_RATE = 20
FANOUT_EVENTS, SHARDS = 3000, 4
METRICS_TABLE = "marketing.tiktok_ad_metrics_multihost"


@pytest.fixture(scope="module")
def multihost(postgres_server, redis_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The stack, started; the shared folder every worker sees; the moment the DAGs were unpaused."""
    import psycopg2

    conn = psycopg2.connect(postgres_server.dsn)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS airflow_celery")
        cursor.execute("CREATE DATABASE airflow_celery")
    conn.close()
    base = tmp_path_factory.mktemp("e2e_celery")
    shared = base / "shared"  # stands for a network mount both hosts have
    shared.mkdir(mode=0o700)
    stack = CeleryStack(
        base / "control",
        metadata_url=postgres_server.dsn.replace("postgresql://", "postgresql+psycopg2://").rsplit("/", 1)[0]
        + "/airflow_celery",
        broker_url=redis_server.url(5),
        workers=WORKERS,
        dags_folder=link_dags_folder(base / "dags", DAGS_FOLDER, CELERY_DAGS),
        emulator_args=["--qps", str(QPS), "--per-minute", str(PER_MINUTE), "--lock-seconds", "20"],
        conn_extra={
            "rate_limit": str(QPS),
            "events_rate_limit": str(EVENTS_RATE),
            "rate_limit_storage": redis_server.url(6),
            "state_uri": str(shared / "state"),
        },
        extra_env={
            "TIKTOK_EXAMPLE_STAGING_URI": str(shared / "staging"),
            "AIRFLOW_CONN_METRICS_DB": postgres_server.airflow_conn_json(),
            "TIKTOK_AD_METRICS_SQL_CONN_ID": "metrics_db",
            "TIKTOK_AD_METRICS_TABLE": METRICS_TABLE,
        },
    )
    try:
        started = time.monotonic()
        stack.start()
        yield {"stack": stack, "shared": shared, "dsn": postgres_server.dsn, "start_s": time.monotonic() - started}
    finally:
        stack.stop()


def write_big_input(path: Path, count: int) -> list[str]:
    """A conversions export of ``count`` purchases from the last hours, each with its own event id."""
    now = datetime.now(timezone.utc)
    ids = [f"fanout-{n:06d}" for n in range(count)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event", "event_time", "event_id", "email", "ip", "user_agent", "page_url", "value"])
        for n, event_id in enumerate(ids):
            moment = (now - timedelta(hours=1, seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            email = f"shopper{n}@example.com"
            writer.writerow(
                ["Purchase", moment, event_id, email, "203.0.113.9", "Mozilla/5.0", "https://shop.example.com/", "9.99"]
            )
    return ids


def worst_window(arrivals: list[float], seconds: float) -> int:
    """The most arrivals in any half-open window ``[t, t + seconds)`` (windows starting at an arrival suffice)."""
    arrivals = sorted(arrivals)
    worst, end = 0, 0
    for start, moment in enumerate(arrivals):
        while end < len(arrivals) and arrivals[end] < moment + seconds:
            end += 1
        worst = max(worst, end - start)
    return worst


def min_gap_ms(arrivals: list[float]) -> int | None:
    """The shortest time between two consecutive arrivals (the spacing the shared limiter kept, jitter included)."""
    ordered = sorted(arrivals)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return round(min(gaps) * 1000) if gaps else None


def local_midnight(days_ago: int) -> datetime:
    day = datetime.now(ADVERTISER_TZ).date() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, tzinfo=ADVERTISER_TZ)


def task_instances(stack: CeleryStack, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
    return stack.api("GET", path, params={"limit": 100})["task_instances"]


@pytest.fixture(scope="module")
def everything_at_once(multihost: dict[str, Any]) -> dict[str, Any]:
    """Every example DAG plus the mapped upload, started together on both workers; their runs and the figures."""
    stack, shared = multihost["stack"], multihost["shared"]
    dag_ids = [*example_dag_ids(), FANOUT]
    stack.wait_for_dags(dag_ids)
    inputs = shared / "inputs"
    inputs.mkdir()
    expected_ids = write_big_input(inputs / "conversions.csv", FANOUT_EVENTS)
    for dag_id in dag_ids:
        stack.unpause(dag_id)
    began, wall = time.time(), time.monotonic()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    backfill = stack.backfill(AD_METRICS, local_midnight(9), local_midnight(2), max_active_runs=4)
    runs = {
        (FANOUT, "multihost"): stack.trigger(
            FANOUT, "multihost", now, conf={"input": str(inputs / "conversions.csv"), "shards": SHARDS}
        ),
        ("tiktok_events_upload", "multihost"): stack.trigger("tiktok_events_upload", "multihost", now),
        (AUDIENCE, "multihost_a"): stack.trigger(AUDIENCE, "multihost_a", now),
        (AUDIENCE, "multihost_b"): stack.trigger(AUDIENCE, "multihost_b", now + timedelta(seconds=1)),
    }
    finished = {key: stack.wait_for_runs(key[0], [key[1]], timeout=300)[0] for key in runs}
    stack.wait_until_backfill_done(backfill["id"], timeout=300)
    backfill_runs = [r for r in stack.runs(AD_METRICS) if r.get("run_type") == "backfill"]
    wall_s = time.monotonic() - wall
    tis = [ti for (dag_id, run_id) in finished for ti in task_instances(stack, dag_id, run_id)]
    tis += [ti for run in backfill_runs for ti in task_instances(stack, AD_METRICS, run["dag_run_id"])]
    requests_log = stack.emulator_requests(since=began)
    app = [entry["arrived"] for entry in requests_log if "event/track" not in entry["path"]]
    events = [entry["arrived"] for entry in requests_log if "event/track" in entry["path"]]
    figures = {
        "start_s": round(multihost["start_s"], 1),
        "wall_s": round(wall_s, 1),
        "app_requests": len(app),
        "app_worst_1s": worst_window(app, 1.0),
        "app_worst_60s": worst_window(app, 60.0),
        "app_min_gap_ms": min_gap_ms(app),
        "events_requests": len(events),
        "events_worst_1s": worst_window(events, 1.0),
        "events_worst_60s": worst_window(events, 60.0),
        "events_min_gap_ms": min_gap_ms(events),
        "tasks_per_worker": dict(Counter(ti["hostname"] for ti in tis)),
    }
    print("multi-host figures:", json.dumps(figures, sort_keys=True))
    return {
        "stack": stack,
        "shared": shared,
        "dsn": multihost["dsn"],
        "runs": [*finished.values(), *backfill_runs],
        "tis": tis,
        "figures": figures,
        "expected_ids": expected_ids,
        "stats": stack.emulator("GET", "stats"),
    }


def test_every_run_succeeds_and_tasks_ran_on_both_workers(everything_at_once, record_property):
    record_property("multihost_figures", json.dumps(everything_at_once["figures"]))
    runs, tis = everything_at_once["runs"], everything_at_once["tis"]
    assert len(runs) == 4 + 8
    assert all(run["state"] == "success" for run in runs), [(r["dag_id"], r["state"]) for r in runs]
    assert all(ti["state"] == "success" for ti in tis)
    assert {ti["hostname"] for ti in tis} == set(WORKERS)
    mapped = [ti for ti in tis if ti["task_id"] == "upload_shard"]
    assert sorted(ti["map_index"] for ti in mapped) == list(range(SHARDS))


def test_the_app_limit_held_across_both_hosts(everything_at_once):
    figures, stats = everything_at_once["figures"], everything_at_once["stats"]
    assert figures["app_requests"] > 2 * QPS  # enough traffic from both hosts to have overrun a per-host limit
    assert figures["app_worst_1s"] <= QPS
    assert figures["app_worst_60s"] <= PER_MINUTE
    assert stats["codes"].get("40100", 0) == 0  # not one rate-limit answer, so no 5-minute lock


def test_the_events_budget_held_across_both_hosts(everything_at_once):
    """Four mapped shards on two hosts, two requests in flight each: per host they could send 2 x 20/s."""
    figures = everything_at_once["figures"]
    assert figures["events_requests"] > 4 * EVENTS_RATE
    assert figures["events_worst_1s"] <= EVENTS_RATE
    assert figures["events_worst_60s"] <= 60 * EVENTS_RATE


def test_audience_calls_stay_within_24_a_day_and_the_ledger_is_shared(everything_at_once):
    stack, shared, stats = everything_at_once["stack"], everything_at_once["shared"], everything_at_once["stats"]
    per_day = [count for days in stats["audience_calls"].values() for count in days.values()]
    assert per_day
    assert max(per_day) <= 24
    (ledger,) = shared.glob("state/audiences/*/*/ledger.json")
    claimed = sum(1 for _ in ledger.parent.glob("claims/*/*"))
    assert claimed == sum(per_day)  # every call the emulator saw was claimed on the shared store first
    for worker in WORKERS:
        assert not (stack.worker_home(worker) / "tiktok" / "state").exists()  # nothing host-local
        assert not (stack.worker_home(worker) / "tiktok" / "ratelimit").exists()


def test_every_event_id_arrives_exactly_once(everything_at_once):
    stack = everything_at_once["stack"]
    fanout = stack.emulator("GET", "events", params={"event_source_id": FANOUT_PIXEL})
    assert sorted(fanout["receipts"]) == everything_at_once["expected_ids"]
    assert set(fanout["receipts"].values()) == {1}
    example = stack.emulator("GET", "events", params={"event_source_id": EXAMPLE_PIXEL})
    assert example["receipts"]
    assert set(example["receipts"].values()) == {1}


def test_ad_metrics_from_both_hosts_land_once_in_the_shared_table(everything_at_once):
    import psycopg2

    with psycopg2.connect(everything_at_once["dsn"]) as conn, conn.cursor() as cursor:
        cursor.execute(f"SELECT date, ad_id FROM {METRICS_TABLE}")
        keys = cursor.fetchall()
    assert keys
    assert len(keys) == len(set(keys))
