"""Staff dashboard sign-in (issue 15 §1): sign in with phone and password (the accounts' own check,
under the login rate limits), the optional TOTP second factor, the session each dashboard request
resolves, sign-out; every step audited.

Only staff sign in: an account needs the `dashboard.access` permission (sql/0034 grants it to
super_admin, admin, moderator, finance and support). The session re-reads the account at every
request, so a ban, a suspension or a removed role ends it at the next page.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from engine.accounts import store as accounts_store
from engine.accounts.actions import Client, check_can_sign_in, verify_credentials
from engine.audit import store as audit
from engine.errors import DomainError, forbidden, rate_limited
from engine.services import Services
from engine.staff import store
from engine.staff.model import (
    PERMISSION,
    StaffSession,
    Timeouts,
    ended_by,
    matched_step,
    needs_touch,
    new_token,
    new_totp_secret,
    provisioning_uri,
    qr_svg,
    seal_secret,
    token_hash,
    totp_key,
    unseal_secret,
)

log = logging.getLogger("flylive.staff")


@dataclass(frozen=True)
class SignedIn:
    token: str
    needs_second_factor: bool


async def sign_in(svc: Services, phone: str, password: str, client: Client) -> SignedIn:
    """A new session for a staff member; 422 for a wrong phone or password, 429 past the login limits,
    403 for an account that may not sign in or is not staff."""
    user = await verify_credentials(svc, phone, password, client)
    check_can_sign_in(user)
    token, csrf = new_token(), new_token()
    async with svc.pool.acquire() as conn, conn.transaction():
        if PERMISSION not in await accounts_store.permission_names(conn, user["id"]):
            svc.metrics.auth_attempts.labels("dashboard", "not_staff").inc()
            raise forbidden("This account has no access to the dashboard.")
        factor = await store.totp(conn, user["id"])
        needs_factor = factor is not None and factor["enabled_at"] is not None
        await store.create_session_txn(conn, token_hash(token), user["id"], csrf, not needs_factor,
                                       client.ip, client.user_agent)  # fmt: skip
        await audit.record_txn(conn, actor_id=user["id"], action="staff.login", target_type="user",
                               target_id=user["id"], ip=client.ip,
                               details={"second_factor": "pending" if needs_factor else "none"})  # fmt: skip
    svc.metrics.auth_attempts.labels("dashboard", "ok").inc()
    log.info("staff signed in", extra={"user_id": user["id"], "second_factor": needs_factor})
    return SignedIn(token, needs_factor)


async def current(svc: Services, token: str | None) -> StaffSession | None:
    """The session a cookie names if it still holds (ending it, with its reason, when it has lapsed)."""
    if not token:
        return None
    key = token_hash(token)
    now = dt.datetime.now(dt.UTC)
    async with svc.pool.acquire() as conn:
        row = await store.session(conn, key)
        if row is None:
            return None
        reason = ended_by(row, Timeouts.of(await store.timeout_settings(conn)), now)
        if reason is not None:
            if row["ended_at"] is None and await store.end_session(conn, key, reason):
                log.info("staff session ended", extra={"user_id": row["user_id"], "reason": reason})
            return None
        if needs_touch(row["last_seen_at"], now):
            await store.touch(conn, key, now)
    return StaffSession(
        token_hash=key, user_id=row["user_id"], name=row["name"], phone=row["phone"], csrf_token=row["csrf_token"],
        verified=row["verified"], permissions=frozenset(row["permissions"]), roles=tuple(row["roles"]),
        created_at=row["created_at"], last_seen_at=row["last_seen_at"],
    )  # fmt: skip


async def sign_out(svc: Services, session: StaffSession, ip: str | None) -> None:
    async with svc.pool.acquire() as conn, conn.transaction():
        if await store.end_session(conn, session.token_hash, "logout"):
            await audit.record_txn(conn, actor_id=session.user_id, action="staff.logout", target_type="user",
                                   target_id=session.user_id, ip=ip)  # fmt: skip


async def _check_code_rate(svc: Services, user_id: int) -> None:
    verdict = await svc.limiter.hit("staff:totp", str(user_id), svc.config.login_rate_limit_phone)
    if not verdict.allowed:
        svc.metrics.rate_limited.labels("staff:totp").inc()
        raise rate_limited(verdict.retry_after_seconds)


async def _take_code(svc: Services, user_id: int, code: str, *, enabling: bool) -> bool:
    """Check a code against the user's factor and, when good, spend its step (under the row's lock)."""
    await _check_code_rate(svc, user_id)
    async with svc.pool.acquire() as conn, conn.transaction():
        factor = await store.totp_lock(conn, user_id)
        if factor is None or (factor["enabled_at"] is None) != enabling:
            return False
        secret = unseal_secret(totp_key(svc.config), user_id, factor["secret"])
        step = matched_step(secret, code, factor["last_step"]) if secret else None
        if step is None:
            return False
        await store.take_step(conn, user_id, step, enabling)
    return True


async def second_factor(svc: Services, session: StaffSession, code: str, ip: str | None) -> bool:
    """The TOTP code after the password: True when it verified the session."""
    ok = await _take_code(svc, session.user_id, code, enabling=False)
    svc.metrics.auth_attempts.labels("dashboard_totp", "ok" if ok else "bad_code").inc()
    async with svc.pool.acquire() as conn, conn.transaction():
        if ok:
            await store.mark_verified(conn, session.token_hash)
        await audit.record_txn(conn, actor_id=session.user_id, action="staff.totp_verified" if ok else
                               "staff.totp_failed", target_type="user", target_id=session.user_id, ip=ip)  # fmt: skip
    return ok


@dataclass(frozen=True)
class Enrolment:
    uri: str
    qr_svg: str
    secret: str


async def factor_enabled(svc: Services, user_id: int) -> bool:
    async with svc.pool.acquire() as conn:
        factor = await store.totp(conn, user_id)
    return factor is not None and factor["enabled_at"] is not None


async def begin_enrolment(svc: Services, session: StaffSession) -> Enrolment:
    """A fresh secret to scan (replacing an unconfirmed one); 409 when a factor is already on."""
    secret = new_totp_secret()
    async with svc.pool.acquire() as conn, conn.transaction():
        factor = await store.totp_lock(conn, session.user_id)
        if factor is not None and factor["enabled_at"] is not None:
            raise DomainError("totp_enabled", "A second factor is already set up.", status=409)
        await store.start_totp(conn, session.user_id, seal_secret(totp_key(svc.config), session.user_id, secret))
    uri = provisioning_uri(secret, session.phone)
    return Enrolment(uri, qr_svg(uri), secret)


async def pending_enrolment(svc: Services, session: StaffSession) -> Enrolment | None:
    async with svc.pool.acquire() as conn:
        factor = await store.totp(conn, session.user_id)
    if factor is None or factor["enabled_at"] is not None:
        return None
    secret = unseal_secret(totp_key(svc.config), session.user_id, factor["secret"])
    if secret is None:
        return None
    uri = provisioning_uri(secret, session.phone)
    return Enrolment(uri, qr_svg(uri), secret)


async def confirm_enrolment(svc: Services, session: StaffSession, code: str, ip: str | None) -> bool:
    """The first code from the authenticator turns the factor on (and counts for this session)."""
    ok = await _take_code(svc, session.user_id, code, enabling=True)
    if ok:
        async with svc.pool.acquire() as conn, conn.transaction():
            await audit.record_txn(conn, actor_id=session.user_id, action="staff.totp_enabled",
                                   target_type="user", target_id=session.user_id, ip=ip,
                                   details={"before": "off", "after": "on"})  # fmt: skip
        log.info("staff second factor enabled", extra={"user_id": session.user_id})
    return ok


async def disable_factor(svc: Services, session: StaffSession, code: str, ip: str | None) -> bool:
    """Turning the factor off takes a current code (a stolen session alone cannot remove it)."""
    if not await _take_code(svc, session.user_id, code, enabling=False):
        return False
    async with svc.pool.acquire() as conn, conn.transaction():
        await store.delete_totp(conn, session.user_id)
        await audit.record_txn(conn, actor_id=session.user_id, action="staff.totp_disabled", target_type="user",
                               target_id=session.user_id, ip=ip, details={"before": "on", "after": "off"})  # fmt: skip
    return True
