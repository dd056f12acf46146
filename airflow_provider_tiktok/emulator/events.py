"""``POST event/track/``: Events API 2.0 batches, validated fast enough for 1,000 events in a few ms.

The request and each event are checked against :mod:`.spec` (``event/track/`` and :data:`.spec.EVENT_ROW`,
both from connectors: TikTok has no published definition of this endpoint): ``event_source``
web/app/offline/crm, ``event_source_id`` required, 1..1000 events (else 40061 and nothing is stored); per
event a non-empty ``event``, an integer ``event_time`` (Unix seconds), ``user.email``/``phone``/``external_id``
as 64 lower-case hex characters or a list of them (else 40062, PII not hashed), ``user.att_status`` from
its enum, ``properties.currency`` ISO 4217, ``quantity`` an integer, ``value``/``price`` non-negative numbers
(else 40000, "Invalid Price Field: <field>", as TikTok answers), an ``app`` object with ``app_id`` for app
events and a ``lead`` object with ``lead_id`` for CRM events. This module adds the rules across fields:
``event_time`` no older than 28 days and at most 5 minutes ahead of the emulator clock, web events need
one of email/phone/external_id and ``page.url``, offline events need ``email`` or ``phone``.

One bad event fails the whole batch with its code (40002, 40062 or 40000), the message naming the field as
``data.<index>.<path>`` (just ``<path>`` with the ``event_errors_without_index`` setting, since TikTok
does not always name the row): ``Invalid value for data.3.user: <rule>``, or TikTok's own label for a
price, ``Invalid Price Field: data.3.properties.contents.0.price``.

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

from collections import Counter
from datetime import timedelta
from typing import Any

from airflow_provider_tiktok.emulator.envelope import INVALID_PARAMS, PARTIAL_SUCCESS, ApiError
from airflow_provider_tiktok.emulator.routing import ApiRequest, Route
from airflow_provider_tiktok.emulator.spec import EVENT_ROW
from airflow_provider_tiktok.emulator.state import EmulatorState
from airflow_provider_tiktok.emulator.validation import Violation, check_row

#: The Amperity integration doc (our fact sheet): events older than 28 days are refused.
MAX_AGE_SECONDS = int(timedelta(days=28).total_seconds())
MAX_AHEAD_SECONDS = 300
_IDENTITY = ("email", "phone", "external_id")


def _has(user: dict[str, Any], key: str) -> bool:
    """Whether the (already checked) user object carries ``key``."""
    return user.get(key) not in (None, "", [])


def check_event(event: Any, source: str, now: int) -> Violation | None:
    """The first problem of one event (its code, field path and rule), or None when TikTok would accept it."""
    problem = check_row(EVENT_ROW, event, {"event_source": source})
    if problem is not None:
        return problem
    moment = event["event_time"]
    if moment < now - MAX_AGE_SECONDS:
        return Violation(INVALID_PARAMS, "event_time", "is older than 28 days")
    if moment > now + MAX_AHEAD_SECONDS:
        return Violation(INVALID_PARAMS, "event_time", "is in the future")
    user = event.get("user") or {}
    # Identity: web events need one identifier (fact sheet), offline events email or phone (Amperity seed).
    if source == "web" and not any(_has(user, key) for key in _IDENTITY):
        return Violation(INVALID_PARAMS, "user", "a web event needs at least one of email, phone, external_id")
    if source == "offline" and not (_has(user, "email") or _has(user, "phone")):
        return Violation(INVALID_PARAMS, "user", "an offline event needs email or phone")
    if source == "web":  # RudderStack marks page.url required for web events
        page = event.get("page") or {}
        if not page.get("url"):
            return Violation(INVALID_PARAMS, "page.url", "is required for web events")
    return None


def _message(index: int, problem: Violation, with_index: bool) -> str:
    """TikTok-style message naming the field, with or without the row index."""
    where = ".".join(filter(None, (f"data.{index}" if with_index else "", problem.path))) or "data"
    if problem.label:
        return f"{problem.label}: {where}"
    return f"Invalid value for {where}: {problem.rule}"


def event_track(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """Validate a batch, store accepted events by (event_source_id, event_id), answer 0 / 20001 / error."""
    p = request.params  # event_source, event_source_id and the size of data were checked by the spec
    source: str = p["event_source"]
    source_id: str = p["event_source_id"]
    events: list[Any] = p["data"]
    now = int(state.now().timestamp())
    with_index = not state.settings.event_errors_without_index
    partial = state.settings.partial_success_events
    problems: list[tuple[int, Violation]] = []
    accepted = []
    for index, event in enumerate(events):
        problem = check_event(event, source, now)
        if problem is None:
            accepted.append(event)
        elif not partial:
            raise ApiError(problem.code, _message(index, problem, with_index))
        else:
            problems.append((index, problem))
    if not accepted:  # partial mode, yet every event failed: reject the batch as a whole
        index, problem = problems[0]
        raise ApiError(problem.code, _message(index, problem, with_index))
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
                "code": problem.code,
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
