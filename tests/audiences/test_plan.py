"""Which calls a sync sends: CREATE/APPEND/REMOVE/REPLACE by counts, the 1,000 guard, files per call."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_tiktok.audiences import plan as audience_plan
from airflow_provider_tiktok.audiences.plan import Step, plan_sync
from airflow_provider_tiktok.exceptions import TikTokConfigError

pytestmark = pytest.mark.unit


def plan(**kwargs):
    base = {
        "mode": "mirror",
        "audience_exists": True,
        "snapshot_known": True,
        "cohort_size": 5000,
        "added": 0,
        "removed": 0,
        "result_size": 5000,
    }
    return plan_sync(**{**base, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "steps", "below"),
    [
        # first sync: CREATE, even below the minimum (flagged)
        ({"audience_exists": False, "snapshot_known": False}, [("CREATE", "cohort")], False),
        ({"audience_exists": False, "snapshot_known": False, "cohort_size": 999}, [("CREATE", "cohort")], True),
        ({"audience_exists": False, "snapshot_known": False, "cohort_size": 0}, [], True),
        ({"mode": "append", "audience_exists": False, "snapshot_known": False}, [("CREATE", "cohort")], False),
        # existing audience, unknown membership: one REPLACE, unless it would go below the minimum
        ({"snapshot_known": False, "result_size": None}, [("REPLACE", "cohort")], False),
        ({"snapshot_known": False, "cohort_size": 999, "result_size": None}, [], True),
        # mirror diffs
        ({}, [], False),
        ({"added": 10, "cohort_size": 5010, "result_size": 5010}, [("APPEND", "added")], False),
        ({"removed": 10, "cohort_size": 4990, "result_size": 4990}, [("REMOVE", "removed")], False),
        ({"added": 10, "removed": 10}, [("REPLACE", "cohort")], False),
        ({"added": 10, "removed": 10, "replace_allowed": False}, [("APPEND", "added"), ("REMOVE", "removed")], False),
        # the 1,000 guard: an update that would leave 999 is withheld
        ({"removed": 4001, "cohort_size": 999, "result_size": 999}, [], True),
        ({"removed": 4000, "cohort_size": 1000, "result_size": 1000}, [("REMOVE", "removed")], False),
        ({"added": 1, "removed": 4002, "cohort_size": 999, "result_size": 999}, [], True),
        ({"removed": 10, "result_size": 4990, "min_size": 5000}, [], True),
        # an audience created small grows: the APPEND is sent once it reaches the minimum
        ({"added": 100, "cohort_size": 900, "result_size": 900}, [], True),
        ({"added": 500, "cohort_size": 1300, "result_size": 1300}, [("APPEND", "added")], False),
        # nothing changes below the minimum: no call, and nothing to flag
        ({"cohort_size": 500, "result_size": 500}, [], False),
        # append / remove send the list as given, unless the snapshot shows nothing would change
        ({"mode": "append", "added": 3, "result_size": 5003}, [("APPEND", "cohort")], False),
        ({"mode": "append", "added": 0}, [], False),
        ({"mode": "append", "snapshot_known": False, "result_size": None}, [("APPEND", "cohort")], False),
        ({"mode": "append", "added": 3, "cohort_size": 3, "result_size": 903}, [], True),
        ({"mode": "remove", "removed": 3, "result_size": 4997}, [("REMOVE", "cohort")], False),
        ({"mode": "remove", "removed": 0}, [], False),
        ({"mode": "remove", "removed": 4500, "result_size": 500}, [], True),
        ({"mode": "remove", "snapshot_known": False, "cohort_size": 0, "result_size": None}, [], False),
    ],
)
def test_plan(kwargs: dict, steps: list[tuple[str, str]], below: bool) -> None:
    result = plan(**kwargs)
    assert [(s.action, s.ids) for s in result.steps] == steps
    assert result.below_minimum is below
    assert result.calls == len(steps)
    assert result.actions == [s[0] for s in steps]
    assert result.reason


def test_mirror_never_costs_more_than_two_calls() -> None:
    for added in (0, 1, 10**7):
        for removed in (0, 1, 10**7):
            for replace_allowed in (True, False):
                result = plan(added=added, removed=removed, replace_allowed=replace_allowed, result_size=10**7)
                assert result.calls <= 2
                # a REPLACE whenever it saves a call and may be sent
                assert (result.steps == (Step("REPLACE", "cohort"),)) == bool(added and removed and replace_allowed)


def test_remove_needs_an_existing_audience() -> None:
    with pytest.raises(TikTokConfigError, match="existing audience"):
        plan(mode="remove", audience_exists=False, snapshot_known=False)


def test_unknown_mode() -> None:
    with pytest.raises(TikTokConfigError, match="mode must be one of"):
        plan(mode="upsert")


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, 200_000), (1_500, 200_000), (10_000_000, 200_000), (10_000_001, 200_001), (100_000_000, 2_000_000)],
)
def test_ids_per_file_keeps_calls_within_50_paths(count: int, expected: int) -> None:
    per_file = audience_plan.ids_per_file(count)
    assert per_file == expected
    assert audience_plan.file_count(count, per_file) <= audience_plan.MAX_FILE_PATHS_PER_CALL
    assert audience_plan.file_count(count, per_file) == (math.ceil(count / per_file) if count else 0)


def test_ids_per_file_small_preference() -> None:
    assert audience_plan.ids_per_file(1000, preferred=100) == 100
    assert audience_plan.ids_per_file(5001, preferred=100) == 101  # 50 files of 101 hold 5,050
    assert audience_plan.file_count(5001, 101) == 50
    with pytest.raises(TikTokConfigError):
        audience_plan.ids_per_file(10, preferred=0)


def test_calculate_types() -> None:
    assert [audience_plan.calculate_type(t) for t in ("email", "phone", "idfa", "gaid")] == [
        "EMAIL_SHA256",
        "PHONE_SHA256",
        "IDFA_SHA256",
        "GAID_SHA256",
    ]
    with pytest.raises(TikTokConfigError, match="id_type"):
        audience_plan.calculate_type("external_id")


def test_utc_days_and_reset() -> None:
    berlin = timezone(timedelta(hours=1))
    late = datetime(2026, 3, 10, 23, 59, 59, tzinfo=timezone.utc)
    assert audience_plan.utc_day(late) == "2026-03-10"
    assert audience_plan.utc_day(datetime(2026, 3, 11, 0, 30, tzinfo=berlin)) == "2026-03-10"
    assert audience_plan.next_utc_midnight(late) == datetime(2026, 3, 11, tzinfo=timezone.utc)
    assert audience_plan.next_utc_midnight(datetime(2026, 3, 11, tzinfo=timezone.utc)) == datetime(
        2026, 3, 12, tzinfo=timezone.utc
    )
    assert audience_plan.next_utc_midnight(datetime(2026, 12, 31, 12, tzinfo=timezone.utc)) == datetime(
        2027, 1, 1, tzinfo=timezone.utc
    )
    with pytest.raises(ValueError, match="aware"):
        audience_plan.utc_day(datetime(2026, 3, 10))


def test_an_update_is_withheld_when_tikToks_matched_count_would_fall_below_the_minimum():
    append = plan_sync(
        mode="mirror",
        audience_exists=True,
        snapshot_known=True,
        cohort_size=1500,
        added=100,
        removed=0,
        result_size=1500,
    )
    assert append.actions == ["APPEND"]
    # TikTok matches 1,800 of the 3,000 ids it holds (60 %): 1,500 ids would count about 900 users
    withheld = audience_plan.within_matched_minimum(append, 1800, 3000, 1500, 1000)
    assert (withheld.steps, withheld.below_minimum) == ((), True)
    assert "about 900 users, fewer than 1000" in withheld.reason
    # a good match rate, no count yet (0 while TikTok computes it) or an unknown size leave the plan alone
    assert audience_plan.within_matched_minimum(append, 2900, 3000, 1500, 1000) is append
    assert audience_plan.within_matched_minimum(append, 0, 3000, 1500, 1000) is append
    assert audience_plan.within_matched_minimum(append, None, 3000, 1500, 1000) is append
    assert audience_plan.within_matched_minimum(append, 1800, 3000, None, 1000) is append
