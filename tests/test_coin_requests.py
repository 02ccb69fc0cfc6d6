"""Coin requests: only to resellers, only the addressee decides, an approval pays exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.appkeys import SERVICES
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet
from engine.economy.reconcile import reconcile
from tests.helpers import bearer, new_user


async def test_request_approve_once(client: Any) -> None:
    buyer, reseller, plain = await new_user(client), await new_user(client, role="reseller"), await new_user(client)
    svc = client.app[SERVICES]
    stock = [money.Leg("user", reseller.id, "coins", 500), money.Leg("mint", 0, "coins", -500)]
    assert (await apply_with_wallet(svc, money.make_txn("grant", stock), "stock-1")).ok

    listed = await (await client.get("/api/coin-resellers", headers=bearer(buyer.token))).json()
    assert [(r["id"], r["coin_balance"]) for r in listed] == [(reseller.id, 500)]
    to_plain = await client.post(
        f"/api/coin-requests/{plain.id}", headers=bearer(buyer.token), json={"amount": 5, "type": 1}
    )
    assert to_plain.status == 422
    credit = await client.post(
        f"/api/coin-requests/{reseller.id}", headers=bearer(buyer.token), json={"amount": 5, "type": 2}
    )
    assert credit.status == 422 and "credit_days" in (await credit.json())["errors"]
    made = await client.post(f"/api/coin-requests/{reseller.id}", headers=bearer(buyer.token),
                             json={"amount": 300, "type": 1, "message": "please"})  # fmt: skip
    assert made.status == 200
    request = await made.json()
    assert request["status"] == 1 and request["user_id"] == buyer.id and request["requested_from"] == reseller.id

    url = f"/api/coin-requests/{request['id']}"
    assert (await client.get(f"{url}/show", headers=bearer(plain.token))).status == 404
    assert (await client.get(f"{url}/show", headers=bearer(buyer.token))).status == 200
    assert (await client.patch(f"{url}/update", headers=bearer(buyer.token), json={"status": 2})).status == 403

    # Five approvals at once: one pays, the others find it decided.
    answers = await asyncio.gather(*(client.patch(f"{url}/update", headers=bearer(reseller.token),
                                                  json={"status": 2}) for _ in range(5)))  # fmt: skip
    assert sorted(a.status for a in answers) == [200, 409, 409, 409, 409]
    balances = {}
    for name, user in (("buyer", buyer), ("reseller", reseller)):
        balances[name] = (await (await client.get("/api/v1/wallet", headers=bearer(user.token))).json())["data"][
            "coins"
        ]
    assert balances == {"buyer": 300, "reseller": 200}
    report = await reconcile(svc)
    assert report.ok, report.render()

    too_much = await client.post(
        f"/api/coin-requests/{reseller.id}", headers=bearer(buyer.token), json={"amount": 900, "type": 1}
    )
    refused = await client.patch(f"/api/coin-requests/{(await too_much.json())['id']}/update",
                                 headers=bearer(reseller.token), json={"status": 2})  # fmt: skip
    assert refused.status == 409 and "enough coins" in (await refused.json())["message"]


async def test_daily_transfer_cap(make_client: Any) -> None:
    client = await make_client(daily_transfer_limit=100)
    buyer, reseller = await new_user(client), await new_user(client, role="reseller")
    stock = [money.Leg("user", reseller.id, "coins", 500), money.Leg("mint", 0, "coins", -500)]
    assert (await apply_with_wallet(client.app[SERVICES], money.make_txn("grant", stock), "stock-cap")).ok
    decisions = []
    for amount in (80, 30):
        made = await client.post(f"/api/coin-requests/{reseller.id}", headers=bearer(buyer.token),
                                 json={"amount": amount, "type": 1})  # fmt: skip
        url = f"/api/coin-requests/{(await made.json())['id']}/update"
        decisions.append(await client.patch(url, headers=bearer(reseller.token), json={"status": 2}))
    assert [d.status for d in decisions] == [200, 409]
    assert (await decisions[1].json())["error"]["code"] == "daily_limit"
