"""Joining and leaving rooms: the ban and block gates, the password, snapshots and replay."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from engine.accounts import store as accounts_store
from engine.media import node_events
from engine.media import store as media_store
from engine.realtime.server import RealtimeServer
from engine.rooms import live, store
from engine.rooms.model import ERRORS, JoinPayload, room_id_of
from engine.services import Services

log = logging.getLogger("flylive.rooms")


def failure(code: str, **extra: Any) -> dict[str, Any]:
    return {"success": False, "error": ERRORS[code], "code": code, **extra}


def public_profile(user: dict[str, Any]) -> dict[str, Any]:
    """What other members see of a user in a room (realtime-contract §3 `room:userJoined`)."""
    return {
        "id": user["id"], "name": user["name"], "signature": user["signature"],
        "avatar": user["avatar_image"] or "", "gender": user["gender"] or 0, "country": user["country"] or "",
        "vip_level": user["vip_level"], "wealth_xp": f"{user['wealth_xp']:.4f}", "charm_xp": f"{user['charm_xp']:.4f}",
        "frame_id": None, "chat_bubble_id": None, "entry_animation_id": None, "data_card_id": None,
        "mice_wave_id": None, "slides_id": None, "equipped_badges": [],
    }  # fmt: skip


def _blocked(permanent: bool, remaining: int) -> dict[str, Any]:
    return {"success": False, "error": ERRORS["ROOM_BLOCKED"], "code": "ROOM_BLOCKED",
            "permanent": permanent, "remaining_seconds": remaining}  # fmt: skip


async def _check_gates(
    svc: Services,
    room: dict[str, Any],
    user_id: int,
    password: str | None,
    ban: dict[str, Any] | None,
    privileged: bool,
) -> dict[str, Any] | None:
    """Return a failure ack when the user may not enter, None when they may."""
    room_id = room["id"]
    if room["is_closed"]:
        return failure("ROOM_CLOSED")
    remaining = await store.block_ttl(svc.redis, svc.keys, room_id, user_id)
    if remaining is not None:
        return _blocked(False, remaining)
    if ban is not None:
        if ban["expires_at"] is None:
            return _blocked(True, -1)
        left = int((ban["expires_at"] - dt.datetime.now(dt.UTC)).total_seconds())
        return _blocked(False, max(1, left))
    if room["password_hash"] and not privileged and not await svc.hasher.verify(room["password_hash"], password or ""):
        return failure("WRONG_PASSWORD")
    return None


async def do_join(rt: RealtimeServer, sid: str, session: dict[str, Any], payload: JoinPayload) -> dict[str, Any]:
    svc = rt.services
    room_id = room_id_of(payload.roomId)
    user_id = int(session["user_id"])
    if room_id is None:
        return failure("ROOM_NOT_FOUND")
    # One borrowed connection for everything the gates need: each release costs asyncpg a reset
    # round trip, and joins come in bursts when a popular room opens.
    async with svc.pool.acquire() as conn:
        room = await store.get_room(conn, room_id)
        user = await accounts_store.get_user(conn, user_id)
        if room is None or user is None:
            return failure("ROOM_NOT_FOUND")
        ban = await store.active_ban(conn, room_id, user_id)
        privileged = user_id == room["user_id"] or user_id in await store.admin_ids(conn, room_id)
    refused = await _check_gates(svc, room, user_id, payload.password, ban, privileged)
    if refused is not None:
        return refused
    current = session.get("room_id")
    if current is not None and current != room_id:
        await do_leave(rt, sid, session, current, mode="leave")
    await live.run(rt, "room_open", room_id, room["user_id"], room["seat_count"])
    # The room's media node (placed on first join, moved when its node died). Without a node the
    # room still works; clients get no rtpCapabilities and cannot set up audio yet.
    node = await media_store.place_room(svc.redis, svc.keys, room_id, room["region"], int(time.time() * 1000),
                                        int(svc.config.media_node_stale_seconds * 1000))  # fmt: skip
    result = await live.run(
        rt, "join", room_id, user_id, sid, live.encode(public_profile(user)), svc.config.seat_grace_ms,
        -1 if payload.lastSeq is None else payload.lastSeq, svc.config.chat_history, actor_sid=sid,
    )  # fmt: skip
    if not result.ok:
        return failure(result.code or "ROOM_CLOSED")
    await rt.sio.enter_room(sid, live.room_channel(room_id))
    session["room_id"] = room_id
    # A fresh join starts the transport allowance again: transports of an earlier join go.
    await node_events.close_user_transports(rt, room_id, user_id)
    await live.record_membership(svc, rt.instance_id, sid, room_id, user_id, int(result.data["members"]))
    log.info("room joined", extra={"room_id": room_id, "user_id": user_id, "seq": result.data["seq"]})
    ack = _join_ack(room, result.data)
    ack["rtpCapabilities"] = node.rtp_capabilities if node else None
    ack["existingProducers"] = await node_events.existing_producers(rt, room_id) if node else []
    return ack


def _join_ack(room: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    ack: dict[str, Any] = {
        "success": True,
        "roomId": str(room["id"]),
        "seq": data["seq"],
        "room": {"id": room["id"], "name": room["name"], "ownerId": room["user_id"], "seatCount": data["seat_count"],
                 "announcement": room["announcement"], "type": room["type"]},
        "reclaimedSeat": data["reclaimed"] if data["reclaimed"] >= 0 else None,
        "rtpCapabilities": None,
        "existingProducers": [],
        "musicPlayer": None,
        "activeAppSlides": [],
    }  # fmt: skip
    if "missed" in data:
        ack["resumed"] = True
        ack["missedEvents"] = [
            {"event": name, "data": live.decode(body)} for name, body in live.as_list(data["missed"])
        ]
        return ack
    ack["resumed"] = False
    ack["participants"] = live.decode_all(data["participants"])
    ack["seats"] = live.as_list(data["seats"])
    ack["lockedSeats"] = sorted(int(i) for i in live.as_list(data["locked"]))
    ack["recentMessages"] = list(reversed(live.decode_all(data["chat"])))
    return ack


async def do_leave(
    rt: RealtimeServer,
    sid: str | None,
    session: dict[str, Any] | None,
    room_id: int,
    *,
    mode: str,
    user_id: int | None = None,
    instance_id: str | None = None,
) -> dict[str, Any]:
    """Take a socket (or, with sid None, every socket of `user_id`) out of a room."""
    svc = rt.services
    uid = int(session["user_id"]) if session is not None else int(user_id or 0)
    result = await live.run(rt, "leave", room_id, uid, sid or "", mode, actor_sid=sid)
    for left_sid in live.as_list(result.data.get("sids")):
        if mode != "disconnect":
            await rt.sio.leave_room(left_sid, live.room_channel(room_id))
    if session is not None and session.get("room_id") == room_id:
        session["room_id"] = None
    await live.forget_membership(svc, instance_id or rt.instance_id, sid, room_id, uid, result)
    if result.data.get("left"):
        log.info("room left", extra={"room_id": room_id, "user_id": uid, "mode": mode})
        await node_events.close_user_transports(rt, room_id, uid)
    return {"success": True}
