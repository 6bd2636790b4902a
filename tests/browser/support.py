"""Helpers for the browser tests: the demo data's names, plain-HTTP API calls, and
`Phone`, one phone-sized page with what it logged."""

from __future__ import annotations

import json
import os
import secrets
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from server.identity import totp  # the server's RFC 6238 generator stands in for an authenticator app

REPO = Path(__file__).resolve().parents[2]
CLIENT_WEB = REPO / "client_web"
AXE_JS = REPO / "node_modules" / "axe-core" / "axe.min.js"
LANGUAGES = ("en", "fi", "et", "ro")
DEMO_PASSWORD = "tandem-demo"  # the published password of the demo data set
DEMO_USERS = ("admin", "senior", "officer", "facilitator", "mentor", "evaluator", "client1", "client2", "client3")


def unavailable(reason: str) -> None:
    """Skip loudly, or fail under CI, when something the browser tests need is missing."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI: {reason}; browser tests may not be skipped in CI", pytrace=False)
    pytest.skip(f"!!! SKIPPED: {reason}")


def load_catalogs() -> dict[str, dict[str, str]]:
    return {lang: json.loads((CLIENT_WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
            for lang in LANGUAGES}


# --- the API as a non-browser client (bearer token, no CSRF) ---------------------------

def api_call(base_url: str, method: str, path: str, token: str | None = None, body: object = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{base_url}{path}", data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def api_login(base_url: str, username: str, password: str = DEMO_PASSWORD) -> str:
    """Sign in as an API client (no browser headers, so the server issues a bearer token)."""
    token = api_call(base_url, "POST", "/api/session", body={"username": username, "password": password})["token"]
    assert token, "POST /api/session from an API client returned no bearer token"
    return str(token)


def enrolled_staff(base_url: str, admin_token: str) -> tuple[str, str, str]:
    """A new officer with TOTP enrolled through the API: (username, password, TOTP secret)."""
    username, password = f"mfa{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    api_call(base_url, "POST", "/api/admin/users", admin_token,
             {"username": username, "display_name": "Maria Mfa", "role": "officer", "password": password})
    token = api_login(base_url, username, password)
    secret = api_call(base_url, "POST", "/api/me/totp", token)["secret"]
    # Confirm with the previous step's code, so the sign-in below uses a different one.
    api_call(base_url, "POST", "/api/me/totp/confirm", token, {"code": totp.code_at(secret, time.time() - 30)})
    return username, password, secret


def open_case(base_url: str, display_name: str = "Kalle Klient", *, met: bool = False) -> tuple[str, str]:
    """The demo officer opens a case for a new client: (client username, enrolment link).
    With `met`, a face-to-face meeting yesterday is recorded, so the client may write."""
    token = api_call(base_url, "POST", "/api/session",
                     body={"username": "officer", "password": DEMO_PASSWORD, "kind": "bearer"})["token"]
    officer_id = api_call(base_url, "GET", "/api/me", token)["id"]
    username = f"client{secrets.token_hex(4)}"
    created = api_call(base_url, "POST", "/api/cases", token, {
        "client_username": username, "client_display_name": display_name, "officer_id": officer_id})
    link = str(created["enrolment_link"])
    assert link.startswith("/#/enrol?code="), link
    if met:
        yesterday = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86_400))
        api_call(base_url, "POST", f"/api/cases/{created['case_id']}/face-to-face", token,
                 {"met_at": yesterday, "location": "Office"})
    return username, link


# --- the phone ---------------------------------------------------------------------------

# Injected before any page script; the page's CSP does not apply to it.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
});
"""


@dataclass
class Phone:
    """One phone-sized page plus everything it logged."""

    page: Any
    base_url: str
    catalogs: dict[str, dict[str, str]]
    console: list[Any] = field(default_factory=list)
    page_errors: list[Any] = field(default_factory=list)

    def lang(self) -> str:
        return str(self.page.locator("html").get_attribute("lang"))

    def t(self, key: str, lang: str | None = None, **params: object) -> str:
        """Catalog text in `lang`, by default the language the page shows now."""
        text = self.catalogs[lang or self.lang()][key]
        for name, value in params.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    def settled(self) -> None:
        """Wait until the screen of the current route has rendered and nothing is loading (a
        heading left from the previous route does not count: the hashchange may not have run yet)."""
        self.page.wait_for_function(
            "() => document.getElementById('main').dataset.rendered === location.hash"
            " && document.querySelector('main h1') && !document.querySelector('[aria-busy]')")

    def open_login(self) -> None:
        self.page.goto(f"{self.base_url}/#/login")
        self.page.locator("#username").wait_for()
        self.settled()

    def submit_login(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.page.locator("#username").fill(username)
        self.page.locator("#password").fill(password)
        self.page.locator("form button[type=submit]").click()

    def login(self, username: str) -> None:
        self.open_login()
        self.submit_login(username)
        self.page.locator("#logout").wait_for()
        self.page.wait_for_url("**/#/home")
        self.settled()

    def csp_reports(self) -> list[str]:
        found = [m.text for m in self.console
                 if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text]
        found += self.page.evaluate("() => window.__cspViolations || []")
        return found


def readme_screenshot(page: Any, name: str, selector: str | None = None) -> None:
    """Save a README screenshot of a screen only a running call reaches (the outcome after a
    call), when `TANDEM_SCREENSHOT_DIR` names where: the screenshots script covers the rest.

        TANDEM_SCREENSHOT_DIR=docs/screenshots .venv/bin/pytest tests/browser/test_web_checkin_outcome.py
    """
    directory = os.environ.get("TANDEM_SCREENSHOT_DIR")
    if not directory:
        return
    out = Path(directory) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    target = page.locator(selector) if selector else page
    target.screenshot(path=str(out), animations="disabled", caret="hide")


def assert_phone_friendly(phone: Phone) -> None:
    """No sideways scrolling at 360 px; every control is at least 44 x 44 px."""
    page = phone.page
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the phone"
    small = page.evaluate("""() => [...document.querySelectorAll(
        'button, select, input:not([type=checkbox]), a[href]')]
      .map((el) => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
      .filter(([, r]) => r.width && (r.height < 44 || r.width < 44))
      .map(([html, r]) => `${html} ${Math.round(r.width)}x${Math.round(r.height)}`)""")
    assert not small, "touch targets smaller than 44px:\n" + "\n".join(small)
