"""Every VIP privilege in every rule that names it, for every level 0–7, exactly as the tier data
says (GET /api/v1/vip/tiers): anti-mute (seat:mute), anti-kick (seat:remove), VIP-only gifts,
VIP-only mall items, the badge and entry effect in the join snapshot and room:userJoined, the chat
bubble in chat:message, the gift XP multiplier in the ledger's wealth XP, and the daily bonus in
the reward ledger."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from engine.agency.analytics_model import business_today
from engine.appkeys import SERVICES, VIP
from engine.config import Rate
from engine.vip.daily import grant_daily_bonuses
from tests.helpers import bearer, db, drain_ledger, join, new_user
from tests.sockets import Peer
from tests.vip_setup import fund, set_vip, tiers

PLAIN_GIFT, PLAIN_PRICE = 9100, 10
GIFT_FOR_LEVEL = {level: 9100 + level for level in range(1, 8)}  # a gift that needs that VIP level


async def catalog(client: Any) -> dict[int, int]:
    """The VIP-only gifts and, per level, a frame that needs it (mall item id by level)."""
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price) VALUES ($1, 'Plain', $2)", PLAIN_GIFT, PLAIN_PRICE)
        frames = {}
        for level, gift in GIFT_FOR_LEVEL.items():
            await conn.execute("INSERT INTO gifts (id, name, price, vip_level_required) VALUES ($1, $2, 1, $3)",
                               gift, f"Vip gift {level}", level)  # fmt: skip
            frames[level] = await conn.fetchval(
                """INSERT INTO mall_items (category, name, price, vip_level_required)
                   VALUES ('frame', $1, 1, $2) RETURNING id""", f"Vip frame {level}", level)  # fmt: skip
    return frames


async def wealth_xp(client: Any, user_id: int) -> Decimal:
    svc = client.app[SERVICES]
    await drain_ledger(svc)  # the app's own flusher may hold an earlier gift's entry
    async with db(svc.config.database_url) as conn:
        return Decimal(await conn.fetchval("SELECT wealth_xp FROM users WHERE id = $1", user_id))


async def daily_bonus(client: Any, user_id: int, at: dt.datetime) -> int | None:
    """The job's run on one business day (each level of the matrix gets a day of its own): the coins
    of the holder's `vip_daily` reward for that day, None when none was recorded."""
    await grant_daily_bonuses(client.app[VIP], at)
    day = business_today(at, client.app[SERVICES].config.business_timezone).isoformat()
    async with db(client.app[SERVICES].config.database_url) as conn:
        items = await conn.fetchval("SELECT items::text FROM rewards WHERE user_id = $1 AND source = 'vip_daily' "
                                    "AND source_ref = $2", user_id, day)  # fmt: skip
    if items is None:
        return None
    parsed = json.loads(items)
    parsed = json.loads(parsed) if isinstance(parsed, str) else parsed  # however the ledger stored its jsonb
    return sum(i["amount"] for i in parsed if i["kind"] == "coins")


async def seat_rules(owner: Peer, holder: Peer, room: int, holder_id: int, seen: dict[str, Any]) -> None:
    target = {"roomId": room, "userId": holder_id}
    muted = await owner.call("seat:mute", target)
    seen["anti_mute"] = muted.get("code") == "VIP_PROTECTED"
    if muted["success"]:
        assert (await owner.call("seat:unmute", target))["success"]
    removed = await owner.call("seat:remove", target)
    seen["anti_kick"] = removed.get("code") == "VIP_PROTECTED"
    if removed["success"]:
        assert (await holder.call("seat:take", {"roomId": room, "seatIndex": 1}))["success"]


async def gift_and_mall_rules(client: Any, holder_token: str, holder: Peer, room: int, owner_id: int,
                              frames: dict[int, int], level: int, seen: dict[str, Any]) -> None:  # fmt: skip
    seen["gifts"], seen["frames"] = set(), set()
    for needed, gift in GIFT_FOR_LEVEL.items():
        sent = await holder.call("gift:send", {"roomId": room, "giftId": gift, "recipientId": owner_id,
                                               "idempotencyKey": f"matrix-{level}-gift-{needed}"})  # fmt: skip
        assert sent["success"] or sent["code"] == "VIP_REQUIRED", sent
        if sent["success"]:
            seen["gifts"].add(needed)
        bought = await client.post(f"/api/v1/mall/frame/{frames[needed]}/purchase", headers=bearer(holder_token),
                                   json={"idempotency_key": f"matrix-{level}-frame-{needed}"})  # fmt: skip
        assert bought.status in (200, 403), await bought.text()
        if bought.status == 200:
            seen["frames"].add(needed)


async def test_every_privilege_for_every_level(make_client: Any, connect: Any) -> None:
    client = await make_client(chat_rate_limit=Rate(1_000, 1), gift_rate_limit=Rate(1_000, 1))
    tier_data = await tiers(client)
    frames = await catalog(client)
    owner, holder, watcher = await new_user(client, "Owner"), await new_user(client, "Holder"), await new_user(client)
    await fund(client, holder.id, 10_000)
    o, h, w = await connect(client, owner), await connect(client, holder), await connect(client, watcher)
    for peer in (o, h, w):
        await join(peer, owner.room)
    assert (await o.call("seat:take", {"roomId": owner.room, "seatIndex": 0}))["success"]
    assert (await h.call("seat:take", {"roomId": owner.room, "seatIndex": 1}))["success"]
    for level in range(8):
        privileges = tier_data[level]["privileges"] if level else {}
        await set_vip(client, holder.id, level, dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
        seen: dict[str, Any] = {}
        await seat_rules(o, h, owner.room, holder.id, seen)
        await gift_and_mall_rules(client, holder.token, h, owner.room, owner.id, frames, level, seen)

        # On join: the holder leaves and comes back (the owner sees room:userJoined); a watcher does the
        # same and finds the holder in their join snapshot.
        joined_before = len(o.events["room:userJoined"])
        assert (await h.call("room:leave", {"roomId": owner.room}))["success"]
        await join(h, owner.room)
        joined = (await o.wait_for("room:userJoined", joined_before + 1))[joined_before]["user"]
        assert (await h.call("seat:take", {"roomId": owner.room, "seatIndex": 1}))["success"]
        assert (await w.call("room:leave", {"roomId": owner.room}))["success"]
        snapshot = await join(w, owner.room)
        mine = next(p for p in snapshot["participants"] if p["id"] == holder.id)

        chats_before = len(o.events["chat:message"])
        assert (await h.call("chat:message", {"roomId": owner.room, "content": f"level {level}"}))["success"]
        chat = (await o.wait_for("chat:message", chats_before + 1))[chats_before]

        xp_before = await wealth_xp(client, holder.id)
        sent = await h.call("gift:send", {"roomId": owner.room, "giftId": PLAIN_GIFT, "recipientId": owner.id,
                                          "idempotencyKey": f"matrix-{level}-plain"})  # fmt: skip
        assert sent["success"], sent
        xp_gained = await wealth_xp(client, holder.id) - xp_before
        bonus = await daily_bonus(client, holder.id, dt.datetime.now(dt.UTC) + dt.timedelta(days=level))

        multiplier = privileges.get("gift_xp_multiplier_bps", 10_000)
        assert seen["anti_mute"] is bool(privileges.get("anti_mute")), level
        assert seen["anti_kick"] is bool(privileges.get("anti_kick")), level
        assert seen["gifts"] == set(range(1, level + 1)), level
        assert seen["frames"] == set(range(1, level + 1)), level
        for profile in (joined, mine):
            assert profile["vip_level"] == level, level
            assert profile["vip_entry_effect"] == privileges.get("entry_effect"), level
            assert profile["vip_badge"] == privileges.get("badge"), level
        assert (chat["userVipLevel"], chat["userVipBubble"]) == (level, privileges.get("chat_bubble")), level
        assert xp_gained == Decimal(PLAIN_PRICE * multiplier) / 10_000, level
        assert bonus == (privileges.get("daily_bonus_coins") or None), level
