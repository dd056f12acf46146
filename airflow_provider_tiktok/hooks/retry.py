"""The hook's one retry rule, as a ``tenacity`` policy (the retry library Airflow itself ships)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import tenacity

from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.hooks.codes import RPC_VALIDATION_ERROR

log = logging.getLogger(__name__)

#: Called right before a retry is sent, with the error that caused it and the attempt number to come.
BeforeRetry = Callable[[TikTokApiError, int], None]


class RetryingHook(Protocol):
    """What the policy reads from the hook."""

    max_attempts: int
    sleep: Callable[[float], None]

    def backoff(self, attempt: int, code: int | None) -> float: ...


class RetryPolicy:
    """The hook's one retry rule as a ``tenacity`` policy: retryable failures (transport, HTTP 5xx/429 and
    TikTok's busy and rate-limit codes; 40700 only once) up to ``max_attempts``, each after a jittered
    exponential backoff, then ``before_retry`` right before the attempt it announces."""

    def __init__(self, hook: RetryingHook, method: str, path: str, before_retry: BeforeRetry | None) -> None:
        self.hook, self.method, self.path, self.before_retry = hook, method, path, before_retry
        self.validation_errors = 0
        self.last_error: TikTokApiError | None = None

    def retrying(self) -> tenacity.Retrying:
        """A fresh ``Retrying`` for one request."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(self.should_retry),
            stop=tenacity.stop_after_attempt(self.hook.max_attempts),
            wait=self.wait,
            sleep=self.hook.sleep,
            before=self.before_attempt,
            before_sleep=self.log_retry,
        )

    def should_retry(self, exc: BaseException) -> bool:
        """Retry a retryable TikTok error; a 40700 (RPC validation) at most once."""
        if not isinstance(exc, TikTokApiError) or not exc.retryable:
            return False
        self.last_error = exc
        if exc.code == RPC_VALIDATION_ERROR:
            self.validation_errors += 1
            return self.validation_errors == 1
        return True

    def wait(self, state: tenacity.RetryCallState) -> float:
        """The delay after attempt ``state.attempt_number``."""
        return self.hook.backoff(state.attempt_number, self.last_error.code if self.last_error else None)

    def log_retry(self, state: tenacity.RetryCallState) -> None:
        """One warning per retry, with TikTok's code and request id."""
        err = self.last_error
        log.warning(
            "TikTok %s %s failed (code=%s, http=%s, request_id=%s); retry %d/%d in %.1fs",
            self.method,
            self.path,
            err.code if err else None,
            err.http_status if err else None,
            err.request_id if err else None,
            state.attempt_number,
            self.hook.max_attempts - 1,
            state.upcoming_sleep,
        )

    def before_attempt(self, state: tenacity.RetryCallState) -> None:
        """Before a retry (not the first attempt): let the caller record or refuse it."""
        if state.attempt_number > 1 and self.before_retry is not None and self.last_error is not None:
            self.before_retry(self.last_error, state.attempt_number)
