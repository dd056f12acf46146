"""Turn one flat input record into one Events API 2.0 event, exactly as TikTok expects it.

Pure functions (no Airflow import). A record uses the canonical flat field names below (``field_map``
renames source columns to them); the result is the nested ``{"event", "event_time", "event_id", "user",
"properties", "page", "limited_data_use"}`` object of ``event/track/``. A row that cannot be sent raises
:class:`RowRejected` naming the row and field, never the value; an identifier that cannot be
normalised (e.g. an unparseable phone, a local number without its area code, two addresses in one cell)
is dropped from its row and counted, the row keeps the others. A field sent in clear (the event name, texts,
ids, URLs) that holds an e-mail address or a phone number rejects its row: it would reach TikTok, the summary
and the log unhashed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from airflow_provider_tiktok.events.event_ids import built_event_id
from airflow_provider_tiktok.events.rules import (
    ATT_STATUSES,
    CANONICAL_FIELDS,
    CONTENT_FIELD_SET,
    CONTENT_FIELDS,
    CONTENT_TYPES,
    CURRENCIES,
    DEVICE_ID_FIELDS,
    DEVICE_ID_SET,
    EVENT_NAME,
    EVENT_SOURCES,
    HASHED_FIELDS,
    IDENTIFIER_CACHE_SIZE,
    MAX_EVENT_NAME_LENGTH,
    MAX_FUTURE_SECONDS,
    MAX_TEXT_LENGTH,
    PAGE_FIELDS,
    PLAIN_TEXT,
    PRICED_FIELDS,
    PROPERTY_FIELD_SET,
    PROPERTY_TEXT_FIELDS,
    SOURCE_FIELDS,
    STANDARD_EVENTS,
    URL_TEXT,
    USER_FIELDS,
    USER_TEXT_FIELDS,
    BuildTally,
    EventRules,
    RowRejected,
    check_fields,
)
from airflow_provider_tiktok.events.values import (
    as_count,
    as_decimal,
    as_flag,
    as_ip,
    as_text,
    json_number,
    parse_event_time,
)
from airflow_provider_tiktok.utils.hashing import (
    InvalidIdentifier,
    PersonalData,
    hash_email,
    hash_external_id,
    hash_maid,
    hash_phone,
    is_sha256_hex,
    may_hold_personal_data,
    normalise_maid,
    personal_data_in,
)

_ZERO = Decimal(0)
#: Fields holding URLs: personal data in them is looked for %-decoded too (``?email=pat%40example.com``).
_URL_FIELDS = frozenset({"page_url", "referrer_url"})
#: For each event source, the fields that belong to the other sources (dropped, counted).
_FOREIGN_FIELDS = {
    source: frozenset(name for other, names in SOURCE_FIELDS.items() if other != source for name in names)
    for source in EVENT_SOURCES
}
#: The event sources whose events carry an object of their own (``app``, ``lead``).
_SOURCE_OBJECTS = frozenset({"app", "crm"})
#: How deep a rejects-file copy of a record follows nested lists and objects.
_REDACT_DEPTH = 4


def build_event(record: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> dict[str, Any]:
    """The ``event/track/`` event for one canonical record; raises :class:`RowRejected` for a bad row."""
    if not record.keys() <= CANONICAL_FIELDS:
        check_fields(record, row)
    values = record.values()
    given = (
        record
        if None not in values and "" not in values
        else {key: value for key, value in record.items() if value is not None and value != ""}
    )
    name = as_text(given["event"], "event", row) if "event" in given else None
    name = name or rules.default_event
    if not name:
        raise RowRejected("is missing: add an event column or set default_event", row=row, field="event")
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise RowRejected(f"is longer than {MAX_EVENT_NAME_LENGTH} characters", row=row, field="event")
    if name not in STANDARD_EVENTS:
        if name not in tally.clean_texts[EVENT_NAME] and may_hold_personal_data(name):
            _clear_text(name, "event", row, rules, tally, EVENT_NAME)
        tally.nonstandard_event_names[name] += 1
    moment = parse_event_time(given.get("event_time"), row)
    if moment < rules.oldest:
        raise RowRejected(f"is older than {rules.max_event_age_days} days", row=row, field="event_time")
    if moment > rules.now + MAX_FUTURE_SECONDS:
        raise RowRejected("is more than 5 minutes in the future", row=row, field="event_time")
    user = _part(tally.users, USER_FIELDS, _user, given, row, rules, tally)
    fields: dict[str, Any] = {"event": name, "event_time": moment, "user": user}
    if not given.keys().isdisjoint(PROPERTY_FIELD_SET):
        properties = _properties(given, row, rules, tally)
        if properties:
            fields["properties"] = properties
    page = _part(tally.pages, PAGE_FIELDS, _page, given, row, rules, tally)
    if page:
        fields["page"] = page
    if rules.event_source in _SOURCE_OBJECTS or not given.keys().isdisjoint(_FOREIGN_FIELDS[rules.event_source]):
        _source_objects(fields, given, row, rules, tally)
    fields["limited_data_use"] = (
        as_flag(given["limited_data_use"], row) if "limited_data_use" in given else rules.limited_data_use
    )
    event_id = _clear(given["event_id"], "event_id", row, rules, tally) if "event_id" in given else None
    event = {"event": name, "event_time": moment, "event_id": event_id or built_event_id(fields)}
    event.update(fields)  # TikTok's order: event, event_time, event_id, user, properties, page, app/lead, ...
    return event


def _part(
    parts: dict[tuple[Any, ...], dict[str, Any]],
    names: tuple[str, ...],
    build: Callable[[Mapping[str, Any], int, EventRules, BuildTally], dict[str, Any]],
    given: Mapping[str, Any],
    row: int,
    rules: EventRules,
    tally: BuildTally,
    copy: Callable[[dict[str, Any]], dict[str, Any]] = dict.copy,
) -> dict[str, Any]:
    """``build(given, ...)``, or a ``copy`` of what it built for an earlier row with the same fields ``names``
    (kept in ``parts`` when building dropped nothing: a dropped identifier is counted for each row)."""
    key = tuple(map(given.get, names))
    try:
        known = parts.get(key)
    except TypeError:  # a list or an object among the fields: built afresh
        known = None
    if known is not None:
        return copy(known)
    dropped = tally.dropped_fields.total()
    part = build(given, row, rules, tally)
    if tally.dropped_fields.total() == dropped:
        tally.remember(parts, key, copy(part))
    return part


def _user(given: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> dict[str, Any]:
    """Hashed email/phone/external_id, device ids and clear-text signals; unusable identifiers dropped (a row
    left without the identity its source needs is rejected, naming the identifier that was unusable)."""
    user: dict[str, Any] = {}
    unusable = _hashed_identifiers(given, rules, tally, user)
    if not given.keys().isdisjoint(DEVICE_ID_SET):
        for name in DEVICE_ID_FIELDS:
            if name in given:
                try:
                    user[name] = _device_id(given[name], name)
                except InvalidIdentifier:
                    tally.dropped_fields[name] += 1
    if "ip" in given:
        address = _ip_address(given["ip"], tally)
        if address:
            user["ip"] = address
        else:
            tally.dropped_fields["ip"] += 1
    for name in USER_TEXT_FIELDS:
        if name in given:
            text = _clear(given[name], name, row, rules, tally)
            if text:
                user[name] = text
    if rules.event_source == "web" and "email" not in user and "phone" not in user and "external_id" not in user:
        _no_identity("a web event needs a usable email, phone or external_id", row, unusable)
    if rules.event_source == "offline" and "email" not in user and "phone" not in user:
        _no_identity("an offline event needs a usable email or phone", row, unusable)
    return user


def _ip_address(value: Any, tally: BuildTally) -> str | None:
    """``as_ip``, remembered (bounded) for addresses given as text."""
    if value.__class__ is not str:
        return as_ip(value)
    addresses = tally.ip_addresses
    if value in addresses:
        return addresses[value]
    if len(addresses) >= IDENTIFIER_CACHE_SIZE:
        addresses.clear()
    address = addresses[value] = as_ip(value)
    return address


def _hashed_identifiers(
    given: Mapping[str, Any], rules: EventRules, tally: BuildTally, user: dict[str, Any]
) -> InvalidIdentifier | None:
    """Put the hashed email, phone and external_id into ``user``; count the unusable ones and return the first."""
    unusable: InvalidIdentifier | None = None
    for name in HASHED_FIELDS:
        if name not in given:
            continue
        try:
            if name == "email":
                user[name] = tally.hash_email(given[name])
            elif name == "phone":
                user[name] = tally.hash_phone(given[name], rules.default_phone_region)
            else:
                user[name] = tally.hash_external_id(given[name])
        except InvalidIdentifier as err:
            tally.dropped_fields[name] += 1
            unusable = unusable or err
    return unusable


def _source_objects(
    event: dict[str, Any], given: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally
) -> None:
    """``app`` (and ``user.att_status``) for app events, ``lead`` for CRM events; these fields on events of
    another source mean nothing to TikTok and are dropped (counted)."""
    if not given.keys().isdisjoint(_FOREIGN_FIELDS[rules.event_source]):
        for source, names in SOURCE_FIELDS.items():
            if source != rules.event_source:
                tally.dropped_fields.update(name for name in names if name in given)
    if rules.event_source == "app":
        event["app"] = _app(given, row, rules, tally)
        if "att_status" in given:
            event["user"]["att_status"] = _att_status(given["att_status"], row)
    elif rules.event_source == "crm":
        event["lead"] = _lead(given, row, rules, tally)


def _app(given: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> dict[str, str]:
    """The app an app event comes from: its store id (required), name and version."""
    app_id = _clear(given["app_id"], "app_id", row, rules, tally) if "app_id" in given else rules.default_app_id
    if not app_id:
        raise RowRejected("is required for app events: add an app_id column or set app_id", row=row, field="app_id")
    app = {"app_id": app_id}
    for name in ("app_name", "app_version"):
        text = _clear(given[name], name, row, rules, tally) if name in given else None
        if text:
            app[name] = text
    return app


def _lead(given: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> dict[str, str]:
    """The CRM lead a CRM event is about: its id (required) and the CRM it comes from."""
    lead_id = _clear(given["lead_id"], "lead_id", row, rules, tally) if "lead_id" in given else None
    if not lead_id:
        raise RowRejected("is required for CRM events", row=row, field="lead_id")
    lead = {"lead_id": lead_id}
    source = (
        _clear(given["lead_event_source"], "lead_event_source", row, rules, tally)
        if "lead_event_source" in given
        else None
    )
    if source:
        lead["lead_event_source"] = source
    return lead


def _att_status(value: Any, row: int) -> str:
    """iOS App Tracking Transparency status, as TikTok spells it (upper case, e.g. AUTHORIZED)."""
    status = str(value).strip().upper()
    if status not in ATT_STATUSES:
        raise RowRejected(f"must be one of {', '.join(ATT_STATUSES)}", row=row, field="att_status")
    return status


def _no_identity(need: str, row: int, unusable: InvalidIdentifier | None) -> None:
    """Reject a row without a usable identity, naming the identifier that could not be used, if any."""
    if unusable is None:
        raise RowRejected(need, row=row, field="user")
    raise RowRejected(f"{unusable.reason}, and {need}", row=row, field=unusable.field)


def _clear(value: Any, name: str, row: int, rules: EventRules, tally: BuildTally, kind: int = PLAIN_TEXT) -> str | None:
    """``as_text`` of a field TikTok receives in clear, refused when it holds an e-mail address or a phone."""
    text = as_text(value, name, row)
    if text and text not in tally.clean_texts[kind] and may_hold_personal_data(text, url=kind == URL_TEXT):
        _clear_text(text, name, row, rules, tally, kind)
    return text


def _clear_text(text: str, name: str, row: int, rules: EventRules, tally: BuildTally, kind: int) -> None:
    """Reject the row when clear ``text`` holds an e-mail address or a phone number (a column mapped to the
    wrong field, or personal data typed into a free-text field): it would reach TikTok, the summary and the
    log unhashed. The reason names what was found, never the value."""
    found = tally.personal_data(text, kind, rules.default_phone_region)
    if found is not None:
        raise RowRejected(personal_data_reason(found, url=kind == URL_TEXT), row=row, field=name)


def personal_data_reason(found: PersonalData, *, url: bool = False) -> str:
    """Why a clear-text field holding personal data is refused, and what to do (the value is not repeated)."""
    what = "an e-mail address" if found.kind == "email" else "a phone number"
    if url:
        return f"holds {what}: personal data must not be sent in clear; remove it from the URL"
    if found.whole:
        return f"looks like {what}: personal data must not be sent in clear; map the column to {found.kind}"
    return f"holds {what}: personal data must not be sent in clear; remove it from the text"


def hash_identifier(name: str, value: Any, phone_region: str) -> str:
    """SHA-256 of a normalised email, phone (E.164, national numbers read in ``phone_region``) or external_id."""
    if name == "email":
        return hash_email(value)
    if name == "phone":
        return hash_phone(value, phone_region)
    return hash_external_id(value)


def _device_id(value: Any, name: str) -> str:
    """IDFA/IDFV upper-case and GAID lower-case UUIDs, as the devices report them (sent in clear); a 64-hex
    (already hashed) value passes through lower-cased."""
    if is_sha256_hex(value):
        return str(value).strip().lower()
    normalised = normalise_maid(value, name)
    return normalised if name == "gaid" else normalised.upper()


def _properties(given: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> dict[str, Any]:
    """currency, value, content_type, contents, num_items (their part remembered by PRICED_FIELDS) and the
    order/shop/search/description texts."""
    properties = _part(tally.priced, PRICED_FIELDS, _priced, given, row, rules, tally, _copy_priced)
    for name in PROPERTY_TEXT_FIELDS:
        if name in given:
            text = _clear(given[name], name, row, rules, tally)
            if text:
                properties[name] = text
    return properties


def _copy_priced(properties: dict[str, Any]) -> dict[str, Any]:
    """A copy that shares no dict or list with ``properties`` (events are the caller's to change)."""
    copy = properties.copy()
    if "contents" in copy:
        copy["contents"] = list(map(dict.copy, copy["contents"]))
    return copy


def _priced(given: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> dict[str, Any]:
    """currency, value, content_type, contents and num_items."""
    contents = _contents(given, row, rules, tally)
    properties = _amount(given, contents, row, rules)
    content_type = as_text(given["content_type"], "content_type", row) if "content_type" in given else None
    if content_type and content_type not in CONTENT_TYPES:
        raise RowRejected(f"must be one of {', '.join(CONTENT_TYPES)}", row=row, field="content_type")
    if content_type or contents:
        properties["content_type"] = content_type or rules.default_content_type
    if contents:
        for content in contents:
            if "price" in content:
                content["price"] = json_number(content["price"])
        properties["contents"] = contents
    if "num_items" in given:
        properties["num_items"] = as_count(given["num_items"], "num_items", row)
    return properties


def _amount(given: Mapping[str, Any], contents: list[dict[str, Any]], row: int, rules: EventRules) -> dict[str, Any]:
    """``currency`` and ``value`` (summed from the contents' prices and quantities when not given)."""
    amount: dict[str, Any] = {}
    value = as_decimal(given["value"], "value", row) if "value" in given else None
    if value is None and contents:  # the sum of price x quantity, when every entry has both
        total = _ZERO
        for content in contents:
            if "price" not in content or "quantity" not in content:
                break
            total += content["price"] * content["quantity"]
        else:
            value = total
    currency = as_text(given["currency"], "currency", row) if "currency" in given else None
    if currency:
        currency = currency.upper()
        if currency not in CURRENCIES:
            raise RowRejected("is not an ISO 4217 currency code", row=row, field="currency")
    elif value is not None or any("price" in c for c in contents):
        currency = rules.default_currency
    if currency:
        amount["currency"] = currency
    if value is not None:
        amount["value"] = json_number(value)
    return amount


def _contents(given: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> list[dict[str, Any]]:
    """``contents`` (a list, or its JSON text from a CSV cell), or one entry built from the row's content_*
    fields; prices stay Decimal here so that ``value`` sums exactly."""
    raw = given.get("contents")
    single = not given.keys().isdisjoint(CONTENT_FIELD_SET)
    if raw is None or raw == []:
        return [_content_fields(given, row, "", rules, tally)] if single else []
    if single:
        raise RowRejected("give either contents or content_* fields, not both", row=row, field="contents")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise RowRejected("is not a JSON list", row=row, field="contents") from None
    if not isinstance(raw, list) or not all(isinstance(item, Mapping) for item in raw):
        raise RowRejected("must be a list of objects", row=row, field="contents")
    return [_content(item, row, f"contents.{n}.", rules, tally) for n, item in enumerate(raw) if item]


def _content(item: Mapping[str, Any], row: int, prefix: str, rules: EventRules, tally: BuildTally) -> dict[str, Any]:
    """One contents entry in TikTok's field order: price as Decimal, quantity as int, the rest as text."""
    if not item.keys() <= CONTENT_FIELD_SET:
        unknown = sorted(item.keys() - CONTENT_FIELD_SET)[0]
        raise RowRejected("is not a contents field", row=row, field=prefix + unknown)
    return _content_fields(item, row, prefix, rules, tally)


def _content_fields(
    item: Mapping[str, Any], row: int, prefix: str, rules: EventRules, tally: BuildTally
) -> dict[str, Any]:
    """The contents fields of ``item`` (a contents entry, or the row's own content_* fields), checked."""
    content: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        value = item.get(name)
        if value is None:
            continue
        if name == "price":
            value = as_decimal(value, prefix + name, row)
        elif name == "quantity":
            value = as_count(value, prefix + name, row)
        else:
            value = _clear(value, prefix + name, row, rules, tally)
        if value is not None:
            content[name] = value
    return content


def _page(given: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> dict[str, Any]:
    """The page URL (required for web events, http or https) and referrer."""
    page: dict[str, str] = {}
    url = _clear(given["page_url"], "page_url", row, rules, tally, URL_TEXT) if "page_url" in given else None
    if url:
        if not url[:8].lower().startswith(("https://", "http://")):
            raise RowRejected("must be an http(s) URL", row=row, field="page_url")
        page["url"] = url
    elif rules.event_source == "web":
        raise RowRejected("is required for web events", row=row, field="page_url")
    referrer = (
        _clear(given["referrer_url"], "referrer_url", row, rules, tally, URL_TEXT) if "referrer_url" in given else None
    )
    if referrer:
        page["referrer"] = referrer
    return page


def redacted(record: Mapping[str, Any], rules: EventRules) -> dict[str, Any]:
    """The record as it may be written to a rejects file: email, phone, external_id and device ids hashed (or
    left out when they cannot be normalised), texts longer than MAX_TEXT_LENGTH replaced by their length, other
    texts holding an e-mail address or a phone number (a mis-mapped column) replaced by a note of what they
    held, other values as the user gave them (strict JSON: NaN and infinities as text)."""
    safe: dict[str, Any] = {}
    for key, value in record.items():
        if value not in (None, "") and (key in HASHED_FIELDS or key in DEVICE_ID_SET):
            try:
                value = (
                    hash_maid(value, key)
                    if key in DEVICE_ID_SET
                    else hash_identifier(key, value, rules.default_phone_region)
                )
            except InvalidIdentifier:
                continue
            safe[str(key)[:MAX_TEXT_LENGTH]] = value
            continue
        safe[str(key)[:MAX_TEXT_LENGTH]] = _kept(value, _REDACT_DEPTH, rules.default_phone_region, str(key))
    return safe


def _kept(value: Any, depth: int, region: str, key: str = "") -> Any:
    """A JSON-safe copy of a rejected value: long texts, personal data and deep nesting replaced by a note of
    what they were (``key``: the top-level field, for the checks that depend on it)."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT_LENGTH:
            return f"<{len(value)} characters, not kept>"
        found = personal_data_in(value, region, bare_number=key == "event", url=key in _URL_FIELDS)
        if found is not None:
            return f"<{'an e-mail address' if found.kind == 'email' else 'a phone number'}, not kept>"
        return value
    if value is None or isinstance(value, bool | int):
        if isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > 256:
                return "<a very large number>"
            if key == "event" and personal_data_in(str(value), region, bare_number=True):
                return "<a phone number, not kept>"
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | dict):
        if depth <= 0:
            return "<nested value, not kept>"
        if isinstance(value, list):
            return [_kept(item, depth - 1, region) for item in value[:1000]]
        return {str(k)[:MAX_TEXT_LENGTH]: _kept(v, depth - 1, region) for k, v in list(value.items())[:1000]}
    return _kept(str(value), depth, region, key)
