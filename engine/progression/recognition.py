"""Recognition (issue 14 §5, docs/progression.md "Recognition"): a level-up at or above a threshold, a
rare badge and a top finish of a closed ranking period are announced in every room the user is in
(`room:recognition`) and to their followers (a notification of kind `recognition`).

- The sources record in their own transaction (`record_txn`): the level watcher (levels.py), the badge
  award (badges.award_txn, whatever transaction awards), the ranking snapshot (rankings.py). The unique
  (user, kind, ref) makes each recognised once, however often a source runs.
- After their commit they call `deliver`; a sweep on every process delivers whatever is left (a crash
  between the commit and the delivery, a source running outside an app). Delivery locks the rows
  (SKIP LOCKED: one process delivers each), stores the followers' notifications in bulk and marks the
  rows announced in one transaction; after that commit it broadcasts in the rooms and pushes the
  notifications. A crash before that commit delivers it again later; after it, the live pushes are lost
  and the stored notifications stay (as for the other pushes of progression).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from engine.db import Conn
from engine.economy import store as economy_store
from engine.jobs import Periodic
from engine.notifications.live import Notifications
from engine.progression import recognition_store as store
from engine.progression.recognition_model import (
    FOLLOWER_CHUNK,
    Candidate,
    Settings,
    follower_notice,
    room_event,
    settings_of,
)
from engine.rooms import store as rooms_store
from engine.rooms.live import LiveRooms
from engine.services import Services

log = logging.getLogger("flylive.progression.recognition")
SWEEP_SECONDS = 2.0
BATCH = 50


class Recognition:
    """Built once per app (engine/app.py) with the rooms it announces in and the notifications it stores."""

    def __init__(self, rooms: LiveRooms, notifications: Notifications) -> None:
        self.rooms = rooms
        self.notifications = notifications

    @property
    def svc(self) -> Services:
        return self.rooms.svc


_live: weakref.WeakSet[Recognition] = weakref.WeakSet()


def deliverer(svc: Services) -> Recognition | None:
    """This app's deliverer (None: no app with these services registered one)."""
    for recognition in list(_live):
        if getattr(recognition.rooms.rt, "_services", None) is svc:
            return recognition
    return None


async def settings_txn(conn: Conn) -> Settings:
    return settings_of(await economy_store.settings(conn))


async def record_txn(conn: Conn, candidates: list[Candidate]) -> list[int]:
    """Record recognitions in the caller's transaction; the new ids, to `deliver` after the commit."""
    return await store.record_txn(conn, candidates)


async def deliver(svc: Services, ids: list[int] | None = None) -> int:
    """After a source's commit: deliver these recognitions (None: any still undelivered) through this
    app's rooms and notifications; with no app around (a job run on its own), the sweep does it."""
    recognition = deliverer(svc)
    if recognition is None or ids == []:
        return 0
    try:
        return await announce(recognition, ids)
    except Exception:  # the source's change is committed; the sweep delivers what this could not
        log.exception("recognition not delivered yet; the sweep retries", extra={"ids": ids})
        return 0


async def announce(recognition: Recognition, ids: list[int] | None = None) -> int:
    """Deliver undelivered recognitions (the given ones, or the oldest); how many were claimed."""
    svc = recognition.svc
    stored: list[dict[str, Any]] = []
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await store.claim_txn(conn, ids, BATCH)
        if not rows:
            return 0
        followers_max = (await settings_txn(conn)).followers_max
        live = [row for row in rows if not row["gone"]]  # a deleted account is not announced
        for row in live:
            stored += await _notify_followers_txn(recognition, conn, row, followers_max)
        await store.mark_announced_txn(conn, [row["id"] for row in rows])
    for row in live:
        try:
            await _broadcast(recognition, row)
        except Exception:  # committed: one failed room push must not stop the others'
            log.exception("recognition not broadcast", extra={"recognition_id": row["id"]})
        svc.metrics.recognitions.labels(row["kind"]).inc()
        log.info("user recognised", extra={"recognition_id": row["id"], "user_id": row["user_id"],
                                           "kind": row["kind"], "ref": row["ref"]})  # fmt: skip
    await recognition.notifications.push_all(stored)
    return len(rows)


async def _notify_followers_txn(recognition: Recognition, conn: Conn, row: dict[str, Any],
                                limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Store the notification for up to `limit` followers, a chunk per statement."""
    notice, stored, after, told = follower_notice(row), [], 0, 0
    while told < limit:
        chunk = await store.followers_chunk(conn, row["user_id"], after, min(FOLLOWER_CHUNK, limit - told))
        if not chunk:
            break
        after, told = chunk[-1][0], told + len(chunk)
        stored += await recognition.notifications.record_for_txn(conn, [f for _, f in chunk], notice)
    return stored


async def _broadcast(recognition: Recognition, row: dict[str, Any]) -> None:
    svc, rooms = recognition.svc, recognition.rooms
    for room_id in sorted(await rooms_store.rooms_of_user(svc.redis, svc.keys, row["user_id"])):
        await rooms.broadcast(room_id, "room:recognition", room_event(row, room_id))


async def sweep(recognition: Recognition) -> int:
    """One pass of the sweep: deliver what no source delivered (batches until none is left)."""
    total = 0
    while (claimed := await announce(recognition)) == BATCH:
        total += claimed
    return total + claimed


def register_recognition_jobs(recognition: Recognition) -> None:
    """Sources find this app's deliverer; every process sweeps (SKIP LOCKED shares the rows)."""
    _live.add(recognition)
    recognition.rooms.rt.background.append(Periodic("recognition-sweep", lambda: sweep(recognition), SWEEP_SECONDS))
