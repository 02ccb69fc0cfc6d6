"""user:profileSync — a client updates its own name, handle, avatar and cosmetic ids.

The database is the truth: the values are checked like a profile update, cosmetic ids must be
mall items the user owns, and `vip_level`, `wealth_xp`, `charm_xp` (and anything else a client
sends) are ignored, so no client can give itself a VIP guard (realtime-contract §12.2). What changed
is stored, then told to every room the user is in as `user:profile_updated`; the users table's
trigger makes every engine process's hot cache forget the old profile.
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import msgspec
from msgspec import UNSET, Meta, UnsetType

from engine.accounts import store as accounts_store
from engine.accounts.model import COSMETICS, Name, Signature
from engine.audit.store import record_txn
from engine.db import Conn
from engine.realtime.acks import TOO_MANY_REQUESTS, Ack, failure
from engine.social import store
from engine.social.live import Social

CosmeticId = Annotated[int, Meta(ge=1, le=2**63 - 1)]
# The cosmetics the mall sells, by the category it sells them in; the others have no catalog yet,
# so a client cannot prove it owns one: they are ignored.
MALL_CATEGORY = {"frame_id": "frame", "entry_animation_id": "entry_effect"}


class SyncedProfile(msgspec.Struct):
    """The fields a client may sync (absent: unchanged). An empty `avatar` clears it; a null
    cosmetic id unequips it. Fields not listed (vip_level, wealth_xp, charm_xp, gender,
    equipped_badges, …) are ignored."""

    name: Name | UnsetType = UNSET
    signature: Signature | UnsetType = UNSET
    avatar: Annotated[str, Meta(max_length=500)] | UnsetType = UNSET
    frame_id: CosmeticId | UnsetType | None = UNSET
    chat_bubble_id: CosmeticId | UnsetType | None = UNSET
    entry_animation_id: CosmeticId | UnsetType | None = UNSET
    data_card_id: CosmeticId | UnsetType | None = UNSET
    mice_wave_id: CosmeticId | UnsetType | None = UNSET
    slides_id: CosmeticId | UnsetType | None = UNSET


class ProfileSyncPayload(msgspec.Struct):
    profile: SyncedProfile


async def _cosmetics(conn: Conn, user: dict[str, Any], p: SyncedProfile) -> tuple[dict[str, Any], list[str]]:
    """The user's cosmetics after the sync, and the ids ignored (not sold, or not owned)."""
    cosmetics = dict(user["cosmetics"] or {})
    sent = {name: getattr(p, name) for name in COSMETICS if getattr(p, name) is not UNSET}
    wanted = {value: MALL_CATEGORY[name] for name, value in sent.items() if value is not None and name in MALL_CATEGORY}
    owned = await store.owned_items(conn, user["id"], wanted) if wanted else set()
    ignored = []
    for name, value in sent.items():
        if value is None:
            cosmetics.pop(name, None)
        elif name in MALL_CATEGORY and value in owned:
            cosmetics[name] = value
        else:
            ignored.append(name)
    return cosmetics, ignored


Changes = tuple[dict[str, Any], dict[str, Any]]


def _columns(user: dict[str, Any], p: SyncedProfile, cosmetics: dict[str, Any]) -> Changes:
    """(users columns to write, the room profile's fields that change) for what differs."""
    columns: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    if p.name is not UNSET and p.name != user["name"]:
        columns["name"] = changed["name"] = p.name
    if p.signature is not UNSET and p.signature != user["signature"]:
        columns["signature"] = changed["signature"] = p.signature
    if p.avatar is not UNSET and (p.avatar or None) != user["avatar_image"]:
        columns["avatar_image"], changed["avatar"] = p.avatar or None, p.avatar
    before = user["cosmetics"] or {}
    if cosmetics != before:
        columns["cosmetics"] = cosmetics
        changed.update({name: cosmetics.get(name) for name in COSMETICS if cosmetics.get(name) != before.get(name)})
    return columns, changed


async def do_profile_sync(social: Social, user_id: int, p: ProfileSyncPayload) -> Ack:
    svc = social.svc
    verdict = await svc.limiter.hit("profile_sync", str(user_id), svc.config.profile_sync_rate_limit)
    if not verdict.allowed:
        return failure(TOO_MANY_REQUESTS, "RATE_LIMITED", retry_after=verdict.retry_after_seconds)
    async with svc.pool.acquire() as conn:
        user = await accounts_store.get_user(conn, user_id)
        if user is None:
            return failure("Not authorized", "NOT_AUTHORIZED")
        cosmetics, ignored = await _cosmetics(conn, user, p.profile)
        columns, changed = _columns(user, p.profile, cosmetics)
        if columns:
            try:
                async with conn.transaction():
                    await accounts_store.update_profile_columns(conn, user_id, columns)
                    await record_txn(conn, actor_id=user_id, action="profile.sync", target_type="user",
                                     target_id=user_id, details={"fields": sorted(columns)})  # fmt: skip
            except asyncpg.UniqueViolationError:
                return failure("The signature has already been taken.", "SIGNATURE_TAKEN")
    if changed:
        await social.rooms.profile_changed(user_id, changed)
    return {"success": True, "ignored": ignored} if ignored else {"success": True}
