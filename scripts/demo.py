"""The demo: the emulator and a real Airflow running the example DAGs, one run each and a 7-day backfill.

Run through ``bash scripts/demo.sh`` (README command a). Airflow stays up until Ctrl-C, then every
process is stopped. Each start uses a fresh ``.demo/airflow`` home, so the demo can be re-run.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import time
from datetime import datetime, timedelta, timezone

from scripts.stack import DAGS_FOLDER, REPO, SchedulerStopped, Stack, free_port

SUMMARY_KEYS = (
    "received",
    "sent",
    "rejected",
    "rows",
    "days",
    "audience_size",
    "added",
    "removed",
    "api_calls",
    "audience_calls_left_today",
)


def example_dag_ids() -> list[str]:
    """Each example DAG file defines the DAG named after the file."""
    return sorted(p.stem for p in DAGS_FOLDER.glob("tiktok_*.py"))


def port_or_free(port: int) -> int:
    import socket

    with socket.socket() as sock:
        return port if sock.connect_ex(("127.0.0.1", port)) != 0 else free_port()


def summary_text(summary: object) -> str:
    if not isinstance(summary, dict):
        return "-"
    return ", ".join(f"{k}={summary[k]}" for k in SUMMARY_KEYS if k in summary) or "-"


def run_demo(stack: Stack, backfill_days: int) -> list[tuple[str, str, str, str]]:
    """Trigger one run of each example DAG, then a backfill of the ad-metrics DAG; return a result table.

    The backfill is created once the triggered runs are done: Airflow 3.3 on SQLite can lose its scheduler
    when a backfill is created while the scheduler is busy writing (the API answers 503 "database is locked"
    half-way through creating the backfill's runs)."""
    dag_ids = example_dag_ids()
    stack.wait_for_dags(dag_ids)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    run_id = f"demo__{now:%Y%m%dT%H%M%S}"
    for dag_id in dag_ids:
        stack.unpause(dag_id)
        stack.trigger(dag_id, run_id, now)
    finished = {dag_id: wait_for_runs(stack, dag_id, [run_id]) for dag_id in dag_ids}
    if "tiktok_ad_metrics" in dag_ids:
        start = (now - timedelta(days=backfill_days + 2)).replace(hour=0, minute=0, second=0)
        end = start + timedelta(days=backfill_days)  # one run per advertiser-local day in [start, end)
        stack.backfill("tiktok_ad_metrics", start, end)
        finished["tiktok_ad_metrics"] = wait_for_runs(stack, "tiktok_ad_metrics", None)  # triggered + backfill
    table = []
    for dag_id, runs in finished.items():
        for run in sorted(runs, key=lambda r: r.get("logical_date") or ""):
            tasks = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")
            summaries = []
            for ti in tasks["task_instances"]:
                if ti["state"] == "success" and ti["operator"].startswith("TikTok"):
                    summaries.append(summary_text(stack.xcom(dag_id, run["dag_run_id"], ti["task_id"])))
            table.append((dag_id, run["dag_run_id"], run["state"], "; ".join(summaries) or "-"))
    return table


def wait_for_runs(stack: Stack, dag_id: str, run_ids: list[str] | None) -> list[dict]:
    """The finished runs; if Airflow's scheduler dies meanwhile, Airflow is restarted once and the wait goes on."""
    try:
        return stack.wait_for_runs(dag_id, run_ids, timeout=600)
    except SchedulerStopped as err:
        print(f"Airflow's scheduler stopped ({err}); restarting Airflow, the runs carry on ...", flush=True)
        stack.restart_airflow()
        return stack.wait_for_runs(dag_id, run_ids, timeout=600)


def page_url(stack: Stack) -> str:
    """The TikTok Ads monitoring page (the provider's plugin), under the Airflow API server."""
    from airflow_provider_tiktok.ui.paths import URL_PREFIX

    return f"{stack.api_url}{URL_PREFIX}/"


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    header = ("DAG", "run", "state", "summary")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])


def _interrupt(signum: int, frame: object) -> None:
    """Treat SIGTERM like Ctrl-C so the stack is always stopped."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="Airflow UI/API port (a free one if taken)")
    parser.add_argument("--emulator-port", type=int, default=8765)
    parser.add_argument("--backfill-days", type=int, default=7)
    parser.add_argument("--no-wait", action="store_true", help="stop after the runs instead of waiting for Ctrl-C")
    args = parser.parse_args()

    home = REPO / ".demo" / "airflow"
    shutil.rmtree(home, ignore_errors=True)
    started = time.monotonic()
    stack = Stack(home, api_port=port_or_free(args.port), emulator_port=port_or_free(args.emulator_port))
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"Starting the TikTok emulator on {stack.emulator_url} and Airflow on {stack.api_url} ...", flush=True)
        stack.start()
        print(f"Airflow is up after {time.monotonic() - started:.0f}s; running the example DAGs ...", flush=True)
        print_table(run_demo(stack, args.backfill_days))
        print(f"\nDemo ready after {time.monotonic() - started:.0f}s.")
        print(f"Airflow UI: {stack.api_url}  login: admin / {stack.admin_password}")
        print(f"TikTok Ads page: {page_url(stack)}  (Browse -> TikTok Ads from Airflow 3.1 on)")
        print(f"TikTok emulator: {stack.emulator_url}  (stats: {stack.emulator_url}/_emulator/stats)")
        print(f"Logs: {home / 'logs'}")
        if not args.no_wait:
            print("Press Ctrl-C to stop.", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("\nStopping ...")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
