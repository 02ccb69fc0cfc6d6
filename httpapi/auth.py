"""Authentication and permission checks for HTTP handlers.

`login_required` and `permission_required(...)` wrap handlers; inside, `current_user(request)`
returns the verified token claims. Permissions are read from PostgreSQL per request that needs
them, so a role change applies at once.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from engine.accounts import store as accounts_store
from engine.appkeys import SERVICES
from engine.auth import store as auth_store
from engine.auth.tokens import AccessClaims, TokenError
from engine.errors import forbidden, unauthenticated

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CLAIMS = web.RequestKey("claims", AccessClaims)
# What each wrapped handler requires: () a signed-in user, else the permissions (docs/openapi.json).
_REQUIRED: dict[Handler, tuple[str, ...]] = {}


def required_by(handler: Handler) -> tuple[str, ...] | None:
    """None for a public handler, () for one that needs a signed-in user, else its permissions."""
    return _REQUIRED.get(handler)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip()
    return None


async def authenticate(request: web.Request) -> AccessClaims:
    if _CLAIMS in request:
        cached: AccessClaims = request[_CLAIMS]
        return cached
    token = bearer_token(request)
    if token is None:
        raise unauthenticated()
    svc = request.app[SERVICES]
    try:
        claims = svc.signer.verify(token)
    except TokenError as exc:
        raise unauthenticated("Token expired." if exc.reason == "expired" else "Unauthenticated.") from exc
    if await auth_store.is_revoked(svc.redis, svc.keys, claims.session_id):
        raise unauthenticated()
    request[_CLAIMS] = claims
    return claims


def current_user(request: web.Request) -> AccessClaims:
    return request[_CLAIMS]


def caller_id(request: web.Request) -> int:
    """The signed-in user's id (a view behind `login_required`)."""
    return current_user(request).user_id


def login_required(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        await authenticate(request)
        return await handler(request)

    _REQUIRED[wrapper] = ()
    return wrapper


def permission_required(*permissions: str) -> Callable[[Handler], Handler]:
    """Allow the handler only to users holding every named permission (through their roles)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            claims = await authenticate(request)
            async with request.app[SERVICES].pool.acquire() as conn:
                held = await accounts_store.permission_names(conn, claims.user_id)
            if not set(permissions) <= held:
                raise forbidden()
            return await handler(request)

        _REQUIRED[wrapper] = permissions
        return wrapper

    return decorate
