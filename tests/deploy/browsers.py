"""Chromium on the cluster, one browser context per person, each pinned to a node.

``chromium()`` launches Debian's Chromium (ignoring the self-signed certificate per context);
``on_node(browser, cluster, node)`` opens a phone-sized page whose every request goes through nginx
to node ``node`` only (``Cluster.pinned_url``) and records which node answered each API call;
``sign_in`` signs a person in through the UI (with a TOTP code for staff). A check-in with the
officer on one node and the client on the other is ``on_node(b, c, 0)`` + ``on_node(b, c, 1)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE
from tests.browser.support import unavailable
from tests.helpers.cluster import Cluster

NODE_HEADER = "x-tandem-node"


@contextmanager
def chromium() -> Iterator[Any]:
    """Playwright's sync API, opened and closed inside one test (it runs an event loop in this thread)."""
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Person:
    page: Any
    base_url: str
    answered: list[str] = field(default_factory=list)  # X-Tandem-Node of every /api/ response


def on_node(browser: Any, cluster: Cluster, node: int, *, desktop: bool = False) -> Person:
    base = cluster.pinned_url(node)
    context = browser.new_context(**(DESKTOP if desktop else PHONE), locale="en-GB", ignore_https_errors=True)
    context.set_default_timeout(30_000)
    person = Person(context.new_page(), base)
    person.page.on("response", lambda r: person.answered.append(r.headers.get(NODE_HEADER, ""))
                   if "/api/" in r.url else None)
    return person


def sign_in(person: Person, username: str, password: str, *, totp_code: str | None = None) -> None:
    page = person.page
    page.goto(f"{person.base_url}/#/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form button[type=submit]").click()
    if totp_code is not None:
        page.locator("#totp").fill(totp_code)
        page.locator("form button[type=submit]").click()
    try:
        page.locator("#logout").wait_for()
    except Exception as error:  # Playwright's TimeoutError: say what the page shows instead
        raise AssertionError(f"{username} not signed in: {page.url} {page.inner_text('body')[:500]}") from error
    page.wait_for_url("**/#/home")
