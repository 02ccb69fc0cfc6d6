"""Wallets in Redis (Lua), the ledger in PostgreSQL, and the outbox streams between them.

`apply` is the only way a user's balance goes down or new money comes in: one script checks the
idempotency key, the funds and the frozen flag, changes the balance and appends the whole
transaction to the shard's outbox. `credit` applies a transaction's other live legs exactly once.
`with_live_wallet` runs either, rebuilding a wallet Redis lacks from the ledger first.
`record_txn` writes a transaction to the ledger at most once (its id is the primary key).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

import asyncpg
import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from engine.db import Conn
from engine.economy.model import Applied, Currency, Leg, Txn
from engine.keys import Keys
from engine.lua import LuaScript, preload
from engine.metrics import Metrics

log = logging.getLogger("flylive.economy")
_DIR = Path(__file__).parent / "lua"
APPLY = LuaScript(_DIR / "apply.lua")
CREDIT = LuaScript(_DIR / "credit.lua")
WALLET_INIT = LuaScript(_DIR / "wallet_init.lua")
SET_FROZEN = LuaScript(_DIR / "set_frozen.lua")
_txn_encoder = msgspec.json.Encoder()
_txn_decoder = msgspec.json.Decoder(Txn)
_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    entry_id: bytes
    txn: Txn
    balance: int  # the first leg's wallet balance right after the debit


def encode_txn(txn: Txn) -> bytes:
    return _txn_encoder.encode(txn)


def decode_txn(raw: bytes) -> Txn:
    return _txn_decoder.decode(raw)


class Wallets:
    """The live wallets: one typed method per Lua script, Redis only (see `economy.actions` for the
    step that rebuilds a wallet missing from Redis out of the ledger)."""

    def __init__(self, redis: Redis, keys: Keys, idempotency_ttl: int) -> None:
        self._redis = redis
        self.keys = keys
        self._ttl = idempotency_ttl
        self._apply = APPLY.bind(redis)
        self._credit = CREDIT.bind(redis)
        self._init = WALLET_INIT.bind(redis)
        self._set_frozen = SET_FROZEN.bind(redis)

    async def preload(self) -> None:
        await preload(self._redis, APPLY, CREDIT, WALLET_INIT, SET_FROZEN)

    async def apply(self, txn: Txn, idempotency_key: str, daily_cap: int = 0, cap_key: str | None = None) -> Applied:
        """Apply the transaction's first leg (a live user wallet) and queue the rest for the ledger.

        `daily_cap` (0: none) bounds what the user may spend per UTC day through debits that pass it.
        """
        leg = txn.legs[0]
        assert leg.live, "the first leg of an applied transaction is a user wallet"
        day = dt.datetime.fromtimestamp(txn.at_ms / 1000, dt.UTC).strftime("%Y%m%d")
        user = leg.account_id
        keys = [self.keys.wallet(user), self.keys.idempotency(user, idempotency_key),
                self.keys.outbox(self.keys.shard_of(user)), cap_key or self.keys.daily_spend(user, day)]  # fmt: skip
        args = [leg.currency, leg.amount, encode_txn(txn), self._ttl, txn.txn_id, daily_cap]
        raw = await self._apply(keys=keys, args=args)
        data = _decoder.decode(raw)
        return Applied(bool(data["ok"]), data.get("code"), data.get("balance"), data.get("required"),
                       bool(data.get("replay")), data.get("cap"))  # fmt: skip

    async def credit(self, txn_id: str, index: int, leg: Leg) -> Applied:
        """Apply credit leg `index` of a recorded transaction (idempotent)."""
        shard = self.keys.shard_of(leg.account_id)
        raw = await self._credit(keys=[self.keys.wallet(leg.account_id), self.keys.applied(shard, txn_id)],
                                 args=[index, leg.currency, leg.amount])  # fmt: skip
        data = _decoder.decode(raw)
        return Applied(bool(data["ok"]), data.get("code"), data.get("balance"))

    async def load(self, user_id: int, coins: int, diamonds: int, frozen: int) -> bool:
        """`frozen`: 0 = no, -1 = until further notice, else the ms timestamp the freeze ends."""
        return bool(await self._init(keys=[self.keys.wallet(user_id)], args=[coins, diamonds, frozen]))

    async def balances(self, user_id: int) -> dict[str, int] | None:
        raw = await self._redis.hgetall(self.keys.wallet(user_id))
        if not raw:
            return None
        fields = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
        return {name: fields.get(name, 0) for name in ("coins", "diamonds")}

    async def set_frozen(self, user_id: int, frozen: int | bool) -> None:
        """Suspended and banned users cannot spend (credits to them still land).

        `frozen`: True/-1 until further notice, False/0 not frozen, else the ms timestamp it ends.
        """
        if isinstance(frozen, bool):
            frozen = -1 if frozen else 0
        await self._set_frozen(keys=[self.keys.wallet(user_id)], args=[frozen])


def frozen_marker(status: str | None, suspended_until: dt.datetime | None) -> int:
    """The wallet's freeze for an account status: 0 active, -1 banned (or open-ended), else the end in ms."""
    if status in (None, "active"):
        return 0
    if status == "suspended" and suspended_until is not None:
        return int(suspended_until.timestamp() * 1000)
    return -1


async def ensure_wallet(pool: asyncpg.Pool, wallets: Wallets, user_id: int) -> None:
    """Make a user's wallet live in Redis from the ledger (first use, or after Redis lost it).

    A concurrent step is safe: the load script only creates a wallet that is still missing.
    """
    async with pool.acquire() as conn:
        balances = await ledger_balances(conn, user_id)
        frozen = await account_freeze(conn, user_id)
    await wallets.load(user_id, balances["coins"], balances["diamonds"], frozen)


async def with_live_wallet(
    pool: asyncpg.Pool, wallets: Wallets, user_id: int, step: Callable[[], Awaitable[Applied]]
) -> Applied:
    """Run a wallet script; when it finds no wallet, load that wallet from the ledger and run it once more.

    The one place the NO_WALLET answer is handled: every debit and credit goes through here.
    """
    result = await step()
    if result.code == "NO_WALLET":
        await ensure_wallet(pool, wallets, user_id)
        result = await step()
    return result


async def account_freeze(conn: Conn, user_id: int) -> int:
    """The freeze marker the account's status calls for (0 when there is no such account)."""
    account = await conn.fetchrow("SELECT status, suspended_until FROM users WHERE id = $1", user_id)
    return frozen_marker(account["status"], account["suspended_until"]) if account else 0


async def user_exists(conn: Conn, user_id: int) -> bool:
    return await conn.fetchval("SELECT 1 FROM users WHERE id = $1", user_id) is not None


async def ever_agency_member(conn: Conn, user_id: int) -> bool:
    """Current or former agency member (the diamond exchange is theirs)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM agency_members WHERE user_id = $1)", user_id))


class EconomyServices(Protocol):
    """What the economy needs of the app's shared services; `engine.services.Services` provides it.

    A protocol rather than that class: the services build `Wallets`, so economy naming them back
    would make an import circle.
    """

    @property
    def pool(self) -> asyncpg.Pool: ...
    @property
    def redis(self) -> Redis: ...
    @property
    def keys(self) -> Keys: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def wallets(self) -> Wallets: ...


async def ledger_balances(conn: Conn, user_id: int) -> dict[Currency, int]:
    rows = await conn.fetch(
        """SELECT currency, balance FROM account_balances
           WHERE account_type = 'user' AND account_id = $1 AND currency IN ('coins', 'diamonds')""",
        user_id,
    )
    balances: dict[Currency, int] = {"coins": 0, "diamonds": 0}
    for row in rows:
        balances[row["currency"]] = int(row["balance"])
    return balances


async def record_txn_txn(conn: Conn, txn: Txn, live_balance: int | None) -> bool:
    """Write one transaction (see `record_batch_txn`); False if it was already recorded."""
    return await record_batch_txn(conn, [(txn, live_balance)]) == 1


async def record_batch_txn(conn: Conn, items: list[tuple[Txn, int | None]]) -> int:
    """Write transactions and their legs, then move the balances and XP; return how many were new.

    Transactions already recorded are skipped (their id is the primary key). Balances and XP change
    in one pass, summed per row and in sorted order, so two flushers touching the same accounts (the
    platform, a user in both shards' transactions) lock rows in the same order and never deadlock.
    """
    recorded = await _insert_txns_txn(conn, items)
    deltas: dict[tuple[str, int, str], int] = defaultdict(int)
    for txn in recorded:
        for leg in txn.legs:
            deltas[(leg.account_type, leg.account_id, leg.currency)] += leg.amount
    moves = [(*key, amount) for key, amount in sorted(deltas.items()) if amount]
    if moves:  # one statement, rows taken in the sorted order (WITH ORDINALITY), so locks go in that order
        await conn.execute(
            """INSERT INTO account_balances (account_type, account_id, currency, balance)
               SELECT t, a, c, d FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[])
                        WITH ORDINALITY AS m (t, a, c, d, n) ORDER BY n
               ON CONFLICT (account_type, account_id, currency)
               DO UPDATE SET balance = account_balances.balance + excluded.balance""",
            [m[0] for m in moves], [m[1] for m in moves], [m[2] for m in moves], [m[3] for m in moves],
        )  # fmt: skip
    gifts = [txn for txn in recorded if txn.kind == "gift"]
    xp = _gift_xp(gifts)
    # Levels follow in these statements (sql/0027's triggers): no level query of our own.
    await conn.executemany(
        "UPDATE users SET wealth_xp = wealth_xp + $2, charm_xp = charm_xp + $3 WHERE id = $1",
        [(user, wealth, charm) for user, (wealth, charm) in sorted(xp.items())],
    )
    await conn.executemany("UPDATE rooms SET room_xp = room_xp + $2 WHERE id = $1", sorted(_room_xp(gifts).items()))
    return len(recorded)


async def _insert_txns_txn(conn: Conn, items: list[tuple[Txn, int | None]]) -> list[Txn]:
    """Insert the batch's transactions not yet recorded, then their legs: two statements per batch,
    whatever its size (a round trip per gift was most of the flush's time). The new ones, in order."""
    batch: dict[str, tuple[Txn, int | None]] = {}
    for txn, balance in items:  # an id twice in one batch counts once, as a replay would
        batch.setdefault(txn.txn_id, (txn, balance))
    if not batch:
        return []
    txns = [txn for txn, _ in batch.values()]
    times = [dt.datetime.fromtimestamp(txn.at_ms / 1000, dt.UTC) for txn in txns]
    inserted = await conn.fetch(
        """INSERT INTO ledger_transactions (txn_id, kind, initiator_id, ref_type, ref_id, metadata, created_at)
           SELECT t.txn_id, t.kind, t.initiator_id, t.ref_type, t.ref_id, t.metadata::jsonb, t.created_at
             FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                         $7::timestamptz[]) AS t (txn_id, kind, initiator_id, ref_type, ref_id, metadata, created_at)
           ON CONFLICT (txn_id) DO NOTHING RETURNING txn_id""",
        [txn.txn_id for txn in txns], [txn.kind for txn in txns], [txn.initiator_id for txn in txns],
        [txn.ref_type for txn in txns], [txn.ref_id for txn in txns],
        [msgspec.json.encode(txn.metadata).decode() for txn in txns], times,
    )  # fmt: skip
    new_ids = {row["txn_id"] for row in inserted}  # uuid.UUID: compared whatever the id's spelling
    fresh = [(txn, at) for txn, at in zip(txns, times, strict=True) if uuid.UUID(txn.txn_id) in new_ids]
    legs = [(txn.txn_id, i, leg, batch[txn.txn_id][1] if i == 0 else None, at)
            for txn, at in fresh for i, leg in enumerate(txn.legs)]  # fmt: skip
    if legs:
        await conn.execute(
            """INSERT INTO ledger_entries
                   (txn_id, leg, account_type, account_id, currency, amount, balance_after, created_at)
               SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::text[], $4::bigint[], $5::text[],
                                    $6::bigint[], $7::bigint[], $8::timestamptz[])""",
            [row[0] for row in legs], [row[1] for row in legs], [row[2].account_type for row in legs],
            [row[2].account_id for row in legs], [row[2].currency for row in legs],
            [row[2].amount for row in legs], [row[3] for row in legs], [row[4] for row in legs],
        )  # fmt: skip
    return [txn for txn, _ in fresh]


def _gift_xp(gifts: list[Txn]) -> dict[int, tuple[Decimal, Decimal]]:
    """Wealth XP for each sender and charm XP for each recipient, summed per user.

    A gift whose metadata lacks the figures earns no XP rather than stopping the shard's flush.
    """
    xp: dict[int, tuple[Decimal, Decimal]] = {}
    for txn in gifts:
        meta: dict[str, Any] = dict(txn.metadata)
        try:
            per_recipient = int(meta["price"]) * int(meta["quantity"])
            recipients = [int(r) for r in meta["recipients"]]
        except (KeyError, TypeError, ValueError):
            log.warning("gift without XP figures", extra={"txn_id": txn.txn_id})
            continue
        charm = Decimal(per_recipient * int(meta.get("charm_bps", 10000))) / 10000
        wealth = Decimal(per_recipient * len(recipients) * int(meta.get("wealth_bps", 10000))) / 10000
        for user, gained in [(txn.initiator_id, (wealth, Decimal(0)))] + [(r, (Decimal(0), charm)) for r in recipients]:
            if user is None:
                continue
            old = xp.get(user, (Decimal(0), Decimal(0)))
            xp[user] = (old[0] + gained[0], old[1] + gained[1])
    return xp


def _room_xp(gifts: list[Txn]) -> dict[int, int]:
    """Room XP for each room gifted in: the coins its gifts cost their senders, summed per room."""
    xp: dict[int, int] = defaultdict(int)
    for txn in gifts:
        meta: dict[str, Any] = dict(txn.metadata)
        try:
            room_id = meta.get("room_id")
            if room_id is not None:
                xp[int(room_id)] += int(meta["price"]) * int(meta["quantity"]) * len(meta["recipients"])
        except (KeyError, TypeError, ValueError):
            continue  # already logged by _gift_xp
    return {room: amount for room, amount in xp.items() if amount > 0}


async def create_outbox_group(redis: Redis, outbox: str, group: str) -> None:
    """Create the stream (if need be) and its consumer group reading from the start; exists: fine."""
    try:
        await redis.xgroup_create(outbox, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def read_outbox(
    redis: Redis, outbox: str, group: str, consumer: str, count: int, claim_idle_ms: int
) -> list[OutboxEntry]:
    """Entries another consumer took but left unacknowledged for `claim_idle_ms`, then new ones."""
    try:
        claimed: Any = await redis.xautoclaim(outbox, group, consumer, claim_idle_ms, count=count)
    except ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        # Redis lost its data (or never had the group): recreate it; entries added since are read from 0.
        await create_outbox_group(redis, outbox, group)
        claimed = await redis.xautoclaim(outbox, group, consumer, claim_idle_ms, count=count)
    fresh: Any = await redis.xreadgroup(group, consumer, {outbox: ">"}, count=count)
    raw = [(entry_id, fields) for entry_id, fields in claimed[1] if fields]
    for _stream, items in fresh or []:
        raw.extend(items)
    return [OutboxEntry(entry_id, decode_txn(fields[b"txn"]), int(fields[b"bal"])) for entry_id, fields in raw]


async def ack_outbox(redis: Redis, outbox: str, group: str, entry_ids: list[bytes]) -> None:
    """Acknowledge and delete entries, once the ledger has committed them."""
    await redis.xack(outbox, group, *entry_ids)
    await redis.xdel(outbox, *entry_ids)


async def outbox_backlog(redis: Redis, outbox: str, group: str) -> int:
    """How many entries the ledger has not committed yet: the stream's length (an entry stays in it
    until acknowledged), or the pending count should an entry be gone but not acknowledged."""
    if not await redis.exists(outbox):
        return 0
    pending = await redis.xpending(outbox, group)
    return max(int(await redis.xlen(outbox)), int(pending["pending"]))


async def live_wallet_users(redis: Redis, keys: Keys, shard: int) -> AsyncIterator[int]:
    """The users whose wallet is live in this shard."""
    pattern = keys.wallet(shard).replace(f":w:{shard}", ":w:*")
    async for key in redis.scan_iter(match=pattern, count=1000):
        yield int(key.rsplit(b":", 1)[1])


async def unbalanced_transactions(conn: Conn) -> list[asyncpg.Record]:
    """Transactions whose legs do not sum to zero in some currency (at most 20)."""
    return await conn.fetch(
        """SELECT txn_id, currency, sum(amount) AS total FROM ledger_entries
           GROUP BY txn_id, currency HAVING sum(amount) <> 0 LIMIT 20"""
    )


async def balances_off_their_legs(conn: Conn) -> list[asyncpg.Record]:
    """Stored balances that differ from the sum of their ledger legs (at most 20)."""
    return await conn.fetch(
        """SELECT b.account_type, b.account_id, b.currency, b.balance, coalesce(e.total, 0) AS total
           FROM account_balances b
           LEFT JOIN (SELECT account_type, account_id, currency, sum(amount) AS total FROM ledger_entries
                      GROUP BY 1, 2, 3) e USING (account_type, account_id, currency)
           WHERE b.balance <> coalesce(e.total, 0) LIMIT 20"""
    )


async def negative_balances(conn: Conn) -> list[asyncpg.Record]:
    """Balances below zero on any account but the mint's (at most 20)."""
    return await conn.fetch(
        """SELECT account_type, account_id, currency, balance FROM account_balances
           WHERE balance < 0 AND account_type <> 'mint' LIMIT 20"""
    )


async def balance_totals(conn: Conn) -> list[asyncpg.Record]:
    """The sum of balances per currency and account type."""
    return await conn.fetch("SELECT currency, account_type, sum(balance) AS total FROM account_balances GROUP BY 1, 2")


async def update_setting_txn(conn: Conn, key: str, value: int, actor_id: int) -> None:
    await conn.execute(
        "UPDATE economy_settings SET value = $2, updated_at = now(), updated_by = $3 WHERE key = $1",
        key,
        value,
        actor_id,
    )


async def settings(conn: Conn) -> dict[str, int]:
    return {r["key"]: int(r["value"]) for r in await conn.fetch("SELECT key, value FROM economy_settings")}


def as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if value else {}


async def history(
    conn: Conn, user_id: int, *, currency: str | None, kind: str | None, since: dt.datetime | None,
    until: dt.datetime | None, before_id: int | None, limit: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """A user's ledger legs, newest first, paged by entry id (the cursor)."""
    rows = await conn.fetch(
        """SELECT e.id, e.txn_id, t.kind, e.currency, e.amount, e.balance_after, e.created_at, t.ref_type, t.ref_id,
                  t.initiator_id, t.metadata
           FROM ledger_entries e JOIN ledger_transactions t USING (txn_id)
           WHERE e.account_type = 'user' AND e.account_id = $1
             AND ($2::text IS NULL OR e.currency = $2) AND ($3::text IS NULL OR t.kind = $3)
             AND ($4::timestamptz IS NULL OR e.created_at >= $4) AND ($5::timestamptz IS NULL OR e.created_at < $5)
             AND ($6::bigint IS NULL OR e.id < $6)
           ORDER BY e.id DESC LIMIT $7""",
        user_id, currency, kind, since, until, before_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def insert_fraud_flag(conn: Conn, user_id: int, kind: str, details: dict[str, Any]) -> bool:
    """Record a fraud flag for staff; False when this user already has one of this kind today."""
    inserted = await conn.fetchval(
        """INSERT INTO fraud_flags (user_id, kind, details) VALUES ($1, $2, $3::text::jsonb)
           ON CONFLICT (user_id, kind, day) DO NOTHING RETURNING id""",
        user_id, kind, msgspec.json.encode(details).decode(),
    )  # fmt: skip
    return inserted is not None


async def apply_held_txn(conn: Conn, txn: Txn) -> Literal["ok", "replay", "insufficient"]:
    """Record a transaction between ledger-only accounts (agencies, escrow, USD salaries, the mint):
    the PostgreSQL counterpart of the wallet script, for balances no socket event spends.

    Run inside the caller's transaction. Every account the legs touch is locked, in sorted order
    (the order the flusher updates them in, so the two never deadlock); each debited account must
    hold what the legs take from it ("insufficient" otherwise, nothing written). A transaction id
    already recorded is a "replay" and changes nothing.
    """
    if any(leg.live for leg in txn.legs):
        raise ValueError("a live wallet changes only through its Lua script")
    if await conn.fetchval("SELECT 1 FROM ledger_transactions WHERE txn_id = $1", txn.txn_id):
        return "replay"
    moves: dict[tuple[str, int, str], int] = defaultdict(int)
    for leg in txn.legs:
        moves[(leg.account_type, leg.account_id, leg.currency)] += leg.amount
    rows = await conn.fetch(
        """SELECT account_type, account_id, currency, balance FROM account_balances
           WHERE (account_type, account_id, currency) IN (SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]))
           ORDER BY account_type, account_id, currency FOR UPDATE""",
        *map(list, zip(*sorted(moves), strict=True)),
    )  # fmt: skip
    held = {(r["account_type"], r["account_id"], r["currency"]): int(r["balance"]) for r in rows}
    for key, amount in moves.items():
        if amount < 0 and key[0] != "mint" and held.get(key, 0) + amount < 0:
            return "insufficient"
    # A concurrent twin that committed first leaves this insert nothing to do.
    return "ok" if await record_txn_txn(conn, txn, None) else "replay"


async def held_balance(conn: Conn, account_type: str, account_id: int, currency: str) -> int:
    """A ledger-only account's balance (0 when it has none)."""
    value = await conn.fetchval(
        "SELECT balance FROM account_balances WHERE account_type = $1 AND account_id = $2 AND currency = $3",
        account_type, account_id, currency,
    )  # fmt: skip
    return int(value or 0)
