"""The page's audience rows: calls counted today against TikTok's 24, the next reset, the last sync, a deferral.

Calls come from each audience's ledger and its day's claims (``ledger.json`` and the claim files' names only:
snapshot files, which hold hashed ids, are never opened), counted as the budget counts them, the larger of the
two; the last sync from the audience asset's newest event and the summary its task returned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from airflow_provider_tiktok.audiences.claims import claimed
from airflow_provider_tiktok.audiences.damage import Damage, decode_ledger
from airflow_provider_tiktok.audiences.ledger import LEDGER_FILE, LEDGER_VERSION, STATUSES, counted_on
from airflow_provider_tiktok.audiences.plan import TIKTOK_DAILY_CALL_LIMIT, next_utc_midnight, utc_day
from airflow_provider_tiktok.ui.records import AUDIENCE_SCHEME, AssetRecord, DeferredSync, as_int, uri_parts
from airflow_provider_tiktok.utils.storage import as_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LedgerView:
    """What the page shows of one audience's ledger: who it is and the calls counted on today's UTC day."""

    advertiser_id: str
    key: str
    audience_id: str | None
    name: str | None
    calls_today: int
    problem: str | None = None


@dataclass(frozen=True)
class AudienceRow:
    """One line of the Audiences table."""

    advertiser_id: str
    audience_id: str | None
    name: str | None
    calls_used: int | None
    resets_at: datetime
    last_sync: AssetRecord | None = None
    deferred: DeferredSync | None = None
    problem: str | None = None
    limit: int = TIKTOK_DAILY_CALL_LIMIT

    @property
    def calls_left(self) -> int | None:
        """Calls still allowed today (None when no ledger was found)."""
        return None if self.calls_used is None else max(0, self.limit - self.calls_used)

    def last(self, key: str) -> Any:
        """A value of the last sync's summary (or asset extra); None without a sync."""
        return self.last_sync.value(key) if self.last_sync is not None else None


def read_ledger(raw: bytes, advertiser_id: str, key: str, now: datetime) -> LedgerView:
    """A ledger file's view for the page; a damaged file is shown as such, never guessed at."""
    try:
        data = decode_ledger(raw, version=LEDGER_VERSION, statuses=STATUSES)
    except Damage as damage:
        return LedgerView(advertiser_id, key, None, None, 0, problem=f"damaged ledger: {damage}")
    audience_id = data.get("audience_id")
    name = data.get("audience_name")
    return LedgerView(
        advertiser_id,
        key,
        str(audience_id) if audience_id else None,
        name if isinstance(name, str) else None,
        len(counted_on(data["calls"], utc_day(now))),
    )


def scan_ledgers(roots: Iterable[str], now: datetime) -> list[LedgerView]:
    """Every audience ledger under the state roots (``<root>/audiences/<advertiser>/<key>/ledger.json``)."""
    views = []
    for root in roots:
        base = as_path(root) / "audiences"
        try:
            advertisers = sorted(base.iterdir()) if base.is_dir() else []
            for advertiser in advertisers:
                for folder in sorted(advertiser.iterdir()):
                    path = folder / LEDGER_FILE
                    if path.is_file():
                        view = read_ledger(path.read_bytes(), advertiser.name, folder.name, now)
                        # Racing workers may claim calls whose ledger entry was lost: the budget counts claims too.
                        claims = claimed(folder, utc_day(now))
                        views.append(replace(view, calls_today=max(view.calls_today, claims)))
        except OSError as err:  # an unreadable root hides its audiences, not the page
            log.warning("TikTok page: cannot read the audience state under %s: %s", root, err)
    return views


def _audience_of(record: AssetRecord) -> tuple[str, str | None, str | None]:
    """(advertiser id, audience id, name) of an audience asset event."""
    parts = uri_parts(record.uri, AUDIENCE_SCHEME)
    advertiser, label = parts[0], "/".join(parts[1:])
    audience_id = record.value("audience_id")
    if audience_id:
        return advertiser, str(audience_id), None if label.isdigit() else label
    return advertiser, (label if label.isdigit() else None), (None if label.isdigit() else label)


def _latest_syncs(records: Iterable[AssetRecord]) -> dict[tuple[str, str], AssetRecord]:
    """The newest event per audience, keyed by (advertiser, audience id or name)."""
    latest: dict[tuple[str, str], AssetRecord] = {}
    for record in records:
        if not record.uri.startswith(AUDIENCE_SCHEME):
            continue
        advertiser, audience_id, name = _audience_of(record)
        key = (advertiser, audience_id or name or "")
        if key not in latest or record.timestamp > latest[key].timestamp:
            latest[key] = record
    return latest


def audience_rows(
    ledgers: Iterable[LedgerView], records: Iterable[AssetRecord], deferred: Iterable[DeferredSync], now: datetime
) -> list[AudienceRow]:
    """One row per audience known from a ledger or an asset event; deferred syncs attach to the audience their
    task last synced, or stand alone (a first sync waiting for the reset)."""
    resets_at = next_utc_midnight(now)
    syncs = _latest_syncs(records)
    rows: dict[tuple[str, str], AudienceRow] = {}
    for view in ledgers:
        key = (view.advertiser_id, view.audience_id or view.name or view.key)
        rows[key] = AudienceRow(
            view.advertiser_id,
            view.audience_id,
            view.name,
            None if view.problem else view.calls_today,
            resets_at,
            problem=view.problem,
        )
    for key, record in syncs.items():
        advertiser, audience_id, name = _audience_of(record)
        match = key if key in rows else _key_by_name(rows, advertiser, name)
        if match is None:
            rows[key] = AudienceRow(advertiser, audience_id, name, None, resets_at, last_sync=record)
        else:
            rows[match] = replace(rows[match], last_sync=record, name=rows[match].name or name)
    return _attach_deferred(list(rows.values()), deferred, resets_at)


def _key_by_name(rows: dict[tuple[str, str], AudienceRow], advertiser: str, name: str | None) -> tuple[str, str] | None:
    """The row of the advertiser's audience of that name (an event named by name, a ledger that knows the id)."""
    return next(
        (key for key, row in rows.items() if name and row.advertiser_id == advertiser and row.name == name), None
    )


def _attach_deferred(
    rows: list[AudienceRow], deferred: Iterable[DeferredSync], resets_at: datetime
) -> list[AudienceRow]:
    """Mark the audience a deferred task last synced; a deferred task with no earlier sync gets its own row."""
    result = list(rows)
    for wait in deferred:
        task = (wait.dag_id, wait.task_id)
        index = next((i for i, row in enumerate(result) if _synced_by(row) == task), None)
        if index is None:
            result.append(AudienceRow("", None, None, None, resets_at, deferred=wait))
        else:
            result[index] = replace(result[index], deferred=wait)
    return sorted(result, key=lambda row: (row.advertiser_id, row.name or "", row.audience_id or ""))


def _synced_by(row: AudienceRow) -> tuple[str | None, str | None] | None:
    """(DAG, task) of the row's last sync."""
    return (row.last_sync.dag_id, row.last_sync.task_id) if row.last_sync is not None else None


def sync_counts(row: AudienceRow) -> str:
    """``+added / -removed`` of the last sync, as the table shows it."""
    return f"+{as_int(row.last('added'))} / -{as_int(row.last('removed'))}"
