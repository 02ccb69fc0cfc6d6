"""Property-based fuzzing of the REST API from docs/openapi.json (schemathesis), against a real app.

Every operation of the document gets valid (positive) and invalid (negative) requests, derandomized
so a run is repeatable. Each answer must not be a 5xx, its status must be documented, its content
type and body must match the document. The caller is a signed-in super admin, so authenticated and
permission-checked routes run their real code; the demo catalog is seeded so lists are not empty.
The requests are sent by schemathesis' (blocking) client from a worker thread while the app serves
on the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import requests
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from engine.appkeys import CONFIG, SERVICES
from engine.seed import seed_demo
from tests.conftest import AppFactory
from tests.helpers import bearer, grant_role, new_user

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Per operation and generation mode: ~1,400 requests, about 30 s on a 2-core machine. Set
# FUZZ_EXAMPLES for a deeper run before a release (e.g. 200).
EXAMPLES_PER_MODE = int(os.environ.get("FUZZ_EXAMPLES", "12"))
Client = TestClient[web.Request, web.Application]


def fuzz_operation(operation: Any, mode: schemathesis.GenerationMode, session: requests.Session, base_url: str,
                   headers: dict[str, str]) -> list[str]:  # fmt: skip
    """Run one operation's examples; return what failed (every failure, not only the first)."""
    failures: list[str] = []

    # No shrinking: every failure is recorded as found, and the run stays bounded in time.
    @settings(max_examples=EXAMPLES_PER_MODE, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # a failed check, or a group of them: record it, go on
            body = case.body if not isinstance(case.body, bytes) else case.body[:200]
            failures.append(f"{operation.label} [{mode.value}] {response.status_code} path={case.path_parameters} "
                            f"query={case.query} body={str(body)[:200]}: {str(exc)[:3000]}")  # fmt: skip

    try:
        run()
    except Unsatisfiable:  # negative mode for an operation with nothing to get wrong (no parameters, no body)
        assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    return failures


def fuzz_all(schema: Any, base_url: str, token_for: Any) -> list[str]:
    failures: list[str] = []
    session = requests.Session()  # keep-alive: one connection for the whole run
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            # A fresh session per run: a fuzzed logout or password change ends only its own.
            failures += fuzz_operation(operation, mode, session, base_url, bearer(token_for()))
    return failures


async def test_the_rest_api_keeps_to_its_document(make_client: AppFactory, database_url: str) -> None:
    client = await make_client(imagekit_private_key="private_fuzz_key")  # uploads configured: no deliberate 503
    svc = client.app[SERVICES]
    await seed_demo(svc.pool, client.app[CONFIG])
    user = await new_user(client)
    await grant_role(database_url, user.id, "super_admin")

    def token_for() -> str:
        token, _ = svc.signer.issue(user.id, f"fuzz-{uuid.uuid4().hex}", {"name": "Fuzz"})
        return token

    schema = schemathesis.openapi.from_dict(json.loads(DOC_PATH.read_text(encoding="utf-8")))
    base_url = str(client.make_url("")).rstrip("/")
    failures = await asyncio.to_thread(fuzz_all, schema, base_url, token_for)
    summary = sorted({f.split(" path=")[0] for f in failures})
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(summary) + "\n\n" + "\n".join(failures[:20])
