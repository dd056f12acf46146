"""Custom audiences from customer files (the DMP API), with TikTok's limits enforced.

Parameters are checked against :mod:`.spec` before a handler runs (types, enums, ranges, 16-character
``file_paths`` on create, ...); the handlers add what a schema cannot say:

- ``file/upload/``: ``file_signature`` is the MD5 hex of the bytes (40900), empty 40906, larger than
  ``settings.max_upload_bytes`` 40907, a name not ending ``.csv``/``.txt`` 40908 (checked by the spec);
  every line must be 64 hex characters for ``*_SHA256`` types, 32 for ``*_MD5`` (``MULTIPLE_TYPES``:
  comma-separated cells of either), else 40002 naming the line. The answer is a 16-character ``file_path``
  (dmp_custom_audience_create.yml: items of ``file_paths`` are exactly 16 characters), usable for
  ``settings.file_path_ttl_seconds`` (then 40910); unknown paths answer 40905; a type other than the
  audience's answers 40909 (``MAID_*`` are aliases of ``FIRST_*``).
- ``create/``, ``update/`` (APPEND, REMOVE, REPLACE; a name alone renames; ``audience_sub_type`` converts
  to REACH_FREQUENCY and ignores the rest), ``delete/``. APPEND, REMOVE and REPLACE fail, membership
  unchanged, when fewer than 1,000 *matched* users would remain (dmp_custom_audience_update.yml: the
  audience size after the operation; see ``matching`` and ``settings.match_rate``); a REPLACE while an
  earlier REPLACE is processing (``settings.replace_processing_seconds``) is rejected.
- Every create/update/delete call that names an existing audience counts against its budget of
  ``settings.audience_daily_limit`` (24) calls per UTC day of the emulator clock, whether or not it then
  succeeds (an update is counted before its parameters are checked); once spent, calls answer 40002
  ("daily limit ... reached") and change nothing.
- Expiry (dmp_custom_audience_create.yml, ``retention_in_days``): given on create, the audience expires
  that many days after creation and nothing resets it; omitted, it expires 365 days after its last
  modification (create or a successful update), and every update resets that. ``get/`` and ``list/``
  report ``expired_time`` and ``is_expiring`` (within 7 days, or past), ``cover_num`` (matched users),
  ``is_valid`` (>= 1,000 matched users and not expired) and the history of operations.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_tiktok.emulator.envelope import (
    CALCULATE_TYPE_MISMATCH,
    FILE_EMPTY,
    FILE_EXPIRED,
    FILE_NOT_FOUND,
    FILE_SIGNATURE_MISMATCH,
    FILE_TOO_LARGE,
    INVALID_PARAMS,
    ApiError,
)
from airflow_provider_tiktok.emulator.matching import matched_count
from airflow_provider_tiktok.emulator.routing import ApiRequest, FilePart, Route, paginate
from airflow_provider_tiktok.emulator.spec import CALCULATE_TYPE_ALIASES
from airflow_provider_tiktok.emulator.state import Audience, EmulatorState, UploadedFile

#: dmp_custom_audience_update.yml: APPEND, REMOVE and REPLACE fail below this audience size after the operation.
MIN_MEMBERS = 1000
#: dmp_custom_audience_create.yml: retention_in_days omitted, an audience lives this long after its last change.
DEFAULT_RETENTION_DAYS = 365
#: An audience is "expiring" this close to (or past) its expiry (our choice: TikTok does not define it).
EXPIRING_WITHIN = timedelta(days=7)
#: dmp_custom_audience_create.yml: every file_path is exactly 16 characters (minted as 16 lower-case hex).
FILE_PATH_BYTES = 8
_HEX = {64: re.compile(r"[0-9a-fA-F]{64}"), 32: re.compile(r"[0-9a-fA-F]{32}")}
_ANY_HASH = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{32}")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


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
    """``POST dmp/custom_audience/file/upload/``: store a customer file, answer its 16-character ``file_path``."""
    p = request.params
    advertiser_id = request.advertiser_id(state)
    calculate_type: str = p["calculate_type"]
    part: FilePart = p["file"]
    name = p.get("name") or p.get("file_name") or part.filename
    if len(part.content) > state.settings.max_upload_bytes:
        raise ApiError(FILE_TOO_LARGE, f"file: The file exceeds {state.settings.max_upload_bytes} bytes.")
    if p["file_signature"].lower() != hashlib.md5(part.content).hexdigest():
        raise ApiError(FILE_SIGNATURE_MISMATCH, "file_signature: Does not match the MD5 of the file.")
    ids = _parse_ids(part.content, calculate_type)
    file_path = secrets.token_hex(FILE_PATH_BYTES)
    while file_path in state.files:
        file_path = secrets.token_hex(FILE_PATH_BYTES)
    state.files[file_path] = UploadedFile(file_path, advertiser_id, calculate_type, name, ids, state.now())
    return {"file_path": file_path}


def _canonical(calculate_type: str) -> str:
    """``MAID_*`` upload types are aliases of ``FIRST_*`` (dmp_custom_audience_file_upload.yml)."""
    return CALCULATE_TYPE_ALIASES.get(calculate_type, calculate_type)


def _files(state: EmulatorState, request: ApiRequest, advertiser_id: str, calculate_type: str) -> list[UploadedFile]:
    """The files named by ``file_paths`` (their count was checked by the spec), all usable and of the type."""
    now = state.now()
    files = []
    for path in request.params["file_paths"]:
        found = state.files.get(path) if isinstance(path, str) else None
        if found is None or found.advertiser_id != advertiser_id:
            raise ApiError(FILE_NOT_FOUND, f"file_paths: File {path} does not exist.")
        if found.uploaded_at + timedelta(seconds=state.settings.file_path_ttl_seconds) <= now:
            raise ApiError(FILE_EXPIRED, f"file_paths: File {path} has expired, upload it again.")
        if _canonical(found.calculate_type) != _canonical(calculate_type):
            raise ApiError(
                CALCULATE_TYPE_MISMATCH,
                f"file_paths: File {path} was uploaded as {found.calculate_type}, not {calculate_type}.",
            )
        files.append(found)
    return files


def _ids(files: Iterable[UploadedFile]) -> set[str]:
    """Every id in the files."""
    return set().union(*(f.ids for f in files))


def cover(state: EmulatorState, audience: Audience) -> int:
    """The audience's matched users (``cover_num``) at the current match rate (cached until members change)."""
    rate = state.settings.match_rate
    if rate not in audience.cover_cache:
        audience.cover_cache[rate] = matched_count(audience.members, rate)
    return audience.cover_cache[rate]


def _cover_after(state: EmulatorState, audience: Audience, action: str, ids: set[str]) -> int:
    """The matched size an APPEND / REMOVE / REPLACE of ``ids`` would leave, without building the new set: a
    10M-member audience is then changed in place instead of copied (twice) for a 1% churn."""
    rate, members = state.settings.match_rate, audience.members
    if action == "APPEND":
        return cover(state, audience) + matched_count([i for i in ids if i not in members], rate)
    if action == "REMOVE":
        return cover(state, audience) - matched_count([i for i in ids if i in members], rate)
    return matched_count(ids, rate)


def expires_at(audience: Audience) -> datetime:
    """When the audience expires (dmp_custom_audience_create.yml, ``retention_in_days``).

    Given on create: that many days after creation, whatever happens later. Omitted: 365 days after the last
    modification (create or successful update).
    """
    if audience.retention_in_days is not None:
        return audience.create_time + timedelta(days=audience.retention_in_days)
    return (audience.modified_at or audience.create_time) + timedelta(days=DEFAULT_RETENTION_DAYS)


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
    """Append a successful operation to the audience's history; it counts as a modification (expiry)."""
    audience.history.append(
        {"action": action, "action_detail": detail, "msg": "Success", "opt_time": now.strftime(TIME_FORMAT)}
    )
    audience.modified_at = now


def _note_file_paths(state: EmulatorState, request: ApiRequest) -> None:
    """Keep the largest ``file_paths`` count seen (in the stats), even for a call the spec then refuses."""
    paths = request.params.get("file_paths")
    if isinstance(paths, list):
        state.max_file_paths = max(state.max_file_paths, len(paths))


def before_create(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """Before create's parameters are checked: note its ``file_paths`` count."""
    _note_file_paths(state, request)
    return {}


def before_update(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """Before update's parameters are checked: count the call against the audience it names, if that one
    exists and the token may act for its advertiser (else the checks that follow refuse it, uncounted).

    An exhausted budget answers the daily-limit error at once; otherwise the call is counted, whether or
    not it then succeeds (a refused update spends a call, as on TikTok).
    """
    _note_file_paths(state, request)
    advertiser_id, audience_id = request.params.get("advertiser_id"), request.params.get("custom_audience_id")
    if isinstance(advertiser_id, bool) or isinstance(audience_id, bool):
        return {}
    audience = state.audiences.get(str(audience_id))
    if audience is None or audience.advertiser_id != str(advertiser_id):
        return {}
    if request.token is not None and audience.advertiser_id not in request.token.advertiser_ids:
        return {}
    _check_budget(state, audience.audience_id)
    _spend(state, audience.audience_id)
    return {}


def create(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST dmp/custom_audience/create/``: a new audience from files (any size; under 1,000 is just not valid)."""
    p = request.params
    advertiser_id = request.advertiser_id(state)
    calculate_type: str = p["calculate_type"]
    files = _files(state, request, advertiser_id, calculate_type)
    owned = sum(1 for a in state.audiences.values() if a.advertiser_id == advertiser_id)
    if owned >= state.settings.max_audiences_per_advertiser:
        raise ApiError(INVALID_PARAMS, f"The advertiser already has {owned} custom audiences, the maximum.")
    now = state.now()
    audience = Audience(
        state.next_audience_id(),
        advertiser_id,
        p["custom_audience_name"],
        calculate_type,
        _ids(files),
        now,
        p.get("retention_in_days"),
        audience_sub_type=p["audience_sub_type"],
        audience_enhancement=p["audience_enhancement"],
    )
    _spend(state, audience.audience_id)
    _log(audience, now, "CREATE", f"Created from {len(files)} file(s) with {len(audience.members)} ids")
    state.audiences[audience.audience_id] = audience
    return {"custom_audience_id": audience.audience_id}


def update(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST dmp/custom_audience/update/``: APPEND / REMOVE / REPLACE members, rename, or convert the sub-type.

    The call was counted against the audience's budget by :func:`before_update`.
    """
    p = request.params
    advertiser_id = request.advertiser_id(state)
    audience = _audience(state, advertiser_id, p["custom_audience_id"])
    now = state.now()
    if p.get("audience_sub_type") is not None:  # dmp_custom_audience_update.yml: then the other fields are ignored
        _log(audience, now, "UPDATE", f"Sub-type {audience.audience_sub_type} -> {p['audience_sub_type']}")
        audience.audience_sub_type = p["audience_sub_type"]
        return {}
    new_name: str | None = p.get("custom_audience_name")
    if p.get("file_paths") is None:
        renamed: str = p["custom_audience_name"]  # the spec made sure of one of the two
        _log(audience, now, "RENAME", f"Renamed from {audience.name!r} to {renamed!r}")
        audience.name = renamed
        return {}
    action: str = p["action"]
    ids = _ids(_files(state, request, advertiser_id, audience.calculate_type))
    if action == "REPLACE" and audience.replace_done_at is not None and audience.replace_done_at > now:
        raise ApiError(INVALID_PARAMS, "A REPLACE on this audience is still processing; try again later.")
    before, after = cover(state, audience), _cover_after(state, audience, action, ids)
    if after < MIN_MEMBERS:
        raise ApiError(
            INVALID_PARAMS,
            f"The audience would hold {after} users after {action}, counting matched users only (cover_num); "
            f"APPEND, REMOVE and REPLACE need at least {MIN_MEMBERS} matched users after the operation.",
        )
    if action == "APPEND":
        audience.members |= ids
    elif action == "REMOVE":
        audience.members -= ids
    else:
        audience.members = ids
    audience.cover_cache.clear()
    if new_name is not None:
        audience.name = new_name
    if action == "REPLACE":
        audience.replace_done_at = now + timedelta(seconds=state.settings.replace_processing_seconds)
    _log(audience, now, action, f"{action} with {len(ids)} ids: {before} -> {after} matched users")
    return {}


def delete(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST dmp/custom_audience/delete/``: delete 1..100 audiences (all or none)."""
    advertiser_id = request.advertiser_id(state)
    targets = [_audience(state, advertiser_id, audience_id) for audience_id in request.params["custom_audience_ids"]]
    for audience in targets:
        _check_budget(state, audience.audience_id)
    for audience in targets:
        _spend(state, audience.audience_id)
        del state.audiences[audience.audience_id]
    return {}


def _details(state: EmulatorState, audience: Audience) -> dict[str, Any]:
    """The ``audience_details`` / list item of an audience."""
    now = state.now()
    expires = expires_at(audience)
    matched = cover(state, audience)
    expired = expires <= now
    valid = matched >= MIN_MEMBERS and not expired
    if expired:
        msg = "The audience has expired."
    elif not valid:
        msg = f"Fewer than {MIN_MEMBERS} matched users: the audience cannot be used for targeting."
    else:
        msg = ""
    return {
        "audience_id": audience.audience_id,
        "advertiser_id": audience.advertiser_id,
        "name": audience.name,
        "audience_type": "Customer File Audience",
        "audience_sub_type": audience.audience_sub_type,
        "audience_enhancement": audience.audience_enhancement,
        "calculate_type": audience.calculate_type,
        "cover_num": matched,
        "is_valid": valid,
        "is_expiring": expires - now <= EXPIRING_WITHIN,
        "expired_time": expires.strftime(TIME_FORMAT),
        "create_time": audience.create_time.strftime(TIME_FORMAT),
        "shared": False,
        "is_creator": True,
        "msg": msg,
        "error_msg": "",
    }


def get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``GET dmp/custom_audience/get/``: details and recent history (newest first) of 1..100 audiences."""
    advertiser_id = request.advertiser_id(state)
    history_size: int = request.params["history_size"]
    result = []
    for audience_id in request.params["custom_audience_ids"]:
        audience = _audience(state, advertiser_id, audience_id)
        history = audience.history[-history_size:][::-1]
        result.append({"audience_details": _details(state, audience), "audience_history": history})
    return {"list": result}


def list_audiences(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``GET dmp/custom_audience/list/``: the advertiser's audiences, paged (page_size <= 100)."""
    advertiser_id = request.advertiser_id(state)
    wanted = request.params.get("custom_audience_ids")
    audiences = [
        a
        for a in state.audiences.values()
        if a.advertiser_id == advertiser_id and (wanted is None or a.audience_id in wanted)
    ]
    chunk, page_info = paginate(audiences, request.params["page"], request.params["page_size"])
    return {"list": [_details(state, a) for a in chunk], "page_info": page_info}


ROUTES = [
    Route("POST", "dmp/custom_audience/file/upload/", file_upload, "audience_management"),
    Route("POST", "dmp/custom_audience/create/", create, "audience_management", before_create),
    Route("POST", "dmp/custom_audience/update/", update, "audience_management", before_update),
    Route("POST", "dmp/custom_audience/delete/", delete, "audience_management"),
    Route("GET", "dmp/custom_audience/get/", get, "audience_management"),
    Route("GET", "dmp/custom_audience/list/", list_audiences, "audience_management"),
]
