"""The VIP daily bonus (docs/vip.md "Jobs"): once per holder and business day through the reward
ledger, in the configured business time zone, paid into the wallet."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from engine.appkeys import SERVICES, VIP
from engine.vip.daily import grant_daily_bonuses
from tests.helpers import bearer, db, new_user
from tests.vip_setup import set_vip


async def bonuses(client: Any, user_id: int) -> list[tuple[str, str]]:
    async with db(client.app[SERVICES].config.database_url) as conn:
        rows = await conn.fetch("SELECT source_ref, items::text AS items FROM rewards WHERE user_id = $1 "
                                "AND source = 'vip_daily' ORDER BY source_ref", user_id)  # fmt: skip
    return [(r["source_ref"], r["items"]) for r in rows]


async def test_once_per_business_day_whatever_runs_race(make_client: Any) -> None:
    client = await make_client(business_timezone="Asia/Kolkata")  # UTC+05:30
    holder, plain = await new_user(client), await new_user(client)
    await set_vip(client, holder.id, 3, dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    vip = client.app[VIP]
    # 18:29 UTC is 23:59 in Kolkata; 18:31 UTC is 00:01 the next business day there.
    day = dt.datetime.now(dt.UTC).replace(hour=18, minute=29, second=0, microsecond=0)
    runs = await asyncio.gather(*(grant_daily_bonuses(vip, day) for _ in range(5)))
    assert sum(runs) == 1
    assert await grant_daily_bonuses(vip, day + dt.timedelta(minutes=2)) == 1
    assert await grant_daily_bonuses(vip, day + dt.timedelta(minutes=3)) == 0
    granted = await bonuses(client, holder.id)
    kolkata = [(day + dt.timedelta(minutes=m)).astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))).date()
               for m in (0, 2)]  # fmt: skip
    assert [ref for ref, _ in granted] == [d.isoformat() for d in kolkata] and kolkata[0] != kolkata[1]
    assert await bonuses(client, plain.id) == []
    wallet = await (await client.get("/api/v1/wallet", headers=bearer(holder.token))).json()
    assert wallet["data"]["coins"] == 2 * 80  # VIP3's daily_bonus_coins, twice
