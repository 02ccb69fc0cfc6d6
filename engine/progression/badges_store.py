"""Badges' PostgreSQL side (sql/0030_badges.sql): the catalog, owned and equipped badges, the check
queue and the figures the rules read."""

from __future__ import annotations

from typing import Any

from engine.db import Conn

COLUMNS = "id, code, name, description, category, rarity, icon_url, rule, is_active, sort"
B_COLUMNS = ", ".join(f"b.{c.strip()}" for c in COLUMNS.split(","))
EDITABLE = ("name", "description", "category", "rarity", "icon_url", "rule", "is_active", "sort")


async def catalog_page(conn: Conn, category: str | None, after: tuple[int, int] | None, limit: int,
                       active_only: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Badges in (sort, id) order after the cursor."""
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM badges
            WHERE ($1::text IS NULL OR category = $1) AND (is_active OR NOT $2)
              AND ($3::int IS NULL OR (sort, id) > ($3, $4::bigint))
            ORDER BY sort, id LIMIT $5""",
        category, active_only, after[0] if after else None, after[1] if after else None, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def get(conn: Conn, badge_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM badges WHERE id = $1", badge_id)
    return dict(row) if row else None


async def insert(conn: Conn, values: dict[str, Any]) -> dict[str, Any] | None:
    """The new badge, or None when its code is taken."""
    row = await conn.fetchrow(
        f"""INSERT INTO badges (code, name, description, category, rarity, icon_url, rule, is_active, sort)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (code) DO NOTHING RETURNING {COLUMNS}""",
        values["code"], values["name"], values["description"], values["category"], values["rarity"],
        values["icon_url"], values["rule"], values["is_active"], values["sort"],
    )  # fmt: skip
    return dict(row) if row else None


async def update_txn(conn: Conn, badge_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
    sets = [f"{col} = ${i + 2}" for i, col in enumerate(changes)]
    values = list(changes.values())
    assert all(col in EDITABLE for col in changes)
    row = await conn.fetchrow(
        f"UPDATE badges SET {', '.join([*sets, 'updated_at = now()'])} WHERE id = $1 RETURNING {COLUMNS}",
        badge_id, *values,
    )  # fmt: skip
    return dict(row) if row else None


async def lock_txn(conn: Conn, badge_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM badges WHERE id = $1 FOR UPDATE", badge_id)
    return dict(row) if row else None


async def active_rules(conn: Conn, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM badges WHERE is_active AND rule ->> 'kind' = ANY($1)", list(kinds))
    return [dict(r) for r in rows]


# --- owned and equipped ------------------------------------------------------------------------


async def award_txn(conn: Conn, user_id: int, badge_id: int, source: str) -> dict[str, Any] | None:
    """The new ownership, or None when the user has the badge already (a racing award waits for the
    other's commit on the unique index, then sees the conflict)."""
    row = await conn.fetchrow(
        """INSERT INTO user_badges (user_id, badge_id, source) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, badge_id) DO NOTHING RETURNING id, awarded_at""",
        user_id, badge_id, source,
    )  # fmt: skip
    return dict(row) if row else None


async def owned_ids(conn: Conn, user_id: int) -> set[int]:
    return {r["badge_id"] for r in await conn.fetch("SELECT badge_id FROM user_badges WHERE user_id = $1", user_id)}


async def owned(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    """The user's active badges, worn ones first in their order, then the newest."""
    rows = await conn.fetch(
        f"""SELECT {B_COLUMNS}, u.awarded_at, u.source, e.position
            FROM user_badges u JOIN badges b ON b.id = u.badge_id
            LEFT JOIN user_equipped_badges e ON e.user_id = u.user_id AND e.badge_id = u.badge_id
            WHERE u.user_id = $1 AND b.is_active
            ORDER BY e.position NULLS LAST, u.awarded_at DESC, b.id""",
        user_id,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def set_equipped_txn(conn: Conn, user_id: int, badge_ids: list[int]) -> None:
    await conn.execute("DELETE FROM user_equipped_badges WHERE user_id = $1", user_id)
    await conn.executemany(
        "INSERT INTO user_equipped_badges (user_id, badge_id, position) VALUES ($1, $2, $3)",
        [(user_id, badge_id, position) for position, badge_id in enumerate(badge_ids)],
    )


async def lock_user_txn(conn: Conn, user_id: int) -> bool:
    """Serialise a user's equip requests (and see a deleted account as missing)."""
    return bool(await conn.fetchval("SELECT true FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", user_id))


# --- the check queue and the figures -------------------------------------------------------------


async def claim_checks_txn(conn: Conn, batch: int) -> list[int]:
    """Take up to `batch` queued users (rows another process holds are skipped); on rollback they
    are queued again."""
    rows = await conn.fetch(
        """WITH claimed AS (SELECT user_id, reason FROM badge_checks ORDER BY queued_at LIMIT $1
                            FOR UPDATE SKIP LOCKED)
           DELETE FROM badge_checks q USING claimed c WHERE q.user_id = c.user_id AND q.reason = c.reason
           RETURNING q.user_id""",
        batch,
    )  # fmt: skip
    return sorted({r["user_id"] for r in rows})


async def enqueue(conn: Conn, user_id: int, reason: str) -> None:
    await conn.execute(
        "INSERT INTO badge_checks (user_id, reason) VALUES ($1, $2) ON CONFLICT DO NOTHING", user_id, reason
    )


async def figures(conn: Conn, user_id: int, timezone: str) -> dict[str, int] | None:
    """The figure rules' inputs for one user (None: no such live account)."""
    row = await conn.fetchrow(
        """SELECT u.vip_level,
                  coalesce((SELECT sum(quantity) FROM gift_stats WHERE user_id = u.id AND direction = 'sent'), 0)
                      AS gifts_sent,
                  coalesce((SELECT sum(quantity) FROM gift_stats WHERE user_id = u.id AND direction = 'received'), 0)
                      AS gifts_received,
                  coalesce((SELECT followers_count FROM user_follow_counts WHERE user_id = u.id), 0) AS followers,
                  (SELECT count(DISTINCT (happened_at AT TIME ZONE $2)::date) FROM user_activity
                   WHERE user_id = u.id) AS days_active
           FROM users u WHERE u.id = $1 AND u.deleted_at IS NULL""",
        user_id, timezone,
    )  # fmt: skip
    return {k: int(v) for k, v in row.items()} if row else None


async def live_user_ids(conn: Conn, user_ids: list[int]) -> list[int]:
    rows = await conn.fetch("SELECT id FROM users WHERE id = ANY($1) AND deleted_at IS NULL", user_ids)
    return [r["id"] for r in rows]


async def claim_unannounced_txn(conn: Conn, ids: list[int] | None, limit: int = 200) -> list[dict[str, Any]]:
    """Mark awards announced (all given ones, or the oldest unannounced) and answer them with their
    badge: whoever marks an award pushes it, so it is pushed by one process."""
    rows = await conn.fetch(
        f"""WITH todo AS (SELECT id FROM user_badges
                          WHERE announced_at IS NULL AND ($1::bigint[] IS NULL OR id = ANY($1))
                          ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED),
                 done AS (UPDATE user_badges u SET announced_at = now() FROM todo WHERE u.id = todo.id
                          RETURNING u.user_id, u.badge_id, u.awarded_at, u.source)
            SELECT done.user_id, done.awarded_at, done.source, {B_COLUMNS}
            FROM done JOIN badges b ON b.id = done.badge_id""",
        ids, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
