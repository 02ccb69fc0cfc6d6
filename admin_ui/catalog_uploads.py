"""Uploading a catalog asset (issue 15 §7), `/admin/catalog/upload` (catalog.manage): the staff
member picks a file, the engine relays it to ImageKit with a signed upload
(engine/media_uploads/relay.py) and hands the URL back to the form it came from."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from admin_ui.web import AdminRoutes, redirect, render, services
from engine.errors import validation_error
from engine.media_uploads import relay
from engine.media_uploads.imagekit import MAX_UPLOAD_BYTES
from engine.staff.model import StaffSession

routes = AdminRoutes()
PERMISSION = "catalog.manage"


def _back(raw: str) -> str:
    """Only a catalog form of this dashboard (no open redirect)."""
    path = raw.split("?", 1)[0]
    return path if path.startswith("/admin/catalog/") and "//" not in path and "\\" not in path else ""


@routes.page("GET", "/admin/catalog/upload", permission=PERMISSION)
async def upload_form(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    q = request.query
    return render(request, "catalog/upload.html", staff, back=_back(q.get("back", "")), field=q.get("field", "")[:40],
                  url=q.get("url", "")[:500], enabled=relay.configured(services(request).config))  # fmt: skip


@routes.page("POST", "/admin/catalog/upload", permission=PERMISSION, max_body=MAX_UPLOAD_BYTES + 64 * 1024)
async def upload(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    data = await request.post()  # read once by the CSRF check already: cached
    file = data.get("file")
    if not isinstance(file, web.FileField):
        raise validation_error({"file": ["Choose a file."]})
    with file.file:  # a temporary file for a large upload: closed once read
        content = file.file.read()
    url = await relay.upload(services(request).config, staff.user_id, file.filename, content, file.content_type)
    back, field = _back(str(data.get("back", ""))), str(data.get("field", ""))[:40]
    if back and field.endswith("_src"):
        told = "Uploaded: the URL is in the form. Save it."
        raise redirect(f"{back}?{urlencode({'field': field, 'url': url})}", told)
    raise redirect(f"/admin/catalog/upload?{urlencode({'url': url})}", "Uploaded.")
