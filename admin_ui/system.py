"""The dashboard's System section (issue 15 §9), permission `settings.manage`: maintenance mode and
system announcements (`/admin/system`), feature flags with a percentage rollout
(`/admin/system/flags`), economy settings and the rate limits in force (`/admin/system/settings`).
Thin over engine/system/actions.py, engine/flags/actions.py and the economy's settings action (the
one behind PATCH /api/v1/admin/economy/settings); each action is audited there."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from admin_ui.web import AdminRoutes, client_of, form, redirect, render, services
from engine.appkeys import REALTIME
from engine.config import ENV_VARS, Rate
from engine.economy import actions as economy_actions
from engine.economy import store as economy_store
from engine.errors import DomainError
from engine.flags import actions as flag_actions
from engine.flags import store as flags_store
from engine.flags.model import BUCKETS, ENV_ONLY_RATES, LIVE_RATES, MAX_CAPACITY
from engine.staff.model import StaffSession
from engine.system import actions as system_actions
from engine.system import store as system_store
from engine.system.model import LEVELS

routes = AdminRoutes()
PERMISSION = "settings.manage"
HISTORY = 20
MAX_TEXT = 600


def _int(raw: str | None, name: str, low: int, high: int) -> int:
    try:
        value = int((raw or "").strip())
    except ValueError:
        raise DomainError("validation_failed", f"{name}: a whole number.", status=422) from None
    if not low <= value <= high:
        raise DomainError("validation_failed", f"{name}: from {low} to {high}.", status=422)
    return value


def _when(raw: str | None) -> dt.datetime | None:
    """A `datetime-local` field, read as UTC (the page says so)."""
    if not raw or not raw.strip():
        return None
    try:
        return dt.datetime.fromisoformat(raw.strip()).replace(tzinfo=dt.UTC)
    except ValueError:
        raise DomainError("validation_failed", "Expected end: a date and time.", status=422) from None


# --- maintenance and announcements ---------------------------------------------------------------


@routes.page("GET", "/admin/system", permission=PERMISSION)
async def system_page(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    return await _system_page(request, staff)


async def _system_page(request: web.Request, staff: StaffSession, error: str = "", status: int = 200,
                      draft: dict[str, str] | None = None) -> web.StreamResponse:  # fmt: skip
    svc = services(request)
    async with svc.pool.acquire() as conn:
        maintenance = await flags_store.maintenance(conn)
        announcements = await system_store.recent_announcements(conn, HISTORY)
    return render(request, "system/index.html", staff, status=status, maintenance=maintenance,
                  announcements=announcements, levels=LEVELS, error=error, draft=draft or {})  # fmt: skip


@routes.page("POST", "/admin/system/maintenance", permission=PERMISSION)
async def maintenance(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    fields = await form(request)
    active = fields.get("mode") == "on"
    try:
        await system_actions.do_set_maintenance(
            request.app[REALTIME], staff.user_id, active=active, message=fields.get("message", "")[:MAX_TEXT],
            ends_at=_when(fields.get("ends_at")), ip=client_of(request).ip,
        )  # fmt: skip
    except DomainError as exc:
        return await _system_page(request, staff, error=exc.message, status=exc.status, draft=fields)
    raise redirect("/admin/system", "Maintenance mode is on: new room joins are refused." if active
                   else "Maintenance mode is off.")  # fmt: skip


@routes.page("POST", "/admin/system/announcements", permission=PERMISSION)
async def announce(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    fields = await form(request)
    try:
        await system_actions.do_announce(request.app[REALTIME], staff.user_id, fields.get("message", "")[:MAX_TEXT],
                                         fields.get("level", ""), ip=client_of(request).ip)  # fmt: skip
    except DomainError as exc:
        return await _system_page(request, staff, error=exc.message, status=exc.status, draft=fields)
    raise redirect("/admin/system", "Announcement sent to every connected socket.")


# --- feature flags -----------------------------------------------------------------------------


@routes.page("GET", "/admin/system/flags", permission=PERMISSION)
async def flags_page(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    return await _flags_page(request, staff)


async def _flags_page(request: web.Request, staff: StaffSession, error: str = "", status: int = 200,
                     draft: dict[str, str] | None = None) -> web.StreamResponse:  # fmt: skip
    async with services(request).pool.acquire() as conn:
        flags = await flags_store.all_flags(conn)
    editing = next((f for f in flags if f.name == request.query.get("edit")), None)
    return render(request, "system/flags.html", staff, status=status, flags=flags, editing=editing, error=error,
                  draft=draft or {})  # fmt: skip


@routes.page("POST", "/admin/system/flags", permission=PERMISSION)
async def save_flag(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    fields = await form(request)
    name = fields.get("name", "").strip()[:100]
    try:
        await flag_actions.do_save_flag(
            services(request), staff.user_id, name, description=fields.get("description", "").strip()[:MAX_TEXT],
            enabled=fields.get("enabled") == "on",
            rollout_percent=_int(fields.get("rollout_percent"), "Rollout", 0, BUCKETS), ip=client_of(request).ip,
        )  # fmt: skip
    except DomainError as exc:
        return await _flags_page(request, staff, error=exc.message, status=exc.status, draft=fields)
    raise redirect("/admin/system/flags", f"Flag “{name}” saved.")


@routes.page("POST", "/admin/system/flags/{name}/delete", permission=PERMISSION)
async def delete_flag(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    await form(request)
    name = request.match_info["name"]
    await flag_actions.do_delete_flag(services(request), staff.user_id, name, ip=client_of(request).ip)
    raise redirect("/admin/system/flags", f"Flag “{name}” deleted.")


# --- economy settings and rate limits -------------------------------------------------------------


def _rate_limits(config: Any, overrides: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The live scopes (default from the environment, staff's override if any), and the rate limits
    that only the environment sets (a restart to change)."""
    env_of = {field: env for env, (field, _parser) in ENV_VARS.items()}
    by_scope = {o["scope"]: o for o in overrides}
    live = [{"scope": scope, "env": env_of.get(field, field), "default": getattr(config, field),
             "override": by_scope.get(scope)} for scope, field in LIVE_RATES.items()]  # fmt: skip
    fixed = [{"env": env_of[field], "rate": value, "where": ENV_ONLY_RATES.get(field, "")} for field, value in
             ((f, getattr(config, f, None)) for f in env_of)
             if isinstance(value, Rate) and (field not in LIVE_RATES.values() or field in ENV_ONLY_RATES)]  # fmt: skip
    return live, fixed


def _float(raw: str | None, name: str) -> float:
    try:
        return float((raw or "").strip())
    except ValueError:
        raise DomainError("validation_failed", f"{name}: a number of seconds.", status=422) from None


@routes.page("GET", "/admin/system/settings", permission=PERMISSION)
async def settings_page(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    return await _settings_page(request, staff)


async def _settings_page(request: web.Request, staff: StaffSession, error: str = "", status: int = 200,
                        draft: dict[str, str] | None = None) -> web.StreamResponse:  # fmt: skip
    svc = services(request)
    async with svc.pool.acquire() as conn:
        settings = await economy_store.settings(conn)
        overrides = await flags_store.rate_override_rows(conn)
    live, fixed = _rate_limits(svc.config, overrides)
    return render(request, "system/settings.html", staff, status=status, settings=sorted(settings.items()),
                  live_rates=live, fixed_rates=fixed, error=error, draft=draft or {})  # fmt: skip


@routes.page("POST", "/admin/system/settings", permission=PERMISSION)
async def save_settings(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    fields = await form(request)
    svc = services(request)
    async with svc.pool.acquire() as conn:
        current = await economy_store.settings(conn)
    try:
        given = {key: _int(fields.get(f"s.{key}"), key, 0, 10**12) for key in current if f"s.{key}" in fields}
        changed = {key: value for key, value in given.items() if value != current[key]}
        if not changed:
            raise redirect("/admin/system/settings", "Nothing changed.")
        await economy_actions.do_update_settings(svc, staff.user_id, changed)
    except DomainError as exc:
        return await _settings_page(request, staff, error=exc.message, status=exc.status, draft=fields)
    raise redirect("/admin/system/settings", f"Saved: {', '.join(sorted(changed))}.")


@routes.page("POST", "/admin/system/rates", permission=PERMISSION)
async def set_rate(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    fields = await form(request)
    scope = fields.get("scope", "")[:64]
    try:
        rate = await flag_actions.do_set_rate(
            services(request), staff.user_id, scope, _int(fields.get("capacity"), "Requests", 1, MAX_CAPACITY),
            _float(fields.get("period"), "Per seconds"), ip=client_of(request).ip,
        )  # fmt: skip
    except DomainError as exc:
        return await _settings_page(request, staff, error=exc.message, status=exc.status, draft=fields)
    raise redirect("/admin/system/settings", f"Rate limit “{scope}” is now {rate.capacity} per {rate.period:g} s.")


@routes.page("POST", "/admin/system/rates/{scope}/reset", permission=PERMISSION)
async def reset_rate(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    await form(request)
    scope = request.match_info["scope"]
    await flag_actions.do_clear_rate(services(request), staff.user_id, scope, ip=client_of(request).ip)
    raise redirect("/admin/system/settings", f"Rate limit “{scope}” is back to its default.")
