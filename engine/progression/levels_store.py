"""PostgreSQL access for levels: the ladders, the recomputation after a ladder edit, the queue of
level changes the watcher takes, the history, and what /me/levels reads. The levels themselves are
computed by sql/0027's triggers in the statement that changes XP (the flusher's)."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.db import Conn
from engine.progression.levels_model import Ladder, LevelType

# Where each type's XP and level live: (table, xp column, level column). The SQL below interpolates
# only these names.
_COLUMNS: dict[str, tuple[str, str, str]] = {
    "wealth": ("users", "wealth_xp", "wealth_level"),
    "charm": ("users", "charm_xp", "charm_level"),
    "room": ("rooms", "room_xp", "room_level"),
}


async def ladder_rows(conn: Conn, kind: LevelType) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT level, min_xp, rewards FROM levels WHERE type = $1 ORDER BY level", kind)
    return [dict(r) for r in rows]


async def ladders_txn(conn: Conn, kinds: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The ladders of these types as this transaction sees them (the watcher grants from these)."""
    rows = await conn.fetch("SELECT type, level, min_xp, rewards FROM levels WHERE type = ANY($1::text[]) "
                            "ORDER BY type, level", kinds)  # fmt: skip
    ladders: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for row in rows:
        ladders[row["type"]].append(dict(row))
    return ladders


async def existing_items(conn: Conn, ids: list[int]) -> set[int]:
    rows = await conn.fetch("SELECT id FROM mall_items WHERE id = ANY($1::bigint[])", ids)
    return {int(r["id"]) for r in rows}


async def replace_ladder_txn(conn: Conn, kind: LevelType, ladder: Ladder) -> None:
    await conn.execute("DELETE FROM levels WHERE type = $1", kind)
    await conn.execute(
        """INSERT INTO levels (type, level, min_xp, rewards)
           SELECT $1, l, m, r::jsonb FROM unnest($2::int[], $3::bigint[], $4::text[]) AS x (l, m, r)""",
        kind, [s.level for s in ladder], [s.min_xp for s in ladder],
        [msgspec.json.encode(list(s.rewards)).decode() for s in ladder],
    )  # fmt: skip


async def recompute_txn(conn: Conn, kind: LevelType) -> int:
    """Put every stored level of the type back on the (new) ladder, each change into the history and
    the watcher's queue; how many changed. Rows are locked in id order, the order the flusher updates
    them in, so the two wait for each other instead of deadlocking."""
    table, xp, level = _COLUMNS[kind]
    owner, room = ("user_id", "id") if table == "rooms" else ("id", "NULL::bigint")
    return int(await conn.fetchval(
        f"""WITH target AS (
                SELECT id, {owner} AS owner, {room} AS room, {level} AS before, level_of($1, {xp}) AS after,
                       {xp} AS xp
                FROM {table} WHERE {level} <> level_of($1, {xp}) ORDER BY id FOR UPDATE),
            moved AS (UPDATE {table} t SET {level} = target.after FROM target WHERE t.id = target.id
                      RETURNING target.*),
            change AS (INSERT INTO level_changes (type, user_id, room_id, from_level, to_level, xp, reason)
                       SELECT $1, owner, room, before, after, xp, 'ladder' FROM moved RETURNING id),
            queued AS (INSERT INTO level_changes_pending (change_id) SELECT id FROM change RETURNING 1)
            SELECT count(*) FROM queued""",
        kind,
    ))  # fmt: skip


async def claim_pending_txn(conn: Conn, batch: int) -> list[dict[str, Any]]:
    """Take up to `batch` queued level changes (those another process holds are skipped), oldest
    first. The caller's transaction decides: on rollback they are queued again."""
    rows = await conn.fetch(
        """WITH claimed AS (SELECT change_id FROM level_changes_pending ORDER BY change_id LIMIT $1
                            FOR UPDATE SKIP LOCKED),
                gone AS (DELETE FROM level_changes_pending p USING claimed c WHERE p.change_id = c.change_id
                         RETURNING p.change_id)
           SELECT c.id, c.type, c.user_id, c.room_id, c.from_level, c.to_level, c.xp
           FROM gone JOIN level_changes c ON c.id = gone.change_id ORDER BY c.id""",
        batch,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def people(conn: Conn, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Name and avatar of each user (the room announcement shows them)."""
    rows = await conn.fetch("SELECT id, name, avatar_image FROM users WHERE id = ANY($1::bigint[])", user_ids)
    return {int(r["id"]): dict(r) for r in rows}


async def my_levels(conn: Conn, user_id: int) -> dict[str, Any] | None:
    """The user's XP and levels, and their room's (None when they have no room)."""
    row = await conn.fetchrow(
        """SELECT u.wealth_xp, u.wealth_level, u.charm_xp, u.charm_level,
                  r.id AS room_id, r.room_xp, r.room_level
           FROM users u LEFT JOIN rooms r ON r.user_id = u.id AND r.deleted_at IS NULL
           WHERE u.id = $1""",
        user_id,
    )  # fmt: skip
    return dict(row) if row else None


async def history_page(conn: Conn, user_id: int, before_id: int | None, limit: int) -> list[dict[str, Any]]:
    """The user's level changes (their rooms' too), newest first, paged by id."""
    rows = await conn.fetch(
        """SELECT id, type, room_id, from_level, to_level, xp, reason, changed_at FROM level_changes
           WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3""",
        user_id, before_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
