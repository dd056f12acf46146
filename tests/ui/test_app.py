"""The page's routes in Airflow's own auth: a real metadata database and auth manager in the test process, the
app mounted the way the API server mounts plugin apps."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.integration

ADVERTISER = "7000000000000000001"


@pytest.fixture(scope="module")
def airflow_db():
    """Airflow's metadata tables in the session's AIRFLOW_HOME (SQLite) and the simple auth manager."""
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.utils.db import initdb

    os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "page-tests-" + "s" * 64)
    initdb()
    manager = create_auth_manager()
    manager.init()
    return manager


@pytest.fixture(scope="module")
def client(airflow_db):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_provider_tiktok.ui.plugin import TikTokAdsPlugin

    (spec,) = TikTokAdsPlugin.fastapi_apps
    server = FastAPI()
    server.mount(spec["url_prefix"], spec["app"])
    return TestClient(server)


def token(manager, role: str | None) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return manager.generate_jwt(SimpleAuthManagerUser(username=f"user-{role}", role=role))


@pytest.fixture(scope="module")
def metrics_event(airflow_db):
    """One ad-metrics asset event (no task summary kept: the page falls back to the event's extra)."""
    from airflow_provider_tiktok.compat import api_server

    api = api_server()
    day = (datetime.now(timezone.utc) - timedelta(days=3)).date()
    extra = {"date_from": day.isoformat(), "date_to": day.isoformat(), "lookback_from": day.isoformat(), "rows": 4}
    with api.create_session() as session:
        asset = api.AssetModel(name=f"tiktok-ad-metrics://{ADVERTISER}", uri=f"tiktok-ad-metrics://{ADVERTISER}")
        session.add(asset)
        session.flush()
        session.add(api.AssetEvent(asset_id=asset.id, extra=extra, timestamp=datetime.now(timezone.utc)))
    return day


def test_unauthenticated_requests_are_refused(client):
    assert client.get("/tiktok/").status_code == 401
    browser = client.get("/tiktok/", headers={"Accept": "text/html"})
    assert browser.status_code == 401
    assert "Log in to Airflow" in browser.text
    assert client.get("/tiktok/rejects", params={"dag_id": "d", "run_id": "r", "task_id": "t"}).status_code == 401
    assert client.get("/tiktok/", headers={"Authorization": "Bearer not-a-token"}).status_code == 403


def test_a_user_without_read_access_is_forbidden(client, airflow_db):
    answer = client.get("/tiktok/", headers={"Authorization": f"Bearer {token(airflow_db, None)}"})
    assert answer.status_code == 403


def test_a_viewer_sees_the_page_with_the_token_the_ui_holds(client, airflow_db, metrics_event):
    from airflow_provider_tiktok.compat import airflow_minor

    viewer = token(airflow_db, "viewer")
    if airflow_minor() >= (3, 1):  # the UI's cookie; Airflow 3.0's UI sends a bearer token instead
        client.cookies.set("_token", viewer)
        headers = {}
    else:
        headers = {"Authorization": f"Bearer {viewer}"}
    try:
        answer = client.get("/tiktok/", headers=headers)
    finally:
        client.cookies.clear()
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert f'data-advertiser="{ADVERTISER}"' in answer.text
    assert f'data-day="{metrics_event.isoformat()}" data-status="imported"' in answer.text


def test_rejects_of_an_unknown_run_show_nothing(client, airflow_db):
    params = {"dag_id": "nope", "run_id": "r", "task_id": "t"}
    answer = client.get(
        "/tiktok/rejects", params=params, headers={"Authorization": f"Bearer {token(airflow_db, 'admin')}"}
    )
    assert answer.status_code == 200
    assert "No rejected event recorded" in answer.text


def test_the_state_roots_include_every_tiktok_connections_state_uri(airflow_db, tmp_path):
    import json

    from airflow.models.connection import Connection

    from airflow_provider_tiktok.compat import api_server
    from airflow_provider_tiktok.ui import sources

    shared = str(tmp_path / "shared-state")
    api = api_server()
    with api.create_session() as session:
        extra = json.dumps({"state_uri": shared})
        session.add(Connection(conn_id="tiktok_shared", conn_type="tiktok_ads", extra=extra))
        session.add(Connection(conn_id="tiktok_plain", conn_type="tiktok_ads", extra=json.dumps({"app_id": "1"})))
        session.add(Connection(conn_id="other", conn_type="http", extra=json.dumps({"state_uri": "/elsewhere"})))
    with api.create_session() as session:
        roots = sources.state_roots(session)
    assert shared in roots
    assert "/elsewhere" not in roots
    assert roots[0].endswith("tiktok/state")  # the default root stays first
