"""Room profiles through the REST API: create, update (a seat-count change evicts live seats),
list and search with live member counts, and the owner's admin list."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import msgspec
from msgspec import Meta

from engine.accounts.model import iso_timestamp, legacy_room
from engine.audit.store import record_txn
from engine.errors import DomainError, forbidden, not_found, validation_error
from engine.rooms import store
from engine.rooms.live import LiveRooms
from engine.rooms.model import Rank
from engine.rooms.roles import rank_of
from engine.rooms.store import as_list
from engine.services import Services

Tag = Annotated[str, Meta(min_length=1, max_length=24, pattern=r"^[\w-]+$")]


class RoomFields(msgspec.Struct, omit_defaults=True):
    """Editable room profile; every field optional on update. `password` null clears it."""

    name: Annotated[str, Meta(min_length=1, max_length=40)] | None = None
    description: Annotated[str, Meta(max_length=500)] | None = None
    category: Annotated[str, Meta(max_length=40)] | None = None
    region: Annotated[str, Meta(max_length=40)] | None = None
    country: Annotated[str, Meta(pattern=r"^[A-Za-z]{2}$")] | None = None
    tags: Annotated[list[Tag], Meta(max_length=10)] | None = None
    seat_count: Annotated[int, Meta(ge=1, le=30)] | None = None
    announcement: Annotated[str, Meta(max_length=800)] | None = None
    greetings: Annotated[str, Meta(max_length=255)] | None = None
    logo: Annotated[str, Meta(max_length=500)] | None = None
    is_hidden: bool | None = None
    # "" (like null) clears the password; otherwise 4 to 64 characters.
    password: (
        Annotated[
            str,
            Meta(
                max_length=64,
                pattern=r"^(?:|[\s\S]{4,64})$",
                extra={"msg": "The password must be empty or 4 to 64 characters."},
            ),
        ]
        | None
    ) = None
    can_tourists_speak: bool | None = None
    can_tourists_send_text: bool | None = None
    can_tourists_send_files: bool | None = None


def room_json(room: dict[str, Any], members: int = 0) -> dict[str, Any]:
    body = legacy_room(room)
    body.update({
        "description": room["description"], "category": room["category"], "region": room["region"],
        "tags": list(room["tags"] or []), "seat_count": room["seat_count"], "announcement": room["announcement"],
        "is_closed": room["is_closed"], "closed_at": iso_timestamp(room["closed_at"]),
        "has_password": room["password_hash"] is not None, "live_members": members,
        "room_level": room["room_level"], "room_xp": room["room_xp"],
        "user": {"id": room["owner_id"], "name": room["owner_name"], "signature": room["owner_signature"],
                 "avatar_image": room["owner_avatar"]},
    })  # fmt: skip
    return body


async def _columns(svc: Services, fields: RoomFields, raw_keys: set[str]) -> dict[str, Any]:
    """Map the body onto table columns; only keys the client actually sent are changed."""
    columns: dict[str, Any] = {}
    for name in raw_keys & set(RoomFields.__struct_fields__):
        value = getattr(fields, name)
        if name == "password":
            columns["password_hash"] = await svc.hasher.hash(value) if value else None
            columns["type"] = 2 if value else 1
        elif name == "country" and value:
            columns["country"] = value.lower()
        elif value is not None or name in {"description", "announcement", "greetings", "logo", "category", "region"}:
            columns[name] = value
    return columns


async def do_create(svc: Services, owner_id: int, fields: RoomFields, raw_keys: set[str]) -> dict[str, Any]:
    if fields.name is None:
        raise validation_error({"name": ["The name field is required."]})
    columns = await _columns(svc, fields, raw_keys)
    async with svc.pool.acquire() as conn:
        if await store.room_of_owner(conn, owner_id) is not None:
            raise DomainError("room_exists", "You already own a room.", status=409)
        try:
            async with conn.transaction():
                room_id = await store.insert_room_txn(conn, owner_id, columns)
                await record_txn(conn, actor_id=owner_id, action="room.create", target_type="room", target_id=room_id)
        except asyncpg.UniqueViolationError as exc:
            raise _unique_error(exc) from exc
        room = await store.get_room(conn, room_id)
    assert room is not None
    return room_json(room)


def _unique_error(exc: asyncpg.UniqueViolationError) -> DomainError:
    if exc.constraint_name == "rooms_one_per_owner":
        return DomainError("room_exists", "You already own a room.", status=409)
    return validation_error({"name": ["The name has already been taken."]})


async def do_update(
    rooms: LiveRooms, actor_id: int, room_id: int, fields: RoomFields, raw_keys: set[str]
) -> dict[str, Any]:
    svc = rooms.svc
    if await rank_of(svc, room_id, actor_id) < Rank.ADMIN:
        raise forbidden()
    columns = await _columns(svc, fields, raw_keys)
    if "seat_count" in columns and await rank_of(svc, room_id, actor_id) < Rank.OWNER:
        raise forbidden("Only the owner can change the seat count.")
    async with svc.pool.acquire() as conn:
        if await store.get_room(conn, room_id) is None:
            raise not_found("Room")
        try:
            async with conn.transaction():
                if columns:
                    await store.update_room_txn(conn, room_id, columns)
                await record_txn(conn, actor_id=actor_id, action="room.update", target_type="room",
                                 target_id=room_id, details={"fields": sorted(columns)})  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise _unique_error(exc) from exc
        room = await store.get_room(conn, room_id)
    assert room is not None
    # Live seats at or above a lower count are evicted; a room that is not live has none to evict.
    live_now = not room["is_closed"] and await rooms.state.is_live(room_id)
    if "seat_count" in columns and live_now:
        shrunk = await rooms.run(room_id, rooms.state.seat_count(room_id, columns["seat_count"]))
        for user_id in as_list(shrunk.data.get("evicted")):  # evicted from their seat: off the air
            await rooms.media.command(room_id, "closeUserProducers", userId=int(user_id))
    counts = await store.live_counts(svc.redis, svc.keys, [room_id])
    return room_json(room, counts.get(room_id, 0))


async def get_room_json(svc: Services, room_id: int) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        room = await store.get_room(conn, room_id)
    if room is None:
        raise DomainError("not_found", f"No query results for model [Room] {room_id}", status=404)
    counts = await store.live_counts(svc.redis, svc.keys, [room_id])
    return room_json(room, counts.get(room_id, 0))


async def list_rooms(
    svc: Services,
    *,
    search: str | None,
    category: str | None,
    country: str | None,
    tag: str | None,
    limit: int,
    offset: int,
    include_hidden: bool = False,
) -> list[dict[str, Any]]:
    """Live rooms first, by member count; then the rest by their stored popularity."""
    live_ids = await store.most_popular(svc.redis, svc.keys, 500, 0)
    async with svc.pool.acquire() as conn:
        rooms = await store.list_rooms(conn, ids=None, search=search, category=category, country=country, tag=tag,
                                       include_hidden=include_hidden, limit=offset + limit + len(live_ids),
                                       offset=0)  # fmt: skip
    counts = await store.live_counts(svc.redis, svc.keys, [r["id"] for r in rooms])
    rooms.sort(key=lambda r: (-counts.get(r["id"], 0), -r["popularity_index"], -r["id"]))
    return [room_json(r, counts.get(r["id"], 0)) for r in rooms[offset : offset + limit]]


async def do_set_admin(svc: Services, actor_id: int, room_id: int, user_id: int, *, grant: bool) -> bool:
    """Only the owner (or platform staff) names and removes room admins."""
    if await rank_of(svc, room_id, actor_id) < Rank.OWNER:
        raise forbidden()
    async with svc.pool.acquire() as conn:
        try:
            async with conn.transaction():
                if grant:
                    changed = await store.add_admin_txn(conn, room_id, user_id, actor_id)
                else:
                    changed = await store.remove_admin_txn(conn, room_id, user_id)
                await record_txn(conn, actor_id=actor_id, action="room.admin.grant" if grant else "room.admin.remove",
                                 target_type="room", target_id=room_id, details={"user_id": user_id})  # fmt: skip
        except asyncpg.ForeignKeyViolationError as exc:
            raise not_found("User") from exc
    return changed
