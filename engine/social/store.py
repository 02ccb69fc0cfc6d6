"""Everything the social domain keeps: privacy settings, the follow graph and its counts, blocks
(PostgreSQL), and who met whom in rooms recently (Redis). The one module that reads or writes them.

Every change to an edge between two users runs under `lock_pair_txn`, a transaction-scoped lock on
the unordered pair: follows, unfollows and blocks of one pair are serialised, so "are they friends
now" and "is there a block" are read after the other side's change committed, and the counts that
change with an edge stay exact however many toggles race.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from engine.db import Conn
from engine.keys import Keys
from engine.social.model import BlockSet, CountDeltas, Privacy, Relationship

# What lists and search show of a user.
CARD_COLUMNS = "u.id, u.name, u.signature, u.avatar_image, u.country, u.gender, u.vip_level, u.vip_expires_at"
# Neither has blocked the other (u: the listed user, $1: the viewer).
# Two lookups of the primary key (one NOT EXISTS with an OR would scan the table).
_NO_BLOCK = """NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $1)
    AND NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = $1 AND b.blocked_id = u.id)"""
# Whether the viewer ($1) follows the listed user.
_VIEWER_FOLLOWS = "EXISTS (SELECT 1 FROM user_followers v WHERE v.follower_id = $1 AND v.following_id = u.id)"
VISIT_ROOMS_KEPT = 20  # rooms remembered per user
VISITORS_KEPT = 500  # visitors remembered per room
VISIT_TTL_SECONDS = 7 * 86400


# --- privacy ------------------------------------------------------------------------------------


async def privacy(conn: Conn, user_id: int) -> Privacy:
    row = await conn.fetchrow("SELECT * FROM user_privacy WHERE user_id = $1", user_id)
    if row is None:
        return Privacy()
    return Privacy(**{name: row[name] for name in Privacy.__struct_fields__})


async def update_privacy(conn: Conn, user_id: int, changes: dict[str, str]) -> Privacy:
    if not set(changes) <= set(Privacy.__struct_fields__):
        raise ValueError(f"not privacy settings: {set(changes) - set(Privacy.__struct_fields__)}")
    if changes:
        columns = ", ".join(changes)
        values = ", ".join(f"${i}" for i in range(2, len(changes) + 2))
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in changes)
        await conn.execute(
            f"""INSERT INTO user_privacy (user_id, {columns}) VALUES ($1, {values})
                ON CONFLICT (user_id) DO UPDATE SET {updates}, updated_at = now()""",
            user_id, *changes.values(),
        )  # fmt: skip
    return await privacy(conn, user_id)


# --- relationships ------------------------------------------------------------------------------


def _standing(target: str) -> str:
    """The columns of how the viewer ($1) stands to `target` (an SQL expression): the four edges."""
    return f"""EXISTS (SELECT 1 FROM user_followers WHERE follower_id = $1 AND following_id = {target}) AS following,
        EXISTS (SELECT 1 FROM user_followers WHERE follower_id = {target} AND following_id = $1) AS followed_by,
        EXISTS (SELECT 1 FROM user_blocks WHERE blocker_id = $1 AND blocked_id = {target}) AS blocking,
        EXISTS (SELECT 1 FROM user_blocks WHERE blocker_id = {target} AND blocked_id = $1) AS blocked_by"""


def _relationship(row: Any, *, is_self: bool) -> Relationship:
    return Relationship(is_self=is_self, following=row["following"], followed_by=row["followed_by"],
                        blocking=row["blocking"], blocked_by=row["blocked_by"])  # fmt: skip


async def relationships(conn: Conn, viewer: int, targets: list[int]) -> dict[int, Relationship]:
    """How the viewer stands to each target, in one query (the viewer to themself: SELF)."""
    rows = await conn.fetch(
        f"SELECT t.id, {_standing('t.id')} FROM unnest($2::bigint[]) AS t(id)",
        viewer, targets,
    )  # fmt: skip
    return {int(r["id"]): _relationship(r, is_self=r["id"] == viewer) for r in rows}


async def pair_context(conn: Conn, viewer: int, target: int) -> tuple[dict[str, Any] | None, bool, Relationship]:
    """For a follow or an unfollow, in one query: the viewer's card fields (None when the account
    is gone), whether the target exists (and is not deleted), and how the viewer stands to them."""
    row = await conn.fetchrow(
        f"""SELECT me.id, me.name, me.signature, me.avatar_image, t.id IS NOT NULL AS target_found, {_standing("$2")}
           FROM (SELECT) AS one
           LEFT JOIN users me ON me.id = $1 AND me.deleted_at IS NULL
           LEFT JOIN users t ON t.id = $2 AND t.deleted_at IS NULL""",
        viewer, target,
    )  # fmt: skip
    assert row is not None  # one row, always: the users are LEFT JOINed to it
    rel = _relationship(row, is_self=viewer == target)
    me = {k: row[k] for k in ("id", "name", "signature", "avatar_image")} if row["id"] is not None else None
    return me, bool(row["target_found"]), rel


async def relationship(conn: Conn, viewer: int, target: int) -> Relationship:
    return (await relationships(conn, viewer, [target]))[target]


NO_BLOCKS = BlockSet()


async def block_set(conn: Conn, user_id: int) -> BlockSet:
    rows = await conn.fetch(
        """SELECT blocked_id AS other, true AS mine FROM user_blocks WHERE blocker_id = $1
           UNION ALL SELECT blocker_id, false FROM user_blocks WHERE blocked_id = $1""",
        user_id,
    )
    if not rows:
        return NO_BLOCKS  # most users block nobody: one object for all of them in the hot cache
    return BlockSet(frozenset(int(r["other"]) for r in rows if r["mine"]),
                    frozenset(int(r["other"]) for r in rows if not r["mine"]))  # fmt: skip


# --- edges and counts ---------------------------------------------------------------------------


async def lock_pair_txn(conn: Conn, a: int, b: int) -> None:
    """Serialise every edge change between a and b (in either direction) until the transaction ends."""
    low, high = min(a, b), max(a, b)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"social:{low}:{high}")


async def insert_follow_txn(conn: Conn, follower: int, following: int) -> bool:
    """Add the edge; False when it was there already."""
    inserted = await conn.fetchval(
        """INSERT INTO user_followers (follower_id, following_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING true""",
        follower, following,
    )  # fmt: skip
    return bool(inserted)


async def delete_follow_txn(conn: Conn, follower: int, following: int) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM user_followers WHERE follower_id = $1 AND following_id = $2 RETURNING true", follower, following
    )
    return bool(deleted)


async def follows(conn: Conn, follower: int, following: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM user_followers WHERE follower_id = $1 AND following_id = $2)",
            follower,
            following,
        )
    )


async def add_counts_txn(conn: Conn, deltas: CountDeltas) -> dict[int, int]:
    """Apply count changes, one row at a time in id order (two pairs' transactions sharing a user
    then lock its row in the same order: no deadlock); each changed user's followers_count after.
    The rows are created first, at zero: an upsert would check a decrement's negative insert row
    against the constraints."""
    users = sorted(u for u, d in deltas.items() if d != (0, 0, 0))
    if not users:
        return {}
    await conn.execute(
        "INSERT INTO user_follow_counts (user_id) SELECT unnest($1::bigint[]) ORDER BY 1 ON CONFLICT DO NOTHING", users
    )
    followers_after: dict[int, int] = {}
    for user in users:
        followers, following, friends = deltas[user]
        followers_after[user] = await conn.fetchval(
            """UPDATE user_follow_counts SET followers_count = followers_count + $2,
                   following_count = following_count + $3, friends_count = friends_count + $4
               WHERE user_id = $1 RETURNING followers_count""",
            user, followers, following, friends,
        )  # fmt: skip
    return followers_after


async def counts(conn: Conn, user_id: int) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT followers_count, following_count, friends_count FROM user_follow_counts WHERE user_id = $1", user_id
    )
    return dict(row) if row else {"followers_count": 0, "following_count": 0, "friends_count": 0}


async def insert_block_txn(conn: Conn, blocker: int, blocked: int, reason: str | None) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO user_blocks (blocker_id, blocked_id, reason) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""",
        blocker, blocked, reason,
    )  # fmt: skip
    return bool(inserted)


async def delete_block_txn(conn: Conn, blocker: int, blocked: int) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM user_blocks WHERE blocker_id = $1 AND blocked_id = $2 RETURNING true", blocker, blocked
    )
    return bool(deleted)


# --- lists (keyset pages: newest first, `before` is the last id of the previous page) ----------


# Each direction of the graph: (the column naming the listed user, the column naming whose list it is).
_DIRECTIONS = {"followers": ("follower_id", "following_id"), "following": ("following_id", "follower_id")}


async def _edges_page(conn: Conn, direction: str, viewer: int, user_id: int, before: int | None,
                      limit: int) -> list[dict[str, Any]]:  # fmt: skip
    listed, owner = _DIRECTIONS[direction]
    rows = await conn.fetch(
        f"""SELECT f.id AS edge_id, f.created_at AS since, {CARD_COLUMNS}, {_VIEWER_FOLLOWS} AS following
            FROM user_followers f JOIN users u ON u.id = f.{listed}
            WHERE f.{owner} = $2 AND ($3::bigint IS NULL OR f.id < $3) AND u.deleted_at IS NULL AND {_NO_BLOCK}
            ORDER BY f.id DESC LIMIT $4""",
        viewer, user_id, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def followers_page(conn: Conn, viewer: int, user_id: int, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Who follows `user_id`, newest first, without anyone in a block with the viewer."""
    return await _edges_page(conn, "followers", viewer, user_id, before, limit)


async def following_page(conn: Conn, viewer: int, user_id: int, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Whom `user_id` follows, newest first, without anyone in a block with the viewer."""
    return await _edges_page(conn, "following", viewer, user_id, before, limit)


async def friends_page(conn: Conn, user_id: int, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Mutual follows, by when the user followed them (a block removes both edges: none to filter)."""
    rows = await conn.fetch(
        f"""SELECT f.id AS edge_id, f.created_at AS since, {CARD_COLUMNS}, true AS following
            FROM user_followers f
            JOIN user_followers back ON back.follower_id = f.following_id AND back.following_id = f.follower_id
            JOIN users u ON u.id = f.following_id
            WHERE f.follower_id = $1 AND ($2::bigint IS NULL OR f.id < $2) AND u.deleted_at IS NULL
            ORDER BY f.id DESC LIMIT $3""",
        user_id, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def blocks_page(conn: Conn, user_id: int, before: int | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT b.id AS edge_id, b.created_at AS since, b.reason, {CARD_COLUMNS}
            FROM user_blocks b JOIN users u ON u.id = b.blocked_id
            WHERE b.blocker_id = $1 AND ($2::bigint IS NULL OR b.id < $2)
            ORDER BY b.id DESC LIMIT $3""",
        user_id, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


# --- suggestions --------------------------------------------------------------------------------

# Someone to suggest to $1: not themself, not followed by them, no block either way, not deleted.
_SUGGESTIBLE = f"""u.id <> $1 AND u.deleted_at IS NULL AND {_NO_BLOCK}
    AND NOT EXISTS (SELECT 1 FROM user_followers v WHERE v.follower_id = $1 AND v.following_id = u.id)"""


# The user's friends (mutual follows), their first `$friends_read` by edge: the friends of friends
# are theirs, and stage two of the suggestions leaves those out.
_MY_FRIENDS = """SELECT f.following_id AS id FROM user_followers f
    JOIN user_followers back ON back.follower_id = f.following_id AND back.following_id = f.follower_id
    WHERE f.follower_id = $1 ORDER BY f.id DESC LIMIT {friends_read}"""
_THEIR_FRIENDS = """SELECT f.following_id AS id, count(*) AS mutual FROM mine
    JOIN user_followers f ON f.follower_id = mine.id
    JOIN user_followers back ON back.follower_id = f.following_id AND back.following_id = f.follower_id
    GROUP BY f.following_id"""
FRIENDS_READ = 500


async def friends_of_friends(conn: Conn, user_id: int, after: tuple[int, int] | None, limit: int,
                             friends_read: int = FRIENDS_READ) -> list[dict[str, Any]]:  # fmt: skip
    """Friends of the user's friends, most mutual friends first (then by id), after the keyset
    position `(mutual, id)` when one is given."""
    mutual, last = after or (2**62, 0)
    rows = await conn.fetch(
        f"""WITH mine AS ({_MY_FRIENDS.format(friends_read=int(friends_read))}),
            theirs AS ({_THEIR_FRIENDS})
            SELECT {CARD_COLUMNS}, theirs.mutual FROM theirs JOIN users u ON u.id = theirs.id
            WHERE {_SUGGESTIBLE} AND (theirs.mutual < $3 OR (theirs.mutual = $3 AND u.id > $4))
            ORDER BY theirs.mutual DESC, u.id LIMIT $2""",
        user_id, limit, mutual, last,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def suggestible(conn: Conn, user_id: int, candidates: list[int],
                      friends_read: int = FRIENDS_READ) -> list[dict[str, Any]]:  # fmt: skip
    """Those of `candidates` that may be suggested to the user and are not friends of their
    friends (stage one lists those), in the order given."""
    rows = await conn.fetch(
        f"""WITH mine AS ({_MY_FRIENDS.format(friends_read=int(friends_read))}),
            theirs AS ({_THEIR_FRIENDS})
            SELECT {CARD_COLUMNS}, 0 AS mutual FROM unnest($2::bigint[]) WITH ORDINALITY AS c(id, n)
            JOIN users u ON u.id = c.id
            WHERE {_SUGGESTIBLE} AND NOT EXISTS (SELECT 1 FROM theirs WHERE theirs.id = u.id)
            ORDER BY c.n""",
        user_id, candidates,
    )  # fmt: skip
    return [dict(r) for r in rows]


def queue_visit(pipe: Pipeline, keys: Keys, user_id: int, room_id: int, now_ms: int) -> None:
    """Remember, on the caller's pipeline, that the user was in the room now (suggestions read it)."""
    rooms, visitors = keys.user_met_rooms(user_id), keys.room_visitors(room_id)
    pipe.zadd(rooms, {str(room_id): now_ms})
    pipe.zremrangebyrank(rooms, 0, -VISIT_ROOMS_KEPT - 1)
    pipe.expire(rooms, VISIT_TTL_SECONDS)
    pipe.zadd(visitors, {str(user_id): now_ms})
    pipe.zremrangebyrank(visitors, 0, -VISITORS_KEPT - 1)
    pipe.expire(visitors, VISIT_TTL_SECONDS)


async def met_in_rooms(redis: Redis, keys: Keys, user_id: int, since_ms: int, per_room: int) -> list[tuple[int, int]]:
    """(user id, last seen ms) of the people who were in the rooms the user was in since
    `since_ms`, most recent first (then by id)."""
    rooms = await redis.zrangebyscore(keys.user_met_rooms(user_id), since_ms, "+inf")
    if not rooms:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for room in rooms:
            visitors = keys.room_visitors(int(room))  # type: ignore[arg-type]  # members are bytes
            pipe.zrevrangebyscore(visitors, "+inf", since_ms, start=0, num=per_room, withscores=True)
        replies = await pipe.execute()
    latest: dict[int, int] = {}
    for reply in replies:
        for member, score in reply:
            other = int(member)
            if other != user_id and score > latest.get(other, -1):
                latest[other] = int(score)
    return sorted(((other, seen) for other, seen in latest.items()), key=lambda met: (-met[1], met[0]))


# --- search -------------------------------------------------------------------------------------

_NAME_KEY = 'lower(u.name) COLLATE "C"'
_HANDLE_KEY = "lower(ltrim(u.signature, '@#')) COLLATE \"C\""
# Strings with the prefix $n: from the prefix up to the prefix followed by the last code point
# (the "C" order is the byte order of UTF-8, which is code point order).
_PREFIX = "{key} >= lower(${n}) AND {key} < lower(${n}) || chr(1114111)"
_FILTERS = "($4::text IS NULL OR u.country = $4) AND ($5::smallint IS NULL OR u.gender = $5) AND u.deleted_at IS NULL"


async def search_exact(conn: Conn, viewer: int, user_id: int, country: str | None,
                       gender: int | None) -> list[dict[str, Any]]:  # fmt: skip
    rows = await conn.fetch(
        f"""SELECT {CARD_COLUMNS}, '' AS key FROM users u
            WHERE u.id = $2 AND ($3::text IS NULL OR u.country = $3) AND ($4::smallint IS NULL OR u.gender = $4)
              AND u.deleted_at IS NULL AND {_NO_BLOCK}""",
        viewer, user_id, country, gender,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def search_names(conn: Conn, viewer: int, prefix: str, after: tuple[str, int] | None, country: str | None,
                       gender: int | None, exclude: int | None, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Users whose name starts with `prefix`, in (lower(name), id) order after `after`."""
    return await _search(conn, _NAME_KEY, "", viewer, prefix, after, country, gender, exclude, limit)


async def search_handles(conn: Conn, viewer: int, prefix: str, name_prefix: str, after: tuple[str, int] | None,
                         country: str | None, gender: int | None, exclude: int | None,
                         limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Users whose handle starts with `prefix` and whose name does not start with `name_prefix`
    (those were listed by name already)."""
    not_by_name = "AND NOT (" + _PREFIX.format(key=_NAME_KEY, n=8) + ")"
    return await _search(conn, _HANDLE_KEY, not_by_name, viewer, prefix, after, country, gender, exclude, limit,
                         name_prefix)  # fmt: skip


async def _search(conn: Conn, key: str, extra: str, viewer: int, prefix: str, after: tuple[str, int] | None,
                  country: str | None, gender: int | None, exclude: int | None, limit: int,
                  *more: Any) -> list[dict[str, Any]]:  # fmt: skip
    after_key, after_id = after if after is not None else (None, None)
    rows = await conn.fetch(
        f"""SELECT {CARD_COLUMNS}, {key} AS key FROM users u
            WHERE {_PREFIX.format(key=key, n=2)}
              AND ($3::text IS NULL OR ({key}, u.id) > ($3::text COLLATE "C", $6::bigint))
              AND {_FILTERS} AND ($7::bigint IS NULL OR u.id <> $7) {extra} AND {_NO_BLOCK}
            ORDER BY {key}, u.id LIMIT ${8 + len(more)}""",
        viewer, prefix, after_key, country, gender, after_id, exclude, *more, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


# --- cosmetics ----------------------------------------------------------------------------------


async def owned_items(conn: Conn, user_id: int, wanted: dict[int, str]) -> set[int]:
    """Which of the mall items `wanted` (id -> category) the user owns now (unexpired)."""
    rows = await conn.fetch(
        """SELECT u.item_id FROM user_items u JOIN unnest($2::bigint[], $3::text[]) AS w(id, category)
               ON w.id = u.item_id AND w.category = u.category
           WHERE u.user_id = $1 AND (u.expires_at IS NULL OR u.expires_at > now())""",
        user_id, list(wanted), list(wanted.values()),
    )  # fmt: skip
    return {int(r["item_id"]) for r in rows}
