"""Reading request parameters the way TikTok does, whatever the client's encoding.

GET parameters arrive as strings: lists and objects JSON-encoded (TikTok's SDK uses ``json.dumps``, with a
space after each comma) and booleans as ``true``/``True``. POST bodies arrive as typed JSON. Every reader
accepts both forms, so values are parsed, never compared as strings; a bad value raises 40002 naming it.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_tiktok.emulator.envelope import INVALID_PARAMS, ApiError

Params = dict[str, Any]


def _missing(name: str) -> ApiError:
    """The error for an absent required parameter."""
    return ApiError(INVALID_PARAMS, f"{name}: Missing data for required field.")


def text(params: Params, name: str, *, default: str | None = None) -> str | None:
    """A string parameter (numbers are accepted and turned into text, as ids often are)."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApiError(INVALID_PARAMS, f"{name}: Not a valid string.")
    return str(value)


def required_text(params: Params, name: str) -> str:
    """A string parameter that must be present (40002 otherwise)."""
    value = text(params, name)
    if value is None:
        raise _missing(name)
    return value


def integer(
    params: Params,
    name: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    required: bool = False,
) -> int | None:
    """An integer parameter within optional bounds."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise _missing(name)
        return default
    if isinstance(value, bool):
        raise ApiError(INVALID_PARAMS, f"{name}: Not a valid integer.")
    try:
        number = int(value) if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise ApiError(INVALID_PARAMS, f"{name}: Not a valid integer.") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ApiError(INVALID_PARAMS, f"{name}: Must be {bounds}, got {number}.")
    return number


def boolean(params: Params, name: str, *, default: bool = False) -> bool:
    """A boolean parameter: JSON ``true``/``false`` or Python's ``True``/``False`` (case-insensitive)."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered not in ("true", "false"):
        raise ApiError(INVALID_PARAMS, f"{name}: Not a valid boolean.")
    return lowered == "true"


def decoded(params: Params, name: str, kind: type, *, required: bool = False) -> Any:
    """A list or object parameter, JSON-decoded when it arrives as a string."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise _missing(name)
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError(INVALID_PARAMS, f"{name}: Not valid JSON.") from None
    if not isinstance(value, kind):
        raise ApiError(INVALID_PARAMS, f"{name}: Expected a JSON {'array' if kind is list else 'object'}.")
    return value


def id_list(
    params: Params, name: str, *, required: bool = False, min_items: int = 0, max_items: int | None = None
) -> list[str] | None:
    """A JSON list of ids (strings or numbers) as strings, with optional size bounds."""
    values = decoded(params, name, list, required=required)
    if values is None:
        return None
    if any(isinstance(v, bool) or not isinstance(v, str | int) for v in values):
        raise ApiError(INVALID_PARAMS, f"{name}: Every item must be an id string.")
    if len(values) < min_items or (max_items is not None and len(values) > max_items):
        bounds = f"between {min_items} and {max_items}" if max_items is not None else f"at least {min_items}"
        raise ApiError(INVALID_PARAMS, f"{name}: Length must be {bounds}, got {len(values)}.")
    return [str(v) for v in values]
