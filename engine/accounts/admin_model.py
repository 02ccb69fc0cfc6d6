"""The dashboard's user search (issue 15 §3), pure: the filters read from a GET form, the CSV row of
a user, the length of a suspension. No I/O (engine/accounts/admin_store.py runs the queries)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

STATUSES = ("active", "suspended", "banned")
VIP_CHOICES = ("any", "none", "1", "2", "3", "4", "5", "6", "7")
PAGE_SIZE = 50
EXPORT_MAX = 10_000  # rows in one CSV file: bounded, so one click cannot dump the whole table
MAX_SUSPENSION_DAYS = 3650
CSV_COLUMNS = ("id", "name", "phone", "signature", "country", "status", "suspended_until", "wealth_level",
               "charm_level", "vip_level", "created_at")  # fmt: skip
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class UserFilters:
    """A search over accounts; every field optional (None: not filtered). `q` matches an id exactly,
    a name or signature in part, a phone from its start."""

    q: str | None = None
    country: str | None = None
    status: str | None = None
    min_level: int | None = None
    vip: str | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None

    def query_string(self) -> dict[str, str]:
        """The filters as GET parameters again (for the pager and the CSV link)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return out


def _int(raw: str, lo: int, hi: int) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if lo <= value <= hi else None


def _date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def parse_filters(query: Mapping[str, str]) -> tuple[UserFilters, list[str]]:
    """The filters from the search form, and what was not understood (shown, then ignored)."""
    errors: list[str] = []
    raw = {key: query.get(key, "").strip()[:100] for key in ("q", "country", "status", "min_level", "vip",
                                                              "created_from", "created_to")}  # fmt: skip
    values: dict[str, Any] = {"q": raw["q"] or None}
    if raw["country"]:
        if _COUNTRY.match(raw["country"]):
            values["country"] = raw["country"].lower()
        else:
            errors.append("Country: two letters, such as PK.")
    if raw["status"]:
        if raw["status"] in STATUSES:
            values["status"] = raw["status"]
        else:
            errors.append("Status: active, suspended or banned.")
    if raw["min_level"]:
        values["min_level"] = _int(raw["min_level"], 1, 1000)
        if values["min_level"] is None:
            errors.append("Level: a whole number from 1.")
    if raw["vip"]:
        if raw["vip"] in VIP_CHOICES:
            values["vip"] = raw["vip"]
        else:
            errors.append("VIP: any, none or a level from 1 to 7.")
    for key in ("created_from", "created_to"):
        if raw[key]:
            values[key] = _date(raw[key])
            if values[key] is None:
                errors.append("Created: a date as YYYY-MM-DD.")
    return UserFilters(**values), errors


def page_number(raw: str | None) -> int:
    value = _int(raw or "1", 1, 10_000)
    return value or 1


def csv_row(user: Mapping[str, Any]) -> list[str]:
    row = []
    for column in CSV_COLUMNS:
        value = user[column]
        text = "" if value is None else value.isoformat() if isinstance(value, dt.datetime) else str(value)
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it (CSV injection).
        row.append(f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") and column != "phone" else text)
    return row


def suspension_end(now: dt.datetime, amount: str, unit: str) -> dt.datetime | None:
    """When a suspension of `amount` hours or days from `now` ends; None when that is not a length."""
    hours = {"hours": 1, "days": 24}.get(unit)
    count = _int(amount.strip(), 1, MAX_SUSPENSION_DAYS * 24)
    if hours is None or count is None or count * hours > MAX_SUSPENSION_DAYS * 24:
        return None
    return now + dt.timedelta(hours=count * hours)
