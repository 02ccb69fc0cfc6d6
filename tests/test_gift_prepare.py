"""gift:prepare reaches only a recipient in the room, and is refused as gift:send refuses otherwise."""

from __future__ import annotations

from typing import Any

from tests.helpers import me, register_user
from tests.sockets import Peer, url_of
from tests.test_gifts_basic import gift_room

NOT_IN_ROOM = {"success": False, "error": "Recipient is not seated", "code": "RECIPIENT_NOT_SEATED"}


async def test_prepare_for_someone_outside_the_room_is_refused(client: Any, config: Any) -> None:
    async with gift_room(client, config, coins=1, key="prepare-grant") as r:
        outsider = await register_user(client)
        outsider_id = int((await me(client, outsider["token"]))["id"])
        peer = await Peer().connect(url_of(client), outsider["token"])
        try:
            prepare = {"roomId": r.room_id, "giftId": 900, "recipientId": outsider_id}
            assert await r.a.call("gift:prepare", prepare) == NOT_IN_ROOM
            send = await r.a.call("gift:send", {**prepare, "idempotencyKey": "prepare-send-1"})
            assert {k: send.get(k) for k in NOT_IN_ROOM} == NOT_IN_ROOM  # the same refusal as gift:send's

            # Once in the room (seated or not) the recipient may be prepared for. Events to one socket
            # arrive in order, so the first gift:prepare it sees proves the refused one was never sent.
            assert (await peer.call("room:join", {"roomId": r.room_id}))["success"] is True
            assert await r.a.call("gift:prepare", {**prepare, "giftId": 901}) == {"success": True}
            assert (await peer.wait_for("gift:prepare"))[0] == {"giftId": 901, "recipientId": outsider_id}

            assert (await peer.call("room:leave", {"roomId": r.room_id}))["success"] is True
            assert await r.a.call("gift:prepare", {**prepare, "giftId": 902}) == NOT_IN_ROOM
            assert await r.a.call("gift:prepare", {**prepare, "giftId": 903, "recipientId": r.host_id}) == {
                "success": True
            }
            assert (await r.b.wait_for("gift:prepare"))[0]["giftId"] == 903
            assert [e["giftId"] for e in peer.events["gift:prepare"]] == [901]
        finally:
            await peer.close()
