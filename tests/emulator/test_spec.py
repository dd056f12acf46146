"""The emulator's constraint table (emulator.spec), walked: every declared rule is enforced, and none goes missing.

``test_every_constraint_is_enforced`` builds, from the table itself, a valid request for each endpoint and
one violation per declared rule, and checks that the validator refuses it with the declared code and a
message naming the field. ``test_the_table_is_pinned`` compares a flat listing of the table with the one
written below, so that dropping or loosening a constraint fails a test instead of passing silently.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.emulator.app import ROUTES
from airflow_provider_tiktok.emulator.envelope import ApiError
from airflow_provider_tiktok.emulator.routing import FilePart
from airflow_provider_tiktok.emulator.spec import EVENT_ROW, SPECS
from airflow_provider_tiktok.emulator.validation import BODY, Field, check_row, validate

pytestmark = pytest.mark.unit

#: What a valid request needs beyond its declared fields: the rules across fields (update needs a name or
#: files; an upload's name must end in .csv or .txt).
EXTRA: dict[str, dict[str, Any]] = {
    "dmp/custom_audience/update/": {"custom_audience_name": "Renamed"},
    "dmp/custom_audience/file/upload/": {"name": "ids.csv", "file_name": "ids.csv"},
}


def sample(spec: Field, *, full: bool = False) -> Any:
    """A value that satisfies ``spec`` (``full``: objects carry their optional properties too)."""
    if spec.enum:
        return spec.enum[0]
    kind = spec.kind
    if kind == "string":
        return "x" * max(spec.min_length or 1, 1)
    if kind == "int64":
        return ADVERTISER_A
    if kind == "integer":
        return int(spec.minimum if spec.minimum is not None else 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "file":
        return FilePart("ids.csv", b"a" * 64)
    if kind == "sha256":
        return "a" * 64
    if kind == "array":
        return [sample(spec.items, full=full) if spec.items else "x"] * (spec.min_items or 1)
    assert kind == "object", kind
    return {name: sample(prop, full=full) for name, prop in spec.properties.items() if full or prop.required}


def request_of(path: str, *, full: bool) -> dict[str, Any]:
    """A valid request of the endpoint, built from its declaration (required fields only, or every field)."""
    spec = SPECS[path]
    values = {name: sample(f, full=full) for name, f in spec.fields.items() if full or f.required}
    return {**values, **EXTRA.get(path, {})}


@dataclass(frozen=True)
class Case:
    """One violation: the field path it targets, the value to put there (``MISSING`` removes it), what to expect."""

    path: str
    value: Any
    code: int
    rule: str
    label: str | None = None


MISSING = object()
_WRONG_TYPE = {
    "string": (12345, "must be a string"),
    "int64": ("12a4", "must be an int64 id (digits only)"),
    "integer": ("five", "must be an integer"),
    "number": ("a lot", "must be a number"),
    "boolean": ("maybe", "must be a boolean"),
    "array": ({"a": 1}, "must be a JSON array"),
    "object": ([1], "must be a JSON object"),
    "file": ("not a file", "must be a file (multipart)"),
    "sha256": ("Someone@Example.com", "must be SHA-256 hashed (64 lower-case hex characters)"),
}


def _missing(spec: Field, path: str, context: dict[str, Any]) -> Iterator[Case]:
    """The field left out, when it is required (here)."""
    if spec.required:
        yield Case(path, MISSING, spec.code, "is required")
    elif spec.required_if is not None:
        name, wanted = spec.required_if
        if context.get(name) == wanted:
            yield Case(path, MISSING, spec.code, f"is required when {name} is {wanted}")


def violations(spec: Field, path: str, context: dict[str, Any]) -> Iterator[Case]:
    """Every violation the declaration of one field implies (recursively for items and properties)."""
    code = spec.code
    yield from _missing(spec, path, context)
    wrong, rule = _WRONG_TYPE[spec.kind]
    yield Case(path, wrong, code, rule, spec.label)
    if spec.enum:
        yield Case(
            path, "NOT_" + spec.enum[0], code, "must be one of" if len(spec.enum) <= 12 else "must be", spec.label
        )
    if spec.minimum is not None:
        yield Case(path, spec.minimum - 1, code, "must be", spec.label)
    if spec.maximum is not None:
        yield Case(path, spec.maximum + 1, code, "must be", spec.label)
    if spec.min_length:
        yield Case(path, "x" * (spec.min_length - 1), code, "characters long", spec.label)
    if spec.max_length is not None:
        yield Case(path, "x" * (spec.max_length + 1), code, "characters long", spec.label)
    count_code = spec.count_code or code
    item = sample(spec.items) if spec.items else "x"
    if spec.min_items:
        yield Case(path, [item] * (spec.min_items - 1), count_code, f"items, got {spec.min_items - 1}")
    if spec.max_items is not None:
        yield Case(path, [item] * (spec.max_items + 1), count_code, f"items, got {spec.max_items + 1}")
    if spec.items is not None and not spec.rows:
        yield from violations(spec.items, f"{path}.0", context)
    for name, prop in spec.properties.items():
        yield from violations(prop, f"{path}.{name}" if path else name, context)


def put(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``values`` with ``value`` at the dotted ``path`` (``MISSING`` removes the key)."""
    out = copy.deepcopy(values)
    *parents, last = path.split(".")
    node: Any = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is MISSING:
        node.pop(last, None)
    else:
        node[last] = value
    return out


def test_every_route_has_a_declared_source() -> None:  # app.create_app also refuses to start otherwise
    assert {route.path for route in ROUTES} == set(SPECS)
    for path, spec in SPECS.items():
        assert spec.source.endswith(".yml") or "no yml" in spec.source or "unsourced" in spec.source, path


@pytest.mark.parametrize("path", sorted(SPECS))
def test_requests_built_from_the_table_pass_and_get_the_defaults(path: str) -> None:
    validate(SPECS[path], request_of(path, full=True))
    checked = validate(SPECS[path], request_of(path, full=False))
    for name, field in SPECS[path].fields.items():
        if field.default is not None:
            assert checked[name] == field.default, name


CASES = [
    (path, case)
    for path, spec in SPECS.items()
    for name, field in spec.fields.items()
    for case in violations(field, name, {})
]


@pytest.mark.parametrize(("path", "case"), CASES, ids=[f"{p}:{c.path}:{c.rule}" for p, c in CASES])
def test_every_constraint_is_enforced(path: str, case: Case) -> None:
    request = put(request_of(path, full=True), case.path, case.value)
    top = case.path.split(".")[0]
    if SPECS[path].location != BODY and isinstance(request.get(top), list | dict):
        request[top] = json.dumps(request[top])  # JSON-encoded, as a GET parameter
    with pytest.raises(ApiError) as refused:
        validate(SPECS[path], request)
    assert refused.value.code == case.code
    message = refused.value.message
    if case.label:
        assert message == f"{case.label}: {case.path}"
    else:
        assert message.startswith(f"{case.path}: ")
        assert case.rule in message


ROW_CASES = [
    (source, case)
    for source in ("web", "app", "offline", "crm")
    for case in violations(EVENT_ROW, "", {"event_source": source})
    if case.path  # the row itself (not an object): covered by test_events
]


@pytest.mark.parametrize(("source", "case"), ROW_CASES, ids=[f"{s}:{c.path}={c.rule}" for s, c in ROW_CASES])
def test_every_event_row_constraint_is_enforced(source: str, case: Case) -> None:
    row = sample(EVENT_ROW, full=True)
    assert check_row(EVENT_ROW, row, {"event_source": source}) is None
    problem = check_row(EVENT_ROW, put(row, case.path, case.value), {"event_source": source})
    assert problem is not None, case
    assert (problem.path, problem.code) == (case.path, case.code)
    assert case.rule in problem.rule
    assert problem.label == case.label


def _enum_lines(spec: Field) -> Iterator[str]:
    """A short enum's values, five a line (a long one, ISO 4217, is pinned by its size only)."""
    if spec.enum and len(spec.enum) <= 12:
        for start in range(0, len(spec.enum), 5):
            yield f"  = {'|'.join(spec.enum[start : start + 5])}"


def flatten(spec: Field, path: str) -> Iterator[str]:
    """One line per declared rule of a field, e.g. ``history_size integer 1..100 default=100``."""
    rules = [spec.kind]
    if spec.required:
        rules.append("required")
    if spec.required_if:
        rules.append("required_if={}={}".format(*spec.required_if))
    if spec.enum:
        rules.append(f"enum[{len(spec.enum)}]")
    if spec.minimum is not None or spec.maximum is not None:
        rules.append(f"{spec.minimum}..{spec.maximum}")
    if spec.min_length is not None or spec.max_length is not None:
        rules.append(f"len {spec.min_length}..{spec.max_length}")
    if spec.min_items is not None or spec.max_items is not None:
        rules.append(f"items {spec.min_items}..{spec.max_items}")
    if spec.default is not None:
        rules.append(f"default={spec.default}")
    if spec.code != 40002 or spec.count_code:
        rules.append(f"code={spec.code}" + (f"/{spec.count_code}" if spec.count_code else ""))
    yield f"{path} {' '.join(rules)}"
    yield from _enum_lines(spec)
    if spec.items is not None:
        yield from flatten(spec.items, f"{path}[]")
    for name, prop in spec.properties.items():
        yield from flatten(prop, f"{path}.{name}")


def listing() -> list[str]:
    """The whole table, flat."""
    lines = []
    for path, spec in SPECS.items():
        checks = ", ".join(check.__name__ for check in spec.checks) or "-"
        lines.append(f"{path} <- {spec.source} ({spec.location}; checks: {checks})")
        for name, field in spec.fields.items():
            lines.extend(f"  {line}" for line in flatten(field, name))
    return lines


PINNED = """
dmp/custom_audience/file/upload/ <- dmp_custom_audience_file_upload.yml (form; checks: _customer_file_name)
  advertiser_id int64 required
  calculate_type string required enum[11]
    = EMAIL_SHA256|PHONE_SHA256|IDFA_SHA256|GAID_SHA256|IDFA_MD5
    = GAID_MD5|FIRST_SHA256|FIRST_MD5|MULTIPLE_TYPES|MAID_SHA256
    = MAID_MD5
  file file required
  file_signature string required
  name string
  file_name string
dmp/custom_audience/create/ <- dmp_custom_audience_create.yml (body; checks: -)
  advertiser_id int64 required
  custom_audience_name string required len 1..128
  calculate_type string required enum[9]
    = EMAIL_SHA256|PHONE_SHA256|IDFA_SHA256|GAID_SHA256|IDFA_MD5
    = GAID_MD5|FIRST_SHA256|FIRST_MD5|MULTIPLE_TYPES
  file_paths array required items 1..500
  file_paths[] string len 16..16
  retention_in_days integer 1..365
  audience_sub_type string enum[2] default=NORMAL
    = NORMAL|REACH_FREQUENCY
  audience_enhancement boolean default=False
dmp/custom_audience/update/ <- dmp_custom_audience_update.yml (body; checks: one_of(custom_audience_name, file_paths))
  advertiser_id int64 required
  custom_audience_id int64 required
  custom_audience_name string len 1..128
  file_paths array items 1..500
  file_paths[] string
  action string enum[3] default=REPLACE
    = REPLACE|APPEND|REMOVE
  audience_sub_type string enum[1]
    = REACH_FREQUENCY
  audience_enhancement boolean
  context_info object
  context_info.core_user_id int64
dmp/custom_audience/delete/ <- dmp_custom_audience_delete.yml (body; checks: -)
  advertiser_id int64 required
  custom_audience_ids array required items 1..100
  custom_audience_ids[] int64
dmp/custom_audience/get/ <- dmp_custom_audience_get.yml (query; checks: -)
  advertiser_id int64 required
  custom_audience_ids array required items 1..100
  custom_audience_ids[] int64
  history_size integer 1..100 default=100
dmp/custom_audience/list/ <- dmp_custom_audience_list.yml (query; checks: -)
  advertiser_id int64 required
  custom_audience_ids array items 1..100
  custom_audience_ids[] int64
  page integer 1..None default=1
  page_size integer 1..100 default=10
report/integrated/get/ <- report_integrated_get.yml (query; checks: -)
  report_type string required enum[6]
    = AUDIENCE|BASIC|BC|CATALOG|PLAYABLE_MATERIAL
    = TT_SHOP
  service_type string enum[2]
    = AUCTION|RESERVATION
  data_level string enum[8]
    = AUCTION_AD|AUCTION_ADGROUP|AUCTION_ADVERTISER|AUCTION_CAMPAIGN|RESERVATION_AD
    = RESERVATION_ADGROUP|RESERVATION_ADVERTISER|RESERVATION_CAMPAIGN
  advertiser_id int64
  advertiser_ids array
  advertiser_ids[] int64
  bc_id int64
  dimensions array
  dimensions[] string
  metrics array
  metrics[] string
  start_date string
  end_date string
  query_lifetime boolean
  enable_total_metrics boolean default=False
  multi_adv_report_in_utc_time boolean default=False
  query_mode string enum[2]
    = REGULAR|CHUNK
  order_field string
  order_type string enum[2]
    = ASC|DESC
  filtering array
  filtering[] object
  filtering[].field_name string required
  filtering[].filter_type string required enum[8]
    = BETWEEN|GREATER_EQUAL|GREATER_THAN|IN|LOWER_EQUAL
    = LOWER_THAN|MATCH|RANGE
  filtering[].filter_value string required
  page integer 1..None default=1
  page_size integer 1..1000 default=10
advertiser/info/ <- advertiser_info.yml (query; checks: -)
  advertiser_ids array required items 1..100
  advertiser_ids[] int64
  fields array
  fields[] string
ad/get/ <- python_sdk AdApi.ad_get (no yml) (query; checks: -)
  advertiser_id int64 required
  page integer 1..None default=1
  page_size integer 1..1000 default=10
  fields array
  fields[] string
  exclude_field_types_in_response array
  exclude_field_types_in_response[] string
  filtering object
  filtering.primary_status string enum[10]
    = STATUS_ALL|STATUS_CLOSED|STATUS_DELETE|STATUS_DELIVERY_OK|STATUS_DISABLE
    = STATUS_FROZEN|STATUS_NOT_DELETE|STATUS_NOT_DELIVERY|STATUS_RF_CLOSED|STATUS_TIME_DONE
  filtering.ad_ids array
  filtering.ad_ids[] int64
  filtering.adgroup_ids array
  filtering.adgroup_ids[] int64
  filtering.campaign_ids array
  filtering.campaign_ids[] int64
  filtering.modified_after string
campaign/get/ <- unsourced (ad/get conventions) (query; checks: -)
  advertiser_id int64 required
adgroup/get/ <- unsourced (ad/get conventions) (query; checks: -)
  advertiser_id int64 required
event/track/ <- connectors (no yml): TikTok GTM template, Segment, RudderStack (body; checks: -)
  event_source string required enum[4]
    = web|app|offline|crm
  event_source_id string required len 1..None
  partner_name string
  test_event_code string
  data array required items 1..1000 code=40002/40061
  data[] object
  data[].event string required len 1..None
  data[].event_time integer required
  data[].event_id string
  data[].user object
  data[].user.email sha256 code=40062
  data[].user.phone sha256 code=40062
  data[].user.external_id sha256 code=40062
  data[].user.att_status string enum[5]
    = AUTHORIZED|DENIED|NOT_DETERMINED|RESTRICTED|NOT_APPLICABLE
  data[].properties object
  data[].properties.currency string enum[178]
  data[].properties.value number 0..None code=40000
  data[].properties.contents array
  data[].properties.contents[] object
  data[].properties.contents[].price number 0..None code=40000
  data[].properties.contents[].quantity integer
  data[].page object
  data[].page.url string
  data[].page.referrer string
  data[].app object required_if=event_source=app
  data[].app.app_id string required len 1..None
  data[].app.app_name string
  data[].app.app_version string
  data[].lead object required_if=event_source=crm
  data[].lead.lead_id string required len 1..None
  data[].lead.lead_event_source string
  data[].limited_data_use boolean
oauth2/access_token/ <- python_sdk Oauth2AccessTokenBody (no yml) (body; checks: -)
  app_id string required
  secret string required
  auth_code string required
oauth2/advertiser/get/ <- python_sdk AuthenticationApi.oauth2_advertiser_get (no yml) (query; checks: -)
  app_id string required
  secret string required
oauth2/revoke_token/ <- unsourced (not in TikTok's SDK) (body; checks: -)
tt_user/oauth2/refresh_token/ <- unsourced (not in TikTok's SDK) (body; checks: -)
user/info/ <- unsourced (no yml; fact sheet) (query; checks: -)
"""


def test_the_table_is_pinned() -> None:
    assert listing() == PINNED.strip("\n").splitlines()
