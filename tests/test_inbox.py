"""Direct messages (issue 12 §6) through the real REST API on real PostgreSQL/Redis: one thread per
pair, message requests by the peer's privacy × the relationship, sends idempotent by client_id,
validation, 404 for threads that are not mine or behind a block, the inbox sorted by activity with
unread counts, pages stable while rows arrive, unsend within 5 minutes, seen, `dm` notifications,
the rate limits, and messages surviving a restart."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.appkeys import CONFIG
from engine.config import Rate
from tests.helpers import User, bearer, db, new_user
from tests.inbox_setup import call, messages, open_thread, send, threads
from tests.social_setup import block, follow, relate, set_privacy


async def test_one_thread_per_pair_however_many_open_it_at_once(client: Any) -> None:
    a, b = await new_user(client, "A"), await new_user(client, "B")
    opened = await asyncio.gather(*(open_thread(client, *((a, b) if n % 2 else (b, a))) for n in range(10)))
    assert len({t["id"] for t in opened}) == 1
    mine = next(t for t in opened if t["peer"]["id"] == b.id)
    assert mine["status"] == "open" and mine["requester_id"] in (a.id, b.id) and mine["last_message"] is None
    assert mine["peer"] == {"id": b.id, "name": "B", "signature": mine["peer"]["signature"], "avatar_image": None}
    async with db(client.app[CONFIG].database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM dm_threads") == 1
        assert await conn.fetchval("SELECT count(*) FROM dm_thread_members") == 2
    error = (await open_thread(client, a, a, status=422))["error"]
    assert "peer_id" in error["fields"]
    assert (await open_thread(client, a, 10**12, status=404))["error"]["code"] == "not_found"
    for body in ({}, {"peer_id": 0}, {"peer_id": "x"}, {"peer_id": 1, "extra": 1}):
        answer = await call(client, "POST", a, "/api/v1/threads", 422, json=body)
        assert answer["error"]["code"] == "validation_failed", body


# Which relations each `messages` setting lets open a thread straight away (the others: a request).
OPENS = {"everyone": {"stranger", "follower", "friend"}, "followers": {"follower", "friend"}, "friends": {"friend"}}


async def test_request_or_open_by_privacy_and_relationship(client: Any) -> None:
    for setting, opens in OPENS.items():
        target = await new_user(client, f"Target {setting}")
        await set_privacy(client, target, messages=setting)
        for relation in ("stranger", "follower", "friend", "blocked", "blocker"):
            viewer = await relate(client, await new_user(client, relation), target, relation)
            if relation in ("blocked", "blocker"):
                answer = await open_thread(client, viewer, target, status=404)
                assert answer["error"]["code"] == "not_found", (setting, relation)
                continue
            thread = await open_thread(client, viewer, target)
            expected = "open" if relation in opens else "request"
            assert thread["status"] == expected and thread["requester_id"] == viewer.id, (setting, relation, thread)
            assert (thread["accepted_at"] is not None) == (expected == "open")
    # "followers" means people who follow me: being followed by the target is not enough.
    picky, fan_of_nobody = await new_user(client, "Picky"), await new_user(client, "Followed")
    await set_privacy(client, picky, messages="followers")
    await follow(client, picky, fan_of_nobody)
    assert (await open_thread(client, fan_of_nobody, picky))["status"] == "request"


async def test_a_request_allows_one_message_until_the_recipient_accepts(client: Any, connect: Any) -> None:
    shy, stranger = await new_user(client, "Shy"), await new_user(client, "Stranger")
    await set_privacy(client, shy, messages="friends")
    shy_socket, stranger_socket = await connect(client, shy), await connect(client, stranger)
    thread = await open_thread(client, stranger, shy)
    assert thread["status"] == "request"
    (pushed,) = await shy_socket.wait_for("dm.thread.request")
    assert pushed["thread"]["id"] == thread["id"] and pushed["thread"]["peer"]["id"] == stranger.id
    assert pushed["thread"]["status"] == "request"
    first = await send(client, stranger, thread["id"], "Hello there", client_id="first")
    again = await send(client, stranger, thread["id"], "Hello there", client_id="first")  # a retry
    assert again == first
    error = (await send(client, stranger, thread["id"], "Anyone?", status=403))["error"]
    assert error["code"] == "thread_request_pending"
    error = (await send(client, shy, thread["id"], "Who are you?", status=403))["error"]
    assert error["code"] == "thread_request_pending"  # the recipient replies after accepting
    answer = await call(client, "POST", stranger, f"/api/v1/threads/{thread['id']}/accept", 403)
    assert answer["error"]["code"] == "forbidden"  # a requester cannot accept their own request
    listed = (await threads(client, shy, status="request"))["items"]
    assert [t["id"] for t in listed] == [thread["id"]] and listed[0]["last_message"]["text"] == "Hello there"
    assert (await threads(client, shy, status="open"))["items"] == []
    accepted = (await call(client, "POST", shy, f"/api/v1/threads/{thread['id']}/accept"))["data"]
    assert accepted["status"] == "open" and accepted["accepted_at"] is not None
    (told,) = await stranger_socket.wait_for("dm.thread.accepted")
    assert told == {"thread_id": thread["id"], "user_id": shy.id}
    assert (await call(client, "POST", shy, f"/api/v1/threads/{thread['id']}/accept"))["data"]["status"] == "open"
    await send(client, shy, thread["id"], "Hi!")
    await send(client, stranger, thread["id"], "Second message")
    assert len(stranger_socket.events["dm.thread.accepted"]) == 1  # accepting again tells nothing
    # The request was stored as a dm notification for its recipient.
    notes = (await call(client, "GET", shy, "/api/v1/me/notifications"))["data"]["items"]
    assert any(n["kind"] == "dm" and n["data"].get("request") and n["actor"]["id"] == stranger.id for n in notes)


async def test_sends_are_idempotent_by_client_id_and_validated(client: Any, connect: Any) -> None:
    a, b = await new_user(client, "A"), await new_user(client, "B")
    thread = (await open_thread(client, a, b))["id"]
    b_socket = await connect(client, b)
    same = await asyncio.gather(*(send(client, a, thread, "once", client_id="k-1") for _ in range(6)))
    assert len({m["id"] for m in same}) == 1
    message = same[0]
    assert message == {"id": message["id"], "thread_id": thread, "sender_id": a.id, "client_id": "k-1",
                       "text": "once", "image_url": None, "created_at": message["created_at"],
                       "unsent": False}  # fmt: skip
    # The same client_id from the other participant is theirs: a different message.
    assert (await send(client, b, thread, "mine", client_id="k-1"))["id"] != message["id"]
    image = await send(client, a, thread, None, image_url="https://cdn.example/p.jpg")
    assert image["text"] is None and image["image_url"] == "https://cdn.example/p.jpg"
    await send(client, a, thread, "x" * 2000)
    await b_socket.wait_for("dm.message.received", 3)
    await asyncio.sleep(0.2)
    assert b_socket.events["dm.message.received"][0]["message"] == message
    assert len(b_socket.events["dm.message.received"]) == 3  # the retries were pushed once
    for body, field in (({"client_id": "c", "text": "x" * 2001}, "text"), ({"client_id": "c"}, "text"),
                        ({"client_id": "c", "text": "   "}, "text"), ({"text": "hi"}, "client_id"),
                        ({"client_id": "c" * 65, "text": "hi"}, "client_id"),
                        ({"client_id": "bad id", "text": "hi"}, "client_id"),
                        ({"client_id": "c", "image_url": "http://insecure/p.jpg"}, "image_url"),
                        ({"client_id": "c", "image_url": "https://x/" + "p" * 2048}, "image_url"),
                        ({"client_id": "c", "text": 5}, "text")):  # fmt: skip
        answer = await call(client, "POST", a, f"/api/v1/threads/{thread}/messages", 422, json=body)
        assert answer["error"]["code"] == "validation_failed" and field in answer["error"]["fields"], (body, answer)
    for params, field in (({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"before": "x"}, "before"),
                          ({"before": "5", "after": "3"}, "before")):  # fmt: skip
        answer = await messages(client, a, thread, 422, **params)
        assert field in answer["error"]["fields"], (params, answer)


async def test_unread_counts_stay_exact_under_concurrent_sends_seen_and_unsends(client: Any) -> None:
    a, b = await new_user(client, "A"), await new_user(client, "B")
    thread = (await open_thread(client, a, b))["id"]
    sent = await asyncio.gather(*(send(client, a, thread, f"m{n}") for n in range(20)),
                                *(send(client, b, thread, f"r{n}") for n in range(5)))  # fmt: skip
    mine = [m for m in sent if m["sender_id"] == a.id]
    unsends = [call(client, "DELETE", a, f"/api/v1/threads/{thread}/messages/{m['id']}") for m in mine[:4]]
    await asyncio.gather(*unsends, *(send(client, a, thread, f"more {n}") for n in range(3)))
    listed = (await threads(client, b))["items"][0]
    async with db(client.app[CONFIG].database_url) as conn:
        unread = await conn.fetchval(
            """SELECT count(*) FROM dm_messages WHERE thread_id = $1 AND sender_id = $2 AND unsent_at IS NULL
               AND id > $3""", thread, a.id, listed["last_read_message_id"])  # fmt: skip
        last = await conn.fetchval("SELECT max(id) FROM dm_messages WHERE thread_id = $1", thread)
    assert listed["unread_count"] == unread and listed["last_message"]["id"] == last
    seen = (await call(client, "POST", b, f"/api/v1/threads/{thread}/seen"))["data"]
    assert seen == {"thread_id": thread, "last_read_message_id": last, "unread_count": 0}


async def test_threads_that_are_not_mine_or_behind_a_block_are_404(client: Any) -> None:
    a, b, c = await new_user(client, "A"), await new_user(client, "B"), await new_user(client, "C")
    thread = (await open_thread(client, a, b))["id"]
    mid = (await send(client, a, thread, "hello"))["id"]

    async def all_404(user: User, thread_id: int) -> None:
        for method, path, body in (("GET", f"/api/v1/threads/{thread_id}", None),
                                   ("GET", f"/api/v1/threads/{thread_id}/messages", None),
                                   ("POST", f"/api/v1/threads/{thread_id}/messages", {"client_id": "z", "text": "x"}),
                                   ("POST", f"/api/v1/threads/{thread_id}/seen", {}),
                                   ("POST", f"/api/v1/threads/{thread_id}/accept", None),
                                   ("DELETE", f"/api/v1/threads/{thread_id}/messages/{mid}", None)):  # fmt: skip
            answer = await call(client, method, user, path, 404, **({"json": body} if body is not None else {}))
            assert answer["error"]["code"] == "not_found", (method, path)

    await all_404(c, thread)
    await all_404(a, 10**12)
    await all_404(a, "nope")  # type: ignore[arg-type]
    await block(client, b, a)
    for user in (a, b):  # both ways
        await all_404(user, thread)
        assert (await threads(client, user))["items"] == []
    assert (await open_thread(client, a, b, status=404))["error"]["code"] == "not_found"
    resp = await client.delete(f"/api/v1/users/{a.id}/block", headers=bearer(b.token))
    assert resp.status == 200
    assert (await open_thread(client, a, b))["id"] == thread  # the thread comes back with the unblock
    assert [m["id"] for m in (await messages(client, b, thread))["items"]] == [mid]
    resp = await client.get("/api/v1/me/threads")
    assert resp.status == 401


async def test_the_inbox_is_sorted_by_activity_with_last_message_and_unread_count(client: Any) -> None:
    me = await new_user(client, "Me")
    peers = [await new_user(client, f"Peer {n}") for n in range(3)]
    ids = [(await open_thread(client, peer, me))["id"] for peer in peers]
    await send(client, peers[0], ids[0], "one")
    await send(client, peers[0], ids[0], "two")
    await send(client, peers[2], ids[2], "three")
    await send(client, me, ids[1], "mine")  # my own message moves the thread up too, and is not unread
    listed = (await threads(client, me))["items"]
    assert [t["id"] for t in listed] == [ids[1], ids[2], ids[0]]
    assert [t["unread_count"] for t in listed] == [0, 1, 2]
    assert [t["last_message"]["text"] for t in listed] == ["mine", "three", "two"]
    assert (await threads(client, peers[1]))["items"][0]["unread_count"] == 1
    await send(client, peers[0], ids[0], "again")
    listed = (await threads(client, me))["items"]
    assert [t["id"] for t in listed] == [ids[0], ids[1], ids[2]] and listed[0]["unread_count"] == 3
    reply = await send(client, me, ids[0], "a reply reads what came before it")
    listed = (await threads(client, me))["items"]
    assert listed[0]["unread_count"] == 0 and listed[0]["last_read_message_id"] == reply["id"]
    assert (await threads(client, peers[0]))["items"][0]["unread_count"] == 1


async def test_thread_pages_stay_stable_while_threads_and_messages_arrive(client: Any) -> None:
    me = await new_user(client, "Me")
    peers = [await new_user(client, f"Peer {n}") for n in range(7)]
    late = [await new_user(client, f"Late {n}") for n in range(8)]
    ids = [(await open_thread(client, peer, me))["id"] for peer in peers]
    seen: list[int] = []
    cursor = None
    for page_number in range(20):
        page = await threads(client, me, limit="2", **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 2
        seen += [t["id"] for t in page["items"]]
        # New threads arrive between the pages, two at a time, concurrently.
        await asyncio.gather(*(open_thread(client, peer, me) for peer in late[2 * page_number : 2 * page_number + 2]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # nothing twice, nothing skipped, newest first
    assert len((await threads(client, me, limit="100"))["items"]) == len(peers) + len(late)
    error = (await call(client, "GET", me, "/api/v1/me/threads", 422, params={"cursor": "nope"}))["error"]
    assert "cursor" in error["fields"]
    # Messages: pages back with `before` while messages arrive concurrently, then catch up with `after`.
    thread = ids[0]
    sent = [(await send(client, peers[0], thread, f"m{n}"))["id"] for n in range(12)]
    read: list[int] = []
    before: int | None = None
    for n in range(10):
        page = await messages(client, me, thread, limit="5", **({"before": str(before)} if before else {}))
        read += [m["id"] for m in page["items"]]
        await asyncio.gather(*(send(client, peers[0], thread, f"late {n} {k}") for k in range(2)))
        if not page["has_more"]:
            break
        before = page["items"][-1]["id"]
    assert read == list(reversed(sent))
    caught: list[int] = []
    after = sent[-1]
    while True:
        page = await messages(client, me, thread, limit="3", after=str(after))
        caught += [m["id"] for m in page["items"]]
        if not page["has_more"]:
            break
        after = page["items"][-1]["id"]
    assert len(caught) == 2 * (len(sent) // 5 + 1) and caught == sorted(caught) and caught[0] > sent[-1]


async def test_unsend_within_five_minutes_leaves_a_tombstone(client: Any, connect: Any) -> None:
    a, b = await new_user(client, "A"), await new_user(client, "B")
    thread = (await open_thread(client, a, b))["id"]
    b_socket = await connect(client, b)
    keep = await send(client, a, thread, "keep")
    oops = await send(client, a, thread, "oops", image_url="https://cdn.example/oops.jpg")
    assert (await threads(client, b))["items"][0]["unread_count"] == 2
    path = f"/api/v1/threads/{thread}/messages/{oops['id']}"
    assert (await call(client, "DELETE", b, path, 403))["error"]["code"] == "forbidden"  # not b's message
    gone = (await call(client, "DELETE", a, path))["data"]
    assert gone == {**oops, "text": None, "image_url": None, "unsent": True}
    assert (await call(client, "DELETE", a, path))["data"] == gone  # idempotent
    (pushed,) = await b_socket.wait_for("dm.message.unsent")
    assert pushed == {"thread_id": thread, "message_id": oops["id"]}
    listed = (await threads(client, b))["items"][0]
    assert listed["unread_count"] == 1 and listed["last_message"]["unsent"] is True
    assert [m["unsent"] for m in (await messages(client, b, thread))["items"]] == [True, False]
    async with db(client.app[CONFIG].database_url) as conn:
        row = await conn.fetchrow("SELECT text, image_url, unsent_at FROM dm_messages WHERE id = $1", oops["id"])
        assert row["text"] is None and row["image_url"] is None and row["unsent_at"] is not None
        await conn.execute("UPDATE dm_messages SET created_at = now() - interval '301 seconds' WHERE id = $1",
                           keep["id"])  # fmt: skip
    answer = await call(client, "DELETE", a, f"/api/v1/threads/{thread}/messages/{keep['id']}", 403)
    assert answer["error"]["code"] == "unsend_window_passed"
    answer = await call(client, "DELETE", a, f"/api/v1/threads/{thread}/messages/{10**12}", 404)
    assert answer["error"]["code"] == "not_found"
    await asyncio.sleep(0.1)
    assert len(b_socket.events["dm.message.unsent"]) == 1


async def test_seen_moves_forward_only_resets_unread_and_tells_the_peer(client: Any, connect: Any) -> None:
    a, b = await new_user(client, "A"), await new_user(client, "B")
    thread = (await open_thread(client, a, b))["id"]
    a_socket = await connect(client, a)
    sent = [(await send(client, a, thread, f"m{n}"))["id"] for n in range(4)]
    seen_path = f"/api/v1/threads/{thread}/seen"
    answer = (await call(client, "POST", b, seen_path, json={"message_id": sent[1]}))["data"]
    assert answer == {"thread_id": thread, "last_read_message_id": sent[1], "unread_count": 2}
    (pushed,) = await a_socket.wait_for("dm.thread.seen")
    assert pushed == {"thread_id": thread, "user_id": b.id, "last_read_message_id": sent[1]}
    back = (await call(client, "POST", b, seen_path, json={"message_id": sent[0]}))["data"]
    assert back["last_read_message_id"] == sent[1]  # never moves back
    assert (await call(client, "POST", b, seen_path))["data"]["unread_count"] == 0  # no body: up to the newest
    await a_socket.wait_for("dm.thread.seen", 2)
    assert a_socket.events["dm.thread.seen"][1]["last_read_message_id"] == sent[-1]
    assert (await threads(client, a))["items"][0]["peer_last_read_message_id"] == sent[-1]
    await call(client, "POST", b, seen_path)  # nothing new: nothing told
    await asyncio.sleep(0.1)
    assert len(a_socket.events["dm.thread.seen"]) == 2
    answer = await call(client, "POST", b, seen_path, 422, json={"message_id": 0})
    assert "message_id" in answer["error"]["fields"]


async def test_messages_notify_once_per_burst_and_seen_marks_it_read(client: Any) -> None:
    a, b, quiet = await new_user(client, "A"), await new_user(client, "B"), await new_user(client, "Quiet")
    thread = (await open_thread(client, a, b))["id"]

    async def dm_notes(user: User) -> list[dict[str, Any]]:
        items = (await call(client, "GET", user, "/api/v1/me/notifications"))["data"]["items"]
        return [n for n in items if n["kind"] == "dm"]

    for n in range(3):
        await send(client, a, thread, f"m{n}")
    (note,) = await dm_notes(b)
    assert note["actor"]["id"] == a.id and note["read_at"] is None and note["data"]["thread_id"] == thread
    await call(client, "POST", b, f"/api/v1/threads/{thread}/seen")
    (note,) = await dm_notes(b)
    assert note["read_at"] is not None
    await send(client, a, thread, "after seen")
    assert [n["read_at"] is None for n in await dm_notes(b)] == [True, False]
    # The dm kind switched off: neither stored nor pushed (the message itself still arrives).
    await call(client, "PATCH", quiet, "/api/v1/me/notification-preferences", json={"dm": False})
    other = (await open_thread(client, a, quiet))["id"]
    await send(client, a, other, "hello")
    assert await dm_notes(quiet) == [] and (await threads(client, quiet))["items"][0]["unread_count"] == 1


async def test_sends_and_new_threads_are_rate_limited_with_retry_after(make_client: Any) -> None:
    client = await make_client(dm_rate_limit=Rate(3, 60), dm_thread_rate_limit=Rate(2, 600))
    a = await new_user(client, "A")
    peers = [await new_user(client, f"P{n}") for n in range(3)]
    thread = (await open_thread(client, a, peers[0]))["id"]
    for n in range(3):
        await send(client, a, thread, f"m{n}")
    resp = await client.post(f"/api/v1/threads/{thread}/messages", json={"client_id": "x", "text": "over"},
                             headers=bearer(a.token))  # fmt: skip
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    assert (await resp.json())["error"]["code"] == "rate_limited"
    await send(client, peers[0], thread, "the peer's own bucket")
    await open_thread(client, a, peers[1])
    assert (await open_thread(client, a, peers[0]))["id"] == thread  # an existing thread costs nothing
    resp = await client.post("/api/v1/threads", json={"peer_id": peers[2].id}, headers=bearer(a.token))
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0


async def test_messages_survive_a_restart(make_client: Any) -> None:
    first = await make_client()
    a, b = await new_user(first, "A"), await new_user(first, "B")
    thread = (await open_thread(first, a, b))["id"]
    sent = [(await send(first, a, thread, f"m{n}"))["id"] for n in range(3)]
    await first.close()  # the whole engine process goes: its pool, its Redis, its sockets
    second = await make_client()
    page = await messages(second, b, thread)
    assert [m["id"] for m in page["items"]] == list(reversed(sent)) and page["has_more"] is False
    assert (await threads(second, b))["items"][0]["unread_count"] == 3
    assert (await send(second, a, thread, "m0", client_id="fresh"))["id"] > sent[-1]
