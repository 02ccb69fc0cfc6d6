"""`GET /api/v1/me/gifts/stats` (issue 14 §5, story 6.4): what I sent and received by gift, who gave
me the most, whom I gave the most, and the trend per business day; docs/progression.md "Gift
statistics and appreciation"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.progression import giftstats_store as store
from engine.progression.giftstats_model import StatsQuery, check_zone, shape, window
from engine.services import Services
from engine.social.store import block_set


async def gift_stats(svc: Services, user_id: int, q: StatsQuery) -> dict[str, Any]:
    tz = check_zone(q.tz) if q.tz is not None else svc.config.business_timezone
    w = window(q.period, tz, dt.datetime.now(dt.UTC))
    async with svc.pool.acquire() as conn:
        tallies = await store.tallies(conn, user_id, w.start, w.end, q.limit)
        trend = await store.trend(conn, user_id, w.trend_bounds)
        gift_ids = sorted({int(r["gift_id"]) for r in tallies if r["gift_id"] is not None})
        other_ids = sorted({int(r["other_id"]) for r in tallies if r["other_id"] is not None})
        gifts = await store.gifts_by_id(conn, gift_ids) if gift_ids else {}
        users = await store.users_by_id(conn, other_ids) if other_ids else {}
        blocks = await block_set(conn, user_id) if other_ids else None
    hidden = {u for u in other_ids if blocks.either(u)} if blocks is not None else set()
    return shape(w, tallies, trend, gifts, users, hidden)
