"""The member side of agency income (docs/agency.md "Member income, targets and salary exchange"):
request bodies with their limits, how a month, a target, a day and an exchange read on the wire,
the salary → coins rate. Integers only, no I/O."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from engine.accounts.model import iso_timestamp
from engine.agency.income_model import CENTS_PER_USD, MonthFigures, Target, month_text, valid_seconds
from engine.errors import DomainError, validation_error

INSUFFICIENT_SURPLUS = "Insufficient surplus salary available."
TARGETS_MAX = 10
# Deterministic ledger ids of an exchange's two steps: a retry, the sweep or a second process can
# only ever name the same two transactions.
_EXCHANGE_NS = uuid.UUID("4f7b5d3e-2a51-4c1e-9d8e-6a0b7c1f2e93")

Key = Annotated[str, Meta(min_length=8, max_length=64, pattern=r"^[\w:.-]+$")]


class IncomeQuery(msgspec.Struct):
    month: Annotated[str, Meta(max_length=7)] | None = None
    """YYYY-MM (a business month in BUSINESS_TIMEZONE); default the current one; not in the future."""


class ExchangeBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/me/income/exchange: surplus salary → coins at `salary_coins_per_usd`."""

    usd_cents: Annotated[int, Meta(ge=1, le=10**10)]
    idempotency_key: Key
    """A replay of a key returns the first exchange's result and moves nothing."""


class TargetBody(msgspec.Struct, forbid_unknown_fields=True):
    coins: Annotated[int, Meta(ge=1, le=10**12)]
    reward_usd_cents: Annotated[int, Meta(ge=1, le=10**10)]
    valid_hours: Annotated[int, Meta(ge=0, le=744)] = 0
    """Valid hours the month must also hold (0: none)."""


class TargetsBody(msgspec.Struct, forbid_unknown_fields=True):
    """PUT /api/v1/admin/agency-targets: the whole active set, lowest first."""

    targets: Annotated[list[TargetBody], Meta(min_length=1, max_length=TARGETS_MAX)]

    def levels(self) -> list[tuple[int, int, int]]:
        coins = [t.coins for t in self.targets]
        if any(b <= a for a, b in itertools.pairwise(coins)):
            raise validation_error({"targets": ["The targets' coins must be distinct and in increasing order."]})
        return [(t.coins, t.reward_usd_cents, t.valid_hours) for t in self.targets]


class ShareBody(msgspec.Struct, forbid_unknown_fields=True):
    """PUT /api/v1/admin/agencies/{id}/share: the agency's ASP in basis points; null (or absent):
    back to the default."""

    share_bps: Annotated[int, Meta(ge=0, le=10_000)] | None = None

    def check(self, max_bps: int) -> None:
        if self.share_bps is not None and self.share_bps > max_bps:
            raise validation_error({"share_bps": [f"The share may be at most {max_bps} basis points."]})


def check_month(month: dt.date, current: dt.date) -> None:
    if month > current:
        raise validation_error({"month": ["The month must not be in the future."]})


def not_in_agency() -> DomainError:
    return DomainError("not_in_agency", "You are not in an agency.", status=403)


def salary_coins(usd_cents: int, coins_per_usd: int) -> int:
    """The coins a salary amount buys, rounded down ($1 = `coins_per_usd` coins)."""
    return usd_cents * coins_per_usd // CENTS_PER_USD


def check_buys_coins(coins: int) -> None:
    if coins <= 0:
        raise validation_error({"usd_cents": ["The amount is too small to buy a coin."]})


def exchange_txn_id(exchange_id: int, step: str) -> str:
    return str(uuid.uuid5(_EXCHANGE_NS, f"salary_exchange:{exchange_id}:{step}"))


def hours(seconds: int) -> float:
    return round(seconds / 3600, 2)


def target_item(target: Target, coins: int, valid_secs: int) -> dict[str, Any]:
    return {"id": target.id, "coins": target.coins, "reward_usd_cents": target.reward_usd_cents,
            "valid_hours": target.valid_hours, "reached": target.reached_by(coins, valid_secs),
            "progress_coins": min(coins, target.coins),
            "remaining_coins": max(target.coins - coins, 0)}  # fmt: skip


def day_item(row: dict[str, Any], cap_seconds: int) -> dict[str, Any]:
    valid = valid_seconds(int(row["mic_ms"]), cap_seconds)
    mic = int(row["mic_ms"]) // 1000
    return {"date": row["day"].isoformat(), "mic_seconds": mic, "duration_hours": hours(mic),
            "coins": int(row["coins"]), "valid_seconds": valid, "valid_hours": hours(valid)}  # fmt: skip


def income_view(month: dt.date, agency: dict[str, Any], figures: MonthFigures, targets: list[Target],
                days: list[dict[str, Any]], settings: dict[str, int],
                ledger: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """GET /api/v1/me/income: `ledger` holds settled, paid, surplus and exchanged."""
    coins, valid = figures.coins, figures.valid_seconds
    ahead = [t for t in targets if not t.reached_by(coins, valid)]
    cap = settings["agency_valid_seconds_per_day"]
    return {
        "month": month_text(month), "agency": {"id": agency["agency_id"], "name": agency["agency_name"]},
        "monthly_total_salary_usd_cents": figures.reward_usd_cents, "settled": ledger["settled"],
        "paid_usd_cents": ledger["paid"], "surplus_salary_usd_cents": ledger["surplus"],
        "exchanged_usd_cents": ledger["exchanged"], "coins": coins, "mic_seconds": figures.mic_ms // 1000,
        "valid_seconds": valid, "valid_hours": hours(valid), "valid_seconds_per_day": cap,
        "targets_cumulative": bool(settings["agency_targets_cumulative"]),
        "salary_coins_per_usd": settings["salary_coins_per_usd"],
        "targets": [target_item(t, coins, valid) for t in targets],
        "next_target": target_item(ahead[0], coins, valid) if ahead else None,
        "days": [day_item(d, cap) for d in days],
    }  # fmt: skip


def exchange_item(row: dict[str, Any], surplus: int, balances: dict[str, int], replay: bool) -> dict[str, Any]:
    return {"exchange_id": row["id"], "usd_cents": int(row["usd_cents"]), "coins": int(row["coins"]),
            "coins_per_usd": int(row["coins_per_usd"]), "status": row["status"],
            "surplus_salary_usd_cents": surplus, "balances": balances, "replay": replay,
            "created_at": iso_timestamp(row["created_at"])}  # fmt: skip


def targets_view(targets: list[Target], cumulative: bool) -> dict[str, Any]:
    return {"items": [{"id": t.id, "coins": t.coins, "reward_usd_cents": t.reward_usd_cents,
                       "valid_hours": t.valid_hours} for t in targets],
            "cumulative": cumulative}  # fmt: skip


def target_ref(target: Target) -> dict[str, Any]:
    return {"id": target.id, "coins": target.coins, "reward_usd_cents": target.reward_usd_cents,
            "valid_hours": target.valid_hours}  # fmt: skip


def member_text(agency_name: str, target: Target, month: str) -> str:
    return f"You reached the {target.coins:,}-coin target in {agency_name} for {month}."


def owner_text(member_name: str, target: Target, month: str) -> str:
    return f"{member_name} reached the {target.coins:,}-coin target for {month}."
