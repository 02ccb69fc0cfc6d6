"""Telling a user their VIP changed: `vip.updated` to their sockets and the VIP fields of their
profile in every room they are in (engine/vip/live.py), after the change committed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.accounts.vip_model import decode_privileges
from engine.vip import store
from engine.vip.live import Vip
from engine.vip.model import Standing, my_vip_json


async def standing_json(vip: Vip, standing: Standing) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    level = standing.at(now)
    privileges = None
    if level:
        async with vip.svc.pool.acquire() as conn:
            tier = await store.tier(conn, level)
        privileges = decode_privileges(tier["privileges"]) if tier else None
    return my_vip_json(standing, privileges, now)


async def told(vip: Vip, user_id: int, reason: str) -> None:
    async with vip.svc.pool.acquire() as conn:
        standing = await store.standing(conn, user_id)
    if standing is None:
        return
    body = await standing_json(vip, standing)
    await vip.push(user_id, "vip.updated", {**body, "reason": reason})
    await vip.profile_changed(user_id)
