"""A suspended or banned user's wallet is frozen: spending is refused, reinstating lifts it."""

from __future__ import annotations

from typing import Any

from engine.appkeys import SERVICES
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet, get_balances
from tests.helpers import bearer, new_user


async def test_ban_freezes_and_reinstating_unfreezes(client: Any) -> None:
    admin, target = await new_user(client, role="super_admin"), await new_user(client)
    svc = client.app[SERVICES]
    grant = money.make_txn("grant", [money.Leg("user", target.id, "coins", 50), money.Leg("mint", 0, "coins", -50)])
    assert (await apply_with_wallet(svc, grant, "grant-freeze-1")).balance == 50

    def spend(key: str) -> Any:
        legs = [money.Leg("user", target.id, "coins", -5), money.Leg("burn", 0, "coins", 5)]
        return apply_with_wallet(svc, money.make_txn("spend", legs), key)

    status = f"/api/v1/admin/users/{target.id}/status"
    assert (await client.post(status, headers=bearer(admin.token), json={"status": "banned"})).status == 200
    refused = await spend("spend-freeze-1")
    assert not refused.ok and refused.code == "WALLET_FROZEN"
    assert await get_balances(svc, target.id) == {"coins": 50, "diamonds": 0}

    assert (await client.post(status, headers=bearer(admin.token), json={"status": "active"})).status == 200
    allowed = await spend("spend-freeze-2")
    assert allowed.ok and allowed.balance == 45

    # A suspension that has already ended freezes nothing.
    past = {"status": "suspended", "until": "2000-01-01T00:00:00Z"}
    assert (await client.post(status, headers=bearer(admin.token), json=past)).status == 200
    assert (await spend("spend-freeze-3")).ok
