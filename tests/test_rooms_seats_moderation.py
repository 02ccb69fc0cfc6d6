"""Seat moderation over real sockets: remove, mute, invites and reactions (helpers and the event
checks at the end of every `crowd` come from test_rooms_seats.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from engine.config import Config
from tests.test_rooms_seats import crowd, nothing_more, set_vip


async def test_remove_is_for_the_owner_with_a_vip_guard(client: Any, register: Any, config: Config) -> None:
    async with crowd(client, register, 4) as room:
        owner, admin, b, c = room.users
        await room.make_admin(admin)
        await room.ok(b, "seat:take", seatIndex=2)
        await room.fails(admin, "seat:remove", "Not authorized", userId=b.id)
        await room.fails(c, "seat:remove", "Not authorized", userId=b.id)
        await set_vip(config.database_url, b.id, 5, app=client.app)
        await room.fails(owner, "seat:remove", "User is VIP protected", userId=b.id)
        assert await room.seats() == [(2, b.id, False)]

        await set_vip(config.database_url, b.id, 4, app=client.app)  # level 4 guards mute only
        await room.ok(owner, "seat:remove", userId=b.id)
        for peer in (admin.peer, b.peer, c.peer):
            await peer.expect("seat:cleared", seatIndex=2, userId=b.id, reason="removed")
        await nothing_more([owner.peer], "seat:cleared")  # remove: all but the actor
        assert await room.seats() == []
        await room.fails(owner, "seat:remove", "You are not seated", userId=b.id)


async def test_mute_follows_the_ranks(client: Any, register: Any) -> None:
    async with crowd(client, register, 5) as room:
        owner, admin, admin2, b, c = room.users
        await room.make_admin(admin)
        await room.make_admin(admin2)
        for index, user in enumerate(room.users):
            await room.ok(user, "seat:take", seatIndex=index)

        await room.ok(owner, "seat:mute", userId=admin2.id)  # the owner may mute anyone
        for user in room.users:  # the whole room, the actor included
            await user.peer.expect("seat:userMuted", userId=admin2.id, isMuted=True)
        await room.ok(owner, "seat:mute", userId=b.id)
        await room.ok(admin, "seat:mute", userId=c.id)  # an admin: members and themself
        await room.ok(admin, "seat:mute", userId=admin.id)
        for user in room.users:
            await user.peer.expect("seat:userMuted", userId=b.id, isMuted=True)
            await user.peer.expect("seat:userMuted", userId=c.id, isMuted=True)
            await user.peer.expect("seat:userMuted", userId=admin.id, isMuted=True)
        await room.fails(admin, "seat:mute", "Not authorized", userId=owner.id)
        await room.fails(admin, "seat:mute", "Not authorized", userId=admin2.id)
        await room.fails(admin, "seat:unmute", "Not authorized", userId=admin2.id)
        for target in (c, b, owner):  # a member: nobody, not even themself
            await room.fails(b, "seat:mute", "Not authorized", userId=target.id)
            await room.fails(b, "seat:unmute", "Not authorized", userId=target.id)
        await nothing_more([u.peer for u in room.users], "seat:userMuted")

        await room.ok(owner, "seat:unmute", userId=b.id)
        await owner.peer.expect("seat:userMuted", userId=b.id, isMuted=False)
        assert await room.seats() == [
            (0, owner.id, False), (1, admin.id, True), (2, admin2.id, True), (3, b.id, False), (4, c.id, True),
        ]  # fmt: skip


async def test_mute_vip_guard_and_unseated_target(client: Any, register: Any, config: Config) -> None:
    async with crowd(client, register, 3) as room:
        owner, b, c = room.users
        await room.ok(b, "seat:take", seatIndex=1)
        await room.fails(owner, "seat:mute", "User is not seated", userId=c.id)
        await room.fails(owner, "seat:unmute", "User is not seated", userId=c.id)
        await set_vip(config.database_url, b.id, 3, app=client.app)
        await room.ok(owner, "seat:mute", userId=b.id)
        await set_vip(config.database_url, b.id, 4, app=client.app)
        await room.ok(owner, "seat:unmute", userId=b.id)  # the guard is for mute only
        await room.fails(owner, "seat:mute", "User is VIP protected", userId=b.id)
        for peer in (owner.peer, b.peer, c.peer):
            await peer.expect("seat:userMuted", userId=b.id, isMuted=True)
            await peer.expect("seat:userMuted", userId=b.id, isMuted=False)
        await nothing_more([owner.peer, b.peer, c.peer], "seat:userMuted")
        assert await room.seats() == [(1, b.id, False)]


async def test_invite_rules_and_audience(client: Any, register: Any) -> None:
    async with crowd(client, register, 5, outsiders=1) as room:
        owner, admin, b, c, d, outsider = room.users
        await room.make_admin(admin)
        await room.fails(b, "seat:invite", "Not authorized", userId=c.id, seatIndex=3)
        await room.fails(owner, "seat:invite", "Cannot invite yourself", userId=owner.id, seatIndex=3)
        await room.fails(admin, "seat:invite", "Cannot invite yourself", userId=admin.id, seatIndex=3)
        await room.fails(owner, "seat:invite", "User is not in room", userId=outsider.id, seatIndex=3)
        await room.fails(owner, "seat:invite", "Invalid seat index", userId=b.id, seatIndex=15)
        await room.ok(c, "seat:take", seatIndex=5)
        for user in (owner, admin, b, d):
            await user.peer.expect("seat:updated", seatIndex=5, userId=c.id)
        await room.fails(owner, "seat:invite", "Seat is already taken", userId=c.id, seatIndex=3)
        await room.fails(owner, "seat:invite", "Seat is already occupied", userId=b.id, seatIndex=5)

        await room.ok(admin, "seat:invite", userId=b.id, seatIndex=3)
        received = await b.peer.expect("seat:invite:received", seatIndex=3, invitedById=admin.id, targetUserId=b.id)
        now_ms = time.time() * 1000
        assert now_ms + 20_000 < received["expiresAt"] < now_ms + 40_000  # epoch ms, 30 s ahead
        for user in (owner, admin, b, c, d):  # pending: the whole room
            await user.peer.expect("seat:invite:pending", seatIndex=3, isPending=True, invitedUserId=b.id)
        await nothing_more([owner.peer, admin.peer, c.peer, d.peer], "seat:invite:received")
        await room.fails(owner, "seat:invite", "Invite already pending for this seat", userId=d.id, seatIndex=3)

        await room.fails(d, "seat:invite:accept", "No pending invite found")
        await room.fails(d, "seat:invite:decline", "No pending invite found")
        await room.ok(b, "seat:invite:accept")
        for user in (owner, admin, b, c, d):
            pending = await user.peer.expect("seat:invite:pending", seatIndex=3, isPending=False)
            updated = await user.peer.expect("seat:updated", seatIndex=3, userId=b.id, isMuted=False)
            assert pending["seq"] < updated["seq"]
        await room.fails(b, "seat:invite:accept", "No pending invite found")
        assert await room.seats() == [(3, b.id, False), (5, c.id, False)]


async def test_invite_accept_unlocks_and_decline(client: Any, register: Any) -> None:
    async with crowd(client, register, 3) as room:
        owner, b, c = room.users
        await room.ok(owner, "seat:lock", seatIndex=6)
        await room.ok(owner, "seat:invite", userId=b.id, seatIndex=6)  # a locked seat may be offered
        await room.ok(b, "seat:invite:accept", seatIndex=6)
        for peer in (owner.peer, b.peer, c.peer):
            await peer.expect("seat:locked", seatIndex=6, isLocked=True)
            unlocked = await peer.expect("seat:locked", seatIndex=6, isLocked=False)
            updated = await peer.expect("seat:updated", seatIndex=6, userId=b.id)
            assert unlocked["seq"] < updated["seq"]
        snap = await room.snapshot()
        assert snap["lockedSeats"] == [] and [(s["seatIndex"], s["userId"]) for s in snap["seats"]] == [(6, b.id)]

        await room.ok(owner, "seat:invite", userId=c.id, seatIndex=7)
        await room.ok(c, "seat:invite:decline")
        for peer in (owner.peer, b.peer, c.peer):
            await peer.expect("seat:invite:pending", seatIndex=6, isPending=True)
            await peer.expect("seat:invite:pending", seatIndex=6, isPending=False)
            await peer.expect("seat:invite:pending", seatIndex=7, isPending=True, invitedUserId=c.id)
            await peer.expect("seat:invite:pending", seatIndex=7, isPending=False)
        await room.fails(c, "seat:invite:accept", "No pending invite found")

        await room.ok(owner, "seat:invite", userId=c.id, seatIndex=8)
        await room.fails(c, "seat:invite:accept", "No pending invite found", seatIndex=9)  # not that seat
        await room.ok(c, "seat:invite:accept", seatIndex=8)
        assert await room.seats() == [(6, b.id, False), (8, c.id, False)]


async def test_invite_expires(client: Any, register: Any, make_client: Any) -> None:
    app = await make_client(seat_invite_ttl_ms=1000)
    async with crowd(client, register, 3, app=app) as room:
        owner, b, c = room.users
        await room.ok(owner, "seat:invite", userId=b.id, seatIndex=2)
        await b.peer.expect("seat:invite:received", seatIndex=2, targetUserId=b.id)
        await asyncio.sleep(1.2)
        await room.fails(b, "seat:invite:accept", "No pending invite found")
        await room.ok(owner, "seat:invite", userId=c.id, seatIndex=2)  # the expired invite no longer blocks
        await room.ok(c, "seat:invite:accept")
        assert await room.seats() == [(2, c.id, False)]


async def test_reactions(client: Any, register: Any) -> None:
    async with crowd(client, register, 3) as room:
        owner, b, c = room.users
        await room.fails(b, "seat:reaction", "You are not seated", code="1f600")
        await room.ok(b, "seat:take", seatIndex=1)
        for bad in ("XYZ", "1f6", "1F600", "1f600-", "../1f600"):
            await room.fails(b, "seat:reaction", "Invalid payload", code=bad)
        await room.ok(b, "seat:reaction", code="1f600")
        for peer in (owner.peer, b.peer, c.peer):  # the sender too
            await peer.expect("seat:reaction", userId=b.id, code="1f600")
        await room.fails(b, "seat:reaction", "Too many requests", code="1f44d")
        await room.ok(c, "seat:take", seatIndex=2)
        await room.ok(c, "seat:reaction", code="1f44d-1f3fb")  # the limit is per user
        for peer in (owner.peer, b.peer, c.peer):
            await peer.expect("seat:reaction", userId=c.id, code="1f44d-1f3fb")
        await nothing_more([owner.peer, b.peer, c.peer], "seat:reaction")
