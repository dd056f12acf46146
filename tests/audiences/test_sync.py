"""sync_audience against the emulator: create, diff, APPEND/REMOVE/REPLACE, the 1,000 guard, rejects, failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.audiences import plan as audience_plan
from airflow_provider_tiktok.audiences.cohort import AudienceSyncSpec
from airflow_provider_tiktok.audiences.damage import DamagedState
from airflow_provider_tiktok.audiences.ledger import AudienceLedger, DailyCallLimitReached, audience_key
from airflow_provider_tiktok.audiences.repair import main
from airflow_provider_tiktok.audiences.sync import sync_audience
from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError
from tests.helpers.audiences import audience_calls, emails, hashed, path_calls, sha256

NAME = "Buyers (test)"


def records(values: list[Any]) -> list[tuple[int, dict[str, Any]]]:
    """Members as the readers yield them: numbered rows, scalars under ``value``."""
    return [(n, v if isinstance(v, dict) else {"value": v}) for n, v in enumerate(values, start=1)]


@pytest.fixture
def sync(make_hook: Callable[[], Any], state_root: Path, emulator: EmulatorServer) -> Callable[..., dict]:
    """Run one sync of ``values`` with a fresh hook on the emulator's clock."""

    def run(values: list[Any], **spec: Any) -> dict:
        fields = {
            "advertiser_id": ADVERTISER_A,
            "id_type": "email",
            "audience_name": NAME,
            "state_uri": str(state_root),
        }
        fields.update(spec)
        return sync_audience(make_hook(), AudienceSyncSpec(**fields), records(values), clock=emulator.state.now)

    return run


def members(emulator: EmulatorServer, audience_id: str) -> list[str]:
    return emulator.state.audience_members(audience_id)


@pytest.mark.integration
def test_first_sync_creates_then_nothing_to_do(sync, emulator: EmulatorServer, state_root: Path) -> None:
    cohort = emails(0, 1500)
    first = sync([v.upper() + "  " for v in cohort[:750]] + cohort[750:] + cohort[:10])  # case, spaces, repeats
    audience_id = first["audience_id"]
    assert first == {
        "mode": "mirror",
        "members_in": 1510,
        "valid": 1510,
        "rejected": 0,
        "added": 1500,
        "removed": 0,
        "actions": ["CREATE"],
        "api_calls": 3,  # the name look-up, one file upload, the create
        "audience_calls_used_today": 1,
        "audience_calls_left_today": 23,
        "audience_id": audience_id,
        "audience_size": 1500,
        "usable": True,
        "below_minimum": False,
        "deferred_until": None,
        "rejects_uri": None,
    }
    assert members(emulator, audience_id) == hashed(cohort)
    audience = emulator.state.audiences[audience_id]
    # no retention_in_days unless asked: TikTok then keeps the audience while syncs keep changing it
    assert (audience.name, audience.calculate_type, audience.retention_in_days) == (NAME, "EMAIL_SHA256", None)
    assert audience_calls(emulator) == {audience_id: {"2026-03-10": 1}}
    # the accepted snapshot is the sorted hashes, one a line
    with AudienceLedger(state_root, ADVERTISER_A, audience_key(None, NAME)).locked() as book:
        assert book.audience_id == audience_id
        assert book.snapshot_path(book.snapshot).read_text() == "".join(h + "\n" for h in hashed(cohort))
    uploads = path_calls(emulator, "file/upload")

    again = sync(list(reversed(cohort)))
    assert again["actions"] == []
    assert again["added"] == 0
    assert again["removed"] == 0
    assert again["api_calls"] == 0  # the audience id is in the ledger: not even a look-up
    assert again["audience_calls_used_today"] == 1
    assert path_calls(emulator, "file/upload") == uploads  # nothing uploaded either
    assert audience_calls(emulator) == {audience_id: {"2026-03-10": 1}}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("change", "actions", "added", "removed"),
    [
        (lambda c: c + emails(5000, 40), ["APPEND"], 40, 0),
        (lambda c: c[30:], ["REMOVE"], 0, 30),
        (lambda c: c[30:] + emails(5000, 40), ["REPLACE"], 40, 30),
    ],
)
def test_mirror_diff_costs_one_call(sync, emulator: EmulatorServer, change, actions, added, removed) -> None:
    cohort = emails(0, 2000)
    audience_id = sync(cohort)["audience_id"]
    later = change(cohort)
    result = sync(later)
    assert (result["actions"], result["added"], result["removed"]) == (actions, added, removed)
    assert result["audience_size"] == len(later)
    assert result["audience_calls_used_today"] == 2
    assert members(emulator, audience_id) == hashed(later)
    history = [h["action"] for h in emulator.state.audiences[audience_id].history]
    assert history == ["CREATE", *actions]


@pytest.mark.integration
def test_replace_still_processing_sends_append_and_remove(sync, emulator: EmulatorServer) -> None:
    emulator.state.settings.replace_processing_seconds = 3600
    cohort = emails(0, 2000)
    audience_id = sync(cohort)["audience_id"]
    second = cohort[10:] + emails(9000, 10)
    assert sync(second, replace_processing=timedelta(hours=1))["actions"] == ["REPLACE"]
    emulator.state.advance_clock(1800)
    third = second[10:] + emails(9100, 10)
    result = sync(third, replace_processing=timedelta(hours=1))
    assert result["actions"] == ["APPEND", "REMOVE"]
    assert (result["added"], result["removed"], result["audience_calls_used_today"]) == (10, 10, 4)
    assert members(emulator, audience_id) == hashed(third)
    emulator.state.advance_clock(1800)
    fourth = third[10:] + emails(9200, 10)
    assert sync(fourth, replace_processing=timedelta(hours=1))["actions"] == ["REPLACE"]
    assert members(emulator, audience_id) == hashed(fourth)
    assert 40002 not in {int(c) for c in emulator.state.stats()["codes"]}


@pytest.mark.integration
def test_small_cohort_is_created_then_grown_and_guarded(sync, emulator: EmulatorServer, caplog) -> None:
    first = sync(emails(0, 600))
    audience_id = first["audience_id"]
    assert (first["actions"], first["below_minimum"], first["usable"]) == (["CREATE"], True, False)
    assert "cannot be used for targeting yet" in caplog.text
    caplog.clear()
    # still too small: TikTok would reject the APPEND, so nothing is sent
    grown = sync(emails(0, 900))
    assert (grown["actions"], grown["below_minimum"], grown["added"], grown["audience_size"]) == ([], True, 0, 600)
    assert "nothing is sent" in caplog.text
    assert "900 users, fewer than 1000" in caplog.text
    assert grown["audience_calls_used_today"] == 1
    assert members(emulator, audience_id) == hashed(emails(0, 600))
    # large enough: the whole difference against the last accepted snapshot goes out at once
    big = sync(emails(0, 1200))
    assert (big["actions"], big["added"], big["below_minimum"], big["usable"]) == (["APPEND"], 600, False, True)
    # shrinking below the minimum is withheld, the old snapshot kept, and applied once it is large again
    shrunk = sync(emails(0, 999))
    assert (shrunk["actions"], shrunk["below_minimum"], shrunk["audience_size"]) == ([], True, 1200)
    assert members(emulator, audience_id) == hashed(emails(0, 1200))
    back = sync(emails(100, 1000))
    assert (back["actions"], back["added"], back["removed"]) == (["REMOVE"], 0, 200)
    assert members(emulator, audience_id) == hashed(emails(100, 1000))
    assert audience_calls(emulator) == {audience_id: {"2026-03-10": 3}}
    assert 40002 not in {int(c) for c in emulator.state.stats()["codes"]}


@pytest.mark.integration
def test_invalid_members_go_to_the_rejects_file_only(sync, emulator: EmulatorServer, caplog, state_root) -> None:
    secret = "not-an-email-secret-value"
    cohort = emails(0, 1200)
    values = [*cohort[:5], secret, "", None, {"email": cohort[5]}, {"other": "x"}, *cohort[6:]]
    result = sync(values)
    assert (result["members_in"], result["valid"], result["rejected"]) == (1204, 1200, 4)
    rejects = Path(result["rejects_uri"])
    assert rejects.is_relative_to(state_root)
    rows = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["field"]) for r in rows] == [(6, "email"), (7, "email"), (8, "email"), (10, "email")]
    assert all(r["reason"] for r in rows)
    assert secret not in rejects.read_text()
    assert secret not in caplog.text
    assert secret not in json.dumps(result)
    assert oct(rejects.stat().st_mode & 0o777) == "0o600"
    assert members(emulator, result["audience_id"]) == hashed(cohort)


@pytest.mark.integration
def test_prehashed_members_pass_through_lowercased(sync, emulator: EmulatorServer, tmp_path: Path) -> None:
    cohort = emails(0, 1100)
    result = sync([sha256(v).upper() for v in cohort], rejects_uri=str(tmp_path / "unused.jsonl"))
    assert members(emulator, result["audience_id"]) == hashed(cohort)
    assert result["rejects_uri"] is None
    assert not (tmp_path / "unused.jsonl").exists()


@pytest.mark.integration
def test_user_named_rejects_uri(sync, tmp_path: Path) -> None:
    target = tmp_path / "out" / "rejects.jsonl"
    result = sync([*emails(0, 1000), "nope"], rejects_uri=str(target))
    assert result["rejects_uri"] == str(target)
    assert json.loads(target.read_text()) == {
        "row": 1001,
        "field": "email",
        "reason": json.loads(target.read_text())["reason"],
    }


@pytest.mark.integration
def test_append_and_remove_modes_send_the_list(sync, emulator: EmulatorServer) -> None:
    audience_id = sync(emails(0, 1500))["audience_id"]
    appended = sync(emails(1400, 200), mode="append")
    assert (appended["actions"], appended["added"], appended["audience_size"]) == (["APPEND"], 100, 1600)
    assert members(emulator, audience_id) == hashed(emails(0, 1600))
    # the file sent is the list as given (200 ids), not just the 100 new ones
    assert "APPEND with 200 ids" in emulator.state.audiences[audience_id].history[-1]["action_detail"]
    assert sync(emails(0, 50), mode="append")["actions"] == []  # all already members
    removed = sync(emails(1550, 100), mode="remove")
    assert (removed["actions"], removed["removed"], removed["audience_size"]) == (["REMOVE"], 50, 1550)
    assert members(emulator, audience_id) == hashed(emails(0, 1550))
    guarded = sync(emails(0, 600), mode="remove")
    assert (guarded["actions"], guarded["below_minimum"]) == ([], True)
    # a later mirror diffs against the snapshot the append/remove syncs kept up to date
    mirrored = sync(emails(0, 1550))
    assert mirrored["actions"] == []


@pytest.mark.integration
def test_existing_audience_by_id_is_replaced_once(sync, emulator: EmulatorServer) -> None:
    audience_id = sync(emails(0, 1000), audience_name="Made elsewhere")["audience_id"]
    # keyed by id, the ledger has no snapshot of this audience: one REPLACE sets the membership
    result = sync(emails(500, 1500), audience_id=audience_id, audience_name=None)
    assert (result["actions"], result["added"], result["removed"]) == (["REPLACE"], 1500, None)
    assert members(emulator, audience_id) == hashed(emails(500, 1500))
    assert sync(emails(500, 1500), audience_id=audience_id, audience_name=None)["actions"] == []


@pytest.mark.integration
def test_name_lookup_finds_an_existing_audience(sync, emulator: EmulatorServer, state_root: Path, tmp_path) -> None:
    audience_id = sync(emails(0, 1000), state_uri=str(tmp_path / "elsewhere"))["audience_id"]
    result = sync(emails(0, 1001))  # a fresh state root: the name is looked up, not created again
    assert (result["audience_id"], result["actions"]) == (audience_id, ["REPLACE"])
    assert len(emulator.state.audiences) == 1


@pytest.mark.integration
def test_ambiguous_name_and_wrong_type_spend_nothing(sync, emulator: EmulatorServer, tmp_path: Path) -> None:
    sync(emails(0, 1000), state_uri=str(tmp_path / "a"))
    sync(emails(0, 1000), state_uri=str(tmp_path / "b"), audience_name="Other")
    with pytest.raises(TikTokConfigError, match="holds EMAIL_SHA256 ids, not GAID_SHA256"):
        sync(["38400000-8cf0-11bd-b23e-10b96e40000d"] * 3, id_type="gaid", state_uri=str(tmp_path / "c"))
    emulator.state.audiences[next(iter(emulator.state.audiences))].name = "Other"
    with pytest.raises(TikTokConfigError, match="2 audiences are named 'Other'"):
        sync(emails(0, 1000), state_uri=str(tmp_path / "d"), audience_name="Other")
    with pytest.raises(TikTokConfigError, match="was not found"):
        sync(emails(0, 1000), audience_id="7299999999999999999", audience_name=None)
    assert sum(sum(days.values()) for days in audience_calls(emulator).values()) == 2


@pytest.mark.integration
def test_files_per_call_stay_within_50(sync, emulator: EmulatorServer, monkeypatch) -> None:
    monkeypatch.setattr(audience_plan, "DEFAULT_IDS_PER_FILE", 20)
    cohort = emails(0, 1300)  # 65 files of 20 would be too many: 50 files of 26
    audience_id = sync(cohort)["audience_id"]
    assert emulator.state.max_file_paths == 50
    assert path_calls(emulator, "file/upload") == 50
    assert members(emulator, audience_id) == hashed(cohort)
    sync(cohort + emails(9000, 30))  # 30 additions at 26 a file: 2 files
    assert path_calls(emulator, "file/upload") == 52


@pytest.mark.integration
def test_failed_call_keeps_the_snapshot_and_counts(sync, emulator: EmulatorServer, state_root: Path) -> None:
    cohort = emails(0, 1500)
    audience_id = sync(cohort)["audience_id"]
    emulator.state.faults.add("path=custom_audience/update,kind=code,code=40001,count=1")
    with pytest.raises(TikTokApiError) as info:
        sync(cohort + emails(7000, 20))
    assert info.value.code == 40001
    with AudienceLedger(state_root, ADVERTISER_A, audience_key(None, NAME)).locked() as book:
        assert [(c["action"], c["status"], c["code"]) for c in book.calls_on(emulator.state.now())][1:] == [
            ("APPEND", "failed", 40001)
        ]
        assert book.snapshot.count == 1500
        assert [p.name for p in (book.folder / "snapshots").iterdir()] == [book.snapshot.file]
    # the next sync catches up: the same diff again
    result = sync(cohort + emails(7000, 20))
    assert (result["actions"], result["added"], result["audience_calls_used_today"]) == (["APPEND"], 20, 3)
    assert members(emulator, audience_id) == hashed(cohort + emails(7000, 20))
    # the emulator never processed the injected failure; the ledger still counted it
    assert audience_calls(emulator) == {audience_id: {"2026-03-10": 2}}


@pytest.mark.integration
def test_budget_is_checked_before_anything_is_uploaded(sync, emulator: EmulatorServer) -> None:
    cohort = emails(0, 1500)
    sync(cohort, daily_call_limit=2)
    sync(cohort + emails(8000, 5), daily_call_limit=2)
    uploads = path_calls(emulator, "file/upload")
    with pytest.raises(DailyCallLimitReached) as info:
        sync(cohort + emails(8000, 10), daily_call_limit=2)
    assert (info.value.used, info.value.limit, info.value.needed) == (2, 2, 1)
    assert info.value.resets_at.isoformat() == "2026-03-11T00:00:00+00:00"
    assert path_calls(emulator, "file/upload") == uploads
    emulator.state.advance_clock(9 * 3600)  # 00:30 UTC the next day
    result = sync(cohort + emails(8000, 10), daily_call_limit=2)
    assert (result["actions"], result["audience_calls_used_today"], result["audience_calls_left_today"]) == (
        ["APPEND"],
        1,
        1,
    )


@pytest.mark.unit
def test_spec_validation() -> None:
    base = {"advertiser_id": ADVERTISER_A, "id_type": "email", "audience_name": NAME}
    for bad, message in [
        ({"id_type": "ssn"}, "id_type"),
        ({"mode": "upsert"}, "mode"),
        ({"audience_name": "x" * 129}, "1 to 128"),
        ({"audience_name": None}, "audience_id"),
        ({"audience_id": "abc"}, "digits"),
        ({"min_audience_size": 999}, "at least 1000"),
        ({"retention_in_days": 366}, "between 1 and 365"),
    ]:
        with pytest.raises(TikTokConfigError, match=message):
            AudienceSyncSpec(**{**base, **bad})


@pytest.mark.integration
def test_state_on_an_object_store(sync, emulator: EmulatorServer, memory_store: str) -> None:
    from airflow.sdk import ObjectStoragePath

    cohort = emails(0, 1500)
    audience_id = sync([*cohort, "bad"], state_uri=memory_store)["audience_id"]
    later = cohort[100:] + emails(9000, 100)
    result = sync(later, state_uri=memory_store)
    assert (result["actions"], result["added"], result["removed"]) == (["REPLACE"], 100, 100)
    assert members(emulator, audience_id) == hashed(later)
    folder = ObjectStoragePath(f"{memory_store}/audiences/{ADVERTISER_A}/{audience_key(None, NAME)}")
    ledger = json.loads((folder / "ledger.json").read_text())
    assert [c["action"] for c in ledger["calls"]["2026-03-10"]] == ["CREATE", "REPLACE"]
    snapshot = folder / "snapshots" / ledger["snapshot"]["file"]
    assert snapshot.read_text() == "".join(h + "\n" for h in hashed(later))
    assert [p.name for p in (folder / "snapshots").iterdir()] == [snapshot.name]
    assert len(list((folder / "rejects").iterdir())) == 1


@pytest.mark.integration
@pytest.mark.parametrize(
    ("id_type", "raw", "normalised"),
    [
        # customer files: digits with the country code, no "+" (TikTok's customer-file page since 2025)
        ("phone", ["(415) 555-{:04d}", "+44 20 7946 {:04d}"], ["1415555{:04d}", "44207946{:04d}"]),
        (
            "idfa",
            ["6D92078A-8246-4BA4-AE5B-76104861{:04d}"],
            ["6d92078a-8246-4ba4-ae5b-76104861{:04d}"],
        ),
        ("gaid", [" 38400000-8cf0-11bd-b23e-10b96e4e{:04d} "], ["38400000-8cf0-11bd-b23e-10b96e4e{:04d}"]),
    ],
)
def test_phone_and_device_ids(sync, emulator: EmulatorServer, id_type: str, raw: list[str], normalised) -> None:
    values = [template.format(i) for i in range(1000) for template in raw]
    expected = sorted(sha256(template.format(i)) for i in range(1000) for template in normalised)
    result = sync([{id_type: v} for v in values] + [{id_type: "12"}], id_type=id_type, audience_name=id_type)
    assert (result["valid"], result["rejected"]) == (len(values), 1)
    assert members(emulator, result["audience_id"]) == expected
    audience = emulator.state.audiences[result["audience_id"]]
    assert audience.calculate_type == f"{id_type.upper()}_SHA256"


@pytest.mark.integration
def test_failed_upload_spends_no_call_and_leaves_no_snapshot(sync, emulator: EmulatorServer, state_root) -> None:
    cohort = emails(0, 1500)
    sync(cohort)
    emulator.state.faults.add("path=file/upload,kind=code,code=40900,count=1")
    with pytest.raises(TikTokApiError) as info:
        sync(cohort[10:] + emails(7000, 10))
    assert info.value.code == 40900
    with AudienceLedger(state_root, ADVERTISER_A, audience_key(None, NAME)).locked() as book:
        assert [c["action"] for c in book.calls_on(emulator.state.now())] == ["CREATE"]
        assert [p.name for p in (book.folder / "snapshots").iterdir()] == [book.snapshot.file]
        assert book.snapshot.count == 1500


@pytest.mark.integration
def test_an_update_is_judged_on_tiktoks_matched_count(sync, emulator: EmulatorServer, make_hook, caplog) -> None:
    emulator.state.settings.match_rate = 0.6  # TikTok finds a user for about 60 % of the ids
    cohort = emails(0, 2000)
    audience_id = sync(cohort)["audience_id"]
    cover_num = make_hook().get_audience(ADVERTISER_A, audience_id)["cover_num"]
    assert 1100 < cover_num < 1300
    # 1,600 ids would still be above 1,000, but TikTok would count about 60 % of them: withheld, no call spent
    shrunk = sync(cohort[:1600])
    assert (shrunk["actions"], shrunk["below_minimum"], shrunk["audience_calls_used_today"]) == ([], True, 1)
    assert "TikTok matches" in caplog.text
    assert "fewer than 1000, and refuse the update" in caplog.text
    assert members(emulator, audience_id) == hashed(cohort)
    # growing is sent: about 60 % of 2,500 ids is well above the minimum
    grown = sync(emails(0, 2500))
    assert (grown["actions"], grown["added"]) == (["APPEND"], 500)


@pytest.mark.integration
def test_an_update_tiktok_refuses_for_size_is_not_retried_the_same_day(
    sync, emulator: EmulatorServer, state_root: Path
) -> None:
    cohort = emails(0, 1500)
    audience_id = sync(cohort)["audience_id"]
    refusal = "The audience would hold 950 users after APPEND; an audience needs at least 1000 users"
    emulator.state.faults.add(f"path=custom_audience/update,kind=code,code=40002,count=1,message={refusal}")
    with pytest.raises(TikTokApiError) as info:
        sync(cohort + emails(7000, 20))
    assert info.value.code == 40002
    assert "No update of this audience is sent again before 00:00 UTC" in str(info.value)
    # the rest of the day: nothing is sent, the snapshot stays where TikTok last accepted it
    later = sync(cohort + emails(7000, 20))
    assert (later["actions"], later["below_minimum"], later["audience_calls_used_today"]) == ([], True, 2)
    assert path_calls(emulator, "custom_audience/update") == 1  # only the refused one
    # the next UTC day the update goes out
    emulator.state.advance_clock(9 * 3600)
    next_day = sync(cohort + emails(7000, 20))
    assert (next_day["actions"], next_day["added"]) == (["APPEND"], 20)
    assert members(emulator, audience_id) == hashed(cohort + emails(7000, 20))


def ledger_file(state_root: Path) -> Path:
    return next(state_root.glob("audiences/*/*/ledger.json"))


def repair(emulator: EmulatorServer, state_root: Path) -> None:
    """The repair command named by the error, run on the emulator's clock."""
    key = audience_key(None, NAME)
    assert main(["--state-uri", str(state_root), "--advertiser-id", ADVERTISER_A, "--audience-key", key]) == 0


@pytest.mark.integration
def test_a_damaged_ledger_sends_nothing_until_repaired(sync, emulator: EmulatorServer, state_root: Path) -> None:
    cohort = emails(0, 1500)
    audience_id = sync(cohort)["audience_id"]
    sync(cohort + emails(7000, 5))
    path = ledger_file(state_root)
    text = path.read_text()
    path.write_text(text[: text.index('"calls"') + 80])  # cut short inside today's calls
    requests = emulator.state.stats()["calls"]
    with pytest.raises(DamagedState) as info:
        sync(cohort + emails(7000, 10))
    assert str(info.value).startswith(f"{path}: the file is not valid JSON")
    assert "python -m airflow_provider_tiktok.audiences.repair --state-uri" in str(info.value)
    assert emulator.state.stats()["calls"] == requests  # no upload, no audience call, not even a look-up
    repair(emulator, state_root)
    # today's calls could not be read back: today counts as fully used, so nothing can exceed TikTok's 24
    with pytest.raises(DailyCallLimitReached) as full:
        sync(cohort + emails(7000, 10))
    assert (full.value.used, full.value.limit) == (24, 24)
    assert (path_calls(emulator, "file/upload"), path_calls(emulator, "custom_audience/update")) == (2, 1)
    assert audience_calls(emulator) == {audience_id: {"2026-03-10": 2}}  # (the name look-up is no audience call)
    emulator.state.advance_clock(9 * 3600)  # 00:30 UTC the next day: one REPLACE of the whole cohort
    result = sync(cohort + emails(7000, 10))
    assert (result["actions"], result["audience_calls_used_today"]) == (["REPLACE"], 1)
    assert members(emulator, audience_id) == hashed(cohort + emails(7000, 10))
    assert audience_calls(emulator) == {audience_id: {"2026-03-10": 2, "2026-03-11": 1}}
    assert list(path.parent.glob("ledger.json.damaged-20260310T153000Z")) != []


@pytest.mark.integration
def test_a_ledger_whose_calls_read_whole_keeps_them(sync, emulator: EmulatorServer, state_root: Path) -> None:
    cohort = emails(0, 1500)
    audience_id = sync(cohort)["audience_id"]
    sync(cohort + emails(7000, 5))
    path = ledger_file(state_root)
    data = json.loads(path.read_text())
    data["snapshot"]["count"] = "1505"  # a wrong type: the calls still read whole
    path.write_text(json.dumps(data))
    with pytest.raises(DamagedState, match="'snapshot' has an invalid count"):
        sync(cohort)
    repair(emulator, state_root)
    result = sync(cohort)  # the same day: the snapshot is unknown, one REPLACE sets the membership
    assert (result["actions"], result["audience_calls_used_today"]) == (["REPLACE"], 3)
    assert members(emulator, audience_id) == hashed(cohort)
    assert audience_calls(emulator) == {audience_id: {"2026-03-10": 3}}


@pytest.mark.integration
def test_a_damaged_snapshot_sends_nothing_until_repaired(sync, emulator: EmulatorServer, state_root: Path) -> None:
    cohort = emails(0, 1500)
    audience_id = sync(cohort)["audience_id"]
    snapshot = next(state_root.glob("audiences/*/*/snapshots/*.txt"))
    snapshot.write_text(snapshot.read_text()[:-20])  # cut short
    uploads = path_calls(emulator, "file/upload")
    with pytest.raises(DamagedState) as info:
        sync(cohort + emails(7000, 10))
    assert str(info.value).startswith(f"{snapshot}: line 1500, the last, has no line end")
    assert "the next sync sends one REPLACE of the whole cohort" in str(info.value)
    assert path_calls(emulator, "file/upload") == uploads
    assert audience_calls(emulator) == {audience_id: {"2026-03-10": 1}}
    repair(emulator, state_root)
    result = sync(cohort + emails(7000, 10))
    assert (result["actions"], result["audience_calls_used_today"]) == (["REPLACE"], 2)
    assert members(emulator, audience_id) == hashed(cohort + emails(7000, 10))
    assert sync(cohort + emails(7000, 10))["actions"] == []  # a fresh snapshot: the diff works again


@pytest.mark.integration
def test_a_full_day_holds_calls_for_the_clock_skew_after_midnight(sync, emulator: EmulatorServer) -> None:
    cohort = emails(0, 1500)
    sync(cohort, daily_call_limit=2)
    sync(cohort + emails(8000, 5), daily_call_limit=2)
    uploads = path_calls(emulator, "file/upload")
    emulator.state.set_clock(datetime(2026, 3, 11, 0, 0, 10, tzinfo=timezone.utc))  # TikTok may still be on 03-10
    with pytest.raises(DailyCallLimitReached) as info:
        sync(cohort + emails(8000, 10), daily_call_limit=2)
    assert (info.value.day, info.value.resets_at.isoformat()) == ("2026-03-10", "2026-03-11T00:00:30+00:00")
    assert path_calls(emulator, "file/upload") == uploads
    emulator.state.advance_clock(20)
    result = sync(cohort + emails(8000, 10), daily_call_limit=2)
    assert (result["actions"], result["audience_calls_used_today"], result["audience_calls_left_today"]) == (
        ["APPEND"],
        1,
        1,
    )


@pytest.mark.integration
def test_the_midnight_guard_follows_the_hook_timeout(
    make_hook: Callable[[], Any], emulator: EmulatorServer, state_root: Path
) -> None:
    """A call may land until the hook's timeout plus a minute after it is sent: with a 300 s timeout one sent
    at 23:54 counts on the next day too; with the default 60 s, not."""
    spec = AudienceSyncSpec(advertiser_id=ADVERTISER_A, id_type="email", audience_name=NAME, state_uri=str(state_root))
    for number, (timeout, also) in enumerate([(60.0, None), (300.0, ["2026-03-11"])]):
        emulator.state.set_clock(datetime(2026, 3, 10, 23, 54, number, tzinfo=timezone.utc))
        hook = make_hook()
        hook.timeout = timeout
        sync_audience(hook, spec, records(emails(0, 1500 + number)), clock=emulator.state.now)
        last = json.loads(ledger_file(state_root).read_text())["calls"]["2026-03-10"][-1]
        assert last.get("also") == also
