"""One attempt of one event upload: build events from records, send batches in parallel through the hook,
keep per-batch progress (a retry skips what TikTok accepted) and the rejects, then sum it up."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.events import batching
from airflow_provider_tiktok.events.build import build_event, redacted
from airflow_provider_tiktok.events.progress import RejectsLog, UploadProgress
from airflow_provider_tiktok.events.rules import BuildTally, EventRules, RowRejected
from airflow_provider_tiktok.hooks.envelope import TrackResult

if TYPE_CHECKING:
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

log = logging.getLogger(__name__)

#: Custom event names listed in the summary (the most frequent ones).
MAX_LISTED_NAMES = 20


@dataclass
class EventUpload:
    """One attempt of one run: build events from records, send batches in parallel, keep progress and rejects."""

    hook: TikTokAdsHook
    rules: EventRules
    request: dict[str, Any]
    batch_size: int
    max_in_flight: int
    progress: UploadProgress
    rejects: RejectsLog
    tally: BuildTally = field(default_factory=BuildTally)
    received: int = 0
    sent: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    batches_resumed: int = 0
    sent_earlier: int = 0
    isolation_calls: int = 0
    partial_without_details: int = 0

    def run(self, records: Iterator[tuple[int, dict[str, Any]]]) -> None:
        """Send every event; on a failure, finish and record the batches in flight, then raise it."""
        pending: dict[Future[batching.Delivery], tuple[batching.Batch, str]] = {}
        with ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="tiktok-events") as pool:
            try:
                for batch in batching.batched(self._events(records), self.batch_size):
                    self.batches += 1
                    fingerprint = batch.fingerprint(self.progress.scope)
                    earlier = self.progress.accepted(batch.index, fingerprint)
                    if earlier is not None:
                        self._resume(batch.index, earlier)
                        continue
                    while len(pending) >= self.max_in_flight:
                        self._settle(pending, FIRST_COMPLETED)
                    pending[pool.submit(batching.deliver, batch, self._send)] = (batch, fingerprint)
                while pending:
                    self._settle(pending, FIRST_COMPLETED)
            except BaseException:
                self._drain(pending)
                raise

    def _events(self, records: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]:
        for row, record in records:
            self.received += 1
            try:
                yield row, build_event(record, row, self.rules, self.tally)
            except RowRejected as err:
                self._reject(row, None, err.field, err.reason, None, redacted(record, self.rules))

    def _send(self, events: list[dict[str, Any]]) -> TrackResult:
        return self.hook.track_events({**self.request, "data": events})

    def _settle(self, pending: dict[Future[batching.Delivery], tuple[batching.Batch, str]], when: str) -> None:
        """Record the batches that finished; raise the first error among them after recording the rest."""
        done, _ = wait(pending, return_when=when)
        error: BaseException | None = None
        for future in done:
            batch, fingerprint = pending.pop(future)
            try:
                self._record(batch, fingerprint, future.result())
            except BaseException as exc:
                error = error or exc
        if error is not None:
            raise error

    def _drain(self, pending: dict[Future[batching.Delivery], tuple[batching.Batch, str]]) -> None:
        """After a failure: wait for the batches in flight and keep the progress of those TikTok accepted."""
        for future, (batch, fingerprint) in list(pending.items()):
            if future.cancel():
                continue
            try:
                self._record(batch, fingerprint, future.result())
            except Exception as exc:
                log.warning("Batch %d failed too: %s", batch.index + 1, exc)
        pending.clear()

    def _record(self, batch: batching.Batch, fingerprint: str, delivery: batching.Delivery) -> None:
        reasons: Counter[str] = Counter()
        for rejection in delivery.rejections:
            reason = self._reject(
                rejection.row, batch.index, rejection.field, rejection.reason, rejection.code, rejection.event
            )
            reasons[reason] += 1
        self.sent += delivery.sent
        self.isolation_calls += delivery.isolation_calls
        self.partial_without_details += delivery.partial_without_details
        self.progress.record(batch.index, fingerprint, delivery.sent, reasons)

    def _resume(self, index: int, earlier: dict[str, Any]) -> None:
        """Count a batch an earlier attempt delivered, and keep its rejections."""
        self.batches_resumed += 1
        self.sent_earlier += int(earlier.get("sent") or 0)
        self.sent += int(earlier.get("sent") or 0)
        self.rejected_by_reason.update({str(k): int(v) for k, v in (earlier.get("rejected") or {}).items()})
        self.rejects.carry(index)

    def _reject(
        self, row: int, batch: int | None, name: str | None, reason: str, code: int | None, event: dict[str, Any]
    ) -> str:
        key = f"{name}: {reason}" if name else reason
        self.rejected_by_reason[key] += 1
        self.rejects.add({"row": row, "field": name, "reason": reason, "code": code, "batch": batch, "event": event})
        return key

    def summary(self, destination: dict[str, Any], rejects_uri: str | None, duration: float) -> dict[str, Any]:
        """The run's small, PII-free result (also logged as one line); ``destination`` names the event source."""
        rejected = sum(self.rejected_by_reason.values())
        summary = {
            **destination,
            "received": self.received,
            "sent": self.sent,
            "rejected": rejected,
            "rejected_by_reason": dict(self.rejected_by_reason.most_common()),
            "batches": self.batches,
            "batches_resumed": self.batches_resumed,
            "api_calls": self.hook.api_calls,
            "isolation_calls": self.isolation_calls,
            "duration_s": round(duration, 3),
            "events_per_s": round((self.sent - self.sent_earlier) / duration, 1) if duration > 0 else 0.0,
            "rejects_uri": rejects_uri,
            "nonstandard_event_names": dict(self.tally.nonstandard_event_names.most_common(MAX_LISTED_NAMES)),
            "dropped_fields": dict(sorted(self.tally.dropped_fields.items())),
            "test_event_code": bool(self.request.get("test_event_code")),
        }
        if self.partial_without_details:
            summary["partial_success_without_details"] = self.partial_without_details
        log.info(
            "TikTok events to %s %s: received %d, sent %d, rejected %d %s, %d batches (%d resumed), %d API calls "
            "(%d isolating bad rows), %.1f events/s in %.1fs, rejects %s, custom event names %s, dropped fields %s, "
            "test event code %s",
            summary["event_source"],
            summary["event_source_id"],
            summary["received"],
            summary["sent"],
            rejected,
            summary["rejected_by_reason"],
            summary["batches"],
            summary["batches_resumed"],
            summary["api_calls"],
            summary["isolation_calls"],
            summary["events_per_s"],
            duration,
            rejects_uri or "-",
            summary["nonstandard_event_names"],
            summary["dropped_fields"],
            "used" if summary["test_event_code"] else "not used",
        )
        return summary

    def log_stop(self) -> None:
        """Say how far an upload that failed got (a retry of the run skips the accepted batches)."""
        log.error(
            "TikTok event upload stopped after %d rows: %d events sent, %d rejected, %d batches; a retry of this "
            "run skips the accepted batches",
            self.received,
            self.sent,
            sum(self.rejected_by_reason.values()),
            self.batches,
        )
