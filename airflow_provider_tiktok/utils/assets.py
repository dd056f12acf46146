"""The Asset an operator updates: declared at parse time when its identity is a literal, else via an alias.

A literal identity (an advertiser id, a pixel code written in the DAG file) declares the ``Asset`` itself,
so Airflow registers it when parsing the DAG. Only a value known at run time (a template, an XComArg) falls
back to an ``AssetAlias`` to which each run attaches its asset: two concurrent first runs emitting a new
asset through an alias race to create it and one fails at task success (UNIQUE constraint).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_tiktok.compat import Asset, AssetAlias

_DIGITS = re.compile(r"\s*[0-9]+\s*")  # ASCII digits only: an id in other digits is refused when the task runs
_TEMPLATE_MARKERS = ("{{", "{%", "{#")


def literal_id(value: object) -> str | None:
    """A numeric id (advertiser, audience) written in the DAG file, stripped; None for anything rendered later."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text.strip() if _DIGITS.fullmatch(text) else None


def literal_text(value: object) -> str | None:
    """A string without Jinja markers (so rendering leaves it unchanged); None for templates and XComArgs."""
    if not isinstance(value, str) or not value or any(marker in value for marker in _TEMPLATE_MARKERS):
        return None
    return value


def with_outlet(outlets: Any, asset: Asset | None, alias_name: str) -> tuple[list[Any], Asset | AssetAlias]:
    """The task's own outlets plus ours, and ours: ``asset`` when known at parse time, else the alias."""
    from airflow_provider_tiktok.compat import AssetAlias

    own = list(outlets) if isinstance(outlets, list | tuple) else ([outlets] if outlets else [])
    outlet = asset if asset is not None else AssetAlias(name=alias_name)
    return [*own, outlet], outlet


def emit(context: Mapping[str, Any], outlet: Asset | AssetAlias, asset: Asset, extra: dict[str, Any]) -> None:
    """Record the run's event on ``asset`` with ``extra``: on the declared asset, or attached through the alias.

    A context without ``outlet_events`` (``execute`` called directly, outside a task run) records nothing.
    """
    from airflow_provider_tiktok.compat import AssetAlias

    events = context.get("outlet_events")
    if events is None:
        return
    if isinstance(outlet, AssetAlias):
        events[outlet].add(asset, extra=extra)
    else:
        events[outlet].extra = extra
