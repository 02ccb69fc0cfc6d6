"""`/api/v1` account, session and staff endpoints, in the `{"data": ...}` envelope."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from engine.accounts import actions, staff
from engine.accounts.model import LoginBody, RefreshBody, ResetPasswordBody
from engine.appkeys import SERVICES, SOCIAL
from engine.audit import store as audit_store
from engine.errors import validation_error
from engine.gdpr import actions as gdpr
from engine.gdpr.model import V1RegisterBody
from engine.social import profiles
from engine.social.model import UpdateMeBody
from httpapi import schemas
from httpapi.auth import caller_id, current_user, login_required, permission_required
from httpapi.common import client_of, path_id, read_body, read_body_and_keys, read_fields, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


class LogoutBody(msgspec.Struct):
    everywhere: bool = False


class StatusBody(msgspec.Struct):
    status: Literal["active", "suspended", "banned"]
    until: dt.datetime | None = None
    reason: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class RoleBody(msgspec.Struct):
    role: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class AuditQuery(msgspec.Struct):
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100


@routes.api(
    "POST",
    "/api/v1/auth/register",
    summary="Register; answers the new user and tokens.",
    body=V1RegisterBody,
    response=schemas.Registered,
    status=201,
    errors=(409, 429),
    description="`consents` must accept every policy in force (CONSENT_POLICIES), e.g. "
    '`[{"policy": "terms", "version": "2026-01"}, {"policy": "privacy", "version": "2026-01"}]`; '
    "a missing or stale one is a 422 naming `consents`.",
)
async def register(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    fields = await read_fields(request, V1RegisterBody)
    user, tokens = await gdpr.do_register_v1(svc, fields, client_of(request))
    return ok({"user": {"id": user["id"], "signature": user["signature"]}, **tokens.as_json(svc.signer.ttl)}, 201)


@routes.api(
    "POST",
    "/api/v1/auth/login",
    summary="Log in with phone and password.",
    body=LoginBody,
    response=schemas.LoginTokens,
    errors=(401, 403, 429),
    description="Logging in to an account whose deletion is pending (within its grace period) cancels the "
    "deletion; the answer then says `deletion_cancelled: true`.",
)
async def login(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    tokens, cancelled = await gdpr.do_login(svc, await read_body(request, LoginBody), client_of(request))
    return ok({**tokens.as_json(svc.signer.ttl), **({"deletion_cancelled": True} if cancelled else {})})


@routes.api(
    "POST",
    "/api/v1/auth/refresh",
    summary="Rotate a refresh token (a reused one ends its session).",
    body=RefreshBody,
    response=schemas.Tokens,
    errors=(401, 403),
)
async def refresh(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    body = await read_body(request, RefreshBody)
    tokens = await actions.do_refresh(svc, body.refresh_token, client_of(request))
    return ok(tokens.as_json(svc.signer.ttl))


@routes.api(
    "POST",
    "/api/v1/auth/logout",
    summary="End this session (or every one).",
    body=LogoutBody,
    response=schemas.LoggedOut,
)
@login_required
async def logout(request: web.Request) -> web.Response:
    claims = current_user(request)
    body = await read_body(request, LogoutBody)
    await actions.do_logout(
        request.app[SERVICES], claims.user_id, claims.session_id, everywhere=body.everywhere, client=client_of(request)
    )
    return ok({"logged_out": True})


@routes.api("GET", "/api/v1/me", summary="The caller's own account.", response=schemas.MeV1)
@login_required
async def me(request: web.Request) -> web.Response:
    svc, user_id = request.app[SERVICES], caller_id(request)
    return ok({**await profiles.get_me(svc, user_id), "consents_due": await gdpr.consents_due(svc, user_id)})


@routes.api(
    "PATCH",
    "/api/v1/me",
    summary="Change one account field ({field, value}), or the profile fields sent (bio, interests, "
    "social_links, birthday_visibility).",
    body=UpdateMeBody,
    response=schemas.Message,
    errors=(409,),
)
@login_required
async def update_me(request: web.Request) -> web.Response:
    body, sent = await read_body_and_keys(request, UpdateMeBody)
    message = await profiles.do_update_me(request.app[SOCIAL], caller_id(request), body, sent, client_of(request))
    return ok({"message": message})


@routes.api(
    "POST",
    "/api/v1/me/password",
    summary="Change the password (ends the other sessions).",
    body=ResetPasswordBody,
    response=schemas.Message,
)
@login_required
async def change_password(request: web.Request) -> web.Response:
    claims = current_user(request)
    body = await read_body(request, ResetPasswordBody)
    await actions.do_reset_password(request.app[SERVICES], claims.user_id, claims.session_id, body, client_of(request))
    return ok({"message": "Password updated successfully."})


@routes.api(
    "POST",
    "/api/v1/admin/users/{id}/status",
    summary="Suspend, ban or restore a user.",
    body=StatusBody,
    response=schemas.UserStatusChanged,
)
@permission_required("users.suspend")
async def set_status(request: web.Request) -> web.Response:
    body = await read_body(request, StatusBody)
    if body.status == "suspended" and (body.until is None or body.until.tzinfo is None):
        raise validation_error({"until": ["A suspension needs an `until` timestamp with a timezone."]})
    user_id = path_id(request)
    await staff.do_set_status(
        request.app[SERVICES],
        caller_id(request),
        user_id,
        body.status,
        until=body.until if body.status == "suspended" else None,
        reason=body.reason,
        client=client_of(request),
    )
    return ok({"id": user_id, "status": body.status})


@routes.api(
    "POST",
    "/api/v1/admin/users/{id}/roles",
    summary="Grant a role (roles.assign; admin roles need roles.assign_admin).",
    body=RoleBody,
    response=schemas.RoleChanged,
    errors=(403,),
)
@login_required
async def grant_role(request: web.Request) -> web.Response:
    body = await read_body(request, RoleBody)
    user_id = path_id(request)
    await staff.do_change_role(
        request.app[SERVICES], caller_id(request), user_id, body.role, grant=True, client=client_of(request)
    )
    return ok({"id": user_id, "role": body.role, "granted": True})


@routes.api(
    "DELETE",
    "/api/v1/admin/users/{id}/roles/{role}",
    summary="Remove a role.",
    response=schemas.RoleChanged,
    errors=(403, 422),
)
@login_required
async def remove_role(request: web.Request) -> web.Response:
    user_id = path_id(request)
    role = request.match_info["role"]
    await staff.do_change_role(
        request.app[SERVICES], caller_id(request), user_id, role, grant=False, client=client_of(request)
    )
    return ok({"id": user_id, "role": role, "granted": False})


@routes.api(
    "GET",
    "/api/v1/admin/audit",
    summary="The newest audit log entries.",
    query=AuditQuery,
    response=list[schemas.AuditEntry],
)
@permission_required("audit.view")
async def audit(request: web.Request) -> web.Response:
    query = read_query(request, AuditQuery)
    async with request.app[SERVICES].pool.acquire() as conn:
        entries = await audit_store.recent(conn, limit=query.limit)
    return ok(entries)
