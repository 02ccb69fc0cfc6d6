"""The API documents, served by the engine: OpenAPI, AsyncAPI and a viewer page with no CDN.

The viewer is Swagger UI from the `swagger-ui-py` package (its static files, pinned in
pyproject.toml), so `/api/docs` works with no internet access.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from aiohttp import web

from httpapi.contract import ApiRoutes
from httpapi.openapi import build, render

ASYNCAPI = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.yaml"
ASSETS = "/api/docs/assets"
_DOCUMENT = web.AppKey("openapi_document", dict[str, bytes])

routes = ApiRoutes()


def _swagger_ui_static() -> Path:
    # Located without importing: the package's own module pulls in web-framework glue we do not use.
    spec = importlib.util.find_spec("swagger_ui")
    assert spec is not None and spec.submodule_search_locations, "swagger-ui-py is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "static"


PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>FlyLive engine API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<p style="font-family: sans-serif; margin: 1em 2em">
REST: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1) &middot;
Socket.IO: <a href="/api/asyncapi.yaml">/api/asyncapi.yaml</a> (AsyncAPI 2.6)
</p>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
}});
</script>
</body>
</html>
"""


def setup_docs(app: web.Application) -> None:
    app[_DOCUMENT] = {}  # filled on first request: the router is complete by then
    app.add_routes(routes)
    app.router.add_static(ASSETS, _swagger_ui_static())


@routes.api("GET", "/api/openapi.json", summary="This document (OpenAPI 3.1).", response=dict[str, Any],
            enveloped=False)  # fmt: skip
async def openapi_json(request: web.Request) -> web.Response:
    cache = request.app[_DOCUMENT]
    if "json" not in cache:
        cache["json"] = render(build(request.app)).encode()
    return web.Response(body=cache["json"], content_type="application/json")


@routes.api("GET", "/api/asyncapi.yaml", summary="The Socket.IO API (AsyncAPI 2.6).", response=dict[str, Any],
            content_type="application/yaml", errors=(404,))  # fmt: skip
async def asyncapi_yaml(request: web.Request) -> web.Response:
    if not ASYNCAPI.is_file():  # an install without the repository's docs/ folder
        raise web.HTTPNotFound()
    return web.Response(body=ASYNCAPI.read_bytes(), content_type="application/yaml")


@routes.api("GET", "/api/docs", summary="The API viewer (Swagger UI, served by the engine).", response=str,
            content_type="text/html")  # fmt: skip
async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")
