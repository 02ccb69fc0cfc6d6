"""Money invariants against real Redis and PostgreSQL, through the services (no HTTP).

A Python model of every wallet is checked against Redis after random operations; replays, refusals,
flusher crashes at each step, a Redis that lost everything, drift detection and the CLI.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import Config
from engine.economy import flusher
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet, do_adjust, get_balances
from engine.economy.flusher import GROUP, complete_credits, ensure_groups, flush_all, flush_shard
from engine.economy.reconcile import reconcile
from engine.economy.store import decode_txn, record_txn_txn
from engine.economy.store import settings as economy_settings
from engine.errors import DomainError
from engine.metrics import Metrics
from engine.services import Services, open_services

ROOT = Path(__file__).resolve().parent.parent
_serial = itertools.count(1)
Key = tuple[str, int, str]


@asynccontextmanager
async def economy(config: Config, suffix: str = "") -> AsyncIterator[Services]:
    async with open_services(config.with_overrides(redis_prefix=config.redis_prefix + suffix), Metrics()) as svc:
        await ensure_groups(svc)
        yield svc


async def new_users(svc: Services, count: int) -> list[int]:
    sql = "INSERT INTO users (name, phone, signature, password_hash) VALUES ($1, $2, $3, 'x') RETURNING id"
    async with svc.pool.acquire() as conn:
        return [await conn.fetchval(sql, f"Money {n}", f"+1777{n:07d}", f"m-{uuid.uuid4().hex}")
                for n in (next(_serial) for _ in range(count))]  # fmt: skip


async def new_agency(svc: Services, owner: int, members: list[int]) -> int:
    async with svc.pool.acquire() as conn:
        agency = await conn.fetchval(
            "INSERT INTO agencies (name, owner_id) VALUES ($1, $2) RETURNING id", f"ag{uuid.uuid4().hex[:12]}", owner
        )
        await conn.executemany("INSERT INTO agency_members (agency_id, user_id) VALUES ($1, $2)",
                               [(agency, m) for m in members])  # fmt: skip
    return int(agency)


def gift_txn(split_settings: dict[str, int], sender: int, recipients: list[int], price: int, quantity: int = 1,
             agencies: dict[int, int] | None = None, owner: int | None = None, key: str = "") -> money.Txn:  # fmt: skip
    """A gift transaction built the way engine/gifts/actions.py builds it."""
    agencies = agencies or {}
    legs: list[money.Leg] = []
    for recipient in recipients:
        split = money.split_gift(price * quantity, split_settings, agency_member=recipient in agencies,
                                 has_room_owner=owner is not None)  # fmt: skip
        legs += money.gift_legs(sender, recipient, price * quantity, split, agency_id=agencies.get(recipient),
                                room_owner=owner)  # fmt: skip
    metadata = {"room_id": 1, "recipients": recipients, "quantity": quantity, "price": price, "key": key,
                "charm_bps": split_settings["gift_charm_per_coin_bps"],
                "wealth_bps": split_settings["gift_wealth_per_coin_bps"]}  # fmt: skip
    return money.make_txn("gift", money.merge_legs(legs), initiator_id=sender, ref_type="gift", ref_id="1",
                          metadata=metadata)  # fmt: skip


async def grant(svc: Services, user: int, amount: int, currency: money.Currency = "coins") -> dict[str, Any]:
    return await do_adjust(svc, user, user, currency, amount, direction="grant", reason="test",
                           key=f"grant-{uuid.uuid4().hex}")  # fmt: skip


async def split_settings(svc: Services) -> dict[str, int]:
    async with svc.pool.acquire() as conn:
        return await economy_settings(conn)


async def value(svc: Services, sql: str, *args: Any) -> int:
    async with svc.pool.acquire() as conn:
        return int(await conn.fetchval(sql, *args) or 0)


async def account(svc: Services, kind: str, account_id: int, currency: str = "coins") -> int:
    sql = "SELECT balance FROM account_balances WHERE account_type = $1 AND account_id = $2 AND currency = $3"
    return await value(svc, sql, kind, account_id, currency)


async def recorded(svc: Services, txn_ids: list[str]) -> int:
    return await value(svc, "SELECT count(*) FROM ledger_transactions WHERE txn_id = ANY($1::uuid[])", txn_ids)


async def coins(svc: Services, user: int) -> int | None:
    live = await svc.wallets.balances(user)
    return None if live is None else live["coins"]


N_USERS = 5
AGENCY_MEMBERS = (3, 4)  # indexes of users who belong to an agency
user_ix = st.integers(min_value=0, max_value=N_USERS - 1)
OPS = st.one_of(
    st.tuples(st.just("grant"), user_ix, st.sampled_from(["coins", "diamonds"]), st.integers(1, 500)),
    st.tuples(st.just("deduct"), user_ix, st.sampled_from(["coins", "diamonds"]), st.integers(1, 300)),
    *[st.tuples(st.just("gift"), user_ix, st.lists(user_ix, min_size=1, max_size=3, unique=True),
                st.sampled_from([1, 3, 7, 99]), st.integers(1, 5), st.none() | user_ix)] * 3,
    st.tuples(st.just("replay"), st.integers(0, 100)),
    st.tuples(st.just("flush")),
    st.tuples(st.just("freeze"), user_ix, st.booleans()),
)  # fmt: skip


@dataclass
class Attempt:
    kind: str
    args: tuple[Any, ...]
    key: str
    ok: bool = False


class World:
    def __init__(self, svc: Services, users: list[int], agencies: dict[int, int], split: dict[str, int]) -> None:
        self.svc, self.users, self.agencies, self.split = svc, users, agencies, split
        self.live: dict[int, dict[str, int]] = {u: {"coins": 0, "diamonds": 0} for u in users}
        self.loaded: set[int] = set()  # wallets that are in Redis
        self.frozen: set[int] = set()
        self.pending: list[money.Leg] = []  # credits the flusher has still to apply
        self.ledger: dict[Key, int] = defaultdict(int)  # expected change of non-user accounts
        self.attempts: list[Attempt] = []

    async def adjust(self, a: Attempt) -> None:
        user, currency, amount = a.args
        self.loaded.add(user)
        grant = a.kind == "grant"
        refusal = None if grant else "wallet_frozen" if user in self.frozen else (
            "insufficient_funds" if self.live[user][currency] < amount else None)  # fmt: skip
        try:
            result = await do_adjust(self.svc, self.users[0], user, currency, amount,
                                     direction="grant" if grant else "deduct", reason="random", key=a.key)  # fmt: skip
            if a.ok:  # a retry of a request that went through
                assert result["replay"] is True, (a, result)
                return
        except DomainError as exc:
            assert exc.code == refusal, (a, exc.code)
            return
        assert refusal is None and result["replay"] is False, (a, result)
        self.live[user][currency] += amount if grant else -amount
        assert result["balance"] == self.live[user][currency]
        self.ledger[("mint", 0, currency) if grant else ("burn", 0, currency)] += -amount if grant else amount
        a.ok = True

    async def gift(self, a: Attempt) -> None:
        sender, recipients, price, quantity, owner = a.args
        txn = gift_txn(self.split, sender, recipients, price, quantity, self.agencies, owner, a.key)
        net = -txn.legs[0].amount
        result = await apply_with_wallet(self.svc, txn, a.key)
        self.loaded.add(sender)
        if a.ok:  # a retry of a gift that went through: the first answer again, no second charge
            assert result.ok and result.replay, (a, result)
        elif sender in self.frozen:
            assert (result.ok, result.code) == (False, "WALLET_FROZEN"), (a, result)
        elif self.live[sender]["coins"] < net:
            assert (result.ok, result.code, result.required) == (False, "INSUFFICIENT_FUNDS", net), (a, result)
            assert result.balance == self.live[sender]["coins"]
        else:
            assert result.ok and not result.replay and txn.legs[0].account_id == sender, (a, result)
            self.live[sender]["coins"] -= net
            assert result.balance == self.live[sender]["coins"]
            for leg in txn.legs[1:]:
                if leg.live:
                    self.pending.append(leg)
                else:
                    self.ledger[(leg.account_type, leg.account_id, leg.currency)] += leg.amount
            a.ok = True

    async def run(self, op: tuple[Any, ...]) -> None:
        kind, *args = op
        if kind in ("grant", "deduct"):
            user, currency, amount = args
            self.attempts.append(a := Attempt(kind, (self.users[user], currency, amount), uuid.uuid4().hex))
            await self.adjust(a)
        elif kind == "gift":
            sender, recipients, price, quantity, owner = args
            targets = [self.users[r] for r in recipients if r != sender]
            if targets:
                args = (self.users[sender], targets, price, quantity, None if owner is None else self.users[owner])
                self.attempts.append(a := Attempt(kind, args, f"gift:{uuid.uuid4().hex}"))
                await self.gift(a)
        elif kind == "replay" and self.attempts:  # a refused request did not use its key up: judged afresh
            a = self.attempts[args[0] % len(self.attempts)]
            await (self.gift(a) if a.kind == "gift" else self.adjust(a))
        elif kind == "flush":
            await flush_all(self.svc, self.svc.wallets, "random")
            self.settle()
        elif kind == "freeze":
            user = self.users[args[0]]
            await self.svc.wallets.set_frozen(user, args[1])
            if user in self.loaded:  # only a live wallet carries the flag
                (self.frozen.add if args[1] else self.frozen.discard)(user)
        await self.check_wallets()

    def settle(self) -> None:
        for leg in self.pending:
            self.live[leg.account_id][leg.currency] += leg.amount
            self.loaded.add(leg.account_id)
        self.pending.clear()

    async def check_wallets(self) -> None:
        for user in self.users:
            live = await self.svc.wallets.balances(user)
            assert live == (self.live[user] if user in self.loaded else None), (user, live, self.live[user])
            assert live is None or min(live.values()) >= 0


async def ledger_snapshot(svc: Services) -> dict[Key, int]:
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch("SELECT account_type, account_id, currency, balance FROM account_balances "
                                "WHERE account_type <> 'user'")  # fmt: skip
    return {(r["account_type"], r["account_id"], r["currency"]): int(r["balance"]) for r in rows}


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(funds=st.lists(st.integers(0, 2000), min_size=N_USERS, max_size=N_USERS),
       ops=st.lists(OPS, min_size=3, max_size=30))  # fmt: skip
async def test_random_operations_keep_every_invariant(config: Config, funds: list[int],
                                                      ops: list[tuple[Any, ...]]) -> None:  # fmt: skip
    async with economy(config, f"h{uuid.uuid4().hex[:8]}:") as svc:
        users = await new_users(svc, N_USERS)
        agency = await new_agency(svc, users[0], [users[i] for i in AGENCY_MEMBERS])
        world = World(svc, users, {users[i]: agency for i in AGENCY_MEMBERS}, await split_settings(svc))
        before = await ledger_snapshot(svc)
        for op in [("grant", i, "coins", amount) for i, amount in enumerate(funds) if amount] + ops:
            await world.run(op)
        report = await reconcile(svc)
        assert report.ok, report.render()
        world.settle()
        await world.check_wallets()
        for user in users:
            for currency in ("coins", "diamonds"):
                assert await account(svc, "user", user, currency) == world.live[user][currency]
        after = await ledger_snapshot(svc)
        for key in set(after) | set(world.ledger):
            assert after.get(key, 0) - before.get(key, 0) == world.ledger.get(key, 0), key


async def test_a_replayed_key_has_one_effect_even_twenty_at_once(config: Config) -> None:
    async with economy(config) as svc:
        sender, recipient, fresh = await new_users(svc, 3)
        split = await split_settings(svc)
        await grant(svc, sender, 1000)
        first = await svc.wallets.apply(gift_txn(split, sender, [recipient], 10, key="k1"), "gift:k1")
        again = await svc.wallets.apply(gift_txn(split, sender, [recipient], 10, key="k1"), "gift:k1")  # a retry
        assert (first.ok, first.replay, again.ok, again.replay) == (True, False, True, True)
        assert first.balance == again.balance == 990
        txns = [gift_txn(split, sender, [recipient], 25, key="k2") for _ in range(20)]
        results = await asyncio.gather(*(svc.wallets.apply(txn, "gift:k2") for txn in txns))
        assert all(r.ok for r in results) and sum(not r.replay for r in results) == 1
        assert {r.balance for r in results} == {965}
        # Twenty concurrent grants with one key to a wallet that is not live yet: one mint.
        adjusted = await asyncio.gather(*(do_adjust(svc, sender, fresh, "coins", 5, direction="grant", reason="x",
                                                    key="same-grant") for _ in range(20)))  # fmt: skip
        assert sum(not r["replay"] for r in adjusted) == 1 and {r["balance"] for r in adjusted} == {5}
        await flush_all(svc, svc.wallets, "test")
        for key in ("k1", "k2", "same-grant"):  # one ledger transaction and one audit record each
            assert await value(svc, "SELECT count(*) FROM ledger_transactions WHERE metadata->>'key' = $1", key) == 1
        sql = "SELECT count(*) FROM audit_log WHERE action = 'wallet.grant' AND target_id = $1"
        assert await value(svc, sql, str(fresh)) == 1
        assert await get_balances(svc, sender) == {"coins": 965, "diamonds": 0}
        assert await get_balances(svc, recipient) == {"coins": 3 + 7, "diamonds": 0}
        assert await account(svc, "user", fresh) == 5
        report = await reconcile(svc)
        assert report.ok, report.render()


async def test_insufficient_funds_and_frozen_wallets_are_refused_and_change_nothing(config: Config) -> None:
    async with economy(config) as svc:
        sender, recipient = await new_users(svc, 2)
        split = await split_settings(svc)
        await grant(svc, sender, 50)
        outbox = svc.keys.outbox(svc.keys.shard_of(sender))
        queued = await svc.redis.xlen(outbox)
        poor = await svc.wallets.apply(gift_txn(split, sender, [recipient], 51), "gift:poor")
        assert (poor.ok, poor.code, poor.required, poor.balance) == (False, "INSUFFICIENT_FUNDS", 51, 50)
        with pytest.raises(DomainError) as refused:
            await do_adjust(svc, sender, sender, "coins", 51, direction="deduct", reason="x", key="deduct-too-much")
        assert refused.value.code == "insufficient_funds" and refused.value.status == 409
        await svc.wallets.set_frozen(sender, True)
        frozen = await svc.wallets.apply(gift_txn(split, sender, [recipient], 10), "gift:frozen")
        assert (frozen.ok, frozen.code) == (False, "WALLET_FROZEN")
        with pytest.raises(DomainError) as refused:
            await do_adjust(svc, sender, sender, "coins", 1, direction="deduct", reason="x", key="deduct-frozen")
        assert refused.value.code == "wallet_frozen"
        assert await get_balances(svc, sender) == {"coins": 50, "diamonds": 0}
        assert await svc.wallets.balances(recipient) is None
        assert await svc.redis.xlen(outbox) == queued
        await svc.wallets.set_frozen(sender, False)
        # A refused attempt did not use its key up: the same request goes through once allowed.
        retry = await svc.wallets.apply(gift_txn(split, sender, [recipient], 10), "gift:frozen")
        assert retry.ok and not retry.replay and retry.balance == 40
        await flush_all(svc, svc.wallets, "test")
        async with svc.pool.acquire() as conn:
            kinds = await conn.fetch("SELECT kind FROM ledger_transactions WHERE initiator_id = $1 ORDER BY 1", sender)
        assert [r["kind"] for r in kinds] == ["admin_grant", "gift"]
        report = await reconcile(svc)
        assert report.ok, report.render()


async def read_as(svc: Services, consumer: str, user: int) -> list[tuple[bytes, money.Txn, int]]:
    """Take the user's shard's outbox entries as `consumer`, which will never acknowledge them."""
    got: Any = await svc.redis.xreadgroup(GROUP, consumer, {svc.keys.outbox(svc.keys.shard_of(user)): ">"})
    return [(eid, decode_txn(f[b"txn"]), int(f[b"bal"])) for eid, f in got[0][1]]


async def drained(svc: Services) -> bool:
    for shard in range(svc.keys.economy_shards):
        outbox = svc.keys.outbox(shard)
        if await svc.redis.xlen(outbox) or (await svc.redis.xpending(outbox, GROUP))["pending"]:
            return False
    return True


async def test_flusher_killed_mid_batch_is_finished_by_another_once(config: Config, monkeypatch: Any) -> None:
    async with economy(config) as svc:
        sender, b, c = await new_users(svc, 3)
        split = await split_settings(svc)
        await grant(svc, sender, 1000)
        gifts = [gift_txn(split, sender, [b, c], 100), gift_txn(split, sender, [b], 10)]
        for txn in gifts:
            assert (await svc.wallets.apply(txn, f"gift:{txn.txn_id}")).ok
        entries = await read_as(svc, "doomed", sender)
        assert len(entries) == 3
        await complete_credits(svc, svc.wallets, entries[1][1])  # then the process dies: no record, no ack
        assert await coins(svc, b) == 30 and await coins(svc, c) == 30
        assert await flush_all(svc, svc.wallets, "alive") == 0  # not claimable yet
        report = await reconcile(svc)
        assert not report.ok and any("not written to the ledger" in p for p in report.problems), report.render()
        monkeypatch.setattr(flusher, "CLAIM_IDLE_MS", 0)
        assert await flush_all(svc, svc.wallets, "alive") == 3
        assert await recorded(svc, [e[1].txn_id for e in entries]) == 3 and await drained(svc)
        assert (await coins(svc, sender), await coins(svc, b), await coins(svc, c)) == (790, 33, 30)
        assert await account(svc, "user", b) == 33 and await account(svc, "platform", 0) == 70 + 70 + 7
        report = await reconcile(svc)
        assert report.ok, report.render()


async def test_flushers_of_two_shards_at_once_do_not_deadlock(config: Config) -> None:
    """Every serving process runs a flusher: two shards' batches touch the same accounts concurrently."""
    async with economy(config) as svc:
        a, b = await new_users(svc, 2)
        split = await split_settings(svc)
        shards = [svc.keys.shard_of(a), svc.keys.shard_of(b)]
        for _ in range(15):
            await grant(svc, a, 1000)
            await grant(svc, b, 1000)
            await flush_all(svc, svc.wallets, "setup")
            for _ in range(30):  # each one's gifts credit the other and the platform, in opposite leg orders
                assert (await svc.wallets.apply(gift_txn(split, a, [b], 10, owner=b), uuid.uuid4().hex)).ok
                assert (await svc.wallets.apply(gift_txn(split, b, [a], 10, owner=a), uuid.uuid4().hex)).ok
            results = await asyncio.gather(*(flush_shard(svc, svc.wallets, shard, f"process-{shard}")
                                             for shard in shards), return_exceptions=True)  # fmt: skip
            assert results == [30, 30], results
        report = await reconcile(svc)
        assert report.ok, report.render()


async def test_cross_shard_credit_after_a_crash_lands_once(config: Config) -> None:
    async with economy(config) as svc:
        sender, recipient = await new_users(svc, 2)
        assert svc.keys.shard_of(sender) != svc.keys.shard_of(recipient)
        split = await split_settings(svc)
        await grant(svc, sender, 1000)
        first, second = gift_txn(split, sender, [recipient], 100), gift_txn(split, sender, [recipient], 200)
        for txn in (first, second):  # debits committed; the process dies before any credit
            assert (await svc.wallets.apply(txn, f"gift:{txn.txn_id}")).ok
        assert await svc.wallets.balances(recipient) is None
        await complete_credits(svc, svc.wallets, first)  # a recovery completes the first gift's credit …
        await complete_credits(svc, svc.wallets, first)  # … twice: still once
        assert await coins(svc, recipient) == 30
        assert await flush_all(svc, svc.wallets, "test") == 3  # the flusher completes the second one
        assert await coins(svc, recipient) == 90 and await account(svc, "user", recipient) == 90
        await complete_credits(svc, svc.wallets, second)  # a late duplicate after the flush changes nothing
        assert await coins(svc, recipient) == 90 and await coins(svc, sender) == 700
        report = await reconcile(svc)
        assert report.ok, report.render()


async def test_crash_after_commit_before_ack_records_once(config: Config, monkeypatch: Any) -> None:
    async with economy(config) as svc:
        sender, recipient = await new_users(svc, 2)
        split = await split_settings(svc)
        await grant(svc, sender, 500)
        txn = gift_txn(split, sender, [recipient], 100)
        assert (await svc.wallets.apply(txn, "gift:once")).ok
        entries = await read_as(svc, "doomed", sender)
        for _eid, entry, _bal in entries:
            await complete_credits(svc, svc.wallets, entry)
        async with svc.pool.acquire() as conn, conn.transaction():
            for _eid, entry, balance in entries:
                assert await record_txn_txn(conn, entry, balance)
        # … and dies before XACK: the entries are still pending.
        monkeypatch.setattr(flusher, "CLAIM_IDLE_MS", 0)
        assert await flush_all(svc, svc.wallets, "alive") == 2
        assert await recorded(svc, [e[1].txn_id for e in entries]) == 2 and await drained(svc)
        assert await value(svc, "SELECT count(*) FROM ledger_entries WHERE txn_id = $1", txn.txn_id) == 3
        assert await coins(svc, recipient) == 30 and await account(svc, "user", recipient) == 30
        assert await account(svc, "user", sender) == 400 and await account(svc, "platform", 0) == 70
        report = await reconcile(svc)
        assert report.ok, report.render()


async def test_redis_lost_everything_balances_continue_from_the_ledger(config: Config) -> None:
    async with economy(config) as svc:
        sender, recipient = await new_users(svc, 2)
        split = await split_settings(svc)
        await grant(svc, sender, 1000)
        assert (await svc.wallets.apply(gift_txn(split, sender, [recipient], 100), "gift:before")).ok
        await flush_all(svc, svc.wallets, "test")
        lost = [key async for key in svc.redis.scan_iter(match=f"{svc.keys.prefix}*")]
        assert lost
        await svc.redis.delete(*lost)
        assert await get_balances(svc, sender) == {"coins": 900, "diamonds": 0}
        assert await get_balances(svc, recipient) == {"coins": 30, "diamonds": 0}
        after = await apply_with_wallet(svc, gift_txn(split, sender, [recipient], 200), "gift:after")
        assert after.ok and after.balance == 700
        deduct = await do_adjust(svc, sender, sender, "coins", 100, direction="deduct", reason="x", key="deduct-after")
        assert deduct["balance"] == 600
        report = await reconcile(svc)
        assert report.ok, report.render()
        assert await get_balances(svc, sender) == {"coins": 600, "diamonds": 0}
        assert await get_balances(svc, recipient) == {"coins": 90, "diamonds": 0}
        assert await account(svc, "user", sender) == 600 and await account(svc, "burn", 0) == 100


async def test_reconcile_detects_a_tampered_wallet_and_an_unbalanced_entry(config: Config) -> None:
    async with economy(config) as svc:
        user, other = await new_users(svc, 2)
        await grant(svc, user, 100)
        await grant(svc, other, 100)
        report = await reconcile(svc)
        assert report.ok and report.wallets_checked == 2, report.render()
        await svc.redis.hincrby(svc.keys.wallet(user), "coins", 5)
        report = await reconcile(svc)
        assert not report.ok and any(p.startswith(f"user {user} coins") for p in report.problems), report.render()
        assert not any(f"user {other} " in p for p in report.problems)
        await svc.redis.hincrby(svc.keys.wallet(user), "coins", -5)
        assert (await reconcile(svc)).ok
        forged = str(uuid.uuid4())
        async with svc.pool.acquire() as conn, conn.transaction():
            sql = "INSERT INTO ledger_transactions (txn_id, kind, created_at) VALUES ($1, 'forged', now())"
            await conn.execute(sql, forged)
            await conn.execute(
                """INSERT INTO ledger_entries (txn_id, leg, account_type, account_id, currency, amount, created_at)
                   VALUES ($1, 0, 'platform', 0, 'coins', 5, now())""", forged)  # fmt: skip
        report = await reconcile(svc)
        assert not report.ok and any(forged in p for p in report.problems), report.render()


async def run_cli(config: Config) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": config.database_url or "", "REDIS_URL": config.redis_url or "",
           "REDIS_PREFIX": config.redis_prefix, "JWT_SECRET": config.jwt_secret, "LOG_FORMAT": "text"}  # fmt: skip
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "engine.cli", "reconcile", cwd=ROOT, env=env,
                                                stdout=pipe, stderr=pipe)  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None, err
    return proc.returncode, out.decode(), err.decode()


async def test_cli_reconcile_exits_0_when_consistent_and_1_on_drift(config: Config) -> None:
    async with economy(config) as svc:
        user, recipient = await new_users(svc, 2)
        await grant(svc, user, 100)
        assert (await svc.wallets.apply(gift_txn(await split_settings(svc), user, [recipient], 10), "gift:c")).ok
        code, output, log = await run_cli(config)  # the CLI itself drains the outbox first
        assert code == 0 and "OK" in output and "DRIFT" not in output, output + log
        assert await drained(svc) and await account(svc, "user", recipient) == 3
        await svc.redis.hincrby(svc.keys.wallet(recipient), "coins", 1)
        code, output, log = await run_cli(config)
        assert code == 1 and "DRIFT" in output and f"user {recipient} coins" in output, output + log
