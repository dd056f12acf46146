"""Landing pages and TikTok's URL macros: which page an ad has, macros filled from the ad's own listing fields
(URL-encoded, then decoded, so any name survives exactly), and per-click or unknown macros never taken for a
value."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from airflow_provider_tiktok.ad_metrics import landing

pytestmark = pytest.mark.unit

#: An ad/get item whose names hold every character a URL treats specially.
AD = {
    "ad_id": "1900000000000000042",
    "ad_name": "Größen \u2013 Video #42 (50% off)",
    "adgroup_id": "1800000000000000007",
    "adgroup_name": "Lookalike 1% / 18+ = yes?",
    "campaign_id": "1700000000000000003",
    "campaign_name": "Spring & Summer + More",
}
PAGE = "https://shop.example/p?"


@pytest.mark.parametrize(("macro", "field"), list(landing.MACROS.items()))
def test_each_macro_takes_its_own_listing_field(macro, field):
    assert landing.parse_utm(f"{PAGE}utm_campaign={macro}", AD) == ({"utm_campaign": AD[field]}, [])


def test_the_macro_table_follows_tiktoks_help_aid_is_the_ad_group_cid_the_ad():
    assert landing.MACROS == {
        "__CAMPAIGN_NAME__": "campaign_name",
        "__CAMPAIGN_ID__": "campaign_id",
        "__AID_NAME__": "adgroup_name",
        "__AID__": "adgroup_id",
        "__CID_NAME__": "ad_name",
        "__CID__": "ad_id",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("utm_campaign=__CAMPAIGN_NAME__&utm_content=__CID_NAME__",
         {"utm_campaign": "Spring & Summer + More", "utm_content": "Größen \u2013 Video #42 (50% off)"}),
        ("utm_content=__AID__%20__CID__", {"utm_content": "1800000000000000007 1900000000000000042"}),
        ("utm_content=__AID__+__CID__", {"utm_content": "1800000000000000007 1900000000000000042"}),
        ("utm_campaign=tt-__CAMPAIGN_ID__-q1", {"utm_campaign": "tt-1700000000000000003-q1"}),
        ("utm_campaign=x__CID_NAME__", {"utm_campaign": "x" + AD["ad_name"]}),
        ("utm_content=__AID_NAME__&utm_content=second", {"utm_content": "Lookalike 1% / 18+ = yes?"}),
        ("UTM_Campaign=__CAMPAIGN_ID__", {"utm_campaign": "1700000000000000003"}),
    ],
)  # fmt: skip
def test_filled_values_survive_exactly(query, expected):
    assert landing.parse_utm(PAGE + query, AD) == (expected, [])


@pytest.mark.parametrize("name", [AD["campaign_name"], "a=b&c=d", "100% + 5%", "#hash?x", "Größe \u2013 日本"])
def test_filling_then_decoding_equals_tiktoks_encoded_click(name):
    """What a click carries is the page with the value URL-encoded into it; decoded, it is the name again."""
    ad = {**AD, "campaign_name": name}
    assert landing.parse_utm(f"{PAGE}utm_campaign=__CAMPAIGN_NAME__", ad) == ({"utm_campaign": name}, [])
    click = f"{PAGE}utm_campaign={quote(name, safe='')}"
    assert landing.parse_utm(click)[0] == {"utm_campaign": name}


def test_a_filled_value_is_not_read_again_for_macros():
    ad = {**AD, "campaign_name": "__PLACEMENT__ week"}
    assert landing.parse_utm(f"{PAGE}utm_campaign=__CAMPAIGN_NAME__", ad) == (
        {"utm_campaign": "__PLACEMENT__ week"},
        [],
    )


@pytest.mark.parametrize(
    ("query", "utm", "unresolved"),
    [
        # per-click macros (TikTok help "Third Party Tracking", "TikTok Click ID")
        ("utm_medium=__PLACEMENT__", {"utm_medium": None}, ["__PLACEMENT__"]),
        ("utm_content=__CTYPE__", {"utm_content": None}, ["__CTYPE__"]),
        ("utm_content=__CLICKID__", {"utm_content": None}, ["__CLICKID__"]),
        ("utm_source=__OS__&utm_medium=__IDFA__", {"utm_source": None, "utm_medium": None}, ["__OS__", "__IDFA__"]),
        # a resolvable macro in a value that also needs a click
        ("utm_campaign=__CAMPAIGN_NAME__-__PLACEMENT__", {"utm_campaign": None}, ["__PLACEMENT__"]),
        # not TikTok's: Klar's __AD_NAME__, lower case, Ruler's single underscores, percent-encoded
        ("utm_content=__AD_NAME__", {"utm_content": None}, ["__AD_NAME__"]),
        ("utm_campaign=__campaign_name__", {"utm_campaign": None}, ["__campaign_name__"]),
        ("utm_campaign=_CAMPAIGN_NAME_", {"utm_campaign": None}, ["_CAMPAIGN_NAME_"]),
        ("utm_content=%5F%5FCID%5F%5F", {"utm_content": None}, ["__CID__"]),
        # a macro outside the UTM parameters is none of ours
        ("ttclid=__CLICKID__&utm_source=tiktok", {"utm_source": "tiktok"}, []),
        # double underscores inside a word are a value, not a macro
        ("utm_campaign=SUMMER__SALE__2&utm_content=promo_CID_2",
         {"utm_campaign": "SUMMER__SALE__2", "utm_content": "promo_CID_2"}, []),
    ],
)  # fmt: skip
def test_macros_no_listing_field_fills_are_never_values(query, utm, unresolved):
    found, missing = landing.parse_utm(PAGE + query, AD)
    assert found == utm
    assert sorted(missing) == sorted(unresolved)


@pytest.mark.parametrize("empty", [None, "", "  ", "-"])
def test_a_resolvable_macro_whose_field_is_empty_is_unresolved(empty):
    ad = {**AD, "adgroup_name": empty}
    assert landing.parse_utm(f"{PAGE}utm_content=__AID_NAME__", ad) == ({"utm_content": None}, ["__AID_NAME__"])
    assert landing.parse_utm(f"{PAGE}utm_content=__AID_NAME__") == ({"utm_content": None}, ["__AID_NAME__"])


@pytest.mark.parametrize(
    ("ad", "expected"),
    [
        ({"landing_page_url": "https://a.example/1", "landing_page_urls": [{"landing_page_url": "https://b"}]},
         "https://a.example/1"),
        ({"landing_page_url": "", "landing_page_urls": [{"landing_page_url": "https://b"}, {"landing_page_url": "c"}]},
         "https://b"),
        ({"landing_page_url": None, "landing_page_urls": [{"landing_page_url": ""}, {"landing_page_url": "https://c"}]},
         "https://c"),
        ({"landing_page_urls": ["https://plain-string.example"]}, "https://plain-string.example"),
        ({"landing_page_url": " ", "landing_page_urls": None}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_the_landing_page_is_the_ads_else_the_first_aco_page(ad, expected):
    assert landing.landing_page(ad) == expected


def test_utm_properties_of_an_aco_ad_with_macros_and_of_an_unknown_ad():
    ad = {
        **AD,
        "landing_page_url": "",
        "landing_page_urls": [{"landing_page_url": f"{PAGE}utm_medium=__PLACEMENT__&utm_content=__CID__"}],
    }
    assert landing.utm_properties(ad, "Camp", "Ad", {}) == (
        {"utm_source": "tiktok", "utm_medium": None, "utm_campaign": "Camp", "utm_content": AD["ad_id"]},
        ["__PLACEMENT__"],
    )
    assert landing.utm_properties(ad, "Camp", "Ad", {"utm_medium": "paid"})[0]["utm_medium"] is None
    assert landing.utm_properties(None, "Camp", "Ad", {"utm_source": "x"}) == (dict.fromkeys(landing.UTM_KEYS), [])
