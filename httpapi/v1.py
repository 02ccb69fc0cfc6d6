"""`/api/v1` account, session and staff endpoints, in the `{"data": ...}` envelope."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from engine.accounts import actions, staff
from engine.accounts.model import (
    LoginBody,
    RefreshBody,
    RegisterBody,
    ResetPasswordBody,
    UpdateProfileBody,
)
from engine.appkeys import SERVICES
from engine.audit import store as audit_store
from engine.errors import validation_error
from httpapi.auth import current_user, login_required, permission_required
from httpapi.common import client_of, path_id, query_int, read_body
from httpapi.responses import ok

routes = web.RouteTableDef()


class LogoutBody(msgspec.Struct):
    everywhere: bool = False


class StatusBody(msgspec.Struct):
    status: Literal["active", "suspended", "banned"]
    until: dt.datetime | None = None
    reason: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class RoleBody(msgspec.Struct):
    role: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


@routes.post("/api/v1/auth/register")
async def register(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    user, tokens = await actions.do_register(svc, await read_body(request, RegisterBody), client_of(request))
    return ok({"user": {"id": user["id"], "signature": user["signature"]}, **tokens.as_json(svc.signer.ttl)}, 201)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    tokens = await actions.do_login(svc, await read_body(request, LoginBody), client_of(request))
    return ok(tokens.as_json(svc.signer.ttl))


@routes.post("/api/v1/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    body = await read_body(request, RefreshBody)
    tokens = await actions.do_refresh(svc, body.refresh_token, client_of(request))
    return ok(tokens.as_json(svc.signer.ttl))


@routes.post("/api/v1/auth/logout")
@login_required
async def logout(request: web.Request) -> web.Response:
    claims = current_user(request)
    body = await read_body(request, LogoutBody)
    await actions.do_logout(
        request.app[SERVICES], claims.user_id, claims.session_id, everywhere=body.everywhere, client=client_of(request)
    )
    return ok({"logged_out": True})


@routes.get("/api/v1/me")
@login_required
async def me(request: web.Request) -> web.Response:
    return ok(await actions.get_me(request.app[SERVICES], current_user(request).user_id))


@routes.patch("/api/v1/me")
@login_required
async def update_me(request: web.Request) -> web.Response:
    body = await read_body(request, UpdateProfileBody)
    message = await actions.do_update_profile(
        request.app[SERVICES], current_user(request).user_id, body.field, body.value, client_of(request)
    )
    return ok({"message": message})


@routes.post("/api/v1/me/password")
@login_required
async def change_password(request: web.Request) -> web.Response:
    claims = current_user(request)
    body = await read_body(request, ResetPasswordBody)
    await actions.do_reset_password(request.app[SERVICES], claims.user_id, claims.session_id, body, client_of(request))
    return ok({"message": "Password updated successfully."})


@routes.get("/api/v1/users/{id}")
@login_required
async def user_public(request: web.Request) -> web.Response:
    return ok(await actions.get_public_user(request.app[SERVICES], path_id(request)))


@routes.post("/api/v1/admin/users/{id}/status")
@permission_required("users.suspend")
async def set_status(request: web.Request) -> web.Response:
    body = await read_body(request, StatusBody)
    if body.status == "suspended" and (body.until is None or body.until.tzinfo is None):
        raise validation_error({"until": ["A suspension needs an `until` timestamp with a timezone."]})
    user_id = path_id(request)
    await staff.do_set_status(
        request.app[SERVICES],
        current_user(request).user_id,
        user_id,
        body.status,
        until=body.until if body.status == "suspended" else None,
        reason=body.reason,
        client=client_of(request),
    )
    return ok({"id": user_id, "status": body.status})


@routes.post("/api/v1/admin/users/{id}/roles")
@login_required
async def grant_role(request: web.Request) -> web.Response:
    body = await read_body(request, RoleBody)
    user_id = path_id(request)
    await staff.do_change_role(
        request.app[SERVICES], current_user(request).user_id, user_id, body.role, grant=True, client=client_of(request)
    )
    return ok({"id": user_id, "role": body.role, "granted": True})


@routes.delete("/api/v1/admin/users/{id}/roles/{role}")
@login_required
async def remove_role(request: web.Request) -> web.Response:
    user_id = path_id(request)
    role = request.match_info["role"]
    await staff.do_change_role(
        request.app[SERVICES], current_user(request).user_id, user_id, role, grant=False, client=client_of(request)
    )
    return ok({"id": user_id, "role": role, "granted": False})


@routes.get("/api/v1/admin/audit")
@permission_required("audit.view")
async def audit(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 100, 1, 500)
    async with request.app[SERVICES].pool.acquire() as conn:
        entries = await audit_store.recent(conn, limit=limit)
    return ok(entries)
