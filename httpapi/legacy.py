"""The legacy Laravel REST paths (backend-contract.md §1), same paths and field names.

Deliberate fixes over the legacy API: `GET /api/user/{id}` returns public fields only;
`POST /api/reset-password` asks for `current_password`; `PATCH /api/update-profile` rejects
`password` and unknown fields; blocked users cannot log in; login returns short-lived access
tokens (`token`, as before) plus a refresh token.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.accounts import actions
from engine.accounts.model import LoginBody, RegisterBody, ResetPasswordBody, UpdateProfileBody
from engine.appkeys import SERVICES, SOCIAL
from engine.errors import DomainError, validation_error
from engine.gdpr import actions as gdpr
from engine.media_uploads.imagekit import SignedUrlBody, extension_matches, sign_upload
from engine.social import profiles
from httpapi import schemas
from httpapi.auth import caller_id, current_user, login_required
from httpapi.common import client_of, path_id, read_body, read_fields
from httpapi.contract import ApiRoutes
from httpapi.responses import json_response

routes = ApiRoutes()


@routes.api("GET", "/api/health_check", summary="Liveness (legacy).", response=schemas.Status)
async def health_check(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.api(
    "POST",
    "/api/register",
    summary="Register; answers tokens.",
    body=RegisterBody,
    response=schemas.Tokens,
    errors=(409, 429),
)
async def register(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    fields = await read_fields(request, RegisterBody)
    # The legacy screen implies accepting the policies in force: recorded so (`legacy_implied`).
    _user, tokens = await gdpr.do_register_legacy(svc, fields, client_of(request))
    return json_response(tokens.as_json(svc.signer.ttl))


@routes.api(
    "POST",
    "/api/login",
    summary="Log in with phone and password.",
    body=LoginBody,
    response=schemas.LoginTokens,
    errors=(401, 403, 429),
)
async def login(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    tokens, cancelled = await gdpr.do_login(svc, await read_body(request, LoginBody), client_of(request))
    return json_response({**tokens.as_json(svc.signer.ttl), **({"deletion_cancelled": True} if cancelled else {})})


@routes.api("GET", "/api/user", summary="The caller's own account.", response=schemas.Me)
@login_required
async def me(request: web.Request) -> web.Response:
    return json_response(await actions.get_me(request.app[SERVICES], caller_id(request)))


@routes.api("GET", "/api/user/{id}", summary="A user's public profile (404 through a block).",
            response=schemas.PublicUser)  # fmt: skip
@login_required
async def user_public(request: web.Request) -> web.Response:
    viewer = caller_id(request)
    return json_response(await profiles.get_public_user(request.app[SERVICES], viewer, path_id(request)))


@routes.api("POST", "/api/logout", summary="End every session of the caller.", response=schemas.Message)
@login_required
async def logout(request: web.Request) -> web.Response:
    claims = current_user(request)
    # Legacy logout deleted every token of the user; keep that meaning.
    await actions.do_logout(
        request.app[SERVICES], claims.user_id, claims.session_id, everywhere=True, client=client_of(request)
    )
    return json_response({"message": "You have been successfully logged out."})


@routes.api(
    "POST",
    "/api/reset-password",
    summary="Change the password (ends the other sessions).",
    body=ResetPasswordBody,
    response=schemas.StatusMessage,
)
@login_required
async def reset_password(request: web.Request) -> web.Response:
    claims = current_user(request)
    body = await read_body(request, ResetPasswordBody)
    await actions.do_reset_password(request.app[SERVICES], claims.user_id, claims.session_id, body, client_of(request))
    return json_response({"status": "success", "message": "Password updated successfully."})


@routes.api(
    "POST",
    "/api/signed-url",
    summary="Sign a client upload to ImageKit.",
    body=SignedUrlBody,
    response=schemas.SignedUpload,
    errors=(503,),
)
@login_required
async def signed_url(request: web.Request) -> web.Response:
    body = await read_body(request, SignedUrlBody)
    if not extension_matches(body):
        raise validation_error({"extension": [f"The extension does not match the {body.type} type."]})
    key = request.app[SERVICES].config.imagekit_private_key
    if not key:
        raise DomainError("uploads_unavailable", "Uploads are not configured.", status=503)
    return json_response(sign_upload(key, caller_id(request), body))


@routes.api(
    "PATCH",
    "/api/update-profile",
    summary="Change one profile field.",
    body=UpdateProfileBody,
    response=schemas.StatusMessage,
    errors=(409,),
)
@login_required
async def update_profile(request: web.Request) -> web.Response:
    body = await read_body(request, UpdateProfileBody)
    message = await profiles.do_update_field(
        request.app[SOCIAL], caller_id(request), body.field, body.value, client_of(request)
    )
    result: dict[str, Any] = {"status": "success", "message": message}
    return json_response(result)
