"""Dashboard tests in a real headless Chromium, driven by Playwright (issue 15).

Debian's `chromium` at /usr/bin/chromium: when it is missing, `chromium_or_reason()` installs it with
apt-get (as root, the package lists refreshed if needed); when that cannot be done the browser tests
are skipped with the reason. Each page a test visits can be saved with `shot()` under
tests/artifacts/ (kept out of git), to look at after a run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def chromium_or_reason() -> str | None:
    """None when Chromium is there (installing it if it can); else why the browser tests skip."""
    if Path(CHROMIUM).exists():
        return None
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install it"
    if os.geteuid() != 0:
        return f"{CHROMIUM} is missing; install it with `apt-get install -y chromium` (needs root)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    for command in (install, ["apt-get", "update"], install):  # the package lists refreshed only if needed
        done = subprocess.run(command, env=env, capture_output=True, timeout=900, check=False)
        if command[1] == "install" and done.returncode == 0 and Path(CHROMIUM).exists():
            return None
    return f"could not install chromium with apt-get: {done.stderr.decode(errors='replace')[-300:]}"


async def shot(page: Any, name: str) -> Path:
    """A full-page screenshot of what the test sees, as tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Any, base: str, phone: str, password: str) -> None:
    """Through the sign-in form, as a person would."""
    await page.goto(f"{base}/admin/login")
    await page.get_by_label("Phone number").fill(phone)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state("domcontentloaded")
