"""Shared set-up of the agency tests: an application, its approval, members of each role."""

from __future__ import annotations

import itertools
from typing import Any

from engine.appkeys import CONFIG
from tests.helpers import User, bearer, db, new_user

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
