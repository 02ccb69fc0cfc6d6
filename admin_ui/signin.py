"""Signing in and out of the dashboard, the second-factor page and the staff member's own account
page (TOTP enrolment with a QR code, their recent sessions). Thin over engine/staff/actions.py.

The sign-in form has no session yet, so its CSRF token is a double-submit cookie: the form's GET
sets a random `flylive_admin_login` cookie (SameSite=Strict) and the POST must carry the same value.
"""

from __future__ import annotations

from aiohttp import web

from admin_ui.web import AdminRoutes, client_of, form, is_secure, redirect, render, services
from engine.errors import DomainError
from engine.staff import actions
from engine.staff import store as staff_store
from engine.staff.model import COOKIE, StaffSession, csrf_matches, new_token

routes = AdminRoutes()
LOGIN_CSRF_COOKIE = "flylive_admin_login"
MAX_FIELD = 200


def _next_path(raw: str | None) -> str:
    """Only a path inside the dashboard (no open redirect to another site)."""
    if raw and raw.startswith("/admin") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/admin/"


def _login_page(request: web.Request, status: int = 200, error: str = "", phone: str = "") -> web.Response:
    token = new_token()
    response = render(request, "login.html", None, status=status, login_csrf=token, error=error, phone=phone,
                      next=_next_path(request.query.get("next")))  # fmt: skip
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=is_secure(request),
                        path="/admin/login", max_age=3600)  # fmt: skip
    return response


@routes.public("GET", "/admin/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    if await actions.current(services(request), request.cookies.get(COOKIE)) is not None:
        raise web.HTTPSeeOther(_next_path(request.query.get("next")))
    return _login_page(request)


@routes.public("POST", "/admin/login")
async def login(request: web.Request) -> web.StreamResponse:
    fields = await form(request)
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), fields.get("csrf_token")):
        return _login_page(request, 403, "The sign-in form expired. Please try again.")
    phone, password = fields.get("phone", "")[:MAX_FIELD].strip(), fields.get("password", "")[:MAX_FIELD]
    if not phone or not password:
        return _login_page(request, 422, "Enter your phone number and password.", phone)
    try:
        signed = await actions.sign_in(services(request), phone, password, client_of(request))
    except DomainError as exc:
        message = "Wrong phone number or password." if exc.status == 422 else exc.message
        response = _login_page(request, exc.status, message, phone)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    target = "/admin/login/totp" if signed.needs_second_factor else _next_path(fields.get("next"))
    response = web.HTTPSeeOther(target)
    # No max-age: a browser session cookie; the server's idle timeout and absolute age end it anyway.
    response.set_cookie(COOKIE, signed.token, httponly=True, samesite="Strict", secure=is_secure(request),
                        path="/admin")  # fmt: skip
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/admin/login")
    raise response


@routes.page("GET", "/admin/login/totp", verified=False)
async def totp_form(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    if staff.verified:
        raise web.HTTPSeeOther("/admin/")
    return render(request, "totp.html", staff, error="")


@routes.page("POST", "/admin/login/totp", verified=False)
async def totp_check(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    code = (await form(request)).get("code", "")[:16]
    if await actions.second_factor(services(request), staff, code, request.remote):
        raise web.HTTPSeeOther("/admin/")
    return render(request, "totp.html", staff, status=422, error="That code is not right (or was already used).")


@routes.page("POST", "/admin/logout", verified=False)
async def logout(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    await actions.sign_out(services(request), staff, request.remote)
    response = web.HTTPSeeOther("/admin/login?notice=Signed+out")
    response.del_cookie(COOKIE, path="/admin")
    raise response


async def _account_page(request: web.Request, staff: StaffSession, status: int = 200, error: str = "") -> web.Response:
    svc = services(request)
    async with svc.pool.acquire() as conn:
        sessions = await staff_store.user_sessions(conn, staff.user_id)
    return render(request, "account.html", staff, status=status, error=error, sessions=sessions,
                  factor_on=await actions.factor_enabled(svc, staff.user_id),
                  enrolment=await actions.pending_enrolment(svc, staff))  # fmt: skip


@routes.page("GET", "/admin/account")
async def account(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    return await _account_page(request, staff)


@routes.page("POST", "/admin/account/totp/begin")
async def totp_begin(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    await actions.begin_enrolment(services(request), staff)
    raise redirect("/admin/account", "Scan the QR code, then enter the code your app shows.")


@routes.page("POST", "/admin/account/totp/confirm")
async def totp_confirm(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    code = (await form(request)).get("code", "")[:16]
    if not await actions.confirm_enrolment(services(request), staff, code, request.remote):
        message = "That code is not right. Check your phone's clock and try again."
        return await _account_page(request, staff, 422, message)
    raise redirect("/admin/account", "Two-step sign-in is on.")


@routes.page("POST", "/admin/account/totp/disable")
async def totp_disable(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    code = (await form(request)).get("code", "")[:16]
    if not await actions.disable_factor(services(request), staff, code, request.remote):
        return await _account_page(request, staff, 422, "That code is not right.")
    raise redirect("/admin/account", "Two-step sign-in is off.")
