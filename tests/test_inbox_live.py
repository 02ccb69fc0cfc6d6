"""Direct messages on the socket (issue 12 §6, realtime-contract §2.3/§3) with real Socket.IO clients
on two engine processes sharing Redis: pushes reach every socket of the recipient on either process,
`dm:thread.opened` / `dm:thread.closed` rooms, `dm:typing` (1 per 2 s, never through a block), and
official messages to one user or to everyone (audited, listed, staff only)."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.appkeys import CONFIG
from engine.config import Rate
from tests.helpers import User, db, new_user
from tests.inbox_setup import call, messages, open_thread, send
from tests.social_setup import block


async def test_pushes_reach_the_recipients_sockets_on_another_process(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    sender, recipient, bystander = await new_user(a, "Sender"), await new_user(a, "Recipient"), await new_user(a, "By")
    thread = (await open_thread(a, sender, recipient))["id"]
    on_b, also_on_b, on_a = await connect(b, recipient), await connect(b, recipient), await connect(a, recipient)
    sender_on_b, other = await connect(b, sender), await connect(b, bystander)
    message = await send(a, sender, thread, "across processes")  # made on process a
    for peer in (on_b, also_on_b, on_a):
        (pushed,) = await peer.wait_for("dm.message.received")
        assert pushed == {"thread_id": thread, "message": message}
    assert (await messages(b, recipient, thread))["items"][0] == message  # the push is the stored message
    await call(a, "DELETE", sender, f"/api/v1/threads/{thread}/messages/{message['id']}")
    for peer in (on_b, also_on_b, on_a):
        (pushed,) = await peer.wait_for("dm.message.unsent")
        assert pushed == {"thread_id": thread, "message_id": message["id"]}
    await send(a, sender, thread, "again")
    await on_b.wait_for("dm.message.received", 2)
    await call(b, "POST", recipient, f"/api/v1/threads/{thread}/seen")  # on process b, told to the sender there
    (seen,) = await sender_on_b.wait_for("dm.thread.seen")
    assert seen["user_id"] == recipient.id and seen["thread_id"] == thread
    await asyncio.sleep(0.2)
    assert "dm.message.received" not in sender_on_b.events  # the sender's own sockets are not told
    assert not other.events.get("dm.message.received") and not other.events.get("dm.thread.seen")


async def test_thread_rooms_and_typing_throttled_and_never_through_a_block(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    me, peer, stranger = await new_user(a, "Me"), await new_user(a, "Peer"), await new_user(a, "Stranger")
    thread = (await open_thread(a, me, peer))["id"]
    peer_open, peer_elsewhere = await connect(b, peer), await connect(b, peer)
    mine, strangers = await connect(a, me), await connect(a, stranger)
    assert await peer_open.call("dm:thread.opened", {"threadId": thread}) == {"success": True}
    refused = await strangers.call("dm:thread.opened", {"threadId": thread})
    assert refused == {"success": False, "error": "Thread not found", "code": "NOT_FOUND"}
    assert (await strangers.call("dm:thread.opened", {"threadId": "x"}))["error"] == "Invalid payload"
    typing = {"threadId": thread, "peerUserId": peer.id}
    assert await mine.call("dm:typing", typing) == {"success": True}
    (got,) = await peer_open.wait_for("dm:typing")
    assert got == {"threadId": thread, "userId": me.id}
    throttled = await mine.call("dm:typing", typing)  # within 2 s
    assert throttled["success"] is False and throttled["error"] == "Too many requests" and throttled["retry_after"] > 0
    answer = await mine.call("dm:typing", {"threadId": thread, "peerUserId": me.id})
    assert answer["error"] == "Invalid payload" and "peerUserId" in answer["fields"]
    answer = await strangers.call("dm:typing", {"threadId": thread, "peerUserId": peer.id})
    assert answer == {"success": False, "error": "Thread not found", "code": "NOT_FOUND"}
    await asyncio.sleep(0.2)
    assert len(peer_open.events["dm:typing"]) == 1 and "dm:typing" not in peer_elsewhere.events
    # The peer types back: my socket has not opened the thread, so it hears nothing.
    assert await peer_open.call("dm:typing", {"threadId": thread, "peerUserId": me.id}) == {"success": True}
    await asyncio.sleep(0.2)
    assert "dm:typing" not in mine.events
    await asyncio.sleep(2.0)  # the bucket refills
    await block(a, peer, me)
    assert (await mine.call("dm:typing", typing))["code"] == "NOT_FOUND"
    assert (await peer_open.call("dm:thread.opened", {"threadId": thread}))["code"] == "NOT_FOUND"
    await asyncio.sleep(0.2)
    assert len(peer_open.events["dm:typing"]) == 1


async def test_a_closed_thread_hears_no_more_typing(make_client: Any, connect: Any) -> None:
    client = await make_client(dm_typing_rate_limit=Rate(100, 1))
    me, peer = await new_user(client, "Me"), await new_user(client, "Peer")
    thread = (await open_thread(client, me, peer))["id"]
    peer_socket, mine = await connect(client, peer), await connect(client, me)
    await peer_socket.call("dm:thread.opened", {"threadId": thread})
    typing = {"threadId": thread, "peerUserId": peer.id}
    await mine.call("dm:typing", typing)
    await mine.call("dm:typing", typing)  # the limit comes from DM_TYPING_RATE_LIMIT
    await peer_socket.wait_for("dm:typing", 2)
    assert await peer_socket.call("dm:thread.closed", {"threadId": thread}) == {"success": True}
    await mine.call("dm:typing", typing)
    await asyncio.sleep(0.2)
    assert len(peer_socket.events["dm:typing"]) == 2


async def _official(client: Any, staff: User, body: dict[str, Any], status: int = 201) -> Any:
    answer = await call(client, "POST", staff, "/api/v1/admin/official-messages", status, json=body)
    return answer["data"] if status == 201 else answer


async def test_official_messages_to_one_user_and_to_everyone(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()
    admin = await new_user(a, "Admin", role="admin")
    one, two, plain = await new_user(a, "One"), await new_user(a, "Two"), await new_user(a, "Plain")
    one_on_b, two_on_a, two_on_b = await connect(b, one), await connect(a, two), await connect(b, two)
    to_one = await _official(a, admin, {"user_id": one.id, "title": "Hello", "text": "Just for you"})
    assert to_one == {"id": to_one["id"], "audience": "user", "user_id": one.id, "title": "Hello",
                      "text": "Just for you", "image_url": None, "created_at": to_one["created_at"]}  # fmt: skip
    (pushed,) = await one_on_b.wait_for("official.message.received")
    assert pushed == to_one
    everyone = await _official(a, admin, {"everyone": True, "title": "News", "text": "For all",
                                          "image_url": "https://cdn.example/news.png"})  # fmt: skip
    for peer in (one_on_b, two_on_a, two_on_b):
        await peer.wait_until(lambda p=peer: everyone in p.events["official.message.received"])  # type: ignore[misc]
    assert two_on_a.events["official.message.received"] == [everyone]  # not the one to One
    listed = (await call(b, "GET", one, "/api/v1/me/official-messages"))["data"]
    assert listed == {"items": [everyone, to_one], "next_cursor": None}
    assert (await call(b, "GET", two, "/api/v1/me/official-messages"))["data"]["items"] == [everyone]
    page = (await call(b, "GET", one, "/api/v1/me/official-messages", params={"limit": "1"}))["data"]
    assert page["items"] == [everyone] and page["next_cursor"]
    rest = await call(b, "GET", one, "/api/v1/me/official-messages", params={"cursor": page["next_cursor"]})
    assert rest["data"] == {"items": [to_one], "next_cursor": None}
    async with db(a.app[CONFIG].database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM official_messages") == 2  # one row for everyone
        audit = await conn.fetch("SELECT actor_id, target_type, target_id FROM audit_log "
                                 "WHERE action = 'official_message.send' ORDER BY id")  # fmt: skip
    assert [tuple(r) for r in audit] == [(admin.id, "user", str(one.id)), (admin.id, "everyone", None)]
    sent = (await call(a, "GET", admin, "/api/v1/admin/official-messages"))["data"]["items"]
    assert [m["id"] for m in sent] == [everyone["id"], to_one["id"]] and sent[0]["sender_id"] == admin.id
    # Only staff with messages.official; bad bodies are 422; an unknown user 404.
    for user in (plain, one):
        answer = await call(a, "POST", user, "/api/v1/admin/official-messages", 403,
                            json={"everyone": True, "title": "x", "text": "y"})  # fmt: skip
        assert answer["error"]["code"] == "forbidden"
        await call(a, "GET", user, "/api/v1/admin/official-messages", 403)
    for body, field in (({"title": "t", "text": "x"}, "user_id"),
                        ({"user_id": one.id, "everyone": True, "title": "t", "text": "x"}, "everyone"),
                        ({"everyone": True, "title": "", "text": "x"}, "title"),
                        ({"everyone": True, "title": "t", "text": "x" * 2001}, "text"),
                        ({"everyone": True, "title": "t" * 121, "text": "x"}, "title")):  # fmt: skip
        answer = await _official(a, admin, body, status=422)
        assert field in answer["error"]["fields"], (body, answer)
    answer = await _official(a, admin, {"user_id": 10**12, "title": "t", "text": "x"}, status=404)
    assert answer["error"]["code"] == "not_found"
