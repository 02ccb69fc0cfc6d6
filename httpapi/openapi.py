"""Build the OpenAPI 3.1 document of the REST API from the routes an app registered.

Each route's `Operation` (httpapi/contract.py) gives its types; their JSON Schemas come from
`msgspec.json.schema_components`, as docs/gen_asyncapi.py does for the socket events. Every error
answer is the one `ErrorEnvelope` of httpapi/responses.py. docs/gen_openapi.py writes the result to
docs/openapi.json and the engine serves it at `GET /api/openapi.json`.
"""

from __future__ import annotations

import inspect
from http import HTTPStatus
from typing import Any

import msgspec
from aiohttp import hdrs, web

from httpapi.contract import Operation, operation_of
from httpapi.responses import ErrorEnvelope

REF = "#/components/schemas/{name}"
# Registered routes that are not REST operations, and why:
UNDOCUMENTED_PREFIXES = (
    "/socket.io/",  # the Socket.IO transport: documented in docs/asyncapi.yaml (GET /api/asyncapi.yaml)
    "/api/docs/assets",  # the API viewer's static files (Swagger UI), not an API
    "/admin",  # the staff dashboard's HTML pages (admin_ui/, docs/dashboard.md), not an API
)

INFO_DESCRIPTION = """\
REST API of the FlyLive engine. Generated from the engine's msgspec types by docs/gen_openapi.py;
the Socket.IO API is described in AsyncAPI at `/api/asyncapi.yaml`.

**Envelope.** `/api/v1/...` answers `{"data": ...}`; legacy `/api/...` paths keep the legacy
(Laravel) bodies. Every error, on every path, is the `ErrorEnvelope`: `error.code` is a stable
machine code, `error.fields` names every bad field (422), and the top-level `message`/`errors` are
the legacy shapes. Bad JSON or an undecodable body is 400, a body that does not arrive within
`BODY_READ_TIMEOUT_SECONDS` is 408, a body over `MAX_BODY_BYTES` 413, rate limits are 429 with
`Retry-After`. Every answer carries `X-Request-ID`.

**Auth.** Send the access token from a log-in as `Authorization: Bearer <jwt>`. Operations marked
with permissions also need a role holding them (else 403). JSON bodies may also be sent as
`application/x-www-form-urlencoded` or `multipart/form-data` (fields as strings), as the legacy
API allowed; only JSON is described here.
"""

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access token from POST /api/login or /api/v1/auth/login (HS256, short-lived).",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The METRICS_TOKEN of the deployment (not a user token).",
    },
}


def documented_operations(app: web.Application) -> list[Operation]:
    """The operation of every registered route, sorted by path then method; refuses an undeclared route."""
    operations: dict[tuple[str, str], Operation] = {}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith(UNDOCUMENTED_PREFIXES) or route.method == hdrs.METH_HEAD:
            continue  # aiohttp answers HEAD for every GET, with the GET's status and headers
        operation = operation_of(route.handler)
        if operation is None or (operation.method, operation.path) != (route.method, path):
            raise LookupError(f"{route.method} {path} is registered without a contract (declare it with routes.api)")
        operations[(path, route.method)] = operation
    return [operations[key] for key in sorted(operations)]


def _error_statuses(op: Operation) -> set[int]:
    statuses = {429, 500, *op.errors}
    if op.requires is not None:
        statuses.add(401)
    if op.requires:
        statuses.add(403)
    if op.body is not None:
        statuses |= {400, 408, 413, 422}
    if op.query is not None:
        statuses.add(422)
    if any(t is not str for t in op.path_types().values()):
        statuses.add(404)
    return statuses


class _Schemas:
    """Every type's schema from one `schema_components` call, so that two types of one name get
    distinct component names instead of one overwriting the other."""

    def __init__(self, operations: list[Operation]) -> None:
        types: list[Any] = [ErrorEnvelope]
        for op in operations:
            types += [op.response, *op.path_types().values()]
            types += [op.body] if op.body is not None else []
            types += [f.type for f in msgspec.structs.fields(op.query)] if op.query is not None else []
        unique = list(dict.fromkeys(types))
        schemas, self.components = msgspec.json.schema_components(unique, ref_template=REF)
        self._by_type = dict(zip(unique, schemas, strict=True))

    def __call__(self, typ: Any) -> dict[str, Any]:
        return dict(self._by_type[typ])


def _parameters(op: Operation, schema: _Schemas) -> list[dict[str, Any]]:
    params = [{"name": name, "in": "path", "required": True, "schema": schema(typ)}
              for name, typ in op.path_types().items()]  # fmt: skip
    if op.query is not None:
        for field in msgspec.structs.fields(op.query):
            typed = _without_null(schema(field.type))
            if field.default is not msgspec.NODEFAULT and field.default is not None:
                typed["default"] = field.default
            params.append({"name": field.encode_name, "in": "query", "required": field.required, "schema": typed})
    return params


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string: `X | None` is documented as an optional X."""
    variants = [v for v in schema.get("anyOf", []) if v != {"type": "null"}]
    return dict(variants[0]) if len(variants) == 1 else schema


def _success(op: Operation, schema: _Schemas) -> dict[str, Any]:
    body = schema(op.response)
    if op.enveloped:
        body = {"type": "object", "properties": {"data": body}, "required": ["data"]}
    return {"description": HTTPStatus(op.status).phrase, "content": {op.content_type: {"schema": body}}}


def _operation(op: Operation, schema: _Schemas) -> dict[str, Any]:
    handler_doc = inspect.getdoc(op.handler) if op.handler is not None else None
    description = "\n\n".join(text for text in (op.description, handler_doc or "") if text)
    body: dict[str, Any] = {"operationId": f"{op.method.lower()}_{_slug(op.path)}", "summary": op.summary}
    if op.requires:
        need = ", ".join(f"`{p}`" for p in op.requires)
        description = "\n\n".join(text for text in (description, f"Needs the permission(s) {need}.") if text)
        body["x-permissions"] = list(op.requires)
    if description:
        body["description"] = description
    body["tags"] = [_tag(op.path)]
    parameters = _parameters(op, schema)
    if parameters:
        body["parameters"] = parameters
    if op.body is not None:
        # An all-optional body may be left out: an empty body reads as `{}`.
        required = any(f.required for f in msgspec.structs.fields(op.body))
        body["requestBody"] = {"required": required,
                               "content": {"application/json": {"schema": schema(op.body)}}}  # fmt: skip
    responses: dict[str, Any] = {str(op.status): _success(op, schema)}
    for status in sorted(_error_statuses(op)):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    body["responses"] = responses
    if op.security is not None:
        body["security"] = [{op.security: []}]
    elif op.requires is not None:
        body["security"] = [{"bearerAuth": []}]
    else:
        body["security"] = []
    return body


def _slug(path: str) -> str:
    return "_".join(part.strip("{}").replace("-", "_") for part in path.split("/") if part) or "root"


def _tag(path: str) -> str:
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    if parts[:1] != ["api"]:
        return "operations"
    if parts[1:2] != ["v1"]:
        return "legacy"
    return parts[3] if parts[2:3] == ["admin"] and len(parts) > 3 else parts[2] if len(parts) > 2 else "v1"


def _error_responses(statuses: set[int]) -> dict[str, Any]:
    schema = {"$ref": REF.format(name="ErrorEnvelope")}
    return {f"E{status}": {"description": f"{HTTPStatus(status).phrase} (the error envelope)",
                           "content": {"application/json": {"schema": schema}}}
            for status in sorted(statuses)}  # fmt: skip


def build(app: web.Application) -> dict[str, Any]:
    operations = documented_operations(app)
    schema = _Schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    statuses: set[int] = set()
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schema)
        statuses |= _error_statuses(op)
    components = schema.components
    for component in components.values():
        # msgspec releases differ in whether they dedent docstrings: dedent here, so the file does not
        # depend on which release is installed.
        if "description" in component:
            component["description"] = inspect.cleandoc(component["description"])
    return {
        "openapi": "3.1.0",
        "info": {"title": "FlyLive engine REST API", "version": "1.0.0", "description": INFO_DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "responses": _error_responses(statuses),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def render(doc: dict[str, Any]) -> str:
    """The committed file's text: stable key order, indented, one trailing newline."""
    return msgspec.json.format(msgspec.json.encode(doc), indent=2).decode() + "\n"
