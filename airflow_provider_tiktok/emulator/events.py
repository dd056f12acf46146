"""``POST event/track/``: Events API 2.0 batches, validated by hand (fast enough for 1,000 events in a few ms).

Rules: ``event_source`` web/app/offline/crm, ``event_source_id`` required, 1..1000 events (else 40061 and
nothing is stored); per event a non-empty ``event``, an integer ``event_time`` in Unix seconds no older than
28 days and at most 5 minutes ahead of the emulator clock; ``user.email``/``phone``/``external_id`` (a
string or a list of strings) must be 64 lower-case hex characters (else 40062, PII not hashed); web events
need one of them and ``page.url``, offline events need ``email`` or ``phone``; ``properties.currency`` is
ISO 4217, ``value``/``price`` are numbers, ``quantity`` an integer. One bad event fails the whole batch
with 40002 (or 40062), the message naming the field as ``data.<index>.<path>`` (just ``<path>`` with the
``event_errors_without_index`` setting, since TikTok does not always name the row).

Accepted events are stored per event source keyed by ``event_id`` with a receipt count, so tests can check
exactly-once delivery (TikTok de-duplicates on the same id). With ``settings.keep_event_bodies`` off
(``--receipts-only``, for load runs: a kept event costs about 2 KB) only the receipt counts are kept.

Partial success (``partial_success_events`` setting): good events are accepted and the answer is code
20001 with ``data = {"failed_events": [{"index", "event_id", "code", "message"}, ...]}``. TikTok's public
documentation does not show the body of a 20001 answer for this endpoint (searched; not found), so this
is the emulator's own shape, chosen to give a client what it needs: which rows failed, and why. A batch
whose events all fail is rejected as without the setting.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pycountry

from airflow_provider_tiktok.emulator import params
from airflow_provider_tiktok.emulator.envelope import (
    INVALID_BATCH_SIZE,
    INVALID_PARAMS,
    PARTIAL_SUCCESS,
    PII_NOT_HASHED,
    ApiError,
)
from airflow_provider_tiktok.emulator.routing import ApiRequest, Route
from airflow_provider_tiktok.emulator.state import EmulatorState

EVENT_SOURCES = ("web", "app", "offline", "crm")
MAX_EVENTS = 1000
MAX_AGE_SECONDS = int(timedelta(days=28).total_seconds())
MAX_AHEAD_SECONDS = 300
CURRENCIES = frozenset(currency.alpha_3 for currency in pycountry.currencies)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_HASHED_KEYS = ("email", "phone", "external_id")

Problem = tuple[int, str, str]  # (code, field path inside the event, reason)


def _is_number(value: Any) -> bool:
    """A JSON number (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_user(user: Any, source: str) -> Problem | None:
    """Identity rules: hashed identifiers, and the ones web/offline events must carry."""
    if not isinstance(user, dict):
        return INVALID_PARAMS, "user", "must be an object"
    present = set()
    for key in _HASHED_KEYS:
        value = user.get(key)
        if value is None or value == "" or value == []:
            continue
        for item in value if isinstance(value, list) else (value,):
            if not isinstance(item, str) or not _SHA256_HEX.fullmatch(item):
                return PII_NOT_HASHED, f"user.{key}", "must be SHA-256 hashed (64 lower-case hex characters)"
        present.add(key)
    if source == "web" and not present:
        return INVALID_PARAMS, "user", "a web event needs at least one of email, phone, external_id"
    if source == "offline" and not present & {"email", "phone"}:
        return INVALID_PARAMS, "user", "an offline event needs email or phone"
    return None


def _check_properties(properties: Any) -> Problem | None:
    """Currency, value and contents rules."""
    if not isinstance(properties, dict):
        return INVALID_PARAMS, "properties", "must be an object"
    currency = properties.get("currency")
    if currency is not None and currency not in CURRENCIES:
        return INVALID_PARAMS, "properties.currency", f"{currency!r} is not an ISO 4217 currency code"
    if "value" in properties and not _is_number(properties["value"]):
        return INVALID_PARAMS, "properties.value", "must be a number"
    contents = properties.get("contents")
    if contents is None:
        return None
    if not isinstance(contents, list):
        return INVALID_PARAMS, "properties.contents", "must be a list"
    for j, content in enumerate(contents):
        if not isinstance(content, dict):
            return INVALID_PARAMS, f"properties.contents.{j}", "must be an object"
        if "price" in content and not _is_number(content["price"]):
            return INVALID_PARAMS, f"properties.contents.{j}.price", "must be a number"
        quantity = content.get("quantity")
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
            return INVALID_PARAMS, f"properties.contents.{j}.quantity", "must be an integer"
    return None


def check_event(event: Any, source: str, now: int) -> Problem | None:
    """The first problem of one event (code, field path, reason), or None when TikTok would accept it."""
    if not isinstance(event, dict):
        return INVALID_PARAMS, "", "must be an object"
    name = event.get("event")
    if not isinstance(name, str) or not name.strip():
        return INVALID_PARAMS, "event", "is required"
    moment = event.get("event_time")
    if isinstance(moment, bool) or not isinstance(moment, int):
        return INVALID_PARAMS, "event_time", "must be an integer Unix timestamp in seconds"
    if moment < now - MAX_AGE_SECONDS:
        return INVALID_PARAMS, "event_time", "is older than 28 days"
    if moment > now + MAX_AHEAD_SECONDS:
        return INVALID_PARAMS, "event_time", "is in the future"
    event_id = event.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        return INVALID_PARAMS, "event_id", "must be a string"
    problem = _check_user(event.get("user", {}), source)
    if problem is None and "properties" in event:
        problem = _check_properties(event["properties"])
    if problem is None and source == "web":
        page = event.get("page")
        if not isinstance(page, dict) or not isinstance(page.get("url"), str) or not page["url"]:
            problem = INVALID_PARAMS, "page.url", "is required for web events"
    if problem is None and not isinstance(event.get("limited_data_use", False), bool):
        problem = INVALID_PARAMS, "limited_data_use", "must be a boolean"
    return problem


def _message(index: int, problem: Problem, with_index: bool) -> str:
    """TikTok-style message naming the field, with or without the row index."""
    _, path, reason = problem
    where = ".".join(filter(None, (f"data.{index}" if with_index else "", path))) or "data"
    return f"Invalid value for {where}: {reason}"


def event_track(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """Validate a batch, store accepted events by (event_source_id, event_id), answer 0 / 20001 / error."""
    p = request.params
    source = p.get("event_source")
    if source not in EVENT_SOURCES:
        raise ApiError(INVALID_PARAMS, f"event_source: Must be one of {', '.join(EVENT_SOURCES)}.")
    source_id = params.required_text(p, "event_source_id")
    events = p.get("data")
    if not isinstance(events, list):
        raise ApiError(INVALID_PARAMS, "data: Must be a list of events.")
    if not 1 <= len(events) <= MAX_EVENTS:
        raise ApiError(INVALID_BATCH_SIZE, f"data: A request carries 1 to {MAX_EVENTS} events, got {len(events)}.")
    now = int(state.now().timestamp())
    with_index = not state.settings.event_errors_without_index
    partial = state.settings.partial_success_events
    problems: list[tuple[int, Problem]] = []
    accepted = []
    for index, event in enumerate(events):
        problem = check_event(event, source, now)
        if problem is None:
            accepted.append(event)
        elif not partial:
            raise ApiError(problem[0], _message(index, problem, with_index))
        else:
            problems.append((index, problem))
    if not accepted:  # partial mode, yet every event failed: reject the batch as a whole
        index, problem = problems[0]
        raise ApiError(problem[0], _message(index, problem, with_index))
    receipts = state.event_receipts.setdefault(source_id, Counter())
    stored = state.events.setdefault(source_id, {}) if state.settings.keep_event_bodies else None
    for event in accepted:
        event_id = event.get("event_id")
        if event_id:
            receipts[event_id] += 1
            if stored is not None:
                stored.setdefault(event_id, event)
        else:
            state.events_without_id[source_id] += 1
    if problems:
        failed = [
            {
                "index": index,
                "event_id": events[index].get("event_id") if isinstance(events[index], dict) else None,
                "code": problem[0],
                "message": _message(index, problem, True),
            }
            for index, problem in problems
        ]
        raise ApiError(
            PARTIAL_SUCCESS,
            f"Partial success: {len(failed)} of {len(events)} events were rejected.",
            {"failed_events": failed},
        )
    return {}


ROUTES = [Route("POST", "event/track/", event_track, "events")]
