"""OpenLineage facets of the metrics import against the emulator: TikTok's report in, the folder or table out
with the rows written, and no request made for lineage."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A, ADVERTISER_B
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator

pytestmark = pytest.mark.integration

DAYS = (date(2026, 3, 1), date(2026, 3, 2))


def expected_rows(emulator, advertiser_id: str) -> int:
    """Rows of the two days as the emulator's own data gives them (deleted ads included, the default)."""
    return sum(len(emulator.state.expected_daily_rows(advertiser_id, day, True)) for day in DAYS)


def test_facets_of_an_import_into_a_folder(emulator, emulator_conn, context, tmp_path):
    op = TikTokAdMetricsOperator(
        task_id="t", advertiser_id=ADVERTISER_B, date_from="2026-03-01", date_to="2026-03-02", destination=str(tmp_path)
    )
    summary = op.execute(context())
    calls = dict(emulator.state.stats()["calls"])
    lineage = op.get_openlineage_facets_on_complete(None)

    [source] = lineage.inputs
    [target] = lineage.outputs
    assert (source.namespace, source.name) == (
        f"tiktok://{urlsplit(emulator.url).netloc}",
        f"advertiser/{ADVERTISER_B}/report/ad_daily",
    )
    assert (target.namespace, target.name) == ("file", str(tmp_path))
    rows = expected_rows(emulator, ADVERTISER_B)
    assert rows > 0
    assert summary["rows"] == rows
    assert target.outputFacets["outputStatistics"].rowCount == rows
    assert emulator.state.stats()["calls"] == calls  # lineage asked TikTok nothing


def test_an_import_that_failed_before_writing_has_no_datasets(emulator, emulator_conn, context):
    from airflow.providers.openlineage.extractors import OperatorLineage

    op = TikTokAdMetricsOperator(task_id="t", date_from="2026-03-02", date_to="2026-03-01")
    with pytest.raises(TikTokConfigError):
        op.execute(context())
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage()


@pytest.mark.postgres
def test_facets_of_an_import_into_a_table(postgres_server, monkeypatch, emulator, emulator_conn, context):
    import psycopg

    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_PG", postgres_server.airflow_conn_json())
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.lineage_ad_metrics")
    op = TikTokAdMetricsOperator(
        task_id="t", date_from="2026-03-01", date_to="2026-03-02", sql_conn_id="tiktok_pg", table="lineage_ad_metrics"
    )
    op.execute(context())
    [target] = op.get_openlineage_facets_on_complete(None).outputs
    # An unqualified table lands in the connection's current schema, which lineage asks the database for.
    assert (target.namespace, target.name) == (
        f"postgres://127.0.0.1:{postgres_server.port}",
        "postgres.public.lineage_ad_metrics",
    )
    with psycopg.connect(postgres_server.dsn) as conn:
        stored = conn.execute("SELECT count(*) FROM public.lineage_ad_metrics").fetchone()[0]
    assert target.outputFacets["outputStatistics"].rowCount == stored == expected_rows(emulator, ADVERTISER_A)
