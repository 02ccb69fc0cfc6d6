"""The media-node registry and room placement, in Redis.

Nodes live in one hash (node id → NodeInfo); a room's node is one key in the room's slot, set with
NX so that two engine processes placing the same room at once agree on one node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec
from redis.asyncio import Redis

from engine.keys import Keys
from engine.lua import LuaScript
from engine.media.model import NodeInfo, ProducerRecord, choose_node
from engine.rooms.store import COMPARE_DELETE

DROP_NODE = LuaScript(Path(__file__).parent / "lua" / "drop_node.lua")
REFRESH_NODE = LuaScript(Path(__file__).parent / "lua" / "refresh_node.lua")
TRANSPORT_COUNT = LuaScript(Path(__file__).parent / "lua" / "transport_count.lua")
PRODUCER_STATE = LuaScript(Path(__file__).parent / "lua" / "producer_state.lua")
# How long a close that arrived before its producer's start is remembered: far longer than two
# reports of one node can be apart in the engine's handling.
CLOSE_REMEMBERED_MS = 60_000

_node_decoder = msgspec.json.Decoder(NodeInfo)
_record_decoder = msgspec.json.Decoder(ProducerRecord)
_encoder = msgspec.json.Encoder()


async def save_node(redis: Redis, keys: Keys, node: NodeInfo) -> None:
    await redis.hset(keys.media_nodes(), node.node_id, _encoder.encode(node))


async def refresh_node(redis: Redis, keys: Keys, node: NodeInfo) -> bool:
    """Store a heartbeat's update, only while the registration is still the one `node.sid` made."""
    script = REFRESH_NODE.bind(redis)
    return bool(await script(keys=[keys.media_nodes()], args=[node.node_id, node.sid, _encoder.encode(node)]))


async def drop_node(redis: Redis, keys: Keys, node_id: str, sid: str) -> bool:
    """Remove the registration `sid` made; False if the node re-registered since or is already gone."""
    return bool(await DROP_NODE.bind(redis)(keys=[keys.media_nodes()], args=[node_id, sid]))


async def get_node(redis: Redis, keys: Keys, node_id: str) -> NodeInfo | None:
    raw = await redis.hget(keys.media_nodes(), node_id)
    return _node_decoder.decode(raw) if raw else None


async def all_nodes(redis: Redis, keys: Keys) -> list[NodeInfo]:
    return [_node_decoder.decode(raw) for raw in (await redis.hgetall(keys.media_nodes())).values()]


async def node_room_ids(redis: Redis, keys: Keys, node_id: str) -> list[int]:
    return sorted(int(_text(m)) for m in await redis.smembers(keys.node_rooms(node_id)))


async def placed_room_count(redis: Redis, keys: Keys, node_ids: list[str]) -> int:
    async with redis.pipeline(transaction=False) as pipe:
        for node_id in node_ids:
            pipe.scard(keys.node_rooms(node_id))
        return sum(int(n) for n in await pipe.execute())


async def release_rooms(redis: Redis, keys: Keys, node_id: str) -> list[int]:
    """Unplace every room of a node that is gone; return them (their producers are gone too)."""
    members = await redis.smembers(keys.node_rooms(node_id))
    rooms = sorted(int(_text(m)) for m in members)
    for room_id in rooms:
        key = keys.room_media(room_id)
        assigned = await redis.get(key)
        if assigned is not None and _text(assigned) == node_id:
            await redis.delete(key, *_media_state_keys(keys, room_id))
    await redis.delete(keys.node_rooms(node_id))
    return rooms


async def unplace_room(redis: Redis, keys: Keys, room_id: int) -> None:
    """Forget a closed room's node, producers and transport counts (its router was closed)."""
    assigned = await redis.get(keys.room_media(room_id))
    await redis.delete(keys.room_media(room_id), keys.room_media_idle(room_id), *_media_state_keys(keys, room_id))
    if assigned is not None:
        await redis.srem(keys.node_rooms(_text(assigned)), str(room_id))


async def assigned_node(redis: Redis, keys: Keys, room_id: int) -> NodeInfo | None:
    """The node a room is on now, without placing it."""
    node_id = await room_node_id(redis, keys, room_id)
    return await get_node(redis, keys, node_id) if node_id is not None else None


async def place_room(redis: Redis, keys: Keys, room_id: int, region: str | None, now_ms: int,
                     stale_ms: int) -> NodeInfo | None:  # fmt: skip
    """The room's node: the one it has while that node is registered, else a newly chosen one.

    A room stays on its node even while the node looks stale: moving it here would strand its
    clients' transports on the old node without a word. Only losing the node (its socket closed, or
    the sweep in engine.media.lost dropped it) moves rooms, and that tells their clients.
    """
    key = keys.room_media(room_id)
    assigned = await redis.get(key)
    if assigned is not None:  # the common case, a room already placed: two reads, no registry scan
        node = await get_node(redis, keys, _text(assigned))
        if node is not None:
            return node
        # Its node is gone (its rooms were released): place the room again, unless another process
        # has just done so (compare-and-delete).
        await COMPARE_DELETE.bind(redis)(keys=[key], args=[_text(assigned)])
    chosen = choose_node(await all_nodes(redis, keys), region, now_ms, stale_ms)
    if chosen is None:
        return None
    if await redis.set(key, chosen.node_id, nx=True):  # held until the node is lost or the room idles
        await redis.sadd(keys.node_rooms(chosen.node_id), str(room_id))
        return chosen
    winner = await redis.get(key)  # another process placed it first
    return await get_node(redis, keys, _text(winner)) if winner else None


async def take_transport(redis: Redis, keys: Keys, room_id: int, user_id: int, limit: int) -> bool:
    """Count one more transport for the user in the room; False (nothing counted) past the limit."""
    counted = await TRANSPORT_COUNT.bind(redis)(keys=[keys.room_transports(room_id)], args=[user_id, 1, limit])
    return int(counted) >= 0


async def give_back_transport(redis: Redis, keys: Keys, room_id: int, user_id: int) -> None:
    """One of the user's transports is gone (closed on the node, or never created)."""
    await TRANSPORT_COUNT.bind(redis)(keys=[keys.room_transports(room_id)], args=[user_id, -1, 0])


async def forget_transports(redis: Redis, keys: Keys, room_id: int, user_id: int) -> int:
    """Clear the user's count (they joined afresh or left); return how many transports it held."""
    key = keys.room_transports(room_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hget(key, str(user_id))
        pipe.hdel(key, str(user_id))
        held, _ = await pipe.execute()
    return int(held or 0)


def _media_state_keys(keys: Keys, room_id: int) -> tuple[str, ...]:
    """What a room's media state is on its node: gone with the node or the router."""
    return keys.room_producers(room_id), keys.room_producers_closed(room_id), keys.room_transports(room_id)


ProducerOutcome = Literal["tell", "quiet", "elsewhere"]
_OUTCOMES: dict[int, ProducerOutcome] = {1: "tell", 0: "quiet", -1: "elsewhere"}


async def record_producer(
    redis: Redis, keys: Keys, room_id: int, node_id: str, what: Literal["new", "closed", "paused"],
    producer_id: str, record: ProducerRecord | None = None, now_ms: int = 0,
) -> ProducerOutcome:  # fmt: skip
    """Apply one node report about a producer: "tell" the room of it, keep "quiet" (a repeat, or a
    start whose close came first), or refuse it when the room is "elsewhere" than on `node_id`."""
    script = PRODUCER_STATE.bind(redis)
    body = _encoder.encode(record) if record is not None else b""
    keys_ = [keys.room_producers(room_id), keys.room_producers_closed(room_id), keys.room_media(room_id)]
    args: list[str | bytes | int] = [what, producer_id, body, now_ms, CLOSE_REMEMBERED_MS, node_id]
    return _OUTCOMES[int(await script(keys=keys_, args=args))]


async def room_node_id(redis: Redis, keys: Keys, room_id: int) -> str | None:
    """The id of the node the room is placed on, if any."""
    assigned = await redis.get(keys.room_media(room_id))
    return _text(assigned) if assigned is not None else None


async def room_producers(redis: Redis, keys: Keys, room_id: int) -> list[dict[str, Any]]:
    """The room's open producers, as the join ack's existingProducers lists them."""
    raw = await redis.hgetall(keys.room_producers(room_id))
    return [{"producerId": _text(k), **msgspec.to_builtins(_record_decoder.decode(v))} for k, v in raw.items()]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def idle_since(redis: Redis, keys: Keys, room_id: int, now_ms: int) -> int:
    """Since when (ms) the placed room has been empty: stamped now if this is the first time seen."""
    key = keys.room_media_idle(room_id)
    await redis.set(key, now_ms, nx=True)
    since = await redis.get(key)
    return int(_text(since)) if since is not None else now_ms


async def clear_idle(redis: Redis, keys: Keys, room_id: int) -> None:
    await redis.delete(keys.room_media_idle(room_id))


async def claim_idle(redis: Redis, keys: Keys, room_id: int) -> bool:
    """Of several processes finding the room idle, the one whose delete removed the stamp closes it."""
    return bool(await redis.delete(keys.room_media_idle(room_id)))
