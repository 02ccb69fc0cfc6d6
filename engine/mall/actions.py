"""The mall: frames, themes and entry effects bought with coins, with durations.

A purchase runs inside one PostgreSQL transaction: the purchase row (keyed by the client's
idempotency key) and the ownership change are written, then the coins are debited through the
wallet script under the same key, and the transaction commits only if the debit succeeded. A
retry with the same key replays the debit (no second charge) and finds the purchase recorded.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from engine.accounts.model import iso_timestamp
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet
from engine.errors import DomainError, not_found
from engine.services import Services

ITEM_COLUMNS = "id, category, name, price, static_src, animated_src, valid_duration, status, created_at, updated_at"


def item_json(row: dict[str, Any]) -> dict[str, Any]:
    """Legacy frame shape: `price` as a "0.00" string, timestamps ISO."""
    return {**row, "price": f"{int(row['price']):.2f}", "created_at": iso_timestamp(row["created_at"]),
            "updated_at": iso_timestamp(row["updated_at"])}  # fmt: skip


def new_expiry(current: dt.datetime | None, owned: bool, duration: int | None, now: dt.datetime) -> dt.datetime | None:
    """Permanent items never expire; otherwise the time left (never less than now) plus the duration.

    Legacy added the duration to an expiry already in the past, giving back less than a full period.
    """
    if not duration:
        return None
    if owned and current is None:  # already owned permanently
        return None
    start = max(current, now) if owned and current is not None else now
    return start + dt.timedelta(seconds=duration)


async def list_items(svc: Services, category: str) -> list[dict[str, Any]]:
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {ITEM_COLUMNS} FROM mall_items WHERE category = $1 ORDER BY id", category)
    return [item_json(dict(r)) for r in rows]


async def my_items(svc: Services, user_id: int, category: str) -> list[dict[str, Any]]:
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT {", ".join("i." + c.strip() for c in ITEM_COLUMNS.split(","))},
                       u.expires_at, u.quantity, u.is_active, u.purchased_at, u.updated_at AS pivot_updated_at
                FROM user_items u JOIN mall_items i ON i.id = u.item_id
                WHERE u.user_id = $1 AND u.category = $2 ORDER BY i.id""",
            user_id, category,
        )  # fmt: skip
    return [{**item_json(dict(r)), "pivot": {"user_id": user_id, "frame_id": r["id"],
             "expires_at": iso_timestamp(r["expires_at"]), "quantity": r["quantity"], "is_active": r["is_active"],
             "created_at": iso_timestamp(r["purchased_at"]), "updated_at": iso_timestamp(r["pivot_updated_at"])}}
            for r in rows]  # fmt: skip


async def do_purchase(svc: Services, user_id: int, item_id: int, category: str, key: str | None) -> dict[str, Any]:
    purchase_key = f"{user_id}:{key or uuid.uuid4().hex}"
    async with svc.pool.acquire() as conn, conn.transaction():
        item = await conn.fetchrow(
            f"SELECT {ITEM_COLUMNS}, is_active FROM mall_items WHERE id = $1 AND category = $2", item_id, category
        )
        if item is None or not item["is_active"]:
            raise not_found("Frame" if category == "frame" else "Item")
        if await conn.fetchval("SELECT 1 FROM mall_purchases WHERE purchase_key = $1", purchase_key):
            return {"message": "Frame attached to user successfully.", "replay": True}
        owned = await conn.fetchrow(
            "SELECT expires_at FROM user_items WHERE user_id = $1 AND item_id = $2 FOR UPDATE", user_id, item_id
        )
        expires = new_expiry(owned["expires_at"] if owned else None, owned is not None, item["valid_duration"],
                             dt.datetime.now(dt.UTC))  # fmt: skip
        price = int(item["price"])
        txn = money.make_txn("mall_purchase", [money.Leg("user", user_id, "coins", -price),
                                               money.Leg("platform", 0, "coins", price)],
                             initiator_id=user_id, ref_type="mall_item", ref_id=str(item_id),
                             metadata={"purchase_key": purchase_key})  # fmt: skip
        await conn.execute(
            "INSERT INTO mall_purchases (purchase_key, user_id, item_id, price, txn_id) VALUES ($1, $2, $3, $4, $5)",
            purchase_key, user_id, item_id, price, uuid.UUID(txn.txn_id),
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO user_items (user_id, item_id, category, expires_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (user_id, item_id) DO UPDATE SET expires_at = $4, quantity = user_items.quantity + 1,
                   updated_at = now()""",
            user_id, item_id, category, expires,
        )  # fmt: skip
        if price > 0:  # a free item needs no debit (and the ledger takes no zero legs)
            result = await apply_with_wallet(svc, txn, f"mall:{purchase_key}")
            if not result.ok:  # raising rolls the purchase back
                message = "Insufficient funds." if result.code == "INSUFFICIENT_FUNDS" else "The wallet is frozen."
                raise DomainError(str(result.code).lower(), message, status=400)
    return {"message": "Frame attached to user successfully.", "expires_at": iso_timestamp(expires)}


async def do_activate(svc: Services, user_id: int, item_id: int, category: str) -> dict[str, Any]:
    """Activate an owned, unexpired item; the category's other item is deactivated."""
    async with svc.pool.acquire() as conn, conn.transaction():
        owned = await conn.fetchrow(
            """SELECT u.expires_at, i.static_src, i.animated_src FROM user_items u JOIN mall_items i ON i.id = u.item_id
               WHERE u.user_id = $1 AND u.item_id = $2 AND u.category = $3 FOR UPDATE OF u""",
            user_id, item_id, category,
        )  # fmt: skip
        if owned is None:
            raise not_found("Frame" if category == "frame" else "Item")
        if owned["expires_at"] is not None and owned["expires_at"] <= dt.datetime.now(dt.UTC):
            raise DomainError("item_expired", "This item has expired; buy it again to use it.", status=409)
        await conn.execute("UPDATE user_items SET is_active = false WHERE user_id = $1 AND category = $2 AND is_active",
                           user_id, category)  # fmt: skip
        await conn.execute(
            "UPDATE user_items SET is_active = true, updated_at = now() WHERE user_id = $1 AND item_id = $2",
            user_id, item_id,
        )  # fmt: skip
        if category == "frame":  # the legacy user row carries the active frame's assets
            await conn.execute("UPDATE users SET static_src = $2, animated_src = $3 WHERE id = $1",
                               user_id, owned["static_src"], owned["animated_src"])  # fmt: skip
    return {"message": "Frame Activated successfully."}
