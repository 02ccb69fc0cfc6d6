"""Shared set-up of the agency tests: an application, its approval, members of each role."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from engine.appkeys import CONFIG, SERVICES
from engine.economy.flusher import flush_all
from tests.helpers import User, bearer, db, join, new_user

_serial = itertools.count(1)


def application(referee: int, **changes: Any) -> dict[str, Any]:
    n = next(_serial)
    return {
        "name": f"Agency {n}", "country": "pk", "phone": "+923001234567", "address": "1 Mall Road, Lahore",
        "logo_url": "https://cdn.example/logo.png", "id_front_url": f"https://cdn.example/id-front-{n}.jpg",
        "id_back_url": f"https://cdn.example/id-back-{n}.jpg", "referee_user_id": referee, **changes,
    }  # fmt: skip


async def apply(client: Any, user: User, **changes: Any) -> dict[str, Any]:
    resp = await client.post("/api/v1/agencies", json=application(user.id, **changes), headers=bearer(user.token))
    assert resp.status == 201, await resp.text()
    data: dict[str, Any] = (await resp.json())["data"]
    return data


async def approve(client: Any, staff: User, agency_id: int) -> dict[str, Any]:
    resp = await client.post(f"/api/v1/admin/agencies/{agency_id}/approve", headers=bearer(staff.token))
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = (await resp.json())["data"]
    return data


async def new_agency(client: Any, owner: User, staff: User, **changes: Any) -> int:
    """An approved agency of `owner`."""
    agency = await apply(client, owner, **changes)
    await approve(client, staff, agency["id"])
    return int(agency["id"])


async def add_member(client: Any, agency_id: int, user: User, role: str = "member") -> None:
    """Put a user in the agency straight in the database (the tests of other routes)."""
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("INSERT INTO agency_members (agency_id, user_id, role) VALUES ($1, $2, $3)",
                           agency_id, user.id, role)  # fmt: skip


class Cast:
    """One user of each standing towards one approved agency."""

    def __init__(self, owner: User, admin: User, moderator: User, member: User, outsider: User, staff: User,
                 agency_id: int) -> None:  # fmt: skip
        self.owner, self.admin, self.moderator, self.member = owner, admin, moderator, member
        self.outsider, self.staff, self.agency_id = outsider, staff, agency_id

    def everyone(self) -> dict[str, User]:
        return {"owner": self.owner, "admin": self.admin, "moderator": self.moderator, "member": self.member,
                "outsider": self.outsider, "staff": self.staff}  # fmt: skip


async def cast(client: Any) -> Cast:
    staff = await new_user(client, "Staff", role="admin")
    owner = await new_user(client, "Owner")
    agency_id = await new_agency(client, owner, staff)
    users = [await new_user(client, name) for name in ("Admin", "Moderator", "Member", "Outsider")]
    for user, role in zip(users[:3], ("admin", "moderator", "member"), strict=True):
        await add_member(client, agency_id, user, role)
    return Cast(owner, *users, staff, agency_id)


async def agency_share_probe(a: Any, b: Any, connect: Any, sender: User, host: User,
                             key: str) -> Callable[[], Awaitable[list[int]]]:  # fmt: skip
    """`host` seated in their own room on process `b`, and `sender` (who must hold economy.grant)
    granted 100 coins beside them; the probe sends one gift from `b` and answers the agencies the
    ledger paid a share of it (after the flush): what the gift split read of the host's agency."""
    database_url = a.app[CONFIG].database_url
    async with db(database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price) VALUES (900, 'Test', 10) ON CONFLICT DO NOTHING")
    grant = {"currency": "coins", "amount": 100, "direction": "grant", "reason": "test", "idempotency_key": key}
    assert (await a.post(f"/api/v1/admin/wallets/{sender.id}/adjust", json=grant,
                         headers=bearer(sender.token))).status == 200  # fmt: skip
    h, s = await connect(b, host), await connect(b, sender)
    await join(h, host.room)
    assert (await h.call("seat:take", {"roomId": host.room, "seatIndex": 0}))["success"]
    await join(s, host.room)

    async def agency_share_of_next_gift() -> list[int]:
        ack = await s.call("gift:send", {"roomId": host.room, "giftId": 900, "recipientId": host.id})
        assert ack["success"] is True, ack
        await flush_all(a.app[SERVICES], a.app[SERVICES].wallets, "test")
        async with db(database_url) as conn:
            # The app's own flusher may have taken the entry first and not committed it yet.
            async with asyncio.timeout(5):
                while not await conn.fetchval("SELECT 1 FROM ledger_transactions WHERE txn_id = $1",  # noqa: ASYNC110
                                              ack["transaction_id"]):  # fmt: skip
                    await asyncio.sleep(0.01)
            rows = await conn.fetch("SELECT account_id FROM ledger_entries WHERE txn_id = $1 AND account_type = "
                                    "'agency'", ack["transaction_id"])  # fmt: skip
        return [int(r["account_id"]) for r in rows]

    return agency_share_of_next_gift
