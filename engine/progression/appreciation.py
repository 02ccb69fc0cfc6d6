"""Profile appreciation likes: `POST /api/v1/users/{id}/appreciate` (once per business day per
target), `GET /api/v1/users/{id}/appreciations`, and the total on the profile; the target is
notified (docs/progression.md "Gift statistics and appreciation")."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.agency.analytics_model import business_today
from engine.config import Rate
from engine.notifications.live import Notifications
from engine.progression import appreciation_store as store
from engine.progression.appreciation_model import already_appreciated, cannot_appreciate_self, notice
from engine.services import Services
from engine.social import store as social_store
from engine.social.follows import user_not_found, visible_user

log = logging.getLogger("flylive.progression")


def _today(svc: Services) -> dt.date:
    return business_today(dt.datetime.now(dt.UTC), svc.config.business_timezone)


async def do_appreciate(svc: Services, notifications: Notifications, liker: int, target: int) -> dict[str, Any]:
    """201 with the figures; 403 on oneself, 404 for a missing, deleted or blocked (either way)
    user, 409 `already_appreciated` the same business day, 429 over the rate."""
    if liker == target:
        raise cannot_appreciate_self()
    async with svc.pool.acquire() as conn:
        rate = Rate(max(1, await store.rate_per_minute(conn)), 60)
    await svc.limiter.check("appreciate", str(liker), rate)
    day = _today(svc)
    async with svc.pool.acquire() as conn, conn.transaction():
        # The social graph's pair lock: a block being made at this moment is seen, not raced.
        await social_store.lock_pair_txn(conn, liker, target)
        me, found, rel = await social_store.pair_context(conn, liker, target)
        if me is None or not found or rel.blocked:
            raise user_not_found(target)
        if not await store.insert_txn(conn, liker, target, day):
            raise already_appreciated(target)
        # Coalesced like a follow: one unread notice per liker (the next day's like adds none until read).
        stored = await notifications.record_txn(conn, notice(target, liker, me["name"]), once_until_read=True)
        body = await store.figures(conn, liker, target, day)
    await notifications.push(stored)
    log.info("profile appreciated", extra={"liker_id": liker, "target_id": target, "day": day.isoformat()})
    return body


async def appreciations(svc: Services, viewer: int, target: int) -> dict[str, Any]:
    """`{total, today, liked_today_by_me}`; 404 as for the profile itself."""
    async with svc.pool.acquire() as conn:
        await visible_user(conn, viewer, target)
        return await store.figures(conn, viewer, target, _today(svc))


async def total(svc: Services, target: int) -> int:
    """The all-time count shown on the profile (the caller already checked the profile is visible)."""
    async with svc.pool.acquire() as conn:
        return await store.total(conn, target)
