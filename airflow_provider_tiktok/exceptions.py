"""Exceptions of the TikTok Ads provider: structured, actionable and free of secrets or PII."""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok.hooks.codes import PARTIAL_SUCCESS, action_for, is_retryable


class TikTokApiError(Exception):
    """A TikTok API call failed: envelope ``code != 0``, HTTP error or transport failure.

    ``code`` is TikTok's envelope code (``None`` for transport failures), ``http_status`` the
    HTTP status when one was received; ``request_id`` is what TikTok support asks for.
    """

    def __init__(
        self,
        code: int | None,
        message: str,
        request_id: str | None = None,
        http_status: int | None = None,
        *,
        path: str | None = None,
        data: object = None,
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        self.path = path
        self.data = data
        super().__init__(self._render())

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed if sent again later."""
        return is_retryable(self.code, self.http_status)

    @property
    def action(self) -> str | None:
        """What the user should do about this error, when TikTok's code tells us."""
        return action_for(self.code)

    def _render(self) -> str:
        where = f" on {self.path}" if self.path else ""
        parts = [f"TikTok API error{where}: code={self.code}"]
        if self.http_status is not None:
            parts.append(f"http_status={self.http_status}")
        parts.append(f"request_id={self.request_id or '-'}")
        text = ", ".join(parts) + f": {self.message}"
        if self.action:
            text += f" -> {self.action}"
        return text

    def __reduce__(self) -> tuple[Any, ...]:  # keep the structured fields across pickling (e.g. into a task log)
        return (
            _rebuild_api_error,
            (self.code, self.message, self.request_id, self.http_status, self.path),
        )


def _rebuild_api_error(
    code: int | None, message: str, request_id: str | None, http_status: int | None, path: str | None
) -> TikTokApiError:
    return TikTokApiError(code, message, request_id, http_status, path=path)


class TikTokPartialSuccess(TikTokApiError):
    """TikTok answered 20001: part of the request was applied. ``data`` holds TikTok's details (which items
    failed). Only the Events API upload takes such an answer; every other call fails on it."""

    def __init__(self, data: dict[str, Any], request_id: str | None, *, path: str | None = None) -> None:
        super().__init__(
            PARTIAL_SUCCESS,
            "TikTok answered partial success (20001): part of the request was not applied",
            request_id,
            200,
            path=path,
            data=data,
        )
        self.details = data

    def __reduce__(self) -> tuple[Any, ...]:  # pickles with its details, like its base
        return (_rebuild_partial, (self.details, self.request_id, self.path))


def _rebuild_partial(data: dict[str, Any], request_id: str | None, path: str | None) -> TikTokPartialSuccess:
    return TikTokPartialSuccess(data, request_id, path=path)


class TikTokConfigError(ValueError):
    """A connection or operator argument is missing or malformed; names the field, never the value."""


class TikTokInputError(ValueError):
    """An input row is unusable; names the row and field, never the raw value."""

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None) -> None:
        self.row = row
        self.field = field
        where = ", ".join(p for p in (f"row {row}" if row is not None else "", field and f"field {field!r}") if p)
        super().__init__(f"{where}: {message}" if where else message)
