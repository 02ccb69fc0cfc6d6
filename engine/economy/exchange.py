"""Diamonds → coins for current and former agency members (backend-contract §3.10)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.economy import model as money
from engine.economy import store
from engine.economy.actions import apply_with_wallet
from engine.economy.flusher import complete_credits
from engine.economy.store import EconomyServices
from engine.errors import DomainError

REFUSED = {"INSUFFICIENT_FUNDS": "Insufficient diamonds.", "DAILY_LIMIT": "Daily exchange limit reached."}


def exchange_legs(user_id: int, diamonds: int, rate_bps: int, fee_bps: int) -> list[money.Leg]:
    """Burn the diamonds; mint the coins they buy, less the fee (rounded down, so no coin is made up)."""
    coins = money.share(diamonds, rate_bps)
    fee = money.share(coins, fee_bps)
    if coins - fee <= 0:
        raise DomainError("exchange_too_small", "That is too few diamonds to exchange.", status=422)
    return [
        money.Leg("user", user_id, "diamonds", -diamonds), money.Leg("burn", 0, "diamonds", diamonds),
        money.Leg("mint", 0, "coins", -(coins - fee)), money.Leg("user", user_id, "coins", coins - fee),
    ]  # fmt: skip


async def do_exchange(svc: EconomyServices, user_id: int, diamonds: int, key: str) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        eligible = await store.ever_agency_member(conn, user_id)
        rates = await store.settings(conn)
    if not eligible:
        raise DomainError("not_eligible", "Only current and former agency members can exchange diamonds.", status=403)
    legs = exchange_legs(user_id, diamonds, rates["exchange_coins_per_diamond_bps"], rates["exchange_fee_bps"])
    txn = money.make_txn("exchange", legs, initiator_id=user_id, metadata={"key": key})
    day = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    spent_key = svc.keys.daily_spend(user_id, f"x{day}")
    # The daily limit is checked in the debit script itself, under its own counter.
    result = await apply_with_wallet(svc, txn, f"exchange:{key}", daily_cap=rates["exchange_daily_diamond_limit"],
                                     cap_key=spent_key)  # fmt: skip
    if not result.ok:
        raise money.refusal(result, REFUSED)
    if not result.replay:
        # The coins land now rather than at the next flush. Never for a replay: the credits belong
        # to the first request's transaction (the flusher completes them), not to this new one.
        await complete_credits(svc, svc.wallets, txn)
    balances = await svc.wallets.balances(user_id) or {}
    return {"diamonds_used": diamonds, "coins_received": legs[3].amount, "balances": balances,
            "transaction_id": None if result.replay else txn.txn_id, "replay": result.replay}  # fmt: skip
