"""The operations views, put together from the stores: the overview (issue 15 §2), the capacity view
and clearing the error log (§9). Reads only, but for the clear, which is audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from engine.audit.store import record_txn
from engine.economy import store as economy_store
from engine.media import store as media_store
from engine.ops import model, store
from engine.ops.errorlog import ErrorLog
from engine.rooms import store as rooms_store
from engine.services import Services

log = logging.getLogger("flylive.ops")
DEFAULT_REFRESH_SECONDS = 5
REFRESH_BOUNDS = (1, 300)


def _now_ms() -> int:
    return int(time.time() * 1000)


async def live_processes(svc: Services) -> list[str]:
    """Engine processes alive by their heartbeat (the rooms' janitor keeps it), oldest id first."""
    since = _now_ms() - int(svc.config.instance_dead_after_seconds * 1000)
    return sorted(await rooms_store.live_instances(svc.redis, svc.keys, since))


async def media_nodes(svc: Services) -> model.MediaNodes:
    nodes = await media_store.all_nodes(svc.redis, svc.keys)
    stale_ms, now_ms = int(svc.config.media_node_stale_seconds * 1000), _now_ms()
    live = [n for n in nodes if now_ms - n.seen_ms <= stale_ms]
    placed = await media_store.placed_room_count(svc.redis, svc.keys, [n.node_id for n in nodes])
    return model.MediaNodes(live=len(live), stale=len(nodes) - len(live), load=sum(n.load for n in live),
                            capacity=sum(n.capacity for n in live), rooms_placed=placed)  # fmt: skip


async def fleet_sockets(svc: Services) -> tuple[int, int]:
    """(connected sockets, engine processes) over the fleet: each process's published gauge, or the
    presence registry's count for a process whose report is not there (yet)."""
    instances = await live_processes(svc)
    reports = await store.process_reports(svc.redis, svc.keys, instances)
    missing = [i for i in instances if i not in reports]
    registered = await store.registered_socket_counts(svc.redis, svc.keys, missing)
    return sum(r.sockets for r in reports.values()) + sum(registered.values()), len(instances)


async def overview(svc: Services, memo: model.OverviewMemo | None = None) -> model.Overview:
    """The overview's figures; with the app's `memo`, settled hours are not summed again and
    refreshes within a second of each other share one result."""
    memo = memo or model.OverviewMemo()
    clock = time.monotonic()
    if (shared := memo.fresh(clock)) is not None:
        return shared
    now = dt.datetime.now(dt.UTC)
    start = model.day_start(now, svc.config.business_timezone)
    minutes_from = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=model.GIFT_MINUTES - 1)
    first_open = memo.first_open_hour(start, clock)
    async with svc.pool.acquire() as conn:
        gifts = await store.gifts_by_minute(conn, minutes_from)
        summed = await store.coins_spent_by_hour(conn, start, start + dt.timedelta(hours=first_open))
        coins = memo.merge(start, now, summed)
        revenue = await store.revenue_since(conn, start)
        new_users = await store.new_users_since(conn, start)
    (sockets, processes), media, rooms = await asyncio.gather(
        fleet_sockets(svc), media_nodes(svc), store.live_room_count(svc.redis, svc.keys)
    )
    per_minute = model.minute_series(gifts, now, model.GIFT_MINUTES)
    view = model.Overview(
        live_rooms=rooms, sockets=sockets, processes=processes,
        # The last whole minute: the current one is still filling (and the ledger lags by a flush).
        gifts_last_minute=int(per_minute[-2].value) if len(per_minute) > 1 else 0,
        coins_spent_today=sum(coins.values()), revenue_today=model.sum_revenue(revenue),
        new_users_today=new_users, media=media, gifts_per_minute=per_minute,
        coins_per_hour=model.hour_series(coins, start, now), day_start=start,
    )  # fmt: skip
    memo.keep(view, clock)
    return view


async def refresh_seconds(svc: Services) -> int:
    """The overview stream's interval: economy setting `admin_overview_refresh_seconds`, read live."""
    async with svc.pool.acquire() as conn:
        value = (await economy_store.settings(conn)).get("admin_overview_refresh_seconds", DEFAULT_REFRESH_SECONDS)
    low, high = REFRESH_BOUNDS
    return min(max(value, low), high)


async def capacity(svc: Services) -> model.Capacity:
    instances = await live_processes(svc)
    reports = await store.process_reports(svc.redis, svc.keys, instances)
    registered = await store.registered_socket_counts(svc.redis, svc.keys, instances)
    rows = [model.ProcessRow(i, reports.get(i), registered.get(i, 0)) for i in instances]
    async with svc.pool.acquire() as conn:
        database, states, limit = await store.pg_connections(conn)
    return model.Capacity(processes=rows, redis=await store.redis_info(svc.redis), pg_connections=states,
                          pg_max_connections=limit, pg_database=database)  # fmt: skip


async def do_clear_errors(svc: Services, errors: ErrorLog, instance_id: str, actor_id: int, ip: str | None) -> int:
    """Empty this process's error log (after a fix, to see whether errors come back); audited."""
    count = len(errors.entries())
    async with svc.pool.acquire() as conn:
        await record_txn(conn, actor_id=actor_id, action="ops.errors_cleared", target_type="process",
                         target_id=instance_id, ip=ip,
                         details={"before": {"entries": count}, "after": {"entries": 0}})  # fmt: skip
    cleared = errors.clear()
    log.info("error log cleared", extra={"actor_id": actor_id, "entries": cleared, "instance": instance_id})
    return cleared
