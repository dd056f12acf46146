"""The tiktok_ads connection: typed reader, base URL rules, and the form declared for both Airflow styles."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.hooks import connection as conn_form
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

pytestmark = pytest.mark.unit


def make_conn(host: str | None = "", password: str | None = "tok", **extra: object) -> SimpleNamespace:
    return SimpleNamespace(conn_id="c1", host=host, password=password, extra_dejson=extra)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("", "https://business-api.tiktok.com"),
        (None, "https://business-api.tiktok.com"),
        ("business-api.tiktok.com", "https://business-api.tiktok.com"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("https://sandbox-ads.tiktok.com/open_api/v1.3/", "https://sandbox-ads.tiktok.com"),
    ],
)
def test_base_url(host, expected):
    assert conn_form.config_from_connection(make_conn(host=host)).base_url == expected


@pytest.mark.parametrize("host", ["ftp://x", "https://x.test/other/path"])
def test_bad_base_url_names_the_field(host):
    with pytest.raises(TikTokConfigError, match="'host'"):
        conn_form.config_from_connection(make_conn(host=host))


def test_extras_accept_plain_and_ui_prefixed_names():
    plain = conn_form.config_from_connection(make_conn(app_id="1", advertiser_id="22", app_secret="s3cr3t"))
    ui = conn_form.config_from_connection(
        make_conn(
            extra__tiktok_ads__app_id="1", extra__tiktok_ads__advertiser_id="22", extra__tiktok_ads__app_secret="s3cr3t"
        )
    )
    assert (plain.app_id, plain.advertiser_id, plain.app_secret) == ("1", "22", "s3cr3t")
    assert (ui.app_id, ui.advertiser_id, ui.app_secret) == ("1", "22", "s3cr3t")
    assert plain.rate_limit == conn_form.DEFAULT_RATE_LIMIT
    assert plain.events_rate_limit == conn_form.DEFAULT_EVENTS_RATE_LIMIT


def test_multi_host_extras_default_to_per_host():
    config = conn_form.config_from_connection(make_conn())
    assert (config.rate_limit_storage, config.state_uri) == (None, None)
    shared = conn_form.config_from_connection(
        make_conn(rate_limit_storage=" redis://:pw@redis:6379/1 ", extra__tiktok_ads__state_uri="s3://bucket/state")
    )
    assert (shared.rate_limit_storage, shared.state_uri) == ("redis://:pw@redis:6379/1", "s3://bucket/state")
    assert "pw" not in repr(shared)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"advertiser_id": "abc-secret"}, "advertiser_id"),
        ({"rate_limit": "fast"}, "rate_limit"),
        ({"rate_limit": "-3"}, "rate_limit"),
        ({"rate_limit": "nan"}, "rate_limit"),
        ({"events_rate_limit": "inf"}, "events_rate_limit"),
        ({"events_rate_limit": "0"}, "events_rate_limit"),
        ({"rate_limit_storage": "memcached://cache-secret:11211"}, "rate_limit_storage"),
        ({"rate_limit_storage": "cache-secret:6379"}, "rate_limit_storage"),
    ],
)
def test_bad_extras_name_the_field_not_the_value(extra, field):
    with pytest.raises(TikTokConfigError) as info:
        conn_form.config_from_connection(make_conn(**extra))
    assert field in str(info.value)
    assert str(next(iter(extra.values()))) not in str(info.value).replace(f"'{field}'", "")


def test_one_field_spec_feeds_both_form_styles():
    fields = conn_form.conn_fields()
    assert set(fields) == {
        "app_id",
        "app_secret",
        "advertiser_id",
        "refresh_token",
        "rate_limit",
        "events_rate_limit",
        "rate_limit_storage",
        "state_uri",
    }
    secret = {n for n, f in fields.items() if f["schema"].get("format") == "password"}
    assert secret == {"app_secret", "refresh_token", "rate_limit_storage"}  # a Redis URI may carry a password
    behaviour = TikTokAdsHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == {"host": "API base URL (empty = production)", "password": "Access token"}
    assert "host" not in behaviour["hidden_fields"]
    assert "password" not in behaviour["hidden_fields"]
    assert {"schema", "port", "login", "extra"} <= set(behaviour["hidden_fields"])
    assert conn_form.ui_field_behaviour_kebab()["hidden-fields"] == behaviour["hidden_fields"]
