"""Cut events into ``event/track/`` batches and deliver one batch, isolating the rows TikTok refuses.

Pure logic (no Airflow import): the caller passes ``send``, a function that posts a list of events and
returns TikTok's ``data`` or raises :class:`TikTokApiError`. A batch refused for bad rows (40002, 40062) is
resent without the row TikTok names (``data.<index>``), or split in halves when it names none, until every
bad row stands alone: about ``bad * log2(batch)`` extra calls at worst. Partial success (20001) accepted the
good rows already; only the failed ones become rejections, nothing accepted is sent again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.hooks.codes import INVALID_PARAMS, PARAM_ERROR, PARTIAL_SUCCESS, PII_NOT_HASHED
from airflow_provider_tiktok.hooks.envelope import TrackResult

#: Codes that mean "some event in this batch is malformed": TikTok answers 40000 (e.g. "Invalid Price Field")
#: and 40002 for a bad field, 40062 for an identifier sent unhashed.
ROW_ERROR_CODES = frozenset({INVALID_PARAMS, PARAM_ERROR, PII_NOT_HASHED})
MAX_BATCH_SIZE = 1000
#: How much of an unreadable partial-success answer a rejects entry keeps.
MAX_ANSWER_CHARS = 500
_ROW_INDEX = re.compile(r"\bdata\.(\d+)\b\.?")
_FIELD = re.compile(r"\bfor ([A-Za-z_][\w.]*)")
#: "Invalid Price Field: properties.contents.0.price" (the field path after the reason, as 40000 names it).
_TRAILING_FIELD = re.compile(r"^(.*?):\s*([A-Za-z_]\w*(?:\.\w+)+)\s*$")
#: Messages about the request itself (not a row): splitting the batch cannot help.
_REQUEST_LEVEL = re.compile(r"^\s*(event_source|event_source_id|test_event_code|data)\s*:", re.IGNORECASE)

Send = Callable[[list[dict[str, Any]]], TrackResult]


@dataclass(frozen=True)
class Batch:
    """One request's worth of events, with their input row numbers; ``index`` counts from 0."""

    index: int
    rows: list[int]
    events: list[dict[str, Any]]

    def fingerprint(self, scope: str) -> str:
        """Identifies the batch's events (by event_id) for ``scope`` (event source, test code): a retry may
        skip a batch only when its fingerprint matches the one TikTok accepted."""
        digest = hashlib.sha256(scope.encode("utf-8"))
        for event in self.events:
            digest.update(b"\n" + str(event.get("event_id")).encode("utf-8"))
        return digest.hexdigest()


def batched(events: Iterable[tuple[int, dict[str, Any]]], size: int) -> Iterator[Batch]:
    """Group ``(row, event)`` pairs into batches of ``size`` (the last one shorter), lazily."""
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be a whole number from 1 to {MAX_BATCH_SIZE}")
    rows: list[int] = []
    items: list[dict[str, Any]] = []
    index = 0
    for row, event in events:
        rows.append(row)
        items.append(event)
        if len(items) == size:
            yield Batch(index, rows, items)
            index += 1
            rows, items = [], []
    if items:
        yield Batch(index, rows, items)


@dataclass(frozen=True)
class Rejection:
    """A row TikTok refused: its code, the field its message names and the reason (row index removed)."""

    row: int
    code: int | None
    field: str | None
    reason: str
    event: dict[str, Any]


@dataclass
class Delivery:
    """What delivering one batch did: events accepted, rows refused, requests made."""

    sent: int = 0
    calls: int = 0
    isolation_calls: int = 0
    partial_without_details: int = 0
    rejections: list[Rejection] = field(default_factory=list)


def row_index(message: str, size: int) -> int | None:
    """The batch position a TikTok message names (``data.12.properties.currency`` -> 12), when in range."""
    match = _ROW_INDEX.search(message or "")
    if match and int(match.group(1)) < size:
        return int(match.group(1))
    return None


def describe(message: str) -> tuple[str | None, str]:
    """(field path, reason) of a TikTok message, without the row index, so equal reasons add up."""
    text = _ROW_INDEX.sub("", message or "").strip().lstrip(":. ")
    trailing = _TRAILING_FIELD.match(text)
    if trailing and trailing.group(1).strip():
        return trailing.group(2), trailing.group(1).strip()
    match = _FIELD.search(text)
    path = match.group(1).strip(".") if match else None
    reason = text.split(": ", 1)[1] if path and ": " in text else text
    return path or None, reason or "rejected"


def is_request_level(err: TikTokApiError) -> bool:
    """True when TikTok refuses the request itself (event source, test code), not a row of it."""
    return err.code not in ROW_ERROR_CODES or bool(_REQUEST_LEVEL.match(err.message or ""))


def deliver(batch: Batch, send: Send) -> Delivery:
    """Send ``batch``; isolate and set aside refused rows; raise for errors that are not about rows."""
    outcome = Delivery()
    _deliver(list(zip(batch.rows, batch.events, strict=True)), send, outcome, isolating=False)
    return outcome


def _deliver(items: Sequence[tuple[int, dict[str, Any]]], send: Send, outcome: Delivery, *, isolating: bool) -> None:
    outcome.calls += 1
    outcome.isolation_calls += isolating
    try:
        result = send([event for _, event in items])
    except TikTokApiError as err:
        if is_request_level(err):
            raise
        if len(items) == 1:
            outcome.rejections.append(_rejection(items[0], err.code, err.message))
            return
        named = row_index(err.message, len(items))
        if named is not None:
            outcome.rejections.append(_rejection(items[named], err.code, err.message))
            _deliver([*items[:named], *items[named + 1 :]], send, outcome, isolating=True)
            return
        middle = len(items) // 2
        _deliver(items[:middle], send, outcome, isolating=True)
        _deliver(items[middle:], send, outcome, isolating=True)
        return
    failed = _failed_positions(result.data, items) if result.partial else {}
    if failed is None:  # partial success in a shape we cannot read: no event of the batch counts as sent
        outcome.partial_without_details += 1
        reason = _unknown_outcome(result)
        outcome.rejections.extend(Rejection(row, PARTIAL_SUCCESS, None, reason, event) for row, event in items)
        return
    for position, (code, message) in sorted(failed.items()):
        outcome.rejections.append(_rejection(items[position], code, message))
    outcome.sent += len(items) - len(failed)


def _failed_positions(
    data: dict[str, Any], items: Sequence[tuple[int, dict[str, Any]]]
) -> dict[int, tuple[Any, str]] | None:
    """Positions of a 20001 answer's ``failed_events`` (by ``index``, else by ``event_id``); None when the answer
    does not say which events failed (no list, or an entry that names no event of the batch).

    TikTok does not document this body publicly; no public client parses it. Unknown failures are never
    counted as sent."""
    entries = data.get("failed_events")
    if not isinstance(entries, list) or not entries:
        return None
    by_id = {event.get("event_id"): n for n, (_, event) in enumerate(items)}
    failed: dict[int, tuple[Any, str]] = {}
    for entry in entries:
        position = entry.get("index") if isinstance(entry, dict) else None
        if not (isinstance(position, int) and 0 <= position < len(items)):
            position = by_id.get(entry.get("event_id")) if isinstance(entry, dict) else None
        if position is None:
            return None
        failed[position] = (entry.get("code"), str(entry.get("message") or ""))
    return failed


def _unknown_outcome(result: TrackResult) -> str:
    """The rejects-file reason of an event whose outcome a partial success left unknown, with TikTok's answer
    (identifiers in it are hashed or TikTok's own; long answers are cut)."""
    answer = json.dumps(result.data, sort_keys=True, default=str)
    if len(answer) > MAX_ANSWER_CHARS:
        answer = answer[:MAX_ANSWER_CHARS] + "..."
    return (
        f"outcome unknown: TikTok answered partial success (20001, request_id={result.request_id or '-'}) without "
        f"saying which events failed; sending the row again is safe (TikTok de-duplicates by event_id). "
        f"TikTok's answer: {answer}"
    )


def _rejection(item: tuple[int, dict[str, Any]], code: Any, message: str) -> Rejection:
    path, reason = describe(message)
    return Rejection(item[0], code if isinstance(code, int) else None, path, reason, item[1])
