"""Every dashboard page without a path parameter, opened by a super-admin in Chromium on a laptop and
on a phone: it answers 200, every form control has a label (or an accessible name), nothing is wider
than a phone's screen (wide tables scroll inside their `.table-wrap`), and a screenshot of each is
saved under tests/artifacts/ (`page-<path>-laptop.png`, `page-<path>-phone.png`)."""

from __future__ import annotations

from typing import Any

from admin_ui import MODULES
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, new_user
from tests.sockets import url_of

SKIP = {"/admin", "/admin/login", "/admin/login/totp", "/admin/overview/stream"}
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => !['hidden', 'submit', 'button'].includes(el.type))
    .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 120))"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def page_paths() -> list[str]:
    paths = {route.path for module in MODULES for route in module.routes if route.method == "GET"}
    return sorted(p for p in paths if "{" not in p and p not in SKIP and not p.endswith((".csv", "/stream")))


async def test_every_page_is_labelled_fits_a_phone_and_is_photographed(client: Any, page: Any) -> None:
    base = url_of(client)
    boss = await new_user(client, "Sam Super", role="super_admin")
    await sign_in(page, base, boss.phone, PASSWORD)
    paths = page_paths()
    assert "/admin/" in paths and "/admin/users" in paths and len(paths) >= 15, paths
    problems: list[str] = []
    for width, height, kind in ((1280, 800, "laptop"), (390, 844, "phone")):
        await page.set_viewport_size({"width": width, "height": height})
        for path in paths:
            resp = await page.goto(f"{base}{path}", wait_until="domcontentloaded")
            assert resp is not None and resp.status == 200, (path, resp and resp.status)
            name = path.strip("/").replace("/", "-") or "overview"
            await shot(page, f"page-{name}-{kind}")
            if kind == "laptop" and (unlabelled := await page.evaluate(UNLABELLED)):
                problems.append(f"{path}: unlabelled {unlabelled}")
            if kind == "phone" and (wider := await page.evaluate(OVERFLOW)) > 1:
                problems.append(f"{path}: {wider}px wider than a phone")
    assert not problems, "\n".join(problems)
