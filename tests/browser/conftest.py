"""Browser tests: the web client against a real `tandem serve --demo` in a real Chromium.

The Chromium is Debian's (`/usr/bin/chromium`, or `TANDEM_CHROMIUM`); Playwright never
downloads a browser here. Pages are phone-sized (360 x 740, mobile, touch) because the
people under supervision use cheap phones.

Without Chromium or without the server command the tests skip with a loud reason,
except under `CI=true`, where that is a failure: CI must never go green by skipping.
Set `TANDEM_BASE_URL` to test an already running server instead of starting one.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CATALOG_DIR = REPO / "client_web" / "i18n"
CHROMIUM = Path(os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LANGUAGES = ("en", "fi", "et", "ro")
DEMO_PASSWORD = "tandem-demo"  # the published password of the demo data set
READY_TIMEOUT_S = 30.0


def unavailable(reason: str) -> None:
    """Skip loudly, or fail under CI, when something the browser tests need is missing."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI: {reason}; browser tests may not be skipped in CI", pytrace=False)
    pytest.skip(f"!!! SKIPPED: {reason}")


@pytest.fixture(scope="session")
def catalogs() -> dict[str, dict[str, str]]:
    return {lang: json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
            for lang in LANGUAGES}


# --- the server -----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tandem_command() -> list[str] | None:
    if not (REPO / "server" / "cli.py").exists():
        return None
    beside_python = Path(sys.executable).parent / "tandem"
    for candidate in (beside_python, REPO / ".venv" / "bin" / "tandem"):
        if candidate.exists():
            return [str(candidate)]
    found = shutil.which("tandem")
    return [found] if found else None


@pytest.fixture(scope="session")
def tandem_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a demo server: started here (and stopped at the end) unless TANDEM_BASE_URL."""
    external = os.environ.get("TANDEM_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    command = _tandem_command()
    if command is None:
        unavailable("the `tandem` command (server/cli.py) is not available")
        return
    data_dir = tmp_path_factory.mktemp("tandem-data")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = data_dir / "server.log"
    env = {**os.environ, "TANDEM_DEMO": "1"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command, "serve", "--demo", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(base_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-4000:]
                state = f"exited with {proc.returncode}" if proc.poll() is not None else "not ready in time"
                pytest.fail(f"tandem serve {state}; log tail:\n{tail}", pytrace=False)
            time.sleep(0.2)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def api_login(base_url: str, username: str) -> str:
    """Sign in as an API client (no browser headers, so the server issues a bearer token)."""
    body = json.dumps({"username": username, "password": DEMO_PASSWORD}).encode()
    req = urllib.request.Request(f"{base_url}/api/session", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        token = json.loads(resp.read())["token"]
    assert token, "POST /api/session from an API client returned no bearer token"
    return str(token)


def api_get(base_url: str, path: str, token: str) -> Any:
    req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="session")
def demo_directory(tandem_server: str) -> dict[str, dict[str, Any]]:
    """The demo users as the admin API lists them, by username (for display names)."""
    token = api_login(tandem_server, "admin")
    users = api_get(tandem_server, "/api/admin/users", token)["users"]
    return {u["username"]: u for u in users}


# --- the browser ----------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM} (set TANDEM_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package `playwright` is not installed")
        return
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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
        text = self.catalogs[lang or self.lang()][key]
        for name, value in params.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    def settled(self) -> None:
        """Wait until the screen has rendered and nothing is loading."""
        self.page.wait_for_function(
            "() => document.querySelector('main h1') && !document.querySelector('[aria-busy]')")

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


CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
});
"""


@pytest.fixture
def phone(browser: Any, tandem_server: str, catalogs: dict[str, dict[str, str]]) -> Iterator[Phone]:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
        device_scale_factor=2, locale="en-GB",
    )
    context.set_default_timeout(15_000)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    device = Phone(page, tandem_server, catalogs)
    page.on("console", lambda message: device.console.append(message))
    page.on("pageerror", lambda error: device.page_errors.append(error))
    try:
        yield device
    finally:
        context.close()
