"""Provider registration: the entry point, the package name, and discovery by the real Airflow CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest

from airflow_provider_tiktok.get_provider_info import get_provider_info
from airflow_provider_tiktok.hooks import connection as conn_form

DIST = "airflow-provider-tiktok"


@pytest.mark.unit
def test_entry_point_resolves_to_get_provider_info():
    (entry,) = [e for e in entry_points(group="apache_airflow_provider") if e.dist and e.dist.name == DIST]
    assert entry.load() is get_provider_info


@pytest.mark.unit
def test_package_name_equals_the_distribution_name_exactly():
    # A mismatch makes Airflow's providers manager silently drop the provider.
    assert get_provider_info()["package-name"] == distribution(DIST).metadata["Name"] == DIST
    assert get_provider_info()["versions"][0] == distribution(DIST).version


@pytest.mark.unit
def test_connection_type_declares_the_form_without_importing_the_hook():
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "tiktok_ads"
    assert conn_type["hook-name"] == "TikTok Ads"
    assert set(conn_type["conn-fields"]) >= {"app_id", "app_secret", "advertiser_id", "refresh_token"}
    assert conn_type["ui-field-behaviour"]["relabeling"]["password"] == "Access token"


@pytest.mark.unit
def test_every_declared_module_and_class_imports():
    import importlib

    info = get_provider_info()
    for hook in info["hooks"]:
        for module in hook["python-modules"]:
            importlib.import_module(module)
    for conn_type in info["connection-types"]:
        module, _, name = conn_type["hook-class-name"].rpartition(".")
        assert getattr(importlib.import_module(module), name).conn_type == conn_type["connection-type"]
    for group in info["operators"]:
        for module in group["python-modules"]:
            importlib.import_module(module)
    assert info["extra-links"], "every operator has an Ads Manager link"
    for link in info["extra-links"]:
        module, _, name = link.rpartition(".")
        assert getattr(importlib.import_module(module), name)


@pytest.fixture(scope="module")
def airflow_cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    return env


def _airflow(env: dict[str, str], *args: str) -> str:
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), *args], env=env, capture_output=True, text=True, timeout=180, check=True)
    return done.stdout


@pytest.mark.integration
def test_airflow_cli_lists_the_provider_and_its_hook(airflow_cli_env):
    providers = _airflow(airflow_cli_env, "providers", "list", "--output", "json")
    assert f'"package_name": "{DIST}"' in providers
    hooks = _airflow(airflow_cli_env, "providers", "hooks", "--output", "json")
    assert '"connection_type": "tiktok_ads"' in hooks
    assert "airflow_provider_tiktok.hooks.tiktok.TikTokAdsHook" in hooks


_HOOK_META = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
(meta,) = [m.model_dump() for m in HookMetaService.hook_meta_data() if m.connection_type == "tiktok_ads"]
print(json.dumps(meta, default=str))
"""


@pytest.mark.integration
def test_the_ui_connection_form_shows_every_field_on_this_airflow(airflow_cli_env):
    # The service behind the UI's /ui/connections/hook_meta, in a fresh interpreter (the providers manager caches
    # what it read first): 3.0 builds the form from the hook's WTForms fields (when wtforms is importable), 3.1
    # from the hook with its own stand-ins for WTForms, 3.2+ from provider info. The user must see the same form.
    done = subprocess.run(
        [sys.executable, "-c", _HOOK_META], env=airflow_cli_env, capture_output=True, text=True, timeout=180, check=True
    )
    meta = json.loads(done.stdout.strip().splitlines()[-1])
    extra = meta["extra_fields"] or {}
    assert sorted(extra) == sorted(conn_form.EXTRA_FIELDS)
    for name, (label, _description, secret) in conn_form.EXTRA_FIELDS.items():
        schema = extra[name]["schema"]
        assert schema["title"] == label
        assert (schema.get("format") == "password") is secret, name
    standard = meta["standard_fields"]
    assert standard["password"]["title"] == "Access token"
    assert standard["login"]["hidden"]
    assert standard["port"]["hidden"]
