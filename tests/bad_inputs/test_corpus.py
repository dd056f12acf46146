"""Every case of the bad-input corpus through its operator against the emulator: a clear error of our own naming
the row and field, or rejects entries naming them with every good row delivered once; never a raw value in an
exception, a log record, XCom or a written file."""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator.testing import EmulatorServer
from tests.helpers.bad_inputs import CASES, DATA, Outcome, case_params, last_frame_file, raised_by_us, written_text
from tests.helpers.events import PIXEL

#: The exception types a user may see from a bad input: ours (TikTokApiError when TikTok itself refuses).
OUR_ERRORS = {"TikTokInputError", "TikTokConfigError", "TikTokApiError", "AirflowFailException"}


def sha(text: str) -> str:
    """SHA-256 hex, computed here independently of the provider."""
    return hashlib.sha256(text.encode()).hexdigest()


def api_paths(emulator: EmulatorServer) -> list[str]:
    """The paths of the API requests the emulator answered."""
    return [entry["path"] for entry in emulator.state.requests()]


@pytest.mark.integration
@pytest.mark.parametrize(("case", "feed"), case_params())
def test_case(case: dict[str, Any], feed: str, run_case, emulator: EmulatorServer, caplog, home: Path) -> None:
    outcome = run_case(case, feed)
    if case["expect"] == "error":
        _check_error(case, outcome, emulator)
    elif case["operator"] == "events":
        _check_events(case, outcome, emulator)
    else:
        _check_audience(case, outcome, emulator)
    if "log" in case:
        assert [r for r in caplog.records if re.search(case["log"], r.getMessage())], case["log"]
    _check_nothing_leaked(case, outcome, caplog, home)


def _check_error(case: dict[str, Any], outcome: Outcome, emulator: EmulatorServer) -> None:
    """Our exception type, raised in our code, naming the row and field; nothing sent."""
    expected = case["error"]
    error = outcome.error
    assert error is not None, f"expected {expected['type']}, the task succeeded with {outcome.summary}"
    assert type(error).__name__ == expected["type"], outcome.exception_text()
    assert type(error).__name__ in OUR_ERRORS
    assert raised_by_us(error), f"raised in {last_frame_file(error)}:\n{outcome.exception_text()}"
    assert re.search(expected["match"], str(error)), str(error)
    if expected["type"] == "TikTokInputError":
        assert (error.row, error.field) == (expected["row"], expected["field"])
    if case["stage"] == "init":
        assert outcome.operator is None
        assert api_paths(emulator) == []
    writes = ("event/track/", "file/upload/", "/create/", "/update/", "integrated/get/", "ad/get/")
    sent = [p for p in api_paths(emulator) if p.endswith(writes)]
    assert sent == [], "an input error must stop the task before it sends anything"


def _check_events(case: dict[str, Any], outcome: Outcome, emulator: EmulatorServer) -> None:
    """Counts add up, the rejects file names exactly the bad rows, the good rows arrived once each."""
    assert outcome.error is None, outcome.exception_text()
    summary = outcome.summary
    rejects = case.get("rejects", [])
    assert (summary["received"], summary["sent"], summary["rejected"]) == (
        case["received"],
        len(case["delivered"]),
        len(rejects),
    )
    assert summary["sent"] + summary["rejected"] == summary["received"]
    if rejects:
        entries = [json.loads(line) for line in Path(summary["rejects_uri"]).read_text().splitlines()]
        assert sorted([e["row"], e["field"], e["reason"]] for e in entries) == rejects
    else:
        assert summary["rejects_uri"] is None
    stored = emulator.state.events.get(PIXEL, {})
    receipts = emulator.state.event_summary(PIXEL)["receipts"]
    if "stored_events" in case:  # rows told apart by their derived event_ids, not by order_id (issue 15)
        assert len(stored) == case["stored_events"]
        assert sum(receipts.values()) == summary["sent"]
    else:
        assert sorted(e["properties"]["order_id"] for e in stored.values()) == sorted(
            f"o{n}" for n in case["delivered"]
        )
        assert set(receipts.values()) <= {1}
    assert summary["dropped_fields"] == case.get("dropped_fields", summary["dropped_fields"])
    if "nonstandard_event_names" in case:
        assert summary["nonstandard_event_names"] == case["nonstandard_event_names"]
    row2 = next((e for e in stored.values() if e.get("properties", {}).get("order_id") == "o2"), None)
    for path, value in (case.get("row2_sent") or {}).items():
        found: Any = row2
        for key in path.split("."):
            found = found[key]
        assert found == value, path


def _check_audience(case: dict[str, Any], outcome: Outcome, emulator: EmulatorServer) -> None:
    """Counts add up, the rejects file names exactly the bad members, TikTok holds exactly the good ones."""
    assert outcome.error is None, outcome.exception_text()
    summary = outcome.summary
    rejects = case.get("rejects", [])
    members = case["members"]
    assert (summary["members_in"], summary["valid"], summary["rejected"]) == (
        case["received"],
        len(members or []),
        len(rejects),
    )
    if rejects:
        entries = [json.loads(line) for line in Path(summary["rejects_uri"]).read_text().splitlines()]
        assert sorted([e["row"], e["field"], e["reason"]] for e in entries) == rejects
    else:
        assert summary["rejects_uri"] is None
    if not members:  # empty input: no audience, no audience call
        assert summary["audience_id"] is None
        assert summary["actions"] == []
        assert emulator.state.stats()["audience_calls"] == {}
        return
    assert summary["actions"] == ["CREATE"]
    assert emulator.state.audience_members(summary["audience_id"]) == sorted(sha(m) for m in members)


def _check_nothing_leaked(case: dict[str, Any], outcome: Outcome, caplog, home: Path) -> None:
    """No raw value of the case in the exception, any log record, XCom or any file the task wrote."""
    logs = "\n".join([record.getMessage() + (record.exc_text or "") for record in caplog.records] + [caplog.text])
    seen = {
        "exception": outcome.exception_text(),
        "logs": logs,
        "xcom": json.dumps(outcome.xcom, default=str) + json.dumps(outcome.summary, default=str),
        "files": written_text(home),
    }
    for raw in case["never"]:
        for where, text in seen.items():
            assert raw not in text, f"{raw[:40]!r} found in the {where}"


@pytest.mark.integration
def test_a_rejected_share_above_the_default_fails_naming_the_reason(run_case) -> None:
    case = next(c for c in CASES if c["id"] == "events/csv_missing_event_time_column")
    outcome = run_case({**case, "kwargs": {"max_rejected_fraction": 0.0}}, "file")
    assert type(outcome.error).__name__ == "AirflowFailException"
    assert raised_by_us(outcome.error)
    assert "3 of 3 events were rejected" in str(outcome.error)
    assert "Most frequent reasons: event_time: is missing (3)" in str(outcome.error)
    assert outcome.operator._sent["rejected"] == 3


def _content(path: Path) -> bytes:
    """A corpus file's bytes; gzip data uncompressed (gzip headers differ between Python versions)."""
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":  # gzip data, whatever the file is named
        return data
    try:  # what the stream holds, also for the deliberately truncated files (no end-of-stream check)
        return zlib.decompressobj(wbits=31).decompress(data)
    except zlib.error:  # deliberately corrupt: compared as written
        return data


@pytest.mark.unit
def test_the_committed_corpus_is_what_make_corpus_writes(tmp_path: Path) -> None:
    from tests.bad_inputs import make_corpus

    make_corpus.build().write(tmp_path)
    written = {p.relative_to(tmp_path).as_posix(): _content(p) for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(DATA).as_posix(): _content(p) for p in DATA.rglob("*") if p.is_file()}
    assert written.keys() == committed.keys()
    assert [name for name in written if written[name] != committed[name]] == []


@pytest.mark.unit
def test_every_case_names_an_existing_input_and_every_file_is_used() -> None:
    used = {c[key] for c in CASES for key in ("file", "sql") if key in c}
    on_disk = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file()} - {"cases.json"}
    assert used == on_disk
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.unit
def test_the_corpus_covers_every_kind_of_bad_input_in_issue_7() -> None:
    ids = {c["id"] for c in CASES}
    required = {
        "events/csv_unbalanced_quote",
        "events/csv_ragged_row",
        "events/csv_header_only",
        "events/csv_bom",
        "events/csv_semicolon_delimited",
        "events/jsonl_truncated_last_line",
        "events/jsonl_array_line",
        "events/jsonl_bare_string_line",
        "events/jsonl_bare_number_line",
        "events/jsonl_trailing_garbage",
        "events/value_object",
        "events/page_url_list",
        "events/value_boolean",
        "events/event_time_null",
        "events/value_nan",
        "events/value_infinity",
        "events/value_negative",
        "events/quantity_negative",
        "events/csv_zero_bytes",
        "events/jsonl_blank_lines_only",
        "events/csv_gzip_of_nothing",
        "events/csv_corrupt_gzip",
        "events/csv_missing_event_time_column",
        "events/csv_unknown_column",
        "events/currency_lowercase_with_space",
        "events/currency_zzz",
        "events/currency_us_dollar_sign",
        "events/currency_numeric",
        "events/phone_letters",
        "events/phone_too_short",
        "events/phone_too_long",
        "events/phone_extension_only",
        "events/email_no_at",
        "events/email_inner_space",
        "events/email_zero_width_space",
        "events/email_300_chars",
        "audience/idfa_wrong_length",
        "audience/idfa_non_hex",
        "audience/idfa_all_zeros",
        "audience/gaid_wrong_length",
        "audience/gaid_non_hex",
        "audience/gaid_all_zeros",
        "events/ts_epoch_milliseconds",
        "events/ts_future_epoch",
        "events/ts_before_1970",
        "events/ts_iso_without_timezone",
        "events/ts_february_30",
        "events/ts_yesterday",
        "events/ts_empty",
        "events/ts_13_digit_string",
        "events/ts_float_seconds",
        "events/description_1mb",
        "events/event_name_10k_chars",
        "events/csv_latin1",
        "events/csv_invalid_byte_in_row_3",
        "audience/arg_audience_name_200_chars",
        "ad_metrics/arg_range_longer_than_a_year",
        "ad_metrics/arg_start_after_end",
        "ad_metrics/arg_lookback_negative",
        "ad_metrics/arg_advertiser_id_letters",
        "events/sql_event_time_as_date",
        "audience/sql_email_as_integer",
    }
    assert required <= ids, sorted(required - ids)
