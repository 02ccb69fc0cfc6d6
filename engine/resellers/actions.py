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
from engine.economy.actions import apply_with_wallet, get_balances
from engine.economy.flusher import complete_credits
from engine.economy.store import flag_for_review
from engine.errors import DomainError, forbidden, not_found, validation_error
from engine.services import Services

COLUMNS = """id, amount, message, action_message, proof_1, proof_2, proof_3, type, status, credit_days, user_id,
    requested_from, updated_by, created_at, updated_at"""
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
        rows = await conn.fetch(
            """SELECT u.id, u.name, u.signature, u.avatar_image FROM users u
               JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id
               WHERE r.name = 'reseller' AND u.deleted_at IS NULL AND u.status = 'active' ORDER BY u.id"""
        )
    return [{**dict(r), "coin_balance": (await get_balances(svc, r["id"]))["coins"]} for r in rows]


async def do_create(svc: Services, requester: int, supplier: int, body: CoinRequestBody) -> dict[str, Any]:
    if body.type == 2 and body.credit_days is None:
        raise validation_error({"credit_days": ["The credit days field is required for a credit request."]})
    if requester == supplier:
        raise validation_error({"user": ["You cannot ask yourself for coins."]})
    async with svc.pool.acquire() as conn:
        roles = await conn.fetch(
            """SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1""", supplier
        )
        if not {r["name"] for r in roles} & {"reseller", "admin", "super_admin"}:
            raise DomainError("not_a_reseller", "That user does not sell coins.", status=422,
                              fields={"user": ["That user does not sell coins."]})  # fmt: skip
        row = await conn.fetchrow(
            f"""INSERT INTO coin_requests (amount, message, type, credit_days, proof_1, proof_2, proof_3, user_id,
                                           requested_from)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}""",
            body.amount, body.message, body.type, body.credit_days, body.proof_1, body.proof_2, body.proof_3,
            requester, supplier,
        )  # fmt: skip
    assert row is not None
    return dict(row)


async def get_request(svc: Services, viewer: int, request_id: int) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM coin_requests WHERE id = $1", request_id)
    if row is None or viewer not in (row["user_id"], row["requested_from"]):
        raise not_found("CoinRequest")
    return dict(row)


async def do_decide(svc: Services, actor: int, request_id: int, body: DecisionBody) -> dict[str, Any]:
    async with svc.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM coin_requests WHERE id = $1 FOR UPDATE", request_id)
        if row is None:
            raise not_found("CoinRequest")
        if row["requested_from"] != actor:
            raise forbidden()
        if row["status"] != 1:
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
                raise DomainError("daily_limit", "Daily transfer limit reached.", status=409)
            if not result.ok:
                raise DomainError("insufficient_funds", "You do not have enough coins to approve this request.",
                                  status=409)  # fmt: skip
            if not result.replay:
                await complete_credits(svc, svc.wallets, txn)
                txn_id = txn.txn_id
        await conn.execute(
            """UPDATE coin_requests SET status = $2, action_message = $3, updated_by = $4, txn_id = $5::uuid,
                      updated_at = now() WHERE id = $1""",
            request_id, body.status, body.action_message, actor, txn_id,
        )  # fmt: skip
        await record_txn(conn, actor_id=actor, action="coin_request.approve" if body.status == 2 else
                         "coin_request.reject", target_type="coin_request", target_id=request_id,
                         details={"amount": row["amount"]})  # fmt: skip
    return {**dict(row), "status": body.status, "action_message": body.action_message, "updated_by": actor}
