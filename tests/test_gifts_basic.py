"""A gift end to end: grant coins, send through a real socket, flush, reconcile."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from engine.appkeys import SERVICES
from engine.config import Rate
from engine.economy.flusher import flush_all
from engine.economy.reconcile import reconcile
from tests.helpers import bearer, db, grant_role, join, me, register_user
from tests.sockets import Peer, url_of


async def make_staff(config: Any, user_id: int) -> None:
    """Make the user a super_admin and make sure the 7-coin test gift (id 900) exists."""
    await grant_role(config.database_url, user_id, "super_admin")
    async with db(config.database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price) VALUES (900, 'Test', 7) ON CONFLICT DO NOTHING")


@dataclass
class GiftRoom:
    sender: dict[str, Any]  # token response
    host: dict[str, Any]
    sender_id: int
    host_id: int
    room_id: int
    a: Peer  # the sender's socket, in the host's room
    b: Peer  # the host's socket, seated


@contextlib.asynccontextmanager
async def gift_room(client: Any, config: Any, *, coins: int, key: str, seat: int = 0) -> AsyncIterator[GiftRoom]:
    """A staff sender granted `coins`, and a host seated in their own room, both connected."""
    sender, host = await register_user(client), await register_user(client)
    sender_me, host_me = await me(client, sender["token"]), await me(client, host["token"])
    await make_staff(config, sender_me["id"])
    body = {"currency": "coins", "amount": coins, "direction": "grant", "reason": "test", "idempotency_key": key}
    grant = await client.post(
        f"/api/v1/admin/wallets/{sender_me['id']}/adjust", headers=bearer(sender["token"]), json=body
    )
    assert grant.status == 200, await grant.text()
    assert (await grant.json())["data"]["balance"] == coins
    room_id = int(host_me["room"]["id"])
    a, b = await Peer().connect(url_of(client), sender["token"]), await Peer().connect(url_of(client), host["token"])
    try:
        await join(b, room_id)
        assert (await b.call("seat:take", {"roomId": room_id, "seatIndex": seat}))["success"]
        await join(a, room_id)
        yield GiftRoom(sender, host, int(sender_me["id"]), int(host_me["id"]), room_id, a, b)
    finally:
        await a.close()
        await b.close()


async def test_gift_debits_sender_credits_recipient_and_reconciles(client: Any, config: Any) -> None:
    async with gift_room(client, config, coins=100, key="grant-01") as r:
        payload = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id, "quantity": 3,
                   "idempotencyKey": "send-00000001"}  # fmt: skip
        ack = await r.a.call("gift:send", payload)
        assert ack["success"] is True and ack["balance"] == 100 - 21 and ack["acceptedRecipientIds"] == [r.host_id]
        again = await r.a.call("gift:send", payload)  # a retry: no second charge
        assert again["success"] is True and again["replay"] is True and again["balance"] == 79
        received = await r.b.wait_for("gift:received", 2)
        assert received[0]["recipientId"] == r.host_id and received[1]["recipientIds"] == [r.host_id]
        poor = await r.a.call("gift:send", {**payload, "quantity": 20, "idempotencyKey": "send-00000002"})
        assert poor["success"] is False and poor["error"] == "Insufficient funds" and poor["available"] == 79
    sender, host, sender_me, host_me = r.sender, r.host, {"id": r.sender_id}, {"id": r.host_id}
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    host_wallet = await (await client.get("/api/v1/wallet", headers=bearer(host["token"]))).json()
    # 21 coins: 30% to the recipient (6), 5% to the room owner — the recipient here (1), 14 to the platform.
    assert host_wallet["data"] == {"coins": 7, "diamonds": 0}
    report = await reconcile(svc)
    assert report.ok, report.render()
    assert report.totals["coins"] == {"mint": -100, "user": 86, "platform": 14}
    # XP comes with the ledger record, once: 21 coins given and received (1 XP per coin by default).
    sender_public = await (await client.get(f"/api/user/{sender_me['id']}", headers=bearer(host["token"]))).json()
    host_public = await (await client.get(f"/api/user/{host_me['id']}", headers=bearer(sender["token"]))).json()
    assert (sender_public["wealth_xp"], host_public["charm_xp"]) == ("21.0000", "21.0000")


async def test_wallet_history_filters_and_pages(client: Any, register: Any, config: Any) -> None:
    user = await register()
    user_me = await me(client, user["token"])
    await make_staff(config, user_me["id"])
    for n, amount in enumerate((10, 20, 30)):
        body = {
            "currency": "coins",
            "amount": amount,
            "direction": "grant",
            "reason": "test",
            "idempotency_key": f"h-{n:06d}",
        }
        assert (
            await client.post(f"/api/v1/admin/wallets/{user_me['id']}/adjust", headers=bearer(user["token"]), json=body)
        ).status == 200
    body = {"currency": "coins", "amount": 5, "direction": "deduct", "reason": "test", "idempotency_key": "h-deduct-1"}
    assert (
        await client.post(f"/api/v1/admin/wallets/{user_me['id']}/adjust", headers=bearer(user["token"]), json=body)
    ).status == 200
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")

    async def page(query: str) -> Any:
        resp = await client.get(f"/api/v1/wallet/transactions{query}", headers=bearer(user["token"]))
        assert resp.status == 200, await resp.text()
        return (await resp.json())["data"]

    everything = await page("")
    assert [i["amount"] for i in everything["items"]] == [-5, 30, 20, 10]
    assert [i["balance_after"] for i in everything["items"]] == [55, 60, 30, 10]
    assert everything["next_cursor"] is None
    grants = await page("?kind=admin_grant&limit=2")
    assert [i["amount"] for i in grants["items"]] == [30, 20] and grants["next_cursor"] is not None
    rest = await page(f"?kind=admin_grant&limit=2&cursor={grants['next_cursor']}")
    assert [i["amount"] for i in rest["items"]] == [10]
    assert (await page("?currency=diamonds"))["items"] == []
    bad = await client.get("/api/v1/wallet/transactions?limit=500", headers=bearer(user["token"]))
    assert bad.status == 422 and "limit" in (await bad.json())["errors"]


async def test_daily_spend_cap_refuses_and_flags(make_client: Any, config: Any) -> None:
    client = await make_client(daily_gift_spend_limit=30)
    async with gift_room(client, config, coins=100, key="cap-grant") as r:
        send = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id, "quantity": 4}  # 28 coins
        assert (await r.a.call("gift:send", {**send, "idempotencyKey": "cap-send-1"}))["balance"] == 72
        over = await r.a.call("gift:send", {**send, "idempotencyKey": "cap-send-2"})
        assert over["success"] is False and over["error"] == "Daily spending limit reached" and over["cap"] == 30
    async with db(config.database_url) as conn:
        flags = await conn.fetch("SELECT user_id, kind FROM fraud_flags")
    assert [(f["user_id"], f["kind"]) for f in flags] == [(r.sender_id, "daily_gift_limit")]


async def test_vip_only_gift_needs_the_level(client: Any, config: Any) -> None:
    async with db(config.database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price, vip_level_required) VALUES (901, 'Crown', 5, 3)")
    async with gift_room(client, config, coins=50, key="vip-grant", seat=1) as r:
        send = {"roomId": r.room_id, "giftId": 901, "recipientId": r.host_id, "idempotencyKey": "vip-send-1"}
        refused = await r.a.call("gift:send", send)
        assert refused["success"] is False and refused["code"] == "VIP_REQUIRED"
        async with db(config.database_url) as conn:
            in_force = "vip_level = 3, vip_expires_at = now() + interval '1 day'"  # sql/0025: a level has an expiry
            await conn.execute(f"UPDATE users SET {in_force} WHERE id = $1", r.sender_id)
        allowed = await r.a.call("gift:send", {**send, "idempotencyKey": "vip-send-2"})
        assert allowed["success"] is True and allowed["balance"] == 45


async def test_admin_economy_settings(client: Any, register: Any, config: Any) -> None:
    admin, plain = await register(), await register()
    admin_me = await me(client, admin["token"])
    await make_staff(config, admin_me["id"])
    url = "/api/v1/admin/economy/settings"
    assert (await client.get(url, headers=bearer(plain["token"]))).status == 403
    current = (await (await client.get(url, headers=bearer(admin["token"]))).json())["data"]
    assert current["gift_recipient_coins_bps"] == 3000
    changed = await client.patch(url, headers=bearer(admin["token"]), json={"values": {"gift_room_owner_bps": 700}})
    assert changed.status == 200 and (await changed.json())["data"]["gift_room_owner_bps"] == 700
    too_much = await client.patch(
        url, headers=bearer(admin["token"]), json={"values": {"gift_recipient_coins_bps": 9500}}
    )
    assert too_much.status == 422
    unknown = await client.patch(url, headers=bearer(admin["token"]), json={"values": {"nope": 1}})
    assert unknown.status == 422


async def test_gift_rate_limit_and_prepare(make_client: Any, config: Any) -> None:
    client = await make_client(gift_rate_limit=Rate(2, 60))
    async with gift_room(client, config, coins=100, key="rl-grant") as r:
        prepare = await r.a.call("gift:prepare", {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id})
        assert prepare["success"] is True
        assert (await r.b.wait_for("gift:prepare"))[0] == {"giftId": 900, "recipientId": r.host_id}
        send = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id}
        acks = [await r.a.call("gift:send", {**send, "idempotencyKey": f"rl-send-{n}"}) for n in range(3)]
        assert [ack["success"] for ack in acks] == [True, True, False]
        assert acks[2]["error"] == "Too many requests" and acks[2]["code"] == "RATE_LIMITED"
        assert acks[1]["balance"] == 100 - 2 * 7  # the refused send charged nothing


async def test_a_batch_is_a_combo_every_send_charged_and_shown(client: Any, config: Any) -> None:
    """Sends sharing a batchId (the contract's combo) are each charged and shown to the room; only an
    idempotencyKey makes a repeat free."""
    async with gift_room(client, config, coins=100, key="grant-combo") as r:
        send = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id, "batchId": "combo-1"}
        acks = [await r.a.call("gift:send", send) for _ in range(3)]
        assert [(ack["success"], "replay" in ack, ack["balance"]) for ack in acks] == [
            (True, False, 93), (True, False, 86), (True, False, 79)
        ]  # fmt: skip
        assert [ack["combo"]["sends"] for ack in acks] == [1, 2, 3]
        received = await r.b.wait_for("gift:received", 6)  # per send: one legacy event, then one burst
        assert [event["batchId"] for event in received] == ["combo-1"] * 6
        assert [combo["sends"] for combo in await r.b.wait_for("gift:combo", 2)] == [2, 3]

        keyed = {**send, "idempotencyKey": "combo-retry-1"}
        first, retry = await r.a.call("gift:send", keyed), await r.a.call("gift:send", keyed)
        assert (first["balance"], retry["replay"], retry["balance"]) == (72, True, 72)
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    sender_wallet = await (await client.get("/api/v1/wallet", headers=bearer(r.sender["token"]))).json()
    assert sender_wallet["data"]["coins"] == 100 - 4 * 7  # three sends of the batch and one keyed send
    report = await reconcile(svc)
    assert report.ok, report.render()
