"""User search (issue 12 §1): exact id, name prefix, handle prefix, filters, cursor pages, never
anyone in a block with the caller, and index-backed (the store's own queries, EXPLAINed on a table
big enough for the planner to choose)."""

from __future__ import annotations

import json
from typing import Any

from engine.appkeys import SERVICES
from engine.social import store
from tests.helpers import bearer, db, new_user
from tests.social_setup import block


async def search(client: Any, user: Any, **params: str) -> dict[str, Any]:
    resp = await client.get("/api/v1/users/search", params=params, headers=bearer(user.token))
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = (await resp.json())["data"]
    return data


async def handle_of(client: Any, user: Any) -> str:
    resp = await client.get(f"/api/v1/users/{user.id}", headers=bearer(user.token))
    return str((await resp.json())["data"]["signature"])


async def test_search_by_id_name_and_handle_in_stages(client: Any) -> None:
    me = await new_user(client, "Searcher")
    zara, zed = await new_user(client, "Zara Quill"), await new_user(client, "zed quill")
    other = await new_user(client, "Other")
    # Other's handle starts "@other_…"; rename Other so that only the handle matches "oth".
    resp = await client.patch("/api/v1/me", json={"field": "name", "value": "Someone"}, headers=bearer(other.token))
    assert resp.status == 200
    assert [u["id"] for u in (await search(client, me, q="z"))["items"]] == [zara.id, zed.id]  # lower(name), id
    assert [u["id"] for u in (await search(client, me, q="ZED"))["items"]] == [zed.id]
    assert [u["id"] for u in (await search(client, me, q="oth"))["items"]] == [other.id]  # by handle
    handle = await handle_of(client, zara)
    assert [u["id"] for u in (await search(client, me, q=handle))["items"]] == [zara.id]  # with its '@'
    by_id = (await search(client, me, q=str(zed.id)))["items"]
    assert by_id[0]["id"] == zed.id and by_id[0]["name"] == "zed quill"
    assert not {"phone", "email", "dob"} & set(by_id[0])
    # A name that starts with digits: the exact id first, then the names, none twice.
    numbered = await new_user(client, f"{zed.id}0 Digits")
    pages = [await search(client, me, q=str(zed.id), limit="1")]
    pages.append(await search(client, me, q=str(zed.id), limit="1", cursor=pages[0]["next_cursor"]))
    assert [p["items"][0]["id"] for p in pages] == [zed.id, numbered.id] and pages[1]["next_cursor"] is None
    assert (await search(client, me, q="z", gender="male"))["items"] == []  # test users are female
    assert len((await search(client, me, q="z", country="pk"))["items"]) == 2
    for bad in ({"q": ""}, {"q": "x" * 51}, {"q": "z", "gender": "robot"}, {"q": "z", "country": "pak"}, {}):
        resp = await client.get("/api/v1/users/search", params=bad, headers=bearer(me.token))
        assert resp.status == 422, bad


async def test_search_pages_across_its_stages_without_repeats(client: Any) -> None:
    me = await new_user(client, "Me")
    named = [await new_user(client, f"Pag {n}") for n in range(5)]
    # Users whose handle (not name) starts with "pag": renamed after registration kept "@pag_…".
    handled = [await new_user(client, f"Pag Handle {n}") for n in range(3)]
    for n, user in enumerate(handled):
        body = {"field": "name", "value": f"Renamed {n}"}
        assert (await client.patch("/api/v1/me", json=body, headers=bearer(user.token))).status == 200
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        page = await search(client, me, q="pag", limit="3", **({"cursor": cursor} if cursor else {}))
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [u.id for u in named] + [u.id for u in handled]  # names first, then handles; each once


async def test_search_never_lists_anyone_in_a_block_with_the_caller(client: Any) -> None:
    me = await new_user(client, "Me")
    blocker, blocked, visible = [await new_user(client, f"Blk {name}") for name in ("Blocker", "Blocked", "Visible")]
    await block(client, blocker, me)
    await block(client, me, blocked)
    assert [u["id"] for u in (await search(client, me, q="blk"))["items"]] == [visible.id]
    assert (await search(client, me, q=str(blocker.id)))["items"] == []
    assert me.id not in [u["id"] for u in (await search(client, blocker, q="me"))["items"]]


class Explain:
    """Stands in for a connection: EXPLAINs the query a store function sends, with its arguments."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.plans: list[Any] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        plan = await self.conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
        self.plans.append(json.loads(plan) if isinstance(plan, str) else plan)
        return []


def nodes(plan: Any) -> list[dict[str, Any]]:
    found, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node.get("Plans", []))
    return found


async def test_prefix_searches_use_the_indexes(client: Any) -> None:
    me = await new_user(client, "Me")
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute(
            """INSERT INTO users (name, signature, password_hash, country, gender)
               SELECT 'Person ' || md5(i::text), '@p_' || md5(i::text), 'x', 'pk', 1 + i % 3
               FROM generate_series(1, 30000) AS i"""
        )
        await conn.execute("ANALYZE users")
        explain = Explain(conn)
        await store.search_names(explain, me.id, "person a", None, None, None, None, 21)  # type: ignore[arg-type]
        await store.search_names(explain, me.id, "person a", ("person ab", 7), "pk", 2, None, 21)  # type: ignore[arg-type]
        await store.search_handles(explain, me.id, "p_a", "p_a", None, None, None, None, 21)  # type: ignore[arg-type]
    names, filtered, handles = explain.plans
    for plan, index in ((names, "users_name_prefix_idx"), (filtered, "users_name_prefix_idx"),
                        (handles, "users_handle_prefix_idx")):  # fmt: skip
        users = [n for n in nodes(plan) if n.get("Relation Name") == "users" or n.get("Index Name") == index]
        assert all(n["Node Type"] != "Seq Scan" for n in users), users
        assert index in {n.get("Index Name") for n in users}, users
        blocks = [n for n in nodes(plan) if n.get("Relation Name") == "user_blocks"]
        assert blocks and all(n["Node Type"] != "Seq Scan" for n in blocks), blocks
    for plan in (names, handles):  # unfiltered: the index gives the order, and the LIMIT stops the scan
        assert all(n["Node Type"] != "Sort" for n in nodes(plan)), nodes(plan)
