"""Crash tests in a real Airflow: SIGKILL the process running ``execute`` mid-run; the Airflow retry finishes.

Three crash points run at the same time on the session's stack, each with its own inputs, so reruns are
independent: an event upload of 20,000 events killed with batches in flight, a first audience sync of a
50,000-member cohort killed after its CREATE was reserved in the ledger and sent, and a 45-day metrics import
killed after the first 30-day report window was written and while the second was being read. "Mid-run" is
checked, not assumed: the emulator answers the task's calls slowly (delay faults over ``/_emulator/faults``)
and the test kills only once the emulator's request log (or the ledger) shows some but not all of the work.
The killed process is the task runner the DAG's ``on_execute_callback`` named (Airflow records the same pid
for try 1), never its supervisor or the scheduler. Expected results are computed here from the inputs and
the emulator's seeded data, not from the provider's code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A
from airflow_provider_tiktok.emulator.data import advertiser_today, expected_daily_rows
from scripts.stack import Stack, wait_until
from tests.e2e.crash_dags.tiktok_crash import pid_file
from tests.helpers.ad_metrics import expected_record
from tests.helpers.e2e import PII_INPUTS

pytestmark = pytest.mark.e2e

EVENTS = 20_000
BATCH = 1_000
#: The crash DAG's ``max_in_flight``: at most this many batches can be on the wire when the task dies.
IN_FLIGHT = 4
MEMBERS = 50_000
METRIC_DAYS = 45
#: TikTok's report window; the 45 days are read as a 30-day and a 15-day window.
REPORT_WINDOW_DAYS = 30
PAGE_SIZE = 1_000
AUDIENCE_DAILY_LIMIT = 24
CREATE_PATH = "dmp/custom_audience/create"
#: How long the emulator holds the killed task's CREATE before carrying it out: longer than the retry takes to
#: start and look the audience up by name (about 6 s here).
CREATE_DELAY = 20.0
#: How long the test waits for a task to reach its crash point, and for a run to finish after the kill.
MID_RUN_TIMEOUT = 150.0
RUN_TIMEOUT = 240.0


@dataclass
class Crash:
    """One crash point: the run to start, the faults that slow it, and when to kill its task process."""

    dag_id: str
    task_id: str
    run_id: str
    conf: dict[str, Any]
    faults: list[dict[str, Any]]
    #: Returns what it saw once the run is mid-way (then the test kills), else None.
    mid_run: Callable[[Stack, Crash], dict[str, Any] | None]
    expected: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    pid: int = 0
    titles: tuple[str, str] = ("", "")
    seen: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------- the three runs
def events_crash(home: Path, token: str) -> Crash:
    """20 batches of 1,000 events (raw e-mails and phones); the first 16 requests answer 0.8 s late."""
    now = datetime.now(timezone.utc)
    source = home / PII_INPUTS / f"crash_events_{token}.csv"
    lines = ["event,event_time,event_id,customer_email,customer_phone,landing_url,value,currency"]
    for n in range(EVENTS):
        moment = (now - timedelta(hours=1, seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        email = f" Crash.Buyer{n}.{token}@Example.ORG " if n % 3 else f"crash.buyer{n}.{token}@example.org"
        lines.append(
            f"Purchase,{moment},crash-{token}-{n},{email},(212) 555-{n % 10_000:04d},"
            f"https://shop.example.com/orders/{n},19.99,USD"
        )
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pixel = f"CCRASH{token.upper()}"

    def mid_run(stack: Stack, crash: Crash) -> dict[str, Any] | None:
        answered = [r for r in stack.emulator_requests("event/track", since=crash.started) if r["code"] == 0]
        return {"answered": len(answered)} if len(answered) >= 5 else None

    return Crash(
        "tiktok_crash_events",
        "upload_events",
        f"crash_events_{token}",
        {"events": str(source), "pixel": pixel},
        [{"path": "event/track", "kind": "delay", "delay_ms": 800, "count": 16}],
        mid_run,
        {"pixel": pixel, "event_ids": {f"crash-{token}-{n}" for n in range(EVENTS)}},
    )


def ledger_path(home: Path, audience_name: str) -> Path:
    """The audience's ledger file under the default state root (the key is the name's SHA-256, 32 hex)."""
    key = "name-" + hashlib.sha256(audience_name.encode()).hexdigest()[:32]
    return home / "tiktok" / "state" / "audiences" / ADVERTISER_A / key / "ledger.json"


def audience_crash(home: Path, token: str) -> Crash:
    """A first sync of 50,000 raw e-mails whose CREATE reaches TikTok and is answered only 20 s later: the task
    dies with the call in flight, TikTok still carries it out, after the retry has looked the audience up."""
    source = home / PII_INPUTS / f"crash_members_{token}.csv"
    raw = [f"Crash.Member{n}.{token}@Example.NET" + (" " if n % 7 == 0 else "") for n in range(MEMBERS)]
    source.write_text("email\n" + "\n".join(raw) + "\n", encoding="utf-8")
    name = f"Crash test cohort {token}"
    hashes = sorted(hashlib.sha256(email.strip().lower().encode()).hexdigest() for email in raw)

    def mid_run(stack: Stack, crash: Crash) -> dict[str, Any] | None:
        try:
            ledger = json.loads(ledger_path(stack.home, name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        reserved = [c for calls in ledger["calls"].values() for c in calls if c["status"] == "reserved"]
        # The delay rule's count drops to 0 when the CREATE arrives at the emulator (it then waits 20 s).
        (rule,) = [r for r in stack.emulator("GET", "faults")["rules"] if r["path"] == CREATE_PATH]
        if not reserved or rule["count"] != 0:
            return None
        paths = [r["path"].rsplit("/v1.3/", 1)[-1] for r in stack.emulator_requests("custom_audience", crash.started)]
        return {"reserved": reserved, "answered": paths, "create_arrived": time.time()}

    return Crash(
        "tiktok_crash_audience",
        "sync_cohort",
        f"crash_audience_{token}",
        {"members": str(source), "audience_name": name},
        [{"path": CREATE_PATH, "kind": "delay", "delay_ms": int(CREATE_DELAY * 1000), "count": 1}],
        mid_run,
        {"name": name, "hashes": hashes},
    )


def metrics_crash(stack: Stack, token: str) -> Crash:
    """45 final days of advertiser A (two report windows); report pages answer 0.3 s late during try 1."""
    clock = stack.emulator("GET", "clock")
    now, anchor = datetime.fromisoformat(clock["now"]), date.fromisoformat(clock["anchor"])
    last = advertiser_today(ADVERTISER_A, now) - timedelta(days=5)  # past TikTok's 3-day revision window
    days = [last - timedelta(days=METRIC_DAYS - 1 - k) for k in range(METRIC_DAYS)]
    rows = {day: expected_daily_rows(ADVERTISER_A, day, True, now, anchor=anchor) for day in days}
    first_window, second_window = days[:REPORT_WINDOW_DAYS], days[REPORT_WINDOW_DAYS:]
    pages = [math.ceil(sum(len(rows[d]) for d in window) / PAGE_SIZE) for window in (first_window, second_window)]
    destination = stack.home / "tiktok" / "crash_metrics" / token

    first_files = {f"date={day.isoformat()}.jsonl" for day in first_window}

    def mid_run(stack: Stack, crash: Crash) -> dict[str, Any] | None:
        """Between the windows: the second one being read and every day of the first one written (the reader
        fetches a window ahead of the writer, so on a loaded machine the second may be read in full by then)."""
        answered = len(stack.emulator_requests("report/integrated/get", crash.started))
        if answered < pages[0] + 2:
            return None
        folder = destination / f"ad_account_id={ADVERTISER_A}"
        files = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
        if not first_files <= set(files):
            return None
        return {"report_pages": answered, "files": files}

    return Crash(
        "tiktok_crash_metrics",
        "import_ad_metrics",
        f"crash_metrics_{token}",
        {"date_from": days[0].isoformat(), "date_to": last.isoformat(), "destination": str(destination)},
        [{"path": "report/integrated/get", "kind": "delay", "delay_ms": 300, "count": pages[0] + 4}],
        mid_run,
        {"days": days, "rows": rows, "pages": pages, "first_window": first_window, "destination": destination},
    )


# ----------------------------------------------------------------------------------------------- killing
def kill_mid_run(stack: Stack, crash: Crash) -> None:
    """Wait for try 1's task process and its crash point, then SIGKILL exactly that process."""
    marker = pid_file(stack.home, crash.dag_id, crash.task_id, crash.run_id, 1)
    crash.pid = int(wait_until(lambda: marker.read_text().strip(), MID_RUN_TIMEOUT, f"{marker} (try 1 started)"))
    process = psutil.Process(crash.pid)
    crash.titles = (" ".join(process.cmdline()), " ".join(process.parent().cmdline()))
    crash.seen = wait_until(lambda: crash.mid_run(stack, crash), MID_RUN_TIMEOUT, f"{crash.dag_id} mid-run", 0.05)
    os.kill(crash.pid, signal.SIGKILL)
    process.wait(10)


@pytest.fixture(scope="module")
def crashes(stack: Stack) -> dict[str, Crash]:
    """Start the three crash runs at once, kill each task at its crash point, wait until every run ends."""
    token = uuid.uuid4().hex[:10]
    (stack.home / PII_INPUTS).mkdir(exist_ok=True)
    plans = {
        "events": events_crash(stack.home, token),
        "audience": audience_crash(stack.home, token),
        "metrics": metrics_crash(stack, token),
    }
    stack.wait_for_dags([plan.dag_id for plan in plans.values()])
    for plan in plans.values():
        stack.unpause(plan.dag_id)
    stack.emulator("POST", "faults", json={"rules": [rule for plan in plans.values() for rule in plan.faults]})
    try:
        started = time.time()
        for plan in plans.values():
            plan.started = started
            stack.trigger(plan.dag_id, plan.run_id, None, conf=plan.conf)
        with ThreadPoolExecutor(len(plans)) as pool:
            list(pool.map(lambda plan: kill_mid_run(stack, plan), plans.values()))
        for plan in plans.values():
            stack.wait_for_runs(plan.dag_id, [plan.run_id], timeout=RUN_TIMEOUT)
        # TikTok answers the killed task's CREATE only now: judge the audience once it has.
        arrived = plans["audience"].seen["create_arrived"]
        wait_until(
            lambda: [r for r in stack.emulator_requests(CREATE_PATH, arrived + CREATE_DELAY - 1) if r["code"] == 0],
            CREATE_DELAY + 30,
            "the killed task's CREATE to be carried out",
        )
    finally:
        stack.emulator("DELETE", "faults")
    return plans


def assert_killed_then_retried(stack: Stack, crash: Crash) -> dict[str, Any]:
    """Try 1 died by our SIGKILL in the task runner, try 2 succeeded; returns try 2's summary (XCom)."""
    tries = stack.task_tries(crash.dag_id, crash.run_id, crash.task_id)
    assert [(t["try_number"], t["state"]) for t in tries] == [(1, "failed"), (2, "success")]
    assert tries[0]["pid"] == crash.pid, "Airflow ran try 1 in another process than the one killed"
    task_title, supervisor_title = crash.titles
    assert task_title.startswith("airflow worker -- ")
    assert "LocalExecutor" not in task_title
    assert supervisor_title.startswith("airflow worker -- LocalExecutor")
    log = stack.home / "logs" / f"dag_id={crash.dag_id}" / f"run_id={crash.run_id}" / f"task_id={crash.task_id}"
    assert '"signal_name":"SIGKILL"' in (log / "attempt=1.log").read_text(encoding="utf-8")
    return stack.xcom(crash.dag_id, crash.run_id, crash.task_id)


# ------------------------------------------------------------------------------------------------ tests
def test_events_killed_mid_upload_deliver_every_event_with_resends_only_of_batches_in_flight(stack, crashes):
    crash = crashes["events"]
    summary = assert_killed_then_retried(stack, crash)
    batches = EVENTS // BATCH
    assert 5 <= crash.seen["answered"] < batches, f"not mid-run: {crash.seen}"

    received = stack.emulator("GET", "events", params={"event_source_id": crash.expected["pixel"]})
    receipts: dict[str, int] = received["receipts"]
    assert set(receipts) == crash.expected["event_ids"]  # nothing lost, nothing foreign
    answers = [r for r in stack.emulator_requests("event/track", crash.started) if r["code"] == 0]
    resent_batches = len(answers) - batches
    # Only batches on the wire when the task died can reach TikTok twice (TikTok processed them, the answer
    # never reached the task); TikTok de-duplicates those by event_id, so each still counts once.
    assert 0 <= resent_batches <= IN_FLIGHT
    twice = [event_id for event_id, count in receipts.items() if count == 2]
    assert sorted(set(receipts.values())) <= [1, 2]
    assert len(twice) == resent_batches * BATCH
    assert received["total_receipts"] == EVENTS + len(twice)
    assert received["unique"] == EVENTS

    assert (summary["received"], summary["sent"], summary["rejected"], summary["batches"]) == (EVENTS, EVENTS, 0, 20)
    assert summary["batches_resumed"] >= 1, "the retry resent batches TikTok had already accepted"
    assert summary["api_calls"] == batches - summary["batches_resumed"]  # try 2 sent only the rest
    progress = stack.home / "tiktok" / "state" / "events" / crash.dag_id / crash.task_id / f"{crash.run_id}.json"
    recorded = json.loads(progress.read_text(encoding="utf-8"))["batches"]
    assert sorted(map(int, recorded)) == list(range(batches))
    assert sum(entry["sent"] for entry in recorded.values()) == EVENTS


def audience_named(stack: Stack, name: str) -> list[dict[str, Any]]:
    """The advertiser's audiences with exactly this name, as TikTok's list endpoint shows them."""
    answer = requests.get(
        f"{stack.emulator_url}/open_api/v1.3/dmp/custom_audience/list/",
        params={"advertiser_id": ADVERTISER_A, "page": 1, "page_size": 100},
        headers={"Access-Token": ACCESS_TOKEN},
        timeout=30,
    ).json()
    assert answer["code"] == 0, answer
    return [item for item in answer["data"]["list"] if item["name"] == name]


def audience_ledger_today(stack: Stack, crash: Crash) -> list[dict[str, Any]]:
    """The audience's ledger entries of today (UTC)."""
    ledger = json.loads(ledger_path(stack.home, crash.expected["name"]).read_text(encoding="utf-8"))
    return ledger["calls"][datetime.now(timezone.utc).date().isoformat()]


def test_audience_killed_with_its_create_in_flight_stays_within_24_calls(stack, crashes):
    crash = crashes["audience"]
    summary = assert_killed_then_retried(stack, crash)
    (reserved,) = crash.seen["reserved"]
    assert (reserved["action"], reserved["run"]) == ("CREATE", f"{crash.run_id}/{crash.task_id}#1")
    assert "dmp/custom_audience/file/upload/" in crash.seen["answered"]  # the cohort file was uploaded ...
    assert "dmp/custom_audience/create/" not in crash.seen["answered"]  # ... the CREATE sent, not answered

    calls = audience_ledger_today(stack, crash)
    # Recorded before sent: try 1's CREATE stays counted (reserved, never settled); the ledger may over-count
    # what TikTok saw, never under-count it.
    assert [c for c in calls if c["run"].endswith("#1")] == [reserved]
    assert all(c["status"] == "accepted" for c in calls if c["run"].endswith("#2"))
    assert summary["audience_calls_used_today"] == len(calls) <= AUDIENCE_DAILY_LIMIT
    day = datetime.now(timezone.utc).date().isoformat()
    named = {str(a["audience_id"]) for a in audience_named(stack, crash.expected["name"])}
    per_audience = stack.emulator("GET", "stats")["audience_calls"]
    assert 1 <= sum(per_audience[audience_id][day] for audience_id in named) <= len(calls)

    members = stack.emulator("GET", f"audiences/{summary['audience_id']}/members")["members"]
    assert members == crash.expected["hashes"]  # the audience the ledger follows equals the cohort
    assert (summary["audience_size"], summary["usable"]) == (MEMBERS, True)


def test_audience_killed_with_its_create_in_flight_leaves_one_audience_of_that_name(stack, crashes):
    crash = crashes["audience"]
    summary = stack.xcom(crash.dag_id, crash.run_id, crash.task_id)
    named = audience_named(stack, crash.expected["name"])
    assert [str(a["audience_id"]) for a in named] == [summary["audience_id"]]
    # The retry adopted the audience try 1's late CREATE made instead of creating it again.
    creates = [r for r in stack.emulator_requests(CREATE_PATH, crash.started) if r["code"] == 0]
    assert len(creates) == 1
    assert creates[0]["t"] >= crash.seen["create_arrived"] + CREATE_DELAY - 1


def test_metrics_killed_between_report_windows_leave_every_day_complete_and_unduplicated(stack, crashes):
    crash = crashes["metrics"]
    summary = assert_killed_then_retried(stack, crash)
    expected = crash.expected
    first_pages, second_pages = expected["pages"]
    assert first_pages + 2 <= crash.seen["report_pages"] <= first_pages + second_pages, f"not mid-run: {crash.seen}"
    # Try 1 had written the whole first window, day by day in order (the reader may be a window ahead of the
    # writer, so some of the second window's days may be written too), and not every day, when it died; an
    # atomic write in progress shows as its hidden temporary file only.
    written = [name for name in crash.seen["files"] if not name.startswith(".")]
    in_order = [f"date={day.isoformat()}.jsonl" for day in expected["days"]]
    assert len(expected["first_window"]) <= len(written) < len(in_order)
    assert written == in_order[: len(written)]

    folder = expected["destination"] / f"ad_account_id={ADVERTISER_A}"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"date={d.isoformat()}.jsonl" for d in expected["days"])
    for day in expected["days"]:
        rows = sorted(expected["rows"][day], key=lambda r: int(r["ad_id"]))
        text = "".join(json.dumps(expected_record(r), ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
        assert (folder / f"date={day.isoformat()}.jsonl").read_text(encoding="utf-8") == text, day
    total = sum(len(rows) for rows in expected["rows"].values())
    assert (summary["days"], summary["rows"], summary["windows"]) == (METRIC_DAYS, total, 2)
