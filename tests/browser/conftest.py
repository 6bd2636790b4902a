"""Browser tests: the web client against a real `tandem serve --demo` in a real Chromium.

The Chromium is Debian's (`/usr/bin/chromium`, or `TANDEM_CHROMIUM`); Playwright never
downloads a browser here. Pages are phone-sized (360 x 740, mobile, touch) because the
people under supervision use cheap phones.

Without Chromium or without the server command the tests skip with a loud reason,
except under `CI=true`, where that is a failure: CI must never go green by skipping.
Set `TANDEM_BASE_URL` to test an already running server instead of starting one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import CSP_LISTENER, REPO, Phone, api_call, api_login, load_catalogs, unavailable

CHROMIUM = Path(os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # WebRTC: a fake camera and microphone, permission granted without a prompt, loopback
    # candidates gathered (the server's peers offer only 127.0.0.1) and shown as addresses.
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
#: Every demo server these tests start keeps the server's WebRTC peers on loopback.
SERVER_ENV = {"TANDEM_DEMO": "1", "TANDEM_MEDIA_HOST_ADDRESSES": "127.0.0.1"}
READY_TIMEOUT_S = 30.0


@pytest.fixture(scope="session")
def catalogs() -> dict[str, dict[str, str]]:
    return load_catalogs()


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


def _serve(tmp_path_factory: pytest.TempPathFactory, external_var: str, **extra_env: str) -> Iterator[str]:
    """Base URL of a demo server: started here (and stopped at the end) unless `external_var` is set."""
    external = os.environ.get(external_var)
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
    env = {**os.environ, **SERVER_ENV, **extra_env}
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


@pytest.fixture(scope="session")
def tandem_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a demo server: started here (and stopped at the end) unless TANDEM_BASE_URL."""
    yield from _serve(tmp_path_factory, "TANDEM_BASE_URL")


@pytest.fixture(scope="session")
def mfa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second demo server that, like production, requires staff to enrol a second factor
    (TANDEM_REQUIRE_STAFF_MFA=true); TANDEM_MFA_BASE_URL names a running one instead.

    Enrolment is once per account, so each test here uses a different demo staff account.
    """
    yield from _serve(tmp_path_factory, "TANDEM_MFA_BASE_URL", TANDEM_REQUIRE_STAFF_MFA="true")


class DemoServer:
    """A demo server a test stops and starts again on the same port and data directory,
    as a deployment restarts, while its browser pages stay open."""

    def __init__(self, command: list[str], data_dir: Path) -> None:
        self.command = command
        self.data_dir = data_dir
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.proc is None, "already running"
        env = {**os.environ, **SERVER_ENV}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*self.command, "serve", "--demo", "--port", str(self.port), "--data-dir", str(self.data_dir)],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(self.base_url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-4000:]
                state = f"exited with {self.proc.returncode}" if self.proc.poll() is not None else "not ready in time"
                self.stop()
                pytest.fail(f"tandem serve {state}; log tail:\n{tail}", pytrace=False)
            time.sleep(0.2)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            # Short: with WebSockets open the server's graceful shutdown has been seen to take
            # ~40 s (its 1001 close comes only after aiohttp's shutdown wait); then it is killed.
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def restartable_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """A demo server of this test's own, which the test may restart (never TANDEM_BASE_URL's)."""
    command = _tandem_command()
    if command is None:
        unavailable("the `tandem` command (server/cli.py) is not available")
        return
    server = DemoServer(command, tmp_path_factory.mktemp("tandem-restart"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def admin_token(tandem_server: str) -> str:
    return api_login(tandem_server, "admin")


@pytest.fixture(scope="session")
def demo_directory(tandem_server: str, admin_token: str) -> dict[str, dict[str, Any]]:
    """The demo users as the admin API lists them, by username (for display names)."""
    users = api_call(tandem_server, "GET", "/api/admin/users", admin_token)["users"]
    return {u["username"]: u for u in users}


# --- the browser ----------------------------------------------------------------------

# Package scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it is open, which would break every asyncio test collected after these.
@pytest.fixture(scope="package")
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


PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}


def _phone(browser: Any, base_url: str, catalogs: dict[str, dict[str, str]],
           device: dict[str, Any] | None = None) -> Iterator[Phone]:
    context = browser.new_context(**(device or PHONE), locale="en-GB")
    context.set_default_timeout(15_000)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    device = Phone(page, base_url, catalogs)
    page.on("console", lambda message: device.console.append(message))
    page.on("pageerror", lambda error: device.page_errors.append(error))
    try:
        yield device
    finally:
        context.close()


@pytest.fixture
def phone(browser: Any, tandem_server: str, catalogs: dict[str, dict[str, str]]) -> Iterator[Phone]:
    yield from _phone(browser, tandem_server, catalogs)


@pytest.fixture
def mfa_phone(browser: Any, mfa_server: str, catalogs: dict[str, dict[str, str]]) -> Iterator[Phone]:
    """A phone on the server that requires staff to enrol a second factor."""
    yield from _phone(browser, mfa_server, catalogs)


@pytest.fixture
def open_device(browser: Any, catalogs: dict[str, dict[str, str]]) -> Iterator[Callable[..., Phone]]:
    """open_device(base_url, desktop=False): another page in a browser context of its own
    (its own cookies and storage), phone-sized unless `desktop`; closed after the test."""
    with contextlib.ExitStack() as stack:
        def open_(base_url: str, *, desktop: bool = False) -> Phone:
            pages = _phone(browser, base_url, catalogs, DESKTOP if desktop else PHONE)
            device = next(pages)
            stack.callback(pages.close)
            return device
        yield open_
