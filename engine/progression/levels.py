"""Wealth, charm and room levels (issue 14 §1, docs/progression.md "Levels"): the ladders and their
admin edit, a user's levels and history, and the watcher that acts on level changes.

XP and levels change in PostgreSQL only (the flusher's batch update; sql/0027's triggers compute
the level in that statement and queue each change). The watcher (a Periodic on every process) takes
queued changes FOR UPDATE SKIP LOCKED, so processes share them, folds them per user and type, and in
that same transaction records each reached level's rewards in the reward ledger (unique per user and
level: granted once, whoever sees the change first, however often it is re-queued); after the commit
it pays them, pushes `user.progression` with the final level, refreshes the user's profile in their
rooms, and announces a rise to `level_announce_min` or above there (`room:levelUp`). The same
transaction logs each rise as `level_up` activity and records a rise to `recognition_level_min` or
above as a recognition (engine/progression/recognition.py), delivered after the commit.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.activity import store as activity_store
from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.economy import store as economy_store
from engine.jobs import Periodic
from engine.progression import levels_store as store
from engine.progression import recognition
from engine.progression.levels_live import Levels
from engine.progression.levels_model import (
    HistoryQuery,
    Ladder,
    LadderBody,
    LevelType,
    NetChange,
    announce,
    change_item,
    check_items_exist,
    history_cursor,
    item_refs,
    ladder_of,
    ladder_view,
    net_changes,
    progress,
    reward_ref,
    step_of,
)
from engine.progression.recognition_model import level_candidate
from engine.progression.recognition_model import settings_of as recognition_settings
from engine.progression.rewards import RewardError, RewardItem, grant_reward_txn, pay_pending
from engine.rooms import store as rooms_store
from engine.rooms.cache import user_topic
from engine.rooms.live import encode
from engine.social.model import decode_cursor, page

log = logging.getLogger("flylive.progression.levels")
WATCH_SECONDS = 1.0
WATCH_BATCH = 500


async def ladder(lv: Levels, kind: LevelType) -> dict[str, Any]:
    return ladder_view(kind, await lv.ladder(kind))


async def do_replace_ladder(lv: Levels, actor_id: int, kind: LevelType, body: LadderBody,
                            ip: str | None) -> dict[str, Any]:  # fmt: skip
    """Replace a type's whole ladder and put every stored level on it (changes queued for the watcher:
    a rise pays the new levels' rewards, a fall is told)."""
    steps = body.ladder()
    async with lv.svc.pool.acquire() as conn, conn.transaction():
        if refs := item_refs(steps):
            check_items_exist(steps, await store.existing_items(conn, refs))
        await store.replace_ladder_txn(conn, kind, steps)
        moved = await store.recompute_txn(conn, kind)
        await audit_txn(conn, actor_id=actor_id, action="levels.ladder", target_type="levels", target_id=kind, ip=ip,
                        details={"levels": len(steps), "min_xp": [s.min_xp for s in steps],
                                 "rewarded_levels": [s.level for s in steps if s.rewards], "moved": moved})  # fmt: skip
    lv.forget_ladders()
    log.info("level ladder replaced", extra={"actor_id": actor_id, "type": kind, "levels": len(steps), "moved": moved})
    return {**ladder_view(kind, steps), "moved": moved}


async def my_levels(lv: Levels, user_id: int) -> dict[str, Any]:
    async with lv.svc.pool.acquire() as conn:
        row = await store.my_levels(conn, user_id)
    assert row is not None, "a signed-in user has an account"
    mine: dict[str, Any] = {
        "wealth": progress(await lv.ladder("wealth"), row["wealth_level"], row["wealth_xp"]),
        "charm": progress(await lv.ladder("charm"), row["charm_level"], row["charm_xp"]),
        "room": None,
    }
    if row["room_id"] is not None:
        mine["room"] = {"room_id": row["room_id"], **progress(await lv.ladder("room"), row["room_level"],
                                                              row["room_xp"])}  # fmt: skip
    return mine


async def history(lv: Levels, user_id: int, q: HistoryQuery) -> dict[str, Any]:
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with lv.svc.pool.acquire() as conn:
        rows = await store.history_page(conn, user_id, before, q.limit + 1)
    items, next_cursor = page(rows, q.limit, history_cursor)
    return {"items": [change_item(r) for r in items], "next_cursor": next_cursor}


async def _grant_txn(conn: Conn, net: NetChange, steps: Ladder) -> list[int]:
    """Record the rewards of every level the change reached (pending; paid after commit)."""
    granted: list[int] = []
    for level in net.reached:
        step = step_of(steps, level)
        if step is None or not step.rewards:
            continue
        items = [RewardItem(r.kind, r.amount, r.ref, r.days) for r in step.rewards]
        ref = reward_ref(net.kind, level, net.room_id)
        try:
            async with conn.transaction():  # a savepoint: a reward that cannot be granted is left out alone
                reward = await grant_reward_txn(conn, user_id=net.user_id, source="level", source_ref=ref,
                                                items=items, note=f"{net.kind} level {level}")  # fmt: skip
        except RewardError:
            # The ladder names what no longer exists (a deleted mall item, VIP not plugged in): blocking
            # every later level change on it would be worse than this reward missing.
            log.exception("level reward not grantable", extra={"user_id": net.user_id, "source_ref": ref})
            continue
        if reward is not None:
            granted.append(int(reward["id"]))
    return granted


async def _record_rises_txn(conn: Conn, changes: list[NetChange], level_min: int) -> list[int]:
    """The pass's rises into the activity log (`level_up`), and those to `recognition_level_min` or
    above as recognitions (delivered after the commit); the recognitions' ids."""
    rises = [net for net in changes if net.after > net.before]
    await activity_store.record_level_ups_txn(conn, [(n.kind, n.user_id, n.room_id, n.before, n.after) for n in rises])
    candidates = [level_candidate(n.kind, n.user_id, n.before, n.after, level_min) for n in rises]
    return await recognition.record_txn(conn, [c for c in candidates if c is not None])


async def watch_levels(lv: Levels) -> int:
    """One pass over the queued level changes; how many ladder positions it told."""
    svc = lv.svc
    granted: list[int] = []
    async with svc.pool.acquire() as conn, conn.transaction():
        claimed = await store.claim_pending_txn(conn, WATCH_BATCH)
        if not claimed:
            return 0
        changes = net_changes(claimed)
        values = await economy_store.settings(conn)
        announce_min = values["level_announce_min"]
        rows = await store.ladders_txn(conn, sorted({net.kind for net in changes}))
        ladders = {kind: ladder_of(kind_rows) for kind, kind_rows in rows.items()}
        for net in changes:
            granted += await _grant_txn(conn, net, ladders[net.kind])
        people = await store.people(conn, sorted({net.user_id for net in changes if net.kind != "room"}))
        recognised = await _record_rises_txn(conn, changes, recognition_settings(values).level_min)
    if granted:
        try:
            await pay_pending(svc, granted)
        except Exception:  # the reward ledger's sweep pays what this missed; the pushes still go out
            log.exception("level rewards not paid yet; the rewards sweep finishes them", extra={"rewards": granted})
    for net in changes:
        try:
            await _tell(lv, net, ladders[net.kind], announce_min, people.get(net.user_id))
        except Exception:  # the level and its rewards are committed; one failed push must not stop the others'
            log.exception("level change not told", extra={"type": net.kind, "user_id": net.user_id})
        if net.reached:
            svc.metrics.level_ups.labels(net.kind).inc(len(net.reached))
        log.info("level changed", extra={"type": net.kind, "user_id": net.user_id, "room_id": net.room_id,
                 "from_level": net.before, "to_level": net.after, "reached": len(net.reached)})  # fmt: skip
    await recognition.deliver(svc, recognised)  # after the level's own pushes
    return len(changes)


async def _tell(lv: Levels, net: NetChange, steps: Ladder, announce_min: int, person: dict[str, Any] | None) -> None:
    rooms, svc = lv.rooms, lv.svc
    await lv.push(net.user_id, "user.progression", {
        "type": net.kind, "previous_level": net.before, "reached": net.reached, "room_id": net.room_id,
        **progress(steps, net.after, net.xp),
    })  # fmt: skip
    loud = announce(net.before, net.after, announce_min)
    if net.kind == "room":
        assert net.room_id is not None
        if loud:
            await rooms.broadcast(net.room_id, "room:levelUp", {"roomId": str(net.room_id), "type": "room",
                                                                "level": net.after, "user": None})  # fmt: skip
        return
    # Members' stored profiles carry the levels (snapshots of later joiners): refresh them, which
    # also tells each room `user:profile_updated`.
    rooms.cache.invalidate(user_topic(net.user_id))
    cached = await rooms.cache.user(net.user_id)
    if cached is None:
        return
    changed = encode({f"{net.kind}_level": net.after})
    for room_id in await rooms_store.rooms_of_user(svc.redis, svc.keys, net.user_id):
        await rooms.run(room_id, rooms.state.profile_update(room_id, net.user_id, cached.profile_json, changed))
        if loud and person is not None:
            who = {"id": net.user_id, "name": person["name"], "avatar": person["avatar_image"] or ""}
            await rooms.broadcast(room_id, "room:levelUp", {"roomId": str(room_id), "type": net.kind,
                                                            "level": net.after, "user": who})  # fmt: skip


def register_level_jobs(lv: Levels) -> None:
    """Every process watches for level changes."""
    lv.rt.background.append(Periodic("level-changes", lambda: watch_levels(lv), WATCH_SECONDS))
