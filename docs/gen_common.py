"""What the document generators share: write the document, or check the committed one is current."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(output: Path, text: str, argv: list[str]) -> int:
    """With `--check`: exit status 1 when `output` differs from `text`; else write it."""
    script = f"docs/gen_{output.stem}.py"
    if "--check" in argv:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            print(f"{output} is out of date; run: .venv/bin/python {script}", file=sys.stderr)
            return 1
        return 0
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0
