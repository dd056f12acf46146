"""The Airflow plugin that serves the TikTok Ads page: a FastAPI app under the API server (Airflow 3.0+) and,
from Airflow 3.1 on, a navigation entry that shows it inside Airflow's UI.

Task processes load plugins too, so the FastAPI app is built on the first request, not when this module is
imported (a worker never pays for it).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok.compat import AirflowPlugin, airflow_minor
from airflow_provider_tiktok.ui.paths import URL_PREFIX, page_path

PLUGIN_NAME = "tiktok_ads"


class PageApp:
    """An ASGI app that builds the page's FastAPI app on its first request and hands every request to it."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from airflow_provider_tiktok.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


def menu_entries(minor: tuple[int, int]) -> list[dict[str, str]]:
    """The navigation entry (Browse -> TikTok Ads, the page embedded in Airflow's UI); none before 3.1, where
    plugins have no UI entries and the page is opened at its URL."""
    if minor < (3, 1):
        return []
    return [
        {
            "name": "TikTok Ads",
            "href": page_path(),
            "destination": "nav",
            "category": "browse",
            "url_route": "tiktok_ads",
        }
    ]


class TikTokAdsPlugin(AirflowPlugin):
    """The TikTok Ads page: audience quota, ad-metrics coverage and event uploads."""

    name = PLUGIN_NAME
    fastapi_apps = [{"app": PageApp(), "url_prefix": URL_PREFIX, "name": "TikTok Ads"}]
    external_views = menu_entries(airflow_minor())
