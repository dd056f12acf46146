"""TikTok envelope codes: which are worth retrying and what a user must do about the rest.

Pure data and functions (no Airflow import), checked against TikTok's generated SDK code list.
"""

from __future__ import annotations

OK = 0
PARTIAL_SUCCESS = 20001
#: TikTok's names (generated SDK code list): 40000 INVALID_PARAMS (e.g. "Invalid Price Field") and 40002
#: PARAM_ERROR both name a bad field.
INVALID_PARAMS = 40000
PARAM_ERROR = 40002
PII_NOT_HASHED = 40062
RPC_VALIDATION_ERROR = 40700
REPORT_TOO_LARGE = 40067
ACCESS_TOKEN_EXPIRED = 40102

#: Codes that mean "slow down / try later": the same request can succeed as it is.
RETRYABLE_CODES = frozenset({40100, 40132, 40133, 61000, 40200, 40201, 40202, 50000, 50002, 60001})
#: Codes TikTok uses for rate limits; a breach may lock the app for about five minutes.
RATE_LIMIT_CODES = frozenset({40100, 40132, 40133, 61000})

_ACTIONS: dict[int, str] = {
    40001: "the token has no permission for this advertiser: check advertiser_id or re-authorise an "
    "account that has Operator/Admin access to it",
    40000: "a parameter is invalid: see the message for the field",
    40002: "the request parameters are invalid: see the message for the field",
    40061: "the batch size is invalid: send at most 1,000 events per request",
    40062: "personal data must be SHA-256 hashed before sending",
    40067: "the report query is too large: query a shorter date window",
    40102: "the access token has expired: refresh it (connection extra refresh_token) or re-authorise with "
    "`python -m airflow_provider_tiktok.oauth`",
    40103: "the refresh token has expired: re-authorise with `python -m airflow_provider_tiktok.oauth`",
    40104: "the access token is missing: set the connection password to the access token",
    40105: "the access token is invalid or revoked: re-authorise with `python -m airflow_provider_tiktok.oauth`",
    40107: "the refresh token is invalid: re-authorise with `python -m airflow_provider_tiktok.oauth`",
    40110: "the authorisation code is invalid or used: start the OAuth flow again",
    40130: "the token lacks a scope: in TikTok's authorisation screen grant Audience Management, "
    "Reporting and Events, then re-authorise",
    40900: "the uploaded file's MD5 signature does not match its content",
}


def is_retryable(code: int | None, http_status: int | None = None) -> bool:
    """True for TikTok's transient codes, HTTP 5xx/429 and transport failures (no code, no status)."""
    if code is None:
        return http_status is None or http_status >= 500 or http_status == 429
    if code in RETRYABLE_CODES or 51000 <= code < 52000:
        return True
    return code == RPC_VALIDATION_ERROR  # the caller retries it at most once


def action_for(code: int | None) -> str | None:
    """The remedy a user should apply for a non-retryable code, if known."""
    if code is None:
        return None
    if code in RATE_LIMIT_CODES:
        return "the app's rate limit was hit: lower the connection's rate_limit or spread the DAG runs"
    if 40905 <= code <= 40910:
        return "the customer file was rejected (missing, empty, too large, wrong type or expired): upload it again"
    return _ACTIONS.get(code)
