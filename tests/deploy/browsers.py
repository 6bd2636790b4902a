"""Chromium on the cluster, one browser context per person, each pinned to a node.

``chromium()`` launches Debian's Chromium (ignoring the self-signed certificate per context);
``on_node(browser, cluster, node)`` opens a phone-sized page whose every request goes through nginx
to node ``node`` only (``Cluster.pinned_url``) and records which node answered each API call;
``sign_in`` signs a person in through the UI (with a TOTP code for staff). A check-in with the
officer on one node and the client on the other is ``on_node(b, c, 0)`` + ``on_node(b, c, 1)``, then
``into_call``: the client follows the link, the officer admits, both decode the other's video
(``FRAMES_DECODED``, ``decodes_video``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from server.identity import totp
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE
from tests.browser.support import unavailable
from tests.deploy.conftest import PASSWORD, Call
from tests.helpers.cluster import Cluster

NODE_HEADER = "x-tandem-node"
#: Video frames the page decoded, over the peer connections of its call (client_web/checkin/call.js),
#: but those a test marked old (``window.__old``, a WeakSet: frames since a moment are on new ones).
FRAMES_DECODED = """async () => {
    const call = window.__tandemCall;
    if (!call) return 0;
    let frames = 0;
    for (const entry of call.peers.values()) {
        if (window.__old && window.__old.has(entry.pc)) continue;
        (await entry.pc.getStats()).forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
        });
    }
    return frames;
}"""
#: Each peer connection's ICE state and candidates: what a failure message shows.
ICE_STATE = """async () => {
    const out = [];
    for (const entry of window.__tandemCall.peers.values()) {
        const pc = entry.pc, stats = await pc.getStats(), seen = [];
        stats.forEach((s) => {
            if (s.type === 'local-candidate' || s.type === 'remote-candidate')
                seen.push(`${s.type} ${s.candidateType} ${s.address}:${s.port}`);
            if (s.type === 'candidate-pair') seen.push(`pair ${s.state} nominated=${s.nominated}`);
        });
        out.push({ice: pc.iceConnectionState, conn: pc.connectionState, seen,
                  config: JSON.stringify(pc.getConfiguration().iceServers.map((s) => s.urls))});
    }
    return out;
}"""


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


#: Frames a failure message lists: how a call was negotiated, joined and moved (no SDP bodies).
TRACED = frozenset({"join", "joined", "admitted", "peer_joined", "peer_left", "offer", "answer", "candidate",
                    "reconnect", "ended", "left", "error", "welcome"})


@dataclass
class Person:
    page: Any
    base_url: str
    answered: list[str] = field(default_factory=list)  # X-Tandem-Node of every /api/ response
    #: (monotonic s, "<" received or ">" sent, frame type, participant/peer, ref or code) of the
    #: call's frames on every WebSocket the page opened: what went wrong when a call does not come back.
    frames: list[tuple[float, str, str, str, str]] = field(default_factory=list)

    def trace(self, since: float = 0.0) -> list[str]:
        return [f"{t - since:+.1f}s {d}{kind} {who} {extra}".rstrip() for t, d, kind, who, extra in self.frames
                if t >= since]


def _watch_frames(person: Person, ws: Any) -> None:
    def record(direction: str) -> Callable[[Any], None]:
        def on(payload: Any) -> None:
            try:
                frame = json.loads(payload)
            except (TypeError, ValueError):
                return
            kind = str(frame.get("type"))
            if kind in TRACED:
                who = str(frame.get("participant") or frame.get("from") or frame.get("to") or "")
                if kind == "admitted":
                    who += f" peers={frame.get('peers')}"
                elif kind == "candidate":  # its type only: "typ relay", or the end of candidates
                    words = str(frame.get("candidate") or "end").split()
                    who += " " + " ".join(words[words.index("typ"):words.index("typ") + 2] if "typ" in words else words)
                extra = str(frame.get("id") or frame.get("ref") or frame.get("reason") or frame.get("code") or "")
                person.frames.append((time.monotonic(), direction, kind, who, extra))
        return on
    person.frames.append((time.monotonic(), "=", "socket", ws.url.rsplit("/", 1)[-1], ""))
    ws.on("framereceived", record("<"))
    ws.on("framesent", record(">"))
    ws.on("close", lambda _ws: person.frames.append((time.monotonic(), "=", "closed", "", "")))


def on_node(browser: Any, cluster: Cluster, node: int, *, desktop: bool = False) -> Person:
    base = cluster.pinned_url(node)
    context = browser.new_context(**(DESKTOP if desktop else PHONE), locale="en-GB", ignore_https_errors=True)
    context.set_default_timeout(30_000)
    person = Person(context.new_page(), base)
    person.page.on("response", lambda r: person.answered.append(r.headers.get(NODE_HEADER, ""))
                   if "/api/" in r.url else None)
    person.page.on("websocket", lambda ws: _watch_frames(person, ws))
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


def answer_safe(page: Any) -> None:
    form = page.locator("#safe-form")
    form.wait_for()
    for fieldset in form.locator("fieldset.question").all():
        fieldset.locator("input[value=yes]").check()
    page.locator("#safe-submit").click()


def decodes_video(page: Any, within_s: float = 45.0) -> int:
    deadline = time.monotonic() + within_s
    while (frames := int(page.evaluate(FRAMES_DECODED))) == 0:
        assert time.monotonic() < deadline, "no video frame decoded in time"
        page.wait_for_timeout(250)
    return frames


def into_call(cluster: Cluster, officer: Person, client: Person, call: Call) -> None:
    """The officer signs in, the client follows the check-in's link (device test, safe space) and
    waits, the officer opens the check-in (safe space) and admits them: both decode the other's video."""
    sign_in(officer, call.officer, PASSWORD, totp_code=totp.code_at(call.totp_secret, time.time()))
    phone = client.page
    phone.goto(f"{client.base_url}{call.path}")
    phone.locator("#use-code").click()
    phone.locator("#device-start").click()  # the device test's echo peer runs on the node
    phone.locator("#device-continue-video").click(timeout=45_000)
    answer_safe(phone)
    desk = officer.page
    desk.locator(f"#open-{call.checkin}").click(timeout=30_000)
    answer_safe(desk)
    desk.locator("#call-lobby .admit").click(timeout=30_000)
    try:
        assert decodes_video(phone) > 0
        assert decodes_video(desk) > 0
    except AssertionError as error:
        raise AssertionError(f"{error}\nofficer: {desk.evaluate(ICE_STATE)}\nclient: {phone.evaluate(ICE_STATE)}\n"
                             f"coturn:\n{cluster.proc('coturn').tail(30)}") from None
