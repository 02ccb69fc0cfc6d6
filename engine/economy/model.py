"""Money model: transactions, their legs, the gift split. Integers only, no I/O.

A transaction is double-entry: its legs sum to zero per currency. Accounts are "user:<id>",
"agency:<id>", "platform:0", "mint:0" (the source of new money), "burn:0" (the sink of spent
money) and "escrow:<id>" (what a pending request has set aside). Only users' coin and diamond
wallets are live in Redis; a leg with `live=True` changes one. US dollar cents (salaries) are held
by ledger accounts only (see `store.apply_held_txn`).
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import msgspec

from engine.errors import DomainError

Currency = Literal["coins", "diamonds"]  # what a live wallet holds
LedgerCurrency = Literal["coins", "diamonds", "usd_cents"]
AccountType = Literal["user", "agency", "platform", "mint", "burn", "escrow"]
BPS = 10_000  # basis points in a whole


class Leg(msgspec.Struct, frozen=True):
    account_type: AccountType
    account_id: int
    currency: LedgerCurrency
    amount: int  # signed: negative leaves the account

    @property
    def live(self) -> bool:
        """A user's coin or diamond wallet: its balance is held in Redis."""
        return self.account_type == "user" and self.currency != "usd_cents"


class Txn(msgspec.Struct, frozen=True):
    txn_id: str
    kind: str
    legs: list[Leg]
    at_ms: int
    initiator_id: int | None = None
    ref_type: str | None = None
    ref_id: str | None = None
    metadata: dict[str, object] = {}


class UnbalancedTransaction(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Applied:
    """What a wallet script answered: `ok`, or the refusal's `code` (the script's upper-case name)."""

    ok: bool
    code: str | None = None
    balance: int | None = None
    required: int | None = None
    replay: bool = False
    cap: int | None = None


REFUSALS = {
    "INSUFFICIENT_FUNDS": "Insufficient funds.",
    "WALLET_FROZEN": "The wallet is frozen.",
    "DAILY_LIMIT": "Daily limit reached.",
}


def refusal(result: Applied, messages: Mapping[str, str] | None = None) -> DomainError:
    """The HTTP error for a debit the wallet refused: always 409 (the request was well formed; the
    wallet's state forbids it), with the script's code in lower case. `messages` words it per use."""
    code = result.code or "DEBIT_REFUSED"
    message = (messages or {}).get(code) or REFUSALS.get(code, "The wallet refused this debit.")
    return DomainError(code.lower(), message, status=409)


def new_txn_id() -> str:
    return str(uuid.uuid4())


def now_ms() -> int:
    return int(time.time() * 1000)


def check_balanced(legs: list[Leg]) -> None:
    """Every transaction moves money, never makes or loses it: legs sum to zero per currency."""
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.amount == 0:
            raise UnbalancedTransaction("a leg must move a non-zero amount")
        totals[leg.currency] += leg.amount
    if any(totals.values()):
        raise UnbalancedTransaction(f"legs do not balance: {dict(totals)}")


def make_txn(kind: str, legs: list[Leg], **fields: object) -> Txn:
    kept = [leg for leg in legs if leg.amount != 0]
    check_balanced(kept)
    return Txn(txn_id=str(fields.pop("txn_id", None) or new_txn_id()), kind=kind, legs=kept, at_ms=now_ms(),
               **fields)  # type: ignore[arg-type]  # fmt: skip


def share(total: int, bps: int) -> int:
    """A share rounded down: rounding never creates money; what is left goes to the platform."""
    return total * bps // BPS


class GiftSplit(msgspec.Struct, frozen=True):
    recipient_coins: int
    recipient_diamonds: int
    agency_commission: int
    room_owner: int
    platform: int


def split_gift(total: int, settings: dict[str, int], *, agency_member: bool, has_room_owner: bool) -> GiftSplit:
    """Divide `total` coins given to one recipient (backend-contract §3.8).

    A plain recipient gets coins (NAMGI%); an agency member gets diamonds (AMGI%, new money in
    another currency) and their agency a commission in coins; the room owner gets RO%; the platform
    keeps the remainder, rounding included, so the coin shares add up to `total` exactly.
    """
    recipient_coins = 0 if agency_member else share(total, settings["gift_recipient_coins_bps"])
    diamonds = share(total, settings["gift_recipient_diamonds_bps"]) if agency_member else 0
    agency = share(total, settings["gift_agency_commission_bps"]) if agency_member else 0
    owner = share(total, settings["gift_room_owner_bps"]) if has_room_owner else 0
    platform = total - recipient_coins - agency - owner
    if platform < 0:
        raise ValueError("gift shares exceed 100%")
    return GiftSplit(recipient_coins, diamonds, agency, owner, platform)


def gift_legs(
    sender: int, recipient: int, total: int, split: GiftSplit, *, agency_id: int | None, room_owner: int | None
) -> list[Leg]:
    """The legs of one recipient's part of a gift; the sender's debit leg comes first."""
    legs = [Leg("user", sender, "coins", -total), Leg("platform", 0, "coins", split.platform)]
    if split.recipient_coins:
        legs.append(Leg("user", recipient, "coins", split.recipient_coins))
    if split.recipient_diamonds:
        legs += [Leg("mint", 0, "diamonds", -split.recipient_diamonds),
                 Leg("user", recipient, "diamonds", split.recipient_diamonds)]  # fmt: skip
    if split.agency_commission and agency_id is not None:
        legs.append(Leg("agency", agency_id, "coins", split.agency_commission))
    if split.room_owner and room_owner is not None:
        legs.append(Leg("user", room_owner, "coins", split.room_owner))
    return legs


def merge_legs(legs: list[Leg]) -> list[Leg]:
    """Combine legs on the same account and currency (a gift to many recipients is one transaction)."""
    totals: dict[tuple[str, int, str], int] = defaultdict(int)
    order: list[tuple[str, int, str]] = []
    for leg in legs:
        key = (leg.account_type, leg.account_id, leg.currency)
        if key not in totals:
            order.append(key)
        totals[key] += leg.amount
    return [Leg(t, i, c, totals[(t, i, c)]) for t, i, c in order if totals[(t, i, c)]]  # type: ignore[arg-type]
