"""The VIP daily bonus (docs/vip.md "Jobs"): each holder of a tier with `daily_bonus_coins` gets
that many coins once per business day (BUSINESS_TIMEZONE), recorded in the reward ledger as source
`vip_daily` with the day as its ref — so whichever process, however often the job runs, a holder is
paid once a day. The tier is the one in force when the job reaches the holder that day."""

from __future__ import annotations

import datetime as dt
import logging

from engine.accounts.vip_model import privileges_at
from engine.agency.analytics_model import business_today
from engine.progression.rewards import grant_reward
from engine.progression.rewards_model import RewardItem
from engine.vip import store
from engine.vip.live import Vip
from engine.vip.model import tier_name

log = logging.getLogger("flylive.vip")
BATCH = 500


async def grant_daily_bonuses(vip: Vip, now: dt.datetime | None = None) -> int:
    """Today's bonus for every holder who has not had it; how many were granted now."""
    svc = vip.svc
    now = now or dt.datetime.now(dt.UTC)
    day = business_today(now, svc.config.business_timezone).isoformat()
    tiers = await vip.rooms.cache.vip_tiers()
    granted, after = 0, 0
    while True:
        async with svc.pool.acquire() as conn:
            holders = await store.holders_without_bonus(conn, now, day, after, BATCH)
        for holder in holders:
            coins = privileges_at(tiers, int(holder["vip_level"])).daily_bonus_coins
            if coins <= 0:
                continue
            row = await grant_reward(svc, user_id=holder["id"], source="vip_daily", source_ref=day,
                                     items=[RewardItem(kind="coins", amount=coins)],
                                     note=f"{tier_name(int(holder['vip_level']))} daily bonus")  # fmt: skip
            if row is not None:
                granted += 1
                svc.metrics.vip_daily_bonuses.inc()
        if len(holders) < BATCH:
            break
        after = holders[-1]["id"]
    if granted:
        log.info("vip daily bonuses granted", extra={"day": day, "count": granted})
    return granted
