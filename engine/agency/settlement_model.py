"""The month-end settlement's pure side (issue 13 §3, docs/agency.md "Month-end settlement"): the
deterministic ledger transaction ids and idempotency keys of each payment, the transactions
themselves, the queries of its routes and the items they answer. No I/O."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec

from engine.accounts.model import iso_timestamp
from engine.agency.income_model import MONTH_PATTERN, month_text, parse_month
from engine.economy.model import Leg, Txn, make_txn
from engine.errors import validation_error
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit

# Every settlement transaction id is a uuid5 in this namespace of what it pays, so a retried
# payment is the same ledger transaction (the ledger's primary key refuses a second one).
NAMESPACE = uuid.UUID("4f0c1c53-6a55-4f53-9d8e-9a3b1f2c7e11")
REF_TYPE = "agency_month"


def previous_month(month: dt.date) -> dt.date:
    return dt.date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_key(month: dt.date) -> int:
    """A month as a cursor position: 202611."""
    return month.year * 100 + month.month


def month_of_key(key: int) -> dt.date:
    try:
        return dt.date(key // 100, key % 100, 1)
    except ValueError:
        raise validation_error({"cursor": ["The cursor is not valid."]}) from None


def member_key(kind: str, month: dt.date, agency_id: int, user_id: int, membership_id: int | None) -> str:
    """What a member's settlement row is unique by: (month, agency, member) at the month end, the
    ended membership for a leaver."""
    if kind == "leaver":
        return f"leaver:{membership_id}"
    return f"month_end:{month_text(month)}:{agency_id}:{user_id}"


def txn_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def iecp_idempotency_key(row_id: int) -> str:
    """The wallet script's idempotency key of a settlement row's diamond credit."""
    return f"agency_iecp:{row_id}"


def reward_txn(row: dict[str, Any]) -> Txn:
    """A member's target rewards: new USD cents into their salary balance (ledger-only)."""
    return make_txn(
        "agency_settlement",
        [Leg("mint", 0, "usd_cents", -row["reward_usd_cents"]), Leg("user", row["user_id"], "usd_cents",
                                                                     row["reward_usd_cents"])],
        txn_id=str(row["reward_txn_id"]), ref_type=REF_TYPE, ref_id=month_text(row["month"]),
        metadata={"agency_id": row["agency_id"], "user_id": row["user_id"], "coins": row["coins"],
                  "reward_usd_cents": row["reward_usd_cents"], "settlement_id": row["id"], "kind": row["kind"]},
    )  # fmt: skip


def iecp_txn(row: dict[str, Any]) -> Txn:
    """The excess coins × IECP as new diamonds in the member's live wallet (its leg first)."""
    return make_txn(
        "agency_iecp",
        [Leg("user", row["user_id"], "diamonds", row["iecp_diamonds"]), Leg("mint", 0, "diamonds",
                                                                            -row["iecp_diamonds"])],
        txn_id=str(row["iecp_txn_id"]), ref_type=REF_TYPE, ref_id=month_text(row["month"]),
        metadata={"agency_id": row["agency_id"], "user_id": row["user_id"], "excess_coins": row["excess_coins"],
                  "iecp_diamonds": row["iecp_diamonds"], "settlement_id": row["id"], "kind": row["kind"]},
    )  # fmt: skip


def share_txn(month: dt.date, agency_id: int, paid: int, share_cents: int, advances: int, coins: int) -> Txn:
    """The owner's share (ASP) less the advances drawn on it, into the agency's USD balance."""
    key = f"{month_text(month)}:{agency_id}"
    return make_txn(
        "agency_share",
        [Leg("mint", 0, "usd_cents", -paid), Leg("agency", agency_id, "usd_cents", paid)],
        txn_id=txn_id("agency_share", key), ref_type=REF_TYPE, ref_id=month_text(month),
        metadata={"agency_id": agency_id, "coins": coins, "share_usd_cents": share_cents,
                  "advances_usd_cents": advances, "paid_usd_cents": paid},
    )  # fmt: skip


# --- routes -----------------------------------------------------------------------------------------

Month = Annotated[str, msgspec.Meta(pattern=MONTH_PATTERN.pattern, examples=["2026-11"])]


class SettlementsQuery(msgspec.Struct):
    month: Month | None = None
    """A business month, YYYY-MM (all months when absent)."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT

    def month_date(self) -> dt.date | None:
        return parse_month(self.month) if self.month is not None else None


def run_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "month": month_text(row["month"]), "state": row["state"], "attempts": row["attempts"],
        "members": row["members"], "usd_cents": row["usd_cents"], "diamonds": row["diamonds"],
        "agencies": row["agencies"], "agency_usd_cents": row["agency_usd_cents"],
        "started_at": iso_timestamp(row["started_at"]), "closed_at": iso_timestamp(row["closed_at"]),
    }  # fmt: skip


def member_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "month": month_text(row["month"]), "agency_id": row["agency_id"],
        "user": {"id": row["user_id"], "name": row["user_name"], "avatar_image": row["user_avatar"]},
        "kind": row["kind"], "coins": row["coins"], "valid_seconds": row["valid_seconds"],
        "reached_coins": row["reached_coins"], "excess_coins": row["excess_coins"],
        "reward_total_usd_cents": row["reward_total_usd_cents"], "iecp_total_diamonds": row["iecp_total_diamonds"],
        "reward_usd_cents": row["reward_usd_cents"], "iecp_diamonds": row["iecp_diamonds"],
        "iecp_state": row["iecp_state"], "created_at": iso_timestamp(row["created_at"]),
    }  # fmt: skip
