"""TikTokAdsHook against requests-mock: envelope, retries, pagination, encoding, tokens and masking."""

from __future__ import annotations

import json
import logging
import pickle
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError, TikTokPartialSuccess
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from tests.helpers.connections import FAKE_SECRET, FAKE_TOKEN, TEST_BASE_URL

pytestmark = pytest.mark.unit

API = TEST_BASE_URL + "/open_api/v1.3/"


def envelope(code: int = 0, data: object = None, message: str = "OK", request_id: str = "req-1") -> dict:
    return {"code": code, "message": message, "request_id": request_id, "data": data if data is not None else {}}


@pytest.fixture
def hook(tiktok_conn: str) -> TikTokAdsHook:
    hook = TikTokAdsHook(tiktok_conn)
    hook.sleeps = []  # type: ignore[attr-defined]
    hook.sleep = hook.sleeps.append  # type: ignore[attr-defined]  # record backoff instead of sleeping
    return hook


def test_returns_data_and_sends_token_header(hook, requests_mock):
    requests_mock.get(API + "advertiser/info/", json=envelope(data={"list": [{"advertiser_id": "1"}]}))
    assert hook.request("GET", "advertiser/info/") == {"list": [{"advertiser_id": "1"}]}
    assert requests_mock.last_request.headers["Access-Token"] == FAKE_TOKEN
    assert hook.api_calls == 1


def test_http_200_with_error_code_raises_with_request_id(hook, requests_mock):
    requests_mock.get(API + "advertiser/info/", json=envelope(40001, message="No permission", request_id="abc123"))
    with pytest.raises(TikTokApiError) as info:
        hook.request("GET", "advertiser/info/")
    err = info.value
    assert (err.code, err.request_id, err.http_status, err.retryable) == (40001, "abc123", 200, False)
    assert "request_id=abc123" in str(err)
    assert "advertiser" in str(err)
    assert requests_mock.call_count == 1  # non-retryable: failed at once
    assert hook.sleeps == []


@pytest.mark.parametrize("code", [40105, 40130, 40002, 40110])
def test_non_retryable_codes_fail_fast_with_an_action(hook, requests_mock, code):
    requests_mock.post(API + "event/track/", json=envelope(code, message="nope", request_id="rid-9"))
    with pytest.raises(TikTokApiError) as info:
        hook.request("POST", "event/track/", json={"data": []})
    assert requests_mock.call_count == 1
    assert info.value.action, "every non-retryable code we know must tell the user what to do"
    assert "rid-9" in str(info.value)


@pytest.mark.parametrize(
    "failure",
    [
        {"json": envelope(40100, message="qps")},
        {"json": envelope(40133, message="rate")},
        {"json": envelope(50000, message="busy")},
        {"status_code": 503, "text": "Service Unavailable"},
        {"status_code": 502, "json": envelope(0)},
        {"exc": requests.ConnectionError("reset by peer")},
        {"exc": requests.ReadTimeout("slow")},
    ],
    ids=["40100", "40133", "50000", "http503-text", "http502-envelope", "conn-reset", "timeout"],
)
def test_retryable_failure_then_success(hook, requests_mock, failure):
    requests_mock.get(API + "ad/get/", [failure, {"json": envelope(data={"list": [1]})}])
    assert hook.request("GET", "ad/get/") == {"list": [1]}
    assert requests_mock.call_count == 2
    assert len(hook.sleeps) == 1


def test_before_retry_sees_each_retry_after_its_backoff_and_can_stop_it(hook, requests_mock):
    requests_mock.post(
        API + "dmp/custom_audience/create/", [{"exc": requests.ReadTimeout("slow")}] * 2 + [{"json": envelope()}]
    )
    seen = []
    hook.request(
        "POST", "dmp/custom_audience/create/", before_retry=lambda err, n: seen.append((err.code, n, len(hook.sleeps)))
    )
    assert seen == [(None, 2, 1), (None, 3, 2)]

    class Stop(Exception):
        pass

    def refuse(err, attempt):
        raise Stop

    requests_mock.post(
        API + "dmp/custom_audience/create/", [{"exc": requests.ConnectionError("reset")}, {"json": envelope()}]
    )
    with pytest.raises(Stop):
        hook.request("POST", "dmp/custom_audience/create/", before_retry=refuse)
    assert requests_mock.call_count == 3 + 1


def test_rate_limit_backoff_outlasts_a_five_minute_lock(tiktok_conn, requests_mock):
    hook = TikTokAdsHook(tiktok_conn)  # default retry policy
    waits: list[float] = []
    hook.sleep = waits.append
    requests_mock.get(API + "ad/get/", json=envelope(40100, message="locked"))
    with pytest.raises(TikTokApiError) as info:
        hook.request("GET", "ad/get/")
    assert requests_mock.call_count == hook.max_attempts
    assert sum(waits) > 300, f"retries gave up after {sum(waits):.0f}s, before TikTok's ~5 min lock ends"
    assert "gave up after 10 attempts" in str(info.value)


def test_backoff_is_exponential_with_jitter_and_capped(hook):
    hook.backoff_base, hook.backoff_max = 1.0, 8.0
    delays = [hook.backoff(n, 50000) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 2 ** (n - 1))
        assert ceiling * 0.5 <= delay <= ceiling


def test_rpc_validation_error_is_retried_once_only(hook, requests_mock):
    requests_mock.get(API + "ad/get/", json=envelope(40700, message="rpc validation"))
    with pytest.raises(TikTokApiError) as info:
        hook.request("GET", "ad/get/")
    assert requests_mock.call_count == 2
    assert info.value.code == 40700


def test_partial_success_is_returned_with_details_to_event_uploads_only(hook, requests_mock):
    details = {"failed_events": [{"index": 3, "code": 40002}]}
    requests_mock.post(API + "event/track/", json=envelope(20001, data=details, message="partial", request_id="p1"))
    result = hook.track_events({"data": []})
    assert result.data["failed_events"] == details["failed_events"]
    assert result.partial is True
    assert result.request_id == "p1"
    assert requests_mock.call_count == 1
    with pytest.raises(TikTokPartialSuccess) as info:  # any other caller gets it as an error, details kept
        hook.request("POST", "event/track/", json={"data": []})
    assert info.value.code == 20001
    assert info.value.request_id == "p1"
    assert info.value.details == details
    assert not info.value.retryable
    assert requests_mock.call_count == 2
    assert pickle.loads(pickle.dumps(info.value)).details == details


@pytest.mark.parametrize(
    "answer",
    [{"json": {"message": "OK", "data": {}}}, {"text": "<html>gateway</html>"}],
    ids=["missing-code", "not-json"],
)
def test_answer_without_envelope_code_is_an_error(hook, requests_mock, answer):
    hook.max_attempts = 2
    requests_mock.get(API + "ad/get/", **answer)
    with pytest.raises(TikTokApiError):
        hook.request("GET", "ad/get/")


def test_get_params_lists_and_objects_are_json_encoded(hook, requests_mock):
    requests_mock.get(API + "report/integrated/get/", json=envelope())
    hook.request(
        "GET",
        "report/integrated/get/",
        params={"dimensions": ["ad_id", "stat_time_day"], "filtering": {"primary_status": "STATUS_ALL"}, "x": None},
    )
    query = parse_qs(urlsplit(requests_mock.last_request.url).query)
    assert json.loads(query["dimensions"][0]) == ["ad_id", "stat_time_day"]
    assert json.loads(query["filtering"][0]) == {"primary_status": "STATUS_ALL"}
    assert "x" not in query


def test_paginate_follows_page_info_and_stops(hook, requests_mock):
    def page(request, context):
        number = int(request.qs["page"][0])
        assert request.qs["page_size"] == ["2"]
        items = {1: ["a", "b"], 2: ["c", "d"], 3: ["e"]}[number]
        return envelope(data={"list": items, "page_info": {"page": number, "total_page": 3, "total_number": 5}})

    requests_mock.get(API + "ad/get/", json=page)
    assert list(hook.paginate("ad/get/", {"advertiser_id": "1"}, page_size=2)) == ["a", "b", "c", "d", "e"]
    assert requests_mock.call_count == 3


def test_paginate_single_empty_page_costs_one_call(hook, requests_mock):
    requests_mock.get(
        API + "ad/get/", json=envelope(data={"list": [], "page_info": {"total_number": 0, "total_page": 0}})
    )
    assert list(hook.paginate("ad/get/")) == []
    assert requests_mock.call_count == 1


def test_tokens_and_secrets_never_reach_logs_or_errors(hook, requests_mock, caplog):
    from airflow_provider_tiktok.compat import redact

    requests_mock.get(API + "ad/get/", [{"json": envelope(40100)}, {"json": envelope(40105, message="bad token")}])
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TikTokApiError) as info:
        hook.request("GET", "ad/get/")
    assert FAKE_TOKEN not in str(info.value)
    assert FAKE_SECRET not in str(info.value)
    assert FAKE_TOKEN not in caplog.text
    assert FAKE_SECRET not in caplog.text
    assert FAKE_TOKEN not in repr(hook.config)
    assert FAKE_SECRET not in repr(hook.config)
    # The token and app secret are registered with Airflow's masker, so task logs redact them.
    assert redact(f"token {FAKE_TOKEN} secret {FAKE_SECRET}") == "token *** secret ***"


def test_expired_token_is_refreshed_once_and_stored(set_tiktok_conn, requests_mock, monkeypatch):
    set_tiktok_conn(refresh_token="refresh-tok-123456", rate_limit="1000")
    stored: dict[str, str] = {}
    monkeypatch.setattr(TikTokAdsHook, "_load_stored_token", lambda self: None)
    monkeypatch.setattr(TikTokAdsHook, "_store_token", lambda self, pair: stored.update(pair))
    requests_mock.get(API + "ad/get/", [{"json": envelope(40102, message="expired")}, {"json": envelope()}])
    requests_mock.post(
        API + "tt_user/oauth2/refresh_token/",
        json=envelope(data={"access_token": "new-access-999", "refresh_token": "new-refresh-999"}),
    )
    hook = TikTokAdsHook()
    hook.request("GET", "ad/get/")
    refresh_call = requests_mock.request_history[1]
    assert "Access-Token" not in refresh_call.headers
    assert refresh_call.json()["refresh_token"] == "refresh-tok-123456"
    assert requests_mock.request_history[2].headers["Access-Token"] == "new-access-999"
    assert stored == {"access_token": "new-access-999", "refresh_token": "new-refresh-999"}


def test_expired_token_without_refresh_token_fails_with_advice(hook, requests_mock):
    requests_mock.get(API + "ad/get/", json=envelope(40102, message="expired"))
    with pytest.raises(TikTokApiError, match="re-authorise"):
        hook.request("GET", "ad/get/")
    assert requests_mock.call_count == 1


def test_multipart_upload_keeps_its_own_content_type(hook, requests_mock):
    requests_mock.post(API + "dmp/custom_audience/file/upload/", json=envelope(data={"file_path": "p/1"}))
    hook.request(
        "POST", "dmp/custom_audience/file/upload/", data={"advertiser_id": "1"}, files={"file": ("a.txt", b"x")}
    )
    assert requests_mock.last_request.headers["Content-Type"].startswith("multipart/form-data; boundary=")


def test_session_is_cached(hook):
    assert hook.get_conn() is hook.session is hook.get_conn()


def test_resolve_advertiser_id(hook):
    assert hook.resolve_advertiser_id(None) == "7000000000000000001"
    assert hook.resolve_advertiser_id(42) == "42"
    with pytest.raises(TikTokConfigError, match="digits"):
        hook.resolve_advertiser_id("12a")


def test_test_connection_lists_reachable_advertisers(hook, requests_mock):
    requests_mock.get(
        API + "oauth2/advertiser/get/",
        json=envelope(data={"list": [{"advertiser_id": "7000000000000000001", "advertiser_name": "Shop"}]}),
    )
    ok, message = hook.test_connection()
    assert ok
    assert "7000000000000000001 (Shop)" in message
    assert requests_mock.last_request.qs["secret"] == [FAKE_SECRET.lower()]


def _serve(requests_mock, path: str, pages: dict[int, list], total_number: int | None, total_page: int) -> None:
    """Answer ``path`` page by page with ``pages`` and fixed counts (as a listing that moved meanwhile would)."""

    def page(request, context):
        number = int(request.qs["page"][0])
        info = {"page": number, "page_size": 2, "total_page": total_page}
        if total_number is not None:
            info["total_number"] = total_number
        return envelope(data={"list": pages.get(number, []), "page_info": info})

    requests_mock.get(API + path, json=page)


def _ads(*ids: str) -> list[dict]:
    return [{"ad_id": ad_id, "ad_name": f"Ad {ad_id}"} for ad_id in ids]


@pytest.mark.parametrize(
    ("pages", "total", "problem"),
    [
        ({1: _ads("1", "2"), 2: _ads("4", "5"), 3: _ads("6")}, 6, "1 item missing"),  # 3 moved to page 1 meanwhile
        ({1: _ads("1", "2"), 2: _ads("2", "3"), 3: _ads("4")}, 5, "1 item read twice"),  # 2 moved to page 2
        ({1: _ads("1", "2"), 2: [], 3: _ads("5")}, 5, "3 items missing"),  # an empty page ends the read early
        ({1: _ads("1", "2"), 2: _ads("3", "4"), 3: _ads("5", "6")}, 5, "1 item more than page_info counts"),
        ({1: _ads("1", "2"), 2: _ads("3", "4"), 3: [{"ad_name": "no id"}]}, 5, "1 item carry no id"),
        ({1: _ads("1", "2"), 2: _ads("3", "4"), 3: _ads("5")}, None, "no page_info.total_number"),
    ],
    ids=["moved-forward", "moved-back", "empty-page", "too-many", "no-id", "no-total"],
)
def test_an_ad_listing_that_does_not_add_up_fails_after_its_last_page(hook, requests_mock, pages, total, problem):
    _serve(requests_mock, "ad/get/", pages, total, 3)
    read: list[dict] = []
    with pytest.raises(TikTokApiError) as info:
        read.extend(hook.iter_ads({"advertiser_id": "42"}, page_size=2))
    message = str(info.value)
    assert problem in message
    assert "the ad listing of advertiser 42 is incomplete" in message
    assert "run the task again" in message
    assert info.value.path == "ad/get/"
    assert info.value.code is None
    assert len(read) == sum(len(items) for number, items in pages.items() if number <= requests_mock.call_count)


def test_a_complete_listing_passes_whatever_its_order(hook, requests_mock):
    _serve(requests_mock, "ad/get/", {1: _ads("9", "1"), 2: _ads("5", "3"), 3: _ads("7")}, 5, 3)
    assert [ad["ad_id"] for ad in hook.iter_ads({"advertiser_id": "42"}, page_size=2)] == ["9", "1", "5", "3", "7"]
    assert requests_mock.call_count == 3


def test_audience_listings_are_counted_by_audience_id(hook, requests_mock):
    same_name = [{"audience_id": "1", "name": "VIP"}, {"audience_id": "2", "name": "VIP"}]
    _serve(requests_mock, "dmp/custom_audience/list/", {1: same_name}, 2, 1)
    assert [a["audience_id"] for a in hook.iter_audiences("42")] == ["1", "2"]  # equal items, different ids
    _serve(requests_mock, "dmp/custom_audience/list/", {1: same_name[:1], 2: same_name[:1]}, 2, 2)
    with pytest.raises(TikTokApiError, match="custom audience listing of advertiser 42 is incomplete: 1 item read"):
        hook.find_audience("42", "VIP")


def test_report_rows_are_counted_by_their_dimensions(hook, requests_mock):
    def row(ad_id: str, day: str) -> dict:
        return {"dimensions": {"ad_id": ad_id, "stat_time_day": f"{day} 00:00:00"}, "metrics": {"spend": "1.00"}}

    params = {"advertiser_id": "42", "start_date": "2026-03-01", "end_date": "2026-03-02"}
    complete = {1: [row("1", "2026-03-01"), row("1", "2026-03-02")], 2: [row("2", "2026-03-01")]}
    _serve(requests_mock, "report/integrated/get/", complete, 3, 2)
    assert sum(len(page["list"]) for page in hook.iter_report_pages(params, page_size=2)) == 3
    moved = {1: [row("1", "2026-03-01"), row("1", "2026-03-02")], 2: [row("1", "2026-03-02")]}
    _serve(requests_mock, "report/integrated/get/", moved, 3, 2)
    with pytest.raises(TikTokApiError, match=r"report of 2026-03-01\.\.2026-03-02 is incomplete: 1 item read twice"):
        list(hook.iter_report_pages(params, page_size=2))


def test_test_connection_reports_a_revoked_token(hook, requests_mock):
    requests_mock.get(API + "oauth2/advertiser/get/", json=envelope(40105, message="revoked", request_id="r5"))
    ok, message = hook.test_connection()
    assert not ok
    assert "r5" in message
    assert FAKE_TOKEN not in message


def test_oauth_helpers(hook, requests_mock):
    url = hook.authorization_url("http://127.0.0.1:8900/callback", "st4te")
    assert url.startswith(TEST_BASE_URL + "/portal/auth?app_id=7100000000000000001&state=st4te&redirect_uri=")
    requests_mock.post(
        API + "oauth2/access_token/", json=envelope(data={"access_token": "a1", "advertiser_ids": ["1"]})
    )
    assert hook.exchange_auth_code("code-1")["advertiser_ids"] == ["1"]
    sent = requests_mock.last_request
    assert "Access-Token" not in sent.headers
    assert sent.json() == {"app_id": "7100000000000000001", "secret": FAKE_SECRET, "auth_code": "code-1"}


def test_events_and_marketing_calls_draw_from_separate_host_wide_budgets(set_tiktok_conn, home):
    set_tiktok_conn(rate_limit="7", events_rate_limit="70")
    hook = TikTokAdsHook()
    events, marketing = hook.limiter("event/track/"), hook.limiter("advertiser/info/")
    assert (events.rate, marketing.rate) == (70.0, 7.0)
    assert events.path != marketing.path
    assert {events.path.parent, marketing.path.parent} == {home / "tiktok" / "ratelimit"}
    assert TikTokAdsHook(events_rate_limit=5).limiter("event/track/").rate == 5.0
    assert TikTokAdsHook(rate_limit=3).limiter("event/track/").rate == 70.0


def test_json_bodies_are_sent_as_compact_utf8_json(hook, requests_mock):
    requests_mock.post(API + "event/track/", json=envelope())
    body = {"event_source": "web", "data": [{"event": "Purchase", "page": {"url": "https://shop.example/café"}}]}
    hook.track_events(body)
    sent = requests_mock.last_request
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(sent.body) == body


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_number_in_a_body_is_refused_before_sending(hook, requests_mock, number):
    requests_mock.post(API + "event/track/", json=envelope())
    with pytest.raises(ValueError, match="JSON compliant"):
        hook.track_events({"data": [{"properties": {"value": number}, "event": "null"}]})
    assert requests_mock.call_count == 0


def test_a_body_holding_null_as_text_is_sent(hook, requests_mock):
    requests_mock.post(API + "event/track/", json=envelope())
    body = {"data": [{"event": "null", "properties": {"description": None}}]}
    hook.track_events(body)
    assert json.loads(requests_mock.last_request.body) == body
