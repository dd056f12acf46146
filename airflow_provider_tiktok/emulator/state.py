"""The emulator's mutable state: clock, tokens, audiences, uploaded files, received events, counters, faults.

One :class:`EmulatorState` backs one app. Request handlers and tests (from another thread) share it, so
every mutation happens under ``state.lock``. Business rules that depend on time (token expiry, event age,
the per-UTC-day audience budget, the report's "today" and its revisions, file-path expiry) read the
settable emulator clock; transport faults (locks, rate limits) use real monotonic time, see ``faults``.
Everything received (events, files, audiences) is kept in memory until :meth:`EmulatorState.reset`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from typing import Any

from airflow_provider_tiktok.emulator import (
    ACCESS_TOKEN,
    ADVERTISER_IDS,
    DEFAULT_SEED,
    REFRESH_TOKEN,
    SCOPES,
    USER_ID,
)
from airflow_provider_tiktok.emulator.data import Dataset, expected_daily_rows, get_dataset
from airflow_provider_tiktok.emulator.envelope import (
    AUTH_CODE_INVALID,
    NO_PERMISSION,
    REFRESH_TOKEN_EXPIRED,
    REFRESH_TOKEN_INVALID,
    SCOPE_NOT_AUTHORIZED,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_MISSING,
    ApiError,
)
from airflow_provider_tiktok.emulator.faults import Faults

#: Requests kept in the log behind ``GET /_emulator/requests``.
REQUEST_LOG_SIZE = 10_000
#: Query parameters shown as ``***`` in the request log (the OAuth calls carry secrets in the query string).
SECRET_PARAMS = frozenset({"secret", "client_secret", "access_token", "refresh_token", "auth_code"})
TT_USER_TOKEN_SECONDS = 86_400
REFRESH_TOKEN_SECONDS = 365 * 86_400
AUTH_CODE_SECONDS = 3_600


@dataclass
class Settings:
    """Tunable limits and switches (set them on ``state.settings``, via the CLI or ``POST /_emulator/settings``)."""

    #: Seconds an uploaded file's ``file_path`` stays usable (then 40910).
    file_path_ttl_seconds: float = 86_400.0
    #: Largest accepted customer file, in bytes (then 40907).
    max_upload_bytes: int = 500 * 1024 * 1024
    #: Seconds a REPLACE keeps an audience "processing" (another REPLACE meanwhile is rejected).
    replace_processing_seconds: float = 0.0
    #: Create/update/delete calls allowed per audience per UTC day.
    audience_daily_limit: int = 24
    max_audiences_per_advertiser: int = 400
    #: Event validation errors name the field without the row index (TikTok does not always say which row).
    event_errors_without_index: bool = False
    #: Event batches with bad rows answer 20001, accepting the good rows, instead of rejecting the batch.
    partial_success_events: bool = False
    #: False keeps only the receipts per event_id (load runs of millions of events).
    keep_event_bodies: bool = True
    #: Share (0..1) of customer-file ids that match a TikTok user and count in ``cover_num`` (see ``matching``).
    match_rate: float = 1.0

    def update(self, values: dict[str, Any]) -> None:
        """Set known fields from JSON values, checking their types (and ``match_rate``'s range)."""
        known = {f.name: f for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, name)
            if isinstance(current, bool) != isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"setting {name!r} needs a {type(current).__name__}, got {value!r}")
            if name == "match_rate" and not 0 <= value <= 1:
                raise ValueError(f"setting 'match_rate' must be within 0..1, got {value!r}")
            setattr(self, name, type(current)(value))


@dataclass
class Token:
    """An access token: which advertisers and scopes it grants, and until when."""

    value: str
    advertiser_ids: tuple[str, ...]
    scopes: frozenset[str]
    expires_at: datetime | None = None
    revoked: bool = False
    #: The TikTok user who granted the token (``user/info/`` answers it).
    core_user_id: str = USER_ID


@dataclass
class Grant:
    """A single-use authorisation code or a TikTok-account refresh token."""

    value: str
    advertiser_ids: tuple[str, ...]
    expires_at: datetime
    used: bool = False


@dataclass
class UploadedFile:
    """A customer file accepted by ``dmp/custom_audience/file/upload/``."""

    file_path: str
    advertiser_id: str
    calculate_type: str
    file_name: str
    ids: frozenset[str]
    uploaded_at: datetime


@dataclass
class Audience:
    """A custom audience: its uploaded ids (``members``; the matched ones count, see ``matching``) and history.

    ``retention_in_days`` is what create was given (None when omitted): see ``audiences.expires_at``.
    """

    audience_id: str
    advertiser_id: str
    name: str
    calculate_type: str
    members: set[str]
    create_time: datetime
    retention_in_days: int | None
    history: list[dict[str, Any]] = field(default_factory=list)
    replace_done_at: datetime | None = None
    #: Last successful create or update (None: the create time).
    modified_at: datetime | None = None
    audience_sub_type: str = "NORMAL"
    audience_enhancement: bool = False
    #: Matched members per match rate, dropped whenever ``members`` changes.
    cover_cache: dict[float, int] = field(default_factory=dict)


class Clock:
    """The emulator clock: real UTC time, shifted by an offset, or frozen at a fixed instant."""

    def __init__(self, now: datetime | None = None) -> None:
        """Freeze at ``now`` when given, else follow real time."""
        self._fixed = _utc(now) if now else None
        self._offset = timedelta()

    def now(self) -> datetime:
        """The current emulator instant (timezone-aware UTC)."""
        return self._fixed or datetime.now(timezone.utc) + self._offset

    def set(self, now: datetime | None = None, offset_seconds: float | None = None) -> None:
        """Freeze at ``now``, or follow real time shifted by ``offset_seconds``."""
        if now is not None:
            self._fixed, self._offset = _utc(now), timedelta()
        else:
            self._fixed, self._offset = None, timedelta(seconds=offset_seconds or 0)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value) without changing its mode."""
        if self._fixed:
            self._fixed += timedelta(seconds=seconds)
        else:
            self._offset += timedelta(seconds=seconds)


def _utc(moment: datetime) -> datetime:
    """A plain, aware UTC ``datetime``; naive values are taken as UTC.

    Subclasses (pendulum's ``DateTime``, which Airflow hands out) are rebuilt as ``datetime``: pendulum's
    arithmetic with a ``timedelta`` drops a ``datetime.timezone`` and would turn the clock naive.
    """
    aware = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return datetime(
        aware.year, aware.month, aware.day, aware.hour, aware.minute, aware.second, aware.microsecond, timezone.utc
    )


class EmulatorState:
    """Everything one emulator knows and remembers; tests drive it directly through these methods."""

    def __init__(self, seed: int = DEFAULT_SEED, *, now: datetime | None = None, anchor: date | None = None) -> None:
        """Seed the data, start the clock (frozen at ``now`` if given) and issue the seed tokens.

        :param seed: seed of the synthetic data and of fault ``rate`` draws.
        :param now: freeze the clock at this instant (default: follow real UTC time).
        :param anchor: the day the seeded flights are placed around (default: the clock's UTC date now).
        """
        self.seed = seed
        self.lock = threading.RLock()
        self._initial_now = now
        self.clock = Clock(now)
        self.anchor = anchor or self.clock.now().date()
        self.dataset: Dataset = get_dataset(seed, self.anchor)
        self.faults = Faults(seed)
        #: Guards ``faults`` and ``in_flight`` only, so a request is stamped and rate-counted on arrival even while
        #: another one is computed under ``lock``.
        self.arrival_lock = threading.RLock()
        self.settings = Settings()
        #: API requests being handled now (a delayed one keeps counting after its client gave up).
        self.in_flight = 0
        self._clear()

    def _clear(self) -> None:
        """(Re)create every mutable collection and the seed tokens."""
        now = self.clock.now()
        self.tokens: dict[str, Token] = {
            ACCESS_TOKEN: Token(ACCESS_TOKEN, ADVERTISER_IDS, frozenset(SCOPES)),
        }
        self.auth_codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {
            REFRESH_TOKEN: Grant(REFRESH_TOKEN, ADVERTISER_IDS, now + timedelta(seconds=REFRESH_TOKEN_SECONDS)),
        }
        self.files: dict[str, UploadedFile] = {}
        self.audiences: dict[str, Audience] = {}
        self._next_audience = 1
        #: receipts per (event_source_id, event_id); the keys are the de-duplicated set.
        self.event_receipts: dict[str, Counter[str]] = {}
        #: the first accepted copy of each de-duplicated event, per event source.
        self.events: dict[str, dict[str, dict[str, Any]]] = {}
        #: accepted events that carried no event_id (cannot be de-duplicated), per event source.
        self.events_without_id: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.codes: Counter[int] = Counter()
        self.audience_calls: Counter[tuple[str, date]] = Counter()
        self.max_file_paths = 0
        self.request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)

    def reset(self) -> None:
        """Forget everything mutable: clock back to its start mode, faults and settings cleared, seed tokens anew.

        Requests still being handled (an injected delay outlives its client) are waited for, at most 5 s, so
        that none lands in the fresh state.
        """
        self.wait_idle(5.0)
        with self.lock:
            self.clock = Clock(self._initial_now)
            with self.arrival_lock:
                self.faults.clear()
            self.settings = Settings()
            self._clear()

    # Clock ---------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The emulator clock's current instant (UTC)."""
        return self.clock.now()

    def set_clock(self, now: datetime | None = None, *, offset_seconds: float | None = None) -> None:
        """Freeze the clock at ``now``, or follow real time shifted by ``offset_seconds``."""
        with self.lock:
            self.clock.set(now, offset_seconds)

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator clock by ``seconds`` (e.g. 86400 for a day)."""
        with self.lock:
            self.clock.advance(seconds)

    # Tokens --------------------------------------------------------------------------------------------
    def issue_token(
        self,
        *,
        advertiser_ids: tuple[str, ...] = ADVERTISER_IDS,
        scopes: frozenset[str] | None = None,
        expires_in: float | None = None,
    ) -> str:
        """Create an access token (long-lived unless ``expires_in`` seconds of emulator time are given)."""
        with self.lock:
            value = "act." + secrets.token_hex(20)
            expires_at = self.now() + timedelta(seconds=expires_in) if expires_in is not None else None
            unknown = set(scopes or ()) - set(SCOPES)
            if unknown:
                raise ValueError(f"unknown scopes {sorted(unknown)}; known: {sorted(SCOPES)}")
            strangers = set(advertiser_ids) - set(ADVERTISER_IDS)
            if strangers:
                raise ValueError(f"unknown advertisers {sorted(strangers)}; seeded: {list(ADVERTISER_IDS)}")
            self.tokens[value] = Token(
                value, tuple(advertiser_ids), frozenset(SCOPES if scopes is None else scopes), expires_at
            )
            return value

    def revoke_token(self, token: str = ACCESS_TOKEN) -> bool:
        """Revoke a token: later calls with it answer 40105. Returns whether the token was known."""
        with self.lock:
            if token in self.tokens:
                self.tokens[token].revoked = True
                return True
            return False

    def authenticate(self, token: str | None, scope: str) -> Token:
        """The token behind an ``Access-Token`` header, checked for presence, validity, expiry and ``scope``."""
        if not token:
            raise ApiError(TOKEN_MISSING, "Access token is null, please check the Access-Token header.")
        found = self.tokens.get(token)
        if found is None or found.revoked:
            raise ApiError(TOKEN_INVALID, "Access token is incorrect or has been revoked.")
        if found.expires_at is not None and found.expires_at <= self.now():
            raise ApiError(TOKEN_EXPIRED, "Access token has expired.")
        if scope and scope not in found.scopes:
            raise ApiError(SCOPE_NOT_AUTHORIZED, f"The access token is not authorized for the {scope} scope.")
        return found

    @staticmethod
    def check_advertiser(token: Token, advertiser_id: str) -> None:
        """Raise 40001 unless ``token`` may act for ``advertiser_id``."""
        if advertiser_id not in token.advertiser_ids:
            raise ApiError(NO_PERMISSION, f"No permission to operate advertiser {advertiser_id}.")

    def issue_auth_code(self, advertiser_ids: tuple[str, ...] = ADVERTISER_IDS) -> str:
        """A single-use authorisation code, valid one hour, as the consent screen would give."""
        with self.lock:
            code = secrets.token_hex(16)
            expires_at = self.now() + timedelta(seconds=AUTH_CODE_SECONDS)
            self.auth_codes[code] = Grant(code, tuple(advertiser_ids), expires_at)
            return code

    def exchange_auth_code(self, code: str) -> Token:
        """Trade an authorisation code for a new long-lived advertiser token (40110 if bad, used or expired)."""
        grant = self.auth_codes.get(code)
        if grant is None or grant.used or grant.expires_at <= self.now():
            raise ApiError(AUTH_CODE_INVALID, "Auth code is invalid, expired or already used.")
        grant.used = True
        return self.tokens[self.issue_token(advertiser_ids=grant.advertiser_ids)]

    def refresh(self, refresh_token: str) -> tuple[Token, Grant]:
        """Rotate a TikTok-account refresh token: a 24-hour access token and a new refresh token."""
        grant = self.refresh_tokens.get(refresh_token)
        if grant is None or grant.used:
            raise ApiError(REFRESH_TOKEN_INVALID, "Refresh token is invalid.")
        if grant.expires_at <= self.now():
            raise ApiError(REFRESH_TOKEN_EXPIRED, "Refresh token has expired.")
        grant.used = True
        access = self.tokens[self.issue_token(advertiser_ids=grant.advertiser_ids, expires_in=TT_USER_TOKEN_SECONDS)]
        renewed = Grant("rft." + secrets.token_hex(20), grant.advertiser_ids, grant.expires_at)
        self.refresh_tokens[renewed.value] = renewed
        return access, renewed

    # Audiences and events (views for tests) ------------------------------------------------------------
    def next_audience_id(self) -> str:
        """A fresh custom audience id."""
        value = f"72{self._next_audience:017d}"
        self._next_audience += 1
        return value

    def audience_members(self, audience_id: str) -> list[str]:
        """The audience's hashed ids, sorted."""
        with self.lock:
            return sorted(self.audiences[audience_id].members)

    def audience_calls_today(self, audience_id: str) -> int:
        """Create/update/delete calls counted against the audience on the emulator's current UTC day."""
        with self.lock:
            return self.audience_calls[(audience_id, self.now().date())]

    def event_summary(self, event_source_id: str) -> dict[str, Any]:
        """Receipts per event_id and the de-duplicated count for one event source."""
        with self.lock:
            receipts = self.event_receipts.get(event_source_id, Counter())
            return {
                "event_source_id": event_source_id,
                "receipts": dict(receipts),
                "unique": len(receipts),
                "total_receipts": sum(receipts.values()),
                "without_event_id": self.events_without_id[event_source_id],
            }

    # Bookkeeping ---------------------------------------------------------------------------------------
    def record(
        self,
        method: str,
        path: str,
        code: int | None,
        http_status: int,
        request_id: str,
        fault: str | None,
        *,
        query: dict[str, str] | None = None,
        arrived: float | None = None,
    ) -> None:
        """Count and log one answered request.

        The log entry's ``t`` is when it was answered and ``arrived`` when it reached the emulator (both Unix
        seconds; they differ by the handling time and any injected delay); ``query`` holds the query
        parameters, secrets masked; ``fault`` the injected fault (``delay`` when only latency was added).
        """
        now = time.time()
        with self.lock:
            self.calls[path] += 1
            if code is not None:
                self.codes[code] += 1
            self.request_log.append(
                {
                    "t": now,
                    "arrived": now if arrived is None else arrived,
                    "at": self.now().isoformat(),
                    "method": method,
                    "path": path,
                    "query": {k: "***" if k in SECRET_PARAMS else v for k, v in (query or {}).items()},
                    "code": code,
                    "http_status": http_status,
                    "request_id": request_id,
                    "fault": fault,
                }
            )

    def stats(self) -> dict[str, Any]:
        """Counters for tests: calls per path, codes answered, audience calls per UTC day, max file_paths."""
        with self.lock:
            per_audience: dict[str, dict[str, int]] = {}
            for (audience_id, day), count in sorted(self.audience_calls.items()):
                per_audience.setdefault(audience_id, {})[day.isoformat()] = count
            return {
                "now": self.now().isoformat(),
                "calls": dict(self.calls),
                "codes": {str(code): n for code, n in sorted(self.codes.items())},
                "audience_calls": per_audience,
                "max_file_paths": self.max_file_paths,
                "settings": asdict(self.settings),
            }

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait (polling, at most ``timeout`` seconds) until no API request is being handled; False on timeout.

        A test that injected latency calls this before it resets, so a late request cannot land in the next test.
        """
        deadline = time.monotonic() + timeout
        while self.in_flight:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def requests(self) -> list[dict[str, Any]]:
        """The (bounded) request log, oldest first."""
        with self.lock:
            return list(self.request_log)

    def expected_daily_rows(self, advertiser_id: str, day: date, include_deleted: bool = False) -> list[dict[str, Any]]:
        """:func:`data.expected_daily_rows` for this emulator's seed, anchor and current clock."""
        return expected_daily_rows(advertiser_id, day, include_deleted, self.now(), seed=self.seed, anchor=self.anchor)
