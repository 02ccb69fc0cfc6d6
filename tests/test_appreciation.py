"""Profile appreciation likes (issue 14 §5 "Recognition"): once per liker, target and business day,
under concurrency too; allowed again the next business day; hidden through a block, refused on
oneself; the total on the profile; the target's notification as a real socket receives it; the
rate; what a purged account's rows become."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from engine.appkeys import SERVICES
from engine.gdpr import actions as gdpr
from tests.helpers import PASSWORD, User, bearer, db, new_user
from tests.social_setup import block
from tests.test_giftstats import ROSE, backdated_gift


async def appreciate(client: Any, who: User, whom_id: int) -> Any:
    return await client.post(f"/api/v1/users/{whom_id}/appreciate", headers=bearer(who.token))


async def figures(client: Any, who: User, whom: User) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/users/{whom.id}/appreciations", headers=bearer(who.token))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = (await resp.json())["data"]
    return body


async def test_ten_at_once_make_one_like_and_the_next_business_day_another(client: Any, connect: Any) -> None:
    fan, star, other = await new_user(client, "Fan"), await new_user(client, "Star"), await new_user(client, "Other")
    s = await connect(client, star)
    answers = await asyncio.gather(*(appreciate(client, fan, star.id) for _ in range(10)))
    statuses = sorted(r.status for r in answers)
    assert statuses == [201] + [409] * 9
    refused = [await r.json() for r in answers if r.status == 409]
    assert {body["error"]["code"] for body in refused} == {"already_appreciated"}
    created = next(r for r in answers if r.status == 201)
    assert (await created.json())["data"] == {"total": 1, "today": 1, "liked_today_by_me": True}
    (pushed,) = await s.wait_for("notification:new")
    assert (pushed["kind"], pushed["actor"]["id"], pushed["text"]) == ("appreciation", fan.id,
                                                                        "Fan appreciated your profile.")  # fmt: skip
    assert await figures(client, other, star) == {"total": 1, "today": 1, "liked_today_by_me": False}
    profile = await client.get(f"/api/v1/users/{star.id}", headers=bearer(other.token))
    assert (await profile.json())["data"]["appreciations"] == 1

    # The next business day: the day's like is yesterday's now.
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute("UPDATE profile_appreciations SET day = day - 1 WHERE target_id = $1", star.id)
    assert await figures(client, fan, star) == {"total": 1, "today": 0, "liked_today_by_me": False}
    again = await appreciate(client, fan, star.id)
    assert again.status == 201, await again.text()
    assert (await again.json())["data"] == {"total": 2, "today": 1, "liked_today_by_me": True}
    # Coalesced: the first notice is still unread, so the second like adds none.
    async with db(client.app[SERVICES].config.database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = "
                                   "'appreciation'", star.id) == 1  # fmt: skip


async def test_oneself_is_refused_and_the_blocked_the_unknown_and_the_deleted_are_not_found(client: Any) -> None:
    fan, star, blocker, gone = [await new_user(client, n) for n in ("Fan", "Star", "Blocker", "Gone")]
    mine = await appreciate(client, fan, fan.id)
    assert mine.status == 403 and (await mine.json())["error"]["code"] == "cannot_appreciate_self"
    await block(client, blocker, fan)
    await block(client, star, blocker)
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute("UPDATE users SET deleted_at = now() WHERE id = $1", gone.id)
    for who, whom in ((fan, blocker.id), (blocker, fan.id), (star, blocker.id), (fan, gone.id), (fan, 10**12)):
        resp = await appreciate(client, who, whom)
        assert resp.status == 404, (who.id, whom)
        assert (await resp.json())["error"]["code"] == "not_found"
    seen = await client.get(f"/api/v1/users/{blocker.id}/appreciations", headers=bearer(fan.token))
    assert seen.status == 404
    async with db(client.app[SERVICES].config.database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM profile_appreciations") == 0


async def test_the_rate_is_an_economy_setting(client: Any) -> None:
    fan = await new_user(client, "Fan")
    stars = [await new_user(client, f"Star {i}") for i in range(3)]
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute("UPDATE economy_settings SET value = 2 WHERE key = 'appreciation_rate_per_minute'")
    assert [(await appreciate(client, fan, s.id)).status for s in stars[:2]] == [201, 201]
    over = await appreciate(client, fan, stars[2].id)
    assert over.status == 429 and int(over.headers["Retry-After"]) >= 1


async def test_a_purged_account_takes_its_likes_and_its_own_gift_figures(client: Any) -> None:
    fan, star = await new_user(client, "Fan"), await new_user(client, "Star")
    assert (await appreciate(client, fan, star.id)).status == 201
    assert (await appreciate(client, star, fan.id)).status == 201
    svc = client.app[SERVICES]
    async with db(svc.config.database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price) VALUES ($1, 'Rose', 1)", ROSE)
        await backdated_gift(conn, fan.id, star.id, dt.datetime.now(dt.UTC), 3)
    resp = await client.delete("/api/v1/me", headers=bearer(fan.token), json={"password": PASSWORD})
    assert resp.status in (200, 202), await resp.text()
    async with db(svc.config.database_url) as conn:
        await conn.execute("UPDATE account_deletions SET purge_after = now() - interval '1 second'")
    assert await gdpr.purge_one(svc) == fan.id
    assert await figures(client, star, star) == {"total": 0, "today": 0, "liked_today_by_me": False}
    async with db(svc.config.database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM profile_appreciations") == 0
        assert await conn.fetchval("SELECT count(*) FROM gift_stats WHERE user_id = $1", fan.id) == 0
    # The star's own figures stay: the coins were given; who gave them is gone.
    got = (await (await client.get("/api/v1/me/gifts/stats", headers=bearer(star.token))).json())["data"]
    assert got["received"]["coins"] == 3 and got["top_gifters"] == [{"user": None, "hidden": True, "count": 1,
                                                                      "coins": 3}]  # fmt: skip
