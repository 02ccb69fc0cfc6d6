"""The REST contract, declared where each route is registered.

`ApiRoutes` is aiohttp's route table where every route also states its `Operation`: a summary, the
msgspec types of its request body, query and path parameters and of its answer, and the error
statuses it can give beyond those its declarations imply. Who may call it comes from the
`login_required` / `permission_required` decorator the handler already wears. docs/gen_openapi.py
walks the routes the app really registered and reads their operations, so docs/openapi.json cannot
drift from the code (tests/test_openapi.py regenerates it and fails on a difference).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from aiohttp import web

from httpapi.auth import Handler, required_by
from httpapi.common import MAX_ID

# A path id as httpapi.common.path_id reads it; anything else answers 404.
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID, description="A numeric id (ASCII digits).")]
PATH_ID_NAMES = frozenset({"id", "user_id", "user"})


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    response: Any
    """The success body's type: for an enveloped route, what is inside `{"data": ...}`."""
    status: int = 200
    body: type[msgspec.Struct] | None = None
    query: type[msgspec.Struct] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    """Path parameter types beyond the ids (`{id}`, `{user_id}`, `{user}` are `Id`)."""
    errors: tuple[int, ...] = ()
    enveloped: bool = True
    content_type: str = "application/json"
    description: str = ""
    security: str | None = None
    """A security scheme of its own (instead of the user's bearer token), e.g. `metricsToken`."""
    handler: Handler | None = None

    @property
    def requires(self) -> tuple[str, ...] | None:
        """None: public; (): a signed-in user; else the permissions the caller must hold."""
        return required_by(self.handler) if self.handler is not None else None

    def path_types(self) -> dict[str, Any]:
        names = [part[1:-1] for part in self.path.split("/") if part.startswith("{") and part.endswith("}")]
        return {name: self.params.get(name, Id if name in PATH_ID_NAMES else str) for name in names}


_OPERATIONS: dict[Handler, Operation] = {}


def operation_of(handler: Any) -> Operation | None:
    return _OPERATIONS.get(handler)


class ApiRoutes(web.RouteTableDef):
    """`@routes.api("GET", "/api/v1/me", summary=..., response=Me)` registers a route and its contract."""

    def api(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        response: Any,
        status: int = 200,
        body: type[msgspec.Struct] | None = None,
        query: type[msgspec.Struct] | None = None,
        params: Mapping[str, Any] | None = None,
        errors: tuple[int, ...] = (),
        enveloped: bool | None = None,
        content_type: str = "application/json",
        description: str = "",
        security: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.route(method, path)(handler)
            _OPERATIONS[handler] = Operation(
                method=method, path=path, summary=summary, response=response, status=status, body=body,
                query=query, params=params or {}, errors=errors, content_type=content_type,
                description=description, security=security, handler=handler,
                enveloped=path.startswith("/api/v1/") if enveloped is None else enveloped,
            )  # fmt: skip
            return handler

        return register
