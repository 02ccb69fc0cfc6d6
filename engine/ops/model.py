"""The operations figures as typed values, and the pure arithmetic behind them (no I/O)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable

import msgspec

# The ledger kinds in which users spend coins (a gift, a VIP level, a mall item): "coins spent".
SPEND_KINDS = ("gift", "vip_purchase", "mall_purchase")
GIFT_MINUTES = 30  # the gifts-per-minute chart's window
PROCESS_TTL_SECONDS = 15  # a process's published figures vanish this long after its last report
PROCESS_REPORT_SECONDS = 5.0


class Point(msgspec.Struct, frozen=True):
    label: str
    value: float


class MediaNodes(msgspec.Struct, frozen=True):
    live: int
    stale: int
    load: int  # sum of the live nodes' reported load
    capacity: int  # sum of the live nodes' capacity
    rooms_placed: int


class Overview(msgspec.Struct, frozen=True):
    live_rooms: int
    sockets: int
    processes: int
    gifts_last_minute: int
    coins_spent_today: int
    revenue_today: dict[str, int]  # currency -> cents
    new_users_today: int
    media: MediaNodes
    gifts_per_minute: list[Point]
    coins_per_hour: list[Point]
    day_start: dt.datetime


class ProcessReport(msgspec.Struct, frozen=True):
    """What one engine process publishes about itself every few seconds (engine/ops/live.py)."""

    instance: str
    host: str
    pid: int
    sockets: int  # connected Socket.IO clients, the `flylive_socket_connections` gauge
    pg_pool_size: int
    pg_pool_idle: int
    started_ms: int
    seen_ms: int


class ProcessRow(msgspec.Struct, frozen=True):
    instance: str
    report: ProcessReport | None  # None: alive by heartbeat, no report yet (or it expired)
    registered_sockets: int  # sockets in the rooms' presence registry for this process


class Capacity(msgspec.Struct, frozen=True):
    processes: list[ProcessRow]
    redis: dict[str, str]
    pg_connections: dict[str, int]  # state -> count, this database
    pg_max_connections: int
    pg_database: str


class ErrorEntry(msgspec.Struct, frozen=True):
    at: dt.datetime
    logger: str
    message: str
    request_id: str | None
    exc: str | None


def day_start(now: dt.datetime, tz_name: str) -> dt.datetime:
    """Midnight of `now`'s business day (BUSINESS_TIMEZONE), as an aware datetime."""
    local = now.astimezone(zoneinfo.ZoneInfo(tz_name))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def minute_series(counts: dict[dt.datetime, int], now: dt.datetime, minutes: int) -> list[Point]:
    """One point per minute for the last `minutes` whole minutes up to `now`'s (zeros filled in)."""
    end = now.replace(second=0, microsecond=0)
    points = []
    for back in range(minutes - 1, -1, -1):
        at = end - dt.timedelta(minutes=back)
        points.append(Point(at.strftime("%H:%M"), float(counts.get(at, 0))))
    return points


def hour_series(sums: dict[dt.datetime, int], start: dt.datetime, now: dt.datetime) -> list[Point]:
    """One point per hour of the business day so far (keys: hours as aware datetimes)."""
    points, at = [], start
    while at <= now:
        points.append(Point(at.strftime("%H"), float(sums.get(at.astimezone(dt.UTC), 0))))
        at += dt.timedelta(hours=1)
    return points


def sum_revenue(rows: Iterable[tuple[str, int]]) -> dict[str, int]:
    return {currency.strip(): int(cents) for currency, cents in rows}


def money_text(revenue: dict[str, int]) -> str:
    if not revenue:
        return "0.00"
    return " + ".join(f"{cents / 100:,.2f} {currency}" for currency, cents in sorted(revenue.items()))


def figures_text(view: Overview) -> dict[str, str]:
    """The overview's numbers as the page shows them, by `data-live-id`."""
    media = view.media
    return {
        "live-rooms": f"{view.live_rooms:,}",
        "sockets": f"{view.sockets:,}",
        "processes": f"{view.processes:,}",
        "gifts-minute": f"{view.gifts_last_minute:,}",
        "coins-today": f"{view.coins_spent_today:,}",
        "revenue-today": money_text(view.revenue_today),
        "new-users": f"{view.new_users_today:,}",
        "media-nodes": f"{media.live:,}" + (f" (+{media.stale} stale)" if media.stale else ""),
        "media-load": f"{media.load:,} / {media.capacity:,}",
        "media-rooms": f"{media.rooms_placed:,}",
    }
