"""The ``tiktok_ads`` connection: its form (one spec for both Airflow form styles) and its typed reader.

Kept free of heavy imports: ``get_provider_info`` reads the form spec at provider discovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.utils.ratelimit import SHARED_SCHEMES

CONN_TYPE = "tiktok_ads"
PRODUCTION_BASE_URL = "https://business-api.tiktok.com"
API_PREFIX = "/open_api/v1.3/"
DEFAULT_RATE_LIMIT = 10.0
#: The Events API (``event/track/``) has its own, far higher limit (about 1,000/s); 100 requests of up to
#: 1,000 events each is more than one task can build per second.
DEFAULT_EVENTS_RATE_LIMIT = 100.0

#: Extra fields of the connection form: name -> (label, description, secret).
EXTRA_FIELDS: dict[str, tuple[str, str, bool]] = {
    "app_id": ("App ID", "TikTok for Business developer app id (needed for OAuth and the connection test).", False),
    "app_secret": ("App secret", "Secret of the developer app.", True),
    "advertiser_id": (
        "Default advertiser ID",
        "Advertiser used by operators that are given no advertiser_id.",
        False,
    ),
    "refresh_token": (
        "Refresh token",
        "Only for expiring TikTok-account tokens: lets the hook refresh the access token.",
        True,
    ),
    "rate_limit": (
        "Rate limit (requests/s)",
        "Client-side cap on the app's Marketing API calls (TikTok's default app limit is 10/s), shared by all "
        "tasks of a worker host, or of every host with a rate-limit storage.",
        False,
    ),
    "events_rate_limit": (
        "Events API rate limit (requests/s)",
        "Cap for event uploads (up to 1,000 events a request), shared like the rate limit.",
        False,
    ),
    "rate_limit_storage": (
        "Rate-limit storage (multi-host)",
        "redis:// URI (e.g. the Celery broker's Redis) holding the rate limits for every worker host; "
        "empty keeps them per host.",
        True,
    ),
    "state_uri": (
        "Shared state URI (multi-host)",
        "Folder or object-store URI every worker reads and writes: audience ledgers and snapshots, upload "
        "progress; empty keeps them under $AIRFLOW_HOME/tiktok/state.",
        False,
    ),
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port", "login", "extra"],
    "relabeling": {"host": "API base URL (empty = production)", "password": "Access token"},
    "placeholders": {
        "host": "empty for https://business-api.tiktok.com, or http://127.0.0.1:8765 for the emulator",
        "password": "long-lived advertiser access token",
        "app_id": "7100000000000000001",
        "advertiser_id": "7000000000000000001",
        "rate_limit": str(DEFAULT_RATE_LIMIT),
        "events_rate_limit": str(DEFAULT_EVENTS_RATE_LIMIT),
        "rate_limit_storage": "redis://redis:6379/1",
        "state_uri": "s3://my-bucket/tiktok-state or /mnt/shared/tiktok-state",
    },
}


def conn_fields() -> dict[str, dict[str, Any]]:
    """The Airflow 3.2+ ``conn-fields`` declaration built from :data:`EXTRA_FIELDS`."""
    fields: dict[str, dict[str, Any]] = {}
    for name, (label, description, secret) in EXTRA_FIELDS.items():
        schema: dict[str, Any] = {"type": ["string", "null"]}
        if secret:
            schema["format"] = "password"
        fields[name] = {"label": label, "description": description, "schema": schema}
    return fields


def ui_field_behaviour_kebab() -> dict[str, Any]:
    """:data:`UI_FIELD_BEHAVIOUR` in the kebab-case keys of provider info."""
    return {key.replace("_", "-"): value for key, value in UI_FIELD_BEHAVIOUR.items()}


def connection_form_widgets() -> dict[str, Any]:
    """WTForms fields for Airflow 3.0-3.1, which read the form from the hook class.

    Plain WTForms fields, no Flask-AppBuilder widget or Flask-Babel: Airflow 3's UI never renders them; its
    hook-metadata service converts the fields into a schema (on 3.0 it needs ``wtforms`` importable to do so).
    """
    from wtforms import PasswordField, StringField

    return {
        name: (PasswordField if secret else StringField)(label, description=description)
        for name, (label, description, secret) in EXTRA_FIELDS.items()
    }


@dataclass(frozen=True)
class TikTokConnectionConfig:
    """What the hook needs from an Airflow connection, validated once."""

    conn_id: str
    base_url: str
    access_token: str | None
    app_id: str | None
    app_secret: str | None
    advertiser_id: str | None
    refresh_token: str | None
    rate_limit: float
    events_rate_limit: float = DEFAULT_EVENTS_RATE_LIMIT
    #: Redis URI of the rate limits shared by every host (None: per host). May carry a password: never logged.
    rate_limit_storage: str | None = None
    #: Root of the state every worker must see (None: ``$AIRFLOW_HOME/tiktok/state`` of each host).
    state_uri: str | None = None

    @property
    def api_root(self) -> str:
        """The base URL with TikTok's version prefix, ending in ``/``."""
        return self.base_url + API_PREFIX

    def __repr__(self) -> str:  # never print secrets, even by accident
        return f"TikTokConnectionConfig(conn_id={self.conn_id!r}, base_url={self.base_url!r})"


def normalise_base_url(host: str | None, conn_id: str) -> str:
    """``scheme://host[:port]`` from the connection host; empty means TikTok production."""
    if not host or not host.strip():
        return PRODUCTION_BASE_URL
    raw = host.strip()
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TikTokConfigError(f"Connection {conn_id!r}: field 'host' must be an http(s) URL or empty")
    path = parts.path.rstrip("/")
    if path and path + "/" != API_PREFIX.rstrip("/") + "/":
        raise TikTokConfigError(
            f"Connection {conn_id!r}: field 'host' must be the API host only (paths start with {API_PREFIX})"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _extra(extras: dict[str, Any], name: str) -> Any:
    """An extra field by its plain name or the ``extra__tiktok_ads__`` name the UI stores."""
    value = extras.get(name)
    if value in (None, ""):
        value = extras.get(f"extra__{CONN_TYPE}__{name}")
    return None if value in (None, "") else value


def config_from_connection(
    conn: Any, *, rate_limit: float | None = None, events_rate_limit: float | None = None
) -> TikTokConnectionConfig:
    """Build the typed config from an Airflow ``Connection``; errors name the field, never its value."""
    conn_id = conn.conn_id
    extras = conn.extra_dejson or {}
    if not isinstance(extras, dict):
        raise TikTokConfigError(f"Connection {conn_id!r}: field 'extra' must be a JSON object")

    def text(name: str) -> str | None:
        value = _extra(extras, name)
        if value is not None and not isinstance(value, str | int):
            raise TikTokConfigError(f"Connection {conn_id!r}: extra field {name!r} must be a string")
        return None if value is None else str(value).strip()

    def rate(name: str, override: float | None, default: float) -> float:
        raw = override if override is not None else _extra(extras, name)
        try:
            value = float(raw) if raw is not None else default
        except (TypeError, ValueError):
            raise TikTokConfigError(f"Connection {conn_id!r}: extra field {name!r} must be a number") from None
        if not 0 < value < float("inf"):
            raise TikTokConfigError(f"Connection {conn_id!r}: extra field {name!r} must be a positive number")
        return value

    storage = text("rate_limit_storage")
    if storage is not None and urlsplit(storage).scheme not in SHARED_SCHEMES:
        raise TikTokConfigError(
            f"Connection {conn_id!r}: extra field 'rate_limit_storage' must be a URI of scheme "
            + ", ".join(f"{scheme}://" for scheme in SHARED_SCHEMES)
        )
    advertiser_id = text("advertiser_id")
    if advertiser_id is not None and not (advertiser_id.isascii() and advertiser_id.isdigit()):
        raise TikTokConfigError(f"Connection {conn_id!r}: extra field 'advertiser_id' must be digits only")
    return TikTokConnectionConfig(
        conn_id=conn_id,
        base_url=normalise_base_url(conn.host, conn_id),
        access_token=(conn.password or "").strip() or None,
        app_id=text("app_id"),
        app_secret=text("app_secret"),
        advertiser_id=advertiser_id,
        refresh_token=text("refresh_token"),
        rate_limit=rate("rate_limit", rate_limit, DEFAULT_RATE_LIMIT),
        events_rate_limit=rate("events_rate_limit", events_rate_limit, DEFAULT_EVENTS_RATE_LIMIT),
        rate_limit_storage=storage,
        state_uri=text("state_uri"),
    )
