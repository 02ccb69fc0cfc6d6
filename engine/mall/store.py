"""Mall items, what each user owns, and purchases (keyed by the client's idempotency key) in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from engine.db import Conn

ITEM_COLUMNS = "id, category, name, price, static_src, animated_src, valid_duration, status, created_at, updated_at"
_OWNED_ITEM_COLUMNS = ", ".join("i." + c.strip() for c in ITEM_COLUMNS.split(","))


async def items(conn: Conn, category: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {ITEM_COLUMNS} FROM mall_items WHERE category = $1 ORDER BY id", category)
    return [dict(r) for r in rows]


async def owned_items(conn: Conn, user_id: int, category: str) -> list[dict[str, Any]]:
    """The user's items of the category with their ownership (`expires_at`, `quantity`, …)."""
    rows = await conn.fetch(
        f"""SELECT {_OWNED_ITEM_COLUMNS},
                   u.expires_at, u.quantity, u.is_active, u.purchased_at, u.updated_at AS pivot_updated_at
            FROM user_items u JOIN mall_items i ON i.id = u.item_id
            WHERE u.user_id = $1 AND u.category = $2 ORDER BY i.id""",
        user_id, category,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def item(conn: Conn, item_id: int, category: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {ITEM_COLUMNS}, is_active, vip_level_required FROM mall_items WHERE id = $1 AND category = $2",
        item_id,
        category,
    )
    return dict(row) if row else None


async def purchase_recorded(conn: Conn, purchase_key: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM mall_purchases WHERE purchase_key = $1", purchase_key))


async def lock_ownership_txn(conn: Conn, user_id: int, item_id: int) -> dict[str, Any] | None:
    """The user's ownership of the item (its `expires_at`), row-locked: purchases of one item queue up."""
    row = await conn.fetchrow(
        "SELECT expires_at FROM user_items WHERE user_id = $1 AND item_id = $2 FOR UPDATE", user_id, item_id
    )
    return dict(row) if row else None


async def record_purchase_txn(
    conn: Conn, purchase_key: str, user_id: int, item_id: int, category: str, price: int, txn_id: str,
    expires: dt.datetime | None,
) -> None:  # fmt: skip
    """Write the purchase (its key is unique: a concurrent twin fails here) and the new ownership."""
    await conn.execute(
        "INSERT INTO mall_purchases (purchase_key, user_id, item_id, price, txn_id) VALUES ($1, $2, $3, $4, $5)",
        purchase_key, user_id, item_id, price, uuid.UUID(txn_id),
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO user_items (user_id, item_id, category, expires_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (user_id, item_id) DO UPDATE SET expires_at = $4, quantity = user_items.quantity + 1,
               updated_at = now()""",
        user_id, item_id, category, expires,
    )  # fmt: skip


async def lock_owned_item_txn(conn: Conn, user_id: int, item_id: int, category: str) -> dict[str, Any] | None:
    """The owned item's expiry and assets, its ownership row-locked."""
    row = await conn.fetchrow(
        """SELECT u.expires_at, i.static_src, i.animated_src FROM user_items u JOIN mall_items i ON i.id = u.item_id
           WHERE u.user_id = $1 AND u.item_id = $2 AND u.category = $3 FOR UPDATE OF u""",
        user_id, item_id, category,
    )  # fmt: skip
    return dict(row) if row else None


async def activate_txn(conn: Conn, user_id: int, item_id: int, category: str) -> None:
    """Make the item the category's one active item."""
    await conn.execute("UPDATE user_items SET is_active = false WHERE user_id = $1 AND category = $2 AND is_active",
                       user_id, category)  # fmt: skip
    await conn.execute(
        "UPDATE user_items SET is_active = true, updated_at = now() WHERE user_id = $1 AND item_id = $2",
        user_id, item_id,
    )  # fmt: skip


async def set_user_frame_txn(conn: Conn, user_id: int, static_src: str | None, animated_src: str | None) -> None:
    """The legacy user row carries the active frame's assets."""
    await conn.execute("UPDATE users SET static_src = $2, animated_src = $3 WHERE id = $1",
                       user_id, static_src, animated_src)  # fmt: skip
