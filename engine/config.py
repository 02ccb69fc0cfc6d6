"""Configuration, read once from environment variables and validated at start.

Every setting has a documented default (README "Configuration"); a bad value stops the process with
one message naming each offending variable, instead of failing later in some handler.
"""

from __future__ import annotations

import os
import re
import secrets
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """Raised with every invalid variable listed, one per line."""


DEVELOPMENT, PRODUCTION = "development", "production"
# Signs the sandbox's webhook events in a development deployment; public, so never trusted in production.
DEV_WEBHOOK_SECRET = "whsec_sandbox_development_only"


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket: `capacity` requests, refilled evenly over `period` seconds."""

    capacity: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        count, _, seconds = text.partition("/")
        rate = cls(int(count), float(seconds))
        if rate.capacity < 1 or rate.period <= 0:
            raise ValueError("must be COUNT/SECONDS with both positive, e.g. 60/60")
        return rate


@dataclass(frozen=True, slots=True)
class Config:
    """Defaults are those of a bare `flylive serve`: a development deployment on embedded servers.

    `load_config` makes any deployment given a DATABASE_URL or REDIS_URL a production one unless
    FLYLIVE_ENV says otherwise, and production has no sandbox payments and no built-in secret.
    """

    database_url: str | None = None
    # The hot cache's LISTEN connection; must reach PostgreSQL directly (not a pooler in
    # transaction mode). Unset: DATABASE_URL.
    database_listen_url: str | None = None
    redis_url: str | None = None
    environment: str = DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    seed_demo: bool = True
    log_format: str = "json"
    log_level: str = "INFO"

    jwt_secret: str = ""
    jwt_secret_previous: tuple[str, ...] = ()
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 86400
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3

    redis_prefix: str = ""
    redis_max_connections: int = 128
    # python-socketio's Redis manager (cross-process fan-out) has a blocking pool of its own.
    socketio_redis_max_connections: int = 32
    db_pool_min: int = 2
    db_pool_max: int = 20
    db_statement_cache_size: int = 100

    max_body_bytes: int = 1024 * 1024
    body_read_timeout_seconds: float = 30.0
    metrics_token: str = ""
    cors_origins: tuple[str, ...] = (
        "https://flyliveapp.com",
        "https://www.flyliveapp.com",
        "https://localhost",
        "capacitor://localhost",
        "http://localhost:3000",
    )
    http_rate_limit: Rate = field(default_factory=lambda: Rate(120, 60))
    login_rate_limit_phone: Rate = field(default_factory=lambda: Rate(5, 300))
    login_rate_limit_ip: Rate = field(default_factory=lambda: Rate(30, 300))
    # Per socket, in process (realtime-contract §9 Backpressure): a bucket of 100 refilling 20/s.
    socket_event_rate_limit: Rate = field(default_factory=lambda: Rate(100, 5))
    # A socket refused this many events before its bucket has refilled is flooding: disconnect it.
    socket_flood_refusals: int = 200
    socket_flood_cooldown_seconds: int = 30
    socket_malformed_limit: int = 10
    presence_subscriptions_per_socket: int = 500
    presence_subscriptions_per_user: int = 1000
    # Media events have their own bucket: joining a full room sets up a consumer per speaker at once
    # (2 transports, their connects, then consume + resume for up to 31 producers: ~66 events).
    media_event_rate_limit: Rate = field(default_factory=lambda: Rate(150, 10))

    socket_ping_interval: int = 25
    socket_ping_timeout: int = 60
    socket_max_payload_bytes: int = 16 * 1024
    socket_compression: bool = False
    # A socket that does not read is cut once its unsent output passes either bound (backpressure).
    socket_output_max_bytes: int = 2 * 1024 * 1024
    socket_output_max_age_seconds: float = 30.0
    # A busy server joins the frames a socket gets within this window into one write (0: never waits).
    socket_write_coalesce_ms: int = 25
    # Big rooms: high-rate events (joins, leaves, gifts, reactions, speakers) reach the clients that
    # announce the `room:batch` feature as one `room:batch` frame per room per tick (0: never).
    room_batch_tick_ms: int = 50
    room_batch_min_members: int = 50
    shutdown_grace_seconds: float = 10.0
    # CPython's collector thresholds for `serve`. Its default first threshold (700 allocations) makes
    # a process holding 15,000 sockets (2.4 million objects) run a full collection every ~20 s, each
    # 2.3 s of CPU with the event loop stopped (docs/performance.md, "60,000 sockets held").
    gc_thresholds: tuple[int, int, int] = (50_000, 10, 10)

    seat_grace_ms: int = 45_000
    seat_invite_ttl_ms: int = 30_000
    chat_history: int = 50
    chat_rate_limit: Rate = field(default_factory=lambda: Rate(60, 60))
    reaction_rate_limit: Rate = field(default_factory=lambda: Rate(1, 1.5))
    chat_blocked_words: tuple[str, ...] = ()
    gift_rate_limit: Rate = field(default_factory=lambda: Rate(330, 60))
    # Follow, unfollow, block and unblock together, per user; user search; user:profileSync.
    social_rate_limit: Rate = field(default_factory=lambda: Rate(120, 60))
    search_rate_limit: Rate = field(default_factory=lambda: Rate(60, 60))
    profile_sync_rate_limit: Rate = field(default_factory=lambda: Rate(10, 60))
    # Stored notifications older than this are deleted (hourly, in bounded batches).
    notification_retention_days: int = 90
    # GDPR (issue 12 §8): the policy versions in force, as (policy, version) pairs; registration
    # must accept each, and a user who accepted an older one is told it is due (GET /api/v1/me).
    consent_policies: tuple[tuple[str, str], ...] = (("terms", "2026-01"), ("privacy", "2026-01"))
    account_deletion_grace_days: int = 14
    export_rate_limit: Rate = field(default_factory=lambda: Rate(2, 86400))
    export_link_ttl_seconds: int = 86400
    # How often each process looks for export jobs to run and deletions to purge.
    gdpr_sweep_seconds: float = 5.0
    # Direct messages: sends per user; new threads (and message requests) per user; dm:typing per
    # user per thread (realtime-contract §2.3: 1 per 2 s).
    dm_rate_limit: Rate = field(default_factory=lambda: Rate(60, 60))
    dm_thread_rate_limit: Rate = field(default_factory=lambda: Rate(30, 600))
    dm_typing_rate_limit: Rate = field(default_factory=lambda: Rate(1, 2))
    # The activity log (engine/activity): rows older than this are deleted (hourly, in batches); the
    # activity stream in Redis is drained into PostgreSQL this often.
    activity_retention_days: int = 90
    activity_flush_interval_seconds: float = 1.0
    # Reports (issue 12 §4): per reporter; and the automatic case a user's distinct reporters open.
    report_rate_limit: Rate = field(default_factory=lambda: Rate(10, 3600))
    report_auto_threshold: int = 5
    report_auto_window_hours: int = 24
    # Agencies (issue 13, docs/agency.md): the key sealing ID document references at rest (empty:
    # derived from JWT_SECRET), the largest member limit an owner may set, and the rate limits of
    # applying for an agency and of asking to join one (per user).
    agency_id_docs_key: str = ""
    agency_member_limit_max: int = 500
    agency_create_rate_limit: Rate = field(default_factory=lambda: Rate(3, 86400))
    agency_join_request_rate_limit: Rate = field(default_factory=lambda: Rate(10, 3600))
    # After leaving an agency (a leave request approved), how long before joining another.
    agency_rejoin_cooldown_hours: int = 72
    # Announcements an agency's owner or admin may post (per user); the agency chat uses room chat's
    # CHAT_HISTORY, CHAT_RATE_LIMIT and CHAT_BLOCKED_WORDS.
    agency_announcement_rate_limit: Rate = field(default_factory=lambda: Rate(10, 3600))
    # How long before an agency event starts its members are reminded (engine/agency/events.py).
    agency_event_reminder_minutes: int = 15
    # The time zone whose days and months agency income, targets and settlement count in (IANA name).
    business_timezone: str = "UTC"
    # Salary exchanges (surplus USD salary → coins, engine/agency/income.py) a user may make.
    salary_exchange_rate_limit: Rate = field(default_factory=lambda: Rate(10, 60))
    # How long after a business month ends its settlement job waits (the month's last gifts flushed).
    agency_settlement_grace_minutes: int = 10
    daily_gift_spend_limit: int = 5_000_000
    daily_transfer_limit: int = 100_000_000
    imagekit_private_key: str = ""
    media_node_secrets: tuple[str, ...] = ()
    media_node_stale_seconds: float = 15.0
    media_request_timeout_seconds: float = 5.0
    media_room_idle_seconds: float = 60.0
    stun_urls: tuple[str, ...] = ("stun:stun.cloudflare.com:3478",)
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    turn_credential_ttl_seconds: int = 86400
    payment_provider: str = "sandbox"
    payment_webhook_secret: str = DEV_WEBHOOK_SECRET
    payment_webhook_secret_previous: tuple[str, ...] = ()
    economy_shards: int = 16
    idempotency_ttl_seconds: int = 86400
    flush_interval_seconds: float = 0.5
    instance_heartbeat_seconds: float = 5.0
    instance_dead_after_seconds: float = 20.0
    # The dashboard's catalog uploads (issue 15 §7) relay a file to ImageKit with a signed upload
    # (IMAGEKIT_PRIVATE_KEY signs; ImageKit also needs the account's public key).
    imagekit_public_key: str = ""
    imagekit_upload_url: str = "https://upload.imagekit.io/api/v1/files/upload"

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **changes)


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _time_zone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("must be an IANA time zone name, e.g. UTC or Asia/Dubai") from exc
    return text.strip()


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return parse


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not any(text.startswith(f"{scheme}://") for scheme in schemes):
            raise ValueError(f"must be a {'/'.join(schemes)}:// URL")
        return text

    return parse


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise ValueError("must be more than 0 and at most 3600 seconds")
    return value


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _policies(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in _csv(text):
        policy, sep, version = (piece.strip() for piece in part.partition(":"))
        if (
            not sep
            or not re.fullmatch(r"[a-z0-9_]{1,32}", policy)
            or not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", version)
        ):
            raise ValueError("must be policy:version pairs separated by commas, e.g. terms:2026-01,privacy:2026-01")
        pairs.append((policy, version))
    if len({policy for policy, _ in pairs}) != len(pairs):
        raise ValueError("must name each policy once")
    return tuple(pairs)


def _gc_thresholds(text: str) -> tuple[int, int, int]:
    parts = tuple(int(part) for part in text.split(","))
    if len(parts) != 3 or not all(1 <= part <= 10_000_000 for part in parts):
        raise ValueError("must be three positive integers, e.g. 50000,10,10")
    return parts


def _secret(text: str) -> str:
    if len(text) < 32:
        raise ValueError("must be at least 32 characters")
    return text


def _secrets(text: str) -> tuple[str, ...]:
    keys = _csv(text)
    for key in keys:
        _secret(key)
    return keys


# env variable -> (Config field, parser)
ENV_VARS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "DATABASE_URL": ("database_url", _url("postgres", "postgresql")),
    "DATABASE_LISTEN_URL": ("database_listen_url", _url("postgres", "postgresql")),
    "REDIS_URL": ("redis_url", _url("redis", "rediss", "unix")),
    "FLYLIVE_ENV": ("environment", _choice(DEVELOPMENT, PRODUCTION)),
    "FLYLIVE_HOST": ("host", str),
    "FLYLIVE_PORT": ("port", _int_in(1, 65535)),
    "FLYLIVE_DATA_DIR": ("data_dir", Path),
    "FLYLIVE_SEED_DEMO": ("seed_demo", _bool),
    "LOG_FORMAT": ("log_format", _choice("json", "text")),
    "LOG_LEVEL": ("log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR")),
    "JWT_SECRET": ("jwt_secret", _secret),
    "JWT_SECRET_PREVIOUS": ("jwt_secret_previous", _secrets),
    "ACCESS_TOKEN_TTL_SECONDS": ("access_token_ttl", _int_in(30, 86400)),
    "REFRESH_TOKEN_TTL_SECONDS": ("refresh_token_ttl", _int_in(300, 365 * 86400)),
    "ARGON2_MEMORY_KIB": ("argon2_memory_kib", _int_in(1024, 4 * 1024 * 1024)),
    "ARGON2_TIME_COST": ("argon2_time_cost", _int_in(1, 20)),
    "REDIS_PREFIX": ("redis_prefix", str),
    "REDIS_MAX_CONNECTIONS": ("redis_max_connections", _int_in(4, 10_000)),
    "SOCKETIO_REDIS_MAX_CONNECTIONS": ("socketio_redis_max_connections", _int_in(2, 10_000)),
    "DB_POOL_MIN": ("db_pool_min", _int_in(1, 100)),
    "DB_POOL_MAX": ("db_pool_max", _int_in(1, 500)),
    "DB_STATEMENT_CACHE_SIZE": ("db_statement_cache_size", _int_in(0, 10000)),
    "MAX_BODY_BYTES": ("max_body_bytes", _int_in(1024, 64 * 1024 * 1024)),
    "BODY_READ_TIMEOUT_SECONDS": ("body_read_timeout_seconds", _positive),
    "METRICS_TOKEN": ("metrics_token", _secret),
    "CORS_ORIGINS": ("cors_origins", _csv),
    "HTTP_RATE_LIMIT": ("http_rate_limit", Rate.parse),
    "LOGIN_RATE_LIMIT_PHONE": ("login_rate_limit_phone", Rate.parse),
    "LOGIN_RATE_LIMIT_IP": ("login_rate_limit_ip", Rate.parse),
    "SOCKET_EVENT_RATE_LIMIT": ("socket_event_rate_limit", Rate.parse),
    "MEDIA_EVENT_RATE_LIMIT": ("media_event_rate_limit", Rate.parse),
    "SOCKET_FLOOD_REFUSALS": ("socket_flood_refusals", _int_in(0, 1_000_000)),
    "SOCKET_FLOOD_COOLDOWN_SECONDS": ("socket_flood_cooldown_seconds", _int_in(0, 86_400)),
    "SOCKET_MALFORMED_LIMIT": ("socket_malformed_limit", _int_in(1, 1_000_000)),
    "PRESENCE_SUBSCRIPTIONS_PER_SOCKET": ("presence_subscriptions_per_socket", _int_in(1, 100_000)),
    "PRESENCE_SUBSCRIPTIONS_PER_USER": ("presence_subscriptions_per_user", _int_in(1, 1_000_000)),
    "SOCKET_PING_INTERVAL": ("socket_ping_interval", _int_in(5, 300)),
    "SOCKET_PING_TIMEOUT": ("socket_ping_timeout", _int_in(5, 300)),
    "SOCKET_MAX_PAYLOAD_BYTES": ("socket_max_payload_bytes", _int_in(1024, 16 * 1024 * 1024)),
    "SOCKET_COMPRESSION": ("socket_compression", _bool),
    "SOCKET_OUTPUT_MAX_BYTES": ("socket_output_max_bytes", _int_in(64 * 1024, 1024 * 1024 * 1024)),
    "SOCKET_OUTPUT_MAX_AGE_SECONDS": ("socket_output_max_age_seconds", _positive),
    "SOCKET_WRITE_COALESCE_MS": ("socket_write_coalesce_ms", _int_in(0, 1000)),
    "ROOM_BATCH_TICK_MS": ("room_batch_tick_ms", _int_in(0, 1000)),
    "ROOM_BATCH_MIN_MEMBERS": ("room_batch_min_members", _int_in(1, 1_000_000)),
    "SHUTDOWN_GRACE_SECONDS": ("shutdown_grace_seconds", float),
    "GC_THRESHOLDS": ("gc_thresholds", _gc_thresholds),
    "SEAT_GRACE_MS": ("seat_grace_ms", _int_in(0, 600_000)),
    "SEAT_INVITE_TTL_MS": ("seat_invite_ttl_ms", _int_in(1000, 600_000)),
    "CHAT_HISTORY": ("chat_history", _int_in(0, 500)),
    "CHAT_RATE_LIMIT": ("chat_rate_limit", Rate.parse),
    "REACTION_RATE_LIMIT": ("reaction_rate_limit", Rate.parse),
    "CHAT_BLOCKED_WORDS": ("chat_blocked_words", _csv),
    "GIFT_RATE_LIMIT": ("gift_rate_limit", Rate.parse),
    "SOCIAL_RATE_LIMIT": ("social_rate_limit", Rate.parse),
    "SEARCH_RATE_LIMIT": ("search_rate_limit", Rate.parse),
    "PROFILE_SYNC_RATE_LIMIT": ("profile_sync_rate_limit", Rate.parse),
    "NOTIFICATION_RETENTION_DAYS": ("notification_retention_days", _int_in(1, 3650)),
    "CONSENT_POLICIES": ("consent_policies", _policies),
    "ACCOUNT_DELETION_GRACE_DAYS": ("account_deletion_grace_days", _int_in(0, 365)),
    "EXPORT_RATE_LIMIT": ("export_rate_limit", Rate.parse),
    "EXPORT_LINK_TTL_SECONDS": ("export_link_ttl_seconds", _int_in(60, 7 * 86400)),
    "GDPR_SWEEP_SECONDS": ("gdpr_sweep_seconds", _positive),
    "DM_RATE_LIMIT": ("dm_rate_limit", Rate.parse),
    "DM_THREAD_RATE_LIMIT": ("dm_thread_rate_limit", Rate.parse),
    "DM_TYPING_RATE_LIMIT": ("dm_typing_rate_limit", Rate.parse),
    "ACTIVITY_RETENTION_DAYS": ("activity_retention_days", _int_in(1, 3650)),
    "ACTIVITY_FLUSH_INTERVAL_SECONDS": ("activity_flush_interval_seconds", _positive),
    "REPORT_RATE_LIMIT": ("report_rate_limit", Rate.parse),
    "REPORT_AUTO_THRESHOLD": ("report_auto_threshold", _int_in(0, 10000)),
    "REPORT_AUTO_WINDOW_HOURS": ("report_auto_window_hours", _int_in(1, 8760)),
    "AGENCY_ID_DOCS_KEY": ("agency_id_docs_key", _secret),
    "AGENCY_MEMBER_LIMIT_MAX": ("agency_member_limit_max", _int_in(1, 100000)),
    "AGENCY_CREATE_RATE_LIMIT": ("agency_create_rate_limit", Rate.parse),
    "AGENCY_JOIN_REQUEST_RATE_LIMIT": ("agency_join_request_rate_limit", Rate.parse),
    "AGENCY_REJOIN_COOLDOWN_HOURS": ("agency_rejoin_cooldown_hours", _int_in(0, 8760)),
    "AGENCY_ANNOUNCEMENT_RATE_LIMIT": ("agency_announcement_rate_limit", Rate.parse),
    "AGENCY_EVENT_REMINDER_MINUTES": ("agency_event_reminder_minutes", _int_in(1, 1440)),
    "BUSINESS_TIMEZONE": ("business_timezone", _time_zone),
    "SALARY_EXCHANGE_RATE_LIMIT": ("salary_exchange_rate_limit", Rate.parse),
    "AGENCY_SETTLEMENT_GRACE_MINUTES": ("agency_settlement_grace_minutes", _int_in(0, 1440)),
    "DAILY_GIFT_SPEND_LIMIT": ("daily_gift_spend_limit", _int_in(0, 10**15)),
    "DAILY_TRANSFER_LIMIT": ("daily_transfer_limit", _int_in(0, 10**15)),
    "IMAGEKIT_PRIVATE_KEY": ("imagekit_private_key", str),
    "MEDIA_NODE_SECRETS": ("media_node_secrets", _secrets),
    "MEDIA_NODE_STALE_SECONDS": ("media_node_stale_seconds", float),
    "MEDIA_REQUEST_TIMEOUT_SECONDS": ("media_request_timeout_seconds", float),
    "MEDIA_ROOM_IDLE_SECONDS": ("media_room_idle_seconds", float),
    "STUN_URLS": ("stun_urls", _csv),
    "TURN_URLS": ("turn_urls", _csv),
    "TURN_SECRET": ("turn_secret", str),
    "TURN_CREDENTIAL_TTL_SECONDS": ("turn_credential_ttl_seconds", _int_in(60, 7 * 86400)),
    "PAYMENT_PROVIDER": ("payment_provider", _choice("sandbox", "none")),
    "PAYMENT_WEBHOOK_SECRET": ("payment_webhook_secret", str),
    "PAYMENT_WEBHOOK_SECRET_PREVIOUS": ("payment_webhook_secret_previous", _csv),
    "ECONOMY_SHARDS": ("economy_shards", _int_in(1, 1024)),
    "IDEMPOTENCY_TTL_SECONDS": ("idempotency_ttl_seconds", _int_in(60, 30 * 86400)),
    "FLUSH_INTERVAL_SECONDS": ("flush_interval_seconds", float),
    "INSTANCE_HEARTBEAT_SECONDS": ("instance_heartbeat_seconds", float),
    "INSTANCE_DEAD_AFTER_SECONDS": ("instance_dead_after_seconds", float),
    "IMAGEKIT_PUBLIC_KEY": ("imagekit_public_key", str),
    "IMAGEKIT_UPLOAD_URL": ("imagekit_upload_url", str),
}


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Build a Config from the environment; raise ConfigError naming every bad variable."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, (attr, parse) in ENV_VARS.items():
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[attr] = parse(raw)
        except ValueError as exc:
            reason = str(exc) if "must" in str(exc) else f"is not valid ({exc})"
            problems.append(f"{name}={raw!r}: {reason}")
    config = Config(**_deployment_defaults(values))
    problems += deployment_problems(config)
    if config.db_pool_min > config.db_pool_max:
        problems.append("DB_POOL_MIN must not exceed DB_POOL_MAX")
    if config.turn_urls and len(config.turn_secret) < 16:
        problems.append("TURN_URLS needs TURN_SECRET (the TURN server's static-auth-secret, 16 characters or more)")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config


def _deployment_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """A deployment given its own servers is production unless FLYLIVE_ENV says otherwise; there the
    payment settings default to off rather than to the development sandbox."""
    external = values.get("database_url") or values.get("redis_url")
    environment = values.setdefault("environment", PRODUCTION if external else DEVELOPMENT)
    if environment == PRODUCTION:
        values.setdefault("payment_provider", "none")
        values.setdefault("payment_webhook_secret", "")
    return values


def deployment_problems(config: Config) -> list[str]:
    """What production refuses: anything that would let coins be minted by whoever asks."""
    if config.environment != PRODUCTION:
        return []
    problems: list[str] = []
    if config.payment_provider == "sandbox":
        problems.append(
            "PAYMENT_PROVIDER=sandbox lets any user pay their own orders: refused in production "
            "(set PAYMENT_PROVIDER=none, or FLYLIVE_ENV=development for a development deployment)"
        )
    if DEV_WEBHOOK_SECRET in (config.payment_webhook_secret, *config.payment_webhook_secret_previous):
        problems.append(
            "PAYMENT_WEBHOOK_SECRET is the built-in development secret, which anyone can sign with: "
            "refused in production (set your provider's secret)"
        )
    elif config.payment_provider != "none" and not config.payment_webhook_secret:
        problems.append(f"PAYMENT_PROVIDER={config.payment_provider} needs PAYMENT_WEBHOOK_SECRET in production")
    return problems


def check_deployment(config: Config) -> None:
    """Refuse to start a production deployment that `deployment_problems` objects to."""
    problems = deployment_problems(config)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def development_warnings(config: Config) -> list[str]:
    """What a development deployment leaves open, said at start so nobody runs it by mistake."""
    if config.environment != DEVELOPMENT:
        return []
    warnings = [
        "a development deployment (FLYLIVE_ENV=development, the default without DATABASE_URL and "
        "REDIS_URL): not for real users"
    ]
    if config.payment_provider == "sandbox":
        warnings.append("PAYMENT_PROVIDER=sandbox: any user can complete their own recharge orders and get coins")
    if config.payment_webhook_secret == DEV_WEBHOOK_SECRET:
        warnings.append("PAYMENT_WEBHOOK_SECRET is the built-in development secret: anyone can sign webhooks")
    return warnings


def ensure_jwt_secret(config: Config) -> Config:
    """Without JWT_SECRET, keep a generated one in the data directory so tokens survive restarts."""
    if config.jwt_secret:
        return config
    path = config.data_dir / "jwt_secret"
    if path.exists():
        secret = path.read_text().strip()
    else:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.write_text(secret)
        path.chmod(0o600)
    return config.with_overrides(jwt_secret=secret)


def documented_variables() -> list[str]:
    """Names of every variable, in the order the README documents them."""
    names = {f.name for f in fields(Config)}
    assert all(attr in names for attr, _ in ENV_VARS.values())
    return list(ENV_VARS)
