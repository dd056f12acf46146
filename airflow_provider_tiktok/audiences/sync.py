"""One sync of a cohort into a TikTok custom audience: under the audience's lock, find the audience, diff the
cohort against the membership TikTok last accepted, plan at most the calls the daily budget allows, upload,
reserve and send each call, then move the ledger to the new snapshot."""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.audiences import plan as audience_plan
from airflow_provider_tiktok.audiences import snapshots
from airflow_provider_tiktok.audiences.calls import (
    audience_call,
    check_audience,
    find_audience,
    upload_files,
    whole_answers,
)
from airflow_provider_tiktok.audiences.cohort import AudienceSyncSpec, Cohort, prepare_cohort
from airflow_provider_tiktok.audiences.ledger import DEFAULT_CLOCK_SKEW, SNAPSHOT_DIR, AudienceLedger, audience_key
from airflow_provider_tiktok.utils.clock import utcnow
from airflow_provider_tiktok.utils.storage import atomic_write_lines

if TYPE_CHECKING:
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

log = logging.getLogger(__name__)

#: How long after an unanswered call's timeout TikTok might still carry it out.
CREATE_LANDING_MARGIN = timedelta(seconds=60)


class AwaitLanding(Exception):
    """An earlier call got no answer and may still land at TikTok until ``until``: nothing may be sent before.

    The operator defers to the date-time trigger instead of holding a worker slot, then syncs again.
    """

    def __init__(self, until: datetime) -> None:
        super().__init__(f"an earlier audience call got no answer and may land until {until.isoformat()}")
        self.until = until


@dataclass
class Comparison:
    """The cohort against the accepted snapshot: counts, upload files of the diff, the next snapshot file."""

    added: int | None
    removed: int | None
    result_size: int | None
    next_snapshot: Path | None
    files: dict[str, list[snapshots.UploadFile]] = field(default_factory=dict)


def sync_audience(
    hook: TikTokAdsHook,
    spec: AudienceSyncSpec,
    records: Iterable[tuple[int, dict[str, Any]]],
    *,
    clock: Callable[[], datetime] = utcnow,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> dict[str, Any]:
    """Sync ``records`` into the audience and return the summary; raises :class:`DailyCallLimitReached`.

    The summary's ``api_calls`` counts every HTTP request (uploads and look-ups included); the audience
    calls TikTok limits to 24 a day are ``audience_calls_used_today``.

    Reading, hashing and sorting the members happen before the audience's lock is taken; diffing,
    planning, reserving and calling happen under it, so concurrent syncs of one audience run one at a time.
    A call reserved within the hook's timeout, the landing margin and ``clock_skew`` (how far the worker's
    clock may be from TikTok's) of 00:00 UTC counts against both days. A damaged ledger or snapshot raises
    :class:`~airflow_provider_tiktok.audiences.damage.DamagedState` before any audience call.
    """
    book = AudienceLedger(
        spec.state_uri,
        spec.advertiser_id,
        audience_key(spec.audience_id, spec.audience_name),
        daily_call_limit=spec.daily_call_limit,
        clock_skew=clock_skew,
        in_flight=timedelta(seconds=hook.timeout) + CREATE_LANDING_MARGIN,
    )
    requests_before = hook.api_calls
    with tempfile.TemporaryDirectory(prefix="tiktok-audience-") as tmp:
        work = Path(tmp)
        stamp = f"{clock().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}.jsonl"
        cohort = prepare_cohort(records, spec, work, book.folder / "rejects" / stamp)
        with book.locked(), whole_answers():
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
    plan = audience_plan.plan_sync(
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
    if plan.steps and audience_id is not None:
        plan = _guard_minimum(hook, spec, book, audience_id, comparison, plan, trusted, clock())
    if plan.below_minimum:
        log.warning(
            "Audience %s: %s; %s. The last accepted membership is kept and the change is applied once the "
            "audience would count at least %d users.",
            audience_id or spec.audience_name,
            plan.reason,
            "the audience is created but cannot be used for targeting yet" if plan.steps else "nothing is sent",
            spec.min_audience_size,
        )
    if plan.steps:
        book.check_budget(plan.calls, clock())
        audience_id = _send(hook, spec, book, plan, cohort, comparison, audience_id, work, clock)
    return _summary(spec, book, cohort, comparison, plan, audience_id, clock())


def _guard_minimum(
    hook: TikTokAdsHook,
    spec: AudienceSyncSpec,
    book: AudienceLedger,
    audience_id: str,
    comparison: Comparison,
    plan: audience_plan.SyncPlan,
    trusted: bool,
    now: datetime,
) -> audience_plan.SyncPlan:
    """The update plan, or none when TikTok would refuse it for size: it refused one today already, or its
    matched count (``cover_num``, one GET: no audience call) says too few users would remain."""
    if book.size_refused_today(now):
        return audience_plan.SyncPlan(
            (),
            "TikTok refused an update of this audience today for its size; none is sent again before 00:00 UTC",
            True,
        )
    if book.snapshot is None or not trusted:
        return plan
    cover_num = (hook.get_audience(spec.advertiser_id, audience_id) or {}).get("cover_num")
    return audience_plan.within_matched_minimum(
        plan,
        cover_num if isinstance(cover_num, int) else None,
        book.snapshot.count,
        comparison.result_size,
        spec.min_audience_size,
    )


def _resolve_audience(
    hook: TikTokAdsHook, spec: AudienceSyncSpec, book: AudienceLedger, clock: Callable[[], datetime]
) -> str | None:
    """The audience id: given, recorded by an earlier sync, or found by exact name (recorded on first contact).

    While an earlier unanswered call may still land at TikTok, nothing is sent: an unanswered CREATE that has
    appeared is adopted (not created twice); otherwise the sync raises :class:`AwaitLanding` and runs again
    once the call can no longer land.
    """
    left = _landing_window(hook, book, clock)
    if book.audience_id:
        _await_landing(left, clock)
        return book.audience_id
    if spec.audience_id:
        check_audience(hook, spec, spec.audience_id)
        found: str | None = spec.audience_id
    else:
        found = find_audience(hook, spec)
        if found is None:
            _await_landing(left, clock)
    if found:
        book.record_audience(found, audience_name=spec.audience_name, calculate_type=spec.calculate_type)
    return found


def _await_landing(left: float, clock: Callable[[], datetime]) -> None:
    """Raise :class:`AwaitLanding` while an unanswered call may still land (``left`` seconds from now)."""
    if left > 0:
        log.warning("An earlier audience call got no answer; waiting %.0fs until it can no longer land", left)
        raise AwaitLanding(clock() + timedelta(seconds=left))


def _landing_window(hook: TikTokAdsHook, book: AudienceLedger, clock: Callable[[], datetime]) -> float:
    """Seconds during which the newest unanswered call may still land at TikTok (its timeout plus a margin)."""
    pending = book.unanswered()
    if not pending:
        return 0.0
    sent = max(datetime.fromisoformat(entry["at"]) for entry in pending)
    window = hook.timeout + CREATE_LANDING_MARGIN.total_seconds()
    return max(0.0, window - (clock() - sent).total_seconds())


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
    old = book.snapshot_lines(snapshot)
    if spec.mode == "mirror":
        diff = snapshots.diff_to_files(
            old, snapshots.iter_lines(cohort.path), work, audience_plan.ids_per_file(max(cohort.size, snapshot.count))
        )
        files = {audience_plan.ADDED: diff.added, audience_plan.REMOVED: diff.removed}
        return Comparison(diff.added_count, diff.removed_count, cohort.size, cohort.path, files)
    next_path = work / "next.txt"
    changed, size = snapshots.merge_to_file(
        old, snapshots.iter_lines(cohort.path), next_path, union=spec.mode == "append"
    )
    if spec.mode == "append":
        return Comparison(changed, 0, size, next_path)
    return Comparison(0, changed, size, next_path)


def _send(
    hook: TikTokAdsHook,
    spec: AudienceSyncSpec,
    book: AudienceLedger,
    plan: audience_plan.SyncPlan,
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
    if any(step.ids == audience_plan.COHORT for step in plan.steps):
        per_file = audience_plan.ids_per_file(cohort.size)
        comparison.files[audience_plan.COHORT] = snapshots.split_into_files(
            snapshots.iter_lines(cohort.path), work, "cohort", per_file
        )
    paths = {ids: upload_files(hook, spec, comparison.files[ids]) for ids in {step.ids for step in plan.steps}}
    snapshot_name = None
    try:
        if comparison.next_snapshot is not None:
            snapshot_name = book.new_snapshot_name(clock())
            atomic_write_lines(
                book.folder / SNAPSHOT_DIR / snapshot_name, snapshots.iter_lines(comparison.next_snapshot)
            )
        for step in plan.steps:
            audience_id = audience_call(hook, spec, book, step.action, paths[step.ids], audience_id, clock)
    except BaseException:
        book.prune_snapshots()
        raise
    if snapshot_name is not None and comparison.result_size is not None:
        book.accept_snapshot(
            snapshot_name, comparison.result_size, clock(), replaced=audience_plan.REPLACE in plan.actions
        )
    return str(audience_id)


def _summary(
    spec: AudienceSyncSpec,
    book: AudienceLedger,
    cohort: Cohort,
    comparison: Comparison,
    plan: audience_plan.SyncPlan,
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
        "usable": size >= audience_plan.TIKTOK_MIN_AUDIENCE_SIZE if size is not None else None,
        "below_minimum": plan.below_minimum,
        "deferred_until": None,
        "rejects_uri": cohort.rejects_uri,
    }
