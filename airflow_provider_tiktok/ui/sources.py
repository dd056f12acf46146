"""Read what the page shows from Airflow's metadata database, inside the API server: the TikTok assets' events,
the summary each source task returned (its ``return_value`` XCom), the runs' data intervals and the audience
syncs deferred right now. Read-only, a few bounded queries per page view; no TikTok call."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from airflow_provider_tiktok.compat import airflow_config, api_server
from airflow_provider_tiktok.ui.records import (
    AD_METRICS_SCHEME,
    AUDIENCE_SCHEME,
    EVENTS_SCHEME,
    AssetRecord,
    DeferredSync,
    PageData,
)
from airflow_provider_tiktok.utils.storage import default_root

log = logging.getLogger(__name__)

#: How far back each kind of asset event is read: a year of metric days, a month of uploads and syncs.
LOOKBACK = {
    AD_METRICS_SCHEME: timedelta(days=367),
    EVENTS_SCHEME: timedelta(days=31),
    AUDIENCE_SCHEME: timedelta(days=31),
}
AUDIENCE_OPERATOR = "TikTokAudienceSyncOperator"
#: Values per ``IN (...)`` list, well under every database's bound parameter limit.
CHUNK = 500
Key = tuple[str, str, str, int]


def state_roots(session: Any) -> list[str]:
    """Where audience ledgers live: ``$AIRFLOW_HOME/tiktok/state``, the ``state_uri`` of every ``tiktok_ads``
    connection in the metadata database (the shared state of multi-host deployments), and the roots listed
    (comma-separated) in the Airflow option ``[tiktok_ads] state_uris`` (``AIRFLOW__TIKTOK_ADS__STATE_URIS``)
    for tasks that set their own ``state_uri`` or take their connection from a secrets backend."""
    connection = api_server().Connection
    from_connections = []
    for conn in session.scalars(select(connection).where(connection.conn_type == "tiktok_ads")):
        uri = conn.extra_dejson.get("state_uri")  # decrypted; {} when the extra is not a JSON object
        if isinstance(uri, str) and uri.strip():
            from_connections.append(uri.strip())
    listed = [part.strip() for part in airflow_config("tiktok_ads", "state_uris", "").split(",")]
    return list(dict.fromkeys([str(default_root("state")), *from_connections, *filter(None, listed)]))


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    listed = sorted(set(values))
    for start in range(0, len(listed), CHUNK):
        yield listed[start : start + CHUNK]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _events(session: Any, now: datetime) -> list[tuple[Any, ...]]:
    """(uri, timestamp, extra, dag, task, run, map index) of the TikTok assets' events in their windows."""
    api = api_server()
    event, asset = api.AssetEvent, api.AssetModel
    rows: list[tuple[Any, ...]] = []
    for scheme, window in LOOKBACK.items():
        query = (
            select(
                asset.uri,
                event.timestamp,
                event.extra,
                event.source_dag_id,
                event.source_task_id,
                event.source_run_id,
                event.source_map_index,
            )
            .join(asset, event.asset_id == asset.id)
            .where(asset.uri.startswith(scheme), event.timestamp >= now - window)
            .order_by(event.timestamp)
        )
        rows.extend(tuple(row) for row in session.execute(query))
    return rows


def _summaries(session: Any, keys: set[Key]) -> dict[Key, dict[str, Any]]:
    """The ``return_value`` of each source task instance (the operator's summary), where it is kept."""
    xcom = api_server().XComModel
    found: dict[Key, dict[str, Any]] = {}
    for runs in _chunks(key[1] for key in keys):
        query = select(xcom).where(
            xcom.key == "return_value",
            xcom.run_id.in_(runs),
            xcom.dag_id.in_({key[0] for key in keys}),
            xcom.task_id.in_({key[2] for key in keys}),
        )
        for entry in session.scalars(query):
            key = (entry.dag_id, entry.run_id, entry.task_id, entry.map_index)
            if key in keys:
                value = xcom.deserialize_value(entry)
                if isinstance(value, dict):
                    found[key] = value
    return found


def _interval_starts(session: Any, runs: set[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """Each source run's data interval start."""
    dag_run = api_server().DagRun
    found = {}
    for run_ids in _chunks(run for _, run in runs):
        query = select(dag_run.dag_id, dag_run.run_id, dag_run.data_interval_start).where(
            dag_run.run_id.in_(run_ids), dag_run.dag_id.in_({dag for dag, _ in runs})
        )
        for dag_id, run_id, start in session.execute(query):
            if start is not None:
                found[(dag_id, run_id)] = start
    return found


def asset_records(session: Any, now: datetime) -> list[AssetRecord]:
    """The TikTok assets' events, each with its task's summary and its run's data interval start."""
    events = _events(session, now)
    keys = {(dag, run, task, -1 if index is None else index) for _, _, _, dag, task, run, index in events if dag}
    summaries = _summaries(session, keys)
    starts = _interval_starts(session, {(dag, run) for dag, run, _, _ in keys})
    records = []
    for uri, timestamp, extra, dag, task, run, index in events:
        key = (dag, run, task, -1 if index is None else index)
        records.append(
            AssetRecord(
                uri=uri,
                timestamp=_utc(timestamp) or now,
                extra=extra if isinstance(extra, dict) else {},
                summary=summaries.get(key),
                dag_id=dag,
                task_id=task,
                run_id=run,
                interval_start=_utc(starts.get((dag, run))),
            )
        )
    return records


def _resumes_at(trigger: Any) -> datetime | None:
    """The moment a date-time trigger fires (the daily reset or the end of a landing wait)."""
    if trigger is None:
        return None
    try:
        moment = trigger.kwargs.get("moment")
    except Exception as err:  # a trigger Airflow cannot decode is shown without its time, not as an error page
        log.warning("TikTok page: cannot read trigger %s: %s", getattr(trigger, "id", "?"), err)
        return None
    return _utc(moment) if isinstance(moment, datetime) else None


def deferred_syncs(session: Any) -> list[DeferredSync]:
    """Audience syncs deferred right now, with the moment they resume."""
    api = api_server()
    ti, trigger = api.TaskInstance, api.Trigger
    query = (
        select(ti.dag_id, ti.task_id, ti.run_id, trigger)
        .outerjoin(trigger, ti.trigger_id == trigger.id)
        .where(ti.state == "deferred", ti.operator == AUDIENCE_OPERATOR)
    )
    return [
        DeferredSync(dag_id, task_id, run_id, _resumes_at(found))
        for dag_id, task_id, run_id, found in session.execute(query)
    ]


def gather(now: datetime) -> PageData:
    """Everything one page view shows, read in one session."""
    with api_server().create_session() as session:
        return PageData(
            now=now, records=asset_records(session, now), deferred=deferred_syncs(session), roots=state_roots(session)
        )


def run_summary(session: Any, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any] | None:
    """One task instance's summary (its ``return_value``), or None."""
    return _summaries(session, {(dag_id, run_id, task_id, map_index)}).get((dag_id, run_id, task_id, map_index))
