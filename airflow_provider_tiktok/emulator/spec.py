"""The table of request constraints: for each endpoint, its parameters as TikTok declares them.

Each endpoint names its source. For most, that is the OpenAPI definition TikTok generates its SDKs
from: ``tiktok/tiktok-business-api-sdk``, folder ``yml_files/``, one file per endpoint. The facts were
read there and written here in our own terms. Each constraint has a comment naming the file it comes
from. Some endpoints have no such file: ``event/track/`` (Events API 2.0), ``ad/get/``, the OAuth calls and
``user/info/``. Their constraints come from TikTok's generated SDK code, from public connectors
(TikTok's GTM server template, Segment, RudderStack) or from our fact sheet. Their comments say which,
and those marked "unsourced" are kept only because the emulator enforced them before.

:func:`airflow_provider_tiktok.emulator.validation.validate` checks every request against this table
before its handler runs. A violation answers 40002 (or the code a field declares) with a message that
names the field and the rule. ``event/track/`` rows are checked one at a time by the handler
(:data:`EVENT_ROW`), so that one bad row can be reported alone.
"""

from __future__ import annotations

from typing import Any

import pycountry

from airflow_provider_tiktok.emulator.envelope import (
    BAD_VALUE,
    FILE_WRONG_TYPE,
    INVALID_BATCH_SIZE,
    PII_NOT_HASHED,
)
from airflow_provider_tiktok.emulator.routing import FilePart
from airflow_provider_tiktok.emulator.validation import BODY, FORM, QUERY, EndpointSpec, Field, Violation, one_of

# -- shared vocabularies ------------------------------------------------------------------------------
#: dmp_custom_audience_create.yml: calculate_type enum (strict).
CALCULATE_TYPES = (
    "EMAIL_SHA256",
    "PHONE_SHA256",
    "IDFA_SHA256",
    "GAID_SHA256",
    "IDFA_MD5",
    "GAID_MD5",
    "FIRST_SHA256",
    "FIRST_MD5",
    "MULTIPLE_TYPES",
)
#: dmp_custom_audience_file_upload.yml: the same enum plus MAID_SHA256 / MAID_MD5, which carry the same
#: internal values as FIRST_SHA256 / FIRST_MD5 (aliases).
UPLOAD_CALCULATE_TYPES = (*CALCULATE_TYPES, "MAID_SHA256", "MAID_MD5")
CALCULATE_TYPE_ALIASES = {"MAID_SHA256": "FIRST_SHA256", "MAID_MD5": "FIRST_MD5"}
#: dmp_custom_audience_update.yml: action enum (strict), REPLACE by default.
ACTIONS = ("REPLACE", "APPEND", "REMOVE")
#: Connectors (report section 1): RudderStack getEventSource, Segment conversions/app/offline destinations.
EVENT_SOURCES = ("web", "app", "offline", "crm")
#: Segment tiktok-app-events (fields/common_fields.ts): user.att_status values.
ATT_STATUSES = ("AUTHORIZED", "DENIED", "NOT_DETERMINED", "RESTRICTED", "NOT_APPLICABLE")
CURRENCIES = tuple(sorted(currency.alpha_3 for currency in pycountry.currencies))
#: smart_plus_ad_get.yml (ad/get/ has no definition; the Smart+ listing shares its filter vocabulary).
PRIMARY_STATUSES = (
    "STATUS_ALL",
    "STATUS_CLOSED",
    "STATUS_DELETE",
    "STATUS_DELIVERY_OK",
    "STATUS_DISABLE",
    "STATUS_FROZEN",
    "STATUS_NOT_DELETE",
    "STATUS_NOT_DELIVERY",
    "STATUS_RF_CLOSED",
    "STATUS_TIME_DONE",
)
#: report_integrated_get.yml: filtering[].filter_type enum (RANGE is an alias of BETWEEN).
FILTER_TYPES = ("BETWEEN", "GREATER_EQUAL", "GREATER_THAN", "IN", "LOWER_EQUAL", "LOWER_THAN", "MATCH", "RANGE")

ID = Field("int64", required=True)
ID_LIST = Field("array", items=Field("int64"))
TEXT_LIST = Field("array", items=Field("string"))
FILE_SUFFIXES = (".csv", ".txt")


def _customer_file_name(values: dict[str, Any]) -> None:
    """dmp_custom_audience_file_upload.yml: ``file`` must be a .csv or .txt file (exact, lower-case suffix).

    The name checked is the ``name`` field (the yml's), else ``file_name`` (TikTok's Python SDK's), else the
    multipart file's own name. A wrong type answers 40908 (FILE_TYPE_ERROR), as TikTok's code list names it.
    """
    part = values.get("file")
    name = values.get("name") or values.get("file_name") or (part.filename if isinstance(part, FilePart) else "")
    if not str(name).endswith(FILE_SUFFIXES):
        raise Violation(FILE_WRONG_TYPE, "file", "must be a .csv or .txt file")


# -- event/track/ rows ----------------------------------------------------------------------------------
# Not in TikTok's yml folder or SDK (the SDK only has the 1.0 pixel/track/). Every constraint below comes
# from connectors: TikTok's GTM server template (tiktok/gtm-template-eapi), Segment tiktok-conversions /
# tiktok-app-events / tiktok-offline-conversions, RudderStack tiktok_ads (report section 1).
_PRICE = Field("number", minimum=0, code=BAD_VALUE, label="Invalid Price Field")  # connectors: non-negative number;
# a bad price answers 40000 "Invalid Price Field: <field>", as real answers quoted in the fact sheet do
_HASHED = Field("sha256", code=PII_NOT_HASHED)  # connectors: SHA-256 hex, a string or (Segment) a list of them
EVENT_ROW = Field(
    "object",
    properties={
        "event": Field("string", required=True, min_length=1),  # connectors: required
        "event_time": Field("integer", required=True),  # connectors: integer Unix seconds (2.0; 1.0 used text)
        "event_id": Field("string"),  # connectors: a string (Segment sends String(event_id))
        "user": Field(
            "object",
            properties={
                "email": _HASHED,
                "phone": _HASHED,
                "external_id": _HASHED,
                "att_status": Field("string", enum=ATT_STATUSES),  # Segment tiktok-app-events: enum when sent
            },
        ),
        "properties": Field(
            "object",
            properties={
                "currency": Field("string", enum=CURRENCIES, hint="an ISO 4217 currency code"),  # fact sheet
                "value": _PRICE,  # connectors: a number
                "contents": Field(
                    "array",
                    items=Field(
                        "object",
                        properties={
                            "price": _PRICE,  # connectors: a number
                            "quantity": Field("integer"),  # connectors: an integer
                        },
                    ),
                ),
            },
        ),
        "page": Field("object", properties={"url": Field("string"), "referrer": Field("string")}),
        # Segment tiktok-app-events: app events carry app {app_id (required), app_name, app_version}
        "app": Field(
            "object",
            required_if=("event_source", "app"),
            properties={
                "app_id": Field("string", required=True, min_length=1),
                "app_name": Field("string"),
                "app_version": Field("string"),
            },
        ),
        # Segment tiktok-conversions (crm_fields.ts): CRM events carry lead {lead_id (required), lead_event_source}
        "lead": Field(
            "object",
            required_if=("event_source", "crm"),
            properties={
                "lead_id": Field("string", required=True, min_length=1),
                "lead_event_source": Field("string"),
            },
        ),
        "limited_data_use": Field("boolean"),  # Segment: a boolean, false by default
    },
)

# -- the table ------------------------------------------------------------------------------------------
SPECS: dict[str, EndpointSpec] = {
    "dmp/custom_audience/file/upload/": EndpointSpec(
        "dmp_custom_audience_file_upload.yml",
        FORM,
        {
            "advertiser_id": ID,  # required, int64
            "calculate_type": Field("string", required=True, enum=UPLOAD_CALCULATE_TYPES),  # required, strict enum
            "file": Field("file", required=True),  # required (binary)
            "file_signature": Field("string", required=True),  # required (MD5 of the file)
            "name": Field("string"),  # optional
            "file_name": Field("string"),  # not in the yml: what TikTok's Python SDK sends instead of name
            # context_info: also sent by the Python SDK; tolerated as is (undeclared parameters pass through)
        },
        (_customer_file_name,),  # file: .csv or .txt only
    ),
    "dmp/custom_audience/create/": EndpointSpec(
        "dmp_custom_audience_create.yml",
        BODY,
        {
            "advertiser_id": ID,  # required, int64
            "custom_audience_name": Field("string", required=True, min_length=1, max_length=128),  # 1..128
            "calculate_type": Field("string", required=True, enum=CALCULATE_TYPES),  # strict enum, no MAID_*
            "file_paths": Field(  # required; 1..500 items, each exactly 16 characters
                "array", required=True, min_items=1, max_items=500, items=Field("string", min_length=16, max_length=16)
            ),
            "retention_in_days": Field("integer", minimum=1, maximum=365),  # optional, 1..365, no default
            "audience_sub_type": Field("string", enum=("NORMAL", "REACH_FREQUENCY"), default="NORMAL"),  # strict enum
            "audience_enhancement": Field("boolean", default=False),  # default False
        },
    ),
    "dmp/custom_audience/update/": EndpointSpec(
        "dmp_custom_audience_update.yml",
        BODY,
        {
            "advertiser_id": ID,  # required, int64
            "custom_audience_id": ID,  # required, int64
            "custom_audience_name": Field("string", min_length=1, max_length=128),  # 128: the description's limit
            # no item bounds in this yml; the emulator keeps create's 1..500 (fact sheet: hard cap 500)
            "file_paths": Field("array", min_items=1, max_items=500, items=Field("string")),
            "action": Field("string", enum=ACTIONS, default="REPLACE"),  # strict enum, REPLACE by default
            "audience_sub_type": Field("string", enum=("REACH_FREQUENCY",)),  # the only conversion allowed
            "audience_enhancement": Field("boolean"),
            "context_info": Field("object", properties={"core_user_id": Field("int64")}),  # optional
        },
        (one_of("custom_audience_name", "file_paths"),),  # the description: pass one of the two
    ),
    "dmp/custom_audience/delete/": EndpointSpec(
        "dmp_custom_audience_delete.yml",
        BODY,
        {
            "advertiser_id": ID,  # required, int64
            "custom_audience_ids": Field("array", required=True, min_items=1, max_items=100, items=Field("int64")),
        },
    ),
    "dmp/custom_audience/get/": EndpointSpec(
        "dmp_custom_audience_get.yml",
        QUERY,
        {
            "advertiser_id": ID,  # required, int64
            "custom_audience_ids": Field(  # required JSON array, 1..100 int64 ids
                "array", required=True, min_items=1, max_items=100, items=Field("int64")
            ),
            "history_size": Field("integer", minimum=1, maximum=100, default=100),  # 1..100, default 100
        },
    ),
    "dmp/custom_audience/list/": EndpointSpec(
        "dmp_custom_audience_list.yml",
        QUERY,
        {
            "advertiser_id": ID,  # required, int64
            "custom_audience_ids": Field("array", min_items=1, max_items=100, items=Field("int64")),  # optional
            "page": Field("integer", minimum=1, default=1),  # >= 1, default 1
            "page_size": Field("integer", minimum=1, maximum=100, default=10),  # 1..100, default 10
        },
    ),
    "report/integrated/get/": EndpointSpec(
        "report_integrated_get.yml",
        QUERY,
        {
            # required, strict enum (the emulator's handler then serves BASIC only)
            "report_type": Field(
                "string", required=True, enum=("AUDIENCE", "BASIC", "BC", "CATALOG", "PLAYABLE_MATERIAL", "TT_SHOP")
            ),
            "service_type": Field("string", enum=("AUCTION", "RESERVATION")),  # strict enum (AUCTION if omitted)
            "data_level": Field(  # strict enum
                "string",
                enum=(
                    "AUCTION_AD",
                    "AUCTION_ADGROUP",
                    "AUCTION_ADVERTISER",
                    "AUCTION_CAMPAIGN",
                    "RESERVATION_AD",
                    "RESERVATION_ADGROUP",
                    "RESERVATION_ADVERTISER",
                    "RESERVATION_CAMPAIGN",
                ),
            ),
            "advertiser_id": Field("int64"),  # optional at schema level (BASIC needs it: the handler checks)
            "advertiser_ids": ID_LIST,  # optional JSON array of int64 ids
            "bc_id": Field("int64"),  # optional, int64
            "dimensions": TEXT_LIST,  # JSON array of strings
            "metrics": TEXT_LIST,  # JSON array of strings
            "start_date": Field("string"),
            "end_date": Field("string"),
            "query_lifetime": Field("boolean"),
            "enable_total_metrics": Field("boolean", default=False),  # default false
            "multi_adv_report_in_utc_time": Field("boolean", default=False),  # default false
            "query_mode": Field("string", enum=("REGULAR", "CHUNK")),  # strict enum
            "order_field": Field("string"),
            "order_type": Field("string", enum=("ASC", "DESC")),  # strict enum
            "filtering": Field(  # JSON array; each item requires field_name, filter_type (enum), filter_value (text)
                "array",
                items=Field(
                    "object",
                    properties={
                        "field_name": Field("string", required=True),
                        "filter_type": Field("string", required=True, enum=FILTER_TYPES),
                        "filter_value": Field("string", required=True),
                    },
                ),
            ),
            "page": Field("integer", minimum=1, default=1),  # >= 1, default 1
            "page_size": Field("integer", minimum=1, maximum=1000, default=10),  # 1..1000, default 10
        },
    ),
    "advertiser/info/": EndpointSpec(
        "advertiser_info.yml",
        QUERY,
        {
            # required JSON array. The yml declares plain strings with no item bounds; the emulator keeps
            # int64 ids (as every other advertiser id) and 1..100 items (fact sheet; unsourced).
            "advertiser_ids": Field("array", required=True, min_items=1, max_items=100, items=Field("int64")),
            "fields": TEXT_LIST,  # optional JSON array of strings (no enum in the yml)
        },
    ),
    "ad/get/": EndpointSpec(
        # No yml: TikTok's Python SDK (AdApi.ad_get, model FilteringAdGet) gives the parameters and defaults.
        "python_sdk AdApi.ad_get (no yml)",
        QUERY,
        {
            "advertiser_id": ID,  # SDK: required
            "page": Field("integer", minimum=1, default=1),  # SDK: default 1
            # SDK: default 10. The maximum 1000 is our fact sheet's and UNSOURCED (smart_plus_ad_get.yml has 100).
            "page_size": Field("integer", minimum=1, maximum=1000, default=10),
            "fields": TEXT_LIST,  # SDK: JSON array of strings
            "exclude_field_types_in_response": TEXT_LIST,  # SDK: JSON array of strings
            "filtering": Field(  # SDK: a JSON object (FilteringAdGet)
                "object",
                properties={
                    "primary_status": Field("string", enum=PRIMARY_STATUSES),  # smart_plus_ad_get.yml enum
                    "ad_ids": ID_LIST,
                    "adgroup_ids": ID_LIST,
                    "campaign_ids": ID_LIST,
                    "modified_after": Field("string"),
                },
            ),
        },
    ),
    # Listings the provider does not call: no definition consulted; the ad/get conventions above.
    "campaign/get/": EndpointSpec("unsourced (ad/get conventions)", QUERY, {"advertiser_id": ID}),
    "adgroup/get/": EndpointSpec("unsourced (ad/get conventions)", QUERY, {"advertiser_id": ID}),
    "event/track/": EndpointSpec(
        "connectors (no yml): TikTok GTM template, Segment, RudderStack",
        BODY,
        {
            "event_source": Field("string", required=True, enum=EVENT_SOURCES),  # connectors: web/app/offline/crm
            "event_source_id": Field("string", required=True, min_length=1),  # connectors: required
            "partner_name": Field("string"),
            "test_event_code": Field("string"),  # connectors: top level
            # RudderStack maxBatchSizeV2 / Hightouch: 1..1000 events; a bad count answers 40061 (INVALID_BATCH_SIZE)
            "data": Field(
                "array",
                required=True,
                min_items=1,
                max_items=1000,
                count_code=INVALID_BATCH_SIZE,
                items=EVENT_ROW,
                rows=True,
            ),
        },
    ),
    # No yml: TikTok's Python SDK (AuthenticationApi; model Oauth2AccessTokenBody).
    "oauth2/access_token/": EndpointSpec(
        "python_sdk Oauth2AccessTokenBody (no yml)",
        BODY,
        {
            "app_id": Field("string", required=True),
            "secret": Field("string", required=True),
            "auth_code": Field("string", required=True),
        },
    ),
    "oauth2/advertiser/get/": EndpointSpec(
        "python_sdk AuthenticationApi.oauth2_advertiser_get (no yml)",
        QUERY,
        {"app_id": Field("string", required=True), "secret": Field("string", required=True)},
    ),
    # Not in TikTok's SDK or yml folder: nothing to check beyond what the handlers do.
    "oauth2/revoke_token/": EndpointSpec("unsourced (not in TikTok's SDK)", BODY),
    "tt_user/oauth2/refresh_token/": EndpointSpec("unsourced (not in TikTok's SDK)", BODY),
    "user/info/": EndpointSpec("unsourced (no yml; fact sheet)", QUERY),
}
