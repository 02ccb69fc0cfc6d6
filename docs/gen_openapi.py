"""Generate docs/openapi.json: every REST route of the engine, from the msgspec types it declares.

    .venv/bin/python docs/gen_openapi.py           # rewrite docs/openapi.json
    .venv/bin/python docs/gen_openapi.py --check   # exit 1 when the file is out of date

The routes come from a freshly built app (create_app connects to nothing): each was registered with
its contract (`routes.api(...)`, httpapi/contract.py), which httpapi/openapi.py turns into the
document. The engine serves the same document at `GET /api/openapi.json`. tests/test_openapi.py
fails when the committed file differs from what this script produces, or when a registered route is
missing from it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from docs.gen_common import write_or_check  # noqa: E402
from engine.app import create_app  # noqa: E402
from engine.config import Config  # noqa: E402
from httpapi.openapi import build, render  # noqa: E402

OUTPUT = ROOT / "docs" / "openapi.json"


def generate() -> dict[str, Any]:
    # Placeholder secret and URL: building the app connects to nothing.
    app = create_app(Config(jwt_secret="x" * 32, redis_url="redis://127.0.0.1:6379/0"))
    return build(app)


def main(argv: list[str]) -> int:
    return write_or_check(OUTPUT, render(generate()), argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
