"""The owner's side of agency income (issue 13 §3, docs/agency.md "Owner income, advances and salary
exchange"): request bodies and queries with their limits, the income page's figures, the advance
cap, the ledger legs of advances and Salary Exchange Requests, and how rows read on the wire. No I/O.

Months are business months (income_model); the ASP (agency share) is paid by the platform on top of
the members' income, never out of it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.accounts.model import iso_timestamp
from engine.agency.income_model import agency_share_cents, month_text, parse_month, usd_cents_of
from engine.economy.model import Leg, Txn, make_txn, share
from engine.errors import DomainError, validation_error
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit

Key = Annotated[str, Meta(min_length=8, max_length=64, pattern=r"^[\w:.-]+$")]
MonthText = Annotated[str, Meta(max_length=7)]
ExchangeStatus = Literal["pending", "approved", "rejected"]
# Deterministic ledger ids: each request moves money once, whoever retries it.
_NAMESPACE = uuid.UUID("6f1d3c52-1f0b-4b7e-9a43-0d2b7f1e8a13")
FUTURE_MONTH = "The month must not be in the future."
ADVANCE_KIND = "agency_salary_advance"
EXCHANGE_KIND = "agency_salary_exchange"


class AdvanceBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/agencies/{id}/salary-advances (the owner)."""

    usd_cents: Annotated[int, Meta(ge=1, le=10**12)]
    """The advance, in US dollar cents; this month's advances may reach agency_advance_max_bps of the
    month's estimated share."""
    idempotency_key: Key
    """The same key again answers the first advance (no second payment)."""


class ExchangeBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/agencies/{id}/salary-exchange (the owner): coins of the agency's balance → USD."""

    amount: Annotated[int, Meta(ge=1, le=10**15)]
    """Coins of the agency's coin balance (its gift commission), valued at agency_coins_per_usd."""
    idempotency_key: Key


class ExchangeRejectBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=1, max_length=500)]
    """Why (required; the owner is told)."""


class IncomeQuery(msgspec.Struct):
    month: MonthText | None = None
    """YYYY-MM, a business month (default: the current one); not in the future."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class AdvancesQuery(msgspec.Struct):
    month: MonthText | None = None
    """Only the advances on this business month's share (default: all, newest first)."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class ExchangesQuery(msgspec.Struct):
    status: ExchangeStatus | None = None
    """Only the requests in this state (default: all)."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


def chosen_month(text: str | None, current: dt.date) -> dt.date:
    """The month asked for (default: the current business month); a future one is a 422."""
    if text is None:
        return current
    month = parse_month(text)
    if month > current:
        raise validation_error({"month": [FUTURE_MONTH]})
    return month


def conflict(code: str, message: str) -> DomainError:
    return DomainError(code, message, status=409)


# --- the income page ----------------------------------------------------------------------------


def summary(month: dt.date, coins: int, share_bps: int, advances: int, wallet_coins: int, wallet_usd: int,
            settings: Mapping[str, int]) -> dict[str, Any]:  # fmt: skip
    """The Members Income page's head and the main page's live figures. The estimated salary is the
    ASP of the month's total coins (rounded once, on the total, as the settlement pays it)."""
    estimated = agency_share_cents(coins, share_bps, settings)
    return {
        "month": month_text(month), "monthly_coins": coins, "share_bps": share_bps,
        "estimated_salary_usd_cents": estimated, "salary_in_advance_usd_cents": advances,
        "balance_usd_cents": estimated - advances,
        "advance_limit_usd_cents": advance_cap(estimated, settings),
        "wallet": {"coins": wallet_coins, "usd_cents": wallet_usd},
    }  # fmt: skip


def host_item(row: dict[str, Any], share_bps: int, settings: Mapping[str, int]) -> dict[str, Any]:
    coins = int(row["coins"])
    return {
        "user_id": row["user_id"], "name": row["name"], "avatar_image": row["avatar_image"], "coins": coins,
        "agency_share_coins": share(coins, share_bps),
        "agency_share_usd_cents": agency_share_cents(coins, share_bps, settings),
    }  # fmt: skip


# --- advances -------------------------------------------------------------------------------------


def advance_cap(estimated_cents: int, settings: Mapping[str, int]) -> int:
    """The most a month's advances may add up to: agency_advance_max_bps of its estimated share."""
    return share(estimated_cents, settings["agency_advance_max_bps"])


def check_advance(usd_cents: int, drawn: int, estimated_cents: int, settings: Mapping[str, int]) -> None:
    cap = advance_cap(estimated_cents, settings)
    if drawn + usd_cents > cap:
        raise conflict("advance_over_limit", f"This month's advances may reach {cap} cents of the estimated "
                       f"salary; {drawn} cents are drawn already, so at most {max(cap - drawn, 0)} more.")  # fmt: skip


def advance_txn(agency_id: int, month: dt.date, usd_cents: int, actor_id: int, key: str) -> Txn:
    """Mint → the agency's USD account, on the month's share (settlement pays the rest of it)."""
    return make_txn(
        ADVANCE_KIND, [Leg("mint", 0, "usd_cents", -usd_cents), Leg("agency", agency_id, "usd_cents", usd_cents)],
        txn_id=uuid.uuid5(_NAMESPACE, f"advance:{agency_id}:{key}"), initiator_id=actor_id,
        ref_type="agency_month", ref_id=month_text(month),
        metadata={"agency_id": agency_id, "month": month_text(month), "usd_cents": usd_cents},
    )  # fmt: skip


def advance_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "agency_id": row["agency_id"], "month": month_text(row["month"]),
        "usd_cents": row["usd_cents"], "requested_by": row["requested_by"], "transaction_id": str(row["txn_id"]),
        "created_at": iso_timestamp(row["created_at"]),
    }  # fmt: skip


# --- salary exchange requests ---------------------------------------------------------------------


def exchange_cents(coins: int, settings: Mapping[str, int]) -> int:
    """What the coins are worth; coins worth no whole cent are refused (422)."""
    cents = usd_cents_of(coins, settings["agency_coins_per_usd"])
    if cents <= 0:
        rate = settings["agency_coins_per_usd"]
        raise validation_error({"amount": [f"That is too few coins: {rate} coins make one dollar, and the amount "
                                           "must be worth at least one cent."]})  # fmt: skip
    return cents


def _exchange_txn(exchange_id: int, step: str, legs: list[Leg], row: dict[str, Any], actor_id: int) -> Txn:
    return make_txn(
        EXCHANGE_KIND, legs, txn_id=uuid.uuid5(_NAMESPACE, f"exchange:{exchange_id}:{step}"), initiator_id=actor_id,
        ref_type="agency_salary_exchange", ref_id=str(exchange_id),
        metadata={"agency_id": row["agency_id"], "step": step, "coins": row["coins"], "usd_cents": row["usd_cents"]},
    )  # fmt: skip


def exchange_request_txn(exchange_id: int, row: dict[str, Any], actor_id: int) -> Txn:
    """The agency's coins set aside in escrow:<request id> until staff decide."""
    coins = row["coins"]
    legs = [Leg("agency", row["agency_id"], "coins", -coins), Leg("escrow", exchange_id, "coins", coins)]
    return _exchange_txn(exchange_id, "request", legs, row, actor_id)


def exchange_decision_txn(row: dict[str, Any], approved: bool, actor_id: int) -> Txn:
    """Approved: the escrowed coins are burned and their dollars minted into the agency's USD account.
    Rejected: the coins go back to the agency."""
    exchange_id, agency_id, coins = row["id"], row["agency_id"], row["coins"]
    if approved:
        cents = row["usd_cents"]
        legs = [Leg("escrow", exchange_id, "coins", -coins), Leg("burn", 0, "coins", coins),
                Leg("mint", 0, "usd_cents", -cents), Leg("agency", agency_id, "usd_cents", cents)]  # fmt: skip
    else:
        legs = [Leg("escrow", exchange_id, "coins", -coins), Leg("agency", agency_id, "coins", coins)]
    return _exchange_txn(exchange_id, "approve" if approved else "reject", legs, row, actor_id)


def exchange_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "agency": {"id": row["agency_id"], "name": row["agency_name"]}, "coins": row["coins"],
        "usd_cents": row["usd_cents"], "coins_per_usd": row["coins_per_usd"], "status": row["status"],
        "reason": row["reason"], "requested_by": row["requested_by"], "processed_by": row["processed_by"],
        "created_at": iso_timestamp(row["created_at"]), "processed_at": iso_timestamp(row["processed_at"]),
    }  # fmt: skip


def exchange_notice_text(agency_name: str, row: dict[str, Any], approved: bool, reason: str | None) -> str:
    dollars = f"${row['usd_cents'] // 100}.{row['usd_cents'] % 100:02d}"
    if approved:
        return f"Your salary exchange of {row['coins']} coins for {dollars} ({agency_name}) was approved."
    return f"Your salary exchange of {row['coins']} coins ({agency_name}) was not approved: {reason}"
