"""GDPR actions: consents (at registration and after), the data export job, account deletion with
its grace period (a login cancels it) and the purge that anonymises what the registry says."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import logging
from dataclasses import replace
from typing import Any

from engine.accounts import actions as accounts
from engine.accounts import store as accounts_store
from engine.accounts.actions import Client, TokenPair
from engine.accounts.model import LoginBody, RegisterBody, iso_timestamp
from engine.audit.store import record_txn
from engine.auth.store import Revocation
from engine.db import Conn
from engine.errors import DomainError, not_found, validation_error
from engine.gdpr import store
from engine.gdpr.model import (
    Consent,
    V1RegisterBody,
    archive_json,
    check_policy,
    consent_item,
    consent_problem,
    due,
    export_view,
    link_valid,
)
from engine.gdpr.registry import TABLES, Anonymise, Delete
from engine.rooms.store import RoomState
from engine.services import Services
from engine.social import store as social_store
from engine.validation import CheckedFields

log = logging.getLogger("flylive.gdpr")
EXPORT_LEASE_SECONDS = 120.0
# A sweep handles at most this many jobs of each kind (the next sweep goes on).
SWEEP_MAX_JOBS = 20

# --- consents -----------------------------------------------------------------------------------


def _recorder(svc: Services, source: str) -> accounts.RegisteredHook:
    async def record(conn: Conn, user: dict[str, Any]) -> None:
        await store.insert_consents_txn(conn, user["id"], list(svc.config.consent_policies), source)

    return record


async def do_register_v1(
    svc: Services, fields: CheckedFields[V1RegisterBody], client: Client
) -> tuple[dict[str, Any], TokenPair]:
    """Registration that must accept every policy in force; a missing or stale one is a field error,
    told together with the other fields' (the consents are recorded in the registration's transaction)."""
    if "consents" in fields.valid:
        problem = consent_problem(svc.config.consent_policies, fields.valid["consents"])
        if problem is not None:
            fields = replace(fields, problems={**fields.problems, "consents": [problem]})
    checked: CheckedFields[RegisterBody] = fields  # type: ignore[assignment]
    return await accounts.do_register(svc, checked, client, also_txn=_recorder(svc, "register"))


async def do_register_legacy(
    svc: Services, fields: CheckedFields[RegisterBody], client: Client
) -> tuple[dict[str, Any], TokenPair]:
    """The legacy screen's wording implies accepting the policies: recorded as `legacy_implied`."""
    return await accounts.do_register(svc, fields, client, also_txn=_recorder(svc, "legacy_implied"))


async def consents_due(svc: Services, user_id: int) -> list[dict[str, str]]:
    async with svc.pool.acquire() as conn:
        return due(svc.config.consent_policies, await store.accepted(conn, user_id))


async def list_consents(svc: Services, user_id: int) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        rows = await store.consents(conn, user_id)
    accepted = {(r["policy"], r["version"]) for r in rows}
    return {"items": [consent_item(r) for r in rows], "due": due(svc.config.consent_policies, accepted)}


async def do_accept(svc: Services, user_id: int, body: Consent) -> dict[str, Any]:
    problem = check_policy(svc.config.consent_policies, body)
    if problem is not None:
        raise validation_error({"version" if problem.startswith("The current") else "policy": [problem]})
    async with svc.pool.acquire() as conn, conn.transaction():
        await store.insert_consents_txn(conn, user_id, [(body.policy, body.version)], "accepted")
    return await list_consents(svc, user_id)


# --- export -------------------------------------------------------------------------------------


def _secret(svc: Services) -> str:
    assert svc.config.jwt_secret
    return svc.config.jwt_secret


async def do_request_export(svc: Services, user_id: int) -> dict[str, Any]:
    """Queue an export (one open per user, then the rate limit); the worker picks it up."""
    in_progress = DomainError("export_in_progress", "An export of your data is already being prepared.", status=409)
    async with svc.pool.acquire() as conn:
        if await store.open_export(conn, user_id) is not None:
            raise in_progress
        await svc.limiter.check("gdpr:export", str(user_id), svc.config.export_rate_limit)
        row = await store.insert_export(conn, user_id, len(TABLES))
    if row is None:
        raise in_progress
    return export_view(row, _secret(svc))


async def get_export(svc: Services, user_id: int, export_id: int) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        row = await store.get_export(conn, export_id, user_id)
    if row is None:
        raise not_found("Export")
    return export_view(row, _secret(svc))


async def download(svc: Services, export_id: int, user_id: int, expires: int, signature: str) -> bytes:
    """The archive behind a signed link: refused when tampered with (403) or past its time (410)."""
    secrets = (svc.config.jwt_secret or "", *svc.config.jwt_secret_previous)
    if not link_valid(secrets, export_id, user_id, expires, signature):
        raise DomainError("invalid_signature", "This download link is not valid.", status=403)
    now = dt.datetime.now(dt.UTC)
    gone = DomainError("link_expired", "This download link has expired; request a new export.", status=410)
    if expires < now.timestamp():
        raise gone
    async with svc.pool.acquire() as conn:
        found = await store.archive_of(conn, export_id, user_id)
    if found is None:
        raise not_found("Export")
    archive, expires_at = found
    if expires_at < now:
        raise gone
    return archive


async def run_one_export(svc: Services) -> bool:
    """Claim one export job and build its archive, table by table (progress after each); False when
    there was none. A holder whose lease was taken over stops without writing."""
    async with svc.pool.acquire() as conn:
        claimed = await store.claim_export(conn, EXPORT_LEASE_SECONDS)
        if claimed is None:
            return False
        job, claim = claimed
        user_id, export_id = job["user_id"], job["id"]
        try:
            tables: dict[str, str] = {}
            rows = 0
            for done, table in enumerate(TABLES, start=1):
                tables[table.name], n = await store.export_rows(conn, table, user_id)
                rows += n
                if not await store.progress(conn, export_id, claim, done, rows, EXPORT_LEASE_SECONDS):
                    log.warning("export lease lost; another process runs it", extra={"export_id": export_id})
                    svc.metrics.gdpr_jobs.labels("export", "lease_lost").inc()
                    return True
            raw = archive_json(user_id, iso_timestamp(dt.datetime.now(dt.UTC)) or "", tables)
            archive = await asyncio.to_thread(gzip.compress, raw, 6)
            await store.finish(conn, export_id, claim, archive, svc.config.export_link_ttl_seconds)
        except Exception as exc:
            log.exception("export failed", extra={"export_id": export_id})
            await store.fail(conn, export_id, claim, type(exc).__name__)
            svc.metrics.gdpr_jobs.labels("export", "failed").inc()
            return True
    log.info("export done", extra={"export_id": export_id, "rows": rows, "bytes": len(archive)})
    svc.metrics.gdpr_jobs.labels("export", "done").inc()
    return True


# --- deletion -----------------------------------------------------------------------------------


async def do_request_deletion(svc: Services, user_id: int, password: str, client: Client) -> dict[str, Any]:
    """Check the password, hide the account and schedule its purge, then end every session and close
    every live socket. The phone, email and name stay until the purge: logging in cancels."""
    async with svc.pool.acquire() as conn:
        user = await accounts_store.get_user(conn, user_id)
        if user is None:
            raise not_found("User")
        if not await svc.hasher.verify(user["password_hash"], password):
            raise validation_error({"password": ["The password is incorrect."]})
        async with conn.transaction():
            purge_after = await store.request_deletion_txn(conn, user_id, svc.config.account_deletion_grace_days)
            await record_txn(conn, actor_id=user_id, action="account.deletion_requested", target_type="user",
                             target_id=user_id, ip=client.ip,
                             details={"purge_after": purge_after.isoformat()})  # fmt: skip
        await accounts.revoke(svc, user_id, reason="account_deleted", conn=conn, actor_id=user_id, client=client)
    # Also sockets whose session ended earlier but which are somehow still open (as a ban does).
    await svc.publish_revocation(Revocation(user_id=user_id, reason="account_deleted"))
    return {"deletion_scheduled_for": iso_timestamp(purge_after), "cancel": "Log in before then to cancel."}


async def do_login(svc: Services, body: LoginBody, client: Client) -> tuple[TokenPair, bool]:
    """Log in; for an account whose deletion is pending, the right password cancels the deletion
    first (True: it was cancelled). The login rate limit applies before any password is tried."""
    await accounts.check_login_rate(svc, body.phone, client.ip)
    cancelled = False
    async with svc.pool.acquire() as conn:
        pending = await store.pending_by_phone(conn, body.phone)
        if pending is not None and await svc.hasher.verify(pending["password_hash"], body.password):
            async with conn.transaction():
                cancelled = await store.cancel_deletion_txn(conn, pending["id"])
                if cancelled:
                    await record_txn(conn, actor_id=pending["id"], action="account.deletion_cancelled",
                                     target_type="user", target_id=pending["id"], ip=client.ip)  # fmt: skip
    tokens = await accounts.do_login(svc, body, client, rate_checked=True)
    return tokens, cancelled


async def _drop_follows_txn(conn: Conn, user_id: int) -> None:
    """Remove the user's follow edges through the social store's counts, so the other users'
    follower/following/friend counts stay exact (deltas, under each pair's lock, as an unfollow)."""
    edges = await store.follow_edges_txn(conn, user_id)
    deltas: dict[int, tuple[int, int, int]] = {}
    for edge in edges:
        await social_store.lock_pair_txn(conn, user_id, edge["other"])
        mutual = edge["i_follow"] and edge["follows_me"]
        deltas[edge["other"]] = (-int(edge["i_follow"]), -int(edge["follows_me"]), -int(mutual))
    await social_store.add_counts_txn(conn, deltas)


async def purge_one(svc: Services) -> int | None:
    """Purge one account past its grace period, in one transaction (all or nothing): every registry
    rule, deletes first; the user whose account it was, or None when none was due."""
    async with svc.pool.acquire() as conn, conn.transaction():
        user_id = await store.claim_due_purge_txn(conn)
        if user_id is None:
            return None
        rooms = await store.rooms_chatted_in(conn, user_id)  # read before the visits are deleted
        await _drop_follows_txn(conn, user_id)
        touched: dict[str, int] = {}
        for kind in (Delete, Anonymise):
            for table in TABLES:
                for ref in table.refs:
                    if isinstance(ref.rule, kind):
                        n = await store.apply_rule_txn(conn, table, ref, user_id)
                        touched[table.name] = touched.get(table.name, 0) + n
        await store.mark_purged_txn(conn, user_id)
        await record_txn(conn, actor_id=None, action="account.purged", target_type="user", target_id=user_id,
                         details={"rows": {k: v for k, v in touched.items() if v}})  # fmt: skip
    # The rooms' live chat is Redis's, outside the transaction: forgotten once the purge committed.
    state = RoomState(svc.redis, svc.keys)
    forgotten = sum([await state.chat_forget(room_id, user_id) for room_id in rooms])
    log.info("account purged", extra={"user_id": user_id, "chat_entries_forgotten": forgotten})
    svc.metrics.gdpr_jobs.labels("purge", "done").inc()
    return user_id


async def sweep(svc: Services) -> None:
    """One pass of the GDPR worker: run queued exports, purge due accounts, free expired archives."""
    for _ in range(SWEEP_MAX_JOBS):
        if not await run_one_export(svc):
            break
    for _ in range(SWEEP_MAX_JOBS):
        if await purge_one(svc) is None:
            break
    async with svc.pool.acquire() as conn:
        await store.drop_expired_archives(conn)
