"""The catalog section (issue 15 §7), `/admin/catalog` (catalog.manage): gifts, frames, room themes,
entry effects and recharge packages (engine/catalog: list, create, edit, switch on or off, sale
windows), badges (the badges' own create/update actions), VIP tiers (the VIP tier action) and the
level ladders (the ladder action); asset files uploaded to ImageKit (admin_ui/catalog_uploads.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from admin_ui.web import AdminRoutes, client_of, convert, form, path_id, redirect, render, services
from engine.appkeys import LEVELS
from engine.catalog import actions
from engine.catalog.model import KINDS
from engine.errors import not_found, validation_error
from engine.progression import badges
from engine.progression.badges_model import BadgeBody, BadgePatch
from engine.progression.levels import do_replace_ladder, ladder
from engine.progression.levels_model import LEVEL_TYPES, LadderBody
from engine.staff.model import StaffSession
from engine.vip import tiers
from engine.vip.model import TierBody

routes = AdminRoutes()
PERMISSION = "catalog.manage"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    input: str = "text"  # text, number, select, datetime, checkbox
    choices: tuple[str, ...] = ()
    hint: str = ""


_ACTIVE = Field("is_active", "On sale (active)", "checkbox")
_WINDOW = (Field("starts_at", "On sale from (UTC, empty: at once)", "datetime"),
           Field("ends_at", "On sale until (UTC, empty: no end)", "datetime"))  # fmt: skip
_MALL = (Field("name", "Name"), Field("price", "Price (coins)", "number"),
         Field("static_src", "Image URL", hint="upload"), Field("animated_src", "Animation URL", hint="upload"),
         Field("valid_duration", "Lasts (seconds; empty: permanent)", "number"),
         Field("vip_level_required", "VIP level required", "number"), _ACTIVE)  # fmt: skip
FIELDS: dict[str, tuple[Field, ...]] = {
    "gift": (Field("name", "Name"), Field("price", "Price (coins)", "number"),
             Field("category", "Category", "select", ("normal", "lucky", "cp", "vip", "country")),
             Field("rarity", "Rarity", "select", ("common", "rare", "epic", "legendary")),
             Field("static_src", "Image URL", hint="upload"), Field("animated_src", "Animation URL", hint="upload"),
             Field("animated_file_type", "Animation type", "select", ("", "svga", "mp4")),
             Field("animation_duration", "Animation length (ms)", "number"),
             Field("sound_src", "Sound URL", hint="upload"),
             Field("vip_level_required", "VIP level required", "number"),
             Field("country", "Country (two letters; empty: every country)"), *_WINDOW, _ACTIVE),
    "frame": _MALL, "theme": _MALL, "entry_effect": _MALL,
    "package": (Field("name", "Name"), Field("coins", "Coins", "number"), Field("bonus_coins", "Bonus coins", "number"),
                Field("price_cents", "Price (cents)", "number"), Field("currency", "Currency (three letters)"),
                Field("country", "Country (two letters; empty: every country)"), *_WINDOW, _ACTIVE),
}  # fmt: skip


def _json(raw: str, what: str) -> Any:
    try:
        return json.loads(raw or "null")
    except ValueError as exc:
        raise validation_error({what: [f"Not valid JSON: {exc}"]}) from exc


def _body_fields(kind: str, fields: dict[str, str]) -> dict[str, Any]:
    """The form as the body's fields: empty means the default (none), a checkbox is on when sent,
    a datetime-local value is UTC, a country or currency upper case."""
    out: dict[str, Any] = {}
    for f in FIELDS[kind]:
        raw = fields.get(f.name, "").strip()
        if f.input == "checkbox":
            out[f.name] = f.name in fields
        elif raw == "":
            continue
        elif f.input == "datetime":
            out[f.name] = f"{raw}:00+00:00" if len(raw) == 16 else raw
        elif f.name in ("country", "currency"):
            out[f.name] = raw.upper()
        else:
            out[f.name] = raw
    return out


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise not_found("Catalog section")
    return kind


@routes.page("GET", "/admin/catalog", permission=PERMISSION)
async def index(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    counts = {kind: len(await actions.items(services(request), kind)) for kind in KINDS}
    return render(request, "catalog/index.html", staff, kinds=KINDS, counts=counts)


# --- badges (engine/progression/badges.py) --------------------------------------------------------


@routes.page("GET", "/admin/catalog/badges", permission=PERMISSION)
async def badge_list(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    page = await badges.catalog(services(request), None, request.query.get("cursor"), 100)
    return render(request, "catalog/badges.html", staff, badges=page["items"], next_cursor=page["next_cursor"])


def _badge_fields(fields: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {k: fields.get(k, "").strip() for k in ("name", "category", "rarity", "description",
                                                                    "icon_url", "sort")}  # fmt: skip
    data["rule"] = _json(fields.get("rule", ""), "rule")
    data["is_active"] = "is_active" in fields
    return {k: v for k, v in data.items() if v != "" or k in ("description", "icon_url")}


@routes.page("POST", "/admin/catalog/badges", permission=PERMISSION)
async def badge_create(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    fields = await form(request)
    body = convert({**_badge_fields(fields), "code": fields.get("code", "").strip()}, BadgeBody, strict=False)
    row = await badges.create_badge(services(request), staff.user_id, body, client_of(request).ip)
    raise redirect("/admin/catalog/badges", f"Badge {row['code']} created.")


@routes.page("GET", "/admin/catalog/badges/{id}", permission=PERMISSION)
async def badge_edit(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    found = await badges.get_badge(services(request), path_id(request, what="Item"))
    return render(request, "catalog/badge.html", staff, badge=found, rule=json.dumps(found["rule"], indent=2))


@routes.page("POST", "/admin/catalog/badges/{id}", permission=PERMISSION)
async def badge_update(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    badge_id, fields = path_id(request, what="Item"), await form(request)
    data = _badge_fields(fields)
    body = convert(data, BadgePatch, strict=False)
    row = await badges.update_badge(services(request), staff.user_id, badge_id, body, set(data), client_of(request).ip)
    raise redirect(f"/admin/catalog/badges/{badge_id}", f"Badge {row['code']} saved.")


# --- VIP tiers (engine/vip/tiers.py) ----------------------------------------------------------------


@routes.page("GET", "/admin/catalog/vip", permission=PERMISSION)
async def vip_list(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    rows = await tiers.list_tiers(services(request), include_inactive=True)
    return render(request, "catalog/vip.html", staff, tiers=rows, privileges={
        r["level"]: json.dumps(r["privileges"], indent=2) for r in rows})  # fmt: skip


@routes.page("POST", "/admin/catalog/vip/{id}", permission=PERMISSION)
async def vip_update(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    level, fields = path_id(request, what="Item"), await form(request)
    body = convert({"name": fields.get("name", "").strip(), "price_coins": fields.get("price_coins", "").strip(),
                     "privileges": _json(fields.get("privileges", ""), "privileges"),
                     "is_active": "is_active" in fields}, TierBody, strict=False)  # fmt: skip
    await tiers.do_update_tier(services(request), staff.user_id, level, body)
    raise redirect("/admin/catalog/vip", f"VIP {level} saved.")


# --- level ladders (engine/progression/levels.py) ---------------------------------------------------


@routes.page("GET", "/admin/catalog/levels", permission=PERMISSION)
async def level_list(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    kind = request.query.get("type", "wealth")
    kind = kind if kind in LEVEL_TYPES else "wealth"
    view = await ladder(request.app[LEVELS], kind)
    steps = [{"level": s["level"], "min_xp": s["min_xp"], "rewards": s["rewards"]} for s in view["items"]]
    return render(request, "catalog/levels.html", staff, kind=kind, types=LEVEL_TYPES, steps=view["items"],
                  ladder_json=json.dumps({"levels": steps}, indent=1))  # fmt: skip


@routes.page("POST", "/admin/catalog/levels", permission=PERMISSION)
async def level_update(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    fields = await form(request)
    kind = fields.get("type", "")
    if kind not in LEVEL_TYPES:
        raise validation_error({"type": ["Choose wealth, charm or room."]})
    body = convert(_json(fields.get("ladder", ""), "ladder"), LadderBody, strict=False)
    done = await do_replace_ladder(request.app[LEVELS], staff.user_id, kind, body,
                                   client_of(request).ip)  # fmt: skip
    told = f"The {kind} ladder is saved ({len(done['items'])} levels; {done['moved']} accounts moved)."
    raise redirect(f"/admin/catalog/levels?type={kind}", told)


# --- gifts, mall items, recharge packages (engine/catalog) -------------------------------------------


@routes.page("GET", "/admin/catalog/{kind}", permission=PERMISSION)
async def kind_list(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    kind = _kind(request)
    rows = await actions.items(services(request), kind)
    return render(request, "catalog/list.html", staff, kind=kind, info=KINDS[kind], rows=rows)


@routes.page("GET", "/admin/catalog/{kind}/new", permission=PERMISSION)
async def kind_new(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    kind = _kind(request)
    return render(request, "catalog/item.html", staff, kind=kind, info=KINDS[kind], fields=FIELDS[kind], row=None,
                  values=_prefill(request, {}))  # fmt: skip


@routes.page("POST", "/admin/catalog/{kind}", permission=PERMISSION)
async def kind_create(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    kind = _kind(request)
    body = convert(_body_fields(kind, await form(request)), KINDS[kind].body, strict=False)
    row = await actions.do_create(services(request), staff.user_id, kind, body, client_of(request).ip)
    raise redirect(f"/admin/catalog/{kind}/{row['id']}", f"{row['name']} created.")


@routes.page("GET", "/admin/catalog/{kind}/{id}", permission=PERMISSION)
async def kind_edit(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    kind = _kind(request)
    row = await actions.item(services(request), kind, path_id(request, what="Item"))
    return render(request, "catalog/item.html", staff, kind=kind, info=KINDS[kind], fields=FIELDS[kind], row=row,
                  values=_prefill(request, row))  # fmt: skip


@routes.page("POST", "/admin/catalog/{kind}/{id}", permission=PERMISSION)
async def kind_update(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    kind, item_id = _kind(request), path_id(request, what="Item")
    body = convert(_body_fields(kind, await form(request)), KINDS[kind].body, strict=False)
    row = await actions.do_update(services(request), staff.user_id, kind, item_id, body, client_of(request).ip)
    raise redirect(f"/admin/catalog/{kind}/{item_id}", f"{row['name']} saved.")


@routes.page("POST", "/admin/catalog/{kind}/{id}/active", permission=PERMISSION)
async def kind_active(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    kind, item_id = _kind(request), path_id(request, what="Item")
    on = (await form(request)).get("active") == "1"
    row = await actions.do_set_active(services(request), staff.user_id, kind, item_id, on, client_of(request).ip)
    raise redirect(f"/admin/catalog/{kind}", f"{row['name']} switched {'on' if on else 'off'}.")


def _prefill(request: web.Request, row: dict[str, Any]) -> dict[str, str]:
    """The form's values as text: the row's, with an uploaded asset's URL (`?field=&url=`) put in."""
    values = {k: "" if v is None else (v.strftime("%Y-%m-%dT%H:%M") if hasattr(v, "strftime") else str(v))
              for k, v in row.items()}  # fmt: skip
    field, url = request.query.get("field", ""), request.query.get("url", "")
    if field.endswith("_src") and url.startswith("https://"):
        values[field] = url[:500]
    return values
