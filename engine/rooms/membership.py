"""Joining and leaving rooms: the ban and block gates, the password, snapshots and replay."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from msgspec import Raw

from engine.rooms.batching import FEATURE, batch_channel, each_channel
from engine.rooms.events import refuse
from engine.rooms.live import LiveRooms
from engine.rooms.model import JoinPayload, room_channel, room_id_of
from engine.rooms.store import Membership, as_list

log = logging.getLogger("flylive.rooms")


def _blocked(permanent: bool, remaining: int) -> dict[str, Any]:
    return refuse("ROOM_BLOCKED", permanent=permanent, remaining_seconds=remaining)


async def _check_gates(
    rooms: LiveRooms,
    room: dict[str, Any],
    user_id: int,
    password: str | None,
    ban: dict[str, Any] | None,
    privileged: bool,
) -> dict[str, Any] | None:
    """Return a failure ack when the user may not enter, None when they may."""
    room_id = room["id"]
    if room["is_closed"]:
        return refuse("ROOM_CLOSED")
    remaining = await rooms.state.block_ttl(room_id, user_id)
    if remaining is not None:
        return _blocked(False, remaining)
    if ban is not None:
        if ban["expires_at"] is None:
            return _blocked(True, -1)
        left = int((ban["expires_at"] - dt.datetime.now(dt.UTC)).total_seconds())
        return _blocked(False, max(1, left))
    if (
        room["password_hash"]
        and not privileged
        and not await rooms.svc.hasher.verify(room["password_hash"], password or "")
    ):
        return refuse("WRONG_PASSWORD")
    return None


async def do_join(rooms: LiveRooms, sid: str, session: dict[str, Any], payload: JoinPayload) -> dict[str, Any]:
    svc = rooms.svc
    room_id = room_id_of(payload.roomId)
    user_id = int(session["user_id"])
    if room_id is None:
        return refuse("ROOM_NOT_FOUND")
    # No PostgreSQL read for a room already seen: its row, admins and bans and the user's profile
    # come from the hot cache (engine/rooms/cache.py), which forgets them when they change.
    cache = rooms.cache
    room = await cache.room(room_id)
    user = await cache.user(user_id)
    if room is None or user is None:
        return refuse("ROOM_NOT_FOUND")
    if (await svc.flags.maintenance()).active and not await cache.is_staff(user_id):
        svc.metrics.maintenance_refusals.inc()
        return refuse("MAINTENANCE")  # members already in rooms stay; staff may still join
    if (await cache.blocks(user_id)).either(room["user_id"]):
        return refuse("BLOCKED")  # a block with the owner, either way: neither enters the other's room
    ban = await cache.ban(room_id, user_id, time.time())
    privileged = user_id == room["user_id"] or user_id in await cache.admins(room_id)
    refused = await _check_gates(rooms, room, user_id, payload.password, ban, privileged)
    if refused is not None:
        return refused
    current = session.get("room_id")
    if current is not None and current != room_id:
        await do_leave(rooms, sid, session, current, mode="leave")
    state = rooms.state
    # The room's media node (placed on first join, moved when its node died). Without a node the
    # room still works; clients get no rtpCapabilities and cannot set up audio yet.
    rtp_capabilities = await rooms.media.place(room_id, room["region"])
    # One script makes the room live on its first join and adds the socket.
    joined = state.join(room_id, user_id, sid, user.profile_json, svc.config.seat_grace_ms, payload.lastSeq,
                        svc.config.chat_history, owner_id=room["user_id"], seat_count=room["seat_count"])  # fmt: skip
    result = await rooms.run(room_id, joined, actor_sid=sid)
    if not result.ok:
        return refuse(result.code or "ROOM_CLOSED")
    await rooms.rt.sio.enter_room(sid, room_channel(room_id))
    if FEATURE in session.get("features", ()):
        rooms.batcher.entered(room_id, sid)  # what the room batched so far is in this join's snapshot
        await rooms.rt.sio.enter_room(sid, batch_channel(room_id))
    else:
        await rooms.rt.sio.enter_room(sid, each_channel(room_id))
    session["room_id"] = room_id
    # A fresh join starts the transport allowance again: transports of an earlier join go.
    await rooms.media.close_user_transports(room_id, user_id)
    await state.record_join(Membership(rooms.rt.instance_id, sid, room_id, user_id), int(result.data["members"]))
    log.info("room joined", extra={"room_id": room_id, "user_id": user_id, "seq": result.data["seq"]})
    ack = _join_ack(room, result.data)
    ack["rtpCapabilities"] = rtp_capabilities
    ack["existingProducers"] = await rooms.media.existing_producers(room_id) if rtp_capabilities is not None else []
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
    # The stored JSON goes into the ack as it is (msgspec.Raw): a join into a room of a thousand
    # would otherwise decode a thousand profiles only to encode them again, and python-socketio
    # would walk every one of them looking for binary attachments.
    if "missed" in data:
        ack["resumed"] = True
        ack["missedEvents"] = [{"event": name, "data": Raw(body)} for name, body in as_list(data["missed"])]
        return ack
    ack["resumed"] = False
    ack["participants"] = [participant(profile, speaker) for profile, speaker in as_list(data["participants"])]
    ack["seats"] = as_list(data["seats"])
    ack["lockedSeats"] = sorted(int(i) for i in as_list(data["locked"]))
    ack["recentMessages"] = [Raw(m) for m in reversed(as_list(data["chat"]))]
    return ack


def participant(profile: str, speaker: bool) -> Raw:
    """A member's stored profile (a JSON object) with its `isSpeaker`, as JSON, without decoding it."""
    head = profile.rstrip()[:-1].rstrip()  # the object without its closing brace
    return Raw(f'{head}{"," if head != "{" else ""}"isSpeaker":{"true" if speaker else "false"}}}')


async def do_leave(
    rooms: LiveRooms,
    sid: str | None,
    session: dict[str, Any] | None,
    room_id: int,
    *,
    mode: str,
    user_id: int | None = None,
    instance_id: str | None = None,
) -> dict[str, Any]:
    """Take a socket (or, with sid None, every socket of `user_id`) out of a room."""
    uid = int(session["user_id"]) if session is not None else int(user_id or 0)
    result = await rooms.run(room_id, rooms.state.leave(room_id, uid, sid, mode), actor_sid=sid)
    for left_sid in as_list(result.data.get("sids")):
        if mode != "disconnect":
            for channel in (room_channel(room_id), batch_channel(room_id), each_channel(room_id)):
                await rooms.rt.sio.leave_room(left_sid, channel)
    if session is not None and session.get("room_id") == room_id:
        session["room_id"] = None
    membership = Membership(instance_id or rooms.rt.instance_id, sid, room_id, uid)
    await rooms.state.record_leave(membership, result, rooms.svc.config.seat_grace_ms)
    if result.data.get("left"):
        log.info("room left", extra={"room_id": room_id, "user_id": uid, "mode": mode})
        await rooms.media.close_user_transports(room_id, uid)
    return {"success": True}
