"""The dashboard's request plumbing: the `page` decorator every handler wears (session, second
factor, CSRF, permission), rendering with the layout's context, the HTML error page, security headers.

A handler is `async def view(request, staff) -> web.StreamResponse`. Before it runs:
- the session cookie must name a live session (else: to the login page, or 401 for a stream);
- its second factor, if the staff member has one, must be given (else: to the code page);
- a request that changes state (anything but GET/HEAD) must echo the session's CSRF token, in the
  form field `csrf_token` or the `X-CSRF-Token` header (else: 403, nothing done);
- the staff member must hold the page's permission (else: a 403 page; the nav hides such pages).
A DomainError from an action becomes an error page with its status and message (and Retry-After).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp_jinja2
import msgspec
from aiohttp import web

from admin_ui.nav import visible_sections
from engine.accounts.actions import Client
from engine.appkeys import SERVICES
from engine.errors import DomainError, not_found, validation_error
from engine.services import Services
from engine.staff import actions as staff_actions
from engine.staff.model import COOKIE, StaffSession, csrf_matches

log = logging.getLogger("flylive.admin")
View = Callable[[web.Request, StaffSession], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STAFF = web.RequestKey("staff", StaffSession)
SAFE_METHODS = frozenset({"GET", "HEAD"})
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    name: str | None


class AdminRoutes:
    """One module's dashboard routes (admin_ui/__init__.py adds every module's to the app)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def page(self, method: str, path: str, *, permission: str | None = None, name: str | None = None,
             verified: bool = True, stream: bool = False,
             max_body: int | None = None) -> Callable[[View], Handler]:  # fmt: skip
        """`permission`: what the staff member must hold (None: any staff). `verified=False`: reachable
        before the second factor (its own page, sign-out). `stream`: answers 401 instead of redirecting.
        `max_body`: this route's body limit, over the app's MAX_BODY_BYTES (an asset upload)."""

        def decorate(view: View) -> Handler:
            @functools.wraps(view)
            async def handler(request: web.Request) -> web.StreamResponse:
                if max_body is not None:  # before anything reads the body (the CSRF check does)
                    request = request.clone(client_max_size=max_body)
                svc = request.app[SERVICES]
                staff = await staff_actions.current(svc, request.cookies.get(COOKIE))
                if staff is None:
                    if stream or request.method not in SAFE_METHODS:
                        return error_page(request, None, 401, "Your session has ended. Sign in again.")
                    raise web.HTTPSeeOther(f"/admin/login?next={quote(request.path_qs)}")
                if verified and not staff.verified:
                    raise web.HTTPSeeOther("/admin/login/totp")
                if request.method not in SAFE_METHODS and not await csrf_ok(request, staff.csrf_token):
                    log.warning("dashboard CSRF refused", extra={"user_id": staff.user_id, "path": request.path})
                    return error_page(request, staff, 403, "The form was stale or not from this dashboard "
                                      "(CSRF check failed). Reload the page and try again.")  # fmt: skip
                if not staff.can(permission):
                    return error_page(request, staff, 403, f"You need the “{permission}” permission for this page.")
                request[STAFF] = staff
                try:
                    return await view(request, staff)
                except DomainError as exc:
                    response = error_page(request, staff, exc.status, exc.message, fields=exc.fields)
                    if exc.retry_after is not None:
                        response.headers["Retry-After"] = str(exc.retry_after)
                    return response

            self.routes.append(Route(method, path, handler, name))
            return handler

        return decorate

    def public(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """A route with no session (the sign-in pages, static files)."""

        def decorate(handler: Handler) -> Handler:
            self.routes.append(Route(method, path, handler, None))
            return handler

        return decorate


async def form(request: web.Request) -> dict[str, str]:
    """The posted form as text fields (read once; cached on the request)."""
    data = await request.post()
    return {key: value for key, value in data.items() if isinstance(value, str)}


async def csrf_ok(request: web.Request, expected: str) -> bool:
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        given = (await form(request)).get("csrf_token")
    return csrf_matches(expected, given)


T = TypeVar("T")


def path_id(request: web.Request, name: str = "id", what: str = "Page") -> int:
    """A numeric path segment (a database id): anything else is the 404 page, never a bigint overflow."""
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise not_found(what)
    return int(raw)


def convert(values: dict[str, Any], kind: type[T], *, strict: bool = True) -> T:
    """A form's fields into the REST body's Struct, with its limits (a 422 page otherwise);
    `strict=False` lets text stand for numbers and booleans, as form fields are text."""
    try:
        return msgspec.convert(values, kind, strict=strict)
    except msgspec.ValidationError as exc:
        raise validation_error({"form": [str(exc)]}) from exc


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def client_of(request: web.Request) -> Client:
    return Client(ip=request.remote, user_agent=request.headers.get("User-Agent"))


def context(request: web.Request, staff: StaffSession | None, **values: Any) -> dict[str, Any]:
    """What every template may use: the staff member, their CSRF token, the nav they may see, a notice."""
    return {
        "staff": staff,
        "csrf_token": staff.csrf_token if staff else "",
        "sections": visible_sections(staff.permissions) if staff else [],
        "path": request.path,
        "notice": request.query.get("notice", "")[:300],
        **values,
    }


def render(request: web.Request, template: str, staff: StaffSession | None, status: int = 200,
           **values: Any) -> web.Response:  # fmt: skip
    response = aiohttp_jinja2.render_template(template, request, context(request, staff, **values), status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: web.Request, staff: StaffSession | None, status: int, message: str,
               fields: dict[str, list[str]] | None = None) -> web.Response:  # fmt: skip
    return render(request, "error.html", staff, status=status, status_code=status, message=message,
                  fields=fields or {})  # fmt: skip


def redirect(path: str, notice: str | None = None) -> web.HTTPSeeOther:
    """After a successful POST: back to a page (303, so a reload does not post again), with a notice.
    Raise it."""
    return web.HTTPSeeOther(f"{path}{'&' if '?' in path else '?'}notice={quote(notice)}" if notice else path)


def is_secure(request: web.Request) -> bool:
    """TLS here or at the proxy in front: the cookie is then Secure."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/admin") and not response.prepared:
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
    return response
