"""TikTokEventsUploadOperator: conversions from a list, a file or SQL to TikTok's Events API 2.0, normalised
and hashed in the task, in batches of up to 1,000, bad rows isolated and set aside, nothing sent twice."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import Asset, BaseOperator, BaseOperatorLink
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from airflow_provider_tiktok.utils import batching
from airflow_provider_tiktok.utils.assets import emit, with_outlet
from airflow_provider_tiktok.utils.event_progress import (
    RejectsLog,
    UploadProgress,
    progress_location,
    rejects_location,
    run_key,
)
from airflow_provider_tiktok.utils.events import BuildTally, EventRules, RowRejected, build_event, redacted
from airflow_provider_tiktok.utils.readers import iter_records

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

log = logging.getLogger(__name__)

EVENTS_PATH = "event/track/"
#: TikTok Events Manager, opened on the advertiser's account when it is known.
EVENTS_MANAGER_URL = "https://ads.tiktok.com/i18n/events_manager"
XCOM_LINK_KEY = "tiktok_events_manager_url"
#: Custom event names listed in the summary (the most frequent ones).
MAX_LISTED_NAMES = 20
#: Declared as the task's outlet when the event source is only known at run time (each run attaches its
#: source's asset); a literal event_source_id declares the asset itself, registered when the DAG is parsed.
ASSET_ALIAS = "tiktok_events"
#: A pixel code, app id or event set id as written in a DAG file (no template, no ``.sql`` file name).
_LITERAL_SOURCE_ID = re.compile(r"[A-Za-z0-9_-]+")


def utcnow() -> datetime:
    """The current instant (tests replace it to follow the emulator's clock)."""
    return datetime.now(timezone.utc)


def event_source_asset(event_source_id: str) -> Asset:
    """The asset an upload updates: the events TikTok holds for one pixel, app or event set."""
    return Asset(uri=f"tiktok-events://{quote(event_source_id, safe='')}")


def _is_fraction(value: object) -> bool:
    """A number from 0 to 1 (booleans, text and NaN are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def events_manager_url(advertiser_id: str | None) -> str:
    """Events Manager, on the advertiser's account when one is known."""
    return f"{EVENTS_MANAGER_URL}?aadvid={advertiser_id}" if advertiser_id else EVENTS_MANAGER_URL


@dataclass
class EventUpload:
    """One attempt of one run: build events from records, send batches in parallel, keep progress and rejects."""

    hook: TikTokAdsHook
    rules: EventRules
    request: dict[str, Any]
    batch_size: int
    max_in_flight: int
    progress: UploadProgress
    rejects: RejectsLog
    tally: BuildTally = field(default_factory=BuildTally)
    received: int = 0
    sent: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    batches_resumed: int = 0
    sent_earlier: int = 0
    isolation_calls: int = 0
    partial_without_details: int = 0

    def run(self, records: Iterator[tuple[int, dict[str, Any]]]) -> None:
        """Send every event; on a failure, finish and record the batches in flight, then raise it."""
        pending: dict[Future[batching.Delivery], tuple[batching.Batch, str]] = {}
        with ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="tiktok-events") as pool:
            try:
                for batch in batching.batched(self._events(records), self.batch_size):
                    self.batches += 1
                    fingerprint = batch.fingerprint(self.progress.scope)
                    earlier = self.progress.accepted(batch.index, fingerprint)
                    if earlier is not None:
                        self._resume(batch.index, earlier)
                        continue
                    while len(pending) >= self.max_in_flight:
                        self._settle(pending, FIRST_COMPLETED)
                    pending[pool.submit(batching.deliver, batch, self._send)] = (batch, fingerprint)
                while pending:
                    self._settle(pending, FIRST_COMPLETED)
            except BaseException:
                self._drain(pending)
                raise

    def _events(self, records: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]:
        for row, record in records:
            self.received += 1
            try:
                yield row, build_event(record, row, self.rules, self.tally)
            except RowRejected as err:
                self._reject(row, None, err.field, err.reason, None, redacted(record, self.rules))

    def _send(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        return self.hook.request("POST", EVENTS_PATH, json={**self.request, "data": events})

    def _settle(self, pending: dict[Future[batching.Delivery], tuple[batching.Batch, str]], when: str) -> None:
        """Record the batches that finished; raise the first error among them after recording the rest."""
        done, _ = wait(pending, return_when=when)
        error: BaseException | None = None
        for future in done:
            batch, fingerprint = pending.pop(future)
            try:
                self._record(batch, fingerprint, future.result())
            except BaseException as exc:
                error = error or exc
        if error is not None:
            raise error

    def _drain(self, pending: dict[Future[batching.Delivery], tuple[batching.Batch, str]]) -> None:
        """After a failure: wait for the batches in flight and keep the progress of those TikTok accepted."""
        for future, (batch, fingerprint) in list(pending.items()):
            if future.cancel():
                continue
            try:
                self._record(batch, fingerprint, future.result())
            except Exception as exc:
                log.warning("Batch %d failed too: %s", batch.index + 1, exc)
        pending.clear()

    def _record(self, batch: batching.Batch, fingerprint: str, delivery: batching.Delivery) -> None:
        reasons: Counter[str] = Counter()
        for rejection in delivery.rejections:
            reason = self._reject(
                rejection.row, batch.index, rejection.field, rejection.reason, rejection.code, rejection.event
            )
            reasons[reason] += 1
        self.sent += delivery.sent
        self.isolation_calls += delivery.isolation_calls
        self.partial_without_details += delivery.partial_without_details
        self.progress.record(batch.index, fingerprint, delivery.sent, reasons)

    def _resume(self, index: int, earlier: dict[str, Any]) -> None:
        """Count a batch an earlier attempt delivered, and keep its rejections."""
        self.batches_resumed += 1
        self.sent_earlier += int(earlier.get("sent") or 0)
        self.sent += int(earlier.get("sent") or 0)
        self.rejected_by_reason.update({str(k): int(v) for k, v in (earlier.get("rejected") or {}).items()})
        self.rejects.carry(index)

    def _reject(
        self, row: int, batch: int | None, name: str | None, reason: str, code: int | None, event: dict[str, Any]
    ) -> str:
        key = f"{name}: {reason}" if name else reason
        self.rejected_by_reason[key] += 1
        self.rejects.add({"row": row, "field": name, "reason": reason, "code": code, "batch": batch, "event": event})
        return key


class TikTokEventsManagerLink(BaseOperatorLink):
    """Opens TikTok Events Manager on the advertiser's account (URL pushed to XCom by the task)."""

    name = "TikTok Events Manager"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task pushed, or nothing before it ran."""
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=XCOM_LINK_KEY) or ""


class TikTokEventsUploadOperator(BaseOperator):
    """Send events (conversions) to TikTok's Events API 2.0, hashed and validated inside the task.

    Rows that cannot be sent, and rows TikTok refuses, go to a rejects file with the reason (hashed
    identifiers only). A task retry skips the batches TikTok already accepted in this run. The task fails,
    after sending every good event, when the rejected share exceeds ``max_rejected_fraction``. Its outlet is
    the asset ``tiktok-events://<event_source_id>``, whose events carry the run's counts.

    :param events: a list of records (or an XComArg), or the URI of a CSV / JSON Lines file, local or any
        ObjectStoragePath, optionally gzipped (templated). Leave None with ``sql``.
    :param event_source: ``web``, ``app``, ``offline`` or ``crm`` (templated).
    :param event_source_id: the pixel code, app id or offline/CRM event set id (templated).
    :param sql: a query whose rows are the events, read in chunks (templated).
    :param sql_conn_id: the Airflow SQL connection ``sql`` runs on (templated).
    :param field_map: source column -> canonical field (``{"mail": "email"}``); None drops a column (templated).
    :param test_event_code: Events Manager's test code: the events show under Test events only (templated).
    :param default_event: event name for rows without one (templated).
    :param default_phone_region: region of phone numbers written without a country code (templated).
    :param default_currency: ISO 4217 currency of amounts given without one (templated).
    :param default_content_type: ``product`` or ``product_group`` where contents are given without a type.
    :param limited_data_use: ask TikTok for limited data processing (US state privacy laws), unless a row
        says otherwise in its own ``limited_data_use`` field.
    :param max_event_age_days: older events are rejected before sending (TikTok refuses more than 28).
    :param batch_size: events per request, at most 1,000.
    :param max_in_flight: requests sent at the same time (through the connection's rate limit).
    :param max_rejected_fraction: share of rows that may be rejected before the task fails (0 means none).
    :param rejects_uri: JSON Lines file for rejected rows (templated); default
        ``$AIRFLOW_HOME/tiktok/rejects/events/<dag>/<task>/<run>.jsonl``.
    :param state_uri: folder of the per-run progress files (templated); default
        ``$AIRFLOW_HOME/tiktok/state/events``. Use shared storage when retries may run on another worker.
    :param advertiser_id: advertiser whose Events Manager the task's link opens; None means the
        connection's ``advertiser_id`` extra (templated).
    :param tiktok_conn_id: Airflow connection of type ``tiktok_ads`` (templated).
    :param rate_limit: Events API requests per second, shared with every upload on the host; None uses the
        connection's ``events_rate_limit``.
    """

    template_fields = (
        "events",
        "event_source",
        "event_source_id",
        "sql",
        "sql_conn_id",
        "field_map",
        "test_event_code",
        "default_event",
        "default_phone_region",
        "default_currency",
        "rejects_uri",
        "state_uri",
        "advertiser_id",
        "tiktok_conn_id",
    )
    template_ext = (".sql",)
    operator_extra_links = (TikTokEventsManagerLink(),)
    ui_color = "#fe2c55"

    def __init__(
        self,
        *,
        events: Any = None,
        event_source: str = "web",
        event_source_id: str,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        field_map: dict[str, str | None] | None = None,
        test_event_code: str | None = None,
        default_event: str | None = None,
        default_phone_region: str = "US",
        default_currency: str = "USD",
        default_content_type: str = "product",
        limited_data_use: bool = False,
        max_event_age_days: int = 28,
        batch_size: int = batching.MAX_BATCH_SIZE,
        max_in_flight: int = 4,
        max_rejected_fraction: float = 0.0,
        rejects_uri: str | None = None,
        state_uri: str | None = None,
        advertiser_id: str | None = None,
        tiktok_conn_id: str = TikTokAdsHook.default_conn_name,
        rate_limit: float | None = None,
        **kwargs: Any,
    ) -> None:
        literal = isinstance(event_source_id, str) and _LITERAL_SOURCE_ID.fullmatch(event_source_id)
        known = event_source_asset(event_source_id) if literal else None
        outlets, self._outlet = with_outlet(kwargs.pop("outlets", None), known, ASSET_ALIAS)
        super().__init__(outlets=outlets, **kwargs)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 1000:
            raise TikTokConfigError("batch_size must be a whole number from 1 to 1000 (TikTok's limit a request)")
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or not 1 <= max_in_flight <= 64:
            raise TikTokConfigError("max_in_flight must be a whole number from 1 to 64")
        if not _is_fraction(max_rejected_fraction):
            raise TikTokConfigError("max_rejected_fraction must be a number between 0 and 1")
        self.events = events
        self.event_source = event_source
        self.event_source_id = event_source_id
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.field_map = field_map
        self.test_event_code = test_event_code
        self.default_event = default_event
        self.default_phone_region = default_phone_region
        self.default_currency = default_currency
        self.default_content_type = default_content_type
        self.limited_data_use = limited_data_use
        self.max_event_age_days = max_event_age_days
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.max_rejected_fraction = float(max_rejected_fraction)
        self.rejects_uri = rejects_uri
        self.state_uri = state_uri
        self.advertiser_id = advertiser_id
        self.tiktok_conn_id = tiktok_conn_id
        self.rate_limit = rate_limit
        #: The summary of a finished upload, for lineage.
        self._sent: dict[str, Any] | None = None

    @cached_property
    def hook(self) -> TikTokAdsHook:
        """The TikTok hook of this task (one session and rate limiter for every thread)."""
        return TikTokAdsHook(self.tiktok_conn_id, events_rate_limit=self.rate_limit)

    def execute(self, context: Context) -> dict[str, Any]:
        """Read the input, build and send the events batch by batch, report one summary."""
        started = time.monotonic()
        rules = self._rules()
        key = self._run_key(context)
        context["ti"].xcom_push(key=XCOM_LINK_KEY, value=events_manager_url(self._advertiser_id()))
        records = iter_records(self.events, sql=self.sql, sql_conn_id=self.sql_conn_id, field_map=self.field_map)
        upload = EventUpload(
            self.hook,
            rules,
            self._request(),
            self.batch_size,
            self.max_in_flight,
            UploadProgress(progress_location(key, self.state_uri), self._scope()),
            RejectsLog(rejects_location(key, self.rejects_uri), context["run_id"]),
        )
        try:
            upload.run(records)
        except Exception:
            log.error(
                "TikTok event upload stopped after %d rows: %d events sent, %d rejected, %d batches; a retry of this "
                "run skips the accepted batches",
                upload.received,
                upload.sent,
                sum(upload.rejected_by_reason.values()),
                upload.batches,
            )
            raise
        finally:
            rejects_uri = upload.rejects.publish()
        summary = self._summary(upload, rejects_uri, time.monotonic() - started)
        self._sent = summary
        self._check_rejected_share(summary)
        emit(context, self._outlet, event_source_asset(summary["event_source_id"]), self._asset_extra(summary))
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the input in, the event source out with the events sent (from the run, no API call)."""
        from airflow_provider_tiktok.utils.openlineage import events_lineage

        return events_lineage(self.hook, self._sent, events=self.events, sql=self.sql, sql_conn_id=self.sql_conn_id)

    def _rules(self) -> EventRules:
        if not str(self.event_source_id or "").strip():
            raise TikTokConfigError("event_source_id is required: the pixel code, app id or event set id")
        return EventRules(
            event_source=str(self.event_source).strip().lower(),
            now=int(utcnow().timestamp()),
            default_event=self.default_event or None,
            default_phone_region=self.default_phone_region,
            default_currency=self.default_currency,
            default_content_type=self.default_content_type,
            limited_data_use=self.limited_data_use,
            max_event_age_days=self.max_event_age_days,
        )

    def _request(self) -> dict[str, Any]:
        """The request body without its events."""
        body = {"event_source": str(self.event_source).strip().lower(), "event_source_id": str(self.event_source_id)}
        if self.test_event_code:
            body["test_event_code"] = str(self.test_event_code)
        return body

    def _scope(self) -> str:
        """What must match for a retry to skip an accepted batch: the destination of the events."""
        return "|".join((str(self.event_source).lower(), str(self.event_source_id), str(self.test_event_code or "")))

    def _run_key(self, context: Context) -> str:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", None)
        return run_key(ti.dag_id, ti.task_id, context["run_id"], -1 if map_index is None else map_index)

    def _advertiser_id(self) -> str | None:
        """The advertiser for the link; the Events API itself needs none, so its absence is no error."""
        try:
            return self.hook.resolve_advertiser_id(self.advertiser_id)
        except TikTokConfigError:
            return None

    def _summary(self, upload: EventUpload, rejects_uri: str | None, duration: float) -> dict[str, Any]:
        rejected = sum(upload.rejected_by_reason.values())
        summary = {
            "event_source": str(self.event_source).strip().lower(),
            "event_source_id": str(self.event_source_id),
            "received": upload.received,
            "sent": upload.sent,
            "rejected": rejected,
            "rejected_by_reason": dict(upload.rejected_by_reason.most_common()),
            "batches": upload.batches,
            "batches_resumed": upload.batches_resumed,
            "api_calls": self.hook.api_calls,
            "isolation_calls": upload.isolation_calls,
            "duration_s": round(duration, 3),
            "events_per_s": round((upload.sent - upload.sent_earlier) / duration, 1) if duration > 0 else 0.0,
            "rejects_uri": rejects_uri,
            "nonstandard_event_names": dict(upload.tally.nonstandard_event_names.most_common(MAX_LISTED_NAMES)),
            "dropped_fields": dict(sorted(upload.tally.dropped_fields.items())),
            "test_event_code": bool(self.test_event_code),
        }
        if upload.partial_without_details:
            summary["partial_success_without_details"] = upload.partial_without_details
        log.info(
            "TikTok events to %s %s: received %d, sent %d, rejected %d %s, %d batches (%d resumed), %d API calls "
            "(%d isolating bad rows), %.1f events/s in %.1fs, rejects %s, custom event names %s, dropped fields %s, "
            "test event code %s",
            summary["event_source"],
            summary["event_source_id"],
            summary["received"],
            summary["sent"],
            rejected,
            summary["rejected_by_reason"],
            summary["batches"],
            summary["batches_resumed"],
            summary["api_calls"],
            summary["isolation_calls"],
            summary["events_per_s"],
            duration,
            rejects_uri or "-",
            summary["nonstandard_event_names"],
            summary["dropped_fields"],
            "used" if self.test_event_code else "not used",
        )
        return summary

    @staticmethod
    def _asset_extra(summary: dict[str, Any]) -> dict[str, Any]:
        """The counts an asset event carries (the event source is the asset itself)."""
        keys = ("event_source", "received", "sent", "rejected", "batches", "test_event_code")
        return {key: summary[key] for key in keys}

    def _check_rejected_share(self, summary: dict[str, Any]) -> None:
        """Fail (without retrying: the same rows would be rejected again) above the allowed rejected share."""
        received, rejected = summary["received"], summary["rejected"]
        if received and rejected / received > self.max_rejected_fraction:
            reasons = "; ".join(
                f"{reason} ({count})" for reason, count in list(summary["rejected_by_reason"].items())[:3]
            )
            raise AirflowFailException(
                f"{rejected} of {received} events were rejected ({rejected / received:.2%}, allowed "
                f"{self.max_rejected_fraction:.2%}); every other event was sent. Most frequent reasons: {reasons}. "
                f"Reasons and rows are in {summary['rejects_uri']}; raise max_rejected_fraction to accept some "
                "rejections"
            )
