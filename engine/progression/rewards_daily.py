"""The daily login reward (issue 14 §5, docs/progression.md "Rewards"): the first authenticated
socket connect of a business day (BUSINESS_TIMEZONE) earns `daily_login_reward_coins` coins (an
economy setting; 0 disables), recorded as source `daily_login` with the day as source_ref, so it is
paid once per user and business day whatever the number of sockets, processes or reconnects.

The trigger is the socket connect, not a REST call: the server decides when it happens, and the
client has no reward call of its own to replay. A Redis marker per (user, day) spares PostgreSQL
the repeated connects of the day."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from typing import Any

from engine.economy import store as economy_store
from engine.progression.rewards import grant_reward
from engine.progression.rewards_model import RewardItem
from engine.realtime.server import RealtimeServer
from engine.services import Services

log = logging.getLogger("flylive.progression.rewards")
SETTING = "daily_login_reward_coins"
MARKER_SECONDS = 2 * 24 * 3600


def business_day(at: dt.datetime, tz: str) -> dt.date:
    """The business day an instant falls in."""
    return at.astimezone(zoneinfo.ZoneInfo(tz)).date()


async def grant_daily_login(svc: Services, user_id: int, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Today's daily login reward, once; None when already earned today, or disabled."""
    day = business_day(now or dt.datetime.now(dt.UTC), svc.config.business_timezone).isoformat()
    marker = f"{svc.keys.prefix}reward:daily_login:{user_id}:{day}"
    if await svc.redis.exists(marker):
        return None
    async with svc.pool.acquire() as conn:
        coins = (await economy_store.settings(conn)).get(SETTING, 0)
    if coins <= 0:
        return None
    row = await grant_reward(svc, user_id=user_id, source="daily_login", source_ref=day,
                             items=[RewardItem(kind="coins", amount=coins)], note="Daily login reward")  # fmt: skip
    await svc.redis.set(marker, 1, ex=MARKER_SECONDS)
    return row


def register_daily_login(rt: RealtimeServer) -> None:
    """On every authenticated connect, detached from the handshake (a failure never refuses a socket)."""

    async def work(user_id: int) -> None:
        try:
            await grant_daily_login(rt.services, user_id)
        except Exception:
            log.exception("daily login reward failed", extra={"user_id": user_id})

    async def on_connect(sid: str, session: dict[str, Any]) -> None:
        rt.run_detached(work(int(session["user_id"])), "daily-login-reward")

    rt.connect_hooks.append(on_connect)
