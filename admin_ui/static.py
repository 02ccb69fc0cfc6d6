"""The dashboard's own CSS and JavaScript, served by the engine (no CDN). Files are read once at start;
their URLs carry a content hash (`?v=`), so they are cached for a year and a new build is a new URL."""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from pathlib import Path

from aiohttp import web

from admin_ui.web import AdminRoutes

routes = AdminRoutes()
FOLDER = Path(__file__).resolve().parent / "static"


@functools.cache
def _files() -> dict[str, tuple[bytes, str, str]]:
    """name -> (body, content type, short hash)."""
    found: dict[str, tuple[bytes, str, str]] = {}
    for path in sorted(FOLDER.iterdir()):
        if path.is_file():
            body = path.read_bytes()
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            found[path.name] = (body, kind, hashlib.sha256(body).hexdigest()[:12])
    return found


def url_of(name: str) -> str:
    return f"/admin/static/{name}?v={_files()[name][2]}"


@routes.public("GET", "/admin/static/{name}")
async def serve(request: web.Request) -> web.StreamResponse:
    found = _files().get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    body, kind, digest = found
    etag = f'"{digest}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    cache = "public, max-age=31536000, immutable" if request.query.get("v") == digest else "public, max-age=300"
    return web.Response(body=body, content_type=kind, headers={"Cache-Control": cache, "ETag": etag})
