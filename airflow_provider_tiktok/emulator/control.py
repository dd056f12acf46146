"""``/_emulator/``: introspection and control for tests and demos (no auth, plain HTTP errors).

- ``GET /_emulator/stats``: calls per path, codes answered, audience calls per UTC day, max file_paths.
- ``GET /_emulator/requests[?path=substring&since=unix_seconds]``: the bounded request log (with each
  request's query parameters, secrets masked, and arrival time).
- ``GET /_emulator/audiences/{id}/members``: the audience's hashed ids, sorted.
- ``GET /_emulator/events[?event_source_id=...]``: receipts per event_id and the unique count.
- ``GET|POST|DELETE /_emulator/faults``: view, add (``{"rules": [rule or spec string], "latency_ms",
  "qps", "per_minute", "rate_limit_lock_seconds", "max_report_days", "lock_seconds"}``), clear.
- ``GET|POST /_emulator/clock``: ``{"now": ISO}``, ``{"offset_seconds": n}`` or ``{"advance_seconds": n}``.
- ``GET|POST /_emulator/settings``: :class:`~.state.Settings` fields (e.g. ``{"match_rate": 0.6}``: the share of
  customer-file ids that match a TikTok user and count in ``cover_num``).
- ``POST /_emulator/tokens``: issue a token (``advertiser_ids``, ``scopes``, ``expires_in``).
- ``POST /_emulator/tokens/revoke``: revoke ``{"access_token": ...}`` (default the seed token): later calls
  with it answer 40105; 404 for an unknown token.
- ``POST /_emulator/reset``: back to the seeded start.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_IDS
from airflow_provider_tiktok.emulator.state import EmulatorState

JsonBody = Annotated[dict[str, Any], Body()]


def router(state: EmulatorState) -> APIRouter:
    """The control routes bound to ``state``."""
    api = APIRouter(prefix="/_emulator", include_in_schema=False)

    @api.get("/stats")
    def stats() -> dict[str, Any]:
        """Counters: calls per path, codes answered, audience calls per UTC day, max file_paths."""
        return state.stats()

    @api.get("/requests")
    def requests_log(path: str | None = None, since: float | None = None) -> dict[str, Any]:
        """The request log, optionally only paths containing ``path`` and entries at or after ``since``."""
        entries = [
            e for e in state.requests() if (path is None or path in e["path"]) and (since is None or e["t"] >= since)
        ]
        return {"requests": entries}

    @api.get("/audiences/{audience_id}/members")
    def members(audience_id: str) -> dict[str, Any]:
        """An audience's hashed ids, sorted (404 for an unknown or deleted audience)."""
        if audience_id not in state.audiences:
            raise HTTPException(404, f"no audience {audience_id}")
        ids = state.audience_members(audience_id)
        return {"audience_id": audience_id, "count": len(ids), "members": ids}

    @api.get("/events")
    def received_events(event_source_id: str | None = Query(default=None)) -> dict[str, Any]:
        """Receipts per event_id and the unique count, for one event source or all of them."""
        if event_source_id is not None:
            return state.event_summary(event_source_id)
        with state.lock:
            sources = list(state.event_receipts)
        return {"sources": {source: state.event_summary(source) for source in sources}}

    @api.get("/faults")
    def faults() -> dict[str, Any]:
        """The fault rules (with counts left), limits and live locks."""
        with state.arrival_lock:
            return state.faults.to_dict(time.monotonic())

    @api.post("/faults")
    def add_faults(body: JsonBody) -> dict[str, Any]:
        """Add rules and set limits (400 for anything malformed)."""
        with state.arrival_lock:
            try:
                _apply_faults(state, body)
            except (TypeError, ValueError) as error:
                raise HTTPException(400, str(error)) from None
            return state.faults.to_dict(time.monotonic())

    @api.delete("/faults")
    def clear_faults() -> dict[str, Any]:
        """Remove every rule, limit and lock."""
        with state.arrival_lock:
            state.faults.clear()
            return state.faults.to_dict(time.monotonic())

    @api.get("/clock")
    def clock() -> dict[str, Any]:
        """The emulator instant and the data's anchor day."""
        return {"now": state.now().isoformat(), "anchor": state.anchor.isoformat()}

    @api.post("/clock")
    def set_clock(body: JsonBody) -> dict[str, Any]:
        """Freeze the clock at ``now``, follow real time shifted by ``offset_seconds``, or advance it."""
        try:
            if "now" in body:
                state.set_clock(datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00")))
            elif "offset_seconds" in body:
                state.set_clock(offset_seconds=float(body["offset_seconds"]))
            elif "advance_seconds" in body:
                state.advance_clock(float(body["advance_seconds"]))
            else:
                raise ValueError("send now, offset_seconds or advance_seconds")
        except (TypeError, ValueError) as error:
            raise HTTPException(400, str(error)) from None
        return clock()

    @api.get("/settings")
    def settings() -> dict[str, Any]:
        """The current limits and switches."""
        return asdict(state.settings)

    @api.post("/settings")
    def update_settings(body: JsonBody) -> dict[str, Any]:
        """Change limits and switches by name (400 for unknown names or wrong types)."""
        with state.lock:
            try:
                state.settings.update(body)
            except ValueError as error:
                raise HTTPException(400, str(error)) from None
        return settings()

    @api.post("/tokens")
    def issue_token(body: JsonBody) -> dict[str, Any]:
        """A new access token, for clients that cannot reach the state object (e.g. a subprocess emulator)."""
        try:
            token = state.issue_token(
                advertiser_ids=tuple(body.get("advertiser_ids", ADVERTISER_IDS)),
                scopes=frozenset(body["scopes"]) if "scopes" in body else None,
                expires_in=body.get("expires_in"),
            )
        except (TypeError, ValueError) as error:
            raise HTTPException(400, str(error)) from None
        return {"access_token": token}

    @api.post("/tokens/revoke")
    def revoke_token(body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
        """Revoke a token (the seed one by default), as a user revoking the app's access would."""
        token = (body or {}).get("access_token", ACCESS_TOKEN)
        if not isinstance(token, str) or not state.revoke_token(token):
            raise HTTPException(404, "no such access token")  # never echo the value
        return {"revoked": True}

    @api.post("/reset")
    def reset() -> dict[str, Any]:
        """Back to the seeded start."""
        state.reset()
        return {"reset": True}

    return api


def _apply_faults(state: EmulatorState, body: dict[str, Any]) -> None:
    """Add rules and set limits from a control-API body (see the module docstring)."""
    known = {"rules", "latency_ms", "qps", "per_minute", "rate_limit_lock_seconds", "max_report_days", "lock_seconds"}
    unknown = set(body) - known
    if unknown:
        raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(known)}")
    faults = state.faults
    for rule in body.get("rules", []):
        faults.add(rule)
    if "latency_ms" in body:
        faults.latency_ms = int(body["latency_ms"])
    if "qps" in body or "per_minute" in body or "rate_limit_lock_seconds" in body:
        faults.set_rate_limit(
            body.get("qps", faults.qps), body.get("per_minute", faults.per_minute), body.get("rate_limit_lock_seconds")
        )
    if "max_report_days" in body:
        faults.max_report_days = None if body["max_report_days"] is None else int(body["max_report_days"])
    if "lock_seconds" in body:
        faults.lock(float(body["lock_seconds"]))
