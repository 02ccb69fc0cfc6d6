"""Mall: frames bought with coins through the wallet path; expiry; activation needs ownership."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.appkeys import SERVICES
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet
from engine.economy.reconcile import reconcile
from engine.mall.actions import new_expiry
from tests.helpers import bearer, db

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_new_expiry_gives_a_full_period_after_expiry() -> None:
    day = 86400
    assert new_expiry(None, False, day, NOW) == NOW + dt.timedelta(days=1)
    assert new_expiry(NOW + dt.timedelta(days=2), True, day, NOW) == NOW + dt.timedelta(days=3)
    assert new_expiry(NOW - dt.timedelta(days=5), True, day, NOW) == NOW + dt.timedelta(days=1)  # legacy gave less
    assert new_expiry(None, True, day, NOW) is None and new_expiry(None, False, 0, NOW) is None


async def test_purchase_activate_and_money(client: Any, register: Any, config: Any) -> None:
    buyer = await register()
    me = await (await client.get("/api/user", headers=bearer(buyer["token"]))).json()
    async with db(config.database_url) as conn:
        frame = await conn.fetchval(
            """INSERT INTO mall_items (category, name, price, static_src, animated_src, valid_duration)
               VALUES ('frame', 'Gold', 150, 'gold.webp', 'gold.svga', 86400) RETURNING id"""
        )
        other = await conn.fetchval(
            "INSERT INTO mall_items (category, name, price) VALUES ('frame', 'Silver', 10) RETURNING id"
        )
    svc = client.app[SERVICES]
    legs = [money.Leg("user", me["id"], "coins", 200), money.Leg("mint", 0, "coins", -200)]
    assert (await apply_with_wallet(svc, money.make_txn("grant", legs), "mall-grant")).ok
    auth = bearer(buyer["token"])

    not_owned = await client.post(f"/api/frame/{frame}/activate", headers=auth)
    assert not_owned.status == 404
    bought = await client.post(f"/api/frame/{frame}/purchase", headers=auth, json={"idempotency_key": "buy-gold-1"})
    assert bought.status == 200 and (await bought.json())["message"] == "Frame attached to user successfully."
    replay = await client.post(f"/api/frame/{frame}/purchase", headers=auth, json={"idempotency_key": "buy-gold-1"})
    assert (await replay.json())["replay"] is True
    poor = await client.post(f"/api/frame/{frame}/purchase", headers=auth, json={"idempotency_key": "buy-gold-2"})
    assert poor.status == 409 and (await poor.json())["message"] == "Insufficient funds."
    wallet = await (await client.get("/api/v1/wallet", headers=auth)).json()
    assert wallet["data"]["coins"] == 50
    mine = await (await client.get("/api/frame/my-frames", headers=auth)).json()
    assert [(f["name"], f["pivot"]["quantity"], f["price"]) for f in mine] == [("Gold", 1, "150.00")]

    assert (await client.post(f"/api/frame/{frame}/activate", headers=auth)).status == 200
    me_after = await (await client.get("/api/user", headers=auth)).json()
    assert me_after["static_src"] == "gold.webp" and me_after["animated_src"] == "gold.svga"
    assert (
        me_after["active_frame"]["pivot"]["frame_id"] == frame and me_after["active_frame"]["static_src"] == "gold.webp"
    )
    assert (await client.post(f"/api/frame/{other}/purchase", headers=auth, json={})).status == 200
    assert (await client.post(f"/api/frame/{other}/activate", headers=auth)).status == 200
    active = [
        f["name"]
        for f in await (await client.get("/api/frame/my-frames", headers=auth)).json()
        if f["pivot"]["is_active"]
    ]
    assert active == ["Silver"]
    async with db(config.database_url) as conn:
        await conn.execute("UPDATE user_items SET expires_at = now() - interval '1 hour' WHERE item_id = $1", frame)
    expired = await client.post(f"/api/frame/{frame}/activate", headers=auth)
    assert expired.status == 409 and (await expired.json())["error"]["code"] == "item_expired"
    report = await reconcile(svc)
    assert report.ok, report.render()
    assert report.totals["coins"] == {"mint": -200, "user": 40, "platform": 160}
