"""The catalog's tables as staff edit them (gifts, mall_items, recharge_packages): PostgreSQL only.
Table and column names come from engine/catalog/model.py's KINDS and bodies, never from a request.
Gift and package edits reach the hot paths by themselves: the gift catalog is re-read every few
seconds (engine/gifts/store.py Catalog), packages and mall items at each request."""

from __future__ import annotations

from typing import Any

from engine.catalog.model import KindInfo
from engine.db import Conn

_TOUCHED = frozenset({"gifts", "mall_items"})  # the tables with an updated_at


def _scope(info: KindInfo) -> str:
    if info.table == "mall_items":
        return "category = $1"
    if info.table == "gifts":
        return "deleted_at IS NULL AND $1::text IS NOT NULL"
    return "$1::text IS NOT NULL"


async def rows(conn: Conn, info: KindInfo, limit: int) -> list[dict[str, Any]]:
    found = await conn.fetch(f"SELECT * FROM {info.table} WHERE {_scope(info)} ORDER BY id LIMIT $2", info.kind, limit)
    return [dict(r) for r in found]


async def get(conn: Conn, info: KindInfo, item_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT * FROM {info.table} WHERE {_scope(info)} AND id = $2{' FOR UPDATE' if lock else ''}",
        info.kind, item_id,
    )  # fmt: skip
    return dict(row) if row else None


async def insert_txn(conn: Conn, info: KindInfo, values: dict[str, Any]) -> dict[str, Any]:
    columns = list(values)
    row = await conn.fetchrow(
        f"""INSERT INTO {info.table} ({", ".join(columns)})
            VALUES ({", ".join(f"${i}" for i in range(1, len(columns) + 1))}) RETURNING *""",
        *values.values(),
    )
    assert row is not None
    return dict(row)


async def update_txn(conn: Conn, info: KindInfo, item_id: int, values: dict[str, Any]) -> dict[str, Any]:
    columns = list(values)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    if info.table in _TOUCHED:
        sets += ", updated_at = now()"
    row = await conn.fetchrow(f"UPDATE {info.table} SET {sets} WHERE id = $1 RETURNING *", item_id, *values.values())
    assert row is not None
    return dict(row)
