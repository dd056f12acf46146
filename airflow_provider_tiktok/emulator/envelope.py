"""TikTok's response envelope and the codes the emulator answers with.

Every API answer is HTTP 200 with ``{"code", "message", "request_id", "data"}``; success is code 0 with
message "OK". Handlers raise :class:`ApiError` for any other code (including 20001 partial success,
which carries per-row details in ``data``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

OK = 0
PARTIAL_SUCCESS = 20001
#: TikTok's SDK names 40000 INVALID_PARAMS and 40002 PARAM_ERROR; the emulator's INVALID_PARAMS below predates
#: that and means 40002 (the common "invalid request parameter"). 40000 is what TikTok answers for some bad
#: values of an event row, e.g. "Invalid Price Field: data.3.properties.contents.0.price".
BAD_VALUE = 40000
NO_PERMISSION = 40001
INVALID_PARAMS = 40002
INVALID_BATCH_SIZE = 40061
PII_NOT_HASHED = 40062
REPORT_TOO_LARGE = 40067
RATE_LIMITED = 40100
TOKEN_EXPIRED = 40102
REFRESH_TOKEN_EXPIRED = 40103
TOKEN_MISSING = 40104
TOKEN_INVALID = 40105
REFRESH_TOKEN_INVALID = 40107
INVALID_GRANT_TYPE = 40108
AUTH_CODE_INVALID = 40110
SCOPE_NOT_AUTHORIZED = 40130
FILE_SIGNATURE_MISMATCH = 40900
FILE_NOT_FOUND = 40905
FILE_EMPTY = 40906
FILE_TOO_LARGE = 40907
FILE_WRONG_TYPE = 40908
CALCULATE_TYPE_MISMATCH = 40909
FILE_EXPIRED = 40910


class ApiError(Exception):
    """A non-zero envelope code: an error, or 20001 partial success with details in ``data``."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        """Keep the code, message and optional data to answer with."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data or {}


def new_request_id(now: datetime) -> str:
    """A unique id shaped like TikTok's (timestamp then random hex), also sent as ``X-Tt-Logid``."""
    return f"{now:%Y%m%d%H%M%S}{uuid.uuid4().hex[:20].upper()}"


def envelope(
    request_id: str, data: dict[str, Any] | None = None, code: int = OK, message: str = "OK"
) -> dict[str, Any]:
    """The JSON body of every API answer."""
    return {"code": code, "message": message, "request_id": request_id, "data": data if data is not None else {}}
