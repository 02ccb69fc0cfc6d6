"""The finance dashboard's filters (issue 15 §4): what a ledger search may ask, read from a query
string and checked here (no I/O), so the page and its CSV export filter alike."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from engine.errors import validation_error

ACCOUNT_TYPES = ("user", "agency", "platform", "mint", "burn")
CURRENCIES = ("coins", "diamonds", "usd_cents")
PAGE_LIMIT = 50
CSV_MAX_ROWS = 50_000  # an export is bounded; narrow the filters for more


@dataclass(frozen=True)
class LedgerFilter:
    account_type: str | None = None
    account_id: int | None = None
    currency: str | None = None
    kind: str | None = None
    txn_id: uuid.UUID | None = None
    since: dt.datetime | None = None  # inclusive, UTC midnight of the day asked
    until: dt.datetime | None = None  # exclusive: the day after the day asked

    def query(self) -> dict[str, str]:
        """Back to query-string fields (for the pager and the CSV link)."""
        out = {"account_type": self.account_type, "account_id": self.account_id, "currency": self.currency,
               "kind": self.kind, "txn_id": self.txn_id,
               "since": self.since.date().isoformat() if self.since else None,
               "until": (self.until - dt.timedelta(days=1)).date().isoformat() if self.until else None}  # fmt: skip
        return {k: str(v) for k, v in out.items() if v is not None}


def _day(text: str, field: str, errors: dict[str, list[str]]) -> dt.datetime | None:
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
    except ValueError:
        errors[field] = ["Use a date like 2026-01-31."]
        return None


def check_ledger_filter(params: Mapping[str, str]) -> LedgerFilter:
    """The filter a query string asks for; a 422 naming each field that is not valid."""
    errors: dict[str, list[str]] = {}
    value = {k: params.get(k, "").strip() for k in ("account_type", "account_id", "currency", "kind", "txn_id",
                                                     "since", "until")}  # fmt: skip
    if value["account_type"] and value["account_type"] not in ACCOUNT_TYPES:
        errors["account_type"] = ["Not an account type."]
    if value["currency"] and value["currency"] not in CURRENCIES:
        errors["currency"] = ["Not a currency."]
    account_id = None
    if value["account_id"]:
        if not value["account_id"].isdigit() or len(value["account_id"]) > 18:
            errors["account_id"] = ["An account id is a number."]
        else:
            account_id = int(value["account_id"])
    if len(value["kind"]) > 40:
        errors["kind"] = ["A kind is at most 40 characters."]
    txn_id = None
    if value["txn_id"]:
        try:
            txn_id = uuid.UUID(value["txn_id"])
        except ValueError:
            errors["txn_id"] = ["A transaction id is a UUID."]
    since = _day(value["since"], "since", errors) if value["since"] else None
    until = _day(value["until"], "until", errors) if value["until"] else None
    if errors:
        raise validation_error(errors)
    return LedgerFilter(
        account_type=value["account_type"] or None, account_id=account_id, currency=value["currency"] or None,
        kind=value["kind"] or None, txn_id=txn_id, since=since,
        until=until + dt.timedelta(days=1) if until else None,
    )  # fmt: skip


def check_note(text: str | None, *, required: bool, field: str = "note", limit: int = 500) -> str | None:
    note = (text or "").strip()
    if required and not note:
        raise validation_error({field: ["Write what you decided and why."]})
    if len(note) > limit:
        raise validation_error({field: [f"At most {limit} characters."]})
    return note or None


def cursor_of(text: str | None) -> int | None:
    """A pager's `before` (an id): anything else is the first page."""
    return int(text) if text and text.isdigit() and len(text) < 19 else None
