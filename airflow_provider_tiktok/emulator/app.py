"""The FastAPI app: TikTok's paths (each with and without its trailing slash) and the ``/_emulator/`` controls.

Every API request goes through one endpoint wrapper: request id, injected latency and faults, body
parsing, ``Access-Token`` check (40104 missing, 40105 unknown or revoked, 40102 expired, 40130 scope),
the route's ``before`` bookkeeping, the parameters checked against :mod:`.spec` (40002 naming the field
and the rule; every route must have an entry there), the handler under the state lock, the envelope, and
the request log. Answers are HTTP 200 with the envelope whatever the code, except the injected ``http``
and ``reset`` faults. An injected ``code=20001`` on ``event/track`` processes the request: the events it
fails are left out and named in ``data.failed_events``. An injected ``drop`` or ``hide`` processes the
request and leaves the last item out of the answer's ``list`` (``drop`` keeps ``page_info``, ``hide`` counts
the item out of it too). The request log keeps each request's query parameters and arrival time.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from airflow_provider_tiktok.emulator import (
    API_PREFIX,
    accounts,
    audiences,
    control,
    events,
    oauth,
    reporting,
    users,
)
from airflow_provider_tiktok.emulator.envelope import (
    INVALID_PARAMS,
    PARTIAL_SUCCESS,
    ApiError,
    envelope,
    new_request_id,
)
from airflow_provider_tiktok.emulator.faults import FaultAction
from airflow_provider_tiktok.emulator.routing import ApiRequest, FilePart, Route
from airflow_provider_tiktok.emulator.server import drop_connection
from airflow_provider_tiktok.emulator.spec import SPECS
from airflow_provider_tiktok.emulator.state import EmulatorState
from airflow_provider_tiktok.emulator.validation import validate

#: The one path where TikTok answers partial success (20001) with per-event failures.
EVENTS_PATH = "event/track/"
ROUTES: list[Route] = [
    *oauth.ROUTES,
    *accounts.ROUTES,
    *reporting.ROUTES,
    *events.ROUTES,
    *audiences.ROUTES,
    *users.ROUTES,
]


def _answer(body: dict[str, Any]) -> Response:
    """An HTTP 200 JSON envelope, with the request id also in TikTok's ``X-Tt-Logid`` header."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(content, media_type="application/json", headers={"X-Tt-Logid": body["request_id"]})


async def _read(request: Request) -> tuple[dict[str, Any], bytes]:
    """Query parameters plus form fields (files as :class:`FilePart`), and the raw body of a JSON request."""
    values: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    values[key] = FilePart(value.filename or "", await value.read())
                else:
                    values[key] = value
        return values, b""
    return values, await request.body()


def _merge_body(values: dict[str, Any], raw: bytes) -> dict[str, Any]:
    """Merge a JSON object body over the query parameters (TikTok also reads GET parameters from a body)."""
    if not raw.strip():
        return values
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(INVALID_PARAMS, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(INVALID_PARAMS, "The request body must be a JSON object.")
    return {**values, **body}


async def _injected(
    state: EmulatorState, request: Request, route: Route, path: str, fault: FaultAction, request_id: str, **log: Any
) -> Response:
    """Answer with an injected fault instead of the handler."""
    if fault.kind == "reset":
        state.record(route.method, path, None, 0, request_id, fault.kind, **log)
        await drop_connection(request)
        return Response(status_code=500)  # never delivered: the connection is gone
    if fault.kind == "http":
        state.record(route.method, path, None, fault.status, request_id, fault.kind, **log)
        return PlainTextResponse(
            f"{fault.status} {fault.message}", status_code=fault.status, headers={"X-Tt-Logid": request_id}
        )
    state.record(route.method, path, fault.code, 200, request_id, fault.kind, **log)
    return _answer(envelope(request_id, None, fault.code, fault.message))


def _fail_some_events(params: dict[str, Any], failed: int, message: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Take ``failed`` events (spread evenly) out of an ``event/track`` batch: the rest, and their failure entries.

    Raises 40002 when every event would fail (TikTok rejects such a batch whole) or the batch is no list.
    """
    events = params.get("data")
    if not isinstance(events, list) or not events:
        return params, []
    count = len(events)
    if failed >= count:
        raise ApiError(INVALID_PARAMS, f"data.0: {message}")
    positions = sorted({(i * count) // failed for i in range(failed)})
    entries = [
        {
            "index": i,
            "event_id": events[i].get("event_id") if isinstance(events[i], dict) else None,
            "code": INVALID_PARAMS,
            "message": f"data.{i}: {message}",
        }
        for i in positions
    ]
    rest = [event for i, event in enumerate(events) if i not in set(positions)]
    return {**params, "data": rest}, entries


def _with_failures(state: EmulatorState, api_request: ApiRequest, route: Route, fault: FaultAction) -> dict[str, Any]:
    """Run ``event/track`` on the batch minus the events an injected 20001 fails, then raise that 20001.

    Failures the handler finds itself (``partial_success_events``) are merged, renumbered to the whole batch.
    """
    params, entries = _fail_some_events(api_request.params, fault.failed, fault.message)
    kept = [i for i in range(len(api_request.params.get("data") or [])) if i not in {e["index"] for e in entries}]
    try:
        route.handler(state, ApiRequest(api_request.path, params, api_request.token, api_request.request_id))
    except ApiError as error:
        if error.code != PARTIAL_SUCCESS:
            raise
        for entry in error.data.get("failed_events", []):
            index = kept[entry["index"]]
            message = re.sub(rf"\bdata\.{entry['index']}\b", f"data.{index}", entry["message"], count=1)
            entries.append({**entry, "index": index, "message": message})
    entries.sort(key=lambda entry: entry["index"])
    total = len(api_request.params["data"])
    raise ApiError(
        PARTIAL_SUCCESS,
        f"Partial success: {len(entries)} of {total} events were rejected.",
        {"failed_events": entries},
    )


def _without_last_item(data: dict[str, Any], kind: str | None) -> dict[str, Any]:
    """A listing answer without its last item (injected ``drop``: ``page_info`` still counts it; ``hide``: it
    does not, as for an ad the listing never shows)."""
    items, info = data.get("list"), data.get("page_info")
    if kind is None or not isinstance(items, list) or not items:
        return data
    data = {**data, "list": items[:-1]}
    if kind == "hide" and isinstance(info, dict) and "total_number" in info:
        data["page_info"] = {**info, "total_number": info["total_number"] - 1}
    return data


def _endpoint(state: EmulatorState, route: Route) -> Any:
    """The async endpoint that runs one route's handler the TikTok way."""
    path = f"{API_PREFIX}/{route.path}"

    async def endpoint(request: Request) -> Response:
        with state.arrival_lock:
            state.in_flight += 1
        try:
            return await answer(request)
        finally:
            with state.arrival_lock:
                state.in_flight -= 1

    async def answer(request: Request) -> Response:
        arrived = time.time()
        log = {"query": dict(request.query_params), "arrived": arrived}
        request_id = new_request_id(state.now())
        with state.arrival_lock:
            delay, fault = state.faults.evaluate(path, time.monotonic())
        partial = fault if fault is not None and fault.failed and route.path == EVENTS_PATH else None
        dropping = fault.kind if fault is not None and fault.kind in ("drop", "hide") else None
        if fault is not None and partial is None and not dropping:
            if delay:
                await asyncio.sleep(delay)
            return await _injected(state, request, route, path, fault, request_id, **log)
        try:
            values, raw = await _read(request)
        except ClientDisconnect:  # the client went away while sending: nothing to process, nobody to answer
            state.record(route.method, path, None, 499, request_id, "disconnected", **log)
            return Response(status_code=499)
        if delay:  # processing latency: the request is handled even when the client stopped waiting
            await asyncio.sleep(delay)

        def handle() -> Response:
            try:
                with state.lock:
                    token = None
                    if route.scope is not None:
                        token = state.authenticate(request.headers.get("access-token"), route.scope)
                    api_request = ApiRequest(path, _merge_body(values, raw), token, request_id)
                    if route.before is not None:
                        route.before(state, api_request)
                    api_request.params = validate(SPECS[route.path], api_request.params)
                    if partial is not None:
                        _with_failures(state, api_request, route, partial)
                    body = envelope(request_id, _without_last_item(route.handler(state, api_request), dropping))
            except ApiError as error:
                body = envelope(request_id, error.data, error.code, error.message)
            injected = "code" if partial is not None else dropping or ("delay" if delay else None)
            state.record(route.method, path, body["code"], 200, request_id, injected, **log)
            return _answer(body)

        # Off the event loop: while one request is computed (a 1,000-row page, 1,000 events), the next ones are
        # still stamped and rate-counted when they arrive, as TikTok's front end would, not bunched after it.
        return await run_in_threadpool(handle)

    endpoint.__name__ = route.path.strip("/").replace("/", "_")
    return endpoint


def create_app(state: EmulatorState | None = None) -> FastAPI:
    """The emulator app over ``state`` (a fresh default state when none is given)."""
    state = state or EmulatorState()
    app = FastAPI(
        title="TikTok API for Business emulator",
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.emulator = state
    unspecified = [route.path for route in ROUTES if route.path not in SPECS]
    if unspecified:
        raise RuntimeError(f"routes without an entry in emulator.spec.SPECS: {unspecified}")
    for route in ROUTES:
        endpoint = _endpoint(state, route)
        full = f"{API_PREFIX}/{route.path}"
        for variant in (full, full.rstrip("/")):
            app.add_api_route(variant, endpoint, methods=[route.method], include_in_schema=False)

    async def authorize(request: Request) -> Response:
        """The consent page: approve at once and redirect back with ``auth_code`` and ``state``."""
        request_id = new_request_id(state.now())
        try:
            with state.lock:
                location = oauth.authorize_redirect(state, dict(request.query_params))
        except ApiError as error:
            return JSONResponse(envelope(request_id, error.data, error.code, error.message))
        return RedirectResponse(location, status_code=302)

    for path in ("/portal/auth", "/marketing_api/auth"):
        app.add_api_route(path, authorize, methods=["GET"], include_in_schema=False)
    app.include_router(control.router(state))
    return app
