"""Where the page lives in Airflow's API server, on any base URL Airflow is configured with."""

from __future__ import annotations

from urllib.parse import urlparse

from airflow_provider_tiktok.compat import airflow_config

#: The page's mount point under the API server.
URL_PREFIX = "/tiktok"


def airflow_base_path() -> str:
    """The path part of ``[api] base_url`` without its trailing slash (``""`` when Airflow serves at the root)."""
    base = airflow_config("api", "base_url", "/")
    return (urlparse(base).path if "://" in base else base).rstrip("/")


def page_path() -> str:
    """The page's path, e.g. ``/tiktok/``, or ``/airflow/tiktok/`` behind a base URL with a path."""
    return f"{airflow_base_path()}{URL_PREFIX}/"
