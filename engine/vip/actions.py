"""VIP purchases, gifts and reward grants (docs/vip.md "Buying").

Each is one `vip_purchases` row, in three steps so that a crash never takes coins without giving
VIP:
1. record — the pending row (unique per buyer and idempotency key: a retry finds it), after the
   checks (the tier is on sale, the months within `vip_max_months`, no downgrade);
2. debit — the buyer's coins burned through the live wallet (ledger kind `vip_purchase`, the
   row's own transaction id and the idempotency key `vip:<row id>`, so every attempt is the same
   debit); a refusal marks the row refused;
3. apply — one PostgreSQL transaction with the row and the recipient's users row locked: the new
   level and expiry (engine/vip/model.py: apply_time), the row applied, a gift's notification.
Events go out after that commit. `sweep_pending` (every process, periodic) finishes rows a crash
left between the steps.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.accounts import store as accounts_store
from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.economy import model as money
from engine.economy import store as economy_store
from engine.economy.actions import apply_with_wallet
from engine.economy.flusher import flush_all
from engine.errors import DomainError, not_found, validation_error
from engine.notifications.model import Notice
from engine.social import store as social_store
from engine.vip import store
from engine.vip.live import Vip
from engine.vip.model import (
    DAY_SECONDS,
    MONTH_SECONDS,
    GiftBody,
    Outcome,
    PurchaseBody,
    apply_time,
    check_not_downgrade,
    iso,
    purchase_json,
    tier_name,
    whole_seconds,
)
from engine.vip.notify import told

log = logging.getLogger("flylive.vip")
SWEEP_GRACE_SECONDS = 60.0
SWEEP_BATCH = 100


def _now() -> dt.datetime:
    return whole_seconds(dt.datetime.now(dt.UTC))


async def do_purchase(vip: Vip, buyer: int, body: PurchaseBody) -> dict[str, Any]:
    return await _buy(vip, "purchase", buyer, buyer, body.tier, body.months, body.idempotency_key)


async def do_gift(vip: Vip, buyer: int, body: GiftBody) -> dict[str, Any]:
    if body.user_id == buyer:
        raise validation_error({"user_id": ["Buy VIP for yourself with /api/v1/vip/purchase."]})
    async with vip.svc.pool.acquire() as conn:
        # A user one has blocked, or who blocked one, is not there to give to (as an unknown one).
        if await store.standing(conn, body.user_id) is None or (await social_store.block_set(conn, buyer)).either(
            body.user_id
        ):
            raise not_found("User")
    return await _buy(vip, "gift", buyer, body.user_id, body.tier, body.months, body.idempotency_key)


async def _record(vip: Vip, kind: str, buyer: int, recipient: int, tier: int, months: int, key: str) -> dict[str, Any]:
    """Step 1: the pending row (or the one a retry of the same key made), after the checks."""
    async with vip.svc.pool.acquire() as conn:
        if months > (await economy_store.settings(conn)).get("vip_max_months", 12):
            raise validation_error({"months": ["More months than one purchase may buy (vip_max_months)."]})
        tier_row = await store.tier(conn, tier)
        if tier_row is None or not tier_row["is_active"]:
            raise not_found("VIP tier")
        price = int(tier_row["price_coins"]) * months
        row = await store.insert_purchase_txn(conn, kind=kind, buyer_id=buyer, recipient_id=recipient, tier=tier,
                                              months=months, seconds=months * MONTH_SECONDS, price=price,
                                              key=key)  # fmt: skip
        if row is None:
            row = await store.purchase_by_key(conn, buyer, key)
            assert row is not None
            if (row["kind"], row["recipient_id"], row["tier"], row["months"]) != (kind, recipient, tier, months):
                raise DomainError("idempotency_key_reused", "This idempotency key was used for another request.",
                                  status=409)  # fmt: skip
            if row["status"] == "refused":
                await store.retry_refused(conn, row["id"])
                row["status"] = "pending"
        if row["status"] == "pending":
            current = await store.standing(conn, recipient)
            assert current is not None
            try:
                check_not_downgrade(current, tier, _now())
            except DomainError as refused:
                await store.mark_refused(conn, row["id"], refused.code)
                vip.svc.metrics.vip_purchases.labels(kind, "downgrade").inc()
                raise
    return row


async def _buy(vip: Vip, kind: str, buyer: int, recipient: int, tier: int, months: int, key: str) -> dict[str, Any]:
    svc = vip.svc
    row = await _record(vip, kind, buyer, recipient, tier, months, key)
    if row["status"] == "applied":
        svc.metrics.vip_purchases.labels(kind, "replay").inc()
        return {**purchase_json(row), "replay": True}
    result = await _debit(vip, row)
    if not result.ok:
        async with svc.pool.acquire() as conn:
            await store.mark_refused(conn, row["id"], (result.code or "debit_refused").lower())
        svc.metrics.vip_purchases.labels(kind, (result.code or "refused").lower()).inc()
        log.info("vip purchase refused", extra={"purchase_id": row["id"], "user_id": buyer, "code": result.code})
        raise money.refusal(result)
    applied, fresh = await apply_purchase(vip, row["id"])
    svc.metrics.vip_purchases.labels(kind, "applied" if fresh else "replay").inc()
    return {**purchase_json(applied), "replay": not fresh, "balance": result.balance}


async def _debit(vip: Vip, row: dict[str, Any]) -> money.Applied:
    """Step 2: burn the row's price from the buyer's wallet (the same transaction on every attempt)."""
    price, buyer = int(row["price_coins"]), row["buyer_id"]
    if price == 0 or buyer is None:
        return money.Applied(True)
    legs = [money.Leg("user", buyer, "coins", -price), money.Leg("burn", 0, "coins", price)]
    metadata: dict[str, object] = {"kind": row["kind"], "tier": row["tier"], "months": row["months"],
                                   "recipient_id": row["recipient_id"]}  # fmt: skip
    txn = money.make_txn("vip_purchase", legs, txn_id=str(row["txn_id"]), initiator_id=buyer,
                         ref_type="vip_purchase", ref_id=str(row["id"]), metadata=metadata)  # fmt: skip
    return await apply_with_wallet(vip.svc, txn, f"vip:{row['id']}")


async def apply_txn(conn: Conn, purchase_id: int) -> tuple[dict[str, Any], Outcome | None]:
    """Give the row's time to its recipient, in the caller's transaction, once (the row and the users
    row locked); the row, and the outcome (None: it was applied already)."""
    row = await store.lock_purchase_txn(conn, purchase_id)
    if row["status"] == "applied":
        return row, None
    before = await store.standing(conn, row["recipient_id"], lock=True)
    assert before is not None
    outcome = apply_time(before, row["tier"], int(row["seconds"]), await store.prices(conn), _now())
    await store.set_vip_txn(conn, row["recipient_id"], outcome)
    return await store.mark_applied_txn(conn, purchase_id, before, outcome), outcome


async def apply_purchase(vip: Vip, purchase_id: int) -> tuple[dict[str, Any], bool]:
    """Step 3: give the time (once: the row is locked and checked); then tell the recipient. Returns
    the row and whether this call applied it."""
    svc = vip.svc
    stored = None
    async with svc.pool.acquire() as conn, conn.transaction():
        row, outcome = await apply_txn(conn, purchase_id)
        if outcome is None:
            return row, False
        recipient = row["recipient_id"]
        if row["kind"] != "reward":
            await audit_txn(conn, actor_id=row["buyer_id"], action=f"vip.{row['kind']}", target_type="user",
                            target_id=recipient, details={"purchase_id": purchase_id, "tier": row["tier"],
                                                          "months": row["months"], "mode": outcome.mode})  # fmt: skip
        if row["kind"] == "gift":
            giver = await accounts_store.get_user(conn, row["buyer_id"])
            giver_name = giver["name"] if giver else ""
            stored = await vip.notifications.record_txn(conn, Notice(
                recipient, "gift", f"{giver_name} gave you {tier_name(row['tier'])} for {row['months']} month(s)",
                actor_id=row["buyer_id"], target_type="vip_purchase", target_id=str(purchase_id),
                data={"tier": row["tier"], "months": row["months"]}))  # fmt: skip
    log.info("vip applied", extra={"purchase_id": purchase_id, "user_id": recipient, "kind": row["kind"],
                                   "mode": outcome.mode, "level": outcome.level})  # fmt: skip
    if row["kind"] == "gift":
        await vip.push(recipient, "vip.gifted", {
            "purchase_id": purchase_id, "from_user_id": row["buyer_id"], "from_name": giver_name, "tier": row["tier"],
            "months": row["months"], "level": outcome.level, "expires_at": iso(outcome.expires_at)})  # fmt: skip
        await vip.notifications.push(stored)
    await told(vip, recipient, "gift" if row["kind"] == "gift" else row["kind"])
    return row, True


async def grant_days(vip: Vip, *, user_id: int, tier: int, days: int, key: str) -> dict[str, Any]:
    """A reward's VIP: `days` of `tier`, paid by nobody, once per `key` (the reward ledger's port)."""
    async with vip.svc.pool.acquire() as conn:
        if await store.tier(conn, tier) is None:
            raise not_found("VIP tier")
        row = await store.insert_purchase_txn(conn, kind="reward", buyer_id=None, recipient_id=user_id, tier=tier,
                                              months=0, seconds=days * DAY_SECONDS, price=0, key=key)  # fmt: skip
        row = row or await store.purchase_by_key(conn, None, key)
    assert row is not None
    applied, fresh = await apply_purchase(vip, row["id"])
    vip.svc.metrics.vip_purchases.labels("reward", "applied" if fresh else "replay").inc()
    return purchase_json(applied)


async def sweep_pending(vip: Vip, grace_seconds: float = SWEEP_GRACE_SECONDS) -> int:
    """Finish rows a crash left between the steps: when the ledger has the debit, apply; else drain
    the outboxes (the debit may be waiting there) and look again; else debit with the row's own key
    (a Redis replay if the wallet had it after all) and apply, or mark it refused. How many."""
    svc = vip.svc
    async with svc.pool.acquire() as conn:
        stale = await store.stale_pending(conn, grace_seconds, SWEEP_BATCH)
    flushed = False
    for row in stale:
        paid = int(row["price_coins"]) == 0
        if not paid:
            async with svc.pool.acquire() as conn:
                paid = await store.txn_recorded(conn, row["txn_id"])
            if not paid and not flushed:
                await flush_all(svc, svc.wallets, vip.rt.instance_id)
                flushed = True
                async with svc.pool.acquire() as conn:
                    paid = await store.txn_recorded(conn, row["txn_id"])
        if not paid:
            result = await _debit(vip, row)
            if not result.ok:
                async with svc.pool.acquire() as conn:
                    await store.mark_refused(conn, row["id"], (result.code or "debit_refused").lower())
                continue
        await apply_purchase(vip, row["id"])
        svc.metrics.vip_purchases.labels(row["kind"], "resumed").inc()
        log.warning("vip purchase resumed", extra={"purchase_id": row["id"], "user_id": row["recipient_id"],
                                                   "already_in_ledger": paid})  # fmt: skip
    return len(stale)


async def expire_due(vip: Vip, limit: int = 500) -> int:
    """Clear every VIP level whose expiry has passed; each holder is told (`vip.updated`, level 0)
    once, and their room profiles lose the VIP fields. How many."""
    svc = vip.svc
    async with svc.pool.acquire() as conn, conn.transaction():
        expired = await store.expire_due_txn(conn, dt.datetime.now(dt.UTC), limit)
    for row in expired:
        svc.metrics.vip_expiries.inc()
        log.info("vip expired", extra={"user_id": row["id"], "level": row["old_level"]})
        await told(vip, row["id"], "expired")
    return len(expired)


async def tell_untold(vip: Vip, limit: int = 100) -> int:
    """`vip.updated` (and the room profiles) for rows applied inside another domain's transaction
    (a reward's VIP item, engine/vip/rewards_port.py), which could not push after its commit."""
    async with vip.svc.pool.acquire() as conn:
        rows = await store.claim_untold(conn, limit)
    for row in rows:
        await told(vip, row["recipient_id"], row["kind"])
    return len(rows)
