"""Damaged audience state: every shape of a broken ledger or snapshot stops the sync with an error that names
the file and the repair command, and the repair keeps every call TikTok may have counted (pure: no emulator)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.audiences.damage import DamagedState
from airflow_provider_tiktok.audiences.ledger import ACCEPTED, FAILED, AudienceLedger
from airflow_provider_tiktok.audiences.repair import main, repair_audience, salvage_calls
from tests.helpers.audiences import hashed

pytestmark = pytest.mark.unit

ADVERTISER = "7000000000000000001"
AUDIENCE = "7200000000000000001"
KEY = f"id-{AUDIENCE}"
NOW = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)
TODAY = "2026-03-10"
IDS = hashed([f"member{i}@example.com" for i in range(5)])
SNAPSHOT = "20260310T150000Z-000000000001.txt"
STAMP = "20260310T153000Z"


def book(root: Any, key: str = KEY) -> AudienceLedger:
    return AudienceLedger(root, ADVERTISER, key)


def folder(root: Path, key: str = KEY) -> Path:
    return root / "audiences" / ADVERTISER / key


def healthy(root: Path, key: str = KEY) -> None:
    """A sound state: three calls today (the last a REPLACE), five ids in the accepted snapshot."""
    with book(root, key).locked() as ledger:
        ledger.record_audience(AUDIENCE, audience_name="Buyers", calculate_type="EMAIL_SHA256")
        for minutes, action in ((50, "CREATE"), (40, "APPEND"), (30, "REPLACE")):
            ledger.settle(ledger.reserve(action, NOW - timedelta(minutes=minutes)), ACCEPTED)
        (folder(root, key) / "snapshots").mkdir(exist_ok=True)
        (folder(root, key) / "snapshots" / SNAPSHOT).write_text("".join(i + "\n" for i in IDS))
        ledger.accept_snapshot(SNAPSHOT, len(IDS), NOW - timedelta(minutes=30), replaced=True)


def edit(change: Callable[[dict[str, Any]], Any]) -> Callable[[str], bytes]:
    """A damage made by editing the ledger's data (``change`` mutates it, or returns what to write instead)."""

    def damage(text: str) -> bytes:
        data = json.loads(text)
        replaced = change(data)
        return json.dumps(data if replaced is None else replaced).encode()

    return damage


def today_call(number: int, key: str, value: Any = None, *, drop: bool = False) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        entry = data["calls"][TODAY][number]
        if drop:
            del entry[key]
        else:
            entry[key] = value

    return change


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.__setitem__(key, value)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.__delitem__(key)


def _set_call_list(value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["calls"].__setitem__(TODAY, value)


#: (damage, words of the problem, whether today's calls can still be read whole)
LEDGER_DAMAGE = {
    "cut-short-in-the-calls": (lambda t: t[: t.index('"calls"') + 60].encode(), "is not valid JSON", False),
    "cut-short-after-the-calls": (lambda t: t[: t.index('"last_replace_at"')].encode(), "is not valid JSON", True),
    "empty": (lambda t: b"", "the file is empty", False),
    "not-utf8": (lambda t: b"\xff\xfe" + t.encode("utf-16-le"), "is not UTF-8 text", False),
    "nul-bytes": (lambda t: b"\0" * 512, "is not valid JSON", False),
    "a-json-list": (lambda t: b"[]", "holds a JSON list, not an object", False),
    "json-null": (lambda t: b"null", "holds a JSON null, not an object", False),
    "unknown-version": (edit(_set("version", 99)), "unknown ledger version 99", True),
    "version-as-text": (edit(_set("version", "1")), "unknown ledger version '1'", True),
    "no-version": (edit(_drop("version")), "has no 'version'", True),
    "no-calls": (edit(_drop("calls")), "has no 'calls'", False),
    "calls-a-list": (edit(_set("calls", [])), "'calls' is a JSON list", False),
    "a-key-that-is-no-day": (edit(lambda d: d["calls"].__setitem__("today", [])), "no UTC day", False),
    "a-day-that-is-no-list": (edit(_set_call_list(3)), f"the calls of {TODAY} are a JSON number", False),
    "a-call-that-is-text": (edit(lambda d: d["calls"][TODAY].__setitem__(0, "x")), "call 1 of", True),
    "a-call-without-id": (edit(today_call(1, "id", drop=True)), f"call 2 of {TODAY} has no 'id'", True),
    "a-call-with-a-numeric-id": (edit(today_call(1, "id", 7)), "has a JSON number as 'id'", True),
    "unknown-status": (edit(today_call(2, "status", "done")), "has the unknown status 'done'", True),
    "naive-time": (edit(today_call(0, "at", "2026-03-10T15:00:00")), "no ISO time with a UTC offset", True),
    "seq-as-text": (edit(today_call(0, "seq", "1")), "has an invalid 'seq' (string)", True),
    "also-not-days": (edit(today_call(0, "also", ["tomorrow"])), "has an invalid 'also' (list)", True),
    "negative-seq": (edit(_set("seq", -1)), "the ledger's 'seq' is invalid (number)", True),
    "numeric-audience-id": (edit(_set("audience_id", 72)), "'audience_id' is invalid", True),
    "bad-last-replace": (edit(_set("last_replace_at", "yesterday")), "'last_replace_at' is invalid", True),
    "snapshot-count-as-text": (
        edit(lambda d: d["snapshot"].__setitem__("count", "5")),
        "invalid count or accepted_at",
        True,
    ),
    "snapshot-name-escapes": (
        edit(lambda d: d["snapshot"].__setitem__("file", "../../x.txt")),
        "malformed snapshot name",
        True,
    ),
    "snapshot-keys-missing": (edit(_set("snapshot", {"file": SNAPSHOT})), "not an object of file, count", True),
}


def damage_ledger(root: Path, name: str) -> bytes:
    damage, _, _ = LEDGER_DAMAGE[name]
    path = folder(root) / "ledger.json"
    raw = damage(path.read_text())
    path.write_bytes(raw)
    return raw


def command(root: Path) -> str:
    return f"python -m airflow_provider_tiktok.audiences.repair --state-uri {root} --advertiser-id {ADVERTISER} "


@pytest.mark.parametrize("name", sorted(LEDGER_DAMAGE))
def test_a_damaged_ledger_names_the_file_and_the_safe_way_out(tmp_path: Path, name: str) -> None:
    healthy(tmp_path)
    damage_ledger(tmp_path, name)
    with pytest.raises(DamagedState) as info, book(tmp_path).locked():
        pytest.fail("a damaged ledger must not open")
    message = str(info.value)
    path = str(folder(tmp_path) / "ledger.json")
    assert (info.value.path, message.split(": ", 1)[0]) == (path, path)
    assert LEDGER_DAMAGE[name][1] in message
    assert "No audience call was made" in message
    assert f"`{command(tmp_path)}--audience-key {KEY}`" in message
    assert "counts today as fully used (24 of 24)" in message
    assert "one REPLACE of the whole cohort" in message


@pytest.mark.parametrize("name", sorted(LEDGER_DAMAGE))
def test_the_repair_keeps_every_call_it_can_read_else_counts_today_as_full(tmp_path: Path, name: str) -> None:
    healthy(tmp_path)
    raw = damage_ledger(tmp_path, name)
    report = repair_audience(book(tmp_path), NOW)
    whole = LEDGER_DAMAGE[name][2]
    aside = folder(tmp_path) / f"ledger.json.damaged-{STAMP}"
    assert aside.read_bytes() == raw
    assert report.moved == [str(aside)]
    assert report.repaired
    assert report.snapshot_forgotten
    assert report.filled == ([] if whole else [TODAY])
    with book(tmp_path).locked() as ledger:
        assert ledger.calls_used(NOW) == (3 if whole else 24)
        assert ledger.calls_left(NOW) == (21 if whole else 0)
        assert ledger.snapshot is None  # the next sync sends one REPLACE of the whole cohort
        assert ledger.audience_id == AUDIENCE  # from the key
        if whole:  # TikTok refuses a REPLACE while one is processing: the last one is remembered
            assert ledger.last_replace_at == NOW - timedelta(minutes=30)
    assert report.counted == {TODAY: 3 if whole else 24}


def write_snapshot(root: Path, text: str | bytes | None) -> Path:
    path = folder(root) / "snapshots" / SNAPSHOT
    if text is None:
        path.unlink()
    elif isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, newline="")
    return path


LINES = [i + "\n" for i in IDS]
#: (snapshot content, None for a missing file; words of the problem)
SNAPSHOT_DAMAGE: dict[str, tuple[str | bytes | None, str]] = {
    "cut-mid-line": ("".join(LINES)[:-10], "line 5, the last, has no line end: the file was cut short"),
    "cut-at-a-line-end": ("".join(LINES[:4]), "the file holds 4 ids but the ledger says 5"),
    "an-extra-line": ("".join(LINES) + "f" * 64 + "\n", "the file holds 6 ids but the ledger says 5"),
    "empty": ("", "the file holds 0 ids but the ledger says 5"),
    "missing": (None, "the snapshot file the ledger points at is missing"),
    "not-hex": ("".join([LINES[0], "z" * 64 + "\n", *LINES[2:]]), "line 2 is not a 64-character lower-case hex"),
    "upper-case": ("".join([*LINES[:2], LINES[2].upper(), *LINES[3:]]), "line 3 is not a 64-character lower-case"),
    "short-id": ("".join([LINES[0], LINES[1][:40] + "\n", *LINES[2:]]), "line 2 is not a 64-character"),
    "blank-line": ("".join([*LINES[:3], "\n", *LINES[3:]]), "line 4 is not a 64-character"),
    "crlf": ("".join(line.replace("\n", "\r\n") for line in LINES), "line 1 is not a 64-character"),
    "unsorted": ("".join([LINES[0], LINES[2], LINES[1], *LINES[3:]]), "line 3 sorts before line 2"),
    "repeated": ("".join([*LINES[:2], LINES[1], *LINES[3:]]), "line 3 repeats line 2"),
    "not-ascii": ("".join(LINES).encode() + "é\n".encode(), "the file holds bytes that are not ASCII text"),
}


@pytest.mark.parametrize("name", sorted(SNAPSHOT_DAMAGE))
def test_a_damaged_snapshot_stops_the_diff_and_is_set_aside(tmp_path: Path, name: str) -> None:
    healthy(tmp_path)
    content, words = SNAPSHOT_DAMAGE[name]
    path = write_snapshot(tmp_path, content)
    with book(tmp_path).locked() as ledger, pytest.raises(DamagedState) as info:
        list(ledger.snapshot_lines(ledger.snapshot))
    message = str(info.value)
    assert message.startswith(f"{path}: {words}")
    assert "No audience call was made" in message
    assert f"`{command(tmp_path)}--audience-key {KEY}`" in message
    assert "keeping every counted call: the next sync sends one REPLACE of the whole cohort" in message

    report = repair_audience(book(tmp_path), NOW)
    assert report.problem == f"{path}: {info.value.problem}"
    aside = folder(tmp_path) / f"{SNAPSHOT}.damaged-{STAMP}"
    assert report.moved == ([] if content is None else [str(aside)])
    assert not path.exists()
    assert aside.exists() is (content is not None)
    with book(tmp_path).locked() as ledger:
        assert ledger.snapshot is None
        assert ledger.calls_used(NOW) == 3  # every counted call kept
        ledger.prune_snapshots()  # the file set aside is out of the snapshots folder: the next sync keeps it
    assert aside.exists() is (content is not None)


def test_a_sound_snapshot_reads_through(tmp_path: Path) -> None:
    healthy(tmp_path)
    with book(tmp_path).locked() as ledger:
        assert list(ledger.snapshot_lines(ledger.snapshot)) == LINES
    report = repair_audience(book(tmp_path), NOW)
    assert (report.problem, report.repaired, report.moved) == (None, False, [])


def test_check_reports_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--state-uri", str(tmp_path), "--advertiser-id", ADVERTISER, "--audience-id", AUDIENCE]
    assert main([*args, "--check"]) == 0  # no ledger yet: nothing to repair, and no folder created
    assert not (tmp_path / "audiences").exists()
    assert "no ledger yet: nothing to repair" in capsys.readouterr().out
    healthy(tmp_path)
    assert main([*args, "--check"]) == 0
    assert "problem: none found" in capsys.readouterr().out
    raw = damage_ledger(tmp_path, "cut-short-in-the-calls")
    assert main([*args, "--check"]) == 1
    out = capsys.readouterr().out
    assert "is not valid JSON" in out
    assert "nothing changed (--check)" in out
    assert (folder(tmp_path) / "ledger.json").read_bytes() == raw
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"moved aside: {folder(tmp_path)}/ledger.json.damaged-" in out
    assert f"counted as fully used (24 calls): {datetime.now(timezone.utc).date().isoformat()}" in out
    assert main([*args, "--check"]) == 0


def test_forget_snapshot_resyncs_a_sound_state_from_scratch(tmp_path: Path) -> None:
    healthy(tmp_path)
    report = repair_audience(book(tmp_path), NOW, forget_snapshot=True)
    assert (report.problem, report.moved, report.snapshot_forgotten) == (None, [], True)
    with book(tmp_path).locked() as ledger:
        assert (ledger.snapshot, ledger.calls_used(NOW), ledger.audience_id) == (None, 3, AUDIENCE)


def test_a_repair_near_midnight_also_fills_the_next_day(tmp_path: Path) -> None:
    """Calls made in the last minutes of a day may reach TikTok on the next: unread, both days count as full."""
    healthy(tmp_path)
    damage_ledger(tmp_path, "cut-short-in-the-calls")
    late = datetime(2026, 3, 10, 23, 59, tzinfo=timezone.utc)
    report = repair_audience(book(tmp_path), late)
    assert report.filled == [TODAY, "2026-03-11"]
    with book(tmp_path).locked() as ledger:
        assert ledger.calls_used(late) == 24
        assert ledger.calls_used(late + timedelta(hours=1)) == 24
        assert ledger.calls_left(late + timedelta(days=1, hours=12)) == 24


def test_salvage_counts_unreadable_calls_on_their_day_and_the_days_beside(tmp_path: Path) -> None:
    good = {"id": "a", "seq": 1, "action": "APPEND", "at": "2026-03-09T10:00:00+00:00", "run": None}
    text = json.dumps({"version": 1, "calls": {"2026-03-09": [{**good, "status": FAILED}, {"id": 3}]}})
    calls, unknown = salvage_calls(text.encode())
    assert unknown == set()
    assert calls["2026-03-09"][0]["id"] == "a"
    assert calls["2026-03-09"][1]["status"] == "unknown"
    assert calls["2026-03-09"][1]["also"] == ["2026-03-08", "2026-03-10"]
    calls, unknown = salvage_calls(json.dumps({"calls": {"2026-03-09": {}}, "version": 1}).encode())
    assert (calls, unknown) == ({}, {"2026-03-09"})
    assert salvage_calls(b"\xff") == ({}, None)
    assert salvage_calls(b'{"calls": {"2026-03-09": [') == ({}, None)


def test_a_name_keyed_audience_is_looked_up_again(tmp_path: Path) -> None:
    """Without an id in its key the repaired ledger keeps no audience id: the next sync finds it by name."""
    key = "name-" + "0" * 32
    healthy(tmp_path, key)
    path = folder(tmp_path, key) / "ledger.json"
    path.write_bytes(b"{")
    repair_audience(book(tmp_path, key), NOW)
    with book(tmp_path, key).locked() as ledger:
        assert (ledger.audience_id, ledger.calls_used(NOW)) == (None, 24)


def test_repair_on_an_object_store(memory_store: str) -> None:
    from airflow.sdk import ObjectStoragePath

    with book(memory_store).locked() as ledger:
        ledger.settle(ledger.reserve("CREATE", NOW), ACCEPTED)
        name = ledger.new_snapshot_name(NOW)
        (ledger.folder / "snapshots" / name).write_text("".join(LINES[:2]))
        ledger.accept_snapshot(name, 3, NOW)  # the count does not match: damaged
    with book(memory_store).locked() as ledger, pytest.raises(DamagedState, match="holds 2 ids but the ledger says 3"):
        list(ledger.snapshot_lines(ledger.snapshot))
    report = repair_audience(book(memory_store), NOW)
    aside = ObjectStoragePath(f"{memory_store}/audiences/{ADVERTISER}/{KEY}/{name}.damaged-{STAMP}")
    assert report.moved == [str(aside)]
    assert aside.read_text() == "".join(LINES[:2])
    with book(memory_store).locked() as ledger:
        assert (ledger.snapshot, ledger.calls_used(NOW)) == (None, 1)


def test_a_second_repair_in_the_same_second_keeps_both_copies(tmp_path: Path) -> None:
    healthy(tmp_path)
    first = damage_ledger(tmp_path, "empty")
    repair_audience(book(tmp_path), NOW)
    (folder(tmp_path) / "ledger.json").write_bytes(b"[")
    report = repair_audience(book(tmp_path), NOW)
    assert report.moved == [str(folder(tmp_path) / f"ledger.json.damaged-{STAMP}-2")]
    assert (folder(tmp_path) / f"ledger.json.damaged-{STAMP}").read_bytes() == first
    with book(tmp_path).locked() as ledger:
        assert ledger.calls_used(NOW) == 24
