"""Helpers of the VIP tests: coins for a user, a VIP level set in SQL, the REST calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.appkeys import SERVICES
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet
from tests.helpers import bearer, db, heard_by


async def fund(client: Any, user_id: int, coins: int) -> None:
    """Mint `coins` into the user's live wallet."""
    legs = [money.Leg("user", user_id, "coins", coins), money.Leg("mint", 0, "coins", -coins)]
    applied = await apply_with_wallet(client.app[SERVICES], money.make_txn("grant", legs), f"fund:{money.new_txn_id()}")
    assert applied.ok, applied


async def set_vip(client: Any, user_id: int, level: int, expires_at: dt.datetime | None = None) -> None:
    """Set a VIP level in SQL (in force for a day unless told); returns once the app's cache forgot the old."""
    if level and expires_at is None:
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    database_url = client.app[SERVICES].config.database_url
    async with heard_by(database_url, client.app), db(database_url) as conn:
        await conn.execute("UPDATE users SET vip_level = $2, vip_expires_at = $3 WHERE id = $1",
                           user_id, level, expires_at if level else None)  # fmt: skip


async def buy(client: Any, token: str, tier: int, months: int, key: str, *, status: int = 200) -> dict[str, Any]:
    resp = await client.post("/api/v1/vip/purchase", headers=bearer(token),
                             json={"tier": tier, "months": months, "idempotency_key": key})  # fmt: skip
    body = await resp.json()
    assert resp.status == status, body
    return body["data"] if status == 200 else body["error"]


async def standing(client: Any, user_id: int) -> tuple[int, dt.datetime | None]:
    async with db(client.app[SERVICES].config.database_url) as conn:
        row = await conn.fetchrow("SELECT vip_level, vip_expires_at FROM users WHERE id = $1", user_id)
    return int(row["vip_level"]), row["vip_expires_at"]


async def tiers(client: Any) -> dict[int, dict[str, Any]]:
    resp = await client.get("/api/v1/vip/tiers")
    assert resp.status == 200
    return {t["level"]: t for t in (await resp.json())["data"]}
