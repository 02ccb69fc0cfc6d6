"""The moderation section (issue 15 §5) in a real Chromium against the real server: the report
queue with filters, a case resolved (a platform mute) and a room closed from the case page, an
appeal overturned (the suspension lifted), the chat word filter edited and live on a socket of
another engine process, the statistics; a role without rooms.moderate refused; a CSRF-less POST
refused with nothing changed."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from engine.appkeys import CONFIG
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, db, heard_by, join, new_user
from tests.reports_setup import post, report, resolve
from tests.sockets import url_of


def _url(client: Any) -> str:
    return str(client.app[CONFIG].database_url)


async def test_the_queue_filters_and_a_case_is_resolved_with_a_mute(client: Any, page: Any) -> None:
    base = url_of(client)
    mod = await new_user(client, "Mia Moderator", role="moderator")
    spammer, harasser = await new_user(client, "Sam Spammer"), await new_user(client, "Hal Harasser")
    reporters = [await new_user(client, f"Reporter {i}") for i in range(2)]
    for r in reporters:
        await report(client, r, "user", spammer.id, "spam", details="sends links", evidence_urls=["https://x.test/1"])
    await report(client, reporters[0], "user", harasser.id, "harassment")

    await sign_in(page, base, mod.phone, PASSWORD)
    await page.goto(f"{base}/admin/moderation")
    rows = page.locator("tbody tr")
    assert await rows.count() == 2
    assert "Sam Spammer" in await rows.nth(0).inner_text()  # two reporters rank first
    await shot(page, "moderation-queue")
    await page.get_by_label("Reason", exact=True).select_option("harassment")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(re.compile(r".*reason=harassment.*"))
    assert await rows.count() == 1 and "Hal Harasser" in await rows.nth(0).inner_text()

    await page.goto(f"{base}/admin/moderation")
    await page.get_by_role("link", name=re.compile(r"^#\d+$")).first.click()
    await page.get_by_role("heading", name=re.compile(r"Case #\d+")).wait_for()
    case_id = int(page.url.rsplit("/", 1)[1])
    assert "sends links" in await page.get_by_role("table").first.inner_text()
    await page.get_by_role("button", name="Assign to me").click()
    await page.get_by_text("Assigned to you.").wait_for()
    await page.get_by_label("Action", exact=True).select_option("mute")
    await page.get_by_label("Minutes (mute and suspend only)").fill("30")
    await page.get_by_label(re.compile(r"^Note")).fill("link spam")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Resolve").click()
    await page.get_by_text("Case resolved: mute.").wait_for()
    assert "report.resolve" in await page.locator("#history").inner_text()
    await shot(page, "moderation-case")
    async with db(_url(client)) as conn:
        case = await conn.fetchrow("SELECT state, action, assignee_id, note FROM moderation_cases WHERE id = $1",
                                   case_id)  # fmt: skip
        mute = await conn.fetchrow("SELECT until > now() + interval '29 minutes' AS ok, case_id FROM platform_mutes "
                                   "WHERE user_id = $1", spammer.id)  # fmt: skip
    assert dict(case) == {"state": "actioned", "action": "mute", "assignee_id": mod.id, "note": "link spam"}
    assert mute is not None and mute["ok"] and mute["case_id"] == case_id


async def test_the_owner_is_kicked_and_the_room_closed_from_its_case(client: Any, page: Any, connect: Any) -> None:
    base = url_of(client)
    mod, owner, reporter = await new_user(client, role="moderator"), await new_user(client), await new_user(client)
    peer = await connect(client, owner)
    await join(peer, owner.room)
    await report(client, reporter, "room", owner.room, "sexual")
    await sign_in(page, base, mod.phone, PASSWORD)
    await page.goto(f"{base}/admin/moderation?target_type=room")
    await page.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    await page.get_by_label("Kick the subject out for (minutes)").fill("15")
    await page.get_by_label("Reason (shown to them)").fill("cool off")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Kick from the room").click()
    await page.get_by_text(f"Kicked from room {owner.room} for 15 min.").wait_for()
    (kicked,) = await peer.wait_for("room:kicked")
    assert kicked["reason"] == "cool off" and kicked["remaining_seconds"] == 900
    await page.get_by_label(re.compile(r"^Why the room is closed")).fill("explicit stream")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Close the room").click()
    await page.get_by_text(f"Room {owner.room} closed.").wait_for()
    async with db(_url(client)) as conn:
        assert await conn.fetchval("SELECT is_closed FROM rooms WHERE id = $1", owner.room) is True
        details = await conn.fetchval("SELECT details FROM audit_log WHERE action = 'room.close' AND actor_id = $1",
                                      mod.id)  # fmt: skip
    assert "explicit stream" in details


async def test_an_appeal_is_overturned_and_the_suspension_lifted(client: Any, page: Any) -> None:
    base = url_of(client)
    mod, admin = await new_user(client, role="moderator"), await new_user(client, role="admin")
    user, reporter = await new_user(client, "Una User"), await new_user(client)
    case = await report(client, reporter, "user", user.id, "scam")
    await resolve(client, admin, case["case_id"], "suspend", minutes=600, note="scam links")
    await post(client, user, "/api/v1/appeals", {"phone": user.phone, "password": PASSWORD,
                                                "details": "It was my brother"}, 201)  # fmt: skip

    await sign_in(page, base, mod.phone, PASSWORD)
    await page.goto(f"{base}/admin/moderation/appeals")
    assert "It was my brother" in await page.locator("main").inner_text()
    await shot(page, "moderation-appeals")
    await page.get_by_label(re.compile(r"^Note to keep")).fill("benefit of the doubt")
    await page.get_by_role("button", name="Overturn (lift the action)").click()
    await page.get_by_text(re.compile(r"Appeal \d+ overturned and the action lifted\.")).wait_for()
    async with db(_url(client)) as conn:
        assert await conn.fetchval("SELECT status FROM users WHERE id = $1", user.id) == "active"
        appeal = await conn.fetchrow("SELECT state, reviewed_by, note FROM moderation_appeals WHERE user_id = $1",
                                     user.id)  # fmt: skip
    assert dict(appeal) == {"state": "overturned", "reviewed_by": mod.id, "note": "benefit of the doubt"}


async def _chat(peer: Any, room: int, text: str) -> dict[str, Any]:
    ack: dict[str, Any] = await peer.call("chat:message", {"roomId": room, "content": text})
    return ack


async def test_the_word_filter_edit_is_live_in_another_process(make_client: Any, page: Any, connect: Any) -> None:
    first, second = await make_client(), await make_client()  # two engine processes, one database
    mod, talker = await new_user(first, role="moderator"), await new_user(first, "Tess Talker")
    peer = await connect(second, talker)
    await join(peer, talker.room)
    assert (await _chat(peer, talker.room, "what a zonker day"))["success"] is True

    await sign_in(page, url_of(first), mod.phone, PASSWORD)
    await page.goto(f"{url_of(first)}/admin/moderation/words")
    async with heard_by(_url(first), second.app):
        await page.get_by_label("Words (separated by commas, spaces or lines)").fill("Zonker, blarg\nzonker")
        await page.get_by_role("button", name="Add to the filter").click()
        await page.get_by_text("Added 2 word(s): blarg, zonker").wait_for()
    await shot(page, "moderation-words")
    refused = await _chat(peer, talker.room, "what a ZONKER day")
    assert refused["success"] is False and refused["error"] == "Message not allowed"
    assert (await _chat(peer, talker.room, "zonkers are fine"))["success"] is True  # whole words only
    async with db(_url(first)) as conn:
        assert await conn.fetchval("SELECT source FROM moderation_cases WHERE subject_user_id = $1",
                                   talker.id) == "word_filter"  # fmt: skip
        audit = await conn.fetchval("SELECT details FROM audit_log WHERE action = 'word_filter.add'")
    assert "zonker" in audit

    async with heard_by(_url(first), second.app):
        await page.get_by_label("Remove zonker").check()
        await page.get_by_label("Remove blarg").check()
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.get_by_role("button", name="Remove the selected words").click()
        await page.get_by_text("Removed 2 word(s).").wait_for()
    assert (await _chat(peer, talker.room, "zonker blarg again"))["success"] is True
    async with db(_url(first)) as conn:
        assert await conn.fetchval("SELECT count(*) FROM chat_blocked_words") == 0


async def test_statistics_and_refusals(client: Any, page: Any) -> None:
    base = url_of(client)
    mod, support = await new_user(client, role="moderator"), await new_user(client, role="support")
    target, reporter = await new_user(client), await new_user(client)
    case = await report(client, reporter, "user", target.id, "spam")
    await resolve(client, mod, case["case_id"], "warn")
    await report(client, reporter, "user", (await new_user(client)).id, "hate")

    await sign_in(page, base, mod.phone, PASSWORD)
    await page.goto(f"{base}/admin/moderation/stats")
    assert (await page.locator("#stat-open").inner_text()).strip() == "1"
    assert (await page.locator("#stat-resolved").inner_text()).strip() == "1"
    assert "warn" in await page.locator("main").inner_text()
    await shot(page, "moderation-stats")
    # No CSRF token: refused, nothing added.
    resp = await page.request.post(f"{base}/admin/moderation/words/add", form={"words": "sneaky"}, max_redirects=0)
    assert resp.status == 403
    async with db(_url(client)) as conn:
        assert await conn.fetchval("SELECT count(*) FROM chat_blocked_words") == 0

    await page.context.clear_cookies()
    await sign_in(page, base, support.phone, PASSWORD)
    for path in ("/admin/moderation", "/admin/moderation/words", "/admin/moderation/cases/1"):
        resp = await page.goto(f"{base}{path}")
        assert resp is not None and resp.status == 403, path
    assert "rooms.moderate" in await page.get_by_role("alert").inner_text()
    await shot(page, "moderation-denied-support")
