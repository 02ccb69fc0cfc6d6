"""Maintenance mode and system announcements: changed in one transaction with the audit record,
then pushed to every connected socket (every engine process, through the Socket.IO manager)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.audit.store import record_txn
from engine.flags import store as flags_store
from engine.flags.model import Maintenance, check_maintenance
from engine.realtime.server import RealtimeServer
from engine.system import store
from engine.system.model import announcement_event, check_announcement, iso, maintenance_event

log = logging.getLogger("flylive.system")


def _view(state: Maintenance) -> dict[str, Any]:
    return {"active": state.active, "message": state.message, "ends_at": iso(state.ends_at)}


async def do_set_maintenance(rt: RealtimeServer, actor_id: int, *, active: bool, message: str = "",
                             ends_at: dt.datetime | None = None, ip: str | None = None) -> Maintenance:  # fmt: skip
    """Turn maintenance on (or change its message) or off; every socket is told `system:maintenance`.
    New room joins are refused while it is on (engine/rooms/membership.py), staff excepted."""
    svc = rt.services
    if active:
        check_maintenance(message, ends_at, dt.datetime.now(dt.UTC))
    async with svc.pool.acquire() as conn, conn.transaction():
        before = await flags_store.maintenance_for_update_txn(conn)
        after = await flags_store.set_maintenance_txn(conn, active, message.strip() if active else "",
                                                      ends_at if active else None, actor_id)  # fmt: skip
        details = {"before": _view(before), "after": _view(after)}
        await record_txn(conn, actor_id=actor_id, action="system.maintenance", target_type="system",
                         target_id="maintenance", ip=ip, details=details)  # fmt: skip
    svc.flags.forget()
    svc.metrics.maintenance_active.set(1 if after.active else 0)
    await rt.sio.emit("system:maintenance", maintenance_event(after))
    state = "on" if after.active else "off"
    log.warning("maintenance %s", state, extra={"actor_id": actor_id, "maintenance_message": after.message})
    return after


async def do_announce(rt: RealtimeServer, actor_id: int, message: str, level: str, *,
                      ip: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Send `system:announcement` to every connected socket, kept in the announcements' history."""
    message = message.strip()
    check_announcement(message, level)
    svc = rt.services
    async with svc.pool.acquire() as conn, conn.transaction():
        row = await store.add_announcement_txn(conn, message, level, actor_id)
        await record_txn(conn, actor_id=actor_id, action="system.announce", target_type="announcement",
                         target_id=row["id"], ip=ip, details={"before": None, "after": {"message": message,
                                                                                        "level": level}})  # fmt: skip
    await rt.sio.emit("system:announcement", announcement_event(row))
    svc.metrics.system_announcements.labels(level).inc()
    log.info("system announcement sent", extra={"actor_id": actor_id, "announcement_id": row["id"], "level": level})
    return row


def register_system_events(rt: RealtimeServer) -> None:
    """A socket that connects during maintenance is told at once (it missed the broadcast)."""

    async def on_connect(sid: str, session: dict[str, Any]) -> None:
        state = await rt.services.flags.maintenance()
        if state.active:
            await rt.sio.emit("system:maintenance", maintenance_event(state), to=sid)

    rt.connect_hooks.append(on_connect)
