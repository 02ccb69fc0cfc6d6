"""The prologue every room-scoped socket event shares, and the table form of a domain's events.

A domain lists its events as rows of (event, payload type, action, who may). For a payload with a
`roomId`, the prologue resolves the room, answers "Not in room" for a socket that is not in it and,
where the row names who may, reads the actor's (and the payload's `userId`'s) standing in the room
in one query and refuses the actor below it. The action then receives a `RoomCall` holding all that.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal, TypeVar

import msgspec

from engine.realtime.acks import Ack, refusal
from engine.realtime.events import socket_event
from engine.rooms.live import LiveRooms
from engine.rooms.model import ERRORS, Rank, in_room
from engine.rooms.roles import ranks_and_vip

P = TypeVar("P", bound=msgspec.Struct)
refuse = partial(refusal, ERRORS)  # refuse("SEAT_TAKEN", occupant=…): the rooms' failure acks
NOT_IN_ROOM = refuse("NOT_IN_ROOM")
NOT_AUTHORIZED = refuse("NOT_AUTHORIZED")


async def muted_refusal(rooms: LiveRooms, user_id: int) -> Ack | None:
    """The MUTED ack (with `mutedUntil`, epoch ms) for a user under a platform mute, else None: such a
    user may not chat or speak on a seat in any room (engine/rooms/moderation.py: do_platform_mute)."""
    until = await rooms.cache.muted_until(user_id, time.time())
    return None if until is None else refuse("MUTED", mutedUntil=int(until * 1000))


@dataclass(frozen=True, slots=True)
class Standing:
    """The actor's rank in the room, and the target's rank and VIP level (the actor's own when the
    payload names no `userId`)."""

    actor: Rank
    target: Rank
    target_vip: int


@dataclass(frozen=True, slots=True)
class RoomCall:
    sid: str
    session: dict[str, Any]
    user_id: int
    room_id: int  # 0 for events that need no room
    standing: Standing | None  # read only for rows that name who may


Action = Callable[[LiveRooms, RoomCall, P], Awaitable[Ack]]


@dataclass(frozen=True, slots=True)
class RoomEvent(Generic[P]):
    """One row of a domain's event table."""

    name: str
    payload: type[P]
    action: Action[P]
    who_may: Rank | None = None  # the least rank the actor needs in the room; None: anyone in it
    # False for the events that deal with not being in the room themselves (joining it, leaving it).
    needs_room: bool = True


def register(
    rooms: LiveRooms,
    table: list[RoomEvent[Any]],
    *,
    bucket: Literal["socket", "media"] = "socket",
    not_in_room: Ack = NOT_IN_ROOM,
) -> None:
    """Register every row of `table` on the socket server, behind the room prologue."""
    for row in table:
        _register(rooms, row, bucket, not_in_room)


def _register(rooms: LiveRooms, row: RoomEvent[P], bucket: Literal["socket", "media"], not_in_room: Ack) -> None:
    scoped = row.needs_room and any(f.name == "roomId" for f in msgspec.structs.fields(row.payload))
    targeted = any(f.name == "userId" for f in msgspec.structs.fields(row.payload))

    @socket_event(rooms.rt, row.name, row.payload, bucket)
    async def prologue(_rt: Any, sid: str, session: dict[str, Any], p: P) -> Ack:
        user_id = int(session["user_id"])
        room_id = in_room(session, p.roomId) if scoped else 0  # type: ignore[attr-defined]
        if room_id is None:
            return not_in_room
        standing = None
        if row.who_may is not None:
            target = int(p.userId) if targeted else user_id  # type: ignore[attr-defined]
            (actor_rank, target_rank), vip = await ranks_and_vip(rooms.cache, room_id, user_id, target)
            if actor_rank < row.who_may:
                return NOT_AUTHORIZED
            standing = Standing(actor_rank, target_rank, vip)
        return await row.action(rooms, RoomCall(sid, session, user_id, room_id, standing), p)
