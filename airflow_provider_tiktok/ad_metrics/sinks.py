"""Where imported ad metrics land: JSON Lines partitions per advertiser and day, or a PostgreSQL table.

Both replace exactly the days a run covers, so reruns, backfills and lookbacks never duplicate rows, and
both tell how many rows of the re-checked (lookback) days TikTok revised since they were last stored.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from datetime import date
from decimal import Decimal
from itertools import islice
from types import TracebackType
from typing import Any, Protocol

from airflow_provider_tiktok.ad_metrics.report import METRICS, count_changed, record_line
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.utils.storage import as_path, atomic_write_lines

#: Rows per INSERT statement when staging into PostgreSQL.
SQL_BATCH_ROWS = 500
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_$]*"
_TABLE_PATTERN = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})?")
#: Table columns in record order (ad_metrics and user_properties flattened), with their SQL types.
COLUMNS: dict[str, str] = {
    "event_type": "TEXT NOT NULL",
    "date": "DATE NOT NULL",
    "ad_platform": "TEXT NOT NULL",
    "ad_account_id": "TEXT NOT NULL",
    "campaign_id": "TEXT",
    "campaign_name": "TEXT",
    "ad_group_id": "TEXT",
    "ad_group_name": "TEXT",
    "ad_id": "TEXT NOT NULL",
    "ad_name": "TEXT",
    "cost": "NUMERIC NOT NULL",
    "impressions": "BIGINT NOT NULL",
    "clicks": "BIGINT NOT NULL",
    "conversions": "BIGINT NOT NULL",
    "currency": "TEXT NOT NULL",
    "utm_source": "TEXT",
    "utm_medium": "TEXT",
    "utm_campaign": "TEXT",
    "utm_content": "TEXT",
}
KEY_COLUMNS = ("ad_account_id", "ad_id", "date")


class MetricSink(Protocol):
    """A destination for one run: days are handed over one by one, then committed together."""

    location: str

    def write_day(self, day: date, records: Sequence[Mapping[str, Any]], *, revision_check: bool) -> None:
        """Replace ``day``'s rows of this advertiser with ``records`` (an empty list empties the day)."""

    def commit(self) -> int:
        """Make the run's days visible; return the rows of revision-checked days whose metrics changed."""

    def __enter__(self) -> MetricSink: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None: ...


class JsonLinesSink:
    """``<root>/ad_account_id=<id>/date=<YYYY-MM-DD>.jsonl``, each file replaced atomically as its day
    arrives; a day without delivery gets an empty file ("no spend" differs from "not imported")."""

    def __init__(self, root: str | Any, advertiser_id: str) -> None:
        self.root = as_path(root) if isinstance(root, str) else root
        self.advertiser_id = advertiser_id
        # As the user wrote it: Airflow 3.0 renders "memory://bucket" as "memory:///bucket".
        self.location = root if isinstance(root, str) else str(root)
        self._changed = 0

    def partition(self, day: date) -> Any:
        """The file holding ``day``."""
        return self.root / f"ad_account_id={self.advertiser_id}" / f"date={day.isoformat()}.jsonl"

    def write_day(self, day: date, records: Sequence[Mapping[str, Any]], *, revision_check: bool) -> None:
        """Compare with the stored file when asked, then replace it."""
        path = self.partition(day)
        if revision_check:
            self._changed += count_changed(self._stored_metrics(path), records)
        atomic_write_lines(path, (record_line(record) for record in records))

    @staticmethod
    def _stored_metrics(path: Any) -> dict[str, Mapping[str, Any]]:
        """ad id -> ad_metrics of the partition as stored (empty when missing; unreadable lines skipped)."""
        if not path.exists():
            return {}
        stored = {}
        with path.open("r", encoding="utf-8") as handle:
            for line in iter(handle.readline, ""):  # Airflow 3.0's object-store files are not iterable
                try:
                    record = json.loads(line)
                    stored[str(record["ad_id"])] = record["ad_metrics"]
                except (ValueError, KeyError, TypeError):
                    continue
        return stored

    def commit(self) -> int:
        """Every file is already in place; report the revisions seen."""
        return self._changed

    def __enter__(self) -> JsonLinesSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def quote_table(table: str) -> str:
    """``table`` or ``schema.table`` as quoted SQL identifiers; anything else is refused."""
    if not isinstance(table, str) or not _TABLE_PATTERN.fullmatch(table):
        raise TikTokConfigError("table must be a name or schema.name of letters, digits and underscores")
    return ".".join(f'"{part}"' for part in table.split("."))


def sql_hook(sql_conn_id: str) -> Any:
    """The common.sql hook of ``sql_conn_id``; only PostgreSQL speaks the upsert this sink uses."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_tiktok.compat import connection_hook

    hook = connection_hook(sql_conn_id)
    if not isinstance(hook, DbApiHook):
        raise TikTokConfigError(f"sql_conn_id {sql_conn_id!r} is not a SQL connection")
    if hook.dialect_name != "postgresql":
        raise TikTokConfigError(
            f"sql_conn_id {sql_conn_id!r}: the table destination needs PostgreSQL, got dialect {hook.dialect_name!r}"
        )
    return hook


def _row(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """A record as a table row in COLUMNS order (money as an exact Decimal)."""
    metrics, utm = record["ad_metrics"], record["user_properties"]
    values = {**record, **metrics, **utm, "date": date.fromisoformat(record["date"])}
    values["cost"] = Decimal(str(metrics["cost"]))
    return tuple(values[column] for column in COLUMNS)


def _flat(batch: list[tuple[Any, ...]]) -> list[Any]:
    return [value for row in batch for value in row]


def _statements(table: str) -> dict[str, str]:
    """The SQL of one commit, for a quoted ``table``."""

    def names(columns: Iterable[str], prefix: str = "") -> str:
        return ", ".join(f'{prefix}"{column}"' for column in columns)

    updated = [column for column in COLUMNS if column not in KEY_COLUMNS]
    staging = "tiktok_ad_metrics_staging"
    definitions = ", ".join(f'"{column}" {kind}' for column, kind in COLUMNS.items())
    schema = table.rpartition(".")[0]
    return {
        # Parallel runs (a backfill) would race on CREATE ... IF NOT EXISTS, which PostgreSQL answers with a
        # unique violation: a transaction-level advisory lock on the table's name serialises them. A
        # schema-qualified table gets its schema too. (The name is validated by quote_table.)
        "create": f"SELECT pg_advisory_xact_lock(hashtext('{table}')); "
        + (f"CREATE SCHEMA IF NOT EXISTS {schema}; " if schema else "")
        + f"CREATE TABLE IF NOT EXISTS {table} ({definitions}, "
        f'"imported_at" TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY ({names(KEY_COLUMNS)}))',
        "stage": f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {names(COLUMNS)} FROM {table} "
        "WITH NO DATA",
        "insert_staged": f"INSERT INTO {staging} ({names(COLUMNS)}) VALUES ",
        "placeholder": "(" + ", ".join(["%s"] * len(COLUMNS)) + ")",
        "count_revised": f"SELECT count(*) FROM {staging} s JOIN {table} t USING ({names(KEY_COLUMNS)}) "
        f'WHERE s."date" = ANY(%s) AND ({names(METRICS, "t.")}) IS DISTINCT FROM ({names(METRICS, "s.")})',
        "upsert": f"INSERT INTO {table} AS t ({names(COLUMNS)}) SELECT {names(COLUMNS)} FROM {staging} "
        f"ON CONFLICT ({names(KEY_COLUMNS)}) DO UPDATE SET "
        + ", ".join(f'"{column}" = EXCLUDED."{column}"' for column in updated)
        + f', "imported_at" = now() WHERE ({names(updated, "t.")}) IS DISTINCT FROM ({names(updated, "EXCLUDED.")})',
        "delete_stale": f'DELETE FROM {table} t WHERE t."ad_account_id" = %s AND t."date" BETWEEN %s AND %s '
        f'AND NOT EXISTS (SELECT 1 FROM {staging} s WHERE s."ad_id" = t."ad_id" AND s."date" = t."date")',
    }


class PostgresUpsertSink:
    """A PostgreSQL table (created if missing), keyed on (ad_account_id, ad_id, date).

    Days are spooled to a local temporary file while the API is read, so the database sees one short
    transaction per run: stage the rows, count revised rows, upsert, then delete the covered days' rows
    TikTok no longer reports.
    """

    def __init__(self, hook: Any, table: str, advertiser_id: str, *, sql_conn_id: str) -> None:
        self.hook = hook
        self.table = quote_table(table)
        self.advertiser_id = advertiser_id
        self.location = f"{sql_conn_id}:{table}"
        self._spool: Any = None
        self._first: date | None = None
        self._last: date | None = None
        self._checked: set[date] = set()

    def write_day(self, day: date, records: Sequence[Mapping[str, Any]], *, revision_check: bool) -> None:
        """Spool ``day``'s records; the day counts as covered even when empty."""
        self._first = day if self._first is None else min(self._first, day)
        self._last = day if self._last is None else max(self._last, day)
        if revision_check:
            self._checked.add(day)
        for record in records:
            self._spool.write(record_line(record))

    def _spooled_rows(self) -> Iterator[tuple[Any, ...]]:
        self._spool.seek(0)
        for line in self._spool:
            yield _row(json.loads(line))

    def commit(self) -> int:
        """One transaction: create, stage, count revisions, upsert, delete stale rows; rolled back on error."""
        if self._first is None or self._last is None:
            return 0
        sql = _statements(self.table)
        conn = self.hook.get_conn()
        try:
            with closing(conn.cursor()) as cur:
                cur.execute(sql["create"])
                cur.execute(sql["stage"])
                rows = self._spooled_rows()
                while batch := list(islice(rows, SQL_BATCH_ROWS)):
                    cur.execute(sql["insert_staged"] + ", ".join([sql["placeholder"]] * len(batch)), _flat(batch))
                changed = 0
                if self._checked:
                    cur.execute(sql["count_revised"], [sorted(self._checked)])
                    changed = int(cur.fetchone()[0])
                cur.execute(sql["upsert"])
                cur.execute(sql["delete_stale"], [self.advertiser_id, self._first, self._last])
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()
        return changed

    def __enter__(self) -> PostgresUpsertSink:
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._spool.close()
