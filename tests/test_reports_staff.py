"""The moderation queue (issue 12 §4) through the real server and real Socket.IO clients: who may
review, priority and filters, and each action applied live (ban and suspend disconnect the sockets,
a platform mute stops chat in every room — on another engine process too — until an overturned
appeal lifts it, a deleted message leaves the room's history with chat:deleted to the members, a
warning is a `system` notification), every one audited; the automatic rules (report threshold,
word filter) opening cases by themselves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from engine.appkeys import METRICS
from tests.helpers import PASSWORD, Client, User, db, join, login, new_user
from tests.reports_setup import audit_actions, database, get, post, queue, report, resolve
from tests.sockets import open_peers, url_of
from tests.test_media_nodes import CAPS, SECRET, NodeDouble


async def test_only_reviewers_see_and_act_on_the_queue(client: Client) -> None:
    plain, target = await new_user(client), await new_user(client)
    filed = await report(client, plain, "user", target.id)
    await get(client, plain, "/api/v1/admin/reports", 403)
    await get(client, plain, f"/api/v1/admin/reports/{filed['case_id']}", 403)
    await post(client, plain, f"/api/v1/admin/reports/{filed['case_id']}/resolve", {"action": "ban"}, 403)
    await post(client, plain, f"/api/v1/admin/reports/{filed['case_id']}/assign", {"assignee_id": plain.id}, 403)
    await get(client, plain, "/api/v1/admin/appeals", 403)
    for role in ("moderator", "admin", "super_admin"):
        staff = await new_user(client, role=role)
        assert [c["id"] for c in await queue(client, staff)] == [filed["case_id"]]
    support = await new_user(client, role="support")
    await get(client, support, "/api/v1/admin/reports", 403)
    # Assigning to someone who may not review is refused; the case's reports are listed for staff.
    await post(client, staff, f"/api/v1/admin/reports/{filed['case_id']}/assign", {"assignee_id": plain.id}, 422)
    reports = (await get(client, staff, f"/api/v1/admin/reports/{filed['case_id']}/reports"))["data"]["items"]
    assert [(r["id"], r["reporter_id"]) for r in reports] == [(filed["id"], plain.id)]
    await get(client, staff, "/api/v1/admin/reports/987654321", 404)


async def test_the_queue_puts_more_reporters_then_repeat_offenders_first_and_filters(client: Client) -> None:
    staff, other = await new_user(client, role="moderator"), await new_user(client, role="moderator")
    reporters = [await new_user(client) for _ in range(3)]
    once, twice, repeat = await new_user(client), await new_user(client), await new_user(client)
    old = await report(client, reporters[0], "room", repeat.room, "hate")  # an earlier action on `repeat`
    await resolve(client, staff, old["case_id"], "warn")
    a = await report(client, reporters[0], "user", once.id, "spam")
    b = await report(client, reporters[0], "user", twice.id, "harassment")
    await report(client, reporters[1], "user", twice.id, "spam")
    c = await report(client, reporters[2], "user", repeat.id, "scam")
    order = [x["id"] for x in await queue(client, staff)]
    assert order == [b["case_id"], c["case_id"], a["case_id"]]
    cases = {x["id"]: x for x in await queue(client, staff)}
    assert cases[c["case_id"]]["offender_strikes"] == 1 and cases[a["case_id"]]["offender_strikes"] == 0
    paged, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        data = (await get(client, staff, "/api/v1/admin/reports", **params))["data"]
        paged += [x["id"] for x in data["items"]]
        if (cursor := data["next_cursor"]) is None:
            break
    assert paged == order
    assert [x["id"] for x in await queue(client, staff, reason="spam")] == [b["case_id"], a["case_id"]]
    assert [x["id"] for x in await queue(client, staff, target_type="room")] == []
    assert [x["id"] for x in await queue(client, staff, target_type="room", state="actioned")] == [old["case_id"]]
    await post(client, staff, f"/api/v1/admin/reports/{a['case_id']}/assign", {"assignee_id": other.id}, 200)
    assert [x["id"] for x in await queue(client, staff, assignee=other.id)] == [a["case_id"]]
    assert [x["id"] for x in await queue(client, staff, assignee=0)] == [b["case_id"], c["case_id"]]
    assert [x["state"] for x in await queue(client, staff, state="reviewing")] == ["reviewing"]
    await get(client, staff, "/api/v1/admin/reports", 422, state="closed")
    # Resolved once: a second reviewer's resolve or assign is refused.
    await resolve(client, staff, a["case_id"], "dismiss")
    await resolve(client, other, a["case_id"], "warn", status=409)
    await post(client, other, f"/api/v1/admin/reports/{a['case_id']}/assign", {"assignee_id": other.id}, 409)
    assert await audit_actions(client, "report", a["case_id"]) == ["report.assign", "report.resolve"]
    resolved = client.app[METRICS].registry.get_sample_value("flylive_reports_resolved_total", {"action": "dismiss"})
    assert resolved == 1


async def test_a_ban_disconnects_the_users_sockets_and_is_audited(client: Client) -> None:
    staff, reporter, target = await new_user(client, role="moderator"), await new_user(client), await new_user(client)
    filed = await report(client, reporter, "user", target.id, "scam")
    async with open_peers() as open_peer:
        peer = await open_peer(client, target)
        await join(peer, target.room)
        gone = _disconnect_seen(peer)
        done = await resolve(client, staff, filed["case_id"], "ban", note="fraud ring")
        assert done["state"] == "actioned" and done["action"] == "ban" and done["applied"] is True
        await asyncio.wait_for(gone.wait(), 5)
    assert (await login(client, target.phone)).status in (401, 403)
    assert await audit_actions(client, "report", filed["case_id"]) == ["report.resolve"]
    assert "account.banned" in await audit_actions(client, "user", target.id)


def _disconnect_seen(peer: Any) -> asyncio.Event:
    """Set when the server closes the peer's socket."""
    seen = asyncio.Event()
    peer.sio.on("disconnect", lambda *_: seen.set())
    return seen


async def test_a_suspension_disconnects_and_an_overturned_appeal_reinstates(client: Client) -> None:
    staff, reporter, target = await new_user(client, role="moderator"), await new_user(client), await new_user(client)
    filed = await report(client, reporter, "user", target.id)
    await resolve(client, staff, filed["case_id"], "suspend", status=422)  # needs minutes
    async with open_peers() as open_peer:
        peer = await open_peer(client, target)
        gone = _disconnect_seen(peer)
        done = await resolve(client, staff, filed["case_id"], "suspend", minutes=60)
        assert done["action_until"] is not None
        await asyncio.wait_for(gone.wait(), 5)
    assert (await login(client, target.phone)).status in (401, 403)
    appeal = await _appeal(client, target, filed["case_id"])
    reviewed = (await post(client, staff, f"/api/v1/admin/appeals/{appeal['id']}/review", {"decision": "overturn"},
                           200))["data"]  # fmt: skip
    assert reviewed["state"] == "overturned" and reviewed["lifted"] is True
    assert (await login(client, target.phone)).status == 200
    assert "report.appeal_overturn" in await audit_actions(client, "report", filed["case_id"])


async def _appeal(client: Client, target: User, case_id: int) -> dict[str, Any]:
    """The target's appeal: a suspended account cannot sign in, so it proves itself with its phone
    and password on POST /api/v1/appeals (the newest action in force when no case is named)."""
    path = "/api/v1/appeals"
    wrong = {"phone": target.phone, "password": "not-the-password", "details": "not me"}
    assert (await client.post(path, json=wrong)).status == 422
    bystander = await new_user(client)  # an account with nothing against it has nothing to appeal
    none = await client.post(path, json={"phone": bystander.phone, "password": PASSWORD, "details": "x"})
    assert (none.status, (await none.json())["error"]["code"]) == (409, "nothing_to_appeal")
    resp = await client.post(path, json={"phone": target.phone, "password": PASSWORD, "details": "not me"})
    assert resp.status == 201, await resp.text()
    appeal: dict[str, Any] = (await resp.json())["data"]
    assert (appeal["case_id"], appeal["user_id"], appeal["state"]) == (case_id, target.id, "pending")
    again = await client.post(path, json={"phone": target.phone, "password": PASSWORD, "details": "x",
                                          "case_id": case_id})  # fmt: skip
    assert (again.status, (await again.json())["error"]["code"]) == (409, "already_appealed")
    return appeal


async def test_a_mute_stops_chat_in_every_room_on_every_process_until_overturned(make_client: Any) -> None:
    client = await make_client()
    other = await make_client()  # a second engine process on the same Redis and database
    staff, reporter, target = await new_user(client, role="moderator"), await new_user(client), await new_user(client)
    owner = await new_user(client, "Owner")
    filed = await report(client, reporter, "user", target.id, "harassment")
    async with open_peers() as open_peer:
        here, there = await open_peer(client, target), await open_peer(other, target)
        await join(here, owner.room)
        await join(there, target.room)
        assert (await here.call("chat:message", {"roomId": owner.room, "content": "hi"}))["success"]
        assert (await there.call("chat:message", {"roomId": target.room, "content": "hi"}))["success"]
        await resolve(client, staff, filed["case_id"], "mute", minutes=30)

        async def refused(peer: Any, room: int) -> dict[str, Any]:
            for _ in range(100):  # the other process forgets its cached "not muted" on the NOTIFY
                ack: dict[str, Any] = await peer.call("chat:message", {"roomId": room, "content": "hi"})
                if not ack["success"]:
                    return ack
                await asyncio.sleep(0.05)
            raise AssertionError("never muted")

        for peer, room in ((here, owner.room), (there, target.room)):
            ack = await refused(peer, room)
            assert (ack["error"], ack["code"]) == ("You are muted", "MUTED") and ack["mutedUntil"] > 0
        appeal = (await post(client, target, f"/api/v1/reports/{filed['case_id']}/appeal", {"details": "sorry"},
                             201))["data"]  # fmt: skip
        await post(client, staff, f"/api/v1/admin/appeals/{appeal['id']}/review", {"decision": "overturn"}, 200)
        for _ in range(100):
            if (await there.call("chat:message", {"roomId": target.room, "content": "back"}))["success"]:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("still muted")
    actions = await audit_actions(client, "user", target.id)
    assert "account.mute" in actions and "account.unmute" in actions


async def test_a_mute_mutes_the_seat_held_now(client: Client) -> None:
    staff, reporter, target = await new_user(client, role="moderator"), await new_user(client), await new_user(client)
    owner = await new_user(client, "Owner")
    filed = await report(client, reporter, "user", target.id)
    async with open_peers() as open_peer:
        watcher, peer = await open_peer(client, owner), await open_peer(client, target)
        await join(watcher, owner.room)
        await join(peer, owner.room)
        assert (await peer.call("seat:take", {"roomId": owner.room, "seatIndex": 1}))["success"]
        await resolve(client, staff, filed["case_id"], "mute", minutes=5)
        muted = await watcher.wait_for("seat:userMuted")
        assert muted[-1]["userId"] == target.id and muted[-1]["isMuted"] is True
        # Not even a room's owner lifts a platform mute on the seat.
        ack = await watcher.call("seat:unmute", {"roomId": owner.room, "userId": target.id})
        assert ack["success"] is False and ack["code"] == "MUTED"


async def test_a_deleted_message_leaves_the_history_and_the_room_hears_chat_deleted(client: Client) -> None:
    staff, owner, sender = await new_user(client, role="moderator"), await new_user(client), await new_user(client)
    async with open_peers() as open_peer:
        member, speaker = await open_peer(client, owner), await open_peer(client, sender)
        await join(member, owner.room)
        await join(speaker, owner.room)
        for text in ("keep me", "delete me"):
            assert (await speaker.call("chat:message", {"roomId": owner.room, "content": text}))["success"]
        bad = (await member.wait_for("chat:message", 2))[1]
        filed = await report(client, owner, "message", bad["id"], "hate")
        await resolve(client, staff, filed["case_id"], "warn", status=200)  # a warning is not a deletion
        again = await report(client, owner, "message", bad["id"], "hate")  # a new case once the old one is closed
        assert again["case_id"] != filed["case_id"]
        done = await resolve(client, staff, again["case_id"], "delete_message")
        assert done["applied"] is True
        (deleted,) = await member.wait_for("chat:deleted")
        assert deleted["messageId"] == bad["id"] and deleted["roomId"] == str(owner.room) and deleted["seq"] > 0
        late = await open_peer(client, await new_user(client))
        snapshot = await join(late, owner.room)
        assert [m["content"] for m in snapshot["recentMessages"]] == ["keep me"]
        # A message the history no longer holds: the case is resolved, nothing is applied.
        gone = await report(client, owner, "message", bad["id"], status=404)
        assert gone["error"]["code"] == "not_found"
    assert "room.chat_delete" in await audit_actions(client, "room", owner.room)
    # Only a message can be deleted.
    user_case = await report(client, owner, "user", sender.id)
    await resolve(client, staff, user_case["case_id"], "delete_message", status=422)


async def test_a_warning_is_a_system_notification_and_audited(client: Client) -> None:
    staff, reporter, target = await new_user(client, role="moderator"), await new_user(client), await new_user(client)
    filed = await report(client, reporter, "user", target.id)
    async with open_peers() as open_peer:
        peer = await open_peer(client, target)
        await resolve(client, staff, filed["case_id"], "warn", note="first warning")
        (pushed,) = await peer.wait_for("notification:new")
    assert pushed["kind"] == "system" and pushed["data"]["case_id"] == filed["case_id"]
    assert pushed["data"]["action"] == "warn" and "appeal" in pushed["text"]
    (stored,) = (await get(client, target, "/api/v1/me/notifications"))["data"]["items"]
    assert stored["id"] == pushed["id"] and stored["target_type"] == "report"
    assert await audit_actions(client, "report", filed["case_id"]) == ["report.resolve"]
    # Staff never act on a report about themselves.
    self_case = await report(client, reporter, "user", staff.id)
    await resolve(client, staff, self_case["case_id"], "warn", status=403)


async def test_distinct_reporters_past_the_threshold_open_a_high_priority_case(make_client: Any) -> None:
    client = await make_client(report_auto_threshold=3, report_auto_window_hours=1)
    staff, target = await new_user(client, role="moderator"), await new_user(client)
    reporters = [await new_user(client) for _ in range(3)]
    first = await report(client, reporters[0], "room", target.room)
    await report(client, reporters[0], "room", target.room, "spam")  # a merge is not a second reporter
    await report(client, reporters[1], "room", target.room)
    assert [c["source"] for c in await queue(client, staff)] == ["report"]
    await report(client, reporters[2], "user", target.id)  # a third person, on another of the user's targets
    cases = await queue(client, staff)
    assert cases[0]["target_type"] == "user" and cases[0]["subject_user_id"] == target.id
    assert cases[0]["high_priority"] is True and cases[0]["source"] == "report"  # the user's case, raised
    assert cases[1]["id"] == first["case_id"] and cases[1]["high_priority"] is False
    # With no open case on the user, the rule opens one by itself.
    other = await new_user(client)
    for reporter in reporters:
        await report(client, reporter, "room", other.room)
    (auto,) = await queue(client, staff, source="report_threshold")
    assert (auto["subject_user_id"], auto["high_priority"], auto["reporter_count"]) == (other.id, True, 0)
    assert auto["snapshot"]["distinct_reporters"] == 3
    assert (await queue(client, staff))[0]["high_priority"] is True


async def test_the_word_filter_opens_a_case_on_the_user(make_client: Any) -> None:
    client = await make_client(chat_blocked_words=("badword",))
    staff, target = await new_user(client, role="moderator"), await new_user(client)
    async with open_peers() as open_peer:
        peer = await open_peer(client, target)
        await join(peer, target.room)
        for _ in range(3):  # counted once a minute
            ack = await peer.call("chat:message", {"roomId": target.room, "content": "you badword"})
            assert ack["success"] is False and ack["error"] == "Message not allowed"
    (case,) = await queue(client, staff, source="word_filter")
    assert (case["subject_user_id"], case["filter_hits"]) == (target.id, 1)
    assert case["snapshot"] == {"room_id": target.room, "content": "you badword"}


@asynccontextmanager
async def _media_node(client: Client) -> AsyncIterator[tuple[NodeDouble, list[dict[str, Any]]]]:
    """A media node registered with the engine, answering every request; and the requests it got."""
    node = NodeDouble()
    requests: list[dict[str, Any]] = []

    async def on_request(data: dict[str, Any]) -> Any:
        requests.append(data)
        return {"ok": True, "data": {"id": "p-1"}}

    node.sio.on("media:request", on_request, namespace="/media")
    try:
        await node.connect(url_of(client), SECRET)
        await node.call("node:register", {"nodeId": "n1", "region": "eu", "capacity": 5, "rtpCapabilities": CAPS})
        yield node, requests
    finally:
        await node.close()


async def _paused(node: NodeDouble, user_id: int) -> None:
    for _ in range(100):
        if any(c["command"] == "pauseUser" and c["userId"] == user_id for c in node.commands):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no pauseUser: {node.commands}")


PRODUCE = {"transportId": "t1", "rtpParameters": {"codecs": []}}


@dataclass
class MutedSpeaker:
    client: Client
    owner: User
    target: User
    watcher: Any  # the owner's socket, in its own room
    peer: Any  # the target's socket, on seat 1 of the owner's room, its audio paused by the mute
    requests: list[dict[str, Any]]  # what the media node was asked


@asynccontextmanager
async def _muted_speaker(make_client: Any) -> AsyncIterator[MutedSpeaker]:
    """A user speaking on a seat when a report about them is resolved with a 5-minute mute; yielded
    once the media node was told to pause them."""
    client = await make_client(media_node_secrets=(SECRET,))
    staff, reporter, target = await new_user(client, role="moderator"), await new_user(client), await new_user(client)
    owner = await new_user(client, "Owner")
    filed = await report(client, reporter, "user", target.id)
    async with _media_node(client) as (node, requests), open_peers() as open_peer:
        watcher, peer = await open_peer(client, owner), await open_peer(client, target)
        await join(watcher, owner.room)
        await join(peer, owner.room)
        assert (await peer.call("seat:take", {"roomId": owner.room, "seatIndex": 1}))["success"]
        assert (await peer.call("audio:produce", {"roomId": owner.room, **PRODUCE}))["success"] is True
        await resolve(client, staff, filed["case_id"], "mute", minutes=5)
        await _paused(node, target.id)
        yield MutedSpeaker(client, owner, target, watcher, peer, requests)


async def test_a_muted_user_may_not_speak_the_node_pauses_a_seat_held_and_new_audio_is_refused(
    make_client: Any,
) -> None:
    async with _muted_speaker(make_client) as m:
        room = m.owner.room
        # Off the moderated seat and onto another: still no audio while the mute lasts.
        assert (await m.peer.call("seat:leave", {"roomId": room}))["success"]
        assert (await m.peer.call("seat:take", {"roomId": room, "seatIndex": 2}))["success"]
        before = len(m.requests)
        assert await m.peer.call("audio:produce", {"roomId": room, **PRODUCE}) == {"success": False,
                                                                                  "error": "You are muted"}  # fmt: skip
        assert len(m.requests) == before  # refused before it reached the node


async def test_when_a_platform_mute_ends_the_user_unmutes_themselves_on_the_seat_they_kept(
    make_client: Any,
) -> None:
    async with _muted_speaker(make_client) as m:
        await m.watcher.wait_until(lambda: any(e["userId"] == m.target.id and e["isMuted"]
                                               for e in m.watcher.events["seat:userMuted"]))  # fmt: skip
        assert [e["selfMuted"] for e in m.watcher.events["seat:userMuted"]] == [False]  # the platform's, not theirs
        unmute = {"roomId": m.owner.room, "producerId": "p-1"}
        assert await m.peer.call("audio:selfUnmute", unmute) == {"success": False, "error": "You are muted"}
        async with db(database(m.client)) as conn:  # the mute runs out (its trigger tells the caches)
            await conn.execute("UPDATE platform_mutes SET until = now() WHERE user_id = $1", m.target.id)
        for _ in range(100):
            ack = await m.peer.call("audio:selfUnmute", unmute)
            if ack["success"]:
                break
            await asyncio.sleep(0.05)
        assert ack["success"] is True, ack  # a moderator's seat mute would have held here
        assert any(r.get("method") == "producer:resume" for r in m.requests), m.requests


async def test_a_reviewer_without_users_suspend_may_not_ban_and_nobody_reviews_their_own_appeal(
    client: Client,
) -> None:
    async with db(database(client)) as conn:
        await conn.execute("INSERT INTO roles (name, description) VALUES ('reviewer', 'reports only')")
        await conn.execute("""INSERT INTO role_permissions (role_id, permission_id)
                              SELECT r.id, p.id FROM roles r, permissions p
                              WHERE r.name = 'reviewer' AND p.name = 'reports.review'""")
    reviewer, reporter = await new_user(client, role="reviewer"), await new_user(client)
    moderator, other = await new_user(client, role="moderator"), await new_user(client, role="moderator")
    target = await new_user(client)
    filed = await report(client, reporter, "user", target.id)
    assert (await resolve(client, reviewer, filed["case_id"], "ban", status=403))["error"]["code"] == "forbidden"
    await resolve(client, reviewer, filed["case_id"], "mute", minutes=5)  # a reviewer may mute
    about_staff = await report(client, reporter, "user", moderator.id)
    await resolve(client, moderator, about_staff["case_id"], "dismiss", status=403)  # not a case about oneself
    await resolve(client, other, about_staff["case_id"], "warn")
    appeal = (await post(client, moderator, f"/api/v1/reports/{about_staff['case_id']}/appeal",
                         {"details": "unfair"}, 201))["data"]  # fmt: skip
    await post(client, moderator, f"/api/v1/admin/appeals/{appeal['id']}/review", {"decision": "overturn"}, 403)
    upheld = (await post(client, other, f"/api/v1/admin/appeals/{appeal['id']}/review", {"decision": "uphold"},
                         200))["data"]  # fmt: skip
    assert (upheld["state"], upheld["lifted"], upheld["reviewed_by"]) == ("upheld", False, other.id)
    await post(client, other, f"/api/v1/admin/appeals/{appeal['id']}/review", {"decision": "overturn"}, 409)
    await post(client, other, "/api/v1/admin/appeals/987654321/review", {"decision": "overturn"}, 404)
    listed = (await get(client, other, "/api/v1/admin/appeals", state="upheld"))["data"]["items"]
    assert [a["id"] for a in listed] == [appeal["id"]]
    assert (await get(client, other, "/api/v1/admin/appeals"))["data"]["items"] == []  # none pending
