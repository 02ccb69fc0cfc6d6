"""Notifications (issue 12 §5) through the real server: the list with its unread filter and cursor
pages that stay stable while notifications arrive, marking read by ids and all, the unread count,
per-kind preferences (a kind off is neither stored nor pushed), `notification:new` pushed to the
user's sockets on another engine process, and the retention job deleting only old rows."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.appkeys import NOTIFICATIONS, SERVICES
from engine.config import Rate
from engine.notifications import actions
from engine.notifications.model import Notice
from tests.helpers import User, bearer, db, new_user
from tests.social_setup import block, follow


async def get(client: Any, user: User, path: str, status: int = 200, **params: str) -> Any:
    resp = await client.get(path, params=params, headers=bearer(user.token))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def listed(client: Any, user: User, **params: str) -> dict[str, Any]:
    data: dict[str, Any] = (await get(client, user, "/api/v1/me/notifications", **params))["data"]
    return data


async def unread(client: Any, user: User) -> int:
    count: int = (await get(client, user, "/api/v1/me/notifications/unread-count"))["data"]["unread_count"]
    return count


async def mark(client: Any, user: User, body: Any, status: int = 200) -> Any:
    resp = await client.post("/api/v1/me/notifications/read", json=body, headers=bearer(user.token))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def prefs(client: Any, user: User, body: Any, status: int = 200) -> Any:
    resp = await client.patch("/api/v1/me/notification-preferences", json=body, headers=bearer(user.token))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_a_follow_is_listed_with_its_actor_and_counted_unread(client: Any) -> None:
    fan, star = await new_user(client, "Fan"), await new_user(client, "Star")
    assert await listed(client, star) == {"items": [], "next_cursor": None}
    await follow(client, fan, star)
    (item,) = (await listed(client, star))["items"]
    assert item == {"id": item["id"], "kind": "follow", "actor": {"id": fan.id, "name": "Fan", "avatar_image": None},
                    "target_type": "user", "target_id": str(fan.id), "text": "Fan started following you.",
                    "data": {}, "created_at": item["created_at"], "read_at": None}  # fmt: skip
    assert await unread(client, star) == 1
    assert await unread(client, fan) == 0  # someone else's notifications are not mine


async def test_mark_read_by_ids_and_all_and_the_unread_filter(client: Any) -> None:
    star, other = await new_user(client, "Star"), await new_user(client, "Other")
    fans = [await new_user(client, f"Fan {n}") for n in range(5)]
    for fan in fans:
        await follow(client, fan, star)
    await follow(client, fans[0], other)
    ids = [i["id"] for i in (await listed(client, star))["items"]]
    assert len(ids) == 5 and await unread(client, star) == 5
    (foreign,) = [i["id"] for i in (await listed(client, other))["items"]]
    # Two of mine, one twice, and someone else's (ignored: it stays unread for its owner).
    answer = (await mark(client, star, {"ids": [ids[0], ids[1], ids[1], foreign]}))["data"]
    assert answer == {"marked": 2, "unread_count": 3}
    assert (await mark(client, star, {"ids": [ids[0]]}))["data"] == {"marked": 0, "unread_count": 3}  # idempotent
    assert await unread(client, other) == 1
    only_unread = (await listed(client, star, unread="true"))["items"]
    assert [i["id"] for i in only_unread] == ids[2:]
    everything = (await listed(client, star, unread="false"))["items"]
    assert [i["id"] for i in everything] == ids and all(i["read_at"] for i in everything[:2])
    assert (await mark(client, star, {"all": True}))["data"] == {"marked": 3, "unread_count": 0}
    assert (await listed(client, star, unread="true"))["items"] == []
    assert await unread(client, other) == 1


async def test_bad_read_requests_and_queries_are_422_with_field_errors(client: Any) -> None:
    me = await new_user(client, "Me")
    for body, field in (({}, "ids"), ({"ids": [1], "all": True}, "all"), ({"ids": []}, "ids"),
                        ({"ids": list(range(1, 102))}, "ids"), ({"ids": [0]}, "ids"), ({"ids": ["x"]}, "ids"),
                        ({"all": "yes"}, "all")):  # fmt: skip
        error = (await mark(client, me, body, status=422))["error"]
        assert error["code"] == "validation_failed" and field in error["fields"], (body, error)
    for params, field in (({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"cursor": "nope"}, "cursor"),
                          ({"unread": "maybe"}, "unread")):  # fmt: skip
        error = (await get(client, me, "/api/v1/me/notifications", status=422, **params))["error"]
        assert field in error["fields"], (params, error)
    error = (await prefs(client, me, {"follow": "off"}, status=422))["error"]
    assert "follow" in error["fields"]
    error = (await prefs(client, me, {"unknown_kind": False}, status=422))["error"]
    assert error["code"] == "validation_failed"
    resp = await client.get("/api/v1/me/notifications")
    assert resp.status == 401


async def test_pages_stay_stable_while_notifications_arrive(client: Any) -> None:
    star = await new_user(client, "Star")
    fans = [await new_user(client, f"Fan {n}") for n in range(11)]
    late = [await new_user(client, f"Late {n}") for n in range(8)]
    for fan in fans:
        await follow(client, fan, star)
    seen: list[int] = []
    actors: list[int] = []
    cursor = None
    for page_number in range(20):
        page = await listed(client, star, limit="3", **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 3
        seen += [i["id"] for i in page["items"]]
        actors += [i["actor"]["id"] for i in page["items"]]
        # New notifications arrive between the pages (two at a time, concurrently).
        await asyncio.gather(*(follow(client, fan, star) for fan in late[2 * page_number : 2 * page_number + 2]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(fans)  # nothing twice, nothing skipped
    assert actors == [f.id for f in reversed(fans)]  # newest first, only those before the first page
    assert await unread(client, star) == len(fans) + len(late)


async def test_a_kind_switched_off_is_neither_stored_nor_pushed(client: Any, connect: Any) -> None:
    fan, star, later = await new_user(client, "Fan"), await new_user(client, "Star"), await new_user(client, "Later")
    default = (await get(client, star, "/api/v1/me/notification-preferences"))["data"]
    assert default == {
        "follow": True,
        "dm": True,
        "gift": True,
        "system": True,
        "agency": True,
        "appreciation": True,
        "recognition": True,
    }
    s = await connect(client, star)
    changed = (await prefs(client, star, {"follow": False, "gift": False}))["data"]
    assert changed == {**default, "follow": False, "gift": False}
    assert (await prefs(client, star, {}))["data"] == changed  # nothing sent, nothing changed
    await follow(client, fan, star)
    await s.wait_for("user.followed")  # the follow itself is still told
    notifications = client.app[NOTIFICATIONS]
    assert await notifications.notify(Notice(user_id=star.id, kind="gift", text="A gift")) is None
    assert await notifications.notify(Notice(user_id=star.id, kind="system", text="Welcome")) is not None
    (pushed,) = await s.wait_for("notification:new")
    assert pushed["kind"] == "system" and pushed["text"] == "Welcome" and pushed["actor"] is None
    assert [i["kind"] for i in (await listed(client, star))["items"]] == ["system"]
    # Switched back on: the next follow is stored and pushed (the one made while off is not brought back).
    assert (await prefs(client, star, {"follow": True}))["data"]["follow"] is True
    await follow(client, later, star)
    await s.wait_for("notification:new", 2)
    assert [i["kind"] for i in (await listed(client, star))["items"]] == ["follow", "system"]
    assert s.events["notification:new"][1]["actor"]["id"] == later.id
    registry = client.app[SERVICES].metrics.registry
    counted = {(kind, outcome): registry.get_sample_value("flylive_notifications_total",
                                                          {"kind": kind, "outcome": outcome})
               for kind, outcome in (("follow", "stored"), ("follow", "skipped"), ("gift", "skipped"),
                                     ("system", "stored"))}  # fmt: skip
    assert counted == {("follow", "stored"): 1, ("follow", "skipped"): 1, ("gift", "skipped"): 1,
                       ("system", "stored"): 1}  # fmt: skip


async def test_notification_new_reaches_every_socket_of_the_user_on_another_process_and_offline_is_stored(
    make_client: Any, connect: Any
) -> None:
    a, b = await make_client(), await make_client()
    fan, star, bystander = await new_user(a, "Fan"), await new_user(a, "Star"), await new_user(a, "Bystander")
    await follow(a, fan, star)  # while the star is offline: stored all the same
    assert await unread(a, star) == 1
    on_b, also_on_b, on_a = await connect(b, star), await connect(b, star), await connect(a, star)
    other = await connect(b, bystander)
    second = await new_user(a, "Second")
    await follow(a, second, star)  # made on process a; two of the star's sockets are on b
    for peer in (on_b, also_on_b, on_a):
        (pushed,) = await peer.wait_for("notification:new")
        assert pushed["kind"] == "follow" and pushed["actor"] == {"id": second.id, "name": "Second",
                                                                  "avatar_image": None}  # fmt: skip
    (newest, _first) = (await listed(b, star))["items"]
    assert on_b.events["notification:new"][0] == newest  # the push is the stored notification, as listed
    await a.app[NOTIFICATIONS].notify(Notice(user_id=bystander.id, kind="system", text="Hello"))
    await other.wait_for("notification:new")
    assert len(on_b.events["notification:new"]) == 1  # the star got nothing of the bystander's


async def test_retention_deletes_only_rows_older_than_the_setting_in_batches(make_client: Any) -> None:
    client = await make_client(notification_retention_days=30)
    star = await new_user(client, "Star")
    fans = [await new_user(client, f"Fan {n}") for n in range(6)]
    for fan in fans:
        await follow(client, fan, star)
    async with db(client.app[SERVICES].config.database_url) as conn:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM notifications ORDER BY id")]
        ages = [400, 31, 30.5, 29, 1, 0]  # days
        for row_id, days in zip(ids, ages, strict=True):
            await conn.execute("UPDATE notifications SET created_at = now() - $2 * interval '1 day' WHERE id = $1",
                               row_id, days)  # fmt: skip
    # Batches of 2 and at most one batch per pass: the first pass deletes two, the second the last old one.
    assert await actions.purge_old(client.app[SERVICES], batch=2, max_batches=1) == 2
    assert await actions.purge_old(client.app[SERVICES], batch=2, max_batches=10) == 1
    assert await actions.purge_old(client.app[SERVICES], batch=2, max_batches=10) == 0
    async with db(client.app[SERVICES].config.database_url) as conn:
        kept = [r["id"] for r in await conn.fetch("SELECT id FROM notifications ORDER BY id")]
    assert kept == ids[3:]
    assert await unread(client, star) == 3


async def test_the_routes_fall_under_the_http_rate_limit_with_retry_after(make_client: Any) -> None:
    client = await make_client(http_rate_limit=Rate(2, 60))
    me = await new_user(client, "Me")
    for _ in range(2):
        await mark(client, me, {"all": True})
    resp = await client.post("/api/v1/me/notifications/read", json={"all": True}, headers=bearer(me.token))
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0


async def test_a_block_deletes_what_each_was_notified_of_by_the_other(client: Any) -> None:
    a, b, c = await new_user(client, "A"), await new_user(client, "B"), await new_user(client, "C")
    await follow(client, a, b)
    await follow(client, b, a)
    await follow(client, c, b)
    await block(client, a, b)  # a blocks b: b's notification from a, and a's from b, go
    assert [i["actor"]["id"] for i in (await listed(client, b))["items"]] == [c.id]
    assert (await listed(client, a))["items"] == [] and await unread(client, b) == 1
