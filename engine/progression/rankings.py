"""Rankings actions: the ledger observer that keeps the live boards, the reads behind the REST, the
period-end snapshot with its rewards, `ranking_top` badges and top-finish recognitions, and the rebuild
from the ledger.

The boards count what the ledger recorded: the flusher tells `Rankings.ledger_flushed` of each batch
after its PostgreSQL commit and before its XACK (engine/economy/flusher.py). A crash in between
re-delivers the batch; rank_add.lua counts each transaction id once per board's period slot, atomically
with the increments, so a replay adds nothing. The work is one countries query and one pipelined
round of script calls per batch — none per gift.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from engine.economy import store as economy_store
from engine.economy.flusher import flush_all
from engine.economy.model import Txn
from engine.keys import Keys
from engine.progression import badges, recognition, rewards
from engine.progression import rankings_store as store
from engine.progression.rankings_model import (
    ALL_TIME_SEEN_SECONDS,
    BOARDS,
    CLOSING,
    GLOBAL,
    KEEP_AFTER_END,
    PERIODS,
    ROOM_SENDER_PERIODS,
    SNAPSHOT_KEEP_SECONDS,
    SUBJECT,
    Board,
    ClosingPeriod,
    Contribution,
    Period,
    Span,
    closed_spans,
    country_scope,
    gift_contributions,
    next_first_day,
    ranked,
    reward_ref,
    span_of,
    wealth_badge,
)
from engine.progression.recognition_model import ranking_candidates
from engine.services import Services

log = logging.getLogger("flylive.progression.rankings")


class Rankings:
    """The rankings of one app (the flusher's observer; create_app plugs it in)."""

    def __init__(self, svc: Services | None = None) -> None:
        self._svc = svc

    def attach(self, svc: Services) -> None:
        """The app's services, once open (engine/app.py): then the flusher may tell this of its batches."""
        self._svc = svc
        svc.ledger_observers.append(self)

    @property
    def svc(self) -> Services:
        assert self._svc is not None, "Rankings used before the services opened"
        return self._svc

    @property
    def tz(self) -> str:
        return self.svc.config.business_timezone

    async def ledger_flushed(self, txns: Sequence[Txn]) -> None:
        gifts = [(txn, gift_contributions(dict(txn.metadata), txn.initiator_id)) for txn in txns if txn.kind == "gift"]
        gifts = [(txn, parts) for txn, parts in gifts if parts]
        if not gifts:
            return
        countries = await self._countries([part for _, parts in gifts for part in parts])
        plan = _BatchPlan(self.svc.keys, self.tz, countries)
        for txn, parts in gifts:
            plan.add_txn(txn, parts)
        calls = list(plan.calls.values())
        counted = await store.apply_slots(self.svc.redis, calls)
        for _, parts in gifts:
            for board in {part.board for part in parts}:
                self.svc.metrics.ranking_updates.labels(board=board).inc()
        log.debug("rankings updated", extra={"txns": len(gifts), "slot_counts": counted})

    async def _countries(self, parts: list[Contribution]) -> dict[tuple[str, int], str]:
        ids: dict[str, set[int]] = defaultdict(set)
        for part in parts:
            ids[SUBJECT[part.board]].add(part.member)
        async with self.svc.pool.acquire() as conn:
            return await store.countries(conn, ids["user"], ids["room"], ids["agency"])

    # --- reads -------------------------------------------------------------------------------------

    def board_key(self, board: Board, period: Period, country: str | None, now: dt.datetime | None = None) -> str:
        span = span_of(period, now or dt.datetime.now(dt.UTC), self.tz)
        return self.svc.keys.ranking(board, period, span.start, country_scope(country) or GLOBAL)

    async def board(self, board: Board, period: Period, country: str | None, limit: int,
                    me: int | None) -> dict[str, Any]:  # fmt: skip
        key = self.board_key(board, period, country)
        span = span_of(period, dt.datetime.now(dt.UTC), self.tz)
        rows = ranked(await store.top(self.svc.redis, key, 0, limit))
        mine = None
        if me is not None:
            member = await self._my_member(board, me)
            found = await store.rank_of(self.svc.redis, key, member) if member is not None else None
            if found is not None:
                mine = {"rank": found[0], "id": member, "score": found[1]}
        entries = await self._entries(SUBJECT[board], rows)
        return {"board": board, "period": period, "start": None if span.ends is None else span.start,
                "country": country_scope(country), "entries": entries, "me": mine}  # fmt: skip

    async def _my_member(self, board: Board, user_id: int) -> int | None:
        if SUBJECT[board] == "user":
            return user_id
        async with self.svc.pool.acquire() as conn:
            return await store.member_of(conn, board, user_id)

    async def _entries(self, kind: str, rows: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
        async with self.svc.pool.acquire() as conn:
            profiles = await store.profiles(conn, kind, [member for _, member, _ in rows])
        return [{"rank": rank, "id": member, "score": score, "name": (profiles.get(member) or {}).get("name"),
                 "avatar_url": (profiles.get(member) or {}).get("avatar_url")}
                for rank, member, score in rows]  # fmt: skip

    async def room_leaderboard(self, room_id: int, period: ClosingPeriod, offset: int, limit: int) -> dict[str, Any]:
        """The legacy shape: {leaderboard: [{id, name, avatar_url, coins_spent, wealth_badge}], total_users}."""
        span = span_of(period, dt.datetime.now(dt.UTC), self.tz)
        key = self.svc.keys.ranking_room_senders(period, span.start, room_id)
        rows = ranked(await store.top(self.svc.redis, key, offset, limit), offset)
        total = await store.count(self.svc.redis, key)
        async with self.svc.pool.acquire() as conn:
            people = await store.profiles(conn, "user", [member for _, member, _ in rows])
        # `wealth_badge`: the sender's wealth level as text ("12"), what the legacy client labels.
        return {"leaderboard": [{"id": member, "name": (people.get(member) or {}).get("name"),
                                 "avatar_url": (people.get(member) or {}).get("avatar_url"), "coins_spent": score,
                                 "wealth_badge": wealth_badge((people.get(member) or {}).get("wealth_level"))}
                                for _, member, score in rows],
                "total_users": int(total)}  # fmt: skip

    # --- period end ------------------------------------------------------------------------------

    async def close_due(self, now: dt.datetime | None = None, consumer: str = "rankings") -> list[str]:
        """Snapshot (and pay) every closed period not yet done, including ones that ended while no
        process ran; returns the periods closed now as "board:period:start"."""
        now = now or dt.datetime.now(dt.UTC)
        async with self.svc.pool.acquire() as conn:
            since = await store.started_at(conn)
            settings = await economy_store.settings(conn)
        grace = dt.timedelta(seconds=settings.get("ranking_close_grace_seconds", 120))
        async with self.svc.pool.acquire() as conn:
            done = await store.closed_periods(conn, since.date() - dt.timedelta(days=1))
        due = [(board, span) for period in CLOSING for span in closed_spans(period, now, since, grace, self.tz)
               for board in BOARDS if (board, period, span.start) not in done]  # fmt: skip
        if not due:
            return []
        await flush_all(self.svc, self.svc.wallets, consumer)  # the period's last gifts into the ledger
        closed = []
        for board, span in due:
            if await self.snapshot(board, span, settings.get("ranking_snapshot_top_n", 100)):
                closed.append(reward_ref(board, span, 0).rsplit(":", 1)[0])
        return closed

    async def snapshot(self, board: Board, span: Span, top_n: int) -> bool:
        """Write the period's top N and record its rewards in one transaction (the closed-period row
        first: a second run, here or in another process, stops there before summing); pay after the commit."""
        assert span.ends is not None and span.period != "all_time"
        period: ClosingPeriod = span.period
        end_day = next_first_day(period, dt.date.fromisoformat(span.start))
        async with self.svc.pool.acquire() as conn, conn.transaction():
            if not await store.claim_period_txn(conn, board, span, end_day, self.tz):
                return False
            sums = await store.ledger_sums(conn, board, span.starts, span.ends)
            rows = ranked(sorted(((m, s) for m, s, _ in sums), key=lambda r: (-r[1], r[0]))[:top_n])
            await store.insert_history_txn(conn, board, span, end_day, rows)
            await store.set_entries_txn(conn, board, span, len(rows))
            owners = await store.owners(conn, board, [member for _, member, _ in rows]) if rows else {}
            reward_ids = await self._record_rewards_txn(conn, board, span, rows, owners)
            badge_ids, recognised = await self._recognise_txn(conn, board, span, rows, owners)
        if reward_ids:
            await rewards.pay_pending(self.svc, reward_ids)
        if badge_ids:
            await badges.announce(self.svc, badge_ids)
        await recognition.deliver(self.svc, recognised)
        await self._expire_period(board, span)
        self.svc.metrics.ranking_snapshots.labels(board=board, period=span.period).inc()
        log.info("ranking period closed", extra={"board": board, "period": span.period, "start": span.start,
                                                 "entries": len(rows), "rewards": len(reward_ids)})  # fmt: skip
        return True

    async def _recognise_txn(self, conn: Any, board: Board, span: Span, rows: list[tuple[int, int, int]],
                             owners: dict[int, int]) -> tuple[list[int], list[int]]:  # fmt: skip
        """The finish's `ranking_top` badges (each user and badge once) and its recognitions (ranks 1 to
        `recognition_ranking_top`), in the snapshot's transaction: a period is never closed without
        them. For the room and agency boards, the owner. The badges' and recognitions' new ids."""
        finish = [(rank, owners[member], score) for rank, member, score in rows if member in owners]
        badge_ids = await badges.award_for_ranking_txn(conn, board, span.period, span.start,
                                                       [(user_id, rank) for rank, user_id, _ in finish])  # fmt: skip
        top = (await recognition.settings_txn(conn)).ranking_top
        candidates = ranking_candidates(board, span.period, span.start, finish, top)
        return badge_ids, await recognition.record_txn(conn, candidates)

    async def _record_rewards_txn(self, conn: Any, board: Board, span: Span, rows: list[tuple[int, int, int]],
                                  owners: dict[int, int]) -> list[int]:  # fmt: skip
        table = await store.reward_table(conn, board, span.period)
        if not table or not rows:
            return []
        ids = []
        for rank, member, _ in rows:
            coins = next((c for first, last, c in table if first <= rank <= last), 0)
            user_id = owners.get(member)
            if not coins or user_id is None:
                continue
            granted = await rewards.grant_reward_txn(
                conn, user_id=user_id, source="ranking", source_ref=reward_ref(board, span, rank),
                items=[rewards.RewardItem(kind="coins", amount=coins)],
                note=f"#{rank} {board} {span.period} {span.start}",
            )  # fmt: skip
            if granted is not None:
                ids.append(int(granted["id"]))
        return ids

    async def _expire_period(self, board: Board, span: Span) -> None:
        """The period is in ranking_history now: its live keys may go (after a short read grace)."""
        slot = self.svc.keys.ranking_slot(board, span.period, span.start)
        keys = await store.scan(self.svc.redis, _glob_escape(slot) + ":*")
        await store.expire(self.svc.redis, keys, SNAPSHOT_KEEP_SECONDS)

    # --- rebuild -----------------------------------------------------------------------------------

    async def rebuild(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Recompute the current periods of every board (and the rooms' senders) from the ledger and
        swap them in: Redis lost or wrong is recoverable. A gift flushed while this runs may be counted
        twice (the ledger sum, then its observer): run it on a quiet system; returns members per board."""
        now = now or dt.datetime.now(dt.UTC)
        written: dict[str, int] = defaultdict(int)
        for period in PERIODS:
            span = span_of(period, now, self.tz)
            expire_at = int((span.ends + KEEP_AFTER_END).timestamp()) if span.ends else 0
            async with self.svc.pool.acquire() as conn:
                for board in BOARDS:
                    sums = await store.ledger_sums(conn, board, span.starts, span.ends)
                    await self._replace_scopes(board, span, sums, expire_at)
                    written[board] += len(sums)
                if period in ROOM_SENDER_PERIODS:
                    senders = await store.ledger_room_senders(conn, span.starts, span.ends)
            if period in ROOM_SENDER_PERIODS:
                await self._replace_room_senders(span, senders, expire_at)
        log.info("rankings rebuilt from the ledger", extra=dict(written))
        return dict(written)

    async def _replace_scopes(self, board: Board, span: Span, sums: list[tuple[int, int, str | None]],
                              expire_at: int) -> None:  # fmt: skip
        keys, redis = self.svc.keys, self.svc.redis
        scopes: dict[str, dict[int, int]] = defaultdict(dict)
        for member, score, country in sums:
            scopes[GLOBAL][member] = score
            if scope := country_scope(country):
                scopes[scope][member] = score
        old = await store.scan(redis, _glob_escape(keys.ranking_slot(board, span.period, span.start)) + ":z:*")
        await store.delete(redis, sorted(set(old) - {keys.ranking(board, span.period, span.start, s) for s in scopes}))
        for scope, scores in scopes.items():
            await store.replace_board(redis, keys.ranking(board, span.period, span.start, scope), scores, expire_at)

    async def _replace_room_senders(self, span: Span, rows: list[tuple[int, int, int]], expire_at: int) -> None:
        by_room: dict[int, dict[int, int]] = defaultdict(dict)
        for room_id, member, score in rows:
            by_room[room_id][member] = score
        for room_id, scores in by_room.items():
            key = self.svc.keys.ranking_room_senders(span.period, span.start, room_id)
            await store.replace_board(self.svc.redis, key, scores, expire_at)


class _BatchPlan:
    """One flushed batch's script calls, one per board/period slot; spans and key names are worked out
    once per batch (a batch's gifts share a handful of days), not once per gift."""

    def __init__(self, keys: Keys, tz: str, countries: dict[tuple[str, int], str]) -> None:
        self.keys, self.tz, self.countries = keys, tz, countries
        self.calls: dict[tuple[str, str, str, str], store.SlotCall] = {}
        self._spans: dict[tuple[str, int], Span] = {}
        self._names: dict[tuple[str, str, str, str], str] = {}

    def add_txn(self, txn: Txn, parts: list[Contribution]) -> None:
        at = dt.datetime.fromtimestamp(txn.at_ms / 1000, dt.UTC)
        by_board: dict[Board, list[Contribution]] = defaultdict(list)
        for part in parts:
            by_board[part.board].append(part)
        for period in PERIODS:
            span = self._span(period, at)
            for board, board_parts in by_board.items():
                increments: list[tuple[str, int, int]] = []
                for part in board_parts:
                    increments.append((self._key(board, span, GLOBAL), part.member, part.amount))
                    scope = country_scope(self.countries.get((SUBJECT[board], part.member)))
                    if scope:
                        increments.append((self._key(board, span, scope), part.member, part.amount))
                if board == "room" and period in ROOM_SENDER_PERIODS and txn.initiator_id is not None:
                    for part in board_parts:
                        increments.append((self._key("senders", span, str(part.member)), txn.initiator_id,
                                           part.amount))  # fmt: skip
                self._slot(board, span, at).add_txn(txn.txn_id, increments)

    def _span(self, period: Period, at: dt.datetime) -> Span:
        hour = int(at.timestamp()) // 3600  # a memo per UTC hour, checked against the span: never wrong
        cached = self._spans.get((period, hour))
        if cached is None or not (cached.starts <= at and (cached.ends is None or at < cached.ends)):
            cached = self._spans[(period, hour)] = span_of(period, at, self.tz)
        return cached

    def _key(self, board: str, span: Span, scope: str) -> str:
        name = self._names.get((board, span.period, span.start, scope))
        if name is None:
            name = (self.keys.ranking_room_senders(span.period, span.start, int(scope)) if board == "senders"
                    else self.keys.ranking(board, span.period, span.start, scope))  # fmt: skip
            self._names[(board, span.period, span.start, scope)] = name
        return name

    def _slot(self, board: Board, span: Span, at: dt.datetime) -> store.SlotCall:
        day = at.date().isoformat() if span.ends is None else "p"
        slot = (board, span.period, span.start, day)
        if slot not in self.calls:
            seen = self.keys.ranking_seen(board, span.period, span.start, day)
            if span.ends is None:
                self.calls[slot] = store.SlotCall(seen, ALL_TIME_SEEN_SECONDS, 0)
            else:
                expire_at = int((span.ends + KEEP_AFTER_END).timestamp())
                self.calls[slot] = store.SlotCall(seen, max(expire_at - int(time.time()), 60), expire_at)
        return self.calls[slot]


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
