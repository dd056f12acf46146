"""TikTokAudienceSyncOperator: keep a TikTok custom audience equal to a cohort, never over 24 calls a day."""

from __future__ import annotations

import json
import logging
import math
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

from airflow.sdk import Asset, BaseOperator, BaseOperatorLink

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError, TikTokInputError
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from airflow_provider_tiktok.utils import audience_plan as ap
from airflow_provider_tiktok.utils import snapshots as sn
from airflow_provider_tiktok.utils.assets import emit, literal_id, literal_text, with_outlet
from airflow_provider_tiktok.utils.codes import INVALID_PARAMS, PARTIAL_SUCCESS
from airflow_provider_tiktok.utils.hashing import InvalidIdentifier, hash_email, hash_maid, hash_phone, phone_region
from airflow_provider_tiktok.utils.ledger import (
    ACCEPTED,
    FAILED,
    SNAPSHOT_DIR,
    AudienceLedger,
    DailyCallLimitReached,
    audience_key,
)
from airflow_provider_tiktok.utils.readers import is_column_name
from airflow_provider_tiktok.utils.storage import as_path, atomic_write_lines

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

log = logging.getLogger(__name__)

#: The advertiser's Audiences page in TikTok Ads Manager.
AUDIENCES_URL = "https://ads.tiktok.com/i18n/dmp/audience/list?aadvid={advertiser_id}"
XCOM_LINK_KEY = "tiktok_audience_url"
#: Resume a little after 00:00 UTC so that TikTok's clock has certainly passed midnight too.
QUOTA_RESET_MARGIN = timedelta(minutes=1)
ON_QUOTA_EXHAUSTED = ("defer", "skip", "fail")
#: Declared as the task's outlet when the advertiser or audience is only known at run time (each run attaches
#: its audience's asset); literal ids or name declare the asset itself, registered when the DAG is parsed.
ASSET_ALIAS = "tiktok_audience"
#: What an audience asset event carries.
ASSET_EXTRA_KEYS = ("mode", "audience_id", "added", "removed", "audience_size", "audience_calls_left_today")
UPLOAD_THREADS = 4
#: How long after an unanswered call's timeout TikTok might still carry it out, and how often a later try looks
#: for an unanswered CREATE's audience meanwhile.
CREATE_LANDING_MARGIN = timedelta(seconds=60)
CREATE_POLL_SECONDS = 5.0


def utcnow() -> datetime:
    """The current instant in UTC (tests replace the operator's ``_clock``)."""
    return datetime.now(timezone.utc)


def audience_asset(advertiser_id: str, audience_id: str | None, audience_name: str | None) -> Asset:
    """The asset a sync updates: one audience, by the id the task names, else by its (URL-quoted) name."""
    return Asset(uri=f"tiktok-audience://{advertiser_id}/{audience_id or quote(audience_name or '', safe='')}")


@dataclass(frozen=True)
class AudienceSyncSpec:
    """Everything one sync needs besides the hook and the members, as plain (picklable) values."""

    advertiser_id: str
    id_type: str
    mode: str = "mirror"
    audience_id: str | None = None
    audience_name: str | None = None
    state_uri: str | None = None
    rejects_uri: str | None = None
    daily_call_limit: int = ap.TIKTOK_DAILY_CALL_LIMIT
    min_audience_size: int = ap.TIKTOK_MIN_AUDIENCE_SIZE
    retention_in_days: int = ap.MAX_RETENTION_DAYS
    default_phone_region: str = "US"
    replace_processing: timedelta = timedelta(minutes=30)
    chunk_size: int = sn.DEFAULT_CHUNK_SIZE
    run: str | None = None

    def __post_init__(self) -> None:
        ap.calculate_type(self.id_type)
        if self.mode not in ap.MODES:
            raise TikTokConfigError(f"mode must be one of {', '.join(ap.MODES)}")
        check_audience_name(self.audience_name)
        audience_key(self.audience_id, self.audience_name)
        for name in ("daily_call_limit", "min_audience_size", "retention_in_days", "chunk_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TikTokConfigError(f"{name} must be a whole number")
        if self.min_audience_size < ap.TIKTOK_MIN_AUDIENCE_SIZE:
            raise TikTokConfigError(
                f"min_audience_size must be at least {ap.TIKTOK_MIN_AUDIENCE_SIZE}: TikTok rejects smaller audiences"
            )
        if not 1 <= self.retention_in_days <= ap.MAX_RETENTION_DAYS:
            raise TikTokConfigError(f"retention_in_days must be between 1 and {ap.MAX_RETENTION_DAYS}")
        phone_region(self.default_phone_region)
        if self.replace_processing < timedelta(0):
            raise TikTokConfigError("replace_processing_minutes must not be negative")

    @property
    def calculate_type(self) -> str:
        """TikTok's ``calculate_type`` for the id type."""
        return ap.calculate_type(self.id_type)


@dataclass
class Cohort:
    """The sync's hashed ids, sorted and de-duplicated in a local file, and what reading them found."""

    path: Path
    size: int = 0
    members_in: int = 0
    valid: int = 0
    rejected: int = 0
    rejects_uri: str | None = None
    #: Row and reason of the first rejected member (for the error when every member is rejected).
    first_reject: tuple[int, str] | None = None


@dataclass
class Comparison:
    """The cohort against the accepted snapshot: counts, upload files of the diff, the next snapshot file."""

    added: int | None
    removed: int | None
    result_size: int | None
    next_snapshot: Path | None
    files: dict[str, list[sn.UploadFile]] = field(default_factory=dict)


def check_audience_name(name: object) -> None:
    """TikTok's audience name rule: 1 to 128 characters, not only spaces (the error never quotes the name)."""
    if name is None:
        return
    if not isinstance(name, str) or not name.strip():
        raise TikTokConfigError("audience_name must be text that is not blank")
    if len(name) > ap.MAX_AUDIENCE_NAME_LENGTH:
        raise TikTokConfigError(
            f"audience_name must have 1 to {ap.MAX_AUDIENCE_NAME_LENGTH} characters (TikTok's limit), not {len(name)}"
        )


# --------------------------------------------------------------------------------------------- input
def _hasher(id_type: str, default_phone_region: str) -> Callable[[object], str]:
    """The normaliser + SHA-256 for an id type (64-hex values pass through lower-cased)."""
    if id_type == "email":
        return hash_email
    if id_type == "phone":
        return lambda value: hash_phone(value, default_phone_region)
    return lambda value: hash_maid(value, id_type)


def hashed_lines(
    records: Iterable[tuple[int, dict[str, Any]]], spec: AudienceSyncSpec, cohort: Cohort, rejects: Any
) -> Iterator[str]:
    """Yield one ``<sha256>\\n`` line per valid member; count the rest and note row, field and reason in ``rejects``.

    A member is a record's ``id_type`` field (``value`` for plain list items). Raw values never reach the
    rejects file or the log.
    """
    hasher = _hasher(spec.id_type, spec.default_phone_region)
    holding = 0  # rows that have the id field (or a plain value) at all, even empty
    for row, record in records:
        cohort.members_in += 1
        if cohort.members_in == 1:
            _log_ignored_columns(record, spec.id_type)
        if spec.id_type in record:
            value = record[spec.id_type]
            holding += 1
        else:
            value = record.get("value")
            holding += "value" in record
        try:
            if value is None:
                raise InvalidIdentifier(spec.id_type, "is missing")
            digest = hasher(value)
        except InvalidIdentifier as err:
            cohort.rejected += 1
            cohort.first_reject = cohort.first_reject or (row, err.reason)
            rejects.write(json.dumps({"row": row, "field": spec.id_type, "reason": err.reason}) + "\n")
            continue
        cohort.valid += 1
        yield digest + "\n"
    if cohort.members_in and not holding:
        raise TikTokInputError(
            f"no row has the field {spec.id_type!r}: name the identifier column {spec.id_type!r} or map yours with "
            f"field_map={{'<column>': {spec.id_type!r}}} (a CSV needs a header row)",
            row=1,
            field=spec.id_type,
        )


def _log_ignored_columns(record: dict[str, Any], id_type: str) -> None:
    """Say once which columns besides the identifier the sync ignores (names only, and only name-like ones)."""
    others = sorted(str(key) for key in record if key not in (id_type, "value"))
    if others:
        names = [name for name in others if is_column_name(name)]
        unnamed = len(others) - len(names)
        log.info(
            "Audience members are read from field %r; %d other column(s) ignored: %s%s",
            id_type,
            len(others),
            ", ".join(names) or "-",
            f" (+{unnamed} without a column-like name)" if unnamed else "",
        )


def prepare_cohort(
    records: Iterable[tuple[int, dict[str, Any]]], spec: AudienceSyncSpec, work: Path, rejects_default: Any
) -> Cohort:
    """Hash, validate and externally sort the members into ``work``; copy any rejects to their final place."""
    cohort = Cohort(work / "cohort.txt")
    local_rejects = work / "rejects.jsonl"
    with open(local_rejects, "w", encoding="utf-8") as rejects:
        lines = hashed_lines(records, spec, cohort, rejects)
        cohort.size = sn.external_sort(lines, cohort.path, work, chunk_size=spec.chunk_size)
    if cohort.rejected:
        target = as_path(spec.rejects_uri) if spec.rejects_uri else rejects_default
        atomic_write_lines(target, sn.iter_lines(local_rejects))
        cohort.rejects_uri = str(target)
        log.warning("%d member(s) rejected as invalid; row numbers and reasons in %s", cohort.rejected, target)
    if cohort.rejected and not cohort.valid and cohort.first_reject:
        row, reason = cohort.first_reject
        raise TikTokInputError(
            f"{reason}; so was every other member ({cohort.rejected} of {cohort.members_in}): check id_type and the "
            f"column holding the identifiers. Rows and reasons are in {cohort.rejects_uri}",
            row=row,
            field=spec.id_type,
        )
    return cohort


# ------------------------------------------------------------------------------------- TikTok calls
def whole(data: dict[str, Any], path: str) -> dict[str, Any]:
    """``data`` of an audience call, which must succeed whole: partial success (20001) counts as a failure.

    TikTok answers 20001 to row uploads (events); an audience or file call answered so may have applied part
    of the change, or (for a list) left items out. Taking it as done would move the snapshot past what TikTok
    holds; failing keeps the last accepted snapshot, and the next try sends the difference again (APPEND,
    REMOVE and REPLACE are idempotent on the member set).
    """
    if data.get("_partial_success"):
        raise TikTokApiError(
            PARTIAL_SUCCESS,
            "TikTok answered partial success (20001), which this call cannot be taken as; nothing was recorded as "
            "done and the next try of the task sends it again",
            data.get("_request_id"),
            path=path,
        )
    return data


def find_audience(hook: TikTokAdsHook, advertiser_id: str, name: str, calculate_type: str) -> str | None:
    """The id of the advertiser's one audience named exactly ``name`` (GET calls: no audience budget)."""
    path = "dmp/custom_audience/list/"
    pages = hook.iter_pages(path, {"advertiser_id": advertiser_id}, page_size=100)
    matches = [item for page in pages for item in whole(page, path).get("list") or [] if item.get("name") == name]
    if len(matches) > 1:
        raise TikTokConfigError(f"{len(matches)} audiences are named {name!r}: pass audience_id instead")
    if not matches:
        return None
    _check_type(matches[0], calculate_type)
    return str(matches[0]["audience_id"])


def check_audience(hook: TikTokAdsHook, advertiser_id: str, audience_id: str, calculate_type: str) -> None:
    """Fail early, spending no audience call, when ``audience_id`` does not exist or holds another id type."""
    missing = f"audience {audience_id} was not found for advertiser {advertiser_id}"
    try:
        data = whole(
            hook.request(
                "GET",
                "dmp/custom_audience/get/",
                params={"advertiser_id": advertiser_id, "custom_audience_ids": [audience_id], "history_size": 0},
            ),
            "dmp/custom_audience/get/",
        )
    except TikTokApiError as err:
        if err.code != INVALID_PARAMS:
            raise
        raise TikTokConfigError(f"{missing} (request_id={err.request_id}: {err.message})") from err
    details = [(item.get("audience_details") or {}) for item in data.get("list") or []]
    if not details:
        raise TikTokConfigError(missing)
    _check_type(details[0], calculate_type)


def _check_type(details: dict[str, Any], calculate_type: str) -> None:
    found = details.get("calculate_type")
    if found and found != calculate_type:
        raise TikTokConfigError(
            f"audience {details.get('audience_id')} holds {found} ids, not {calculate_type}: check id_type"
        )


def upload_files(
    hook: TikTokAdsHook, advertiser_id: str, calculate_type: str, files: Sequence[sn.UploadFile]
) -> list[str]:
    """Upload customer files (not audience calls) in a few threads; returns TikTok's file paths in order."""

    def upload(file: sn.UploadFile) -> str:
        data = hook.request(
            "POST",
            "dmp/custom_audience/file/upload/",
            data={"advertiser_id": advertiser_id, "calculate_type": calculate_type, "file_signature": file.md5},
            files={"file": (file.path.name, file.path.read_bytes(), "text/plain")},
        )
        path = whole(data, "dmp/custom_audience/file/upload/").get("file_path")
        if not path:
            raise TikTokApiError(None, "file upload answered without a file_path", path="dmp/custom_audience/")
        return str(path)

    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(UPLOAD_THREADS, len(files))) as pool:
        return list(pool.map(upload, files))


# --------------------------------------------------------------------------------------------- sync
def sync_audience(
    hook: TikTokAdsHook,
    spec: AudienceSyncSpec,
    records: Iterable[tuple[int, dict[str, Any]]],
    *,
    clock: Callable[[], datetime] = utcnow,
) -> dict[str, Any]:
    """Sync ``records`` into the audience and return the summary; raises :class:`DailyCallLimitReached`.

    The summary's ``api_calls`` counts every HTTP request (uploads and look-ups included); the audience
    calls TikTok limits to 24 a day are ``audience_calls_used_today``.

    Reading, hashing and sorting the members happen before the audience's lock is taken; diffing,
    planning, reserving and calling happen under it, so concurrent syncs of one audience run one at a time.
    """
    book = AudienceLedger(
        spec.state_uri,
        spec.advertiser_id,
        audience_key(spec.audience_id, spec.audience_name),
        daily_call_limit=spec.daily_call_limit,
    )
    requests_before = hook.api_calls
    with tempfile.TemporaryDirectory(prefix="tiktok-audience-") as tmp:
        work = Path(tmp)
        stamp = f"{clock().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}.jsonl"
        cohort = prepare_cohort(records, spec, work, book.folder / "rejects" / stamp)
        with book.locked():
            summary = _apply(hook, spec, book, cohort, work, clock)
    summary["api_calls"] = hook.api_calls - requests_before
    return summary


def _apply(
    hook: TikTokAdsHook,
    spec: AudienceSyncSpec,
    book: AudienceLedger,
    cohort: Cohort,
    work: Path,
    clock: Callable[[], datetime],
) -> dict[str, Any]:
    """Under the lock: find the audience, diff, plan, check the budget, upload, reserve and call, advance."""
    book.prune_snapshots()
    audience_id = _resolve_audience(hook, spec, book, clock)
    trusted = not (audience_id and book.unanswered())
    if not trusted:
        log.warning(
            "Audience %s: an earlier call got no answer, so the membership TikTok holds is unknown; the sync sets "
            "it whole",
            audience_id,
        )
    comparison = _compare(spec, book if audience_id else None, cohort, work, trust_snapshot=trusted)
    plan = ap.plan_sync(
        mode=spec.mode,
        audience_exists=audience_id is not None,
        snapshot_known=audience_id is not None and book.snapshot is not None and trusted,
        cohort_size=cohort.size,
        added=comparison.added or 0,
        removed=comparison.removed or 0,
        result_size=comparison.result_size,
        min_size=spec.min_audience_size,
        replace_allowed=book.replace_allowed(clock(), spec.replace_processing),
    )
    if plan.below_minimum:
        log.warning(
            "Audience %s: %s; %s. The last accepted membership is kept and the change is applied once the "
            "cohort has at least %d members.",
            audience_id or spec.audience_name,
            plan.reason,
            "the audience is created but cannot be used for targeting yet" if plan.steps else "nothing is sent",
            spec.min_audience_size,
        )
    if plan.steps:
        book.check_budget(plan.calls, clock())
        audience_id = _send(hook, spec, book, plan, cohort, comparison, audience_id, work, clock)
    return _summary(spec, book, cohort, comparison, plan, audience_id, clock())


def _resolve_audience(
    hook: TikTokAdsHook, spec: AudienceSyncSpec, book: AudienceLedger, clock: Callable[[], datetime] = utcnow
) -> str | None:
    """The audience id: given, recorded by an earlier sync, or found by exact name (recorded on first contact).

    While an earlier unanswered call may still land at TikTok, nothing is sent: an unanswered CREATE is looked
    for by name until it appears (adopted, not created twice) or can no longer land; other calls are waited out.
    """
    left = _landing_window(hook, book, clock)
    if book.audience_id:
        if left > 0:
            log.warning("An earlier audience call got no answer; waiting %.0fs until it can no longer land", left)
            hook._sleep(left)
        return book.audience_id
    if spec.audience_id:
        check_audience(hook, spec.advertiser_id, spec.audience_id, spec.calculate_type)
        found: str | None = spec.audience_id
    else:
        found = find_audience(hook, spec.advertiser_id, spec.audience_name or "", spec.calculate_type)
        if found is None and left > 0:
            found = _await_created(hook, spec, left)
    if found:
        book.record_audience(found, audience_name=spec.audience_name, calculate_type=spec.calculate_type)
    return found


def _landing_window(hook: TikTokAdsHook, book: AudienceLedger, clock: Callable[[], datetime]) -> float:
    """Seconds during which the newest unanswered call may still land at TikTok (its timeout plus a margin)."""
    pending = book.unanswered()
    if not pending:
        return 0.0
    sent = max(datetime.fromisoformat(entry["at"]) for entry in pending)
    window = hook.timeout + CREATE_LANDING_MARGIN.total_seconds()
    return max(0.0, window - (clock() - sent).total_seconds())


def _await_created(hook: TikTokAdsHook, spec: AudienceSyncSpec, left: float) -> str | None:
    """Look the audience up by name every few seconds for ``left`` seconds: an unanswered CREATE may land."""
    log.warning(
        "An earlier CREATE of audience %r got no answer; looking for it for up to %.0fs before creating it",
        spec.audience_name,
        left,
    )
    for _ in range(math.ceil(left / CREATE_POLL_SECONDS)):
        hook._sleep(CREATE_POLL_SECONDS)
        found = find_audience(hook, spec.advertiser_id, spec.audience_name or "", spec.calculate_type)
        if found is not None:
            return found
    return None


def _compare(
    spec: AudienceSyncSpec, book: AudienceLedger | None, cohort: Cohort, work: Path, *, trust_snapshot: bool = True
) -> Comparison:
    """Stream the cohort against the accepted snapshot (if any, and trusted) into diff files and the next snapshot."""
    snapshot = book.snapshot if book is not None and trust_snapshot else None
    if book is None:  # a new audience: created from the whole cohort
        return Comparison(cohort.size, 0, cohort.size, cohort.path)
    if snapshot is None:  # an existing audience of unknown membership: mirror replaces it, the others send the list
        if spec.mode == "mirror":
            return Comparison(cohort.size, None, cohort.size, cohort.path)
        if spec.mode == "append":
            return Comparison(cohort.size, 0, None, None)
        return Comparison(0, cohort.size, None, None)
    old = sn.iter_lines(book.snapshot_path(snapshot))
    if spec.mode == "mirror":
        diff = sn.diff_to_files(
            old, sn.iter_lines(cohort.path), work, ap.ids_per_file(max(cohort.size, snapshot.count))
        )
        files = {ap.ADDED: diff.added, ap.REMOVED: diff.removed}
        return Comparison(diff.added_count, diff.removed_count, cohort.size, cohort.path, files)
    next_path = work / "next.txt"
    changed, size = sn.merge_to_file(old, sn.iter_lines(cohort.path), next_path, union=spec.mode == "append")
    if spec.mode == "append":
        return Comparison(changed, 0, size, next_path)
    return Comparison(0, changed, size, next_path)


def _send(
    hook: TikTokAdsHook,
    spec: AudienceSyncSpec,
    book: AudienceLedger,
    plan: ap.SyncPlan,
    cohort: Cohort,
    comparison: Comparison,
    audience_id: str | None,
    work: Path,
    clock: Callable[[], datetime],
) -> str:
    """Upload the files, write the next snapshot, reserve and send each call, then point the ledger at it.

    Any failure leaves the ledger on the previous snapshot (the new file is deleted), so the next sync
    diffs against what TikTok last accepted and catches up.
    """
    if any(step.ids == ap.COHORT for step in plan.steps):
        per_file = ap.ids_per_file(cohort.size)
        comparison.files[ap.COHORT] = sn.split_into_files(sn.iter_lines(cohort.path), work, "cohort", per_file)
    paths = {
        ids: upload_files(hook, spec.advertiser_id, spec.calculate_type, comparison.files[ids])
        for ids in {step.ids for step in plan.steps}
    }
    snapshot_name = None
    try:
        if comparison.next_snapshot is not None:
            snapshot_name = book.new_snapshot_name(clock())
            atomic_write_lines(book.folder / SNAPSHOT_DIR / snapshot_name, sn.iter_lines(comparison.next_snapshot))
        for step in plan.steps:
            audience_id = _call(hook, spec, book, step.action, paths[step.ids], audience_id, clock)
    except BaseException:
        book.prune_snapshots()
        raise
    if snapshot_name is not None and comparison.result_size is not None:
        book.accept_snapshot(snapshot_name, comparison.result_size, clock(), replaced=ap.REPLACE in plan.actions)
    return str(audience_id)


class _FoundCreated(Exception):
    """A CREATE whose answer was lost did create the audience: the lookup before resending found it."""

    def __init__(self, audience_id: str) -> None:
        super().__init__(audience_id)
        self.audience_id = audience_id


def _call(
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
    unsettled = [book.reserve(action, clock(), run=spec.run)]  # the attempt in flight, until its outcome is known

    def settle(status: str, **details: Any) -> None:
        if unsettled:
            book.settle(unsettled.pop(), status, **details)

    def before_retry(err: TikTokApiError, attempt: int) -> None:
        if not _answered(err):
            raise TikTokApiError(
                None,
                f"{action} of audience {audience_id or spec.audience_name!r} got no answer ({err.message}) and TikTok "
                "may still carry it out, so it is not sent again; the task's next try waits for it, then sets the "
                "membership whole",
                err.request_id,
                path=err.path,
            ) from err
        if action == ap.CREATE:
            found = find_audience(hook, spec.advertiser_id, spec.audience_name or "", spec.calculate_type)
            if found is not None:  # the failure hid a success
                raise _FoundCreated(found)
        settle(FAILED, request_id=err.request_id, code=err.code, answered=_answered(err))
        unsettled.append(book.reserve(action, clock(), run=spec.run))  # may raise DailyCallLimitReached

    try:
        if action == ap.CREATE:
            data = hook.request(
                "POST",
                "dmp/custom_audience/create/",
                json={
                    "advertiser_id": spec.advertiser_id,
                    "custom_audience_name": spec.audience_name,
                    "file_paths": file_paths,
                    "calculate_type": spec.calculate_type,
                    "retention_in_days": spec.retention_in_days,
                },
                before_retry=before_retry,
            )
            audience_id = str(whole(data, "dmp/custom_audience/create/")["custom_audience_id"])
        else:
            data = hook.request(
                "POST",
                "dmp/custom_audience/update/",
                json={
                    "advertiser_id": spec.advertiser_id,
                    "custom_audience_id": audience_id,
                    "action": action,
                    "file_paths": file_paths,
                },
                before_retry=before_retry,
            )
            whole(data, "dmp/custom_audience/update/")
    except _FoundCreated as found:
        settle(ACCEPTED)
        audience_id, data = found.audience_id, {}
    except TikTokApiError as err:
        cause = err.__cause__ if isinstance(err.__cause__, TikTokApiError) else err
        settle(FAILED, request_id=err.request_id, code=err.code, answered=_answered(cause))
        raise
    except Exception:
        settle(FAILED)
        raise
    else:
        settle(ACCEPTED, request_id=data.get("_request_id"))
    if action == ap.CREATE:
        book.record_audience(audience_id, audience_name=spec.audience_name, calculate_type=spec.calculate_type)
    return str(audience_id)


def _answered(err: TikTokApiError) -> bool:
    """Whether TikTok answered at all (an envelope or an HTTP status), not a timeout or a dropped connection."""
    return err.code is not None or err.http_status is not None


def _summary(
    spec: AudienceSyncSpec,
    book: AudienceLedger,
    cohort: Cohort,
    comparison: Comparison,
    plan: ap.SyncPlan,
    audience_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The small, PII-free result of a sync (also logged as one line)."""
    sent = bool(plan.steps)
    snapshot = book.snapshot
    size = snapshot.count if snapshot is not None else None
    return {
        "mode": spec.mode,
        "members_in": cohort.members_in,
        "valid": cohort.valid,
        "rejected": cohort.rejected,
        "added": comparison.added if sent else 0,
        "removed": comparison.removed if sent else 0,
        "actions": plan.actions,
        "audience_calls_used_today": book.calls_used(now),
        "audience_calls_left_today": book.calls_left(now),
        "audience_id": audience_id,
        "audience_size": size,
        "usable": size >= ap.TIKTOK_MIN_AUDIENCE_SIZE if size is not None else None,
        "below_minimum": plan.below_minimum,
        "deferred_until": None,
        "rejects_uri": cohort.rejects_uri,
    }


# ----------------------------------------------------------------------------------------- operator
class TikTokAudienceLink(BaseOperatorLink):
    """Opens the advertiser's Audiences page in TikTok Ads Manager (URL pushed to XCom by the task)."""

    name = "TikTok Audiences"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task pushed, or nothing before it ran."""
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=XCOM_LINK_KEY) or ""


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
    :param state_uri: root of the ledger and snapshots; default ``$AIRFLOW_HOME/tiktok/state``; use an
        ObjectStoragePath URI shared by all workers when tasks run on several machines (templated).
    :param daily_call_limit: audience calls allowed per UTC day, at most TikTok's 24.
    :param min_audience_size: an update that would leave fewer members is withheld (at least TikTok's 1,000).
    :param on_quota_exhausted: ``defer`` (wait for 00:00 UTC without a worker slot, then sync the current
        cohort), ``skip`` or ``fail``.
    :param retention_in_days: how long TikTok keeps members of a created audience (1-365).
    :param default_phone_region: region for phone numbers without a country code.
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
    operator_extra_links = (TikTokAudienceLink(),)

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
        daily_call_limit: int = ap.TIKTOK_DAILY_CALL_LIMIT,
        min_audience_size: int = ap.TIKTOK_MIN_AUDIENCE_SIZE,
        on_quota_exhausted: str = "defer",
        retention_in_days: int = ap.MAX_RETENTION_DAYS,
        default_phone_region: str = "US",
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
        ap.calculate_type(id_type)
        if mode not in ap.MODES:
            raise TikTokConfigError(f"mode must be one of {', '.join(ap.MODES)}")
        if on_quota_exhausted not in ON_QUOTA_EXHAUSTED:
            raise TikTokConfigError(f"on_quota_exhausted must be one of {', '.join(ON_QUOTA_EXHAUSTED)}")
        if (members is None) == (sql is None):
            raise TikTokConfigError("pass exactly one of members or sql")
        if audience_id in (None, "") and not audience_name:
            raise TikTokConfigError("pass audience_id, or audience_name to find or create the audience")
        if literal_text(audience_name):
            check_audience_name(audience_name)
        minutes = replace_processing_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 <= minutes < 10_000:
            raise TikTokConfigError("replace_processing_minutes must be a number of minutes from 0 to 10,000")
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
        self.field_map = field_map
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.rejects_uri = rejects_uri
        self.replace_processing_minutes = replace_processing_minutes
        self._clock: Callable[[], datetime] = utcnow

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
        from airflow_provider_tiktok.utils.readers import iter_records

        spec = self._spec(context)
        records = iter_records(self.members, sql=self.sql, sql_conn_id=self.sql_conn_id, field_map=self.field_map)
        try:
            summary = sync_audience(self.hook, spec, records, clock=self._clock)
        except DailyCallLimitReached as exc:
            self._quota_exhausted(exc)
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
            state_uri=self.state_uri,
            rejects_uri=self.rejects_uri,
            daily_call_limit=self.daily_call_limit,
            min_audience_size=self.min_audience_size,
            retention_in_days=self.retention_in_days,
            default_phone_region=self.default_phone_region,
            replace_processing=timedelta(minutes=self.replace_processing_minutes),
            run=f"{context.get('run_id')}/{getattr(ti, 'task_id', self.task_id)}#{getattr(ti, 'try_number', '')}",
        )

    def _quota_exhausted(self, exc: DailyCallLimitReached) -> NoReturn:
        """Defer until the reset, skip, or fail, as ``on_quota_exhausted`` says."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        self.log.warning("TikTok audience sync: %s", exc)
        if self.on_quota_exhausted == "skip":
            raise AirflowSkipException(str(exc))
        if self.on_quota_exhausted == "fail":
            raise AirflowFailException(f"{exc}. Set on_quota_exhausted='defer' to wait for the reset instead.")
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        self.defer(trigger=DateTimeTrigger(moment=exc.resets_at + QUOTA_RESET_MARGIN), method_name="execute_complete")
