"""Changing feature flags and rate limits (the dashboard's System pages), audited with before and after."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import asyncpg

from engine.audit.store import record_txn
from engine.config import Rate
from engine.errors import not_found
from engine.flags import store
from engine.flags.cache import FlagCache
from engine.flags.model import Flag, check_flag, check_rate

log = logging.getLogger("flylive.flags")


class FlagServices(Protocol):
    """What flags need of the app's services (`engine.services.Services`, which holds the cache)."""

    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def flags(self) -> FlagCache: ...


def _view(flag: Flag | None) -> dict[str, Any] | None:
    if flag is None:
        return None
    return {"enabled": flag.enabled, "rollout_percent": flag.rollout_percent, "description": flag.description}


async def do_save_flag(svc: FlagServices, actor_id: int, name: str, *, description: str, enabled: bool,
                       rollout_percent: int, ip: str | None = None) -> Flag:  # fmt: skip
    """Create or change a flag; every engine process sees it within the cache's TTL."""
    check_flag(name, description, rollout_percent)
    async with svc.pool.acquire() as conn, conn.transaction():
        before = await store.flag_for_update_txn(conn, name)
        flag = await store.upsert_flag_txn(conn, name, description, enabled, rollout_percent, actor_id)
        await record_txn(conn, actor_id=actor_id, action="flags.save", target_type="feature_flag", target_id=name,
                         ip=ip, details={"before": _view(before), "after": _view(flag)})  # fmt: skip
    svc.flags.forget()
    log.info("feature flag saved", extra={"flag": name, "enabled": enabled, "rollout_percent": rollout_percent,
                                          "actor_id": actor_id})  # fmt: skip
    return flag


async def do_delete_flag(svc: FlagServices, actor_id: int, name: str, *, ip: str | None = None) -> None:
    async with svc.pool.acquire() as conn, conn.transaction():
        before = await store.flag_for_update_txn(conn, name)
        if before is None or not await store.delete_flag_txn(conn, name):
            raise not_found("Feature flag")
        await record_txn(conn, actor_id=actor_id, action="flags.delete", target_type="feature_flag", target_id=name,
                         ip=ip, details={"before": _view(before), "after": None})  # fmt: skip
    svc.flags.forget()
    log.info("feature flag deleted", extra={"flag": name, "actor_id": actor_id})


def _rate_view(rate: Rate | None) -> dict[str, Any] | None:
    return None if rate is None else {"capacity": rate.capacity, "period_seconds": rate.period}


async def do_set_rate(svc: FlagServices, actor_id: int, scope: str, capacity: int, period: float, *,
                      ip: str | None = None) -> Rate:  # fmt: skip
    """Replace a limiter scope's rate on every engine process (within the cache's TTL), no restart."""
    rate = check_rate(scope, capacity, period)
    async with svc.pool.acquire() as conn, conn.transaction():
        before = await store.rate_override_for_update_txn(conn, scope)
        await store.set_rate_override_txn(conn, scope, rate, actor_id)
        await record_txn(conn, actor_id=actor_id, action="rates.set", target_type="rate_limit", target_id=scope,
                         ip=ip, details={"before": _rate_view(before), "after": _rate_view(rate)})  # fmt: skip
    svc.flags.forget()
    log.info("rate limit set", extra={"scope": scope, "capacity": capacity, "period": period, "actor_id": actor_id})
    return rate


async def do_clear_rate(svc: FlagServices, actor_id: int, scope: str, *, ip: str | None = None) -> None:
    """Back to the environment's rate for the scope."""
    async with svc.pool.acquire() as conn, conn.transaction():
        before = await store.rate_override_for_update_txn(conn, scope)
        if before is None or not await store.delete_rate_override_txn(conn, scope):
            raise not_found("Rate limit override")
        await record_txn(conn, actor_id=actor_id, action="rates.clear", target_type="rate_limit", target_id=scope,
                         ip=ip, details={"before": _rate_view(before), "after": None})  # fmt: skip
    svc.flags.forget()
    log.info("rate limit back to its default", extra={"scope": scope, "actor_id": actor_id})
