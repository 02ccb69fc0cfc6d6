"""Badges and achievements (issue 14 §2, docs/progression.md "Badges").

- The catalog (`badges`) holds each badge's rule as data (`badges_model.Rule`); staff create and edit
  it (audited). Users own a badge at most once (`user_badges` UNIQUE (user_id, badge_id)) and wear up
  to `badges_equipped_max` of them, in order (`user_equipped_badges`, which the rooms' hot cache
  forgets a user by: sql/0030's NOTIFY trigger).
- Figure rules (gifts sent/received, followers, VIP tier, days active) are evaluated off the hot
  path: triggers on their source tables queue `(user_id, reason)` in `badge_checks`, and the watcher
  (a Periodic on every process) drains it with FOR UPDATE SKIP LOCKED and awards every rule now met.
- Ranking finishes and event participation are awarded by their parts through `award_for_ranking`
  and `award_for_event`; a reward with a badge item awards it (engine/progression/rewards.py).
- An award stores a `system` notification in its transaction; after the commit whoever marks it
  announced pushes `badge.earned` to the user's sockets (awards made elsewhere, e.g. by a reward, are
  announced by the watcher's next pass).
- A badge of rarity `recognition_badge_rarity_min` or rarer is recorded as a recognition in the award's
  transaction and delivered (rooms, followers) after the announce (engine/progression/recognition.py).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.economy import store as economy_store
from engine.errors import DomainError, not_found, validation_error
from engine.jobs import Periodic
from engine.notifications import store as notifications_store
from engine.notifications.model import Notice
from engine.progression import badges_store as store
from engine.progression import recognition
from engine.progression.badges_model import (
    FIGURE_KINDS,
    BadgeBody,
    BadgePatch,
    Figures,
    badge_out,
    decode_rule,
    earned_event,
    encode_rule,
    equip_problems,
    event_matches,
    met,
    owned_out,
    ranking_matches,
)
from engine.progression.recognition_model import badge_candidate
from engine.realtime.server import RealtimeServer, user_room
from engine.rooms import store as rooms_store
from engine.services import Services
from engine.social.follows import visible_user
from engine.social.model import decode_cursor, page

log = logging.getLogger("flylive.progression.badges")
WATCH_SECONDS = 2.0
WATCH_BATCH = 200
DEFAULT_EQUIPPED_MAX = 3

_servers: weakref.WeakSet[RealtimeServer] = weakref.WeakSet()


def _server_of(svc: Services) -> RealtimeServer | None:
    for rt in list(_servers):
        if getattr(rt, "_services", None) is svc:
            return rt
    return None


# --- the catalog -------------------------------------------------------------------------------


async def catalog(svc: Services, category: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    after = decode_cursor(cursor, int, int)
    async with svc.pool.acquire() as conn:
        rows = await store.catalog_page(conn, category, (after[0], after[1]) if after else None, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["sort"], r["id"]))
    return {"items": [badge_out(r) for r in items], "next_cursor": next_cursor}


async def get_badge(svc: Services, badge_id: int) -> dict[str, Any]:
    """One catalog badge (the dashboard's edit form)."""
    async with svc.pool.acquire() as conn:
        row = await store.get(conn, badge_id)
    if row is None:
        raise not_found("Badge")
    return badge_out(row)


async def create_badge(svc: Services, actor_id: int, body: BadgeBody, ip: str | None) -> dict[str, Any]:
    values = {f: getattr(body, f) for f in body.__struct_fields__}
    values["rule"] = encode_rule(body.rule)
    async with svc.pool.acquire() as conn, conn.transaction():
        row = await store.insert(conn, values)
        if row is None:
            raise DomainError("badge_code_taken", f"A badge with code {body.code} exists.", status=409)
        await audit_txn(conn, actor_id=actor_id, action="badge.create", target_type="badge", target_id=row["id"],
                        details={"after": badge_out(row)}, ip=ip)  # fmt: skip
    log.info("badge created", extra={"actor_id": actor_id, "badge_id": row["id"], "code": body.code})
    return badge_out(row)


async def update_badge(svc: Services, actor_id: int, badge_id: int, body: BadgePatch,
                       sent: set[str], ip: str | None) -> dict[str, Any]:  # fmt: skip
    changes = {f: getattr(body, f) for f in body.__struct_fields__ if f in sent}
    if any(v is None for v in changes.values()):
        raise validation_error({f: ["May not be null."] for f, v in changes.items() if v is None})
    if "rule" in changes:
        changes["rule"] = encode_rule(changes["rule"])
    async with svc.pool.acquire() as conn, conn.transaction():
        before = await store.lock_txn(conn, badge_id)
        if before is None:
            raise not_found("Badge")
        row = await store.update_txn(conn, badge_id, changes) if changes else before
        assert row is not None
        await audit_txn(conn, actor_id=actor_id, action="badge.update", target_type="badge", target_id=badge_id,
                        details={"before": badge_out(before), "after": badge_out(row)}, ip=ip)  # fmt: skip
    log.info("badge updated", extra={"actor_id": actor_id, "badge_id": badge_id, "fields": sorted(changes)})
    return badge_out(row)


# --- owned and equipped ------------------------------------------------------------------------


async def user_badges(svc: Services, viewer: int, user_id: int) -> dict[str, Any]:
    """A user's badges as the viewer may see them (404 through a block, as the profile)."""
    async with svc.pool.acquire() as conn:
        await visible_user(conn, viewer, user_id)
        rows = await store.owned(conn, user_id)
    return {"items": [owned_out(r) for r in rows]}


async def equipped(svc: Services, user_id: int) -> list[dict[str, Any]]:
    """What the user wears, in order, as the profiles and the rooms show it."""
    async with svc.pool.acquire() as conn:
        return await rooms_store.equipped_badges(conn, user_id)


async def equip(svc: Services, user_id: int, badge_ids: list[int]) -> dict[str, Any]:
    """Wear these badges in this order: only owned ones, at most `badges_equipped_max`."""
    async with svc.pool.acquire() as conn, conn.transaction():
        if not await store.lock_user_txn(conn, user_id):
            raise not_found("User")
        limit = (await economy_store.settings(conn)).get("badges_equipped_max", DEFAULT_EQUIPPED_MAX)
        problems = equip_problems(badge_ids, await store.owned_ids(conn, user_id), limit)
        if problems:
            raise validation_error(problems)
        await store.set_equipped_txn(conn, user_id, badge_ids)
        rows = await store.owned(conn, user_id)
    log.info("badges equipped", extra={"user_id": user_id, "badge_ids": badge_ids})
    return {"items": [owned_out(r) for r in rows]}


# --- awarding ----------------------------------------------------------------------------------


async def award_txn(conn: Conn, user_id: int, badge: dict[str, Any], source: str) -> int | None:
    """Give the badge once, inside the caller's transaction, with its stored notification; the
    ownership id (to `announce` after the commit), None when the user had it already."""
    row = await store.award_txn(conn, user_id, badge["id"], source)
    if row is None:
        return None
    notice = Notice(user_id=user_id, kind="system", text=f"You earned the badge {badge['name']}.",
                    target_type="badge", target_id=str(badge["id"]),
                    data={"badge_id": badge["id"], "code": badge["code"], "rarity": badge["rarity"]})  # fmt: skip
    await notifications_store.insert_txn(conn, notice)
    # A rare badge is recognised in the award's transaction (delivered after it, by `announce`).
    rarity_min = (await recognition.settings_txn(conn)).badge_rarity_min
    if (candidate := badge_candidate(user_id, badge, rarity_min)) is not None:
        await recognition.record_txn(conn, [candidate])
    return int(row["id"])


async def award_badge_id_txn(conn: Conn, user_id: int, badge_id: int, source: str) -> int | None:
    """`award_txn` by id (a reward item); LookupError when there is no such badge."""
    badge = await store.get(conn, badge_id)
    if badge is None:
        raise LookupError(f"badge {badge_id} does not exist")
    return await award_txn(conn, user_id, badge, source)


async def announce(svc: Services, ids: list[int] | None = None) -> int:
    """Push `badge.earned` for awards not yet announced (the given ones, or any); how many."""
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await store.claim_unannounced_txn(conn, ids)
    rt = _server_of(svc)
    for row in rows:
        svc.metrics.badges_awarded.labels(row["category"]).inc()
        log.info("badge awarded", extra={"user_id": row["user_id"], "badge_id": row["id"], "source": row["source"]})
        if rt is not None:
            await rt.sio.emit("badge.earned", earned_event(row), room=user_room(row["user_id"]))
    if rows:
        await recognition.deliver(svc)  # the rare ones' recognitions, recorded with the awards
    return len(rows)


async def check_users(svc: Services, user_ids: list[int]) -> list[int]:
    """Award every figure rule the users meet now; the new ownership ids (announced)."""
    async with svc.pool.acquire() as conn, conn.transaction():
        awarded = await _check_in_txn(svc, conn, user_ids)
    if awarded:
        await announce(svc, awarded)
    return awarded


async def watch(svc: Services) -> int:
    """One pass: drain the queued checks, then announce awards others left unannounced."""
    async with svc.pool.acquire() as conn, conn.transaction():
        user_ids = await store.claim_checks_txn(conn, WATCH_BATCH)
        awarded = await _check_in_txn(svc, conn, user_ids) if user_ids else []
    if awarded:
        await announce(svc, awarded)
    return len(awarded) + await announce(svc)


async def _check_in_txn(svc: Services, conn: Conn, user_ids: list[int]) -> list[int]:
    """The claimed users' checks in the claiming transaction: a crash queues them again."""
    awarded: list[int] = []
    rules = [(b, decode_rule(b["rule"])) for b in await store.active_rules(conn, FIGURE_KINDS)]
    for user_id in user_ids:
        raw = await store.figures(conn, user_id, svc.config.business_timezone)
        if raw is None:
            continue
        figures = Figures(**raw)
        for badge, rule in rules:
            if met(rule, figures) and (new := await award_txn(conn, user_id, badge, "rule")) is not None:
                awarded.append(new)
    return awarded


async def award_for_ranking(svc: Services, board: str, period: str, start: str,
                            top: list[tuple[int, int]]) -> list[int]:  # fmt: skip
    """A closed ranking period's finish (`top`: (user_id, rank) pairs, rank 1 first): award every
    active `ranking_top` badge of (board, period) whose `top` the rank is within. Once per user and
    badge whatever the period (the badge says "has finished top N"); the new ownership ids."""
    async with svc.pool.acquire() as conn, conn.transaction():
        awarded = await award_for_ranking_txn(conn, board, period, start, top)
    if awarded:
        await announce(svc, awarded)
    return awarded


async def award_for_ranking_txn(conn: Conn, board: str, period: str, start: str,
                                top: list[tuple[int, int]]) -> list[int]:  # fmt: skip
    """`award_for_ranking` in the caller's transaction (the rankings' period-end snapshot, so a crash
    cannot close a period without its badges); the caller `announce`s the ids after its commit."""
    awarded: list[int] = []
    rules = [(b, decode_rule(b["rule"])) for b in await store.active_rules(conn, ("ranking_top",))]
    if not rules or not top:
        return awarded
    live = set(await store.live_user_ids(conn, sorted({u for u, _ in top})))
    for user_id, rank in top:
        for badge, rule in rules:
            if user_id in live and ranking_matches(rule, board, period, rank):
                new = await award_txn(conn, user_id, badge, f"ranking:{board}:{period}:{start}")
                if new is not None:
                    awarded.append(new)
    return awarded


async def award_for_event(svc: Services, code: str, user_ids: list[int]) -> list[int]:
    """Users took part in the event/campaign `code`: award its active `event` badges; the new ids."""
    awarded: list[int] = []
    async with svc.pool.acquire() as conn, conn.transaction():
        rules = [(b, decode_rule(b["rule"])) for b in await store.active_rules(conn, ("event",))]
        for user_id in await store.live_user_ids(conn, sorted(set(user_ids))):
            for badge, rule in rules:
                if event_matches(rule, code) and (new := await award_txn(conn, user_id, badge, f"event:{code}")):
                    awarded.append(new)
    if awarded:
        await announce(svc, awarded)
    return awarded


def register_badge_jobs(rt: RealtimeServer) -> None:
    """Pushes go through this server; every process drains the check queue (SKIP LOCKED shares it)."""
    _servers.add(rt)
    rt.background.append(Periodic("badge-checks", lambda: watch(rt.services), WATCH_SECONDS))
