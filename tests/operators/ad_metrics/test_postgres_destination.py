"""The table destination against a real PostgreSQL server started by the tests: created if missing, upsert on
(ad_account_id, ad_id, date), reruns without duplicates, lookback revisions counted, one transaction a run."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from airflow_provider_tiktok.ad_metrics.report import days_between
from airflow_provider_tiktok.ad_metrics.sinks import COLUMNS, PostgresUpsertSink, quote_table, sql_hook
from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator
from tests.helpers.ad_metrics import NOW, expected_record

pytestmark = pytest.mark.postgres

D = date.fromisoformat
COLUMNS_INDEX = {name: n for n, name in enumerate(COLUMNS)}
SELECT = "SELECT " + ", ".join(f'"{c}"' for c in COLUMNS) + ' FROM {} ORDER BY "date", length(ad_id), ad_id'


@pytest.fixture
def pg(postgres_server, monkeypatch):
    """The ``tiktok_pg`` connection, and a clean database for each test."""
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_PG", postgres_server.airflow_conn_json())
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        conn.execute("DROP SCHEMA IF EXISTS analytics CASCADE; CREATE SCHEMA analytics")
    return postgres_server


def _rows(pg, table: str = '"ad_metrics"') -> list[tuple]:
    with psycopg.connect(pg.dsn) as conn:
        return conn.execute(SELECT.format(table)).fetchall()


def _expected_rows(emulator, days) -> list[tuple]:
    rows = []
    for day in days:
        for row in sorted(emulator.state.expected_daily_rows(ADVERTISER_A, day, True), key=lambda r: int(r["ad_id"])):
            record = expected_record(row)
            flat = {**record, **record["ad_metrics"], **record["user_properties"], "date": day, "cost": row["spend"]}
            rows.append(tuple(flat[c] for c in COLUMNS))
    return rows


def _import(**kwargs):
    return TikTokAdMetricsOperator(task_id="t", sql_conn_id="tiktok_pg", table="ad_metrics", **kwargs)


@pytest.mark.integration
def test_import_creates_the_table_and_rows_equal_the_emulator(pg, emulator, emulator_conn, context):
    summary = _import(date_from="2026-02-01", date_to="2026-02-03").execute(context())
    days = days_between(D("2026-02-01"), D("2026-02-03"))
    rows = _rows(pg)
    assert rows == _expected_rows(emulator, days)
    assert isinstance(rows[0][COLUMNS_INDEX["cost"]], Decimal)
    assert isinstance(rows[0][COLUMNS_INDEX["clicks"]], int)
    assert summary["rows"] == len(rows)
    assert summary["destination"] == "tiktok_pg:ad_metrics"
    with psycopg.connect(pg.dsn) as conn:
        key = conn.execute(
            "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = 'ad_metrics'::regclass AND i.indisprimary"
        ).fetchone()[0]
    assert key == ["ad_account_id", "ad_id", "date"]


@pytest.mark.integration
def test_rerun_changes_nothing_and_lookback_counts_revised_rows(pg, emulator, emulator_conn, context, clock):
    first = _import(date_from="2026-03-09", lookback_days=3).execute(context())
    before = _rows(pg)
    with psycopg.connect(pg.dsn) as conn:
        stamps = conn.execute("SELECT min(imported_at), max(imported_at), count(*) FROM ad_metrics").fetchone()
    again = _import(date_from="2026-03-09", lookback_days=3).execute(context())
    assert _rows(pg) == before
    assert (again["rows"], again["rows_changed_by_lookback"]) == (first["rows"], 0)
    with psycopg.connect(pg.dsn) as conn:  # identical rows are not even rewritten
        assert conn.execute("SELECT min(imported_at), max(imported_at), count(*) FROM ad_metrics").fetchone() == stamps

    lookback = days_between(D("2026-03-07"), D("2026-03-09"))
    old = {(r[COLUMNS_INDEX["ad_id"]], r[COLUMNS_INDEX["date"]]): r for r in before}
    next_day = NOW + timedelta(days=1)
    emulator.state.set_clock(next_day)
    clock(next_day)
    second = _import(date_from="2026-03-10", lookback_days=3).execute(context())

    after = _rows(pg)
    assert after == _expected_rows(emulator, days_between(D("2026-03-06"), D("2026-03-10")))
    metrics = [COLUMNS_INDEX[m] for m in ("cost", "impressions", "clicks", "conversions")]
    revised = sum(
        1
        for r in after
        if r[COLUMNS_INDEX["date"]] in lookback
        and [r[i] for i in metrics] != [old[(r[COLUMNS_INDEX["ad_id"]], r[COLUMNS_INDEX["date"]])][i] for i in metrics]
    )
    assert revised > 0
    assert second["rows_changed_by_lookback"] == revised


@pytest.mark.integration
def test_a_rerun_removes_rows_tiktok_no_longer_reports_for_the_covered_days(pg, emulator, emulator_conn, context):
    _import(date_from="2026-02-01", date_to="2026-02-02").execute(context())
    with psycopg.connect(pg.dsn) as conn:
        template = conn.execute("SELECT * FROM ad_metrics LIMIT 1").fetchone()
        names = [d.name for d in conn.execute("SELECT * FROM ad_metrics LIMIT 0").description]
        for ad_id, day in (("1", D("2026-02-02")), ("2", D("2026-02-03")), ("3", D("2026-01-31"))):
            values = {**dict(zip(names, template, strict=True)), "ad_id": ad_id, "date": day}
            conn.execute(
                f"INSERT INTO ad_metrics ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                list(values.values()),
            )
    _import(date_from="2026-02-02", date_to="2026-02-03").execute(context())
    with psycopg.connect(pg.dsn) as conn:
        strays = conn.execute("SELECT ad_id, date FROM ad_metrics WHERE length(ad_id) = 1 ORDER BY ad_id").fetchall()
    assert strays == [("3", D("2026-01-31"))]  # only the day outside the run's range keeps its row
    kept = [r for r in _rows(pg) if r[COLUMNS_INDEX["ad_id"]] != "3"]
    assert kept == _expected_rows(emulator, days_between(D("2026-02-01"), D("2026-02-03")))


@pytest.mark.integration
def test_a_failing_run_rolls_back_everything(pg, emulator, emulator_conn, context):
    _import(date_from="2026-02-01").execute(context())
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        # A stray row on a covered day makes the run's last statement (the delete) fire a trigger that fails,
        # after the upsert of five days has already succeeded inside the same transaction.
        conn.execute(
            "UPDATE ad_metrics SET ad_id = '1', date = '2026-02-03' WHERE ctid = (SELECT min(ctid) FROM ad_metrics)"
        )
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'deletes refused'; END $$"
        )
        conn.execute("CREATE TRIGGER no_delete BEFORE DELETE ON ad_metrics FOR EACH ROW EXECUTE FUNCTION refuse()")
    before = _rows(pg)
    with pytest.raises(Exception, match="deletes refused") as refused:  # psycopg, or psycopg2 on Airflow 3.0
        _import(date_from="2026-02-01", date_to="2026-02-05").execute(context())
    assert type(refused.value).__name__ == "RaiseException"
    assert _rows(pg) == before  # none of the upserted days stayed
    with psycopg.connect(pg.dsn) as conn:
        stuck = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'")
        assert stuck.fetchone()[0] == 0  # the failed run's connection was rolled back and closed
        days = conn.execute("SELECT array_agg(DISTINCT date ORDER BY date) FROM ad_metrics").fetchone()[0]
    assert days == [D("2026-02-01"), D("2026-02-03")]


@pytest.mark.integration
def test_a_schema_qualified_table(pg, emulator, emulator_conn, context):
    op = TikTokAdMetricsOperator(
        task_id="t", sql_conn_id="tiktok_pg", table="analytics.TikTok_Metrics", date_from="2026-02-01"
    )
    summary = op.execute(context())
    assert len(_rows(pg, '"analytics"."TikTok_Metrics"')) == summary["rows"] > 0


@pytest.mark.integration
def test_a_missing_schema_is_created_with_the_table(pg, emulator, emulator_conn, context):
    op = TikTokAdMetricsOperator(
        task_id="t", sql_conn_id="tiktok_pg", table="marketing_new.metrics", date_from="2026-02-01"
    )
    summary = op.execute(context())
    assert len(_rows(pg, '"marketing_new"."metrics"')) == summary["rows"] > 0


@pytest.mark.unit
@pytest.mark.parametrize("table", ["ad-metrics", "a.b.c", "x; DROP TABLE y", "1table", "", "metrics "])
def test_table_names_are_checked(table):
    with pytest.raises(TikTokConfigError, match=r"table must be a name or schema\.name"):
        quote_table(table)


@pytest.mark.unit
def test_quote_table():
    assert quote_table("ad_metrics") == '"ad_metrics"'
    assert quote_table("analytics.Ad_Metrics") == '"analytics"."Ad_Metrics"'


@pytest.mark.integration
def test_sql_hook_is_the_postgres_hook_and_other_dialects_are_refused(pg, monkeypatch):
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    assert isinstance(sql_hook("tiktok_pg"), PostgresHook)
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", '{"conn_type": "tiktok_ads", "password": "x"}')
    with pytest.raises(TikTokConfigError, match="'not_sql' is not a SQL connection"):
        sql_hook("not_sql")


class Psycopg2Hook:
    """A hook stand-in handing out psycopg2 connections (PostgresHook uses psycopg2 with SQLAlchemy < 2)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def get_conn(self):
        import psycopg2

        return psycopg2.connect(self.dsn)


@pytest.mark.integration
def test_the_sink_speaks_psycopg2_too_and_counts_revisions_on_checked_days_only(pg):
    lines = (Path(__file__).parents[2] / "data" / "ad_metrics" / "expected_records.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in lines.splitlines()]
    by_day = {day: [r for r in records if r["date"] == day] for day in ("2026-01-31", "2026-02-01")}

    def write(days: dict, checked: set) -> int:
        with PostgresUpsertSink(Psycopg2Hook(pg.dsn), "m", "7000000000000000001", sql_conn_id="pg2") as sink:
            for day, day_records in days.items():
                sink.write_day(D(day), day_records, revision_check=day in checked)
            return sink.commit()

    assert write(by_day, set()) == 0
    revised = json.loads(json.dumps(by_day))
    for record in (*revised["2026-01-31"][:2], revised["2026-02-01"][0]):
        record["ad_metrics"]["conversions"] += 1
    assert write(revised, {"2026-01-31"}) == 2  # the revision on 02-01 is not a lookback day
    stored = {(r[COLUMNS_INDEX["ad_id"]], r[COLUMNS_INDEX["date"]]): r for r in _rows(pg, '"m"')}
    assert len(stored) == len(records)
    for record in (r for rows in revised.values() for r in rows):
        row = stored[(record["ad_id"], D(record["date"]))]
        assert row[COLUMNS_INDEX["conversions"]] == record["ad_metrics"]["conversions"]
        assert row[COLUMNS_INDEX["cost"]] == Decimal(str(record["ad_metrics"]["cost"]))
        assert row[COLUMNS_INDEX["utm_campaign"]] == record["user_properties"]["utm_campaign"]


@pytest.mark.integration
def test_parallel_first_runs_do_not_race_on_creating_the_table(pg, emulator, emulator_conn, context):
    from concurrent.futures import ThreadPoolExecutor

    def run(day: str) -> dict:
        op = TikTokAdMetricsOperator(
            task_id=f"t{day}", sql_conn_id="tiktok_pg", table="race_schema.metrics", date_from=day
        )
        return op.execute(context())

    days = ["2026-02-01", "2026-02-02", "2026-02-03", "2026-02-04"]
    with ThreadPoolExecutor(4) as pool:
        summaries = list(pool.map(run, days))
    assert len(_rows(pg, '"race_schema"."metrics"')) == sum(s["rows"] for s in summaries) > 0
