"""Registration of the page: the ``airflow.plugins`` entry point and the provider info name the same plugin,
which mounts one app and adds a menu entry only where Airflow has plugin UI entries (3.1+)."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from airflow_provider_tiktok.get_provider_info import get_provider_info
from airflow_provider_tiktok.ui import plugin
from airflow_provider_tiktok.ui.paths import URL_PREFIX

pytestmark = pytest.mark.unit


def test_entry_point_and_provider_info_name_the_plugin():
    (entry,) = [e for e in entry_points(group="airflow.plugins") if e.dist and e.dist.name == "airflow-provider-tiktok"]
    assert entry.load() is plugin.TikTokAdsPlugin
    (declared,) = get_provider_info()["plugins"]
    module, _, name = declared["plugin-class"].rpartition(".")
    assert (module, name) == (plugin.__name__, "TikTokAdsPlugin")
    assert declared["name"] == plugin.TikTokAdsPlugin.name == plugin.PLUGIN_NAME


def test_one_app_under_its_prefix_built_lazily():
    (app,) = plugin.TikTokAdsPlugin.fastapi_apps
    assert app["url_prefix"] == URL_PREFIX
    assert isinstance(app["app"], plugin.PageApp)


def test_a_menu_entry_from_airflow_3_1_on_only():
    assert plugin.menu_entries((3, 0)) == []
    (entry,) = plugin.menu_entries((3, 3))
    assert entry["href"].endswith(f"{URL_PREFIX}/")
    assert entry["destination"] == "nav"
    assert entry["url_route"] == "tiktok_ads"


def test_the_page_path_follows_airflow_base_url(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/data/")
    assert plugin.page_path() == "/data/tiktok/"


def test_the_demo_prints_the_page_url():
    from types import SimpleNamespace

    from scripts.demo import page_url

    assert page_url(SimpleNamespace(api_url="http://localhost:8080")) == "http://localhost:8080/tiktok/"
