"""TikTok's custom-audience rules as pure functions: which calls a sync sends, how ids are split into files.

A customer-file audience changes through ``create/`` and ``update/`` (APPEND, REMOVE, REPLACE) calls that
name uploaded files. TikTok allows 24 such calls per audience per UTC day, recommends at most 50 file paths
per call and rejects any update that would leave fewer than 1,000 users. These functions decide, from
counts alone, the cheapest set of calls that keeps the audience equal to the cohort. No Airflow import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from airflow_provider_tiktok.exceptions import TikTokConfigError

#: TikTok's hard limit of create/update/delete calls per audience per UTC day.
TIKTOK_DAILY_CALL_LIMIT = 24
#: Fewest users an audience may hold after an update, and the fewest it needs to be targetable.
TIKTOK_MIN_AUDIENCE_SIZE = 1000
#: File paths per create/update call: TikTok recommends fewer than 50 (hard cap 500).
MAX_FILE_PATHS_PER_CALL = 50
#: Ids per uploaded file when that keeps a call within MAX_FILE_PATHS_PER_CALL (200k ids is about 13 MB).
DEFAULT_IDS_PER_FILE = 200_000
MAX_AUDIENCE_NAME_LENGTH = 128
MAX_RETENTION_DAYS = 365

#: ``id_type`` -> TikTok ``calculate_type`` (every identifier is sent SHA-256 hashed).
CALCULATE_TYPES = {
    "email": "EMAIL_SHA256",
    "phone": "PHONE_SHA256",
    "idfa": "IDFA_SHA256",
    "gaid": "GAID_SHA256",
}
MODES = ("mirror", "append", "remove")

CREATE = "CREATE"
APPEND = "APPEND"
REMOVE = "REMOVE"
REPLACE = "REPLACE"

#: What an action uploads: the whole id list of the sync, or the additions / removals of a mirror diff.
COHORT = "cohort"
ADDED = "added"
REMOVED = "removed"


class DailyCallLimitReached(RuntimeError):
    """The audience has no calls left on a UTC day a call sent now would count against (``day``: None for today).

    ``resets_at`` is the 00:00 UTC that ends that day, or, once past, the end of the clock-skew allowance after it.
    """

    def __init__(
        self, audience: str, used: int, limit: int, needed: int, resets_at: datetime, *, day: str | None = None
    ) -> None:
        self.audience = audience
        self.used = used
        self.limit = limit
        self.needed = needed
        self.resets_at = resets_at
        self.day = day
        where = "today (UTC)" if day is None else f"on {day} (UTC), which a call sent now may still count against"
        super().__init__(
            f"Audience {audience}: {used} of {limit} audience calls used {where}, this sync needs {needed}; "
            f"the budget resets at {resets_at.isoformat()}"
        )


@dataclass(frozen=True)
class Step:
    """One audience call: its action and which id set it uploads."""

    action: str
    ids: str


@dataclass(frozen=True)
class SyncPlan:
    """The calls a sync sends, in order, and why; ``below_minimum`` flags a change withheld for its size."""

    steps: tuple[Step, ...]
    reason: str
    below_minimum: bool = False

    @property
    def actions(self) -> list[str]:
        """The action names in sending order."""
        return [step.action for step in self.steps]

    @property
    def calls(self) -> int:
        """Audience calls the plan spends (uploads are not audience calls)."""
        return len(self.steps)


def within_matched_minimum(
    plan: SyncPlan, cover_num: int | None, known_ids: int, result_size: int | None, min_size: int
) -> SyncPlan:
    """Withhold an update that TikTok would refuse for its matched size.

    TikTok applies the 1,000-user minimum of an update to the audience as it counts it after the operation:
    matched users (``cover_num``), not ids uploaded (dmp_custom_audience_update.yml). The size after is
    estimated from the match rate TikTok reports for the ids it holds (``cover_num`` of ``known_ids``); with
    no usable count (none yet, or still being computed) the plan stands.
    """
    if not plan.steps or not cover_num or cover_num <= 0 or known_ids <= 0 or result_size is None:
        return plan
    matched = math.floor(result_size * min(cover_num, known_ids) / known_ids)
    if matched >= min_size:
        return plan
    return SyncPlan(
        (),
        f"TikTok matches {cover_num} of the {known_ids} ids it holds; after this sync it would count about "
        f"{matched} users, fewer than {min_size}, and refuse the update",
        True,
    )


def calculate_type(id_type: str) -> str:
    """TikTok's ``calculate_type`` for an ``id_type``; raises for an unknown type."""
    try:
        return CALCULATE_TYPES[id_type]
    except KeyError:
        raise TikTokConfigError(f"id_type must be one of {', '.join(CALCULATE_TYPES)}") from None


def ids_per_file(max_ids: int, *, preferred: int | None = None, max_files: int = MAX_FILE_PATHS_PER_CALL) -> int:
    """Ids per file so that up to ``max_ids`` ids need at most ``max_files`` files (``preferred`` when it fits).

    ``preferred`` defaults to :data:`DEFAULT_IDS_PER_FILE`, read at call time.
    """
    preferred = DEFAULT_IDS_PER_FILE if preferred is None else preferred
    if preferred < 1 or max_files < 1:
        raise TikTokConfigError("ids per file and files per call must be positive")
    return max(preferred, math.ceil(max(max_ids, 0) / max_files))


def file_count(ids: int, per_file: int) -> int:
    """Files needed for ``ids`` ids at ``per_file`` a file."""
    return math.ceil(ids / per_file) if ids > 0 else 0


def _plan_replace_unknown(cohort_size: int, min_size: int) -> SyncPlan:
    """A mirror of an audience whose membership is unknown: one REPLACE sets it (unless too small)."""
    if cohort_size < min_size:
        return SyncPlan((), f"a REPLACE with {cohort_size} ids would leave fewer than {min_size}", True)
    return SyncPlan((Step(REPLACE, COHORT),), "no accepted snapshot yet: REPLACE sets the membership")


def plan_sync(
    *,
    mode: str,
    audience_exists: bool,
    snapshot_known: bool,
    cohort_size: int,
    added: int,
    removed: int,
    result_size: int | None,
    min_size: int = TIKTOK_MIN_AUDIENCE_SIZE,
    replace_allowed: bool = True,
) -> SyncPlan:
    """The cheapest calls that apply a sync, withholding any update that would leave fewer than ``min_size``.

    :param mode: ``mirror`` (make the audience equal the cohort), ``append`` or ``remove`` (send the list).
    :param audience_exists: whether the audience exists on TikTok (else a first sync creates it).
    :param snapshot_known: whether the last membership TikTok accepted is known (from the stored snapshot).
    :param cohort_size: distinct valid ids in this sync's list.
    :param added: ids the sync adds to the known membership (mirror: the cohort's new ids).
    :param removed: ids the sync removes from the known membership.
    :param result_size: the audience size after the sync, when known.
    :param min_size: smallest size an update may leave (TikTok's minimum, or a higher user choice).
    :param replace_allowed: False while an earlier REPLACE may still be processing.
    """
    if mode not in MODES:
        raise TikTokConfigError(f"mode must be one of {', '.join(MODES)}")
    if not audience_exists:
        return _plan_create(mode, cohort_size, min_size)
    if mode == "mirror" and not snapshot_known:
        return _plan_replace_unknown(cohort_size, min_size)
    changes = (added, removed) if mode == "mirror" else (added if mode == "append" else removed,)
    if snapshot_known and not any(changes):
        return SyncPlan((), "nothing to change")
    if mode != "mirror" and cohort_size == 0:
        return SyncPlan((), "the list is empty")
    if result_size is not None and result_size < min_size:
        return SyncPlan((), f"the audience would hold {result_size} users, fewer than {min_size}", True)
    if mode == "append":
        return SyncPlan((Step(APPEND, COHORT),), "append the list")
    if mode == "remove":
        return SyncPlan((Step(REMOVE, COHORT),), "remove the list")
    if added and removed:
        if replace_allowed:
            return SyncPlan((Step(REPLACE, COHORT),), "additions and removals: one REPLACE instead of two calls")
        return SyncPlan(
            (Step(APPEND, ADDED), Step(REMOVE, REMOVED)), "an earlier REPLACE may still be processing: APPEND, REMOVE"
        )
    if added:
        return SyncPlan((Step(APPEND, ADDED),), "additions only")
    return SyncPlan((Step(REMOVE, REMOVED),), "removals only")


def _plan_create(mode: str, cohort_size: int, min_size: int) -> SyncPlan:
    """First sync: create the audience from the list, even below the minimum (it is not usable until it grows)."""
    if mode == "remove":
        raise TikTokConfigError("mode 'remove' needs an existing audience: pass audience_id or an existing name")
    if cohort_size == 0:
        return SyncPlan((), "the list is empty: no audience is created", True)
    return SyncPlan((Step(CREATE, COHORT),), "first sync creates the audience", cohort_size < min_size)


def utc_day(moment: datetime) -> str:
    """The UTC calendar day of ``moment`` as ``YYYY-MM-DD`` (TikTok's daily quotas reset at 00:00 UTC)."""
    return _as_utc(moment).date().isoformat()


def utc_days_between(start: datetime, end: datetime) -> list[str]:
    """The UTC days from ``start``'s to ``end``'s, both included, as ``YYYY-MM-DD`` (empty when ``end`` is earlier)."""
    first, last = _as_utc(start).date(), _as_utc(end).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def utc_day_end(day: str) -> datetime:
    """The 00:00 UTC that ends the UTC day ``day`` (``YYYY-MM-DD``)."""
    return datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(0), tzinfo=timezone.utc)


def next_utc_midnight(moment: datetime) -> datetime:
    """The first 00:00 UTC strictly after ``moment``."""
    day = _as_utc(moment).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def _as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive values are rejected (they hide time-zone bugs)."""
    if moment.tzinfo is None:
        raise ValueError("a time-zone aware datetime is required")
    return moment.astimezone(timezone.utc)
