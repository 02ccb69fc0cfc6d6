"""The legacy user object carries the live wallet, as /api/v1/wallet does (it was a stub of zeros)."""

from __future__ import annotations

from typing import Any

from engine.appkeys import SERVICES
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet
from engine.economy.flusher import flush_all
from tests.helpers import bearer, new_user


async def balances(client: Any, token: str) -> tuple[tuple[int, int], tuple[int, int]]:
    legacy = await (await client.get("/api/user", headers=bearer(token))).json()
    wallet = (await (await client.get("/api/v1/wallet", headers=bearer(token))).json())["data"]
    return (legacy["coin_balance"], legacy["diamond_balance"]), (wallet["coins"], wallet["diamonds"])


async def test_legacy_user_shows_the_wallet(client: Any) -> None:
    user = await new_user(client)
    svc = client.app[SERVICES]
    for currency, amount in (("coins", 1234), ("diamonds", 56)):
        legs = [money.Leg("user", user.id, currency, amount), money.Leg("mint", 0, currency, -amount)]
        assert (await apply_with_wallet(svc, money.make_txn("grant", legs), f"legacy-{currency}")).ok
    assert await balances(client, user.token) == ((1234, 56), (1234, 56))

    # A wallet Redis lost is rebuilt from the ledger, for the legacy object as for the v1 one.
    await flush_all(svc, svc.wallets, "test")
    await svc.redis.delete(svc.keys.wallet(user.id))
    assert await balances(client, user.token) == ((1234, 56), (1234, 56))
