"""The room:join snapshot tells each participant's `isSpeaker` (realtime-contract §1, §5 Join)."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.rooms.messages import Participant
from tests.helpers import join
from tests.test_rooms_seats import crowd


def speakers(ack: dict[str, Any]) -> dict[int, bool]:
    participants = msgspec.convert(ack["participants"], list[Participant])
    return {p.id: p.isSpeaker for p in participants}


async def test_a_later_joiner_sees_who_holds_a_seat(client: Any, register: Any) -> None:
    async with crowd(client, register, 2, outsiders=2) as room:
        owner, guest, late, later = room.users
        await room.ok(owner, "seat:take", seatIndex=1)

        ack = await join(late.peer, room.id)
        assert speakers(ack) == {owner.id: True, guest.id: False}
        assert [(s["seatIndex"], s["userId"]) for s in ack["seats"]] == [(1, owner.id)]

        await room.ok(owner, "seat:leave")
        await room.ok(guest, "seat:take", seatIndex=3)
        assert speakers(await join(later.peer, room.id)) == {owner.id: False, guest.id: True, late.id: False}
