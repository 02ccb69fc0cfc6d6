"""The operations figures as typed values, and the pure arithmetic behind them (no I/O)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

# The ledger kinds in which users spend coins (a gift, a VIP level, a mall item): "coins spent".
SPEND_KINDS = ("gift", "vip_purchase", "mall_purchase")
GIFT_MINUTES = 30  # the gifts-per-minute chart's window
PROCESS_TTL_SECONDS = 15  # a process's published figures vanish this long after its last report
PROCESS_REPORT_SECONDS = 5.0
SHARE_SECONDS = 1.0  # streams refreshing within this of each other share one overview
SETTLE_SECONDS = 120  # an hour's coin sum is final this long after it ended (the ledger flush lag)
MEMO_RESET_SECONDS = 600  # settled hours are summed afresh this often (a flush that lagged longer)


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


def hour_series(sums: dict[int, int], start: dt.datetime, now: dt.datetime) -> list[Point]:
    """One point per hour of the business day so far (keys: hours since `start`)."""
    hours = int((now - start).total_seconds() // 3600) + 1
    return [Point((start + dt.timedelta(hours=h)).strftime("%H"), float(sums.get(h, 0))) for h in range(hours)]


@dataclass
class OverviewMemo:
    """What one app remembers between overview refreshes (pure bookkeeping, no I/O).

    - The day's settled hours: an hour's coin sum stops changing once it is over and the ledger has
      flushed it, so each refresh sums only the hours since `settled_until` (a day of gifts is not
      re-summed every few seconds by every viewer). Forgotten every MEMO_RESET_SECONDS, so a flush
      that lagged by more than SETTLE_SECONDS is counted after that at the latest.
    - The last overview, shared by every stream that asks within SHARE_SECONDS.
    """

    day: dt.datetime | None = None
    settled: dict[int, int] = field(default_factory=dict)
    settled_hours: int = 0  # hours [0, settled_hours) of `day` are in `settled`
    reset_at: float = 0.0
    latest: Overview | None = None
    latest_at: float = -1e9

    def fresh(self, clock: float) -> Overview | None:
        return self.latest if self.latest is not None and clock - self.latest_at < SHARE_SECONDS else None

    def keep(self, view: Overview, clock: float) -> None:
        self.latest, self.latest_at = view, clock

    def first_open_hour(self, start: dt.datetime, clock: float) -> int:
        """The first hour of the day to sum from the ledger (the ones before are settled)."""
        if self.day != start or clock - self.reset_at > MEMO_RESET_SECONDS:
            self.day, self.settled, self.settled_hours, self.reset_at = start, {}, 0, clock
        return self.settled_hours

    def merge(self, start: dt.datetime, now: dt.datetime, summed: dict[int, int]) -> dict[int, int]:
        """The day's sums: the settled hours and `summed` (from the first open hour on); hours now
        settled are kept for the next refresh."""
        settled_now = max(int((now - start).total_seconds() - SETTLE_SECONDS) // 3600, 0)
        for hour in range(self.settled_hours, settled_now):
            self.settled[hour] = summed.get(hour, 0)
        self.settled_hours = max(self.settled_hours, settled_now)
        return {**self.settled, **{h: v for h, v in summed.items() if h >= self.settled_hours}}


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
