"""Feature flags and the maintenance state: rows as Structs, the stable rollout bucket, checks. No I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import msgspec

from engine.config import Rate
from engine.errors import validation_error

NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
MAX_DESCRIPTION = 500
MAX_MESSAGE = 500
BUCKETS = 100


class Flag(msgspec.Struct, frozen=True):
    name: str
    description: str
    enabled: bool
    rollout_percent: int
    updated_at: dt.datetime | None = None
    updated_by: int | None = None


class Maintenance(msgspec.Struct, frozen=True):
    active: bool
    message: str = ""
    started_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None


OFF = Maintenance(active=False)


def bucket(name: str, user_id: int) -> int:
    """The user's place 0..99 for this flag: the same in every process and across restarts (a hash of
    the flag's name and the user id, not Python's per-process `hash`), and independent between flags,
    so a 10% rollout of one flag and of another reach different users."""
    digest = hashlib.sha256(f"{name}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def is_on(flag: Flag | None, user_id: int | None) -> bool:
    """Whether the flag is on for the user: enabled, and the user's bucket under the rollout.
    Unknown flags are off; without a user only a 100% rollout counts."""
    if flag is None or not flag.enabled or flag.rollout_percent <= 0:
        return False
    if flag.rollout_percent >= BUCKETS:
        return True
    return user_id is not None and bucket(flag.name, user_id) < flag.rollout_percent


def check_flag(name: str, description: str, rollout_percent: int) -> None:
    errors: dict[str, list[str]] = {}
    if not NAME.match(name):
        errors["name"] = ["Lower-case letters, digits, '.', '_' or '-', starting with a letter (at most 64)."]
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = [f"At most {MAX_DESCRIPTION} characters."]
    if not 0 <= rollout_percent <= BUCKETS:
        errors["rollout_percent"] = ["A percentage from 0 to 100."]
    if errors:
        raise validation_error(errors)


def check_maintenance(message: str, ends_at: dt.datetime | None, now: dt.datetime) -> None:
    errors: dict[str, list[str]] = {}
    if not message.strip():
        errors["message"] = ["Tell users what is happening."]
    elif len(message) > MAX_MESSAGE:
        errors["message"] = [f"At most {MAX_MESSAGE} characters."]
    if ends_at is not None and ends_at <= now:
        errors["ends_at"] = ["The expected end must be in the future."]
    if errors:
        raise validation_error(errors)


# The limiter scopes whose rate can be changed at run time (engine/ratelimit/store.py `RateLimiter`
# asks `Services.flags` for an override at each hit), each with the Config field that holds its
# environment default. Not here: buckets kept inside other Lua scripts or in the process
# (room chat's CHAT_RATE_LIMIT, the per-socket SOCKET_EVENT_RATE_LIMIT) — those take a restart.
LIVE_RATES: dict[str, str] = {
    "http": "http_rate_limit",
    "login:phone": "login_rate_limit_phone",
    "login:ip": "login_rate_limit_ip",
    "gift": "gift_rate_limit",
    "gift_prepare": "gift_rate_limit",
    "media": "media_event_rate_limit",
    "reaction": "reaction_rate_limit",
    "social": "social_rate_limit",
    "search": "search_rate_limit",
    "profile_sync": "profile_sync_rate_limit",
    "dm": "dm_rate_limit",
    "dm_thread": "dm_thread_rate_limit",
    "dm_typing": "dm_typing_rate_limit",
    "reports": "report_rate_limit",
    "gdpr:export": "export_rate_limit",
    "agency_create": "agency_create_rate_limit",
    "agency_join": "agency_join_request_rate_limit",
    "agency_announce": "agency_announcement_rate_limit",
    "agency_chat": "chat_rate_limit",
    "salary_exchange": "salary_exchange_rate_limit",
}
# Rates read where no override reaches them (Config field -> where), shown as "environment only".
ENV_ONLY_RATES: dict[str, str] = {
    "socket_event_rate_limit": "each socket's own budget, kept in the process",
    "chat_rate_limit": "room chat, inside the room's script (agency chat is the live agency_chat)",
}
MAX_CAPACITY = 1_000_000
MAX_PERIOD_SECONDS = 7 * 86400


def check_rate(scope: str, capacity: int, period: float) -> Rate:
    errors: dict[str, list[str]] = {}
    if scope not in LIVE_RATES:
        errors["scope"] = ["Not a rate limit that can be changed at run time."]
    if not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = [f"From 1 to {MAX_CAPACITY}."]
    if not 0 < period <= MAX_PERIOD_SECONDS:
        errors["period"] = [f"More than 0 and at most {MAX_PERIOD_SECONDS} seconds."]
    if errors:
        raise validation_error(errors)
    return Rate(capacity, period)
