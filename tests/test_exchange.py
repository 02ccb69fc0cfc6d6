"""Diamonds → coins: eligibility, rate and fee, limits, idempotency, and a clean ledger."""

from __future__ import annotations

from typing import Any

from engine.appkeys import SERVICES
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet
from engine.economy.exchange import exchange_legs
from engine.economy.reconcile import reconcile
from tests.helpers import User, bearer, db, new_user


def test_exchange_legs_balance_and_round_down() -> None:
    legs = exchange_legs(5, 999, 10000, 250)  # 999 coins, 2.5% fee = 24 (rounded down)
    money.check_balanced(legs)
    assert [leg.amount for leg in legs] == [-999, 999, -975, 975]


async def test_exchange_rules(client: Any, config: Any) -> None:
    member, outsider = await new_user(client), await new_user(client)
    async with db(config.database_url) as conn:
        agency = await conn.fetchval("INSERT INTO agencies (name, owner_id) VALUES ('A1', $1) RETURNING id", member.id)
        await conn.execute(
            "INSERT INTO agency_members (agency_id, user_id, left_at) VALUES ($1, $2, now())", agency, member.id
        )
        await conn.execute("UPDATE economy_settings SET value = 1000 WHERE key = 'exchange_fee_bps'")
        await conn.execute("UPDATE economy_settings SET value = 150 WHERE key = 'exchange_daily_diamond_limit'")
    svc = client.app[SERVICES]
    for uid in (member.id, outsider.id):
        legs = [money.Leg("user", uid, "diamonds", 200), money.Leg("mint", 0, "diamonds", -200)]
        assert (await apply_with_wallet(svc, money.make_txn("grant", legs), f"dia-{uid}")).ok

    async def exchange(user: User, diamonds: int, key: str) -> Any:
        body = {"diamonds": diamonds, "idempotency_key": key}
        return await client.post("/api/v1/wallet/exchange", headers=bearer(user.token), json=body)

    refused = await exchange(outsider, 10, "exch-out-1")
    assert refused.status == 403 and (await refused.json())["error"]["code"] == "not_eligible"
    first = await exchange(member, 100, "exch-mem-1")  # a former member still may
    assert first.status == 200, await first.text()
    data = (await first.json())["data"]
    assert data["coins_received"] == 90 and data["balances"] == {"coins": 90, "diamonds": 100}
    replay = (await (await exchange(member, 100, "exch-mem-1")).json())["data"]
    assert replay["replay"] is True and replay["balances"] == {"coins": 90, "diamonds": 100}
    over = await exchange(member, 60, "exch-mem-2")  # 100 + 60 > the daily 150
    assert over.status == 409 and (await over.json())["error"]["code"] == "daily_limit"
    report = await reconcile(svc)
    assert report.ok, report.render()
    assert report.totals["diamonds"] == {"mint": -400, "burn": 100, "user": 300}
    assert report.totals["coins"] == {"mint": -90, "user": 90}
