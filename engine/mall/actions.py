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

from engine.accounts import store as accounts_store
from engine.accounts.model import current_vip_level, iso_timestamp
from engine.db import Conn
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet
from engine.errors import DomainError, not_found
from engine.mall import store
from engine.services import Services


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
        rows = await store.items(conn, category)
    return [item_json(r) for r in rows]


async def my_items(svc: Services, user_id: int, category: str) -> list[dict[str, Any]]:
    async with svc.pool.acquire() as conn:
        rows = await store.owned_items(conn, user_id, category)
    return [{**item_json(r), "pivot": {"user_id": user_id, "frame_id": r["id"],
             "expires_at": iso_timestamp(r["expires_at"]), "quantity": r["quantity"], "is_active": r["is_active"],
             "created_at": iso_timestamp(r["purchased_at"]), "updated_at": iso_timestamp(r["pivot_updated_at"])}}
            for r in rows]  # fmt: skip


async def _check_vip(conn: Conn, user_id: int, required: int) -> None:
    """A VIP-only item needs the VIP level in force now, read from the users row (docs/vip.md)."""
    if required and current_vip_level(await accounts_store.get_user(conn, user_id) or {}) < required:
        raise DomainError("vip_required", f"This item needs VIP level {required}.", status=403)


async def do_purchase(svc: Services, user_id: int, item_id: int, category: str, key: str | None) -> dict[str, Any]:
    purchase_key = f"{user_id}:{key or uuid.uuid4().hex}"
    async with svc.pool.acquire() as conn, conn.transaction():
        item = await store.item(conn, item_id, category)
        if item is None or not item["is_active"]:
            raise not_found("Frame" if category == "frame" else "Item")
        if await store.purchase_recorded(conn, purchase_key):
            return {"message": "Frame attached to user successfully.", "replay": True}
        await _check_vip(conn, user_id, item["vip_level_required"])
        owned = await store.lock_ownership_txn(conn, user_id, item_id)
        expires = new_expiry(owned["expires_at"] if owned else None, owned is not None, item["valid_duration"],
                             dt.datetime.now(dt.UTC))  # fmt: skip
        price = int(item["price"])
        txn = money.make_txn("mall_purchase", [money.Leg("user", user_id, "coins", -price),
                                               money.Leg("platform", 0, "coins", price)],
                             initiator_id=user_id, ref_type="mall_item", ref_id=str(item_id),
                             metadata={"purchase_key": purchase_key})  # fmt: skip
        await store.record_purchase_txn(conn, purchase_key, user_id, item_id, category, price, txn.txn_id, expires)
        if price > 0:  # a free item needs no debit (and the ledger takes no zero legs)
            result = await apply_with_wallet(svc, txn, f"mall:{purchase_key}")
            if not result.ok:  # raising rolls the purchase back
                raise money.refusal(result)
    return {"message": "Frame attached to user successfully.", "expires_at": iso_timestamp(expires)}


async def do_activate(svc: Services, user_id: int, item_id: int, category: str) -> dict[str, Any]:
    """Activate an owned, unexpired item; the category's other item is deactivated."""
    async with svc.pool.acquire() as conn, conn.transaction():
        owned = await store.lock_owned_item_txn(conn, user_id, item_id, category)
        if owned is None:
            raise not_found("Frame" if category == "frame" else "Item")
        if owned["expires_at"] is not None and owned["expires_at"] <= dt.datetime.now(dt.UTC):
            raise DomainError("item_expired", "This item has expired; buy it again to use it.", status=409)
        await store.activate_txn(conn, user_id, item_id, category)
        if category == "frame":
            await store.set_user_frame_txn(conn, user_id, owned["static_src"], owned["animated_src"])
    return {"message": "Frame Activated successfully."}
