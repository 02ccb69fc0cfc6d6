"""What the social tests share: relationships made through the real REST API, privacy settings,
and the relationships of the privacy matrix (issue 12: stranger, follower, friend, blocked,
blocker, self)."""

from __future__ import annotations

from typing import Any

from tests.helpers import Client, User, bearer, new_user

RELATIONS = ("stranger", "follower", "friend", "blocked", "blocker", "self")
AUDIENCES = ("everyone", "followers", "friends", "nobody")
# Which relations each audience lets see (a block either way hides everything).
SEES = {
    "everyone": {"stranger", "follower", "friend", "self"},
    "followers": {"follower", "friend", "self"},
    "friends": {"friend", "self"},
    "nobody": {"self"},
}


async def follow(client: Client, who: User, whom: User, *, status: int = 200) -> dict[str, Any]:
    resp = await client.post(f"/api/v1/users/{whom.id}/follow", headers=bearer(who.token))
    assert resp.status == status, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def unfollow(client: Client, who: User, whom: User, *, status: int = 200) -> dict[str, Any]:
    resp = await client.delete(f"/api/v1/users/{whom.id}/follow", headers=bearer(who.token))
    assert resp.status == status, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def block(client: Client, who: User, whom: User, reason: str | None = None) -> None:
    resp = await client.post(f"/api/v1/users/{whom.id}/block", json={"reason": reason}, headers=bearer(who.token))
    assert resp.status == 200, await resp.text()


async def set_privacy(client: Client, user: User, **settings: str) -> dict[str, Any]:
    resp = await client.patch("/api/v1/me/privacy", json=settings, headers=bearer(user.token))
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = (await resp.json())["data"]
    return data


async def everyone_sees(client: Client, user: User, audience: str) -> None:
    """Set every privacy setting of the user to `audience` (messages stays 'everyone')."""
    await set_privacy(client, user, followers_list=audience, following_list=audience, current_room=audience,
                      online_status=audience, activity=audience, received_gifts=audience)  # fmt: skip


async def relate(client: Client, viewer: User, target: User, relation: str) -> User:
    """Make `viewer` stand to `target` as `relation`; the viewer to use (for "self": the target)."""
    if relation in ("follower", "friend"):
        await follow(client, viewer, target)
    if relation == "friend":
        await follow(client, target, viewer)
    if relation == "blocked":
        await block(client, target, viewer)
    if relation == "blocker":
        await block(client, viewer, target)
    return target if relation == "self" else viewer


async def viewers_of(client: Client, target: User) -> dict[str, User]:
    """One viewer per relation to `target` (self is the target)."""
    viewers = {}
    for relation in RELATIONS:
        viewer = target if relation == "self" else await new_user(client, relation.capitalize())
        viewers[relation] = await relate(client, viewer, target, relation)
    return viewers
