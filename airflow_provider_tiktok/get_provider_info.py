"""Provider metadata read by Airflow's providers manager through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok import __version__
from airflow_provider_tiktok.hooks.connection import CONN_TYPE, conn_fields, ui_field_behaviour_kebab

PACKAGE_NAME = "airflow-provider-tiktok"
OPERATOR_MODULES = ("ad_metrics", "audience", "events")
#: One link class serves the three operators (each instance named for its Ads Manager page).
EXTRA_LINKS = ("airflow_provider_tiktok.links.TikTokLink",)
#: The TikTok Ads page (also the ``airflow.plugins`` entry point, which Airflow reads when providers load lazily).
PLUGINS = ({"name": "tiktok_ads", "plugin-class": "airflow_provider_tiktok.ui.plugin.TikTokAdsPlugin"},)


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: hooks, operators, connection form, extra links and the UI plugin."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "TikTok Ads",
        "description": "Upload events to the TikTok Events API, sync cohorts to custom audiences within "
        "TikTok's daily call limit, and import daily ad metrics with one-year backfill.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "TikTok Ads",
                "external-doc-url": "https://business-api.tiktok.com/portal/docs",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": "TikTok Ads",
                "python-modules": [f"airflow_provider_tiktok.operators.{name}" for name in OPERATOR_MODULES],
            }
        ],
        "hooks": [{"integration-name": "TikTok Ads", "python-modules": ["airflow_provider_tiktok.hooks.tiktok"]}],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_tiktok.hooks.tiktok.TikTokAdsHook",
                "hook-name": "TikTok Ads",
                "connection-type": CONN_TYPE,
                "conn-fields": conn_fields(),
                "ui-field-behaviour": ui_field_behaviour_kebab(),
            }
        ],
        "extra-links": list(EXTRA_LINKS),
        "plugins": [dict(plugin) for plugin in PLUGINS],
    }
