"""Ledger-only accounts (`apply_held_txn`): USD salaries, agency coins and escrow change in a
PostgreSQL transaction that locks and checks the debited rows — never below zero, each
transaction id at most once, whatever runs concurrently."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from engine.appkeys import SERVICES
from engine.economy import model as money
from engine.economy import store
from engine.economy.reconcile import reconcile


def _mint(account: money.AccountType, account_id: int, cents: int) -> money.Txn:
    legs = [money.Leg(account, account_id, "usd_cents", cents), money.Leg("mint", 0, "usd_cents", -cents)]
    return money.make_txn("test_mint", legs)


def _escrow(account_id: int, hold_id: int, cents: int) -> money.Txn:
    return money.make_txn("test_hold", [money.Leg("agency", account_id, "usd_cents", -cents),
                                        money.Leg("escrow", hold_id, "usd_cents", cents)])  # fmt: skip


def test_usd_legs_are_never_live() -> None:
    assert money.Leg("user", 1, "coins", 1).live
    assert not money.Leg("user", 1, "usd_cents", 1).live
    assert not money.Leg("agency", 1, "coins", 1).live


async def test_held_debits_never_overdraw_and_apply_once(client: Any) -> None:
    svc = client.app[SERVICES]
    agency_id = 10_000 + uuid.uuid4().int % 10_000
    async with svc.pool.acquire() as conn, conn.transaction():
        assert await store.apply_held_txn(conn, _mint("agency", agency_id, 100)) == "ok"

    async def hold(n: int) -> str:
        async with svc.pool.acquire() as conn, conn.transaction():
            return await store.apply_held_txn(conn, _escrow(agency_id, n, 60))

    # Two holds of 60 race for 100: one wins, whatever the interleaving.
    outcomes = sorted(await asyncio.gather(hold(1), hold(2)))
    assert outcomes == ["insufficient", "ok"]
    again = _escrow(agency_id, 3, 40)
    async with svc.pool.acquire() as conn:
        async with conn.transaction():
            assert await store.apply_held_txn(conn, again) == "ok"
        async with conn.transaction():
            assert await store.apply_held_txn(conn, again) == "replay"
        assert await store.held_balance(conn, "agency", agency_id, "usd_cents") == 0
        assert await store.held_balance(conn, "escrow", 3, "usd_cents") == 40
    report = await reconcile(svc)
    assert report.ok, report.render()
    assert report.totals["usd_cents"]["escrow"] == 100


async def test_a_live_leg_is_refused(client: Any) -> None:
    svc = client.app[SERVICES]
    txn = money.make_txn("test", [money.Leg("user", 1, "coins", 5), money.Leg("mint", 0, "coins", -5)])
    async with svc.pool.acquire() as conn, conn.transaction():
        with pytest.raises(ValueError, match="Lua script"):
            await store.apply_held_txn(conn, txn)
