"""Seats over real sockets: take, leave, assign, lock, shrink eviction and races.

Every event a peer receives is decoded with its typed schema and its `seq` numbers must strictly
increase (checked when a `crowd` closes). Moderation of seats (remove, mute, invites, reactions)
is in test_rooms_seats_moderation.py, which shares the helpers below.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec

from engine.messages import decode_event
from engine.rooms.messages import RoomUser
from tests.helpers import bearer, db, heard_by, join
from tests.sockets import Peer, url_of


class SeatPeer(Peer):
    """A Peer that also keeps every event in arrival order, and reads events one at a time."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.seen: dict[str, int] = defaultdict(int)
        self.floor = 0  # the seq of the join ack: every later event must be newer
        super().__init__()

    async def _record(self, event: str, data: Any = None) -> None:
        self.log.append((event, data))
        await super()._record(event, data)

    async def expect(self, name: str, **fields: Any) -> dict[str, Any]:
        """The next not yet read `name` event; checks the given fields."""
        index = self.seen[name]
        got: dict[str, Any] = (await self.wait_for(name, index + 1))[index]
        self.seen[name] = index + 1
        assert {k: got.get(k) for k in fields} == fields, (name, got)
        return got

    async def call(self, event: str, data: Any = None, timeout: float = 5) -> Any:
        ack = await super().call(event, data, timeout)
        if event == "room:join" and isinstance(ack, dict) and ack.get("success") is True:
            self.floor = max(self.floor, ack["seq"])
        return ack

    def unread(self, name: str) -> list[Any]:
        return self.events[name][self.seen[name] :]


def check_events(peer: SeatPeer) -> None:
    """Every received event matches its schema; one peer sees strictly increasing `seq`s."""
    seqs = []
    for name, data in peer.log:
        decode_event(name, data)
        if isinstance(data, dict) and "seq" in data:
            seqs.append(data["seq"])
    arrived = [(name, data.get("seq")) for name, data in peer.log if isinstance(data, dict)]
    assert all(seq > peer.floor for seq in seqs), (peer.floor, arrived)
    assert all(a < b for a, b in itertools.pairwise(seqs)), f"seq out of order: {arrived}"


async def nothing_more(peers: list[SeatPeer], *names: str) -> None:
    """Prove that no further event of these names arrives (after the ones already read)."""
    await asyncio.sleep(0.25)
    for peer in peers:
        for name in names:
            assert peer.unread(name) == [], (name, peer.unread(name))


@dataclass
class Member:
    id: int
    token: str
    own_room: int
    peer: SeatPeer


@dataclass
class Room:
    id: int
    client: Any
    url: str
    users: list[Member]
    extra_peers: list[SeatPeer] = field(default_factory=list)

    async def call(self, who: Member, event: str, **fields: Any) -> dict[str, Any]:
        ack: dict[str, Any] = await who.peer.call(event, {"roomId": str(self.id), **fields})
        return ack

    async def ok(self, who: Member, event: str, **fields: Any) -> dict[str, Any]:
        ack = await self.call(who, event, **fields)
        assert ack.get("success") is True, (event, fields, ack)
        return ack

    async def fails(self, who: Member, event: str, error: str, **fields: Any) -> dict[str, Any]:
        ack = await self.call(who, event, **fields)
        assert (ack.get("success"), ack.get("error")) == (False, error), (event, fields, ack)
        return ack

    async def snapshot(self) -> dict[str, Any]:
        """The join ack of a fresh socket (the owner's second one): the room's state as stored."""
        peer = SeatPeer()
        self.extra_peers.append(peer)
        await peer.connect(self.url, self.users[0].token)
        ack = await join(peer, str(self.id))
        await peer.close()
        return ack

    async def seats(self) -> list[tuple[int, int, bool]]:
        snap = await self.snapshot()
        return sorted((s["seatIndex"], s["userId"], s["isMuted"]) for s in snap["seats"])

    async def make_admin(self, who: Member) -> None:
        resp = await self.client.post(
            f"/api/v1/rooms/{self.id}/admins", json={"user_id": who.id}, headers=bearer(self.users[0].token)
        )
        assert resp.status == 200, await resp.text()


async def set_vip(database_url: str, user_id: int, level: int, *, app: Any) -> None:
    """Change a VIP level in SQL; returns once `app`'s hot cache has forgotten the old one."""
    async with heard_by(database_url, app), db(database_url) as conn:
        # A level in force has an expiry (sql/0025_vip.sql); level 0 has none.
        expiry = "CASE WHEN $1::smallint > 0 THEN now() + interval '30 days' END"
        sql = f"UPDATE users SET vip_level = $1::smallint, vip_expires_at = {expiry} WHERE id = $2"
        assert await conn.execute(sql, level, user_id) == "UPDATE 1"


@asynccontextmanager
async def crowd(client: Any, register: Any, count: int, *, outsiders: int = 0, app: Any = None) -> AsyncIterator[Room]:
    """`count` users in the first one's room (users[0] is the owner), then `outsiders` connected
    users who did not join. Sockets go to `app` (default: `client`)."""
    registered = await asyncio.gather(*(register(name=f"User {i}") for i in range(count + outsiders)))
    profiles = await asyncio.gather(
        *(client.get("/api/user", headers=bearer(r["token"])) for r in registered)
    )  # fmt: skip
    users = []
    for reg, resp in zip(registered, profiles, strict=True):
        me = await resp.json()
        users.append(Member(int(me["id"]), reg["token"], int(me["room"]["id"]), SeatPeer()))
    room = Room(users[0].own_room, client, url_of(app or client), users)
    try:
        for i, user in enumerate(users):
            await user.peer.connect(room.url, user.token)
            if i < count:
                await join(user.peer, str(room.id))
        yield room
        for peer in [u.peer for u in users] + room.extra_peers:
            check_events(peer)
    finally:
        for user in users:
            await user.peer.close()
        for peer in room.extra_peers:
            await peer.close()


async def test_take_checks_bounds_lock_and_occupant_and_moves(client: Any, register: Any) -> None:
    async with crowd(client, register, 3) as room:
        owner, b, c = room.users
        for index in (15, 99):  # the room has the default 15 seats (0..14)
            await room.fails(b, "seat:take", "Invalid seat index", seatIndex=index)
        await room.fails(b, "seat:take", "Invalid payload", seatIndex=-1)
        await room.ok(owner, "seat:lock", seatIndex=4)
        await room.fails(b, "seat:take", "Seat is locked", seatIndex=4)

        await room.ok(b, "seat:take", seatIndex=1)
        for peer in (owner.peer, c.peer):
            await peer.expect("seat:updated", seatIndex=1, userId=b.id, isMuted=False)
        taken = await room.fails(c, "seat:take", "Seat is already taken", seatIndex=1)
        occupant = taken["occupant"]
        assert (occupant["seatIndex"], occupant["userId"], occupant["isMuted"]) == (1, b.id, False)
        user = msgspec.convert(occupant["user"], RoomUser)
        assert (user.id, user.name) == (b.id, "User 1")

        await room.ok(b, "seat:take", seatIndex=3)  # a new seat moves the user
        for peer in (owner.peer, c.peer):
            cleared = await peer.expect("seat:cleared", seatIndex=1, userId=b.id)
            updated = await peer.expect("seat:updated", seatIndex=3, userId=b.id, isMuted=False)
            assert cleared.get("reason") is None and cleared["seq"] < updated["seq"]
        await nothing_more([b.peer], "seat:updated", "seat:cleared")  # take and move: all but the taker
        again = await room.fails(b, "seat:take", "Seat is already taken", seatIndex=3)  # even one's own seat
        assert again["occupant"]["userId"] == b.id

        snap = await room.snapshot()
        assert [(s["seatIndex"], s["userId"]) for s in snap["seats"]] == [(3, b.id)]
        assert snap["lockedSeats"] == [4]


async def test_seat_leave(client: Any, register: Any) -> None:
    async with crowd(client, register, 2) as room:
        owner, b = room.users
        await room.fails(b, "seat:leave", "You are not seated")
        await room.ok(b, "seat:take", seatIndex=2)
        await owner.peer.expect("seat:updated", seatIndex=2, userId=b.id)
        await room.ok(b, "seat:leave")
        await owner.peer.expect("seat:cleared", seatIndex=2, userId=b.id)
        await nothing_more([b.peer], "seat:cleared")
        await room.fails(b, "seat:leave", "You are not seated")
        assert await room.seats() == []


async def test_seat_actions_outside_the_room_are_refused(client: Any, register: Any) -> None:
    async with crowd(client, register, 1, outsiders=1) as room:
        owner, stranger = room.users
        await room.ok(owner, "seat:take", seatIndex=0)
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("seat:take", {"seatIndex": 1}), ("seat:leave", {}), ("seat:assign", {"userId": owner.id, "seatIndex": 1}),
            ("seat:remove", {"userId": owner.id}), ("seat:mute", {"userId": owner.id}),
            ("seat:unmute", {"userId": owner.id}), ("seat:lock", {"seatIndex": 1}), ("seat:unlock", {"seatIndex": 1}),
            ("seat:invite", {"userId": owner.id, "seatIndex": 1}), ("seat:invite:accept", {}),
            ("seat:invite:decline", {}), ("seat:reaction", {"code": "1f600"}),
        ]  # fmt: skip
        for event, fields in attempts:
            await room.fails(stranger, event, "Not in room", **fields)
        await join(stranger.peer, str(stranger.own_room))  # in a room, but not this one
        await room.fails(stranger, "seat:take", "Not in room", seatIndex=1)
        await room.fails(stranger, "seat:lock", "Not in room", seatIndex=1)
        snap = await room.snapshot()
        assert [(s["seatIndex"], s["userId"], s["isMuted"]) for s in snap["seats"]] == [(0, owner.id, False)]
        assert snap["lockedSeats"] == []


async def test_assign_is_for_the_owner_and_displaces_the_occupant(client: Any, register: Any) -> None:
    async with crowd(client, register, 4, outsiders=1) as room:
        owner, admin, b, c, outsider = room.users
        await room.make_admin(admin)
        await room.fails(admin, "seat:assign", "Not authorized", userId=b.id, seatIndex=2)
        await room.fails(b, "seat:assign", "Not authorized", userId=b.id, seatIndex=2)
        await room.fails(owner, "seat:assign", "User is not in room", userId=outsider.id, seatIndex=2)
        await room.fails(owner, "seat:assign", "Invalid seat index", userId=b.id, seatIndex=15)
        await room.ok(owner, "seat:lock", seatIndex=5)
        await room.fails(owner, "seat:assign", "Seat is locked", userId=b.id, seatIndex=5)

        await room.ok(c, "seat:take", seatIndex=2)
        for peer in (owner.peer, admin.peer, b.peer):
            await peer.expect("seat:updated", seatIndex=2, userId=c.id)
        await room.ok(owner, "seat:assign", userId=b.id, seatIndex=2)
        for peer in (owner.peer, admin.peer, b.peer, c.peer):  # assign reaches the actor too
            await peer.expect("seat:updated", seatIndex=2, userId=b.id, isMuted=False)
        assert await room.seats() == [(2, b.id, False)]
        await room.fails(c, "seat:leave", "You are not seated")

        await room.ok(owner, "seat:assign", userId=b.id, seatIndex=6)  # moves the assignee
        for peer in (owner.peer, admin.peer, b.peer):
            cleared = await peer.expect("seat:cleared", seatIndex=2, userId=b.id)
            updated = await peer.expect("seat:updated", seatIndex=6, userId=b.id)
            assert cleared["seq"] < updated["seq"]
        assert await room.seats() == [(6, b.id, False)]


async def test_lock_and_unlock(client: Any, register: Any) -> None:
    async with crowd(client, register, 5) as room:
        owner, admin, admin2, b, c = room.users
        await room.make_admin(admin)
        await room.make_admin(admin2)
        await room.fails(b, "seat:lock", "Not authorized", seatIndex=3)
        await room.ok(admin, "seat:lock", seatIndex=3)
        for peer in (owner.peer, admin.peer, b.peer, c.peer):  # lock events reach the actor too
            await peer.expect("seat:locked", seatIndex=3, isLocked=True)
        await room.fails(owner, "seat:lock", "Seat is already locked", seatIndex=3)
        await room.fails(b, "seat:take", "Seat is locked", seatIndex=3)
        await room.fails(b, "seat:unlock", "Not authorized", seatIndex=3)
        await room.ok(owner, "seat:unlock", seatIndex=3)
        for peer in (owner.peer, admin.peer, b.peer, c.peer):
            await peer.expect("seat:locked", seatIndex=3, isLocked=False)
        await room.fails(admin, "seat:unlock", "Seat is not locked", seatIndex=3)
        for event in ("seat:lock", "seat:unlock"):
            await room.fails(owner, event, "Invalid seat index", seatIndex=15)

        await room.ok(b, "seat:take", seatIndex=8)  # locking an occupied seat removes its occupant
        await room.ok(admin, "seat:lock", seatIndex=8)
        for peer in (admin.peer, b.peer, c.peer):
            cleared = await peer.expect("seat:cleared", seatIndex=8, userId=b.id)
            locked = await peer.expect("seat:locked", seatIndex=8, isLocked=True)
            assert cleared["seq"] < locked["seq"]
        await room.fails(b, "seat:leave", "You are not seated")

        # An admin may lock a seat held by a member or themself, not by the owner or another admin.
        await room.ok(owner, "seat:take", seatIndex=9)
        await room.fails(admin, "seat:lock", "Not authorized", seatIndex=9)
        await room.ok(admin2, "seat:take", seatIndex=10)
        await room.fails(admin, "seat:lock", "Not authorized", seatIndex=10)
        await room.ok(admin, "seat:take", seatIndex=11)
        await room.ok(admin, "seat:lock", seatIndex=11)
        await room.ok(c, "seat:take", seatIndex=12)
        await room.ok(owner, "seat:lock", seatIndex=12)
        snap = await room.snapshot()
        assert sorted((s["seatIndex"], s["userId"]) for s in snap["seats"]) == [(9, owner.id), (10, admin2.id)]
        assert snap["lockedSeats"] == [8, 11, 12]


async def test_lowering_the_seat_count_evicts_higher_seats(client: Any, register: Any) -> None:
    async with crowd(client, register, 3) as room:
        owner, b, c = room.users
        await room.ok(b, "seat:take", seatIndex=5)
        await room.ok(c, "seat:take", seatIndex=1)
        refused = await client.patch(f"/api/v1/rooms/{room.id}", json={"seat_count": 3}, headers=bearer(b.token))
        assert refused.status == 403
        resp = await client.patch(f"/api/v1/rooms/{room.id}", json={"seat_count": 3}, headers=bearer(owner.token))
        assert resp.status == 200, await resp.text()
        for peer in (owner.peer, b.peer, c.peer):
            await peer.expect("seat:cleared", seatIndex=5, userId=b.id, reason="shrink")
        await b.peer.expect("seat:evicted", roomId=str(room.id), seatIndex=5, newSeatCount=3)
        await nothing_more([owner.peer, c.peer], "seat:evicted")

        await room.fails(b, "seat:take", "Invalid seat index", seatIndex=4)
        await room.fails(b, "seat:take", "Invalid seat index", seatIndex=3)
        await room.ok(b, "seat:take", seatIndex=2)
        snap = await room.snapshot()
        assert snap["room"]["seatCount"] == 3
        assert sorted((s["seatIndex"], s["userId"]) for s in snap["seats"]) == [(1, c.id), (2, b.id)]


async def test_twelve_clients_race_for_one_seat(client: Any, register: Any) -> None:
    async with crowd(client, register, 12) as room:
        acks = await asyncio.gather(*(room.call(u, "seat:take", seatIndex=7) for u in room.users))
        winners = [u for u, ack in zip(room.users, acks, strict=True) if ack["success"] is True]
        assert len(winners) == 1, acks
        winner = winners[0]
        losers = [ack for ack in acks if ack["success"] is not True]
        assert {ack["error"] for ack in losers} == {"Seat is already taken"}
        assert {ack["occupant"]["userId"] for ack in losers} == {winner.id}
        assert await room.seats() == [(7, winner.id, False)]
        for user in room.users:
            if user is not winner:
                await user.peer.expect("seat:updated", seatIndex=7, userId=winner.id)
        await nothing_more([u.peer for u in room.users], "seat:updated")


async def test_one_user_racing_five_seats_holds_one(client: Any, register: Any) -> None:
    async with crowd(client, register, 2) as room:
        owner, b = room.users
        acks = await asyncio.gather(*(room.call(b, "seat:take", seatIndex=i) for i in range(5)))
        assert all(ack["success"] is True for ack in acks), acks  # each index is requested once
        seats = await room.seats()
        assert len(seats) == 1 and seats[0][1] == b.id and seats[0][0] in range(5), seats
        updates = await owner.peer.wait_for("seat:updated", 5)
        clears = await owner.peer.wait_for("seat:cleared", 4)
        last = max(updates, key=lambda e: e["seq"])
        assert last["seatIndex"] == seats[0][0]
        assert sorted(e["seatIndex"] for e in clears) == sorted(set(range(5)) - {seats[0][0]})
