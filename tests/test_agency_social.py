"""The agency's social side (issue 13 §4): announcements (the permission matrix of each route, 422
field errors, the notifications stored for every other member and pushed to them on another engine
process, cursor pages, the rate limit) and the members' chat channel over the sockets (who may join
and write, the history on join, the broadcast across two processes, the limits and word filter of
room chat, and a removed member cut off at once)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from engine.agency.events import remind_due
from engine.appkeys import AGENCIES, CONFIG
from engine.config import Rate
from tests.agency_setup import Cast, add_member, cast, new_agency
from tests.helpers import User, bearer, db, new_user


def url(agency_id: int, rest: str = "") -> str:
    return f"/api/v1/agencies/{agency_id}/announcements{rest}"


async def post(client: Any, user: User, agency_id: int, **body: Any) -> Any:
    payload = {"title": "Meeting", "text": "Friday at 8 pm in the agency room.", **body}
    return await client.post(url(agency_id), json=payload, headers=bearer(user.token))


async def notified(client: Any, announcement_id: int) -> set[int]:
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch(
            "SELECT user_id FROM notifications WHERE kind = 'agency' AND target_type = 'agency_announcement' "
            "AND target_id = $1",
            str(announcement_id),
        )
    return {int(r["user_id"]) for r in rows}


async def test_announcements_are_posted_by_owner_and_admins_and_notify_every_other_member(
    make_client: Any, connect: Any
) -> None:
    a, b = await make_client(), await make_client()
    c = await cast(a)
    member_socket = await connect(b, c.member)  # on the other engine process
    outsider_socket = await connect(b, c.outsider)
    resp = await post(a, c.owner, c.agency_id)
    assert resp.status == 201, await resp.text()
    first = (await resp.json())["data"]
    assert first["title"] == "Meeting" and first["author"]["id"] == c.owner.id and first["agency_id"] == c.agency_id
    (pushed,) = await member_socket.wait_for("notification:new")
    assert pushed["kind"] == "agency" and pushed["target_id"] == str(first["id"])
    assert pushed["data"] == {"agency_id": c.agency_id, "event": "announcement", "announcement_id": first["id"]}
    assert await notified(a, first["id"]) == {c.admin.id, c.moderator.id, c.member.id}  # not the author
    resp = await post(a, c.admin, c.agency_id, title="Targets")
    assert resp.status == 201
    second = (await resp.json())["data"]
    assert await notified(a, second["id"]) == {c.owner.id, c.moderator.id, c.member.id}
    for name in ("moderator", "member", "outsider", "staff"):
        assert (await post(a, c.everyone()[name], c.agency_id)).status == 403, name
    assert outsider_socket.events["notification:new"] == []
    # A member who switched agency notifications off gets none (one statement, preferences respected).
    async with db(a.app[CONFIG].database_url) as conn:
        await conn.execute("INSERT INTO notification_preferences (user_id, kind, enabled) VALUES ($1, 'agency', false)",
                           c.member.id)  # fmt: skip
    third = (await (await post(a, c.owner, c.agency_id, title="Third")).json())["data"]
    assert await notified(a, third["id"]) == {c.admin.id, c.moderator.id}

    # Reading: members and staff; pages newest first.
    for name, user in c.everyone().items():
        expected = 403 if name == "outsider" else 200
        assert (await a.get(url(c.agency_id), headers=bearer(user.token))).status == expected, name
    page = (await (await a.get(url(c.agency_id, "?limit=2"), headers=bearer(c.member.token))).json())["data"]
    assert [i["id"] for i in page["items"]] == [third["id"], second["id"]] and page["next_cursor"]
    rest = await a.get(url(c.agency_id, f"?limit=2&cursor={page['next_cursor']}"), headers=bearer(c.member.token))
    assert [i["id"] for i in (await rest.json())["data"]["items"]] == [first["id"]]
    assert (await a.get(url(c.agency_id, "?cursor=bogus"), headers=bearer(c.member.token))).status == 422
    assert (await a.get(url(10**9), headers=bearer(c.member.token))).status == 404


async def test_announcement_bodies_are_checked_field_by_field(client: Any) -> None:
    c = await cast(client)
    for body, field in (({"title": "x" * 101}, "title"), ({"text": "x" * 2001}, "text"), ({"title": "   "}, "title"),
                        ({"text": ""}, "text")):  # fmt: skip
        bad = await post(client, c.owner, c.agency_id, **body)
        assert bad.status == 422 and field in (await bad.json())["error"]["fields"], body
    missing = await client.post(url(c.agency_id), json={}, headers=bearer(c.owner.token))
    assert missing.status == 422 and set((await missing.json())["error"]["fields"]) >= {"title"}
    assert (await post(client, c.owner, c.agency_id, title="x" * 100, text="y" * 2000)).status == 201


async def test_announcements_are_deleted_by_their_author_or_the_owner(client: Any) -> None:
    c = await cast(client)
    second_admin = await new_user(client, "Admin 2")
    await add_member(client, c.agency_id, second_admin, "admin")

    async def posted(user: User) -> int:
        resp = await post(client, user, c.agency_id)
        assert resp.status == 201
        return int((await resp.json())["data"]["id"])

    def delete(user: User, aid: int, agency_id: int = c.agency_id) -> Any:
        return client.delete(url(agency_id, f"/{aid}"), headers=bearer(user.token))

    by_owner, by_admin = await posted(c.owner), await posted(c.admin)
    assert (await delete(c.outsider, by_owner)).status == 404  # not theirs to see
    for user in (c.admin, c.moderator, c.member, c.staff, second_admin):
        assert (await delete(user, by_owner)).status == 403
    assert (await delete(second_admin, by_admin)).status == 403  # another admin's
    # Another agency's announcement, named under this agency: not there.
    other_owner = await new_user(client, "Other owner")
    other = await new_agency(client, other_owner, c.staff)
    resp = await client.post(url(other), json={"title": "Hi", "text": "There"}, headers=bearer(other_owner.token))
    foreign = int((await resp.json())["data"]["id"])
    assert (await delete(c.owner, foreign)).status == 404
    assert (await delete(other_owner, foreign, other)).status == 200
    resp = await delete(c.admin, by_admin)
    assert resp.status == 200 and (await resp.json())["data"] == {"id": by_admin, "deleted": True}
    assert (await delete(c.owner, by_owner)).status == 200
    assert (await delete(c.owner, by_owner)).status == 404
    listed = await client.get(url(c.agency_id), headers=bearer(c.member.token))
    assert (await listed.json())["data"]["items"] == []


async def test_announcements_are_rate_limited(make_client: Any) -> None:
    client = await make_client(agency_announcement_rate_limit=Rate(2, 3600))
    c = await cast(client)
    assert (await post(client, c.member, c.agency_id)).status == 403  # refused before the bucket
    assert (await post(client, c.owner, c.agency_id)).status == 201
    assert (await post(client, c.owner, c.agency_id)).status == 201
    assert (await post(client, c.owner, c.agency_id)).status == 429
    assert (await post(client, c.admin, c.agency_id)).status == 201  # per user


# --- the chat channel -------------------------------------------------------------------------------


async def joined(peer: Any, agency_id: int) -> dict[str, Any]:
    ack: dict[str, Any] = await peer.call("agency:chat.join", {"agencyId": agency_id})
    return ack


async def say(peer: Any, agency_id: int, content: str) -> dict[str, Any]:
    ack: dict[str, Any] = await peer.call("agency:chat.message", {"agencyId": agency_id, "content": content})
    return ack


async def test_the_chat_channel_is_for_members_with_history_across_processes(make_client: Any, connect: Any) -> None:
    a, b = await make_client(chat_blocked_words=("badword",)), await make_client(chat_blocked_words=("badword",))
    c = await cast(a)
    peers = {name: await connect(a if i % 2 else b, user) for i, (name, user) in enumerate(c.everyone().items())}
    for name in ("owner", "admin", "member"):
        ack = await joined(peers[name], c.agency_id)
        assert ack == {"success": True, "agencyId": c.agency_id, "recentMessages": []}, name
    for name in ("outsider", "staff"):
        ack = await joined(peers[name], c.agency_id)
        assert ack["success"] is False and ack["code"] == "NOT_A_MEMBER", name
        assert (await say(peers[name], c.agency_id, "hello"))["code"] == "NOT_A_MEMBER", name
    sent = await say(peers["member"], c.agency_id, "  hello agency  ")
    assert sent["success"] is True and sent["id"]
    for name in ("owner", "admin", "member"):  # on both processes, the sender's own socket too
        (got,) = await peers[name].wait_for("agency:chat.message")
        assert got == {"agencyId": c.agency_id, "id": sent["id"], "userId": c.member.id, "userName": "Member",
                       "content": "hello agency", "timestamp": sent["timestamp"]}, name  # fmt: skip
    assert (await say(peers["owner"], c.agency_id, "second"))["success"] is True
    # A member who did not join the channel may still write, but hears only after joining: with the history.
    ack = await joined(peers["moderator"], c.agency_id)
    assert [m["content"] for m in ack["recentMessages"]] == ["hello agency", "second"]
    assert peers["moderator"].events["agency:chat.message"] == []
    # The word filter, blank and too long content.
    assert (await say(peers["owner"], c.agency_id, "a BadWord here"))["code"] == "MESSAGE_REJECTED"
    assert (await say(peers["owner"], c.agency_id, "   "))["code"] == "MESSAGE_REJECTED"
    too_long = await say(peers["owner"], c.agency_id, "x" * 501)
    assert too_long["success"] is False and "content" in too_long["fields"]
    assert (await peers["owner"].call("agency:chat.join", {"agencyId": 0}))["success"] is False
    # Leaving the channel: no more messages to that socket.
    assert (await peers["admin"].call("agency:chat.leave", {"agencyId": c.agency_id})) == {"success": True}
    await say(peers["owner"], c.agency_id, "third")
    await peers["member"].wait_for("agency:chat.message", 3)
    await asyncio.sleep(0.2)
    assert [m["content"] for m in peers["admin"].events["agency:chat.message"]] == ["hello agency", "second"]
    # Another agency's members cannot join or write in this one.
    other_owner = await new_user(a, "Other owner")
    await new_agency(a, other_owner, c.staff)
    other = await connect(b, other_owner)
    assert (await joined(other, c.agency_id))["code"] == "NOT_A_MEMBER"
    assert (await say(other, c.agency_id, "hi"))["code"] == "NOT_A_MEMBER"


async def test_chat_keeps_the_last_messages_and_is_rate_limited(make_client: Any, connect: Any) -> None:
    client = await make_client(chat_history=3, chat_rate_limit=Rate(5, 60))
    c = await cast(client)
    owner, member = await connect(client, c.owner), await connect(client, c.member)
    for i in range(5):
        assert (await say(owner, c.agency_id, f"m{i}"))["success"] is True
    refused = await say(owner, c.agency_id, "m5")
    assert refused["code"] == "RATE_LIMITED" and refused["retry_after"] >= 1
    assert (await say(member, c.agency_id, "from member"))["success"] is True  # per user
    ack = await joined(member, c.agency_id)
    assert [m["content"] for m in ack["recentMessages"]] == ["m3", "m4", "from member"]


async def removed_member_setup(make_client: Any, connect: Any) -> tuple[Any, Any, Cast, Any, Any]:
    a, b = await make_client(), await make_client()
    c = await cast(a)
    owner, member = await connect(a, c.owner), await connect(b, c.member)
    for peer in (owner, member):
        assert (await joined(peer, c.agency_id))["success"] is True
    return a, b, c, owner, member


async def test_a_platform_mute_silences_the_agency_chat_too(client: Any, connect: Any) -> None:
    c = await cast(client)
    member = await connect(client, c.member)
    assert (await joined(member, c.agency_id))["success"]
    assert (await say(member, c.agency_id, "before"))["success"] is True
    async with db(client.app[CONFIG].database_url) as conn:  # what resolving a report with `mute` writes
        await conn.execute("INSERT INTO platform_mutes (user_id, until) VALUES ($1, now() + interval '5 minutes')",
                           c.member.id)  # fmt: skip
    muted = await say(member, c.agency_id, "during")
    assert (muted["success"], muted["code"], muted["error"]) == (False, "MUTED", "You are muted")
    assert muted["mutedUntil"] > 0
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("DELETE FROM platform_mutes WHERE user_id = $1", c.member.id)
    assert (await say(member, c.agency_id, "after"))["success"] is True


async def test_a_removed_member_can_no_longer_send_and_leaves_the_channel(make_client: Any, connect: Any) -> None:
    a, _b, c, owner, member = await removed_member_setup(make_client, connect)
    resp = await a.delete(f"/api/v1/agencies/{c.agency_id}/members/{c.member.id}", headers=bearer(c.owner.token))
    assert resp.status == 200
    assert (await say(member, c.agency_id, "still here?"))["code"] == "NOT_A_MEMBER"
    assert (await say(owner, c.agency_id, "after the removal"))["success"] is True
    await owner.wait_for("agency:chat.message")
    await asyncio.sleep(0.3)
    assert member.events["agency:chat.message"] == []  # its socket, on the other process, left the room
    assert (await joined(member, c.agency_id))["code"] == "NOT_A_MEMBER"


async def test_a_member_whose_leave_is_approved_leaves_the_channel(make_client: Any, connect: Any) -> None:
    a, _b, c, owner, member = await removed_member_setup(make_client, connect)
    resp = await a.post(f"/api/v1/agencies/{c.agency_id}/leave-requests", json={"reason": "moving on"},
                        headers=bearer(c.member.token))  # fmt: skip
    assert resp.status == 201, await resp.text()
    rid = (await resp.json())["data"]["id"]
    resp = await a.post(f"/api/v1/agencies/{c.agency_id}/leave-requests/{rid}/approve", headers=bearer(c.owner.token))
    assert resp.status == 200, await resp.text()
    assert (await say(owner, c.agency_id, "goodbye"))["success"] is True
    await owner.wait_for("agency:chat.message")
    await asyncio.sleep(0.3)
    assert member.events["agency:chat.message"] == []
    assert (await say(member, c.agency_id, "one more"))["code"] == "NOT_A_MEMBER"


async def test_closing_the_agency_ends_its_channel(make_client: Any, connect: Any) -> None:
    a, _b, c, owner, member = await removed_member_setup(make_client, connect)
    resp = await a.post(f"/api/v1/agencies/{c.agency_id}/close", json={"reason": "done"}, headers=bearer(c.owner.token))
    assert resp.status == 200, await resp.text()
    await member.wait_for("agency.dissolved")
    for peer in (owner, member):
        assert (await say(peer, c.agency_id, "anyone?"))["code"] == "NOT_A_MEMBER"
        assert (await joined(peer, c.agency_id))["code"] == "NOT_A_MEMBER"


# --- events -----------------------------------------------------------------------------------------


def events_url(agency_id: int, rest: str = "") -> str:
    return f"/api/v1/agencies/{agency_id}/events{rest}"


def starts_in(minutes: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()


async def plan(client: Any, user: User, agency_id: int, **body: Any) -> Any:
    payload = {"title": "Weekly party", "starts_at": starts_in(60), **body}
    return await client.post(events_url(agency_id), json=payload, headers=bearer(user.token))


async def test_events_are_planned_by_owner_and_admins_and_listed_for_members(client: Any) -> None:
    c = await cast(client)
    resp = await plan(client, c.owner, c.agency_id, room_id=c.owner.room, title="Soon")
    assert resp.status == 201, await resp.text()
    soon = (await resp.json())["data"]
    assert soon["room_id"] == c.owner.room and soon["reminded"] is False and soon["created_by"] == c.owner.id
    later = (await (await plan(client, c.admin, c.agency_id, starts_at=starts_in(600))).json())["data"]
    for name in ("moderator", "member", "outsider", "staff"):
        assert (await plan(client, c.everyone()[name], c.agency_id)).status == 403, name
    bodies: list[tuple[dict[str, Any], str]] = [
        ({"title": "x" * 101}, "title"),
        ({"title": " "}, "title"),
        ({"starts_at": starts_in(-1)}, "starts_at"),
        ({"starts_at": starts_in(60 * 24 * 400)}, "starts_at"),
        ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),  # no time zone
        ({"room_id": 10**12}, "room_id"),
    ]
    for body, field in bodies:
        bad = await plan(client, c.owner, c.agency_id, **body)
        assert bad.status == 422 and field in (await bad.json())["error"]["fields"], body
    for name, user in c.everyone().items():
        expected = 403 if name == "outsider" else 200
        assert (await client.get(events_url(c.agency_id), headers=bearer(user.token))).status == expected, name
    first = await (await client.get(events_url(c.agency_id, "?limit=1"), headers=bearer(c.member.token))).json()
    assert [e["id"] for e in first["data"]["items"]] == [soon["id"]]  # soonest first
    cursor = first["data"]["next_cursor"]
    rest = await client.get(events_url(c.agency_id, f"?limit=1&cursor={cursor}"), headers=bearer(c.member.token))
    assert [e["id"] for e in (await rest.json())["data"]["items"]] == [later["id"]]
    past = await client.get(events_url(c.agency_id, "?past=true"), headers=bearer(c.member.token))
    assert (await past.json())["data"]["items"] == []
    assert (await client.get(events_url(10**9), headers=bearer(c.member.token))).status == 404


async def test_each_event_is_reminded_once_even_with_two_processes(make_client: Any, connect: Any) -> None:
    a, b = await make_client(agency_event_reminder_minutes=15), await make_client(agency_event_reminder_minutes=15)
    c = await cast(a)
    member = await connect(b, c.member)
    due = (await (await plan(a, c.owner, c.agency_id, starts_at=starts_in(10))).json())["data"]
    not_yet = (await (await plan(a, c.owner, c.agency_id, starts_at=starts_in(30))).json())["data"]
    counts = await asyncio.gather(*(remind_due(app.app[AGENCIES]) for app in (a, b, a, b)))
    assert sum(counts) <= 1  # the background sweep may have claimed it first
    await remind_due(b.app[AGENCIES])
    async with db(a.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT user_id, target_id FROM notifications WHERE target_type = 'agency_event'")
        reminded = {r["id"]: r["reminded_at"] for r in await conn.fetch("SELECT id, reminded_at FROM agency_events")}
    assert sorted((r["user_id"], r["target_id"]) for r in rows) == sorted(
        (u.id, str(due["id"])) for u in (c.owner, c.admin, c.moderator, c.member)
    )
    assert reminded[due["id"]] is not None and reminded[not_yet["id"]] is None
    pushed = await member.wait_for("notification:new")
    assert [p["data"]["event_id"] for p in pushed] == [due["id"]] and pushed[0]["data"]["event"] == "event_reminder"
    listed = await a.get(events_url(c.agency_id), headers=bearer(c.member.token))
    assert [e["reminded"] for e in (await listed.json())["data"]["items"]] == [True, False]
