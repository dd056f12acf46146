"""The page's FastAPI app, mounted by Airflow's API server under :data:`URL_PREFIX`: thin routes behind Airflow's
own authentication (its JWT, as a cookie or a bearer token) and authorisation (read access to DAGs and assets)."""

from __future__ import annotations

from itertools import islice
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_tiktok.audiences.snapshots import iter_lines
from airflow_provider_tiktok.compat import airflow_minor, api_server
from airflow_provider_tiktok.ui import sources
from airflow_provider_tiktok.ui.audiences import scan_ledgers
from airflow_provider_tiktok.ui.page import Links, render_page, render_refusal, render_rejects
from airflow_provider_tiktok.ui.paths import airflow_base_path
from airflow_provider_tiktok.ui.uploads import MAX_REJECT_LINES, reject_rows
from airflow_provider_tiktok.utils import clock
from airflow_provider_tiktok.utils.storage import as_path

NO_STORE = {"Cache-Control": "no-store"}


def links(request: Request) -> Links:
    """The page's links from where Airflow mounted it (``root_path``) and Airflow's own base path."""
    mount = str(request.scope.get("root_path", "")).rstrip("/")
    return Links(airflow=airflow_base_path(), home=f"{mount}/", rejects=f"{mount}/rejects")


def page(request: Request) -> HTMLResponse:
    """The monitoring page."""
    now = clock.utcnow()
    data = sources.gather(now)
    html = render_page(data, scan_ledgers(data.roots, now), links(request), airflow_minor())
    return HTMLResponse(html, headers=NO_STORE)


def rejects(request: Request, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> HTMLResponse:
    """One run's rejects file (located through the run's own summary, never a path from the request), cut to
    row, field, reason and code."""
    with api_server().create_session() as session:
        summary = sources.run_summary(session, dag_id, run_id, task_id, map_index)
    location = (summary or {}).get("rejects_uri")
    rows: list[dict[str, Any]] = []
    if isinstance(location, str) and location:
        path = as_path(location)
        if path.exists():
            rows = list(reject_rows(islice(iter_lines(path), MAX_REJECT_LINES + 1)))
    title = f"{dag_id} / {run_id} / {task_id}"
    return HTMLResponse(render_rejects(title, rows, location, links(request)), headers=NO_STORE)


async def refused(request: Request, exc: Exception) -> Response:
    """401/403 for a browser without a bearer token: a short page (which on Airflow 3.0 retries with the
    UI's stored token); any other error or client: Airflow's usual JSON error."""
    status = getattr(exc, "status_code", 500)
    detail = str(getattr(exc, "detail", "error"))
    browser = "text/html" in request.headers.get("accept", "") and "authorization" not in request.headers
    if status in (401, 403) and browser:
        return HTMLResponse(render_refusal(status, detail, f"{airflow_base_path()}/"), status_code=status)
    return JSONResponse({"detail": detail}, status_code=status, headers=getattr(exc, "headers", None))


def create_app() -> FastAPI:
    """The app: the page at ``/``, a run's rejects at ``/rejects``; both need read access to DAGs and assets."""
    api = api_server()
    guards = [Depends(api.requires_access_dag("GET")), Depends(api.requires_access_asset("GET"))]
    app = FastAPI(title="TikTok Ads", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/", page, methods=["GET"], response_class=HTMLResponse, dependencies=guards)
    app.add_api_route("/rejects", rejects, methods=["GET"], response_class=HTMLResponse, dependencies=guards)
    app.add_exception_handler(StarletteHTTPException, refused)
    return app
