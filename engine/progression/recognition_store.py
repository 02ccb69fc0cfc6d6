"""Recognition's PostgreSQL side (sql/0032_recognition.sql): recording, claiming what is still to
deliver, and the followers a recognition is told to."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.db import Conn
from engine.progression.recognition_model import Candidate


async def record_txn(conn: Conn, candidates: list[Candidate]) -> list[int]:
    """Record these in the caller's transaction; the ids of the new ones (one already recorded — the
    same level, badge or period again — records nothing)."""
    if not candidates:
        return []
    rows = await conn.fetch(
        """INSERT INTO recognitions (user_id, kind, ref, payload)
           SELECT u, k, r, p::jsonb FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS x (u, k, r, p)
           ON CONFLICT (user_id, kind, ref) DO NOTHING RETURNING id""",
        [c.user_id for c in candidates], [c.kind for c in candidates], [c.ref for c in candidates],
        [msgspec.json.encode(c.payload).decode() for c in candidates],
    )  # fmt: skip
    return sorted(int(r["id"]) for r in rows)


async def claim_txn(conn: Conn, ids: list[int] | None, limit: int) -> list[dict[str, Any]]:
    """Lock up to `limit` undelivered recognitions (the given ones, or the oldest), with who they are
    about; rows another process is delivering are skipped. The caller marks them announced in the same
    transaction: on rollback they are delivered by a later pass."""
    rows = await conn.fetch(
        """SELECT r.id, r.user_id, r.kind, r.ref, r.payload, r.created_at, u.name, u.avatar_image,
                  u.deleted_at IS NOT NULL AS gone
           FROM recognitions r JOIN users u ON u.id = r.user_id
           WHERE r.announced_at IS NULL AND ($1::bigint[] IS NULL OR r.id = ANY($1))
           ORDER BY r.id LIMIT $2 FOR UPDATE OF r SKIP LOCKED""",
        ids, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def mark_announced_txn(conn: Conn, ids: list[int]) -> None:
    await conn.execute("UPDATE recognitions SET announced_at = now() WHERE id = ANY($1::bigint[])", ids)


async def followers_chunk(conn: Conn, user_id: int, after_edge: int, limit: int) -> list[tuple[int, int]]:
    """(edge id, follower) of the user's live followers after `after_edge`, oldest follow first (a
    block removes the follow edges both ways: nothing more to filter)."""
    rows = await conn.fetch(
        """SELECT f.id, f.follower_id FROM user_followers f JOIN users u ON u.id = f.follower_id
           WHERE f.following_id = $1 AND f.id > $2 AND u.deleted_at IS NULL ORDER BY f.id LIMIT $3""",
        user_id, after_edge, limit,
    )  # fmt: skip
    return [(int(r["id"]), int(r["follower_id"])) for r in rows]
