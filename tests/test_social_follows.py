"""The follow graph (issue 12 §2) through the real server: idempotent follow and unfollow, exact
counts under concurrent toggles, lists paged by cursor while rows are inserted, friends,
suggestions, and the pushes to the followed user's sockets on another engine process."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from engine.appkeys import SERVICES
from engine.config import Rate
from tests.helpers import bearer, db, join, new_user
from tests.social_setup import block, follow, unfollow


async def counts_of(client: Any, user_id: int, token: str) -> dict[str, int]:
    resp = await client.get(f"/api/v1/users/{user_id}", headers=bearer(token))
    assert resp.status == 200, await resp.text()
    data = (await resp.json())["data"]
    return {name: data[name] for name in ("followers_count", "following_count", "friends_count")}


async def test_follow_and_unfollow_are_idempotent(client: Any) -> None:
    a, b = await new_user(client, "A"), await new_user(client, "B")
    first = (await follow(client, a, b))["data"]
    assert first == {"user_id": b.id, "following": True, "followed_by": False, "friend": False, "followers_count": 1}
    assert (await follow(client, a, b))["data"] == first
    back = (await follow(client, b, a))["data"]
    assert back["friend"] is True and back["followed_by"] is True
    assert await counts_of(client, a.id, b.token) == {"followers_count": 1, "following_count": 1, "friends_count": 1}
    gone = (await unfollow(client, a, b))["data"]
    assert gone == {"user_id": b.id, "following": False, "followed_by": True, "friend": False, "followers_count": 0}
    assert (await unfollow(client, a, b))["data"] == gone
    assert await counts_of(client, a.id, a.token) == {"followers_count": 1, "following_count": 0, "friends_count": 0}


async def test_following_yourself_a_missing_user_or_through_a_block_is_refused(client: Any) -> None:
    a, b, c = await new_user(client, "A"), await new_user(client, "B"), await new_user(client, "C")
    assert (await follow(client, a, a, status=409))["error"]["code"] == "cannot_follow_self"
    resp = await client.post("/api/v1/users/999999999/follow", headers=bearer(a.token))
    assert resp.status == 404
    missing = await resp.json()
    await block(client, b, a)  # b blocked a: a cannot follow b, and b cannot follow a
    await block(client, a, c)  # a blocked c
    for who, whom in ((a, b), (b, a), (a, c), (c, a)):
        body = await follow(client, who, whom, status=404)
        assert body["error"] == {**missing["error"], "message": f"No query results for model [User] {whom.id}"}
    async with db(client.app[SERVICES].config.database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM user_followers") == 0


async def test_counts_stay_exact_under_50_concurrent_toggles(client: Any) -> None:
    users = [await new_user(client, f"U{n}") for n in range(6)]
    rng = random.Random(12)
    # 50 follows and unfollows at once among six users (pairs repeat, in both directions).
    moves = []
    for _ in range(50):
        who, whom = rng.sample(users, 2)
        moves.append((rng.choice((follow, unfollow)), who, whom))
    await asyncio.gather(*(move(client, who, whom) for move, who, whom in moves))
    async with db(client.app[SERVICES].config.database_url) as conn:
        truth = await conn.fetch(
            """SELECT u.id,
                      (SELECT count(*) FROM user_followers WHERE following_id = u.id) AS followers_count,
                      (SELECT count(*) FROM user_followers WHERE follower_id = u.id) AS following_count,
                      (SELECT count(*) FROM user_followers f JOIN user_followers r
                         ON r.follower_id = f.following_id AND r.following_id = f.follower_id
                       WHERE f.follower_id = u.id) AS friends_count
               FROM users u WHERE u.id = ANY($1::bigint[])""",
            [u.id for u in users],
        )
        edges = await conn.fetchval("SELECT count(*) FROM user_followers")
    assert edges > 0  # the storm left some edges (the seed makes it so), not an empty graph
    for row in truth:
        expected = {k: int(row[k]) for k in ("followers_count", "following_count", "friends_count")}
        assert await counts_of(client, row["id"], users[0].token) == expected, row["id"]


async def test_lists_page_by_cursor_and_stay_stable_while_follows_arrive(client: Any) -> None:
    target, viewer = await new_user(client, "Target"), await new_user(client, "Viewer")
    fans = [await new_user(client, f"Fan {n}") for n in range(13)]
    for fan in fans:
        await follow(client, fan, target)
    late = [await new_user(client, f"Late {n}") for n in range(6)]
    seen: list[int] = []
    cursor = None
    for page_number in range(20):
        query = {"limit": "4", **({"cursor": cursor} if cursor else {})}
        resp = await client.get(f"/api/v1/users/{target.id}/followers", params=query, headers=bearer(viewer.token))
        assert resp.status == 200, await resp.text()
        page = (await resp.json())["data"]
        assert len(page["items"]) <= 4
        seen += [item["id"] for item in page["items"]]
        # New followers arrive between the pages (two at a time, concurrently).
        await asyncio.gather(*(follow(client, fan, target) for fan in late[2 * page_number : 2 * page_number + 2]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(seen) == {f.id for f in fans}  # everyone who followed before the first page, and only them
    assert seen == [f.id for f in reversed(fans)]  # newest first
    bad = await client.get(f"/api/v1/users/{target.id}/followers", params={"cursor": "nope"},
                           headers=bearer(viewer.token))  # fmt: skip
    assert bad.status == 422 and "cursor" in (await bad.json())["error"]["fields"]
    for limit in ("0", "101", "x"):
        resp = await client.get(f"/api/v1/users/{target.id}/followers", params={"limit": limit},
                                headers=bearer(viewer.token))  # fmt: skip
        assert resp.status == 422 and "limit" in (await resp.json())["error"]["fields"]


async def test_following_friends_and_viewer_flags(client: Any) -> None:
    me, a, b, c = [await new_user(client, name) for name in ("Me", "A", "B", "C")]
    for other in (a, b, c):
        await follow(client, me, other)
    await follow(client, a, me)
    await follow(client, c, me)
    resp = await client.get(f"/api/v1/users/{me.id}/following", headers=bearer(a.token))
    items = (await resp.json())["data"]["items"]
    assert [i["id"] for i in items] == [c.id, b.id, a.id]
    await follow(client, a, b)
    resp = await client.get(f"/api/v1/users/{me.id}/following", headers=bearer(a.token))
    assert [i["following"] for i in (await resp.json())["data"]["items"]] == [False, True, False]  # a follows b
    resp = await client.get("/api/v1/me/friends", headers=bearer(me.token))
    friends = (await resp.json())["data"]["items"]
    assert [i["id"] for i in friends] == [c.id, a.id] and all(i["following"] for i in friends)


async def test_suggestions_are_friends_of_friends_and_people_met_never_the_excluded(client: Any, connect: Any) -> None:
    names = ("Me", "Friend", "Fof", "Fof2", "Followed", "Blocker", "Met")
    me, friend, fof, fof2, followed, blocker, met = [await new_user(client, name) for name in names]
    friend2 = await new_user(client, "Friend2")
    for x, y in ((me, friend), (me, friend2), (friend, fof), (friend2, fof), (friend, fof2), (friend, followed),
                 (friend, blocker)):  # fmt: skip
        await follow(client, x, y)
        await follow(client, y, x)
    await follow(client, me, followed)
    await block(client, blocker, me)
    # Met: both were in the same room lately.
    m, p = await connect(client, me), await connect(client, met)
    host = await new_user(client, "Host")
    for peer in (m, p):
        await join(peer, host.room)
    resp = await client.get("/api/v1/me/suggestions", headers=bearer(me.token))
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["data"]["items"]
    ids = [i["id"] for i in items]
    assert ids[:2] == [fof.id, fof2.id]  # two mutual friends before one
    assert items[0]["mutual_friends"] == 2 and items[0]["reason"] == "friends_of_friends"
    assert {met.id, host.id} - set(ids) == {host.id}  # the host never joined its room in this test
    assert next(i for i in items if i["id"] == met.id)["reason"] == "met_in_room"
    assert not {me.id, friend.id, friend2.id, followed.id, blocker.id} & set(ids)
    assert (await resp.json())["data"]["next_cursor"] is None


async def test_suggestions_page_through_both_stages_without_repeats(client: Any, connect: Any) -> None:
    me, friend = await new_user(client, "Me"), await new_user(client, "Friend")
    await follow(client, me, friend)
    await follow(client, friend, me)
    fofs = [await new_user(client, f"Fof{i}") for i in range(3)]
    for fof in fofs:
        await follow(client, friend, fof)
        await follow(client, fof, friend)
    host = await new_user(client, "Host")
    peers = [await connect(client, me), await connect(client, fofs[0])]  # a fof met in a room: listed once
    met = [await new_user(client, f"Met{i}") for i in range(3)]
    for user in met:
        peers.append(await connect(client, user))
    for peer in peers:
        await join(peer, host.room)
    shown: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10):
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        resp = await client.get("/api/v1/me/suggestions", params=query, headers=bearer(me.token))
        assert resp.status == 200, await resp.text()
        data = (await resp.json())["data"]
        assert len(data["items"]) <= 2
        shown += data["items"]
        # A new friend of friends after the first page is not listed before the position reached.
        if len(shown) == 2:
            late = await new_user(client, "Late")
            await follow(client, friend, late)
            await follow(client, late, friend)
        if (cursor := data["next_cursor"]) is None:
            break
    ids = [i["id"] for i in shown]
    assert len(ids) == len(set(ids)), ids
    # The friends of friends in keyset order (one mutual friend each, so by id) — the one added after
    # the first page comes after the position reached, not before — then the people met, each once.
    assert ids[:4] == sorted(ids[:4]) and ids[3] == late.id
    assert all(i["reason"] == "friends_of_friends" for i in shown[:4])
    assert sorted(ids[4:]) == sorted(u.id for u in met) and all(i["reason"] == "met_in_room" for i in shown[4:])
    resp = await client.get("/api/v1/me/suggestions", params={"cursor": "bad"}, headers=bearer(me.token))
    assert resp.status == 422


async def test_a_follow_is_pushed_to_the_followed_user_on_another_process_and_stored(
    make_client: Any, connect: Any
) -> None:
    a, b = await make_client(), await make_client()
    fan, star = await new_user(a, "Fan"), await new_user(a, "Star")
    s = await connect(b, star)  # the star's socket is on process b; the follow is made on a
    await follow(a, fan, star)
    (pushed,) = await s.wait_for("user.followed")
    assert pushed == {"user_id": star.id, "followers_count": 1, "friend": False,
                      "follower": {"id": fan.id, "name": "Fan", "signature": pushed["follower"]["signature"],
                                   "avatar_image": None}}  # fmt: skip
    await follow(a, fan, star)  # already following: nothing new
    await unfollow(a, fan, star)
    (gone,) = await s.wait_for("user.unfollowed")
    assert gone == {"user_id": star.id, "follower_id": fan.id, "followers_count": 0}
    await follow(a, fan, star)  # again, while the first notification is unread: pushed, not stored twice
    await s.wait_for("user.followed", 2)
    async with db(a.app[SERVICES].config.database_url) as conn:
        rows = await conn.fetch("SELECT user_id, kind, actor_id, target_type, target_id, text FROM notifications")
    assert [dict(r) for r in rows] == [{"user_id": star.id, "kind": "follow", "actor_id": fan.id, "target_type": "user",
                                        "target_id": str(fan.id), "text": "Fan started following you."}]  # fmt: skip
    assert len(s.events["user.followed"]) == 2 and len(s.events["user.unfollowed"]) == 1


async def test_follows_are_rate_limited_with_retry_after(make_client: Any) -> None:
    client = await make_client(social_rate_limit=Rate(3, 60))
    me, other = await new_user(client, "Me"), await new_user(client, "Other")
    for move in (follow, unfollow, follow):
        await move(client, me, other)
    resp = await client.delete(f"/api/v1/users/{other.id}/follow", headers=bearer(me.token))
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    assert (await resp.json())["error"]["code"] == "rate_limited"
