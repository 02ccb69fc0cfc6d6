"""Wallet actions every domain uses (apply a transaction, read balances, flag fraud), admin grants
and deductions, economy settings.

Every change goes through `Wallets.apply` (one Lua step with its idempotency key), by way of
`apply_with_wallet`; a refused debit becomes an error through `model.refusal`. Admin actions are
also written to the audit log.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from engine.audit.store import record_txn
from engine.economy import model as money
from engine.economy import store
from engine.economy.model import Applied, Currency
from engine.economy.store import EconomyServices
from engine.errors import not_found, validation_error

log = logging.getLogger("flylive.economy")


async def apply_with_wallet(
    svc: EconomyServices, txn: money.Txn, key: str, daily_cap: int = 0, cap_key: str | None = None
) -> Applied:
    """Apply a transaction (see `Wallets.apply`), loading the wallet from the ledger first when it is not live."""
    user_id = txn.legs[0].account_id
    return await store.with_live_wallet(
        svc.pool, svc.wallets, user_id, lambda: svc.wallets.apply(txn, key, daily_cap, cap_key)
    )


async def get_balances(svc: EconomyServices, user_id: int) -> dict[str, int]:
    """A user's live balances, the wallet loaded from the ledger first if it is not live."""
    balances = await svc.wallets.balances(user_id)
    if balances is None:
        await store.ensure_wallet(svc.pool, svc.wallets, user_id)
        balances = await svc.wallets.balances(user_id)
    return balances or {"coins": 0, "diamonds": 0}


async def flag_for_review(svc: EconomyServices, user_id: int, kind: str, details: dict[str, Any]) -> None:
    """Raise a fraud flag for staff, at most once per user, kind and day."""
    async with svc.pool.acquire() as conn:
        raised = await store.insert_fraud_flag(conn, user_id, kind, details)
    if raised:
        log.warning("fraud flag raised", extra={"user_id": user_id, "kind": kind, **details})


async def do_adjust(
    svc: EconomyServices, actor_id: int, user_id: int, currency: Currency, amount: int, *,
    direction: Literal["grant", "deduct"], reason: str, key: str,
) -> dict[str, Any]:  # fmt: skip
    """Mint money into a wallet (grant) or take it out of circulation (deduct)."""
    async with svc.pool.acquire() as conn:
        if not await store.user_exists(conn, user_id):
            raise not_found("User")
    if direction == "grant":
        legs = [money.Leg("user", user_id, currency, amount), money.Leg("mint", 0, currency, -amount)]
    else:
        legs = [money.Leg("user", user_id, currency, -amount), money.Leg("burn", 0, currency, amount)]
    txn = money.make_txn(f"admin_{direction}", legs, initiator_id=actor_id, ref_type="admin",
                         metadata={"reason": reason, "key": key})  # fmt: skip
    result = await apply_with_wallet(svc, txn, f"admin:{key}")
    if not result.ok:
        raise money.refusal(result)
    if not result.replay:
        async with svc.pool.acquire() as conn:
            await record_txn(conn, actor_id=actor_id, action=f"wallet.{direction}", target_type="user",
                             target_id=user_id, details={"currency": currency, "amount": amount, "reason": reason,
                                                         "txn_id": txn.txn_id})  # fmt: skip
    return {"user_id": user_id, "currency": currency, "balance": result.balance, "replay": result.replay}


def check_settings(merged: dict[str, int]) -> None:
    """A gift's coin shares (plain recipient or agency commission, plus the room owner) must leave the
    platform's remainder non-negative; other basis-point settings stay within 100%."""
    shares = max(merged["gift_recipient_coins_bps"], merged["gift_agency_commission_bps"])
    if shares + merged["gift_room_owner_bps"] > 10_000:
        raise validation_error({"values": ["Gift shares may not exceed 100% (10000 bps) together."]})
    over = [k for k, v in merged.items() if k.endswith("_bps") and "_per_" not in k and v > 10_000]
    if over:
        raise validation_error({"values": [f"More than 100%: {', '.join(sorted(over))}."]})


async def do_update_settings(svc: EconomyServices, actor_id: int, values: dict[str, int]) -> dict[str, int]:
    async with svc.pool.acquire() as conn, conn.transaction():
        current = await store.settings(conn)
        unknown = sorted(set(values) - set(current))
        if unknown:
            raise validation_error({"values": [f"Unknown settings: {', '.join(unknown)}."]})
        merged = {**current, **values}
        check_settings(merged)
        for key, value in values.items():
            await store.update_setting_txn(conn, key, value, actor_id)
        before = {key: current[key] for key in values}
        await record_txn(conn, actor_id=actor_id, action="economy.settings", target_type="settings",
                         details={"before": before, "after": dict(values)})  # fmt: skip
    return merged
