"""Profiles as others see them (privacy and blocks applied), one's own profile and privacy
settings, profile completion, and user search."""

from __future__ import annotations

from typing import Any

import asyncpg

from engine.accounts import actions as accounts
from engine.accounts import model as accounts_model
from engine.accounts import store as accounts_store
from engine.accounts.actions import Client
from engine.audit.store import record_txn
from engine.errors import validation_error
from engine.services import Services
from engine.social import store
from engine.social.follows import user_not_found, visible_user
from engine.social.live import Social
from engine.social.model import (
    PROFILE_BODY_FIELDS,
    Privacy,
    PrivacyBody,
    UpdateMeBody,
    allows,
    card,
    decode_cursor,
    encode_cursor,
    profile_completion,
    search_terms,
    shown_birthday,
)  # fmt: skip


def _profile_fields(user: dict[str, Any]) -> dict[str, Any]:
    return {"bio": user["bio"], "interests": list(user["interests"] or []), "social_links": user["social_links"] or [],
            "birthday": shown_birthday(user["dob"], user["birthday_visibility"])}  # fmt: skip


async def get_me(svc: Services, user_id: int) -> dict[str, Any]:
    """The caller's account (the legacy object) with the profile fields and the follow counts."""
    body = await accounts.get_me(svc, user_id)
    async with svc.pool.acquire() as conn:
        body.update(await store.counts(conn, user_id))
    return body


async def get_user_profile(social: Social, viewer: int, user_id: int) -> dict[str, Any]:
    """A user's public profile as the viewer may see it: 404 through a block (as for a missing
    user); online status and current room only when the user's privacy lets the viewer see them."""
    svc = social.svc
    async with svc.pool.acquire() as conn:
        user, rel = await visible_user(conn, viewer, user_id)
        counts = await store.counts(conn, user_id)
        settings = await store.privacy(conn, user_id)
    online, room_id = await social.rooms.whereabouts(user_id)
    return {
        **accounts_model.public_user(user), **_profile_fields(user), **counts,
        "relationship": {"following": rel.following, "followed_by": rel.followed_by, "friend": rel.friend},
        "online": online if allows(settings.online_status, rel) else None,
        "room_id": str(room_id) if room_id is not None and allows(settings.current_room, rel) else None,
    }  # fmt: skip


async def get_public_user(svc: Services, viewer: int, user_id: int) -> dict[str, Any]:
    """The legacy public profile (`GET /api/user/{id}`), hidden through a block like the v1 one."""
    async with svc.pool.acquire() as conn:
        user, _rel = await visible_user(conn, viewer, user_id)
    return accounts_model.public_user(user)


async def completion(svc: Services, user_id: int) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        user = await accounts_store.get_user(conn, user_id)
    if user is None:
        raise user_not_found(user_id)
    return profile_completion(user)


def _profile_changes(body: UpdateMeBody, sent: set[str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in PROFILE_BODY_FIELDS:
        if name not in sent:
            continue
        value = getattr(body, name)
        if value is None and name == "birthday_visibility":
            raise validation_error({name: ["The birthday_visibility field must be full, month_day or hidden."]})
        if value is None:
            value = None if name == "bio" else []  # null clears
        changes[name] = accounts_model.profile_value(name, value)
    return changes


async def do_update_field(social: Social, user_id: int, field: str, value: Any, client: Client) -> str:
    """The legacy one-field update (`PATCH /api/update-profile`, and `PATCH /api/v1/me` with
    `{field, value}`); a field the rooms show is then told to every room the user is in."""
    message = await accounts.do_update_profile(social.svc, user_id, field, value, client)
    shown = accounts_model.ROOM_PROFILE_FIELDS.get(field)
    if shown is not None and message.endswith("updated successfully."):
        async with social.svc.pool.acquire() as conn:
            user = await accounts_store.get_user(conn, user_id)
        if user is not None:
            stored = user[field]
            await social.rooms.profile_changed(user_id, {shown: stored or "" if shown == "avatar" else stored})
    return message


async def do_update_me(social: Social, user_id: int, body: UpdateMeBody, sent: set[str], client: Client) -> str:
    """`{field, value}`: the one-field update of the legacy route; otherwise the profile fields sent."""
    svc = social.svc
    if body.field is not None:
        return await do_update_field(social, user_id, body.field, body.value, client)
    changes = _profile_changes(body, sent)
    if not changes:
        raise validation_error({"body": ["Send {field, value} or at least one of " + ", ".join(PROFILE_BODY_FIELDS)
                                         + "."]})  # fmt: skip
    async with svc.pool.acquire() as conn, conn.transaction():
        await accounts_store.update_profile_columns(conn, user_id, changes)
        await record_txn(conn, actor_id=user_id, action="profile.update", target_type="user", target_id=user_id,
                         ip=client.ip, details={"fields": sorted(changes)})  # fmt: skip
    return "Profile updated successfully."


async def get_privacy(svc: Services, user_id: int) -> Privacy:
    async with svc.pool.acquire() as conn:
        return await store.privacy(conn, user_id)


async def do_update_privacy(social: Social, user_id: int, body: PrivacyBody) -> Privacy:
    """Change the settings sent; every engine process forgets the cached ones (the table's trigger)."""
    async with social.svc.pool.acquire() as conn, conn.transaction():
        try:
            settings = await store.update_privacy(conn, user_id, body.changes())
        except asyncpg.ForeignKeyViolationError as exc:
            raise user_not_found(user_id) from exc
        await record_txn(conn, actor_id=user_id, action="privacy.update", target_type="user", target_id=user_id,
                         details=body.changes())  # fmt: skip
    await social.rooms.privacy_changed(user_id)
    return settings


async def search(svc: Services, viewer: int, q: str, country: str | None, gender: str | None, cursor: str | None,
                 limit: int) -> dict[str, Any]:  # fmt: skip
    """Users by exact id, then by name prefix, then by handle prefix (each in index order); never
    anyone in a block with the viewer. The cursor holds the stage and the position in it."""
    await svc.limiter.check("search", str(viewer), svc.config.search_rate_limit)
    name, handle, exact = search_terms(q)
    stage, key, last = decode_cursor(cursor, int, str, int) or (0, "", 0)
    code = accounts_model.GENDER_CODES.get(gender) if gender else None
    country = country.lower() if country else None
    found: list[dict[str, Any]] = []
    async with svc.pool.acquire() as conn:
        if stage == 0 and exact is not None:
            found += [{**r, "stage": 0} for r in await store.search_exact(conn, viewer, exact, country, code)]
        if stage <= 1 and name:
            after = (key, last) if stage == 1 else None
            rows = await store.search_names(conn, viewer, name, after, country, code, exact, limit + 1 - len(found))
            found += [{**r, "stage": 1} for r in rows]
        if len(found) <= limit and handle:
            after = (key, last) if stage == 2 else None
            rows = await store.search_handles(conn, viewer, handle, name, after, country, code, exact,
                                              limit + 1 - len(found))  # fmt: skip
            found += [{**r, "stage": 2} for r in rows]
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        last_row = found[-1]
        # After the exact match, the names from their start (the exact stage is never read twice).
        position = (1, "", 0) if last_row["stage"] == 0 else (last_row["stage"], last_row["key"], last_row["id"])
        next_cursor = encode_cursor(*position)
    return {"items": [card(r) for r in found], "next_cursor": next_cursor}
