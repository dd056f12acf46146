"""TikTokAudienceSyncOperator: keep a TikTok custom audience equal to a cohort, never over 24 calls a day."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, NoReturn
from urllib.parse import quote

from airflow_provider_tiktok.audiences import plan as audience_plan
from airflow_provider_tiktok.audiences.cohort import AudienceSyncSpec, check_audience_name, check_sync_options
from airflow_provider_tiktok.audiences.ledger import DailyCallLimitReached
from airflow_provider_tiktok.audiences.sync import AwaitLanding, sync_audience
from airflow_provider_tiktok.compat import AirflowFailException, AirflowSkipException, Asset, BaseOperator, Context
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from airflow_provider_tiktok.links import XCOM_LINK_KEY, TikTokLink
from airflow_provider_tiktok.utils import clock
from airflow_provider_tiktok.utils.assets import emit, literal_id, literal_text, with_outlet
from airflow_provider_tiktok.utils.readers import iter_records

#: The advertiser's Audiences page in TikTok Ads Manager.
AUDIENCES_URL = "https://ads.tiktok.com/i18n/dmp/audience/list?aadvid={advertiser_id}"
#: Resume a little after 00:00 UTC so that TikTok's clock has certainly passed midnight too.
QUOTA_RESET_MARGIN = timedelta(minutes=1)
ON_QUOTA_EXHAUSTED = ("defer", "skip", "fail")
#: Declared as the task's outlet when the advertiser or audience is only known at run time (each run attaches
#: its audience's asset); literal ids or name declare the asset itself, registered when the DAG is parsed.
ASSET_ALIAS = "tiktok_audience"
#: What an audience asset event carries.
ASSET_EXTRA_KEYS = ("mode", "audience_id", "added", "removed", "audience_size", "audience_calls_left_today")


def audience_asset(advertiser_id: str, audience_id: str | None, audience_name: str | None) -> Asset:
    """The asset a sync updates: one audience, by the id the task names, else by its (URL-quoted) name."""
    return Asset(uri=f"tiktok-audience://{advertiser_id}/{audience_id or quote(audience_name or '', safe='')}")


def _check_arguments(
    no_members: bool, no_sql: bool, audience_id: object, audience_name: object, on_quota_exhausted: str
) -> None:
    """Refuse, when the DAG is parsed, arguments no sync could run with."""
    if on_quota_exhausted not in ON_QUOTA_EXHAUSTED:
        raise TikTokConfigError(f"on_quota_exhausted must be one of {', '.join(ON_QUOTA_EXHAUSTED)}")
    if no_members == no_sql:
        raise TikTokConfigError("pass exactly one of members or sql")
    if audience_id in (None, "") and not audience_name:
        raise TikTokConfigError("pass audience_id, or audience_name to find or create the audience")
    if literal_text(audience_name):
        check_audience_name(audience_name)


def _check_minutes(minutes: object) -> None:
    """``replace_processing_minutes`` is a number of minutes from 0 to 10,000."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 <= minutes < 10_000:
        raise TikTokConfigError("replace_processing_minutes must be a number of minutes from 0 to 10,000")


class TikTokAudienceSyncOperator(BaseOperator):
    """Sync a cohort (emails, phones, IDFA or GAID) to a TikTok customer-file audience within TikTok's daily limit.

    TikTok allows 24 create/update/delete calls per audience per UTC day. Every sync costs at most two
    (usually one, none when nothing changed): ``mirror`` diffs the cohort against the last membership TikTok
    accepted and sends APPEND and/or REMOVE, or one REPLACE when that saves a call. Each call is reserved in a
    durable ledger under ``state_uri`` before it is sent, so retries, backfills and concurrent runs can never
    exceed ``daily_call_limit``. Run syncs of one audience one at a time: put the task in an Airflow pool
    named ``tiktok_audience`` (create it with one slot per audience you sync; the task uses one slot); on a
    local ``state_uri`` a file lock also serialises them. Its outlet is the asset
    ``tiktok-audience://<advertiser_id>/<audience_id, else the URL-quoted audience_name>``, whose events carry
    the members added and removed, the audience size and the audience calls left today.

    :param members: the cohort (templated): a list of identifiers (raw or SHA-256 hex) or of dicts, an
        XComArg, or the URI of a CSV / JSON Lines file (local or any ObjectStoragePath). Streamed.
    :param id_type: ``email``, ``phone``, ``idfa`` or ``gaid``; the column (or dict key) holding the identifier.
    :param audience_id: the TikTok audience to sync (templated). The ledger is kept per ``audience_id``,
        else per ``audience_name``: name one audience the same way in every task that syncs it.
    :param audience_name: find the audience by this exact name, or create it on the first sync (templated).
    :param advertiser_id: the advertiser; default the connection's ``advertiser_id`` extra (templated).
    :param mode: ``mirror`` (make the audience equal ``members``), ``append`` or ``remove`` (send the list).
    :param tiktok_conn_id: the ``tiktok_ads`` connection (templated).
    :param state_uri: root of the ledger and snapshots; default the connection's ``state_uri`` extra, else
        ``$AIRFLOW_HOME/tiktok/state``; when tasks run on several machines it must be a folder or ObjectStoragePath
        URI every worker sees (templated).
    :param daily_call_limit: audience calls allowed per UTC day, at most TikTok's 24.
    :param min_audience_size: an update that would leave fewer members is withheld (at least TikTok's 1,000).
    :param on_quota_exhausted: ``defer`` (wait for 00:00 UTC without a worker slot, then sync the current
        cohort), ``skip`` or ``fail``.
    :param retention_in_days: None (default) lets TikTok keep the audience while it is used or synced (it
        expires 365 days after its last use or change); a number of days (1-365) makes it expire that long
        after its creation, however often it is synced afterwards.
    :param default_phone_region: region for phone numbers without a country code.
    :param phone_format: how phones are written before hashing: ``digits`` (country code and number, no
        "+", as TikTok's customer-file normalisation page shows since 2025) or ``e164`` (with "+", as its
        older pages do). Sources disagree; the hashes differ, so pick what matches your other uploads.
    :param email_tag_rule: ``remove`` (default: ``jo+news@x.com`` is hashed as ``jo@x.com``, as TikTok's
        customer-file page says) or ``keep``.
    :param field_map: source column -> field renames, e.g. ``{"user_email": "email"}`` (templated).
    :param sql: a query whose rows are the members, read through ``sql_conn_id`` (templated).
    :param sql_conn_id: an Airflow SQL connection for ``sql`` (templated).
    :param rejects_uri: where to write invalid members' row numbers and reasons; default next to the
        ledger (templated).
    :param replace_processing_minutes: how long a REPLACE is assumed to keep processing; no second REPLACE
        is sent meanwhile (TikTok rejects it).
    """

    template_fields: Sequence[str] = (
        "members",
        "audience_id",
        "audience_name",
        "advertiser_id",
        "tiktok_conn_id",
        "state_uri",
        "field_map",
        "sql",
        "sql_conn_id",
        "rejects_uri",
    )
    operator_extra_links = (TikTokLink(name="TikTok Audiences"),)

    def __init__(
        self,
        *,
        members: Any = None,
        id_type: str,
        audience_id: str | int | None = None,
        audience_name: str | None = None,
        advertiser_id: str | int | None = None,
        mode: str = "mirror",
        tiktok_conn_id: str = TikTokAdsHook.default_conn_name,
        state_uri: str | None = None,
        daily_call_limit: int = audience_plan.TIKTOK_DAILY_CALL_LIMIT,
        min_audience_size: int = audience_plan.TIKTOK_MIN_AUDIENCE_SIZE,
        on_quota_exhausted: str = "defer",
        retention_in_days: int | None = None,
        default_phone_region: str = "US",
        phone_format: str = "digits",
        email_tag_rule: str = "remove",
        field_map: dict[str, str] | None = None,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        rejects_uri: str | None = None,
        replace_processing_minutes: float = 30,
        **kwargs: Any,
    ) -> None:
        outlets, self._outlet = with_outlet(
            kwargs.pop("outlets", None), self._declared_asset(advertiser_id, audience_id, audience_name), ASSET_ALIAS
        )
        super().__init__(outlets=outlets, **kwargs)
        check_sync_options(id_type, mode, phone_format, email_tag_rule)
        _check_arguments(members is None, sql is None, audience_id, audience_name, on_quota_exhausted)
        _check_minutes(replace_processing_minutes)
        self.members = members
        self.id_type = id_type
        self.audience_id = audience_id
        self.audience_name = audience_name
        self.advertiser_id = advertiser_id
        self.mode = mode
        self.tiktok_conn_id = tiktok_conn_id
        self.state_uri = state_uri
        self.daily_call_limit = daily_call_limit
        self.min_audience_size = min_audience_size
        self.on_quota_exhausted = on_quota_exhausted
        self.retention_in_days = retention_in_days
        self.default_phone_region = default_phone_region
        self.phone_format = phone_format
        self.email_tag_rule = email_tag_rule
        self.field_map = field_map
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.rejects_uri = rejects_uri
        self.replace_processing_minutes = replace_processing_minutes

    @staticmethod
    def _declared_asset(advertiser_id: object, audience_id: object, audience_name: object) -> Asset | None:
        """The audience's asset when the DAG file names it literally, else None (its alias stands in)."""
        advertiser = literal_id(advertiser_id)
        if audience_id not in (None, ""):
            audience = literal_id(audience_id)
            return audience_asset(advertiser, audience, None) if advertiser and audience else None
        name = literal_text(audience_name)
        return audience_asset(advertiser, None, name) if advertiser and name else None

    @cached_property
    def hook(self) -> TikTokAdsHook:
        """The TikTok hook of ``tiktok_conn_id``."""
        return TikTokAdsHook(self.tiktok_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Sync the rendered members; defer, skip or fail when today's audience calls are spent."""
        return self._sync(context, deferred_until=None)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """After the daily reset: sync the cohort as it is now."""
        return self._sync(context, deferred_until=str(event) if event is not None else None)

    def _sync(self, context: Context, deferred_until: str | None) -> dict[str, Any]:
        spec = self._spec(context)
        records = iter_records(self.members, sql=self.sql, sql_conn_id=self.sql_conn_id, field_map=self.field_map)
        try:
            summary = sync_audience(self.hook, spec, records, clock=clock.utcnow)
        except DailyCallLimitReached as exc:
            self._quota_exhausted(exc)
        except AwaitLanding as wait:
            self._wait(wait.until)
        summary["deferred_until"] = deferred_until
        context["ti"].xcom_push(key=XCOM_LINK_KEY, value=AUDIENCES_URL.format(advertiser_id=spec.advertiser_id))
        self.log.info("TikTok audience sync: %s", json.dumps(summary, sort_keys=True))
        asset = audience_asset(spec.advertiser_id, spec.audience_id, spec.audience_name)
        emit(context, self._outlet, asset, {key: summary[key] for key in ASSET_EXTRA_KEYS})
        return summary

    def _spec(self, context: Context) -> AudienceSyncSpec:
        """The rendered arguments as a plain sync spec."""
        ti = context.get("ti")
        return AudienceSyncSpec(
            advertiser_id=self.hook.resolve_advertiser_id(self.advertiser_id),
            id_type=self.id_type,
            mode=self.mode,
            audience_id=str(self.audience_id).strip() if self.audience_id not in (None, "") else None,
            audience_name=self.audience_name or None,
            state_uri=self.state_uri or self.hook.config.state_uri,
            rejects_uri=self.rejects_uri,
            daily_call_limit=self.daily_call_limit,
            min_audience_size=self.min_audience_size,
            retention_in_days=self.retention_in_days,
            default_phone_region=self.default_phone_region,
            phone_format=self.phone_format,
            email_tag_rule=self.email_tag_rule,
            replace_processing=timedelta(minutes=self.replace_processing_minutes),
            run=f"{context.get('run_id')}/{getattr(ti, 'task_id', self.task_id)}#{getattr(ti, 'try_number', '')}",
        )

    def _quota_exhausted(self, exc: DailyCallLimitReached) -> NoReturn:
        """Defer until the reset, skip, or fail, as ``on_quota_exhausted`` says."""
        self.log.warning("TikTok audience sync: %s", exc)
        if self.on_quota_exhausted == "skip":
            raise AirflowSkipException(str(exc))
        if self.on_quota_exhausted == "fail":
            raise AirflowFailException(f"{exc}. Set on_quota_exhausted='defer' to wait for the reset instead.")
        self._wait(exc.resets_at + QUOTA_RESET_MARGIN)

    def _wait(self, moment: datetime) -> NoReturn:
        """Give the worker slot back until ``moment`` (the standard date-time trigger), then sync again."""
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="execute_complete")
