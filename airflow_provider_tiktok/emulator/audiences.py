"""Custom audiences from customer files (the DMP API), with TikTok's limits enforced.

- ``file/upload/``: multipart; the name must end ``.csv``/``.txt`` (40908), ``file_signature`` is the MD5
  hex of the bytes (40900), empty 40906, larger than ``settings.max_upload_bytes`` 40907; every line must be
  64 hex characters for ``*_SHA256`` types, 32 for ``*_MD5`` (``MULTIPLE_TYPES``: comma-separated cells of
  either), else 40002 naming the line. A ``file_path`` expires after ``settings.file_path_ttl_seconds``
  (40910); unknown paths answer 40905; a type other than the audience's answers 40909.
- ``create/``, ``update/`` (APPEND, REMOVE, REPLACE; REPLACE when ``action`` is omitted; a name alone
  renames), ``delete/``: 1..500 file paths a call (the largest count seen is kept in the stats). APPEND,
  REMOVE and REPLACE fail, membership unchanged, when fewer than 1,000 users would remain; a REPLACE while
  an earlier REPLACE is processing (``settings.replace_processing_seconds``) is rejected.
- Every create/update/delete call that names an audience counts against its budget of
  ``settings.audience_daily_limit`` (24) calls per UTC day of the emulator clock, whether or not it then
  succeeds; once spent, calls answer 40002 ("daily limit ... reached") and change nothing.
- ``get/`` and ``list/`` report ``cover_num`` (every uploaded id "matches"), ``is_valid`` (>= 1,000 users)
  and the history of operations.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_tiktok.emulator import params
from airflow_provider_tiktok.emulator.envelope import (
    CALCULATE_TYPE_MISMATCH,
    FILE_EMPTY,
    FILE_EXPIRED,
    FILE_NOT_FOUND,
    FILE_SIGNATURE_MISMATCH,
    FILE_TOO_LARGE,
    FILE_WRONG_TYPE,
    INVALID_PARAMS,
    ApiError,
)
from airflow_provider_tiktok.emulator.routing import ApiRequest, FilePart, Route, page_params, paginate
from airflow_provider_tiktok.emulator.state import Audience, EmulatorState, UploadedFile

CALCULATE_TYPES = (
    "EMAIL_SHA256",
    "PHONE_SHA256",
    "IDFA_SHA256",
    "GAID_SHA256",
    "IDFA_MD5",
    "GAID_MD5",
    "MAID_SHA256",
    "MAID_MD5",
    "FIRST_SHA256",
    "MULTIPLE_TYPES",
)
ACTIONS = ("APPEND", "REMOVE", "REPLACE")
MIN_MEMBERS = 1000
MAX_FILE_PATHS = 500
MAX_NAME_LENGTH = 128
_HEX = {64: re.compile(r"[0-9a-fA-F]{64}"), 32: re.compile(r"[0-9a-fA-F]{32}")}
_ANY_HASH = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{32}")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _calculate_type(request: ApiRequest) -> str:
    """The required ``calculate_type``."""
    value = params.required_text(request.params, "calculate_type")
    if value not in CALCULATE_TYPES:
        raise ApiError(INVALID_PARAMS, f"calculate_type: Must be one of {', '.join(CALCULATE_TYPES)}.")
    return value


def _parse_ids(content: bytes, calculate_type: str) -> frozenset[str]:
    """The hashed ids of a customer file, one a line (lower-cased); 40906 when there are none."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(INVALID_PARAMS, "file: Must be UTF-8 text.") from None
    multiple = calculate_type == "MULTIPLE_TYPES"
    length = 32 if calculate_type.endswith("_MD5") else 64
    pattern = _ANY_HASH if multiple else _HEX[length]
    expected = "comma-separated 32 or 64 hex characters" if multiple else f"{length} hex characters"
    ids: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        for cell in [c.strip() for c in line.split(",")] if multiple else [line]:
            if not pattern.fullmatch(cell):
                raise ApiError(
                    INVALID_PARAMS, f"file: Line {number} is not a valid {calculate_type} value (expected {expected})."
                )
            ids.add(cell.lower())
    if not ids:
        raise ApiError(FILE_EMPTY, "file: The file is empty.")
    return frozenset(ids)


def file_upload(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST dmp/custom_audience/file/upload/``: store a customer file, answer its ``file_path``."""
    p = request.params
    advertiser_id = request.advertiser_id(state)
    calculate_type = _calculate_type(request)
    part = p.get("file")
    if not isinstance(part, FilePart):
        raise ApiError(INVALID_PARAMS, "file: Missing data for required field.")
    name = params.text(p, "file_name") or part.filename
    if not name.endswith((".csv", ".txt")):
        raise ApiError(FILE_WRONG_TYPE, "file_name: The file must be a .csv or .txt file.")
    if len(part.content) > state.settings.max_upload_bytes:
        raise ApiError(FILE_TOO_LARGE, f"file: The file exceeds {state.settings.max_upload_bytes} bytes.")
    signature = params.required_text(p, "file_signature")
    if signature.lower() != hashlib.md5(part.content).hexdigest():
        raise ApiError(FILE_SIGNATURE_MISMATCH, "file_signature: Does not match the MD5 of the file.")
    ids = _parse_ids(part.content, calculate_type)
    file_path = f"emulator/{advertiser_id}/{secrets.token_hex(12)}{name[-4:]}"
    state.files[file_path] = UploadedFile(file_path, advertiser_id, calculate_type, name, ids, state.now())
    return {"file_path": file_path}


def _files(state: EmulatorState, request: ApiRequest, advertiser_id: str, calculate_type: str) -> list[UploadedFile]:
    """The files named by ``file_paths`` (1..500; the largest count seen is recorded), all usable and of the type."""
    paths = params.decoded(request.params, "file_paths", list, required=True)
    state.max_file_paths = max(state.max_file_paths, len(paths))
    if not 1 <= len(paths) <= MAX_FILE_PATHS:
        raise ApiError(INVALID_PARAMS, f"file_paths: Length must be between 1 and {MAX_FILE_PATHS}, got {len(paths)}.")
    now = state.now()
    files = []
    for path in paths:
        found = state.files.get(path) if isinstance(path, str) else None
        if found is None or found.advertiser_id != advertiser_id:
            raise ApiError(FILE_NOT_FOUND, f"file_paths: File {path} does not exist.")
        if found.uploaded_at + timedelta(seconds=state.settings.file_path_ttl_seconds) <= now:
            raise ApiError(FILE_EXPIRED, f"file_paths: File {path} has expired, upload it again.")
        if found.calculate_type != calculate_type:
            raise ApiError(
                CALCULATE_TYPE_MISMATCH,
                f"file_paths: File {path} was uploaded as {found.calculate_type}, not {calculate_type}.",
            )
        files.append(found)
    return files


def _ids(files: Iterable[UploadedFile]) -> set[str]:
    """Every id in the files."""
    return set().union(*(f.ids for f in files))


def _size_after(members: set[str], action: str, ids: set[str]) -> int:
    """The audience size an APPEND / REMOVE / REPLACE of ``ids`` would leave, without building it: a 10M-member
    audience is then changed in place instead of copied (twice) for a 1% churn."""
    if action == "APPEND":
        return len(members) + sum(1 for i in ids if i not in members)
    if action == "REMOVE":
        return len(members) - sum(1 for i in ids if i in members)
    return len(ids)


def _name(request: ApiRequest, *, required: bool) -> str | None:
    """``custom_audience_name`` (at most 128 characters)."""
    p = request.params
    name = params.required_text(p, "custom_audience_name") if required else params.text(p, "custom_audience_name")
    if name is not None and len(name) > MAX_NAME_LENGTH:
        raise ApiError(INVALID_PARAMS, f"custom_audience_name: At most {MAX_NAME_LENGTH} characters.")
    return name


def _audience(state: EmulatorState, advertiser_id: str, audience_id: str) -> Audience:
    """An existing audience of the advertiser (40002 otherwise)."""
    audience = state.audiences.get(audience_id)
    if audience is None or audience.advertiser_id != advertiser_id:
        raise ApiError(INVALID_PARAMS, f"custom_audience_id: Audience {audience_id} does not exist.")
    return audience


def _check_budget(state: EmulatorState, audience_id: str) -> None:
    """40002 when the audience has spent today's (UTC) calls."""
    limit = state.settings.audience_daily_limit
    if state.audience_calls[(audience_id, state.now().date())] >= limit:
        raise ApiError(
            INVALID_PARAMS,
            f"The daily limit of {limit} calls for custom audience {audience_id} is reached; it resets at 00:00 UTC.",
        )


def _spend(state: EmulatorState, audience_id: str) -> None:
    """Count one call against the audience's budget for the current UTC day."""
    state.audience_calls[(audience_id, state.now().date())] += 1


def _log(audience: Audience, now: datetime, action: str, detail: str) -> None:
    """Append an operation to the audience's history."""
    audience.history.append(
        {"action": action, "action_detail": detail, "msg": "Success", "opt_time": now.strftime(TIME_FORMAT)}
    )


def create(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST dmp/custom_audience/create/``: a new audience from files (any size; under 1,000 is just not valid)."""
    advertiser_id = request.advertiser_id(state)
    name = _name(request, required=True) or ""
    calculate_type = _calculate_type(request)
    files = _files(state, request, advertiser_id, calculate_type)
    retention = params.integer(request.params, "retention_in_days", default=365, minimum=1, maximum=365) or 365
    owned = sum(1 for a in state.audiences.values() if a.advertiser_id == advertiser_id)
    if owned >= state.settings.max_audiences_per_advertiser:
        raise ApiError(INVALID_PARAMS, f"The advertiser already has {owned} custom audiences, the maximum.")
    now = state.now()
    audience = Audience(state.next_audience_id(), advertiser_id, name, calculate_type, _ids(files), now, retention)
    _spend(state, audience.audience_id)
    _log(audience, now, "CREATE", f"Created from {len(files)} file(s) with {len(audience.members)} ids")
    state.audiences[audience.audience_id] = audience
    return {"custom_audience_id": audience.audience_id}


def update(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST dmp/custom_audience/update/``: APPEND / REMOVE / REPLACE members, or rename."""
    p = request.params
    advertiser_id = request.advertiser_id(state)
    audience = _audience(state, advertiser_id, params.required_text(p, "custom_audience_id"))
    _check_budget(state, audience.audience_id)
    _spend(state, audience.audience_id)
    now = state.now()
    new_name = _name(request, required=False)
    if p.get("file_paths") is None:
        if new_name is None:
            raise ApiError(INVALID_PARAMS, "file_paths: Missing data for required field.")
        _log(audience, now, "RENAME", f"Renamed from {audience.name!r} to {new_name!r}")
        audience.name = new_name
        return {}
    action = params.text(p, "action", default="REPLACE")
    if action not in ACTIONS:
        raise ApiError(INVALID_PARAMS, f"action: Must be one of {', '.join(ACTIONS)}.")
    ids = _ids(_files(state, request, advertiser_id, audience.calculate_type))
    if action == "REPLACE" and audience.replace_done_at is not None and audience.replace_done_at > now:
        raise ApiError(INVALID_PARAMS, "A REPLACE on this audience is still processing; try again later.")
    size = _size_after(audience.members, action, ids)
    if size < MIN_MEMBERS:
        raise ApiError(
            INVALID_PARAMS,
            f"The audience would hold {size} users after {action}; an audience needs at least {MIN_MEMBERS}.",
        )
    before = len(audience.members)
    if action == "APPEND":
        audience.members |= ids
    elif action == "REMOVE":
        audience.members -= ids
    else:
        audience.members = ids
    if new_name is not None:
        audience.name = new_name
    if action == "REPLACE":
        audience.replace_done_at = now + timedelta(seconds=state.settings.replace_processing_seconds)
    _log(audience, now, action, f"{action} with {len(ids)} ids: {before} -> {size} users")
    return {}


def delete(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST dmp/custom_audience/delete/``: delete 1..100 audiences (all or none)."""
    advertiser_id = request.advertiser_id(state)
    ids = params.id_list(request.params, "custom_audience_ids", required=True, min_items=1, max_items=100) or []
    targets = [_audience(state, advertiser_id, audience_id) for audience_id in ids]
    for audience in targets:
        _check_budget(state, audience.audience_id)
    for audience in targets:
        _spend(state, audience.audience_id)
        del state.audiences[audience.audience_id]
    return {}


def _details(state: EmulatorState, audience: Audience) -> dict[str, Any]:
    """The ``audience_details`` / list item of an audience."""
    now = state.now()
    expires = audience.create_time + timedelta(days=audience.retention_in_days)
    valid = len(audience.members) >= MIN_MEMBERS
    return {
        "audience_id": audience.audience_id,
        "advertiser_id": audience.advertiser_id,
        "name": audience.name,
        "audience_type": "Customer File Audience",
        "audience_sub_type": "NORMAL",
        "calculate_type": audience.calculate_type,
        "cover_num": len(audience.members),
        "is_valid": valid,
        "is_expiring": expires - now <= timedelta(days=7),
        "expired_time": expires.strftime(TIME_FORMAT),
        "create_time": audience.create_time.strftime(TIME_FORMAT),
        "shared": False,
        "is_creator": True,
        "msg": "" if valid else f"Fewer than {MIN_MEMBERS} users: the audience cannot be used for targeting.",
        "error_msg": "",
    }


def get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``GET dmp/custom_audience/get/``: details and recent history (newest first) of 1..100 audiences."""
    advertiser_id = request.advertiser_id(state)
    ids = params.id_list(request.params, "custom_audience_ids", required=True, min_items=1, max_items=100) or []
    history_size = params.integer(request.params, "history_size", default=50, minimum=0, maximum=200) or 0
    result = []
    for audience_id in ids:
        audience = _audience(state, advertiser_id, audience_id)
        history = audience.history[-history_size:][::-1] if history_size else []
        result.append({"audience_details": _details(state, audience), "audience_history": history})
    return {"list": result}


def list_audiences(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``GET dmp/custom_audience/list/``: the advertiser's audiences, paged (page_size <= 100)."""
    advertiser_id = request.advertiser_id(state)
    page, page_size = page_params(request, max_page_size=100)
    wanted = params.id_list(request.params, "custom_audience_ids", max_items=100)
    audiences = [
        a
        for a in state.audiences.values()
        if a.advertiser_id == advertiser_id and (wanted is None or a.audience_id in wanted)
    ]
    chunk, page_info = paginate(audiences, page, page_size)
    return {"list": [_details(state, a) for a in chunk], "page_info": page_info}


ROUTES = [
    Route("POST", "dmp/custom_audience/file/upload/", file_upload, "audience_management"),
    Route("POST", "dmp/custom_audience/create/", create, "audience_management"),
    Route("POST", "dmp/custom_audience/update/", update, "audience_management"),
    Route("POST", "dmp/custom_audience/delete/", delete, "audience_management"),
    Route("GET", "dmp/custom_audience/get/", get, "audience_management"),
    Route("GET", "dmp/custom_audience/list/", list_audiences, "audience_management"),
]
