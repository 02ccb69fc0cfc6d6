"""Wallet actions outside gifts: admin grants and deductions, balances.

Every change goes through `Wallets.apply` (one Lua step with its idempotency key); admin actions
are also written to the audit log.
"""

from __future__ import annotations

from typing import Any, Literal

from engine.audit.store import record_txn
from engine.economy import model as money
from engine.economy.flusher import ensure_wallet
from engine.economy.model import Currency
from engine.economy.store import Applied
from engine.errors import DomainError, not_found
from engine.services import Services


async def apply_with_wallet(
    svc: Services, txn: money.Txn, key: str, daily_cap: int = 0, cap_key: str | None = None
) -> Applied:
    """Apply a transaction, loading the wallet from the ledger first when it is not live yet."""
    result = await svc.wallets.apply(txn, key, daily_cap, cap_key)
    if result.code == "NO_WALLET":
        await ensure_wallet(svc, svc.wallets, txn.legs[0].account_id)
        result = await svc.wallets.apply(txn, key, daily_cap, cap_key)
    return result


async def do_adjust(
    svc: Services, actor_id: int, user_id: int, currency: Currency, amount: int, *,
    direction: Literal["grant", "deduct"], reason: str, key: str,
) -> dict[str, Any]:  # fmt: skip
    """Mint money into a wallet (grant) or take it out of circulation (deduct)."""
    async with svc.pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM users WHERE id = $1", user_id) is None:
            raise not_found("User")
    if direction == "grant":
        legs = [money.Leg("user", user_id, currency, amount), money.Leg("mint", 0, currency, -amount)]
    else:
        legs = [money.Leg("user", user_id, currency, -amount), money.Leg("burn", 0, currency, amount)]
    txn = money.make_txn(f"admin_{direction}", legs, initiator_id=actor_id, ref_type="admin",
                         metadata={"reason": reason, "key": key})  # fmt: skip
    result = await apply_with_wallet(svc, txn, f"admin:{key}")
    if not result.ok:
        message = "Insufficient funds." if result.code == "INSUFFICIENT_FUNDS" else "The wallet is frozen."
        raise DomainError(str(result.code).lower(), message, status=409)
    if not result.replay:
        async with svc.pool.acquire() as conn:
            await record_txn(conn, actor_id=actor_id, action=f"wallet.{direction}", target_type="user",
                             target_id=user_id, details={"currency": currency, "amount": amount, "reason": reason,
                                                         "txn_id": txn.txn_id})  # fmt: skip
    return {"user_id": user_id, "currency": currency, "balance": result.balance, "replay": result.replay}


async def get_balances(svc: Services, user_id: int) -> dict[str, int]:
    balances = await svc.wallets.balances(user_id)
    if balances is None:
        await ensure_wallet(svc, svc.wallets, user_id)
        balances = await svc.wallets.balances(user_id)
    return balances or {"coins": 0, "diamonds": 0}
