"""docs/openapi.json: generated from the routes' declared types, complete, and served with its viewer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import hdrs, web
from aiohttp.test_utils import TestClient

from engine.app import create_app
from engine.config import Config
from httpapi.openapi import UNDOCUMENTED_PREFIXES
from tests.helpers import load_script, resolve_ref

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC_PATH = DOCS / "openapi.json"
Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return load_script(DOCS / "gen_openapi.py")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


def test_committed_file_equals_a_fresh_generation(gen: ModuleType) -> None:
    fresh = gen.render(gen.generate())
    assert DOC_PATH.read_text(encoding="utf-8") == fresh, "docs/openapi.json is stale: run docs/gen_openapi.py"


def test_every_registered_route_is_documented(doc: dict[str, Any]) -> None:
    app = create_app(Config(jwt_secret="x" * 32, redis_url="redis://127.0.0.1:6379/0"))
    registered = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        # Not REST operations (httpapi/openapi.py says why for each); HEAD mirrors its GET.
        if not path.startswith(UNDOCUMENTED_PREFIXES) and route.method != hdrs.METH_HEAD:
            registered.add((route.method.lower(), path))
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert registered - documented == set()
    assert documented - registered == set()
    assert len(documented) > 50
    assert {("get", "/api/user"), ("post", "/api/v1/rooms/{id}/bans"), ("get", "/metrics")} <= documented


def test_every_error_is_the_envelope_and_auth_is_declared(doc: dict[str, Any]) -> None:
    envelope = doc["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["required"]) == {"status", "message", "error"}
    assert resolve_ref(doc, envelope["properties"]["error"]["$ref"])["required"] == ["code", "message", "fields"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, item in doc["paths"].items():
        for method, op in item.items():
            statuses = set(op["responses"])
            assert any(s.startswith("2") for s in statuses), (method, path)
            for status, response in op["responses"].items():
                if status[0] in "45":
                    schema = resolve_ref(doc, response["$ref"])["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, status)
            if op["security"] == [{"bearerAuth": []}]:
                assert "401" in statuses, (method, path)
    me = doc["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert me["responses"]["200"]["content"]["application/json"]["schema"]["required"] == ["data"]
    assert doc["paths"]["/api/login"]["post"]["security"] == []
    audit = doc["paths"]["/api/v1/admin/audit"]["get"]
    assert audit["x-permissions"] == ["audit.view"] and "403" in audit["responses"]


def test_parameters_carry_their_types_and_limits(doc: dict[str, Any]) -> None:
    user = doc["paths"]["/api/v1/users/{id}"]["get"]
    (param,) = user["parameters"]
    assert param["in"] == "path" and param["schema"]["type"] == "integer"
    assert (param["schema"]["minimum"], param["schema"]["maximum"]) == (1, 2**63 - 1)
    assert "404" in user["responses"]
    rooms = {p["name"]: p for p in doc["paths"]["/api/v1/rooms"]["get"]["parameters"]}
    assert rooms["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert rooms["search"]["schema"] == {"type": "string"} and rooms["search"]["required"] is False
    mall = {p["name"]: p for p in doc["paths"]["/api/v1/mall/{category}"]["get"]["parameters"]}
    assert sorted(mall["category"]["schema"]["enum"]) == ["entry_effect", "frame", "theme"]
    ban = doc["paths"]["/api/v1/rooms/{id}/bans"]["post"]
    body = resolve_ref(doc, ban["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert body["required"] == ["user_id"] and body["properties"]["user_id"]["minimum"] == 1
    assert {"400", "408", "413", "422"} <= set(ban["responses"])


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    refs = re.findall(r'"\$ref": "([^"]+)"', DOC_PATH.read_text(encoding="utf-8"))
    assert len(refs) > 100
    for ref in set(refs):
        resolve_ref(doc, ref)


async def test_the_engine_serves_the_documents(client: Client, doc: dict[str, Any]) -> None:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert await resp.json() == doc
    resp = await client.get("/api/asyncapi.yaml")
    assert resp.status == 200 and resp.content_type == "application/yaml"
    assert await resp.text() == (DOCS / "asyncapi.yaml").read_text(encoding="utf-8")


async def test_the_viewer_page_is_served_whole_by_the_engine(client: Client) -> None:
    resp = await client.get("/api/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    # No CDN and no online validator: the page must work with no internet access.
    assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []
    assert "validatorUrl: null" in html
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
    assert {a for a in assets if a.startswith("/api/docs/assets/")} == {
        "/api/docs/assets/swagger-ui.css",
        "/api/docs/assets/swagger-ui-bundle.js",
    }
    for asset in assets:
        served = await client.get(asset)
        assert served.status == 200, asset
        assert len(await served.read()) > 100, asset
    assert (await client.get("/api/docs/assets/../../../etc/passwd")).status == 404
