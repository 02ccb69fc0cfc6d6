"""Rooms over real sockets: join snapshot, seats, chat, leave."""

from __future__ import annotations

from typing import Any

from engine.messages import decode_event
from tests.helpers import join, new_user
from tests.sockets import Peer, url_of


async def test_two_users_join_take_seat_chat_leave(client: Any) -> None:
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    room_id = owner.room
    a, b = await Peer().connect(url_of(client), owner.token), await Peer().connect(url_of(client), guest.token)
    try:
        ack = await join(a, str(room_id))
        assert ack["success"] is True and ack["seats"] == [] and ack["participants"] == []
        ack_b = await join(b, room_id)
        assert ack_b["success"] and [p["name"] for p in ack_b["participants"]] == ["Owner"]
        joined = await a.wait_for("room:userJoined")
        assert joined[0]["user"]["name"] == "Guest" and joined[0]["seq"] > ack["seq"]

        assert (await b.call("seat:take", {"roomId": room_id, "seatIndex": 2}))["success"] is True
        update = (await a.wait_for("seat:updated"))[0]
        assert (update["seatIndex"], update["isMuted"]) == (2, False)
        taken = await a.call("seat:take", {"roomId": room_id, "seatIndex": 2})
        assert taken["success"] is False and taken["error"] == "Seat is already taken"
        assert taken["occupant"]["user"]["name"] == "Guest"

        assert (await a.call("chat:message", {"roomId": room_id, "content": "hello"}))["success"]
        for peer in (a, b):
            message = (await peer.wait_for("chat:message"))[0]
            assert message["content"] == "hello" and message["userName"] == "Owner"

        assert (await b.call("room:leave", {"roomId": room_id}))["success"]
        cleared = (await a.wait_for("seat:cleared"))[0]
        assert cleared["seatIndex"] == 2
        left = (await a.wait_for("room:userLeft"))[0]
        assert left["userId"] == joined[0]["userId"] == joined[0]["user"]["id"]

        c = await Peer().connect(url_of(client), guest.token)
        try:
            again = await join(c, room_id)
            assert [m["content"] for m in again["recentMessages"]] == ["hello"]
        finally:
            await c.close()
        for peer in (a, b):  # everything the server sent matches its typed schema
            for name, payloads in peer.events.items():
                for payload in payloads:
                    decode_event(name, payload)
    finally:
        await a.close()
        await b.close()


def test_a_participant_is_its_stored_profile_with_is_speaker_added() -> None:
    import msgspec

    from engine.rooms.membership import participant

    stored = msgspec.json.encode({"id": 7, "name": 'Ünïcode "quoted" }', "vip_level": 2}).decode()
    joined = msgspec.json.decode(msgspec.json.encode([participant(stored, True), participant("{}", False)]))
    assert joined == [{"id": 7, "name": 'Ünïcode "quoted" }', "vip_level": 2, "isSpeaker": True}, {"isSpeaker": False}]
