"""What a handler receives and declares: the parsed request, its route, and the shared paging shape."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.emulator import params

if TYPE_CHECKING:
    from airflow_provider_tiktok.emulator.state import EmulatorState, Token


@dataclass(frozen=True)
class FilePart:
    """An uploaded multipart file: its client-side name and bytes."""

    filename: str
    content: bytes


@dataclass
class ApiRequest:
    """One API call: merged parameters (query string, then JSON body or form fields) and its token."""

    path: str
    params: dict[str, Any]
    token: Token | None
    request_id: str

    def advertiser_id(self, state: EmulatorState, name: str = "advertiser_id") -> str:
        """The required advertiser id, checked against the token (40001 when not authorised)."""
        advertiser_id = params.required_text(self.params, name)
        if self.token is not None:  # every route that names an advertiser requires a token
            state.check_advertiser(self.token, advertiser_id)
        return advertiser_id


Handler = Callable[["EmulatorState", ApiRequest], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """An API endpoint: method, path under ``/open_api/v1.3/`` (with its trailing slash), handler, scope.

    ``scope`` is None for the token-issuing endpoints (no ``Access-Token``), "" for any valid token,
    else the scope name the token must carry. ``before`` runs after the token check and before the
    request is validated against :mod:`.spec`: bookkeeping TikTok does even for a call it then refuses
    (an audience's daily budget).
    """

    method: str
    path: str
    handler: Handler
    scope: str | None
    before: Handler | None = None


def paginate(items: Sequence[Any], page: int, page_size: int) -> tuple[Sequence[Any], dict[str, int]]:
    """One page of ``items`` and TikTok's exact ``page_info`` (a page past the end is just empty)."""
    start = (page - 1) * page_size
    info = {
        "page": page,
        "page_size": page_size,
        "total_number": len(items),
        "total_page": math.ceil(len(items) / page_size),
    }
    return items[start : start + page_size], info


def page_params(request: ApiRequest, *, max_page_size: int, default_page_size: int = 10) -> tuple[int, int]:
    """The ``page`` (default 1) and ``page_size`` (1..max) parameters."""
    page = params.integer(request.params, "page", default=1, minimum=1) or 1
    size = params.integer(request.params, "page_size", default=default_page_size, minimum=1, maximum=max_page_size)
    return page, size or default_page_size
