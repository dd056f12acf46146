"""The engine behind :mod:`.spec`: field declarations and the checks every request passes before its handler.

A :class:`Field` declares one parameter the way an OpenAPI definition does (type, required, enum,
minimum/maximum, minLength/maxLength, minItems/maxItems, items, properties, default) plus what TikTok's
gateway adds: ``int64`` ids (``x-open-convert: int64``: digits only), JSON-encoded GET parameters, and a
few emulator needs (the envelope ``code`` a violation answers, a requirement that depends on another
parameter). :func:`validate` checks a whole request and returns its parameters decoded, with defaults
filled in; :func:`check_row` checks one ``event/track`` event and returns the first violation, so the
handler can keep its per-row behaviour (partial success, messages with or without the row index).

Messages name the field and the rule (``history_size: must be between 1 and 100``) and never echo the
value, which could be personal data; only item counts are quoted.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_tiktok.emulator.envelope import INVALID_PARAMS, ApiError
from airflow_provider_tiktok.emulator.routing import FilePart

#: Where an endpoint's parameters arrive. Query strings and multipart forms carry text that is parsed
#: (``"5"`` is an integer, ``'["a"]'`` a JSON array); a JSON body must carry the declared JSON types
#: (the definitions mark body fields ``x-open-allow-strnum: false``).
QUERY, FORM, BODY = "query", "form", "body"
INT64_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
#: Enums longer than this are named by their ``hint`` (or "a valid value") instead of listed.
_ENUM_LISTED = 12


@dataclass(frozen=True)
class Field:
    """One declared parameter (or nested property, or array item).

    ``kind``: ``string``, ``integer``, ``number``, ``boolean``, ``int64`` (an id: a string of digits or a
    JSON integer within int64, answered as a string), ``array``, ``object``, ``file`` (a multipart file)
    or ``sha256`` (64 lower-case hex characters, or a list of them).
    """

    kind: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    #: How a long enum is named in messages ("an ISO 4217 currency code").
    hint: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    items: Field | None = None
    properties: Mapping[str, Field] = field(default_factory=dict)
    #: Filled in when the parameter is absent (top-level parameters only).
    default: Any = None
    #: Required only when a top-level parameter has this value, e.g. ``("event_source", "app")``.
    required_if: tuple[str, str] | None = None
    #: The envelope code of a violation (40002 unless TikTok answers another, e.g. 40062, 40000).
    code: int = INVALID_PARAMS
    #: The code of an item-count violation, when it differs (``event/track``'s 40061 for its batch size).
    count_code: int | None = None
    #: TikTok's own wording for this field's violations, answered as ``"<label>: <path>"``.
    label: str | None = None
    #: The items are checked one by one by the handler (:func:`check_row`), not by :func:`validate`.
    rows: bool = False


Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class EndpointSpec:
    """The declared parameters of one endpoint and the definition file (or other source) they come from."""

    source: str
    location: str
    fields: Mapping[str, Field] = field(default_factory=dict)
    #: Rules across fields (one of two required, a file's name), run after the fields, in order.
    checks: tuple[Check, ...] = ()


@dataclass
class Violation(Exception):
    """A value that breaks its declaration: the code to answer, the field's path and the rule."""

    code: int
    path: str
    rule: str
    label: str | None = None

    @property
    def message(self) -> str:
        """TikTok-style: the field and the rule, or TikTok's own label and the field."""
        return f"{self.label}: {self.path}" if self.label else f"{self.path}: {self.rule}"


def _absent(value: Any, location: str) -> bool:
    """Whether a parameter counts as not sent (an empty query or form value is not sent)."""
    return value is None or (location != BODY and value == "")


def _range_rule(low: float | None, high: float | None, unit: str = "") -> str:
    """The rule of a range: "must be between 1 and 100", "... at least 1", "... at most 100" (plus a unit)."""
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return (
            f"must be exactly {_num(low)}{suffix}"
            if low == high
            else f"must be between {_num(low)} and {_num(high)}{suffix}"
        )
    if low is not None:
        return f"must be at least {_num(low)}{suffix}"
    return f"must be at most {_num(high)}{suffix}"


def _num(value: float | None) -> str:
    """A bound without a needless ``.0``."""
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


def _enum_rule(spec: Field) -> str:
    """The rule of an enum: "must be one of A, B" (or the enum's hint when it is long)."""
    assert spec.enum is not None
    if len(spec.enum) <= _ENUM_LISTED:
        return f"must be one of {', '.join(spec.enum)}"
    return f"must be {spec.hint or 'a valid value'}"


def _fail(spec: Field, path: str, rule: str, code: int | None = None) -> Violation:
    """The violation of ``spec`` at ``path``."""
    return Violation(code if code is not None else spec.code, path, rule, spec.label)


def _decode_json(spec: Field, value: Any, path: str, kind: type, text: bool) -> Any:
    """A list/object parameter, JSON-decoded when it arrives as text (GET parameters, form fields)."""
    if text and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _fail(spec, path, "must be valid JSON") from None
    if not isinstance(value, kind):
        raise _fail(spec, path, f"must be a JSON {'array' if kind is list else 'object'}")
    return value


def _scalar(spec: Field, value: Any, path: str, text: bool) -> Any:
    """Type-check (and, from text, parse) a scalar value."""
    kind = spec.kind
    if kind == "string":
        if not isinstance(value, str):
            raise _fail(spec, path, "must be a string")
        return value
    if kind == "int64":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX:
            return str(value)
        if isinstance(value, str) and _DIGITS.fullmatch(value) and int(value) <= INT64_MAX:
            return value
        raise _fail(spec, path, "must be an int64 id (digits only)")
    if kind == "integer":
        if text and isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
            return int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(spec, path, "must be an integer")
        return value
    if kind == "number":
        if text and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise _fail(spec, path, "must be a number") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _fail(spec, path, "must be a number")
        return value
    if kind == "boolean":
        if text and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise _fail(spec, path, "must be a boolean")
        return value
    if kind == "file":
        if not isinstance(value, FilePart):
            raise _fail(spec, path, "must be a file (multipart)")
        return value
    if kind == "sha256":
        for item in value if isinstance(value, list) else (value,):
            if not isinstance(item, str) or not _SHA256_HEX.fullmatch(item):
                raise _fail(spec, path, "must be SHA-256 hashed (64 lower-case hex characters)")
        return value
    raise ValueError(f"unknown field kind {kind!r}")  # a mistake in the table, not in the request


def check_value(spec: Field, value: Any, path: str, *, text: bool, context: Mapping[str, Any]) -> Any:
    """The value checked against ``spec`` (recursively) and normalised; raises :class:`Violation`."""
    if spec.kind == "array":
        value = _decode_json(spec, value, path, list, text)
        count = len(value)
        if (spec.min_items is not None and count < spec.min_items) or (
            spec.max_items is not None and count > spec.max_items
        ):
            rule = _range_rule(spec.min_items, spec.max_items, "items")
            raise _fail(spec, path, f"{rule.replace('must be', 'must hold')}, got {count}", spec.count_code)
        if spec.items is None or spec.rows:
            return value
        return [
            check_value(spec.items, item, f"{path}.{i}", text=False, context=context) for i, item in enumerate(value)
        ]
    if spec.kind == "object":
        value = _decode_json(spec, value, path, dict, text)
        return check_fields(spec.properties, value, path, text=False, context=context)
    value = _scalar(spec, value, path, text)
    if spec.enum is not None and value not in spec.enum:
        raise _fail(spec, path, _enum_rule(spec))
    if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
        raise _fail(spec, path, _range_rule(spec.minimum, spec.maximum))
    if isinstance(value, str) and (
        (spec.min_length is not None and len(value) < spec.min_length)
        or (spec.max_length is not None and len(value) > spec.max_length)
    ):
        raise _fail(spec, path, _range_rule(spec.min_length, spec.max_length, "characters long"))
    return value


def _is_required(spec: Field, context: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether the field must be present here, and the rule to name when it is not."""
    if spec.required:
        return True, "is required"
    if spec.required_if is not None:
        name, wanted = spec.required_if
        if context.get(name) == wanted:
            return True, f"is required when {name} is {wanted}"
    return False, ""


def check_fields(
    fields: Mapping[str, Field],
    values: dict[str, Any],
    prefix: str = "",
    *,
    text: bool = False,
    context: Mapping[str, Any],
    location: str = BODY,
) -> dict[str, Any]:
    """``values`` with every declared field checked and normalised (undeclared keys pass through)."""
    out = dict(values)
    for name, spec in fields.items():
        path = f"{prefix}.{name}" if prefix else name
        value = values.get(name)
        if _absent(value, location) or (spec.kind == "sha256" and value in ("", [])):
            required, rule = _is_required(spec, context)
            if required:
                raise Violation(spec.code, path, rule, None)
            out.pop(name, None)
            if spec.default is not None:
                out[name] = spec.default
            continue
        out[name] = check_value(spec, value, path, text=text, context=context)
    return out


def validate(spec: EndpointSpec, params: dict[str, Any]) -> dict[str, Any]:
    """The request's parameters checked against ``spec``, decoded and with defaults; raises :class:`ApiError`."""
    try:
        checked = check_fields(spec.fields, params, text=spec.location != BODY, context=params, location=spec.location)
        for check in spec.checks:
            check(checked)
    except Violation as violation:
        raise ApiError(violation.code, violation.message) from None
    return checked


def check_row(row_spec: Field, row: Any, context: Mapping[str, Any]) -> Violation | None:
    """The first violation of one row (an ``event/track`` event) against ``row_spec``, or None."""
    try:
        check_value(row_spec, row, "", text=False, context=context)
    except Violation as violation:
        return violation
    return None


def one_of(*names: str) -> Check:
    """A rule: at least one of ``names`` must be sent."""

    def check(values: dict[str, Any]) -> None:
        if all(values.get(name) is None for name in names):
            raise Violation(INVALID_PARAMS, ", ".join(names), "one of them is required")

    check.__name__ = f"one_of({', '.join(names)})"
    check.__doc__ = f"One of {', '.join(names)} is required."
    return check
