"""Who may read a user's activity and stats (the privacy × relationship matrix: stranger, follower,
friend, blocked, blocker, self), what the other settings still hide inside, bad input, pagination
while rows are inserted, and the retention purge."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.activity import actions
from engine.appkeys import SERVICES
from tests.helpers import bearer, db, new_user
from tests.social_setup import AUDIENCES, SEES, block, everyone_sees, follow, set_privacy, viewers_of


async def seed(database_url: str, user_id: int, other_id: int | None, kind: str, source: str,
               happened_at: dt.datetime | None = None, coins: int = 0) -> None:  # fmt: skip
    async with db(database_url) as conn:
        await conn.execute(
            """INSERT INTO user_activity (user_id, kind, other_user_id, coins, source, happened_at)
               VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))""",
            user_id, kind, other_id, coins, source, happened_at,
        )  # fmt: skip


async def test_activity_and_stats_follow_the_matrix(client: Any, config: Any) -> None:
    target = await new_user(client, "Target")
    viewers = await viewers_of(client, target)
    await seed(config.database_url, target.id, None, "room_visit", "v1")
    missing = await client.get("/api/v1/users/999999999/activity", headers=bearer(viewers["stranger"].token))
    assert missing.status == 404
    for audience in AUDIENCES:
        await set_privacy(client, target, activity=audience)
        for relation, viewer in viewers.items():
            for route in ("activity", "stats"):
                resp = await client.get(f"/api/v1/users/{target.id}/{route}", headers=bearer(viewer.token))
                sees = relation in SEES[audience] and relation not in ("blocked", "blocker")
                assert resp.status == (200 if sees else 404), (audience, relation, route)
                body = await resp.json()
                if not sees:  # exactly as for a user who does not exist
                    assert body["error"]["code"] == "not_found"
                    assert body["message"] == f"No query results for model [User] {target.id}"
                elif route == "activity":
                    # The visit, and the follow the friend relation needed (target follows friend).
                    assert [i["kind"] for i in body["data"]["items"]] == ["room_visit", "follow"]
                else:
                    assert body["data"]["room_visits"] == 1


async def test_other_settings_still_hide_their_part(client: Any, config: Any) -> None:
    target, giver, followed = [await new_user(client, n) for n in ("Target", "Giver", "Followed")]
    stranger = await new_user(client, "Stranger")
    await follow(client, target, followed)
    await seed(config.database_url, target.id, giver.id, "gift_received", "g1", coins=50)
    await seed(config.database_url, target.id, giver.id, "gift_sent", "g2", coins=20)
    await everyone_sees(client, target, "everyone")
    kinds = {i["kind"] for i in (await _feed(client, stranger, target.id))["items"]}
    assert kinds == {"follow", "gift_received", "gift_sent"}
    await set_privacy(client, target, received_gifts="nobody", following_list="nobody", followers_list="nobody")
    for viewer, sees in ((stranger, False), (target, True)):
        items = (await _feed(client, viewer, target.id))["items"]
        assert {i["kind"] for i in items} == ({"follow", "gift_received", "gift_sent"} if sees else {"gift_sent"})
        hidden = (await _feed(client, viewer, target.id, "?kind=gift_received"))["items"]
        assert len(hidden) == (1 if sees else 0)
        resp = await client.get(f"/api/v1/users/{target.id}/stats", headers=bearer(viewer.token))
        stats = (await resp.json())["data"]
        assert stats["gifts_sent_coins"] == 20
        assert stats["gifts_received_coins"] == (50 if sees else None)
        assert (stats["followers_trend"] is not None) is sees
    # A row about someone in a block with the viewer is left out of the viewer's page.
    await block(client, giver, stranger)
    assert (await _feed(client, stranger, target.id))["items"] == []
    assert len((await _feed(client, target, target.id))["items"]) == 3


async def _feed(client: Any, viewer: Any, user_id: int, query: str = "") -> Any:
    resp = await client.get(f"/api/v1/users/{user_id}/activity{query}", headers=bearer(viewer.token))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def test_bad_input_is_422(client: Any) -> None:
    user = await new_user(client)
    for query in ("?kind=unfollow", "?kind=nope", "?limit=0", "?limit=101", "?cursor=!!"):
        resp = await client.get(f"/api/v1/users/{user.id}/activity{query}", headers=bearer(user.token))
        assert resp.status == 422, query
        assert set((await resp.json())["error"]["fields"]) <= {"kind", "limit", "cursor"}
    assert (await client.get(f"/api/v1/users/{user.id}/activity")).status == 401


async def test_pages_are_stable_while_rows_are_inserted(client: Any) -> None:
    user = await new_user(client, "Pager")
    people = [await new_user(client, f"P{n}") for n in range(7)]
    for person in people[:5]:
        await follow(client, user, person)
    seen: list[int] = []
    cursor = ""
    while True:
        page = await _feed(client, user, user.id, f"?limit=2{cursor}")
        seen += [i["user"]["id"] for i in page["items"]]
        if len(seen) == 2:  # rows recorded meanwhile land before the first page
            for person in people[5:]:
                await follow(client, user, person)
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [p.id for p in reversed(people[:5])]
    fresh = await _feed(client, user, user.id, "?limit=2")
    assert [i["user"]["id"] for i in fresh["items"]] == [people[6].id, people[5].id]


async def test_retention_purges_old_activity_in_batches(make_client: Any, config: Any) -> None:
    client = await make_client(activity_retention_days=30)
    user = await new_user(client)
    now = dt.datetime.now(dt.UTC)
    for n in range(5):
        await seed(config.database_url, user.id, None, "room_visit", f"old{n}", now - dt.timedelta(days=31 + n))
    await seed(config.database_url, user.id, None, "room_visit", "recent", now - dt.timedelta(days=29))
    svc = client.app[SERVICES]
    assert await actions.purge_old(svc, batch=2, max_batches=2) == 4  # a pass is bounded
    assert await actions.purge_old(svc, batch=2) == 1
    assert await actions.purge_old(svc, batch=2) == 0
    async with db(config.database_url) as conn:
        assert await conn.fetchval("SELECT array_agg(source) FROM user_activity WHERE user_id = $1", user.id) == [
            "recent"
        ]
