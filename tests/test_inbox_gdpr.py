"""Direct messages under the GDPR registry (engine/gdpr/registry.py): a user's export holds their
whole conversations and official messages to them, and the purge of a deleted account erases what
it wrote (tombstones) while each peer keeps their side of the thread."""

from __future__ import annotations

import json
from typing import Any

from engine.appkeys import CONFIG, SERVICES
from engine.gdpr import actions as gdpr
from engine.gdpr import store as gdpr_store
from engine.gdpr.registry import table
from tests.helpers import PASSWORD, bearer, db, new_user
from tests.inbox_setup import call, messages, open_thread, send, threads


async def test_the_export_holds_the_conversations_and_the_purge_leaves_the_peer_their_side(client: Any) -> None:
    leaving, peer, other = await new_user(client, "Leaving"), await new_user(client, "Peer"), await new_user(client)
    admin = await new_user(client, "Admin", role="admin")
    thread = (await open_thread(client, leaving, peer))["id"]
    mine = await send(client, leaving, thread, "my words", image_url="https://cdn.example/me.jpg")
    theirs = await send(client, peer, thread, "their words")
    elsewhere = (await open_thread(client, peer, other))["id"]
    await send(client, peer, elsewhere, "not about Leaving")
    await call(client, "POST", admin, "/api/v1/admin/official-messages", 201,
               json={"user_id": leaving.id, "title": "Hi", "text": "To you"})  # fmt: skip
    async with db(client.app[CONFIG].database_url) as conn:
        exported = {name: json.loads((await gdpr_store.export_rows(conn, table(name), leaving.id))[0])
                    for name in ("dm_threads", "dm_thread_members", "dm_messages", "official_messages")}  # fmt: skip
    assert [t["id"] for t in exported["dm_threads"]] == [thread]
    assert sorted(m["text"] for m in exported["dm_messages"]) == ["my words", "their words"]
    assert len(exported["dm_thread_members"]) == 2 and [o["text"] for o in exported["official_messages"]] == ["To you"]

    resp = await client.delete("/api/v1/me", headers=bearer(leaving.token), json={"password": PASSWORD})
    assert resp.status == 200
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE account_deletions SET purge_after = now() - interval '1 second'")
    assert await gdpr.purge_one(client.app[SERVICES]) == leaving.id
    async with db(client.app[CONFIG].database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM official_messages WHERE user_id = $1", leaving.id) == 0
        row = await conn.fetchrow("SELECT text, image_url, unsent_at FROM dm_messages WHERE id = $1", mine["id"])
    assert row["text"] is None and row["image_url"] is None and row["unsent_at"] is not None
    # A deleted account is hidden like a missing one: its thread leaves the peer's inbox…
    assert [t["id"] for t in (await threads(client, peer))["items"]] == [elsewhere]
    # …and the peer's own messages are still theirs in the database.
    async with db(client.app[CONFIG].database_url) as conn:
        kept = await conn.fetchval("SELECT text FROM dm_messages WHERE id = $1", theirs["id"])
    assert kept == "their words"
    assert (await messages(client, peer, elsewhere))["items"][0]["text"] == "not about Leaving"
