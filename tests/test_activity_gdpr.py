"""The activity log under the GDPR registry: the export holds the user's rows (and others' rows that
name them), the purge deletes the user's own rows and forgets them in the others'."""

from __future__ import annotations

import gzip
import json
from typing import Any

from engine.appkeys import SERVICES
from engine.economy.flusher import flush_all
from engine.gdpr import actions
from tests.helpers import PASSWORD, User, bearer, db, new_user
from tests.social_setup import follow
from tests.test_gdpr_export import wait_done
from tests.test_gifts_basic import gift_room


async def test_export_and_purge_cover_the_activity_log(client: Any, config: Any) -> None:
    async with gift_room(client, config, coins=50, key="act-gdpr-grant") as r:
        send = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id, "quantity": 1,
                "idempotencyKey": "act-gdpr-send"}  # fmt: skip
        assert (await r.a.call("gift:send", send))["success"]
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    me, fan, idol = r.sender, await new_user(client, "Fan"), await new_user(client, "Idol")
    sender = User(me["token"], r.sender_id, r.room_id, me["phone"])
    await follow(client, fan, sender)
    await follow(client, sender, idol)
    async with db(config.database_url) as conn:
        mine = await conn.fetchval("SELECT count(*) FROM user_activity WHERE user_id = $1", r.sender_id)
    assert mine == 2  # the gift sent, the follow of idol
    resp = await client.post("/api/v1/me/export", headers=bearer(me["token"]))
    assert resp.status == 202, await resp.text()
    export_id = (await resp.json())["data"]["id"]
    job = await wait_done(client, me["token"], export_id)
    archive = json.loads(gzip.decompress(await (await client.get(job["download_url"])).read()))
    rows = archive["tables"]["user_activity"]
    assert {(a["user_id"], a["kind"], a["other_user_id"]) for a in rows} == {
        (r.sender_id, "gift_sent", r.host_id), (r.sender_id, "follow", idol.id),
        (r.host_id, "gift_received", r.sender_id), (fan.id, "follow", r.sender_id)}  # fmt: skip

    resp = await client.delete("/api/v1/me", json={"password": PASSWORD}, headers=bearer(me["token"]))
    assert resp.status == 200, await resp.text()
    async with db(config.database_url) as conn:
        await conn.execute("UPDATE account_deletions SET purge_after = now() - interval '1 second'")
    assert await actions.purge_one(svc) == r.sender_id
    async with db(config.database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM user_activity WHERE user_id = $1", r.sender_id) == 0
        assert await conn.fetchval("SELECT count(*) FROM user_activity WHERE other_user_id = $1", r.sender_id) == 0
        kept = await conn.fetch("SELECT user_id, kind FROM user_activity WHERE other_user_id IS NULL ORDER BY id")
    assert {(k["user_id"], k["kind"]) for k in kept} >= {(r.host_id, "gift_received"), (fan.id, "follow")}
