"""Resellers and coin requests (legacy `/api/coin-resellers`, `/api/coin-requests/…`).

A request may only be addressed to a reseller or an admin (legacy accepted anyone), and only the
addressee decides. Approval moves the coins from the approver's wallet to the requester's in one
Lua step keyed by the request id, then marks the request approved: retried or concurrent approvals
pay once.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.audit.store import record_txn
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet, flag_for_review, get_balances
from engine.economy.flusher import complete_credits
from engine.errors import DomainError, forbidden, not_found, validation_error
from engine.resellers import store
from engine.services import Services

SUPPLIER_ROLES = frozenset({"reseller", "admin", "super_admin"})
REFUSED = {"INSUFFICIENT_FUNDS": "You do not have enough coins to approve this request.",
           "DAILY_LIMIT": "Daily transfer limit reached."}  # fmt: skip
Proof = Annotated[str, Meta(max_length=500, pattern=r"^(https://|proofs/)[\w./%-]+$")]


class CoinRequestBody(msgspec.Struct):
    amount: Annotated[int, Meta(ge=1, le=10**10)]
    type: Literal[1, 2]
    message: Annotated[str, Meta(max_length=255)] | None = None
    credit_days: Annotated[int, Meta(ge=1, le=365)] | None = None
    proof_1: Proof | None = None  # uploaded first (POST /api/signed-url), then referenced here
    proof_2: Proof | None = None
    proof_3: Proof | None = None


class DecisionBody(msgspec.Struct):
    status: Literal[2, 3]  # 2 approve, 3 reject
    action_message: Annotated[str, Meta(max_length=255)] | None = None


async def resellers(svc: Services) -> list[dict[str, Any]]:
    async with svc.pool.acquire() as conn:
        rows = await store.active_resellers(conn)
    return [{**r, "coin_balance": (await get_balances(svc, r["id"]))["coins"]} for r in rows]


async def do_create(svc: Services, requester: int, supplier: int, body: CoinRequestBody) -> dict[str, Any]:
    if body.type == 2 and body.credit_days is None:
        raise validation_error({"credit_days": ["The credit days field is required for a credit request."]})
    if requester == supplier:
        raise validation_error({"user": ["You cannot ask yourself for coins."]})
    async with svc.pool.acquire() as conn:
        if not await store.role_names(conn, supplier) & SUPPLIER_ROLES:
            raise DomainError("not_a_reseller", "That user does not sell coins.", status=422,
                              fields={"user": ["That user does not sell coins."]})  # fmt: skip
        return await store.insert_request(conn, requester, supplier, msgspec.structs.asdict(body))


async def get_request(svc: Services, viewer: int, request_id: int) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        row = await store.get_request(conn, request_id)
    if row is None or viewer not in (row["user_id"], row["requested_from"]):
        raise not_found("CoinRequest")
    return row


async def do_decide(svc: Services, actor: int, request_id: int, body: DecisionBody) -> dict[str, Any]:
    async with svc.pool.acquire() as conn, conn.transaction():
        row = await store.lock_request_txn(conn, request_id)
        if row is None:
            raise not_found("CoinRequest")
        if row["requested_from"] != actor:
            raise forbidden()
        if row["status"] != store.PENDING:
            raise DomainError("already_decided", "This request has already been decided.", status=409)
        txn_id = None
        if body.status == 2:
            txn = money.make_txn(
                "coin_request", [money.Leg("user", actor, "coins", -row["amount"]),
                                 money.Leg("user", row["user_id"], "coins", row["amount"])],
                initiator_id=actor, ref_type="coin_request", ref_id=str(request_id),
            )  # fmt: skip
            day = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
            result = await apply_with_wallet(svc, txn, f"coin_request:{request_id}",
                                             daily_cap=svc.config.daily_transfer_limit,
                                             cap_key=svc.keys.daily_spend(actor, f"t{day}"))  # fmt: skip
            if result.code == "DAILY_LIMIT":
                await flag_for_review(svc, actor, "daily_transfer_limit", {"request_id": request_id})
            if not result.ok:
                raise money.refusal(result, REFUSED)
            if not result.replay:
                await complete_credits(svc, svc.wallets, txn)
                txn_id = txn.txn_id
        await store.decide_txn(conn, request_id, body.status, body.action_message, actor, txn_id)
        await record_txn(conn, actor_id=actor, action="coin_request.approve" if body.status == 2 else
                         "coin_request.reject", target_type="coin_request", target_id=request_id,
                         details={"amount": row["amount"]})  # fmt: skip
    return {**row, "status": body.status, "action_message": body.action_message, "updated_by": actor}
