"""Screenshots for the README tour, taken from a running demo server.

    make serve   # or: tandem serve --demo --port 8080
    TANDEM_BASE_URL=http://127.0.0.1:8080 .venv/bin/python -m tests.browser.screenshots docs/screenshots

Phone screens are 360 x 740 CSS pixels (saved at 2x), the desktop one 1280 x 800.
Uses Debian's Chromium (`/usr/bin/chromium`, or `TANDEM_CHROMIUM`), like the browser tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tests.browser.support import DEMO_PASSWORD

CHROMIUM = Path(os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
PHONE: dict[str, Any] = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
                         "device_scale_factor": 2}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}

#: (file, device, demo user to sign in as or None for the sign-in screen, a link to follow
#: after signing in or None; a screen reached by a link is taken whole, not only its first view;
#: a part of the screen to take alone, or None)
SHOTS: list[tuple[str, dict[str, Any], str | None, str | None, str | None]] = [
    ("login.png", PHONE, None, None, None),
    ("client-home.png", PHONE, "client1", None, None),
    ("officer-home.png", PHONE, "officer", None, None),
    ("admin-home.png", PHONE, "admin", None, None),
    ("officer-desktop.png", DESKTOP, "officer", None, None),
    ("officer-case.png", PHONE, "officer", ".case a[data-open-case]", None),
    ("client-push.png", PHONE, "client1", None, "#push-card"),
    ("mentor-period.png", PHONE, "mentor", None, "#mentees"),
    ("evaluation.png", PHONE, "evaluator", None, "#figure-appointments"),
    ("partner-network.png", PHONE, "police", None, "#partner-networks > ul > li:first-child"),
    ("client-network.png", PHONE, "client4", None, "#client-networks"),
    ("officer-network-followups.png", PHONE, "officer", "#nav-schedule", "#network-followups-card"),
]

SETTLED = "() => document.querySelector('main h1') && !document.querySelector('[aria-busy]')"


def take(browser: Any, base_url: str, out: Path, device: dict[str, Any], username: str | None,
         link: str | None, part: str | None = None) -> None:
    context = browser.new_context(**device, locale="en-GB", color_scheme="light", reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(f"{base_url}/#/login")
        page.locator("#username").wait_for()
        if username:
            page.locator("#username").fill(username)
            page.locator("#password").fill(DEMO_PASSWORD)
            page.locator("form button[type=submit]").click()
            page.locator("#logout").wait_for()
        page.wait_for_function(SETTLED)
        if link:
            page.locator(link).first.click()
            page.wait_for_function(SETTLED)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.evaluate("() => document.fonts.ready")
        if part:
            page.locator(part).screenshot(path=str(out), animations="disabled", caret="hide")
        else:
            page.screenshot(path=str(out), animations="disabled", caret="hide", full_page=link is not None)
    finally:
        context.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: TANDEM_BASE_URL=http://host:port {argv[0]} OUTDIR", file=sys.stderr)
        return 2
    base_url = os.environ.get("TANDEM_BASE_URL", "").rstrip("/")
    if not base_url:
        print("set TANDEM_BASE_URL to a running demo server (make serve)", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"Chromium not found at {CHROMIUM} (set TANDEM_CHROMIUM)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    outdir = Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, device, username, link, part in SHOTS:
                path = outdir / name
                take(browser, base_url, path, device, username, link, part)
                print(f"{path} ({path.stat().st_size // 1024} KB)")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
