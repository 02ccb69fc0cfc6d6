"""Reports (issue 12 §4), the reporter's side, through the real server: filing on each target type,
merging a second report by the same reporter, the hourly rate limit, 422/404 for bad or unseen
targets, one's reports with their state and outcome in cursor pages, and the appeal rules."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from engine.appkeys import METRICS
from engine.config import Rate
from engine.gdpr import store as gdpr_store
from engine.gdpr.registry import TABLES
from tests.helpers import Client, db, join, new_user
from tests.inbox_setup import call, open_thread, send
from tests.reports_setup import database, get, mine, post, queue, report, resolve
from tests.social_setup import block
from tests.sockets import open_peers


async def test_a_report_is_filed_and_a_second_one_merged_into_it(client: Client) -> None:
    reporter, other, target = [await new_user(client, name) for name in ("Reporter", "Other", "Target")]
    first = await report(client, reporter, "user", target.id, "spam", details="sends links")
    assert first["merged"] is False and first["state"] == "open" and first["outcome"] is None
    assert (first["target_type"], first["target_id"], first["reason"]) == ("user", str(target.id), "spam")
    again = await report(client, reporter, "user", str(target.id), "harassment", evidence_urls=["https://x.test/1"])
    assert again["merged"] is True and again["id"] == first["id"] and again["case_id"] == first["case_id"]
    assert (again["reason"], again["details"], again["evidence_urls"]) == ("harassment", "sends links",
                                                                          ["https://x.test/1"])  # fmt: skip
    assert [r["id"] for r in (await mine(client, reporter))["items"]] == [first["id"]]
    second = await report(client, other, "user", target.id, "hate")
    assert second["case_id"] == first["case_id"] and second["id"] != first["id"]  # one case per target
    staff = await new_user(client, "Mod", role="moderator")
    (case,) = await queue(client, staff)
    assert case["reporter_count"] == 2 and sorted(case["reasons"]) == ["harassment", "hate", "spam"]
    assert case["subject_user_id"] == target.id and case["source"] == "report"


async def test_concurrent_reports_on_one_target_make_one_case_and_count_each_reporter(client: Client) -> None:
    target, staff = await new_user(client), await new_user(client, role="moderator")
    reporters = [await new_user(client) for _ in range(5)]
    filed = await asyncio.gather(*(report(client, r, "user", target.id, reason) for r in reporters
                                   for reason in ("spam", "scam")))  # fmt: skip
    assert len({f["case_id"] for f in filed}) == 1 and len({f["id"] for f in filed}) == 5
    assert sorted(f["merged"] for f in filed) == [False] * 5 + [True] * 5
    (case,) = await queue(client, staff)
    assert case["reporter_count"] == 5 and sorted(case["reasons"]) == ["scam", "spam"]
    registry = client.app[METRICS].registry
    assert registry.get_sample_value("flylive_reports_opened_total", {"source": "report", "target_type": "user"}) == 5
    assert registry.get_sample_value("flylive_reports_opened_total", {"source": "merged", "target_type": "user"}) == 5


async def test_bad_input_answers_422_with_fields_and_unseen_targets_404(client: Client) -> None:
    me, target, blocker = await new_user(client), await new_user(client), await new_user(client)
    bad = [
        ({"target_type": "user", "target_id": target.id, "reason": "meh"}, "reason"),
        ({"target_type": "planet", "target_id": target.id, "reason": "spam"}, "target_type"),
        ({"target_type": "user", "target_id": target.id, "reason": "spam", "details": "x" * 1001}, "details"),
        ({"target_type": "user", "target_id": target.id, "reason": "spam", "evidence_urls": ["https://a.b"] * 4},
         "evidence_urls"),
        ({"target_type": "user", "target_id": target.id, "reason": "spam", "evidence_urls": ["javascript:x"]},
         "evidence_urls"),
        ({"target_type": "user", "reason": "spam"}, "target_id"),
        ({"target_type": "user", "target_id": "abc", "reason": "spam"}, "target_id"),
        ({"target_type": "user", "target_id": me.id, "reason": "spam"}, "target_id"),
    ]  # fmt: skip
    for body, field in bad:
        answer = await post(client, me, "/api/v1/reports", body, 422)
        assert field in answer["error"]["fields"], (body, answer)
    await report(client, me, "user", 987654321, status=404)
    await block(client, blocker, me)  # who blocked me is hidden from me …
    await report(client, me, "user", blocker.id, status=404)
    await report(client, blocker, "user", me.id)  # … whom I blocked is not
    await report(client, me, "room", 987654321, status=404)
    await report(client, me, "room", target.room)
    await report(client, me, "message", "00000000-0000-4000-8000-000000000000", status=404)  # in no room
    await report(client, me, "dm_message", 987654321, status=404)


async def test_reports_are_rate_limited_per_user(make_client: Any) -> None:
    client = await make_client(report_rate_limit=Rate(2, 3600))
    me, a, b, c = [await new_user(client) for _ in range(4)]
    await report(client, me, "user", a.id)
    await report(client, me, "user", b.id)
    resp = await client.post("/api/v1/reports", json={"target_type": "user", "target_id": c.id, "reason": "spam"},
                             headers={"Authorization": f"Bearer {me.token}"})  # fmt: skip
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0, await resp.text()
    await report(client, c, "user", a.id)  # someone else's budget is their own


async def test_a_room_chat_message_is_reported_by_its_id_with_a_snapshot(client: Client) -> None:
    owner, sender, staff = (
        await new_user(client, "Owner"),
        await new_user(client, "Sender"),
        await new_user(client, role="moderator"),
    )
    outsider = await new_user(client)
    async with open_peers() as open_peer:
        a, b = await open_peer(client, owner), await open_peer(client, sender)
        await join(a, owner.room)
        await join(b, owner.room)
        assert (await b.call("chat:message", {"roomId": owner.room, "content": "buy followers"}))["success"]
        (message,) = await a.wait_for("chat:message")
        await report(client, outsider, "message", message["id"], room_id=owner.room, status=404)  # not in the room
        await report(client, sender, "message", message["id"], status=422)  # one's own
        filed = await report(client, owner, "message", message["id"], "scam")
    assert filed["target_id"] == message["id"]
    (case,) = await queue(client, staff, target_type="message")
    assert (case["subject_user_id"], case["room_id"]) == (sender.id, owner.room)
    assert case["snapshot"]["content"] == "buy followers" and case["snapshot"]["userId"] == sender.id


async def test_my_reports_show_the_state_and_outcome_in_pages(client: Client) -> None:
    me, staff = await new_user(client), await new_user(client, role="moderator")
    targets = [await new_user(client) for _ in range(3)]
    filed = [await report(client, me, "user", t.id) for t in targets]
    await post(client, staff, f"/api/v1/admin/reports/{filed[0]['case_id']}/assign", {"assignee_id": staff.id}, 200)
    await resolve(client, staff, filed[1]["case_id"], "warn")
    await resolve(client, staff, filed[2]["case_id"], "dismiss")
    page1 = await mine(client, me, limit=2)
    page2 = await mine(client, me, limit=2, cursor=page1["next_cursor"])
    assert page2["next_cursor"] is None
    items = {i["id"]: i for i in page1["items"] + page2["items"]}
    assert [i["id"] for i in page1["items"] + page2["items"]] == [f["id"] for f in reversed(filed)]
    assert items[filed[0]["id"]]["state"] == "reviewing" and items[filed[0]["id"]]["outcome"] is None
    late = await report(client, await new_user(client), "user", targets[0].id)  # joins the case under review
    assert (late["case_id"], late["state"]) == (filed[0]["case_id"], "reviewing")
    warned = items[filed[1]["id"]]
    assert warned["state"] == "actioned" and warned["outcome"]["action"] == "warn"
    assert warned["outcome"]["overturned"] is False and warned["outcome"]["resolved_at"]
    assert items[filed[2]["id"]]["state"] == "dismissed" and items[filed[2]["id"]]["outcome"]["action"] == "dismiss"
    assert [i["id"] for i in (await mine(client, me, state="actioned"))["items"]] == [filed[1]["id"]]
    await get(client, me, "/api/v1/me/reports", 422, state="closed")
    await get(client, me, "/api/v1/me/reports", 422, cursor="nonsense")


async def test_only_the_reported_user_appeals_an_action_once_within_14_days(client: Client) -> None:
    me, target, staff = await new_user(client), await new_user(client), await new_user(client, role="moderator")
    warned = await report(client, me, "user", target.id)
    path = f"/api/v1/reports/{warned['case_id']}/appeal"
    assert (await post(client, target, path, {"details": "too early"}, 409))["error"]["code"] == "nothing_to_appeal"
    await resolve(client, staff, warned["case_id"], "warn")
    await post(client, me, path, {"details": "not me"}, 403)  # the reporter is not the one acted on
    await post(client, target, path, {"details": ""}, 422)
    await post(client, target, "/api/v1/reports/987654321/appeal", {"details": "x"}, 404)
    appeal = (await post(client, target, path, {"details": "I did nothing"}, 201))["data"]
    assert (appeal["case_id"], appeal["user_id"], appeal["state"]) == (warned["case_id"], target.id, "pending")
    assert (await post(client, target, path, {"details": "again"}, 409))["error"]["code"] == "already_appealed"

    late = await report(client, me, "room", target.room)
    await resolve(client, staff, late["case_id"], "warn")
    async with db(database(client)) as conn:
        await conn.execute("UPDATE moderation_cases SET resolved_at = now() - interval '15 days' WHERE id = $1",
                           late["case_id"])  # fmt: skip
    closed = await post(client, target, f"/api/v1/reports/{late['case_id']}/appeal", {"details": "x"}, 409)
    assert closed["error"]["code"] == "appeal_window_closed"

    dismissed = await report(client, target, "user", me.id)
    await resolve(client, staff, dismissed["case_id"], "dismiss")
    await post(client, me, f"/api/v1/reports/{dismissed['case_id']}/appeal", {"details": "x"}, 409)


async def test_the_export_shows_the_reported_user_the_cases_about_them_never_who_reported(client: Client) -> None:
    reporter, target = await new_user(client, "Reporter"), await new_user(client, "Target")
    filed = await report(client, reporter, "user", target.id, details="they spam")
    tables = {t.name: t for t in TABLES}
    async with db(database(client)) as conn:
        subject_reports, n = await gdpr_store.export_rows(conn, tables["reports"], target.id)
        assert n == 0, subject_reports
        cases, n = await gdpr_store.export_rows(conn, tables["moderation_cases"], target.id)
        (case,) = json.loads(cases)
        assert n == 1 and case["subject_user_id"] == target.id and "reporter_id" not in case
        assert (case["assignee_id"], case["resolved_by"]) == (None, None)  # the only other user columns
        own, n = await gdpr_store.export_rows(conn, tables["reports"], reporter.id)
        assert n == 1 and json.loads(own)[0]["details"] == "they spam"
        # The reporter's account purged: the report stays (the case counts it), without what they wrote.
        for ref in tables["reports"].refs:
            await gdpr_store.apply_rule_txn(conn, tables["reports"], ref, reporter.id)
        row = await conn.fetchrow("SELECT details, reason FROM reports WHERE id = $1", filed["id"])
    assert (row["details"], row["reason"]) == (None, "spam")


async def test_a_direct_message_is_reported_by_a_member_of_its_thread(client: Client) -> None:
    sender, recipient, outsider = await new_user(client, "Sender"), await new_user(client), await new_user(client)
    staff = await new_user(client, role="moderator")
    thread = (await open_thread(client, sender, recipient))["id"]
    message = await send(client, sender, thread, "send me your password")
    gone = await send(client, sender, thread, "oops")
    await call(client, "DELETE", sender, f"/api/v1/threads/{thread}/messages/{gone['id']}")
    await report(client, outsider, "dm_message", message["id"], status=404)  # not in the thread
    await report(client, sender, "dm_message", message["id"], status=422)  # one's own
    await report(client, recipient, "dm_message", gone["id"], status=404)  # unsent: gone
    await report(client, recipient, "dm_message", "abc", status=422)
    filed = await report(client, recipient, "dm_message", message["id"], "scam")
    assert filed["target_id"] == str(message["id"])
    (case,) = await queue(client, staff, target_type="dm_message")
    assert case["subject_user_id"] == sender.id and case["snapshot"]["text"] == "send me your password"
    assert case["snapshot"]["thread_id"] == thread
