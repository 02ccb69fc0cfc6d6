"""A gift end to end: grant coins, send through a real socket, flush, reconcile."""

from __future__ import annotations

from typing import Any

import asyncpg

from engine.appkeys import SERVICES
from engine.economy.flusher import flush_all
from engine.economy.reconcile import reconcile
from tests.conftest import bearer
from tests.sockets import Peer, url_of


async def make_staff(config: Any, user_id: int) -> None:
    conn = await asyncpg.connect(config.database_url)
    try:
        await conn.execute(
            "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = 'super_admin'", user_id
        )
        await conn.execute("INSERT INTO gifts (id, name, price) VALUES (900, 'Test', 7)")
    finally:
        await conn.close()


async def me(client: Any, token: str) -> Any:
    return await (await client.get("/api/user", headers=bearer(token))).json()


async def test_gift_debits_sender_credits_recipient_and_reconciles(client: Any, register: Any, config: Any) -> None:
    sender, host = await register(name="Sender"), await register(name="Host")
    sender_me, host_me = await me(client, sender["token"]), await me(client, host["token"])
    await make_staff(config, sender_me["id"])
    body = {"currency": "coins", "amount": 100, "direction": "grant", "reason": "test", "idempotency_key": "grant-01"}
    grant = await client.post(
        f"/api/v1/admin/wallets/{sender_me['id']}/adjust", headers=bearer(sender["token"]), json=body
    )
    assert grant.status == 200, await grant.text()
    assert (await grant.json())["data"]["balance"] == 100
    room_id = host_me["room"]["id"]
    a, b = await Peer().connect(url_of(client), sender["token"]), await Peer().connect(url_of(client), host["token"])
    try:
        assert (await b.call("room:join", {"roomId": room_id}))["success"]
        assert (await b.call("seat:take", {"roomId": room_id, "seatIndex": 0}))["success"]
        assert (await a.call("room:join", {"roomId": room_id}))["success"]
        payload = {"roomId": room_id, "giftId": 900, "recipientId": host_me["id"], "quantity": 3,
                   "idempotencyKey": "send-00000001"}  # fmt: skip
        ack = await a.call("gift:send", payload)
        assert ack["success"] is True and ack["balance"] == 100 - 21 and ack["acceptedRecipientIds"] == [host_me["id"]]
        again = await a.call("gift:send", payload)  # a retry: no second charge
        assert again["success"] is True and again["replay"] is True and again["balance"] == 79
        received = await b.wait_for("gift:received", 2)
        assert received[0]["recipientId"] == host_me["id"] and received[1]["recipientIds"] == [host_me["id"]]
        poor = await a.call("gift:send", {**payload, "quantity": 20, "idempotencyKey": "send-00000002"})
        assert poor["success"] is False and poor["error"] == "Insufficient funds" and poor["available"] == 79
    finally:
        await a.close()
        await b.close()
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    host_wallet = await (await client.get("/api/v1/wallet", headers=bearer(host["token"]))).json()
    # 21 coins: 30% to the recipient (6), 5% to the room owner — the recipient here (1), 14 to the platform.
    assert host_wallet["data"] == {"coins": 7, "diamonds": 0}
    report = await reconcile(svc)
    assert report.ok, report.render()
    assert report.totals["coins"] == {"mint": -100, "user": 86, "platform": 14}
