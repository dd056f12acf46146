"""OpenLineage for the operators, built from what ``execute`` kept: no TikTok call, and the OpenLineage
provider imported only here and only when Airflow asks for lineage (it is an optional dependency)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_tiktok.utils.storage import is_local

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

#: Dataset names on TikTok's side: an advertiser's daily ad report, and an event source (pixel, app, event set).
AD_DAILY_REPORT = "advertiser/{advertiser_id}/report/ad_daily"
EVENT_SOURCE = "event_source/{event_source_id}"


def tiktok_namespace(base_url: str) -> str:
    """``tiktok://<host>`` of the connection's API (business-api.tiktok.com, a sandbox or the emulator)."""
    return f"tiktok://{urlsplit(base_url).netloc}"


def storage_dataset_id(location: str) -> tuple[str, str]:
    """Namespace and name of a file or folder: ``file`` and the absolute path locally, else
    ``<scheme>://<bucket>`` and the key (a connection id written in the URI left out)."""
    if is_local(location):
        return "file", os.path.abspath(os.path.expanduser(location.removeprefix("file://")))
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}", parts.path.lstrip("/") or "/"


def table_dataset_id(sql_hook: Any, table: str) -> tuple[str, str]:
    """Namespace and name of a ``table`` or ``schema.table`` (``postgres://host:port``, ``db.schema.table``)
    as the SQL hook describes its database for OpenLineage; an unqualified table is in the current schema."""
    info = sql_hook.get_openlineage_database_info(sql_hook.get_connection(sql_hook.get_conn_id()))
    schema, _, name = table.rpartition(".")
    schema = schema or sql_hook.get_openlineage_default_schema()
    return f"{info.scheme}://{info.authority}", f"{info.database}.{schema}.{name}"


def ad_metrics_lineage(
    hook: TikTokAdsHook, written: tuple[Any, Mapping[str, Any]] | None, table: str | None
) -> OperatorLineage[Any, Any]:
    """The advertiser's daily ad report in, the partitions folder or table out with the rows written.

    ``written`` is the run's metric sink and summary; a table destination's sink holds its SQL hook.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    if written is None:  # the import did not finish: nothing known to have been written
        return OperatorLineage()
    sink, summary = written
    report = AD_DAILY_REPORT.format(advertiser_id=summary["advertiser_id"])
    namespace, name = table_dataset_id(sink.hook, table) if table else storage_dataset_id(str(summary["destination"]))
    return OperatorLineage(
        inputs=[_input(tiktok_namespace(hook.config.base_url), report)],
        outputs=[_output(namespace, name, rows=int(summary["rows"]))],
    )


def events_lineage(
    hook: TikTokAdsHook,
    summary: Mapping[str, Any] | None,
    *,
    events: Any,
    sql: str | None,
    sql_conn_id: str | None,
) -> OperatorLineage[Any, Any]:
    """The input file or the query's tables in, the event source out with the events TikTok accepted.

    Records passed in memory (a list, an XComArg) have no dataset of their own: the upstream task is the
    lineage, so no input is named for them.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    if summary is None:
        return OperatorLineage()
    output = _output(
        tiktok_namespace(hook.config.base_url),
        EVENT_SOURCE.format(event_source_id=summary["event_source_id"]),
        rows=int(summary["sent"]),
    )
    if sql and sql_conn_id:
        query = _sql_lineage(sql, sql_conn_id)
        return OperatorLineage(inputs=query.inputs, outputs=[output], job_facets=query.job_facets)
    if isinstance(events, str | os.PathLike):
        source = _input(*storage_dataset_id(os.fspath(events)), rows=int(summary["received"]))
        return OperatorLineage(inputs=[source], outputs=[output])
    return OperatorLineage(outputs=[output])


def _sql_lineage(sql: str, sql_conn_id: str) -> OperatorLineage[Any, Any]:
    """The query's tables and SQL job facet, parsed as the SQL operators do (no catalog look-ups)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.providers.openlineage.sqlparser import get_openlineage_facets_with_sql

    from airflow_provider_tiktok.compat import connection_hook

    sql_hook = connection_hook(sql_conn_id)
    lineage = get_openlineage_facets_with_sql(sql_hook, sql, sql_conn_id, None, use_connection=False)
    return lineage or OperatorLineage()


def _input(namespace: str, name: str, *, rows: int | None = None) -> Any:
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import input_statistics_input_dataset

    facets: dict[str, Any] = {}
    if rows is not None:
        facets["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(rowCount=rows)
    return InputDataset(namespace=namespace, name=name, inputFacets=facets)


def _output(namespace: str, name: str, *, rows: int) -> Any:
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset

    stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows)
    return OutputDataset(namespace=namespace, name=name, outputFacets={"outputStatistics": stats})
