"""TikTok's wire conventions: how GET parameters are encoded and how an answer's envelope is read.

Pure functions (no Airflow import): HTTP 200 alone is never trusted, the envelope's ``code`` decides.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import msgspec
import requests

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokPartialSuccess
from airflow_provider_tiktok.hooks.codes import OK, PARTIAL_SUCCESS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackResult:
    """The answer to one ``event/track/`` request: TikTok's ``data``, and whether it was a partial success."""

    data: dict[str, Any]
    partial: bool = False
    request_id: str | None = None


def encode_params(params: dict[str, Any] | None) -> dict[str, str] | None:
    """TikTok GET convention: lists and objects JSON-encoded, booleans as JSON, None dropped."""
    if not params:
        return None
    encoded: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | dict | bool):
            encoded[key] = json.dumps(value, separators=(",", ":"))
        else:
            encoded[key] = str(value)
    return encoded


#: JSON request bodies, compact UTF-8: a 1,000-event ``event/track/`` body encodes about ten times faster than with
#: ``json.dumps`` (requests' ``json=``), a sixth of the cost of building the events.
_BODY = msgspec.json.Encoder(decimal_format="number")


def encode_body(body: Any) -> bytes:
    """The JSON bytes of a request body. A non-finite number raises ValueError, as requests' ``json=`` did (JSON
    has none; msgspec writes ``null`` for them, so a body with a ``null`` is checked again the slow way)."""
    encoded = _BODY.encode(body)
    if b"null" in encoded:
        json.dumps(body, allow_nan=False, default=str)
    return encoded


def parse_answer(response: requests.Response, path: str) -> dict[str, Any]:
    """The envelope's ``data``; a non-zero ``code`` raises :class:`TikTokApiError` (20001 its subclass
    :class:`TikTokPartialSuccess`, carrying TikTok's details), always with the request id."""
    request_id = response.headers.get("X-Tt-Logid")
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or "code" not in envelope:
        raise TikTokApiError(
            None,
            f"unexpected non-envelope answer (HTTP {response.status_code})",
            request_id,
            response.status_code,
            path=path,
        )
    code = envelope.get("code")
    request_id = envelope.get("request_id") or request_id
    if response.status_code >= 400 and code == OK:
        code = None
    data = envelope.get("data")
    if code == OK:
        return data if isinstance(data, dict) else {}
    if code == PARTIAL_SUCCESS:
        log.warning("TikTok %s partial success (request_id=%s)", path, request_id)
        raise TikTokPartialSuccess(data if isinstance(data, dict) else {}, request_id, path=path)
    raise TikTokApiError(
        code, str(envelope.get("message") or ""), request_id, response.status_code, path=path, data=data
    )
