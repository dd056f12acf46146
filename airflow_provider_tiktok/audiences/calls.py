"""The TikTok calls of a sync, through the hook's audience endpoints: look-ups that cost no audience call,
customer-file uploads, and the create/update calls whose every attempt is reserved in the ledger first."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.audiences import plan as audience_plan
from airflow_provider_tiktok.audiences import snapshots
from airflow_provider_tiktok.audiences.ledger import ACCEPTED, FAILED, AudienceLedger
from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError, TikTokPartialSuccess
from airflow_provider_tiktok.hooks.codes import INVALID_PARAMS, PARAM_ERROR, PARTIAL_SUCCESS
from airflow_provider_tiktok.hooks.retry import BeforeRetry

if TYPE_CHECKING:
    from airflow_provider_tiktok.audiences.cohort import AudienceSyncSpec
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

UPLOAD_THREADS = 4


@contextmanager
def whole_answers() -> Iterator[None]:
    """Audience and file calls must succeed whole: partial success (20001) counts as a failure.

    TikTok answers 20001 to row uploads (events); an audience or file call answered so may have applied part
    of the change, or (for a list) left items out. Taking it as done would move the snapshot past what TikTok
    holds; failing keeps the last accepted snapshot, and the next try sends the difference again (APPEND,
    REMOVE and REPLACE are idempotent on the member set).
    """
    try:
        yield
    except TikTokPartialSuccess as err:
        raise TikTokApiError(
            PARTIAL_SUCCESS,
            "TikTok answered partial success (20001), which this call cannot be taken as; nothing was recorded as "
            "done and the next try of the task sends it again",
            err.request_id,
            path=err.path,
        ) from err


def find_audience(hook: TikTokAdsHook, spec: AudienceSyncSpec) -> str | None:
    """The id of the advertiser's one audience named exactly like the spec's, checked for the id type."""
    found = hook.find_audience(spec.advertiser_id, spec.audience_name or "")
    if found is None:
        return None
    _check_type(found, spec.calculate_type)
    return str(found["audience_id"])


def check_audience(hook: TikTokAdsHook, spec: AudienceSyncSpec, audience_id: str) -> None:
    """Fail early, spending no audience call, when ``audience_id`` does not exist or holds another id type."""
    missing = f"audience {audience_id} was not found for advertiser {spec.advertiser_id}"
    try:
        details = hook.get_audience(spec.advertiser_id, audience_id)
    except TikTokApiError as err:
        if err.code != PARAM_ERROR:
            raise
        raise TikTokConfigError(f"{missing} (request_id={err.request_id}: {err.message})") from err
    if details is None:
        raise TikTokConfigError(missing)
    _check_type(details, spec.calculate_type)


def _check_type(details: dict[str, Any], calculate_type: str) -> None:
    found = details.get("calculate_type")
    if found and found != calculate_type:
        raise TikTokConfigError(
            f"audience {details.get('audience_id')} holds {found} ids, not {calculate_type}: check id_type"
        )


def upload_files(hook: TikTokAdsHook, spec: AudienceSyncSpec, files: Sequence[snapshots.UploadFile]) -> list[str]:
    """Upload customer files (not audience calls) in a few threads; returns TikTok's file paths in order."""

    def upload(file: snapshots.UploadFile) -> str:
        return hook.upload_audience_file(spec.advertiser_id, spec.calculate_type, file.path, file.md5)

    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(UPLOAD_THREADS, len(files))) as pool:
        return list(pool.map(upload, files))


class _FoundCreated(Exception):
    """A CREATE whose answer was lost did create the audience: the lookup before resending found it."""

    def __init__(self, audience_id: str) -> None:
        super().__init__(audience_id)
        self.audience_id = audience_id


#: TikTok's refusal of an update that would leave too few users (its message names the 1,000-user minimum).
_SIZE_REFUSAL = re.compile(r"\b1,?000\b.*\b(users?|members?|size)\b|\b(users?|members?|size)\b.*\b1,?000\b", re.I)


def refused_for_size(err: TikTokApiError) -> bool:
    """Whether TikTok refused an audience update because the audience would be below its 1,000-user minimum."""
    return err.code in (INVALID_PARAMS, PARAM_ERROR) and bool(_SIZE_REFUSAL.search(err.message or ""))


def answered(err: TikTokApiError) -> bool:
    """Whether TikTok answered at all (an envelope or an HTTP status), not a timeout or a dropped connection."""
    return err.code is not None or err.http_status is not None


class _Attempts:
    """The attempts of one audience call: the reservation of the one in flight, settled once its outcome is known."""

    def __init__(
        self, hook: TikTokAdsHook, spec: AudienceSyncSpec, book: AudienceLedger, action: str, audience_id: str | None
    ) -> None:
        self.hook, self.spec, self.book, self.action, self.audience_id = hook, spec, book, action, audience_id
        self.unsettled: list[str] = []

    def reserve(self, clock: Callable[[], datetime]) -> None:
        """Reserve the next attempt in the ledger (may raise DailyCallLimitReached)."""
        self.unsettled.append(self.book.reserve(self.action, clock(), run=self.spec.run))

    def settle(self, status: str, **details: Any) -> None:
        """Record the outcome of the attempt in flight, if one is."""
        if self.unsettled:
            self.book.settle(self.unsettled.pop(), status, **details)

    def before_retry(self, clock: Callable[[], datetime]) -> BeforeRetry:
        """The hook's ``before_retry``: never resend an unanswered call; look for a lost CREATE; reserve."""

        def before_retry(err: TikTokApiError, attempt: int) -> None:
            if not answered(err):
                raise TikTokApiError(
                    None,
                    f"{self.action} of audience {self.audience_id or self.spec.audience_name!r} got no answer "
                    f"({err.message}) and TikTok may still carry it out, so it is not sent again; the task's next try "
                    "waits for it, then sets the membership whole",
                    err.request_id,
                    path=err.path,
                ) from err
            if self.action == audience_plan.CREATE:
                found = find_audience(self.hook, self.spec)
                if found is not None:  # the failure hid a success
                    raise _FoundCreated(found)
            self.settle(FAILED, request_id=err.request_id, code=err.code, answered=answered(err))
            self.reserve(clock)

        return before_retry


def audience_call(
    hook: TikTokAdsHook,
    spec: AudienceSyncSpec,
    book: AudienceLedger,
    action: str,
    file_paths: list[str],
    audience_id: str | None,
    clock: Callable[[], datetime],
) -> str:
    """Send one audience call, reserving every attempt in the ledger first; returns the audience id.

    TikTok counts an attempt whose answer was lost, so each retry is reserved (within the daily limit) before
    it is sent. A call is resent only after an answered failure (a rate-limit or busy code, HTTP 5xx), and a
    CREATE only once a lookup by name shows it did not happen. After a timeout or a dropped connection TikTok
    may still carry the call out, later than a resend or the sync's next call, so it is not resent: the try
    fails and the next one waits for it, then sets the membership whole.
    """
    attempts = _Attempts(hook, spec, book, action, audience_id)
    attempts.reserve(clock)
    try:
        with whole_answers():
            audience_id = _send_call(hook, spec, action, file_paths, audience_id, attempts.before_retry(clock))
    except _FoundCreated as found:
        attempts.settle(ACCEPTED)
        audience_id = found.audience_id
    except TikTokApiError as err:
        cause = err.__cause__ if isinstance(err.__cause__, TikTokApiError) else err
        attempts.settle(FAILED, request_id=err.request_id, code=err.code, answered=answered(cause))
        if action != audience_plan.CREATE and refused_for_size(err):
            book.note_size_refused(clock())
            raise TikTokApiError(
                err.code,
                f"{err.message} (TikTok counts matched users, not ids uploaded). No update of this audience is sent "
                "again before 00:00 UTC; the next sync tries once the cohort is larger",
                err.request_id,
                err.http_status,
                path=err.path,
            ) from err
        raise
    except Exception:
        attempts.settle(FAILED)
        raise
    else:
        attempts.settle(ACCEPTED)
    if action == audience_plan.CREATE:
        book.record_audience(str(audience_id), audience_name=spec.audience_name, calculate_type=spec.calculate_type)
    return str(audience_id)


def _send_call(
    hook: TikTokAdsHook,
    spec: AudienceSyncSpec,
    action: str,
    file_paths: list[str],
    audience_id: str | None,
    before_retry: BeforeRetry,
) -> str | None:
    """The CREATE (returning the new id) or the update of the audience, through the hook."""
    if action == audience_plan.CREATE:
        return hook.create_audience(
            spec.advertiser_id,
            spec.audience_name or "",
            spec.calculate_type,
            file_paths,
            spec.retention_in_days,
            before_retry=before_retry,
        )
    hook.update_audience(spec.advertiser_id, str(audience_id), action, file_paths, before_retry=before_retry)
    return audience_id
