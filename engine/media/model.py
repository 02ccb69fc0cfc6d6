"""Media-node protocol messages (node → engine on the `/media` namespace). No I/O.

See docs/media-node-protocol.md. Node ids are chosen by the node; a node re-registering under the
same id replaces its earlier registration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any

import msgspec
from msgspec import Meta

NodeId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[\w.-]+$")]
Region = Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[\w-]+$")]


class NodeRegister(msgspec.Struct):
    nodeId: NodeId
    region: Region
    capacity: Annotated[int, Meta(ge=1, le=1_000_000)]  # rooms (routers) it can hold
    rtpCapabilities: dict[str, Any]


class NodeHeartbeat(msgspec.Struct):
    load: Annotated[int, Meta(ge=0, le=1_000_000)]  # rooms (routers) it holds now


class NodeInfo(msgspec.Struct):
    node_id: str
    region: str
    capacity: int
    load: int
    seen_ms: int
    instance: str
    sid: str
    rtp_capabilities: dict[str, Any]


class ProducerRecord(msgspec.Struct):
    """A room's open producer, as kept for existingProducers in the join ack."""

    userId: int
    source: str
    paused: bool = False


def choose_node(nodes: list[NodeInfo], region: str | None, now_ms: int, stale_ms: int) -> NodeInfo | None:
    """The least loaded live node with room to spare, preferring the room's region."""
    live = [n for n in nodes if now_ms - n.seen_ms <= stale_ms and n.load < n.capacity]
    local = [n for n in live if n.region == region] if region else []
    pool = local or live
    return min(pool, key=lambda n: (n.load / n.capacity, n.load, n.node_id)) if pool else None


class MediaRequest(msgspec.Struct):
    """Engine → node: one client request to carry out (the node acks `{ok, data}` or `{ok: false, error}`)."""

    requestId: str
    method: str  # transport:create, transport:connect, transport:restartIce, audio:produce, …
    roomId: str
    userId: int
    params: dict[str, Any]


class MediaCommand(msgspec.Struct):
    """Engine → node, fire and forget: pauseUser, resumeUser, closeUserProducers, closeUserTransports
    (each with userId), closeRouter."""

    command: str
    roomId: str
    userId: int | None = None


def ice_servers(
    stun_urls: tuple[str, ...], turn_urls: tuple[str, ...], turn_secret: str, user_id: int, now: int, ttl: int
) -> list[dict[str, Any]]:
    """The ICE servers for one user's transport (realtime-contract §8.1): STUN, and TURN with
    time-limited credentials in the TURN REST scheme that coturn's `use-auth-secret` checks
    (username `<expiry>:<userId>`, credential base64(HMAC-SHA1(secret, username))), so no TURN
    password is ever shared and a leaked credential expires by itself."""
    servers: list[dict[str, Any]] = [{"urls": list(stun_urls)}] if stun_urls else []
    if turn_urls and turn_secret:
        username = f"{now + ttl}:{user_id}"
        digest = hmac.new(turn_secret.encode(), username.encode(), hashlib.sha1).digest()
        servers.append({"urls": list(turn_urls), "username": username,
                        "credential": base64.b64encode(digest).decode()})  # fmt: skip
    return servers
