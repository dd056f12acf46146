"""TikTokEventsUploadOperator: conversions from a list, a file or SQL to TikTok's Events API 2.0, normalised
and hashed in the task, in batches of up to 1,000, bad rows isolated and set aside, nothing sent twice."""

from __future__ import annotations

import re
import time
from functools import cached_property
from typing import Any
from urllib.parse import quote

from airflow_provider_tiktok.compat import AirflowFailException, Asset, BaseOperator, Context
from airflow_provider_tiktok.events import batching
from airflow_provider_tiktok.events.progress import (
    RejectsLog,
    UploadProgress,
    progress_location,
    rejects_location,
    run_key,
)
from airflow_provider_tiktok.events.rules import EventRules
from airflow_provider_tiktok.events.upload import EventUpload
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from airflow_provider_tiktok.links import XCOM_LINK_KEY, TikTokLink
from airflow_provider_tiktok.utils import clock
from airflow_provider_tiktok.utils.assets import emit, with_outlet
from airflow_provider_tiktok.utils.readers import iter_records

#: TikTok Events Manager, opened on the advertiser's account when it is known.
EVENTS_MANAGER_URL = "https://ads.tiktok.com/i18n/events_manager"
#: Declared as the task's outlet when the event source is only known at run time (each run attaches its
#: source's asset); a literal event_source_id declares the asset itself, registered when the DAG is parsed.
ASSET_ALIAS = "tiktok_events"
#: A pixel code, app id or event set id as written in a DAG file (no template, no ``.sql`` file name).
_LITERAL_SOURCE_ID = re.compile(r"[A-Za-z0-9_-]+")


def event_source_asset(event_source_id: str) -> Asset:
    """The asset an upload updates: the events TikTok holds for one pixel, app or event set."""
    return Asset(uri=f"tiktok-events://{quote(event_source_id, safe='')}")


def _is_fraction(value: object) -> bool:
    """A number from 0 to 1 (booleans, text and NaN are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def _check_sending(batch_size: object, max_in_flight: object, max_rejected_fraction: object) -> None:
    """Batch size within TikTok's 1,000 a request, a sane parallelism, a rejected share between 0 and 1."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or not 1 <= batch_size <= batching.MAX_BATCH_SIZE
    ):
        raise TikTokConfigError("batch_size must be a whole number from 1 to 1000 (TikTok's limit a request)")
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or not 1 <= max_in_flight <= 64:
        raise TikTokConfigError("max_in_flight must be a whole number from 1 to 64")
    if not _is_fraction(max_rejected_fraction):
        raise TikTokConfigError("max_rejected_fraction must be a number between 0 and 1")


def events_manager_url(advertiser_id: str | None) -> str:
    """Events Manager, on the advertiser's account when one is known."""
    return f"{EVENTS_MANAGER_URL}?aadvid={advertiser_id}" if advertiser_id else EVENTS_MANAGER_URL


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
    :param test_event_code: Events Manager's test code: the events show under Test events only, and are sent
        one per request, as TikTok's partners send test events (templated).
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
        ``<connection state_uri>/rejects/events/<dag>/<task>/<run>.jsonl``, else under ``$AIRFLOW_HOME/tiktok``.
    :param state_uri: folder of the per-run progress files (templated); default ``<connection state_uri>/events``,
        else ``$AIRFLOW_HOME/tiktok/state/events``. Retries may run on another worker: use shared storage there.
    :param advertiser_id: advertiser whose Events Manager the task's link opens; None means the
        connection's ``advertiser_id`` extra (templated).
    :param app_id: for app events, the app's store id (App Store id or Google Play package name) sent as
        ``app.app_id`` where a row has no ``app_id`` of its own (templated); ``event_source_id`` is then the
        TikTok App ID.
    :param tiktok_conn_id: Airflow connection of type ``tiktok_ads`` (templated).
    :param rate_limit: Events API requests per second, shared with every upload of the app (on the host, or on
        every host with ``rate_limit_storage``); None uses the connection's ``events_rate_limit``.
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
        "app_id",
        "tiktok_conn_id",
    )
    template_ext = (".sql",)
    operator_extra_links = (TikTokLink(name="TikTok Events Manager"),)
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
        app_id: str | None = None,
        tiktok_conn_id: str = TikTokAdsHook.default_conn_name,
        rate_limit: float | None = None,
        **kwargs: Any,
    ) -> None:
        literal = isinstance(event_source_id, str) and _LITERAL_SOURCE_ID.fullmatch(event_source_id)
        known = event_source_asset(event_source_id) if literal else None
        outlets, self._outlet = with_outlet(kwargs.pop("outlets", None), known, ASSET_ALIAS)
        super().__init__(outlets=outlets, **kwargs)
        _check_sending(batch_size, max_in_flight, max_rejected_fraction)
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
        self.app_id = app_id
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
        upload = self._upload(context)
        records = iter_records(self.events, sql=self.sql, sql_conn_id=self.sql_conn_id, field_map=self.field_map)
        try:
            upload.run(records)
        except Exception:
            upload.log_stop()
            raise
        finally:
            rejects_uri = upload.rejects.publish()
        summary = upload.summary(self._destination(), rejects_uri, time.monotonic() - started)
        self._sent = summary
        self._check_rejected_share(summary)
        emit(context, self._outlet, event_source_asset(summary["event_source_id"]), self._asset_extra(summary))
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the input in, the event source out with the events sent (from the run, no API call)."""
        from airflow_provider_tiktok.utils.openlineage import events_lineage

        return events_lineage(self.hook, self._sent, events=self.events, sql=self.sql, sql_conn_id=self.sql_conn_id)

    def _upload(self, context: Context) -> EventUpload:
        """This attempt's upload: rules checked, link pushed, progress and rejects files of the run."""
        rules = self._rules()
        key, shared = self._run_key(context), self.hook.config.state_uri
        context["ti"].xcom_push(key=XCOM_LINK_KEY, value=events_manager_url(self._advertiser_id()))
        return EventUpload(
            self.hook,
            rules,
            self._request(),
            self._batch_size(),
            self.max_in_flight,
            UploadProgress(progress_location(key, self.state_uri, shared_root=shared), self._scope()),
            RejectsLog(rejects_location(key, self.rejects_uri, shared_root=shared), context["run_id"]),
        )

    def _batch_size(self) -> int:
        """Events per request: one while a test event code is set (TikTok's partners send test events one at a
        time, "batching is not supported" for them; RudderStack's TikTok destination), else ``batch_size``."""
        if self.test_event_code and self.batch_size > 1:
            self.log.info("test_event_code is set: events are sent one per request (TikTok batches no test events)")
            return 1
        return self.batch_size

    def _rules(self) -> EventRules:
        if not str(self.event_source_id or "").strip():
            raise TikTokConfigError("event_source_id is required: the pixel code, app id or event set id")
        return EventRules(
            event_source=str(self.event_source).strip().lower(),
            now=int(clock.utcnow().timestamp()),
            default_event=self.default_event or None,
            default_phone_region=self.default_phone_region,
            default_currency=self.default_currency,
            default_content_type=self.default_content_type,
            limited_data_use=self.limited_data_use,
            max_event_age_days=self.max_event_age_days,
            default_app_id=self.app_id or None,
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

    def _destination(self) -> dict[str, str]:
        """The event source the summary names."""
        return {"event_source": str(self.event_source).strip().lower(), "event_source_id": str(self.event_source_id)}

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
