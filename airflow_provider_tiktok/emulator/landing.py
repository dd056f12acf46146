"""Seeded landing pages of the emulator's ads, and the UTM values a click on them carries.

Most ads get a plain page (~60 % tagged with some or all UTM parameters, some URL-encoded, with extras and
fragments). Every 40th ad (the 8th, 48th, ...) instead uses TikTok's dynamic URL parameters (macros), which
TikTok fills on the click: from the ad itself (``__CAMPAIGN_NAME__``, ``__CAMPAIGN_ID__``, ``__AID_NAME__``,
``__AID__``, ``__CID_NAME__``, ``__CID__``) or only per click (``__PLACEMENT__``, ``__CTYPE__``,
``__CLICKID__``). Every 40th ad from the 20th is a Smart Creative (ACO) ad: no ``landing_page_url``, and its
pages in ``landing_page_urls`` (objects ``{"landing_page_url"}``), the first one the plain page it would have had.
The macro forms take turns; the rest comes from its own seeded RNG, so every other ad keeps its page and the
rest of the seed stays as it was.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from urllib.parse import quote, unquote, urlencode

#: Ads (by 0-based position in their advertiser) whose pages use macros, and ACO ads: ``position % EVERY``.
EVERY = 40
MACRO_AT = 7
ACO_AT = 19
#: Macros TikTok fills from the ad -> the ad/get field it takes (TikTok help: AID is the ad group, CID the ad).
FROM_AD = {
    "__CAMPAIGN_NAME__": "campaign_name",
    "__CAMPAIGN_ID__": "campaign_id",
    "__AID_NAME__": "adgroup_name",
    "__AID__": "adgroup_id",
    "__CID_NAME__": "ad_name",
    "__CID__": "ad_id",
}
#: Query strings of macro pages (raw: macros as TikTok stores them; a space between two macros is ``%20``).
MACRO_QUERIES = (
    "utm_source=tiktok&utm_medium=paid_social&utm_campaign=__CAMPAIGN_NAME__&utm_content=__CID_NAME__",
    "utm_source=tiktok&utm_medium=__PLACEMENT__&utm_campaign=__CAMPAIGN_ID__&utm_content=__AID_NAME__",
    "ref=tt&utm_source=tiktok&utm_campaign=__CAMPAIGN_NAME__&utm_content=__CID__&ttclid=__CLICKID__",
    "utm_source=tiktok&utm_medium=cpc&utm_campaign=__AID_NAME__-__CTYPE__&utm_content=__CID_NAME__",
    "utm_campaign=__CAMPAIGN_NAME__&utm_content=__AID__%20__CID__",
)
_MACRO = re.compile(r"__[A-Z0-9]+(?:_[A-Z0-9]+)*__")


def plain_page(rng: random.Random, domain: str, slug: str, campaign_slug: str, ad_id: str) -> tuple[str, dict]:
    """A landing page URL; ~60 % carry some or all UTM parameters, some URL-encoded, with extras and fragments."""
    base = f"https://{domain}/products/{slug}"
    if rng.random() >= 0.6:
        extra = rng.choice([[], [("ref", "tiktok")], [("variant", "blue"), ("size", "m")]])
        query = f"?{urlencode(extra)}" if extra else ""
        return base + query + rng.choice(["", "#reviews"]), {}
    values = {
        "utm_source": "tiktok",
        "utm_medium": rng.choice(["paid_social", "cpc"]),
        "utm_campaign": rng.choice([campaign_slug, campaign_slug.replace("_", " ").title() + " & More"]),
        "utm_content": rng.choice([f"ad_{ad_id[-6:]}", f"video {ad_id[-4:]}"]),
    }
    keys = list(values) if rng.random() < 0.5 else rng.sample(list(values), rng.randint(1, 3))
    pairs = [(k, values[k]) for k in values if k in keys]
    if rng.random() < 0.3:
        pairs.insert(0, ("ref", "tt"))
    if rng.random() < 0.3:
        pairs.append(("color", "red"))
    # Half encode spaces as "+" (and "&" as "%26"), half as "%20".
    query = urlencode(pairs) if rng.random() < 0.5 else "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs)
    fragment = rng.choice(["", "", "#top"])
    return f"{base}?{query}{fragment}", {k: v for k, v in pairs if k.startswith("utm_")}


def tiktok_pages(
    seed: int, position: int, ad_id: str, domain: str, plain: tuple[str, dict]
) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """The ad's ``landing_page_url``, the UTM values written in its (first) page, and its ACO page list: a macro
    page or an ACO ad at their positions, else the plain page unchanged."""
    url, utm = plain
    kind = position % EVERY
    if kind not in (MACRO_AT, ACO_AT):
        return url, utm, ()
    rng = random.Random(f"{seed}:{ad_id}:landing")
    if kind == ACO_AT:
        other = f"https://{domain}/collections/aco_{ad_id[-4:]}?utm_source=tiktok&utm_campaign=aco_second_page"
        return "", utm, (url, other)
    query = MACRO_QUERIES[position // EVERY % len(MACRO_QUERIES)]  # each in turn: every form in every account
    pairs = [part.partition("=") for part in query.split("&")]
    written = {key: unquote(value) for key, _, value in pairs if key.startswith("utm_")}
    return f"https://{domain}/landing/{ad_id[-4:]}?{query}{rng.choice(['', '#top'])}", written, ()


def click_utm(utm: Mapping[str, str], fields: Mapping[str, str]) -> tuple[dict[str, str | None], tuple[str, ...]]:
    """The UTM values a click carries: macros TikTok fills from the ad replaced by its ``fields`` (ad/get names
    and ids); a value holding any other macro is None, and those macros are returned (sorted, once each)."""
    resolved: dict[str, str | None] = {}
    unresolved: set[str] = set()
    for key, value in utm.items():
        left = {m for m in _MACRO.findall(value) if m not in FROM_AD}
        unresolved |= left
        resolved[key] = None if left else _MACRO.sub(lambda m: fields[FROM_AD[m.group()]], value)
    return resolved, tuple(sorted(unresolved))
