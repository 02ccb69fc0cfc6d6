"""Editing the catalog from the dashboard (issue 15 §7): list, create, edit and switch on or off
gifts, frames, themes, entry effects and recharge packages, each change audited with before and
after in its transaction."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import asyncpg

from engine.audit.store import record_txn
from engine.catalog import store
from engine.catalog.model import KINDS, Body, KindInfo, audit_view, values_of, window_state
from engine.errors import DomainError, not_found
from engine.services import Services

log = logging.getLogger("flylive.catalog")
LIST_LIMIT = 500


def kind_info(kind: str) -> KindInfo:
    info = KINDS.get(kind)
    if info is None:
        raise not_found("Catalog section")
    return info


async def items(svc: Services, kind: str) -> list[dict[str, Any]]:
    info = kind_info(kind)
    now = dt.datetime.now(dt.UTC)
    async with svc.pool.acquire() as conn:
        found = await store.rows(conn, info, LIST_LIMIT)
    return [{**r, "window": window_state(r, now)} for r in found]


async def item(svc: Services, kind: str, item_id: int) -> dict[str, Any]:
    info = kind_info(kind)
    async with svc.pool.acquire() as conn:
        row = await store.get(conn, info, item_id)
    if row is None:
        raise not_found(info.label.rstrip("s"))
    return {**row, "window": window_state(row, dt.datetime.now(dt.UTC))}


def _taken(info: KindInfo) -> DomainError:
    return DomainError("catalog_name_taken", f"{info.label}: that name is taken.", status=409)


async def do_create(svc: Services, actor_id: int, kind: str, body: Body, ip: str | None) -> dict[str, Any]:
    info = kind_info(kind)
    values = values_of(info, body)
    try:
        async with svc.pool.acquire() as conn, conn.transaction():
            row = await store.insert_txn(conn, info, values)
            await record_txn(conn, actor_id=actor_id, action=f"catalog.{kind}.create", target_type=kind,
                             target_id=row["id"], ip=ip,
                             details={"before": None, "after": audit_view(row)})  # fmt: skip
    except asyncpg.UniqueViolationError as exc:
        raise _taken(info) from exc
    svc.metrics.catalog_edits.labels(kind, "create").inc()
    log.info("catalog item created", extra={"kind": kind, "item_id": row["id"], "by": actor_id})
    return row


async def do_update(svc: Services, actor_id: int, kind: str, item_id: int, body: Body,
                    ip: str | None) -> dict[str, Any]:  # fmt: skip
    info = kind_info(kind)
    return await _change(svc, actor_id, info, item_id, values_of(info, body), "update", ip)


async def do_set_active(svc: Services, actor_id: int, kind: str, item_id: int, active: bool,
                        ip: str | None) -> dict[str, Any]:  # fmt: skip
    """Switch an item on or off (its window, if any, still applies)."""
    info = kind_info(kind)
    return await _change(svc, actor_id, info, item_id, {"is_active": active}, "activate" if active else "deactivate",
                         ip)  # fmt: skip


async def _change(svc: Services, actor_id: int, info: KindInfo, item_id: int, values: dict[str, Any], change: str,
                  ip: str | None) -> dict[str, Any]:  # fmt: skip
    try:
        async with svc.pool.acquire() as conn, conn.transaction():
            before = await store.get(conn, info, item_id, lock=True)
            if before is None:
                raise not_found(info.label.rstrip("s"))
            row = await store.update_txn(conn, info, item_id, values)
            await record_txn(conn, actor_id=actor_id, action=f"catalog.{info.kind}.{change}", target_type=info.kind,
                             target_id=item_id, ip=ip,
                             details={"before": audit_view(before), "after": audit_view(row)})  # fmt: skip
    except asyncpg.UniqueViolationError as exc:
        raise _taken(info) from exc
    svc.metrics.catalog_edits.labels(info.kind, change).inc()
    log.info("catalog item changed", extra={"kind": info.kind, "item_id": item_id, "change": change, "by": actor_id})
    return row
