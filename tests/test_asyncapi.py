"""docs/asyncapi.yaml: generated from the engine's types, so it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from engine.messages import SERVER_EVENTS
from engine.realtime import server as realtime_server
from tests.helpers import load_script, resolve_ref

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC_PATH = DOCS / "asyncapi.yaml"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return load_script(DOCS / "gen_asyncapi.py")


@pytest.fixture(scope="module")
def client_events(gen: ModuleType) -> dict[str, type]:
    events: dict[str, type] = gen.registered_client_events()
    return events


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


def operation_messages(doc: dict[str, Any], operation: str) -> dict[str, dict[str, Any]]:
    refs = doc["channels"]["/"][operation]["message"]["oneOf"]
    messages = [resolve_ref(doc, r["$ref"]) for r in refs]
    by_name = {m["name"]: m for m in messages}
    assert len(by_name) == len(messages), "an event is listed twice"
    return by_name


def payload_schema(doc: dict[str, Any], operation: str, event: str) -> dict[str, Any]:
    schema: dict[str, Any] = resolve_ref(doc, operation_messages(doc, operation)[event]["payload"]["$ref"])
    return schema


def test_committed_file_equals_a_fresh_generation(gen: ModuleType, client_events: dict[str, type]) -> None:
    fresh = gen.render(gen.build(client_events))
    committed = DOC_PATH.read_text(encoding="utf-8")
    assert committed == fresh, "docs/asyncapi.yaml is stale: run .venv/bin/python docs/gen_asyncapi.py"
    assert gen.render() == fresh  # the script's own app build sees the same events: the output is deterministic


def test_every_client_and_server_event_is_documented(doc: dict[str, Any], client_events: dict[str, type]) -> None:
    assert doc["asyncapi"].startswith("2.6")
    published = operation_messages(doc, "publish")
    assert set(published) == set(client_events)
    assert {"room:join", "seat:take", "chat:message", "auth:whoami"} <= set(published)
    for name, message in published.items():
        assert message["summary"].strip(), name
        schema = resolve_ref(doc, message["payload"]["$ref"])
        assert schema["title"] == client_events[name].__name__
        assert set(schema["properties"]) == set(client_events[name].__struct_fields__), name
        ack = resolve_ref(doc, message["x-ack"]["payload"]["$ref"])
        variants = [resolve_ref(doc, v["$ref"]) for v in ack["oneOf"]]
        assert any(v["properties"]["success"].get("const") is True for v in variants), name
        assert any(v["properties"]["success"].get("const") is False for v in variants), name

    subscribed = operation_messages(doc, "subscribe")
    assert set(subscribed) == {*SERVER_EVENTS, "connect_error"}
    for name, struct in SERVER_EVENTS.items():
        message = subscribed[name]
        assert message["summary"].strip() and "→" in message["summary"], name
        schema = resolve_ref(doc, message["payload"]["$ref"])
        assert set(schema["properties"]) == set(struct.__struct_fields__), name


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    seen = 0

    def walk(node: Any) -> None:
        nonlocal seen
        if isinstance(node, dict):
            if "$ref" in node:
                resolve_ref(doc, node["$ref"])
                seen += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert seen > len(SERVER_EVENTS)


def test_schemas_carry_the_payload_limits(doc: dict[str, Any]) -> None:
    take = payload_schema(doc, "publish", "seat:take")
    assert set(take["required"]) == {"roomId", "seatIndex"}
    assert (take["properties"]["seatIndex"]["minimum"], take["properties"]["seatIndex"]["maximum"]) == (0, 99)
    chat = payload_schema(doc, "publish", "chat:message")
    assert chat["required"] == ["roomId", "content"]
    assert (chat["properties"]["content"]["minLength"], chat["properties"]["content"]["maxLength"]) == (1, 500)
    assert "system" not in chat["properties"]["type"]["enum"]
    subscribe = payload_schema(doc, "publish", "presence:subscribe")
    assert subscribe["properties"]["userIds"]["maxItems"] == 50
    join = payload_schema(doc, "publish", "room:join")
    assert join["required"] == ["roomId"] and join["properties"]["seatCount"]["anyOf"][0]["maximum"] == 30

    updated = payload_schema(doc, "subscribe", "seat:updated")
    assert set(updated["required"]) == {"seq", "seatIndex", "userId", "isMuted"}
    assert updated["additionalProperties"] is False
    joined = payload_schema(doc, "subscribe", "room:userJoined")
    assert resolve_ref(doc, joined["properties"]["user"]["$ref"])["title"] == "RoomUser"


def test_handshake_and_connect_errors_are_documented(doc: dict[str, Any]) -> None:
    expected = {realtime_server.AUTH_REQUIRED, realtime_server.INVALID_CREDENTIALS,
                realtime_server.ORIGIN_NOT_ALLOWED, realtime_server.AUTH_FAILED}  # fmt: skip
    connect_error = payload_schema(doc, "subscribe", "connect_error")
    assert set(connect_error["properties"]["message"]["enum"]) == expected
    assert set(doc["x-handshake"]["connectErrors"]) == expected
    assert doc["x-handshake"]["auth"]["properties"]["token"]["type"] == "string"
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "auth.token" in doc["x-handshake"]["header"] and "auth" in scheme["description"]
    assert all(message in doc["info"]["description"] for message in expected)


def test_generator_refuses_an_undescribed_event(gen: ModuleType, client_events: dict[str, type]) -> None:
    with pytest.raises(SystemExit, match="brand:new"):
        gen.build({**client_events, "brand:new": next(iter(client_events.values()))})
