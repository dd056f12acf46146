"""Completeness of a paginated listing: the distinct items read, checked against TikTok's own ``page_info``.

TikTok pages a listing by offset. When items are added, deleted or reordered while the pages are read, an item
can move from an unread page to a read one (and is missed) or the other way (and is read twice). A listing
used to write data must therefore come out with exactly ``page_info.total_number`` distinct items over
``page_info.total_page`` pages; anything else fails the read, so the task's retry reads it again rather than
writing values guessed for what is missing. Pure (no I/O): the hook feeds it pages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_tiktok.exceptions import TikTokApiError

#: How to tell a listing's items apart: a function of one item.
ItemKey = Callable[[Mapping[str, Any]], Hashable]


def by_field(name: str) -> ItemKey:
    """Items told apart by one id field (``ad_id``, ``audience_id``); an item without it has no key (None)."""

    def key(item: Mapping[str, Any]) -> Hashable:
        value = item.get(name) if isinstance(item, Mapping) else None
        return None if value in (None, "") else str(value)

    return key


def by_dimensions(item: Mapping[str, Any]) -> Hashable:
    """Report rows told apart by their whole ``dimensions`` (e.g. ad id and day)."""
    dimensions = item.get("dimensions") if isinstance(item, Mapping) else None
    if not isinstance(dimensions, Mapping) or not dimensions:
        return None
    return tuple(sorted((str(k), str(v)) for k, v in dimensions.items()))


def by_value(item: object) -> Hashable:
    """Items told apart by their whole value (a listing without a known id field: only exact repeats merge)."""
    return json.dumps(item, sort_keys=True, default=str)


@dataclass
class ListingCheck:
    """The running count of one listing's read: items, distinct keys, pages and TikTok's latest totals."""

    #: What the listing is, for the error ("ad listing", "report of 2026-03-01..2026-03-03").
    label: str
    path: str
    key: ItemKey
    list_key: str = "list"
    items: int = 0
    pages: int = 0
    keyless: int = 0
    total_number: int | None = None
    total_page: int | None = None
    seen: set[Hashable] = field(default_factory=set)

    def read(self, send: Callable[[int], dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield pages 1, 2, ... as ``send(page)`` answers them, none past ``total_page`` (or after an empty one);
        once the last is consumed, :meth:`verify` the whole read."""
        page = 1
        while True:
            data = send(page)
            self.add(data)
            yield data
            if page >= (self.total_page or 0) or not data.get(self.list_key):
                break
            page += 1
        self.verify()

    def add(self, page: Mapping[str, Any]) -> None:
        """Count one page's items and keep its ``page_info`` (the last page's totals are the ones checked)."""
        self.pages += 1
        for item in page.get(self.list_key) or []:
            self.items += 1
            key = self.key(item)
            if key is None:
                self.keyless += 1
            else:
                self.seen.add(key)
        info = page.get("page_info")
        if isinstance(info, Mapping):
            self.total_number = _count(info.get("total_number"), self.total_number)
            self.total_page = _count(info.get("total_page"), self.total_page)

    def verify(self) -> None:
        """Raise unless exactly ``total_number`` distinct items were read, once each, on ``total_page`` pages."""
        problem = self.problem()
        if problem is None:
            return
        said = "?" if self.total_number is None else _items(self.total_number)
        pages = "?" if self.total_page is None else _plural(self.total_page, "page")
        raise TikTokApiError(
            None,
            f"the {self.label} is incomplete: {problem} (read {_items(self.items)}, {len(self.seen)} distinct, on "
            f"{_plural(self.pages, 'page')}; page_info says {said} on {pages}), so it was not used: run the task "
            "again (its retry reads the listing again)",
            path=self.path,
        )

    def problem(self) -> str | None:
        """What is wrong with the read, or None when it is complete."""
        moved = "items moved between its pages while they were read"
        if self.keyless:
            return f"{_items(self.keyless)} carry no id, so they cannot be counted"
        if self.items != len(self.seen):
            return f"{_items(self.items - len(self.seen))} read twice: {moved}"
        if self.total_number is None:
            return "TikTok answered no page_info.total_number, so its completeness cannot be checked"
        if len(self.seen) < self.total_number:
            return f"{_items(self.total_number - len(self.seen))} missing: {moved}"
        if len(self.seen) > self.total_number:
            return f"{_items(len(self.seen) - self.total_number)} more than page_info counts: {moved}"
        if self.total_page is not None and self.total_number and self.pages != self.total_page:
            return f"{self.pages} pages were read, not {self.total_page}"
        return None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _items(count: int) -> str:
    return _plural(count, "item")


def _count(value: object, previous: int | None) -> int | None:
    """A page_info count as an int (a malformed or absent one keeps the previous page's)."""
    if isinstance(value, bool):
        return previous
    try:
        return int(str(value)) if value is not None else previous
    except ValueError:
        return previous
