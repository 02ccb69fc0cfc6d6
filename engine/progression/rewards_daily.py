"""The daily login reward (issue 14 §5, docs/progression.md "Rewards"): `POST
/api/v1/me/rewards/daily-login` earns `daily_login_reward_coins` coins (an economy setting; 0
disables) once per business day (BUSINESS_TIMEZONE), recorded as source `daily_login` with the day
as source_ref, so it is paid once per user and day whatever the retries, processes or devices.
A Redis marker per (user, day) spares PostgreSQL the day's repeated calls."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.agency.analytics_model import business_today
from engine.economy import store as economy_store
from engine.progression import rewards_store as store
from engine.progression.rewards import grant_reward
from engine.progression.rewards_model import RewardItem
from engine.services import Services

log = logging.getLogger("flylive.progression.rewards")
SETTING = "daily_login_reward_coins"
MARKER_SECONDS = 2 * 24 * 3600


async def grant_daily_login(svc: Services, user_id: int, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Today's daily login reward, once; None when already earned today, or disabled."""
    day = business_today(now or dt.datetime.now(dt.UTC), svc.config.business_timezone).isoformat()
    if await store.daily_login_marked(svc.redis, svc.keys, user_id, day):
        return None
    async with svc.pool.acquire() as conn:
        coins = (await economy_store.settings(conn)).get(SETTING, 0)
    if coins <= 0:
        return None
    row = await grant_reward(svc, user_id=user_id, source="daily_login", source_ref=day,
                             items=[RewardItem(kind="coins", amount=coins)], note="Daily login reward")  # fmt: skip
    await store.mark_daily_login(svc.redis, svc.keys, user_id, day, MARKER_SECONDS)
    return row
