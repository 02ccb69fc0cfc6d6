"""Account actions: register, log in, refresh, log out, change password and profile, suspend/ban.

Checks come first (`check_*`), then one transaction, then side effects (Redis revocation markers,
the live-socket disconnect broadcast) only after the commit succeeded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from engine.accounts import model, store
from engine.accounts.model import LoginBody, RegisterBody, ResetPasswordBody
from engine.audit.store import record_txn
from engine.auth import store as auth_store
from engine.auth.store import Revocation
from engine.auth.tokens import hash_refresh_token, new_refresh_token
from engine.db import Conn
from engine.economy.actions import get_balances
from engine.errors import DomainError, not_found, validation_error
from engine.services import Services
from engine.validation import CheckedFields, check_no_nul

log = logging.getLogger("flylive.accounts")

BAD_CREDENTIALS = "These credentials do not match our records."


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_at: int
    refresh_token: str
    session_id: str

    def as_json(self, ttl: int) -> dict[str, Any]:
        # `token` keeps legacy clients working: they send it back as the Bearer token.
        return {
            "token": self.access_token,
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": self.refresh_token,
        }


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from, for sessions, rate limits and the audit log."""

    ip: str | None
    user_agent: str | None = None


async def _open_session_txn(svc: Services, conn: Conn, user: dict[str, Any], client: Client) -> TokenPair:
    session_id, evicted = await auth_store.create_session_txn(
        conn, user["id"], user_agent=client.user_agent, ip=client.ip
    )
    refresh, refresh_hash = new_refresh_token()
    await auth_store.insert_refresh_token_txn(conn, session_id, refresh_hash, svc.config.refresh_token_ttl)
    access, expires = svc.signer.issue(user["id"], session_id, model.token_claims_profile(user))
    if evicted:
        await auth_store.mark_revoked(svc.redis, svc.keys, evicted, svc.signer.ttl)
    return TokenPair(access, expires, refresh, session_id)


def check_can_sign_in(user: dict[str, Any]) -> None:
    if user["status"] == "banned":
        raise DomainError("account_banned", "This account has been banned.", status=403)
    until = user["suspended_until"]
    if user["status"] == "suspended" and (until is None or until > dt.datetime.now(dt.UTC)):
        when = f" until {until.isoformat()}" if until else ""
        raise DomainError("account_suspended", f"This account is suspended{when}.", status=403)


async def _check_registration(conn: Conn, fields: CheckedFields[RegisterBody]) -> RegisterBody:
    """The body, or one 422 naming every bad field: the age and the phone's uniqueness are checked
    on the fields that passed their type check, together with the others' type errors (as Laravel)."""
    problems: dict[str, list[str]] = {}
    if "phone" in fields.valid and await store.phone_taken(conn, fields.valid["phone"]):
        problems["phone"] = [model.PHONE_TAKEN]
    if "dob" in fields.valid and not model.is_adult(fields.valid["dob"]):
        problems["dob"] = [model.UNDERAGE]
    return fields.build(problems)


# Run in the registration's transaction once the user exists (GDPR records the consents given).
RegisteredHook = Callable[[Conn, dict[str, Any]], Awaitable[None]]


async def do_register(
    svc: Services, fields: CheckedFields[RegisterBody], client: Client, also_txn: RegisteredHook | None = None
) -> tuple[dict[str, Any], TokenPair]:
    # Hash before borrowing a connection (argon2 takes tens of milliseconds). Without a valid
    # password the body is refused below, so the empty hash is never stored.
    password = fields.valid.get("password")
    password_hash = await svc.hasher.hash(password) if password is not None else ""
    async with svc.pool.acquire() as conn:
        body = await _check_registration(conn, fields)
        for _attempt in range(3):
            candidates = model.signature_candidates(body.name)
            free = [c for c in candidates if c not in await store.taken_signatures(conn, candidates)]
            if not free:
                continue
            try:
                async with conn.transaction():
                    user = await store.insert_user_txn(
                        conn,
                        name=body.name,
                        phone=body.phone,
                        signature=free[0],
                        password_hash=password_hash,
                        country=body.country.lower(),
                        gender=model.GENDER_CODES[body.gender],
                        dob=body.dob,
                        email=f"{free[0]}@flylive.com",
                    )
                    await store.grant_role_txn(conn, user["id"], "user", None)
                    await store.insert_owned_room_txn(conn, user["id"], user["signature"], user["country"])
                    await record_txn(
                        conn,
                        actor_id=user["id"],
                        action="account.register",
                        target_type="user",
                        target_id=user["id"],
                        ip=client.ip,
                    )
                    if also_txn is not None:
                        await also_txn(conn, user)
                    tokens = await _open_session_txn(svc, conn, user, client)
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "users_phone_key":
                    raise validation_error({"phone": [model.PHONE_TAKEN]}) from exc
                continue  # lost a race for the signature: try fresh candidates
            log.info("user registered", extra={"user_id": user["id"]})
            return user, tokens
    raise DomainError("signature_exhausted", "Could not allocate a unique signature; try again.", status=409)


async def check_login_rate(svc: Services, phone: str, ip: str | None) -> None:
    for scope, subject, rate in (
        ("login:phone", phone.lower(), svc.config.login_rate_limit_phone),
        ("login:ip", ip or "unknown", svc.config.login_rate_limit_ip),
    ):
        verdict = await svc.limiter.hit(scope, subject, rate)
        if not verdict.allowed:
            svc.metrics.rate_limited.labels(scope).inc()
            svc.metrics.auth_attempts.labels("login", "throttled").inc()
            seconds = verdict.retry_after_seconds
            raise DomainError(
                "rate_limited",
                f"Too many login attempts. Please try again in {seconds} seconds.",
                status=429,
                fields={"phone": [f"Too many login attempts. Please try again in {seconds} seconds."]},
                retry_after=seconds,
            )


async def _password_holder(svc: Services, conn: Conn, phone: str, password: str) -> dict[str, Any]:
    """The account with this phone if the password is its own; else the one bad-credentials 422
    (the same for an unknown phone: a hash is checked either way, so timing tells nothing)."""
    user = await store.get_user_by_phone(conn, phone)
    if not await svc.hasher.verify(user["password_hash"] if user else None, password) or user is None:
        svc.metrics.auth_attempts.labels("login", "bad_credentials").inc()
        raise validation_error({"phone": [BAD_CREDENTIALS]})
    return user


async def verify_credentials(svc: Services, phone: str, password: str, client: Client) -> dict[str, Any]:
    """The account a phone and password prove, whatever its status, under the login rate limits:
    for the few things an account that may not sign in can still do (appeal its suspension or ban)."""
    await check_login_rate(svc, phone, client.ip)
    async with svc.pool.acquire() as conn:
        return await _password_holder(svc, conn, phone, password)


async def do_login(svc: Services, body: LoginBody, client: Client, *, rate_checked: bool = False) -> TokenPair:
    if not rate_checked:
        await check_login_rate(svc, body.phone, client.ip)
    async with svc.pool.acquire() as conn:
        user = await _password_holder(svc, conn, body.phone, body.password)
        try:
            check_can_sign_in(user)
        except DomainError:
            svc.metrics.auth_attempts.labels("login", "refused").inc()
            raise
        if svc.hasher.needs_rehash(user["password_hash"]):  # legacy bcrypt or old argon2 parameters
            await store.set_password_hash(conn, user["id"], await svc.hasher.hash(body.password))
        async with conn.transaction():
            tokens = await _open_session_txn(svc, conn, user, client)
    svc.metrics.auth_attempts.labels("login", "ok").inc()
    return tokens


async def do_refresh(svc: Services, refresh_token: str, client: Client) -> TokenPair:
    invalid = DomainError("invalid_refresh_token", "The refresh token is invalid or expired.", status=401)
    async with svc.pool.acquire() as conn:
        async with conn.transaction():
            outcome = await auth_store.consume_refresh_token_txn(conn, hash_refresh_token(refresh_token))
            if outcome.status == "ok":
                assert outcome.user_id is not None and outcome.session_id is not None
                user = await store.get_user(conn, outcome.user_id)
                if user is None:
                    raise invalid
                check_can_sign_in(user)
                new_token, new_hash = new_refresh_token()
                await auth_store.insert_refresh_token_txn(
                    conn, outcome.session_id, new_hash, svc.config.refresh_token_ttl
                )
                access, expires = svc.signer.issue(user["id"], outcome.session_id, model.token_claims_profile(user))
        if outcome.status == "reused":
            # A spent token came back: someone holds a copy. End the whole session for both holders.
            assert outcome.user_id is not None and outcome.session_id is not None
            await revoke(
                svc,
                outcome.user_id,
                reason="refresh_token_reuse",
                only=outcome.session_id,
                conn=conn,
                actor_id=None,
                client=client,
            )
    svc.metrics.auth_attempts.labels("refresh", outcome.status).inc()
    if outcome.status != "ok":
        raise invalid
    return TokenPair(access, expires, new_token, outcome.session_id or "")


async def revoke(
    svc: Services,
    user_id: int,
    *,
    reason: str,
    only: str | None = None,
    keep: str | None = None,
    conn: Conn,
    actor_id: int | None,
    client: Client,
) -> list[str]:
    """End sessions (one, or all but `keep`), then drop their access tokens and live sockets."""
    async with conn.transaction():
        revoked = await auth_store.revoke_sessions_txn(conn, user_id, reason=reason, only=only, keep=keep)
        await record_txn(
            conn,
            actor_id=actor_id,
            action=f"session.revoke.{reason}",
            target_type="user",
            target_id=user_id,
            ip=client.ip,
            details={"sessions": revoked},
        )
    await auth_store.mark_revoked(svc.redis, svc.keys, revoked, svc.signer.ttl)
    if revoked:
        await svc.publish_revocation(Revocation(user_id=user_id, reason=reason, sessions=revoked))
    return revoked


async def do_logout(svc: Services, user_id: int, session_id: str, *, everywhere: bool, client: Client) -> None:
    async with svc.pool.acquire() as conn:
        await revoke(
            svc,
            user_id,
            reason="logout",
            only=None if everywhere else session_id,
            conn=conn,
            actor_id=user_id,
            client=client,
        )


async def do_reset_password(
    svc: Services, user_id: int, session_id: str, body: ResetPasswordBody, client: Client
) -> None:
    model.check_password_confirmed(body)
    async with svc.pool.acquire() as conn:
        user = await store.get_user(conn, user_id)
        if user is None:
            raise not_found("User")
        if not await svc.hasher.verify(user["password_hash"], body.current_password):
            raise validation_error({"current_password": ["The current password is incorrect."]})
        await store.set_password_hash(conn, user_id, await svc.hasher.hash(body.password))
        # Whoever else knew the old password is signed out; this device stays signed in.
        await revoke(
            svc, user_id, reason="password_changed", keep=session_id, conn=conn, actor_id=user_id, client=client
        )


def _check_profile_value(field: str, value: Any) -> Any:
    if field == "password":
        raise validation_error({"field": ["Change the password with POST /api/reset-password."]})
    if field not in model.PROFILE_FIELDS:
        raise DomainError(
            "invalid_field",
            "Invalid field selected for update.",
            status=422,
            fields={"field": ["Invalid field selected for update."]},
        )
    if value is None:
        raise validation_error({"value": ["The value field is required."]})
    check_no_nul("value", value)
    try:
        converted = msgspec.convert(value, model.PROFILE_FIELDS[field])
    except msgspec.ValidationError as exc:
        info = msgspec.inspect.type_info(model.PROFILE_FIELDS[field])
        extra = getattr(info, "extra", None) or {}
        raise validation_error(
            {"value": [str(extra.get("msg", exc)).replace(f"The {field} field", "The value")]}
        ) from exc
    if field == "dob":
        model.check_adult(converted, field="value")
    return model.profile_value(field, converted)


async def do_update_profile(svc: Services, user_id: int, field: str, value: Any, client: Client) -> str:
    new_value = _check_profile_value(field, value)
    label = field.capitalize()
    async with svc.pool.acquire() as conn:
        user = await store.get_user(conn, user_id)
        if user is None:
            raise not_found("User")
        if user[field] == new_value:
            return f"{label} is already set to this value."
        try:
            async with conn.transaction():
                await store.update_profile_column(conn, user_id, field, new_value)
                await record_txn(
                    conn,
                    actor_id=user_id,
                    action="profile.update",
                    target_type="user",
                    target_id=user_id,
                    ip=client.ip,
                    details={"field": field},
                )
        except asyncpg.UniqueViolationError as exc:
            raise validation_error({"value": [f"The {field} has already been taken."]}) from exc
    return f"{label} updated successfully."


async def get_me(svc: Services, user_id: int) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        user = await store.get_user(conn, user_id)
        if user is None:
            raise not_found("User")
        roles = await store.roles_with_permissions(conn, user_id)
        room = await store.owned_room(conn, user_id)
        frame = await store.active_frame(conn, user_id)
    permissions = sorted({p for role in roles for p in role["permissions"]})
    # The live wallet, read as GET /api/v1/wallet reads it: the legacy object must not show a stale copy.
    body = model.private_user(user, balances=await get_balances(svc, user_id))
    body["can"] = {name: True for name in permissions} if permissions else []
    body["roles"] = [
        {"id": r["id"], "name": r["name"], "permissions": [{"name": p} for p in r["permissions"]]} for r in roles
    ]
    body["active_frame"] = model.legacy_active_frame(user_id, frame) if frame else None
    body["room"] = model.legacy_room(room) if room else None
    return body
