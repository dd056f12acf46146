"""The cohort of one sync: the spec it follows, and its members read, validated, hashed, de-duplicated and
sorted into a local file (raw identifiers never leave the task; rejected rows go to a rejects file)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from airflow_provider_tiktok.audiences import plan as audience_plan
from airflow_provider_tiktok.audiences import snapshots
from airflow_provider_tiktok.audiences.ledger import audience_key
from airflow_provider_tiktok.exceptions import TikTokConfigError, TikTokInputError
from airflow_provider_tiktok.utils.hashing import (
    EMAIL_TAG_RULES,
    PHONE_FORMATS,
    InvalidIdentifier,
    hash_maid,
    is_sha256_hex,
    normalise_customer_email,
    normalise_customer_phone,
    phone_region,
    sha256_hex,
)
from airflow_provider_tiktok.utils.readers import is_column_name
from airflow_provider_tiktok.utils.storage import as_path, atomic_write_lines

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudienceSyncSpec:
    """Everything one sync needs besides the hook and the members, as plain (picklable) values."""

    advertiser_id: str
    id_type: str
    mode: str = "mirror"
    audience_id: str | None = None
    audience_name: str | None = None
    state_uri: str | None = None
    rejects_uri: str | None = None
    daily_call_limit: int = audience_plan.TIKTOK_DAILY_CALL_LIMIT
    min_audience_size: int = audience_plan.TIKTOK_MIN_AUDIENCE_SIZE
    retention_in_days: int | None = None
    default_phone_region: str = "US"
    phone_format: str = "digits"
    email_tag_rule: str = "remove"
    replace_processing: timedelta = timedelta(minutes=30)
    chunk_size: int = snapshots.DEFAULT_CHUNK_SIZE
    run: str | None = None

    def __post_init__(self) -> None:
        check_sync_options(self.id_type, self.mode, self.phone_format, self.email_tag_rule)
        check_audience_name(self.audience_name)
        audience_key(self.audience_id, self.audience_name)
        for name in ("daily_call_limit", "min_audience_size", "retention_in_days", "chunk_size"):
            value = getattr(self, name)
            if name == "retention_in_days" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TikTokConfigError(f"{name} must be a whole number")
        if self.min_audience_size < audience_plan.TIKTOK_MIN_AUDIENCE_SIZE:
            raise TikTokConfigError(
                f"min_audience_size must be at least {audience_plan.TIKTOK_MIN_AUDIENCE_SIZE}: "
                "TikTok rejects smaller audiences"
            )
        if self.retention_in_days is not None and not 1 <= self.retention_in_days <= audience_plan.MAX_RETENTION_DAYS:
            raise TikTokConfigError(f"retention_in_days must be between 1 and {audience_plan.MAX_RETENTION_DAYS}")
        phone_region(self.default_phone_region)
        if self.replace_processing < timedelta(0):
            raise TikTokConfigError("replace_processing_minutes must not be negative")

    @property
    def calculate_type(self) -> str:
        """TikTok's ``calculate_type`` for the id type."""
        return audience_plan.calculate_type(self.id_type)


@dataclass
class Cohort:
    """The sync's hashed ids, sorted and de-duplicated in a local file, and what reading them found."""

    path: Path
    size: int = 0
    members_in: int = 0
    valid: int = 0
    rejected: int = 0
    rejects_uri: str | None = None
    #: Row and reason of the first rejected member (for the error when every member is rejected).
    first_reject: tuple[int, str] | None = None


def check_sync_options(id_type: str, mode: str, phone_format: str = "digits", email_tag_rule: str = "remove") -> None:
    """The id type, mode and normalisation choices must be known ones (checked when the DAG is parsed, and
    again for the rendered spec)."""
    audience_plan.calculate_type(id_type)
    if mode not in audience_plan.MODES:
        raise TikTokConfigError(f"mode must be one of {', '.join(audience_plan.MODES)}")
    if phone_format not in PHONE_FORMATS:
        raise TikTokConfigError(f"phone_format must be one of {', '.join(PHONE_FORMATS)}")
    if email_tag_rule not in EMAIL_TAG_RULES:
        raise TikTokConfigError(f"email_tag_rule must be one of {', '.join(EMAIL_TAG_RULES)}")


def check_audience_name(name: object) -> None:
    """TikTok's audience name rule: 1 to 128 characters, not only spaces (the error never quotes the name)."""
    if name is None:
        return
    if not isinstance(name, str) or not name.strip():
        raise TikTokConfigError("audience_name must be text that is not blank")
    if len(name) > audience_plan.MAX_AUDIENCE_NAME_LENGTH:
        raise TikTokConfigError(
            f"audience_name must have 1 to {audience_plan.MAX_AUDIENCE_NAME_LENGTH} characters (TikTok's limit), "
            f"not {len(name)}"
        )


def _hasher(spec: AudienceSyncSpec) -> Callable[[object], str]:
    """The customer-file normaliser + SHA-256 for the spec's id type (64-hex values pass through lower-cased)."""
    if spec.id_type == "email":
        return lambda value: _hashed(value) or sha256_hex(normalise_customer_email(value, spec.email_tag_rule))
    if spec.id_type == "phone":
        region, phone_format = spec.default_phone_region, spec.phone_format
        return lambda value: _hashed(value) or sha256_hex(normalise_customer_phone(value, region, phone_format))
    return lambda value: hash_maid(value, spec.id_type)


def _hashed(value: object) -> str | None:
    """An already hashed value (64 hex), lower-cased; None for a raw one."""
    return str(value).strip().lower() if is_sha256_hex(value) else None


def hashed_lines(
    records: Iterable[tuple[int, dict[str, Any]]], spec: AudienceSyncSpec, cohort: Cohort, rejects: TextIO
) -> Iterator[str]:
    """Yield one ``<sha256>\\n`` line per valid member; count the rest and note row, field and reason in ``rejects``.

    A member is a record's ``id_type`` field (``value`` for plain list items). Raw values never reach the
    rejects file or the log.
    """
    hasher = _hasher(spec)
    holding = 0  # rows that have the id field (or a plain value) at all, even empty
    for row, record in records:
        cohort.members_in += 1
        if cohort.members_in == 1:
            _log_ignored_columns(record, spec.id_type)
        if spec.id_type in record:
            value = record[spec.id_type]
            holding += 1
        else:
            value = record.get("value")
            holding += "value" in record
        try:
            if value is None:
                raise InvalidIdentifier(spec.id_type, "is missing")
            digest = hasher(value)
        except InvalidIdentifier as err:
            cohort.rejected += 1
            cohort.first_reject = cohort.first_reject or (row, err.reason)
            rejects.write(json.dumps({"row": row, "field": spec.id_type, "reason": err.reason}) + "\n")
            continue
        cohort.valid += 1
        yield digest + "\n"
    if cohort.members_in and not holding:
        raise TikTokInputError(
            f"no row has the field {spec.id_type!r}: name the identifier column {spec.id_type!r} or map yours with "
            f"field_map={{'<column>': {spec.id_type!r}}} (a CSV needs a header row)",
            row=1,
            field=spec.id_type,
        )


def _log_ignored_columns(record: dict[str, Any], id_type: str) -> None:
    """Say once which columns besides the identifier the sync ignores (names only, and only name-like ones)."""
    others = sorted(str(key) for key in record if key not in (id_type, "value"))
    if others:
        names = [name for name in others if is_column_name(name)]
        unnamed = len(others) - len(names)
        log.info(
            "Audience members are read from field %r; %d other column(s) ignored: %s%s",
            id_type,
            len(others),
            ", ".join(names) or "-",
            f" (+{unnamed} without a column-like name)" if unnamed else "",
        )


def prepare_cohort(
    records: Iterable[tuple[int, dict[str, Any]]], spec: AudienceSyncSpec, work: Path, rejects_default: Any
) -> Cohort:
    """Hash, validate and externally sort the members into ``work``; copy any rejects to their final place."""
    cohort = Cohort(work / "cohort.txt")
    local_rejects = work / "rejects.jsonl"
    with open(local_rejects, "w", encoding="utf-8") as rejects:
        lines = hashed_lines(records, spec, cohort, rejects)
        cohort.size = snapshots.external_sort(lines, cohort.path, work, chunk_size=spec.chunk_size)
    if cohort.rejected:
        target = as_path(spec.rejects_uri) if spec.rejects_uri else rejects_default
        atomic_write_lines(target, snapshots.iter_lines(local_rejects))
        cohort.rejects_uri = str(target)
        log.warning("%d member(s) rejected as invalid; row numbers and reasons in %s", cohort.rejected, target)
    if cohort.rejected and not cohort.valid and cohort.first_reject:
        row, reason = cohort.first_reject
        raise TikTokInputError(
            f"{reason}; so was every other member ({cohort.rejected} of {cohort.members_in}): check id_type and the "
            f"column holding the identifiers. Rows and reasons are in {cohort.rejects_uri}",
            row=row,
            field=spec.id_type,
        )
    return cohort
