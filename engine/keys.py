"""Every Redis key and channel name is built here, with its hash tag and the deployment prefix.

Hash tags keep every key one Lua script touches in one cluster slot (DESIGN.md "State and
consistency"); the prefix lets tests and several deployments share one server.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple


class RoomKeys(NamedTuple):
    """The keys of one room's live state, all under its hash tag. Every room script receives them
    in this order (engine/rooms/lua/lib.lua names them K_META … K_CHAT)."""

    meta: str  # hash: seat_count, owner, seq, closed; v:<user> -> "<joined ms>:<ms on mic>" (engine/activity)
    seats: str  # hash: index -> seat json {u, m, d, t}
    seat_of: str  # hash: user -> index
    locked: str  # set of locked indices
    invites: str  # hash: index -> invite json
    events: str  # capped stream of sequenced events, id "<seq>-1"
    members: str  # hash: user -> socket count
    sockets: str  # hash: sid -> user
    profiles: str  # hash: user -> profile json shown to others
    chat: str  # list of recent messages, newest first


@functools.lru_cache(maxsize=8192)
def _room_keys(prefix: str, room_id: int) -> RoomKeys:
    # Built once per live room: every room script of every event names all ten.
    tag = f"{prefix}{{r:{room_id}}}"
    return RoomKeys(*(f"{tag}:{name}" for name in RoomKeys._fields))


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = ""
    economy_shards: int = 16

    def shard_of(self, user_id: int) -> int:
        return user_id % self.economy_shards

    def wallet(self, user_id: int) -> str:
        """A user's live balances (hash: coins, diamonds, frozen), in their economy shard."""
        return f"{self.prefix}{{e:{self.shard_of(user_id)}}}:w:{user_id}"

    def idempotency(self, user_id: int, key: str) -> str:
        return f"{self.prefix}{{e:{self.shard_of(user_id)}}}:idem:{user_id}:{key}"

    def daily_spend(self, user_id: int, day: str) -> str:
        """Coins a user spent on `day` (YYYYMMDD, UTC), checked against the daily cap."""
        return f"{self.prefix}{{e:{self.shard_of(user_id)}}}:spent:{user_id}:{day}"

    def outbox(self, shard: int) -> str:
        """The shard's ledger outbox stream, drained into PostgreSQL by the flusher."""
        return f"{self.prefix}{{e:{shard}}}:outbox"

    def activity(self, shard: int) -> str:
        """An activity stream (engine/activity): finished room visits of the users of this shard
        (`user_id % economy_shards`, so one user's entries stay in order), drained into PostgreSQL."""
        return f"{self.prefix}{{act:{shard}}}:stream"

    def applied(self, shard: int, txn_id: str) -> str:
        """Which credit legs of a transaction have been applied to wallets of this shard."""
        return f"{self.prefix}{{e:{shard}}}:applied:{txn_id}"

    def rate_bucket(self, scope: str, subject: str) -> str:
        return f"{self.prefix}{{rl:{scope}:{subject}}}"

    def cooldown(self, scope: str, subject: str) -> str:
        """Present (with a TTL) while `subject` is barred from `scope`."""
        return f"{self.prefix}{{rl:{scope}:{subject}}}:cooldown"

    def session_revoked(self, session_id: str) -> str:
        return f"{self.prefix}{{auth:s:{session_id}}}:revoked"

    def user_sockets(self, user_id: int) -> str:
        return f"{self.prefix}{{u:{user_id}}}:sockets"

    def auth_channel(self) -> str:
        """Pub/sub channel telling every engine process to drop a user's live sockets."""
        return f"{self.prefix}flylive:auth"

    def socketio_channel(self) -> str:
        return f"{self.prefix}flylive:socketio"

    def room(self, room_id: int) -> RoomKeys:
        """The keys of a room's live state (and, in this order, of every room script)."""
        return _room_keys(self.prefix, room_id)

    def room_block(self, room_id: int, user_id: int) -> str:
        """A kicked user's temporary block; its TTL is the time left."""
        return f"{self.prefix}{{r:{room_id}}}:block:{user_id}"

    def room_chat_rate(self, room_id: int, user_id: int) -> str:
        return f"{self.prefix}{{r:{room_id}}}:chatrate:{user_id}"

    def agency_chat(self, agency_id: int) -> str:
        """An agency chat channel's recent messages (list, newest first; engine/agency/chat.py)."""
        return f"{self.prefix}{{ag:{agency_id}}}:chat"

    def daily_login(self, user_id: int, day: str) -> str:
        """Set once a user's daily login reward for a business day is recorded: a repeat call that day
        needs no PostgreSQL read."""
        return f"{self.prefix}{{u:{user_id}}}:daily_login:{day}"

    def gift_combo(self, room_id: int, sender: int, part: str) -> str:
        """A running gift combo: same sender, gift and recipients, in the room's slot."""
        return f"{self.prefix}{{r:{room_id}}}:combo:{sender}:{part}"

    def media_nodes(self) -> str:
        """Hash of registered media nodes: node id -> NodeInfo JSON."""
        return f"{self.prefix}flylive:media:nodes"

    def node_rooms(self, node_id: str) -> str:
        """The rooms placed on a media node (to move them when it dies)."""
        return f"{self.prefix}flylive:media:node_rooms:{node_id}"

    def room_producers(self, room_id: int) -> str:
        """The room's live producers (producer id -> {userId, source}), as the media node reports them."""
        return f"{self.prefix}{{r:{room_id}}}:producers"

    def room_producers_closed(self, room_id: int) -> str:
        """Producers whose close was handled before their start (zset: id -> ms), for a minute."""
        return f"{self.prefix}{{r:{room_id}}}:producers_closed"

    def room_transports(self, room_id: int) -> str:
        """How many WebRTC transports each user holds on the room's node (user id -> count)."""
        return f"{self.prefix}{{r:{room_id}}}:transports"

    def room_media_idle(self, room_id: int) -> str:
        """Since when (ms) a placed room has had no members, while it has none."""
        return f"{self.prefix}{{r:{room_id}}}:media_idle"

    def room_media(self, room_id: int) -> str:
        """The media node a room is placed on."""
        return f"{self.prefix}{{r:{room_id}}}:media_node"

    def user_room(self, user_id: int) -> str:
        return f"{self.prefix}{{u:{user_id}}}:room"

    def user_met_rooms(self, user_id: int) -> str:
        """Sorted set of the rooms the user was in lately, scored by when (ms): suggestions read it."""
        return f"{self.prefix}{{u:{user_id}}}:met_rooms"

    def room_visitors(self, room_id: int) -> str:
        """Sorted set of who was in the room lately, scored by when (ms)."""
        return f"{self.prefix}{{r:{room_id}}}:visitors"

    def user_online(self, user_id: int) -> str:
        """How many sockets the user has open, fleet-wide (presence)."""
        return f"{self.prefix}{{u:{user_id}}}:online"

    def live_rooms(self) -> str:
        """Sorted set of live rooms scored by member count (popularity)."""
        return f"{self.prefix}flylive:rooms:live"

    def seat_holds(self) -> str:
        """Sorted set of seats held for disconnected users, scored by when the hold ends."""
        return f"{self.prefix}flylive:seat_holds"

    def instances(self) -> str:
        """Sorted set of engine processes scored by their last heartbeat (ms)."""
        return f"{self.prefix}flylive:instances"

    def instance_sockets(self, instance_id: str) -> str:
        """Hash of one process's sockets: sid -> "user_id:room_id" (room 0: in no room)."""
        return f"{self.prefix}{{i:{instance_id}}}:sockets"

    def ranking_slot(self, board: str, period: str, start: str) -> str:
        """The hash tag shared by one board's period: its sorted sets and its seen set go together
        into one atomic script call (engine/progression/lua/rank_add.lua)."""
        return f"{self.prefix}{{rk:{board}:{period}:{start}}}"

    def ranking(self, board: str, period: str, start: str, scope: str) -> str:
        """Sorted set of a board's period: member id -> score; scope "all" or a country code."""
        return f"{self.ranking_slot(board, period, start)}:z:{scope}"

    def ranking_room_senders(self, period: str, start: str, room_id: int) -> str:
        """Sorted set of one room's senders in a period (the legacy room leaderboard)."""
        return f"{self.ranking_slot('room', period, start)}:senders:{room_id}"

    def ranking_seen(self, board: str, period: str, start: str, day: str) -> str:
        """Set of transaction ids already counted into the slot (per day for the all-time slot)."""
        return f"{self.ranking_slot(board, period, start)}:seen:{day}"

    def ops_process(self, instance_id: str) -> str:
        """One engine process's published figures (engine/ops/live.py), with a TTL: gone with the process."""
        return f"{self.prefix}flylive:ops:process:{instance_id}"
