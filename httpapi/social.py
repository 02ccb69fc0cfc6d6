"""`/api/v1` social routes (issue 12 §1–§3): profiles as others see them, search, privacy,
follows and blocks. Lists are cursor pages (`?cursor=&limit=`, newest first)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES, SOCIAL
from engine.progression import appreciation, badges
from engine.social import blocks, follows, profiles
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit, Privacy, PrivacyBody, SearchText
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import path_id, read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


class PageQuery(msgspec.Struct):
    cursor: Cursor | None = None
    """The `next_cursor` of the previous page."""
    limit: Limit = DEFAULT_LIMIT


class SuggestionsQuery(msgspec.Struct):
    cursor: Cursor | None = None
    """The `next_cursor` of the previous page."""
    limit: Limit = DEFAULT_LIMIT


class SearchQuery(msgspec.Struct):
    q: SearchText
    """A name prefix, a handle prefix (with or without its '@' or '#'), or an exact user id."""
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2}$")] | None = None
    gender: Literal["male", "female", "others"] | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class BlockBody(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=255)] | None = None


# Registered before `/api/v1/users/{id}` (aiohttp matches in order): "search" is no id.
@routes.api("GET", "/api/v1/users/search", summary="Search users by name, handle or id (never anyone in a block "
            "with you).", query=SearchQuery, response=schemas.UserPage, errors=(429,))  # fmt: skip
@login_required
async def search(request: web.Request) -> web.Response:
    q = read_query(request, SearchQuery)
    return ok(
        await profiles.search(request.app[SERVICES], caller_id(request), q.q, q.country, q.gender, q.cursor, q.limit)
    )


@routes.api("GET", "/api/v1/users/{id}", summary="A user's profile as you may see it (404 through a block).",
            response=schemas.UserProfile)  # fmt: skip
@login_required
async def user_profile(request: web.Request) -> web.Response:
    user_id = path_id(request)
    body = await profiles.get_user_profile(request.app[SOCIAL], caller_id(request), user_id)
    body["appreciations"] = await appreciation.total(request.app[SERVICES], user_id)
    body["equipped_badges"] = await badges.equipped(request.app[SERVICES], user_id)
    return ok(body)


@routes.api("POST", "/api/v1/users/{id}/follow", summary="Follow a user (idempotent).", response=schemas.FollowState,
            errors=(409, 429))  # fmt: skip
@login_required
async def follow(request: web.Request) -> web.Response:
    return ok(await follows.do_follow(request.app[SOCIAL], caller_id(request), path_id(request)))


@routes.api("DELETE", "/api/v1/users/{id}/follow", summary="Unfollow a user (idempotent).",
            response=schemas.FollowState, errors=(409, 429))  # fmt: skip
@login_required
async def unfollow(request: web.Request) -> web.Response:
    return ok(await follows.do_unfollow(request.app[SOCIAL], caller_id(request), path_id(request)))


@routes.api("GET", "/api/v1/users/{id}/followers", summary="Who follows the user (their privacy applies).",
            query=PageQuery, response=schemas.UserPage)  # fmt: skip
@login_required
async def followers(request: web.Request) -> web.Response:
    q = read_query(request, PageQuery)
    return ok(await follows.followers(request.app[SERVICES], caller_id(request), path_id(request), q.cursor, q.limit))


@routes.api("GET", "/api/v1/users/{id}/following", summary="Whom the user follows (their privacy applies).",
            query=PageQuery, response=schemas.UserPage)  # fmt: skip
@login_required
async def following(request: web.Request) -> web.Response:
    q = read_query(request, PageQuery)
    return ok(await follows.following(request.app[SERVICES], caller_id(request), path_id(request), q.cursor, q.limit))


@routes.api("GET", "/api/v1/me/friends", summary="Your friends (mutual follows).", query=PageQuery,
            response=schemas.UserPage)  # fmt: skip
@login_required
async def friends(request: web.Request) -> web.Response:
    q = read_query(request, PageQuery)
    return ok(await follows.friends(request.app[SERVICES], caller_id(request), q.cursor, q.limit))


@routes.api("GET", "/api/v1/me/suggestions", summary="People you may know: friends of friends, people met in rooms.",
            query=SuggestionsQuery, response=schemas.SuggestionPage)  # fmt: skip
@login_required
async def suggestions(request: web.Request) -> web.Response:
    q = read_query(request, SuggestionsQuery)
    return ok(await follows.suggestions(request.app[SERVICES], caller_id(request), q.cursor, q.limit))


@routes.api("POST", "/api/v1/users/{id}/block", summary="Block a user (idempotent): removes follows both ways.",
            body=BlockBody, response=schemas.BlockState, errors=(409, 429))  # fmt: skip
@login_required
async def block(request: web.Request) -> web.Response:
    body = await read_body(request, BlockBody)
    return ok(await blocks.do_block(request.app[SOCIAL], caller_id(request), path_id(request), body.reason))


@routes.api("DELETE", "/api/v1/users/{id}/block", summary="Unblock a user (idempotent).",
            response=schemas.BlockState, errors=(409, 429))  # fmt: skip
@login_required
async def unblock(request: web.Request) -> web.Response:
    return ok(await blocks.do_unblock(request.app[SERVICES], caller_id(request), path_id(request)))


@routes.api("GET", "/api/v1/me/blocks", summary="Whom you blocked.", query=PageQuery, response=schemas.BlockPage)
@login_required
async def my_blocks(request: web.Request) -> web.Response:
    q = read_query(request, PageQuery)
    return ok(await blocks.blocks(request.app[SERVICES], caller_id(request), q.cursor, q.limit))


@routes.api("GET", "/api/v1/me/privacy", summary="Who may see what of you.", response=Privacy)
@login_required
async def privacy(request: web.Request) -> web.Response:
    return ok(await profiles.get_privacy(request.app[SERVICES], caller_id(request)))


@routes.api("PATCH", "/api/v1/me/privacy", summary="Change privacy settings (those sent).", body=PrivacyBody,
            response=Privacy)  # fmt: skip
@login_required
async def update_privacy(request: web.Request) -> web.Response:
    body = await read_body(request, PrivacyBody)
    return ok(await profiles.do_update_privacy(request.app[SOCIAL], caller_id(request), body))


@routes.api("GET", "/api/v1/me/profile-completion", summary="How complete your profile is.",
            response=schemas.ProfileCompletion)  # fmt: skip
@login_required
async def profile_completion(request: web.Request) -> web.Response:
    return ok(await profiles.completion(request.app[SERVICES], caller_id(request)))
