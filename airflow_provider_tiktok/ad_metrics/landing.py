"""Landing pages and the UTM values a click on them carries.

TikTok replaces its dynamic URL parameters (macros) in an ad's landing page when the ad is clicked; the stored
URL keeps the macro text. Before reading UTM parameters the import replaces the macros TikTok fills from the ad
itself with the ad's own ``ad/get/`` fields, URL-encoded as a click carries them, and decodes the result, so a
name with spaces, ``&``, ``+`` or ``%`` arrives exactly. Macros only a click can fill (placement, creative
type, click and device ids), unknown or mistyped ones and macros whose field is empty are never taken for a
value: their UTM parameter is None and the macro is reported. Pure (no I/O).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
#: Used where the landing page has no such parameter (utm_campaign / utm_content default to the names).
STATIC_UTM_DEFAULTS = {"utm_source": "tiktok", "utm_medium": "paid_social"}
#: TikTok macros the ad listing resolves -> the ``ad/get/`` field TikTok fills them from (TikTok help "Track
#: offsite web events with UTM parameters" and "Third Party Tracking": AID is the ad group, CID the ad).
MACROS = {
    "__CAMPAIGN_NAME__": "campaign_name",
    "__CAMPAIGN_ID__": "campaign_id",
    "__AID_NAME__": "adgroup_name",
    "__AID__": "adgroup_id",
    "__CID_NAME__": "ad_name",
    "__CID__": "ad_id",
}
#: Macros TikTok fills per click (never from the listing), from the same help pages; any other ``__NAME__``
#: token is treated alike.
PER_CLICK_MACROS = (
    "__PLACEMENT__",
    "__CTYPE__",
    "__CLICKID__",
    "__CALLBACK_PARAM__",
    "__OS__",
    "__IP__",
    "__UA1__",
    "__SL__",
    "__ANDROIDID1__",
    "__GAID__",
    "__IDFA__",
)
_MISTYPED = "|".join(sorted((m.strip("_") for m in (*MACROS, *PER_CLICK_MACROS)), key=len, reverse=True))
#: A macro the listing resolves, wherever it stands (TikTok replaces the text as it is); else a token that looks
#: like one and that no click fills in a useful way: any other ``__NAME__`` (any case; not glued to a letter or
#: digit, so ``SUMMER__SALE__2`` stays a value) or a known name written with single underscores (``_CID_NAME_``).
MACRO = re.compile(
    "|".join(map(re.escape, MACROS))
    + r"|(?<![A-Za-z0-9])__[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*__(?![A-Za-z0-9])"
    + rf"|(?<![A-Za-z0-9_])_(?:{_MISTYPED})_(?![A-Za-z0-9_])"
)

Utm = dict[str, str | None]


def landing_page(ad: Mapping[str, Any]) -> str | None:
    """The ad's landing page: ``landing_page_url``, else (Smart Creative / ACO ads, which list several) the
    first non-empty URL of ``landing_page_urls`` (objects ``{"landing_page_url": ...}``; plain strings too)."""
    url = ad.get("landing_page_url")
    if isinstance(url, str) and url.strip():
        return url
    for entry in ad.get("landing_page_urls") or []:
        candidate = entry.get("landing_page_url") if isinstance(entry, Mapping) else entry
        if isinstance(candidate, str) and candidate.strip():
            return candidate
    return None


def parse_utm(url: object, ad: Mapping[str, Any] | None = None) -> tuple[Utm, list[str]]:
    """The UTM parameters of a landing page URL as a click carries them, and the macros left unresolved.

    Query only, keys case-insensitive, decoded, first occurrence wins, blanks ignored; an absent or unparsable
    URL has none. Macros are resolved from ``ad`` (its ``ad/get/`` item); a parameter holding a macro that
    cannot be resolved is None, and each such macro is listed once per parameter.
    """
    if not isinstance(url, str) or not url.strip():
        return {}, []
    try:
        query = urlsplit(url.strip()).query
    except ValueError:
        return {}, []
    found: Utm = {}
    unresolved: list[str] = []
    for part in query.split("&"):
        raw_key, _, raw_value = part.partition("=")
        name = unquote_plus(raw_key).strip().lower()
        if name not in UTM_KEYS or name in found:
            continue
        value, missing = resolve(raw_value, ad or {})
        if missing:
            found[name] = None
            unresolved.extend(missing)
        elif value.strip():
            found[name] = value
    return found, unresolved


def resolve(raw_value: str, ad: Mapping[str, Any]) -> tuple[str, list[str]]:
    """One raw (still encoded) query value with the listing's macros substituted URL-encoded, then decoded; and
    the macros that stay unresolved (also those written percent-encoded, which a click carries as text)."""
    parts: list[str] = []
    unresolved: list[str] = []
    position = 0
    for match in MACRO.finditer(raw_value):
        literal = raw_value[position : match.start()]
        unresolved.extend(MACRO.findall(unquote_plus(literal)))
        macro = match.group()
        value = macro_value(macro, ad)
        if value is None:
            unresolved.append(macro)
        parts += [literal, macro if value is None else quote(value, safe="")]
        position = match.end()
    tail = raw_value[position:]
    unresolved.extend(MACRO.findall(unquote_plus(tail)))
    return unquote_plus("".join([*parts, tail])), sorted(set(unresolved))


def macro_value(macro: str, ad: Mapping[str, Any]) -> str | None:
    """The ad's own value of a macro the listing resolves, or None (per-click, unknown, or the field is empty)."""
    field = MACROS.get(macro)
    value = ad.get(field) if field else None
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value)
    return text if text.strip() and text.strip() != "-" else None


def utm_properties(
    ad: Mapping[str, Any] | None, campaign_name: str | None, ad_name: str | None, utm_defaults: Mapping[str, str]
) -> tuple[Utm, list[str]]:
    """``user_properties`` and the macros left unresolved: each UTM parameter from the ad's landing page (None
    for an unresolvable macro), else the user's default, else ours (``tiktok``, ``paid_social``, the campaign
    name, the ad name). An ad missing from the listing has no known landing page: every value is None."""
    if ad is None:
        return dict.fromkeys(UTM_KEYS), []
    parsed, unresolved = parse_utm(landing_page(ad), ad)
    fallback = {**STATIC_UTM_DEFAULTS, "utm_campaign": campaign_name, "utm_content": ad_name, **utm_defaults}
    return {key: parsed[key] if key in parsed else fallback[key] for key in UTM_KEYS}, unresolved
