"""The reward ledger (issue 14 §5, docs/progression.md "Rewards"): every reward is one `rewards` row,
unique on (user, source, source_ref), granted exactly once.

- Recording inserts the row (a twin loses on the unique index and gets None) and, unless it waits
  for a claim, applies its non-coin items in the same transaction: frames into the mall inventory,
  VIP days through the `VipGranter` port, badges into `user_badges` (engine/progression/badges.py).
- Coins are minted after the commit through the ledger (txn kind `reward`, mint → user, txn id
  derived from the row, wallet idempotency key `reward:<id>`) into the live wallet; then the row is
  marked paid (`granted_at`; pending → granted). A crash in between leaves it unpaid: the sweep
  drains the outboxes, looks for the txn in the ledger and re-applies (same key) only if absent.
- A claimable reward (`claim_by` set) is paid by its claim: the row lock and the claimable → claimed
  update let one claim through; the others see it claimed.
- After paying, `reward.earned` (and `balance.updated` when coins landed) go to the user's sockets and
  a `system` notification is stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from typing import Any

from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.economy import flusher
from engine.economy import store as economy_store
from engine.economy.actions import apply_with_wallet, get_balances
from engine.errors import DomainError, not_found, validation_error
from engine.jobs import Periodic
from engine.notifications import store as notifications_store
from engine.notifications.model import Notice
from engine.notifications.model import item as notification_item
from engine.progression import badges
from engine.progression import rewards_store as store
from engine.progression.rewards_model import (
    RewardError,
    RewardItem,
    VipGranter,
    check_items,
    coins_of,
    decode_items,
    encode_items,
    idempotency_key,
    item_out,
    reward_txn,
    reward_txn_id,
)
from engine.realtime.server import RealtimeServer, user_room
from engine.services import Services
from engine.social.model import decode_cursor, page

__all__ = ["RewardError", "RewardItem", "grant_reward", "grant_reward_txn", "pay_pending", "plug_vip"]

log = logging.getLogger("flylive.progression.rewards")
SWEEP_SECONDS = 30.0
# An unpaid reward younger than this is most likely being paid right now by its own request.
PENDING_STALE = dt.timedelta(minutes=1)
SWEEP_CONSUMER = "rewards-sweep"

_vip: VipGranter | None = None
# The realtime servers of this process (create_app registers its own): a push goes through the one
# whose services are the caller's (any of them reaches every process through the Redis manager).
_servers: weakref.WeakSet[RealtimeServer] = weakref.WeakSet()


def plug_vip(granter: VipGranter | None) -> None:
    """create_app plugs the VIP part in (rewards never import engine.vip)."""
    global _vip
    _vip = granter


def _server_of(svc: Services) -> RealtimeServer | None:
    for rt in list(_servers):
        if getattr(rt, "_services", None) is svc:
            return rt
    return None


# --- recording -----------------------------------------------------------------------------------


async def grant_reward_txn(
    conn: Conn, *, user_id: int, source: str, source_ref: str, items: list[RewardItem],
    claim_by: dt.datetime | None = None, note: str = "",
) -> dict[str, Any] | None:  # fmt: skip
    """Record the reward inside the caller's transaction (its non-coin items applied with it, unless it
    waits for a claim); None when (user, source, source_ref) was already recorded. After the commit
    the caller calls `pay_pending(svc, [row["id"]])` (the sweep pays any it misses)."""
    recorded = await _record_txn(conn, user_id, source, source_ref, items, claim_by, note)
    return recorded[0] if recorded is not None else None


async def _record_txn(
    conn: Conn, user_id: int, source: str, source_ref: str, items: list[RewardItem],
    claim_by: dt.datetime | None, note: str,
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:  # fmt: skip
    """The new row and its stored notification (to push after the commit), or None: a twin."""
    check_items(source, items, _vip is not None)
    state = "claimable" if claim_by is not None else "pending"
    row = await store.insert_txn(conn, user_id, source, source_ref, encode_items(items), state, claim_by, note,
                                 reward_txn_id(user_id, source, source_ref))  # fmt: skip
    if row is None:
        return None
    if state == "pending":
        await _apply_items_txn(conn, row)
        if coins_of(items) == 0:
            await store.mark_paid_txn(conn, row["id"])
            row = await store.get(conn, row["id"]) or row
    return row, await _record_notice_txn(conn, row)


async def _apply_items_txn(conn: Conn, row: dict[str, Any]) -> None:
    """The items other than coins, in the transaction that grants (or claims) the reward."""
    for it in decode_items(row["items"]):
        if it.kind == "frame":
            category = await store.frame_category(conn, it.ref)
            if category is None:
                raise RewardError(f"mall item {it.ref} does not exist")
            await store.give_item_txn(conn, row["user_id"], it.ref, category, it.days)
        elif it.kind == "vip":
            if _vip is None:
                raise RewardError("a vip item needs the VIP port plugged in (none is)")
            await _vip.grant_days(conn, row["user_id"], it.ref, it.days, f"reward:{row['id']}")
        elif it.kind == "badge":  # owned once (a badge already held stays as it is); announced by its watcher
            try:
                await badges.award_badge_id_txn(conn, row["user_id"], it.ref, f"reward:{row['id']}")
            except LookupError as exc:
                raise RewardError(str(exc)) from exc


async def _record_notice_txn(conn: Conn, row: dict[str, Any]) -> dict[str, Any] | None:
    text = "You have a reward to claim." if row["state"] == "claimable" else "You received a reward."
    notice = Notice(user_id=row["user_id"], kind="system", text=text, target_type="reward",
                    target_id=str(row["id"]), data={"source": row["source"], "reward_id": row["id"]})  # fmt: skip
    return await notifications_store.insert_txn(conn, notice)


async def grant_reward(
    svc: Services,
    *,
    user_id: int,
    source: str,
    source_ref: str,
    items: list[RewardItem],
    claim_by: dt.datetime | None = None,
    note: str = "",
) -> dict[str, Any] | None:
    """Record (and, unless it needs a claim, pay) one reward; None when (user, source, source_ref)
    was already recorded."""
    async with svc.pool.acquire() as conn, conn.transaction():
        recorded = await _record_txn(conn, user_id, source, source_ref, items, claim_by, note)
    if recorded is None:
        svc.metrics.rewards.labels(source, "duplicate").inc()
        return None
    row, notice = recorded
    svc.metrics.rewards.labels(source, "claimable" if row["state"] == "claimable" else "recorded").inc()
    if row["state"] == "pending":
        row = await _pay(svc, row, check_ledger=False)
    await _push(svc, row, notice)
    log.info("reward recorded", extra={"reward_id": row["id"], "user_id": user_id, "source": source,
                                       "state": row["state"]})  # fmt: skip
    return _public(row)


def public_item(row: dict[str, Any]) -> dict[str, Any]:
    """A reward as the API shows it."""
    return item_out(row)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


# --- paying ----------------------------------------------------------------------------------------


async def _pay(svc: Services, row: dict[str, Any], *, check_ledger: bool) -> dict[str, Any]:
    """Mint the reward's coins once (an interrupted payment is looked for in the ledger first, the
    outboxes drained by the caller) and mark it paid; the row as it is then."""
    coins = coins_of(decode_items(row["items"]))
    recorded = False
    if coins and check_ledger:
        async with svc.pool.acquire() as conn:
            recorded = await store.txn_recorded(conn, str(row["txn_id"]))
    if coins and not recorded:
        result = await apply_with_wallet(svc, reward_txn(row), idempotency_key(row["id"]))
        if not result.ok:  # a credit is refused only when Redis is broken: the sweep retries
            raise RuntimeError(f"coins of reward {row['id']} refused: {result.code}")
        if not result.replay:
            svc.metrics.rewards.labels(row["source"], "paid").inc()
    async with svc.pool.acquire() as conn:
        await store.mark_paid_txn(conn, row["id"])
        fresh = await store.get(conn, row["id"])
    out = fresh or row
    out["_coins"] = coins
    return out


async def pay_pending(svc: Services, reward_ids: list[int]) -> None:
    """Pay rewards recorded by `grant_reward_txn` (after the caller's commit) and push them."""
    for reward_id in reward_ids:
        async with svc.pool.acquire() as conn:
            row = await store.get(conn, reward_id)
        if row is None or row["granted_at"] is not None or row["state"] not in ("pending", "claimed"):
            continue
        row = await _pay(svc, row, check_ledger=False)
        await _push(svc, row, None)


async def sweep(svc: Services, older_than: dt.datetime | None = None, consumer: str = SWEEP_CONSUMER) -> int:
    """Complete the rewards a crash left unpaid; how many."""
    async with svc.pool.acquire() as conn:
        ids = await store.unpaid_ids(conn, older_than)
        expired = await store.expire_txn(conn)
    if expired:
        svc.metrics.rewards.labels("any", "expired").inc(expired)
    if not ids:
        return 0
    await flusher.flush_all(svc, svc.wallets, consumer)  # an applied credit may still sit in an outbox
    for reward_id in ids:
        async with svc.pool.acquire() as conn:
            row = await store.get(conn, reward_id)
        if row is not None and row["granted_at"] is None:
            row = await _pay(svc, row, check_ledger=True)
            svc.metrics.rewards.labels(row["source"], "swept").inc()
            await _push(svc, row, None)
    log.info("unpaid rewards completed", extra={"rewards": len(ids)})
    return len(ids)


def register_reward_jobs(rt: RealtimeServer) -> None:
    """Pushes go through this server; every process sweeps (the ledger check keeps it exactly once)."""
    _servers.add(rt)

    async def step() -> int:
        return await sweep(rt.services, older_than=dt.datetime.now(dt.UTC) - PENDING_STALE,
                           consumer=rt.instance_id)  # fmt: skip

    rt.background.append(Periodic("rewards-sweep", step, SWEEP_SECONDS))


# --- pushing ---------------------------------------------------------------------------------------


async def _push(svc: Services, row: dict[str, Any], notice: dict[str, Any] | None) -> None:
    rt = _server_of(svc)
    if rt is None:
        return  # no sockets in this process (a command): the notification is stored all the same
    room = user_room(row["user_id"])
    await rt.sio.emit("reward.earned", item_out(row), room=room)
    if row.get("_coins"):
        balances = await get_balances(svc, row["user_id"])
        async with svc.pool.acquire() as conn:
            wealth_xp, charm_xp = await store.xp_of(conn, row["user_id"])
        await rt.sio.emit("balance.updated", {"coins": balances["coins"], "diamonds": balances["diamonds"],
                                              "wealth_xp": wealth_xp, "charm_xp": charm_xp}, room=room)  # fmt: skip
    if notice is not None:
        await rt.sio.emit("notification:new", notification_item(notice), room=room)


# --- the user's claims -----------------------------------------------------------------------------


async def claim(svc: Services, user_id: int, reward_id: int) -> dict[str, Any]:
    """Claim a claimable reward once: 404 not yours, 409 `already_claimed`, 410 `reward_expired`."""
    async with svc.pool.acquire() as conn, conn.transaction():
        row = await store.lock_txn(conn, reward_id)
        if row is None or row["user_id"] != user_id:
            raise not_found("Reward")
        if row["state"] == "claimable" and row["claim_by"] is not None and row["claim_by"] <= dt.datetime.now(dt.UTC):
            row["state"] = "expired"
        if row["state"] == "expired":
            raise DomainError("reward_expired", "This reward can no longer be claimed.", status=410)
        if row["state"] != "claimable":
            raise DomainError("already_claimed", "Reward already claimed.", status=409)
        await store.claim_txn(conn, reward_id)
        row["state"] = "claimed"
        await _apply_items_txn(conn, row)
    svc.metrics.rewards.labels(row["source"], "claimed").inc()
    row = await _pay(svc, row, check_ledger=False)
    await _push(svc, row, None)
    log.info("reward claimed", extra={"reward_id": reward_id, "user_id": user_id})
    return _public(row)


# --- reads and staff grants ------------------------------------------------------------------------


async def list_rewards(
    svc: Services, user_id: int, state: str | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    """The user's rewards, newest first; claimable ones past claim_by are expired first (on read)."""
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        await store.expire_txn(conn, user_id)
        rows = await store.page_of(conn, user_id, state, before, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [item_out(r) for r in items], "next_cursor": next_cursor}


async def admin_grant(
    svc: Services, actor_id: int, user_id: int, items: list[RewardItem], note: str, key: str
) -> dict[str, Any]:
    """A staff grant (source `admin`, source_ref the body's idempotency key), audited once."""
    async with svc.pool.acquire() as conn:
        if not await economy_store.user_exists(conn, user_id):
            raise not_found("User")
    try:
        row = await grant_reward(svc, user_id=user_id, source="admin", source_ref=key, items=items, note=note)
    except RewardError as exc:
        raise validation_error({"items": [str(exc)]}) from exc
    if row is None:
        async with svc.pool.acquire() as conn:
            existing = await store.by_key(conn, user_id, "admin", key)
        assert existing is not None
        return {**item_out(existing), "replay": True}
    async with svc.pool.acquire() as conn:
        await audit_txn(conn, actor_id=actor_id, action="reward.grant", target_type="user", target_id=user_id,
                        details={"reward_id": row["id"], "items": encode_items(items), "note": note})  # fmt: skip
    log.info("staff reward granted", extra={"actor_id": actor_id, "user_id": user_id, "reward_id": row["id"]})
    return {**item_out(row), "replay": False}
