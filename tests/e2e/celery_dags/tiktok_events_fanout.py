"""Fan-out of a big events input over several workers: split it into shards on shared storage, upload each
shard in its own mapped task.

The run's ``input`` param names a CSV (or JSON Lines) file every worker sees; ``split_input`` deals its rows
round-robin into ``shards`` files next to it (deterministic: a retried split writes the same shards) and
returns their locations; ``upload_shard`` is mapped over them. Every mapped task draws from the app's one
Events API budget (the connection's ``rate_limit_storage``) and keeps its own progress under the
connection's ``state_uri`` (one file per map index), so a retried shard, on any worker, resends only its
batches TikTok has not accepted. For a table, map over query ranges instead (``sql=[...]``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, get_current_context, task

from airflow_provider_tiktok.operators.events import TikTokEventsUploadOperator
from airflow_provider_tiktok.utils.storage import as_path, ensure_dir

PIXEL = "CFANOUTPIXEL0000001"


def split_rows(source: Any, target: Any, shards: int) -> list[str]:
    """Deal ``source``'s data rows round-robin into ``shards`` CSV files under ``target`` (header repeated)."""
    ensure_dir(target)
    paths = [target / f"part-{index:03d}.csv" for index in range(shards)]
    with source.open("r", encoding="utf-8") as reader:
        header = reader.readline()
        handles = [path.open("w", encoding="utf-8") for path in paths]
        try:
            for handle in handles:
                handle.write(header)
            for number, line in enumerate(iter(reader.readline, "")):
                handles[number % shards].write(line)
        finally:
            for handle in handles:
                handle.close()
    return [str(path) for path in paths]


with DAG(
    dag_id="tiktok_events_fanout",
    description="A big conversions file uploaded as shards by mapped tasks on several workers",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"input": "", "shards": 4},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    tags=["tiktok", "events", "fan-out"],
    doc_md=__doc__,
) as dag:

    @task
    def split_input() -> list[str]:
        """The input's shards, in a folder of this run next to it."""
        context = get_current_context()
        params, run_id = context["params"], context["run_id"]
        source = as_path(params["input"])
        target = source.parent / f"{source.name}.shards" / run_id.replace(":", "-").replace("+", "_")
        return split_rows(source, target, int(params["shards"]))

    TikTokEventsUploadOperator.partial(
        task_id="upload_shard",
        event_source="web",
        event_source_id=PIXEL,
        batch_size=250,
        max_in_flight=2,
        default_currency="USD",
    ).expand(events=split_input())
