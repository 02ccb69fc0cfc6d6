"""Staff dashboard sign-in: session tokens, CSRF tokens, the TOTP second factor and its QR code, the
timeouts. No I/O.

A session cookie holds a random token; the database keeps only its SHA-256 (`token_hash`). Each
session has its own CSRF token, which every form and every state-changing request must echo. TOTP is
RFC 6238 (30-second steps, 6 digits, one step of clock drift either way) through pyotp; a code is
accepted once (the step it matched is remembered), and the secret is sealed at rest with AES-GCM
under a key derived from JWT_SECRET.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import pyotp
import segno

from engine.agency.seal import seal, unseal
from engine.config import Config

COOKIE = "flylive_admin"
PERMISSION = "dashboard.access"
ISSUER = "FlyLive"
DEFAULT_IDLE_SECONDS = 1800
DEFAULT_MAX_SECONDS = 43200
# Seen-at is written at most this often per session (every request would be a write per page view).
TOUCH_EVERY_SECONDS = 30
EndReason = Literal["logout", "idle", "expired", "revoked"]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


@dataclass(frozen=True)
class Timeouts:
    idle_seconds: int = DEFAULT_IDLE_SECONDS
    max_seconds: int = DEFAULT_MAX_SECONDS

    @classmethod
    def of(cls, settings: dict[str, int]) -> Timeouts:
        return cls(settings.get("admin_idle_timeout_seconds", DEFAULT_IDLE_SECONDS),
                   settings.get("admin_session_max_seconds", DEFAULT_MAX_SECONDS))  # fmt: skip


@dataclass(frozen=True)
class StaffSession:
    """A signed-in staff member as a dashboard request sees them."""

    token_hash: bytes
    user_id: int
    name: str
    phone: str
    csrf_token: str
    verified: bool
    permissions: frozenset[str]
    roles: tuple[str, ...]
    created_at: dt.datetime
    last_seen_at: dt.datetime

    def can(self, permission: str | None) -> bool:
        return permission is None or permission in self.permissions


def ended_by(row: dict[str, Any], timeouts: Timeouts, now: dt.datetime) -> EndReason | None:
    """Why a stored session no longer holds (None: it does)."""
    if row["ended_at"] is not None:
        return "revoked"
    suspended = row["status"] == "suspended" and (row["suspended_until"] is None or row["suspended_until"] > now)
    if row["status"] == "banned" or suspended or PERMISSION not in row["permissions"]:
        return "revoked"  # banned, suspended or no longer staff: out at the next request
    if now - row["last_seen_at"] > dt.timedelta(seconds=timeouts.idle_seconds):
        return "idle"
    if now - row["created_at"] > dt.timedelta(seconds=timeouts.max_seconds):
        return "expired"
    return None


def needs_touch(last_seen_at: dt.datetime, now: dt.datetime) -> bool:
    return (now - last_seen_at).total_seconds() >= TOUCH_EVERY_SECONDS


# --- TOTP -----------------------------------------------------------------------------------------


def totp_key(config: Config) -> bytes:
    return hashlib.sha256(b"flylive staff totp\x00" + config.jwt_secret.encode()).digest()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def seal_secret(key: bytes, user_id: int, secret: str) -> bytes:
    return seal(key, user_id, secret)


def unseal_secret(key: bytes, user_id: int, sealed: bytes) -> str | None:
    return unseal(key, user_id, sealed)


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG (no image request, nothing from outside)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff"))


def matched_step(secret: str, code: str, last_step: int, at: float | None = None) -> int | None:
    """The 30-second step a 6-digit code belongs to (now, one before or one after), if it is later
    than `last_step` (a code is good once); else None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if candidate > last_step and hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None
