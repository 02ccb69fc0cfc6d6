"""The tier catalog (GET /api/v1/vip/tiers), one's own VIP (GET /api/v1/me/vip) and staff edits of a
tier (PUT /api/v1/admin/vip/tiers/{level}, audited). docs/vip.md "Tiers"."""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from engine.audit.store import record_txn as audit_txn
from engine.errors import not_found
from engine.services import Services
from engine.social.model import decode_cursor, page
from engine.vip import store
from engine.vip.live import Vip
from engine.vip.model import HistoryQuery, TierBody, purchase_json, tier_json
from engine.vip.notify import standing_json

log = logging.getLogger("flylive.vip")


async def list_tiers(svc: Services, *, include_inactive: bool = False) -> list[dict[str, Any]]:
    async with svc.pool.acquire() as conn:
        rows = await store.tiers(conn)
    return [tier_json(r) for r in rows if include_inactive or r["is_active"]]


async def my_vip(vip: Vip, user_id: int) -> dict[str, Any]:
    async with vip.svc.pool.acquire() as conn:
        standing = await store.standing(conn, user_id)
    if standing is None:
        raise not_found("User")
    return await standing_json(vip, standing)


async def do_update_tier(svc: Services, actor_id: int, level: int, body: TierBody) -> dict[str, Any]:
    """Write the tier (every process forgets its cached tiers at commit: sql/0025) and audit it."""
    async with svc.pool.acquire() as conn, conn.transaction():
        before = await store.tier(conn, level)
        row = await store.upsert_tier_txn(conn, level, body.name, body.price_coins, body.privileges, body.is_active,
                                          actor_id)  # fmt: skip
        await audit_txn(conn, actor_id=actor_id, action="vip.tier.update", target_type="vip_tier", target_id=level,
                        details={"before": tier_json(before) if before else None,
                                 "after": {**msgspec.to_builtins(body)}})  # fmt: skip
    svc.metrics.vip_tier_edits.inc()
    log.info("vip tier updated", extra={"level": level, "user_id": actor_id, "price_coins": body.price_coins})
    return tier_json(row)


async def my_purchases(svc: Services, user_id: int, q: HistoryQuery) -> dict[str, Any]:
    """What the user bought, gave and received (purchases, gifts both ways, reward grants), newest first."""
    position = decode_cursor(q.cursor, int)
    async with svc.pool.acquire() as conn:
        rows = await store.purchases_of(conn, user_id, position[0] if position else None, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [purchase_json(r) for r in items], "next_cursor": next_cursor}
