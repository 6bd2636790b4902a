"""connectSocket(): hello with resume on every connect, reconnect after a drop, give up when signed out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.support import Phone

pytestmark = pytest.mark.browser

OPEN_SOCKET = """(resume) => new Promise((resolve) => {
  window.__statuses = [];
  window.__welcomes = 0;
  window.addEventListener("tandem:unauthenticated", () => window.__statuses.push("event:unauthenticated"));
  import("/shared/api.js").then(({ connectSocket }) => {
    window.__socket = connectSocket({
      resume: () => resume,
      minDelayMs: 200,
      onStatus: (s) => { window.__statuses.push(s); if (s === "closed") resolve(window.__statuses); },
      onOpen: (socket, welcome) => {
        window.__welcomes += 1;
        socket.send({ type: "ping", id: `p${window.__welcomes}` });
      },
      onMessage: (frame) => { if (frame.type === "pong") resolve(frame); },
    });
  });
})"""


def test_socket_says_hello_and_gets_answers(phone: Phone) -> None:
    phone.login("client1")
    pong = phone.page.evaluate(OPEN_SOCKET, {})
    assert pong == {"type": "pong", "id": "p1"}
    assert phone.page.evaluate("window.__statuses") == ["connecting", "open"]
    phone.page.evaluate("window.__socket.close()")


def test_socket_reconnects_and_resumes_after_a_drop(phone: Phone) -> None:
    phone.login("client1")
    first_frames: list[Any] = []
    routes: list[Any] = []

    def route(ws: Any) -> None:
        routes.append(ws)
        if len(routes) == 1:  # the first connection dies right after hello, like a phone losing signal
            def on_message(message: str | bytes) -> None:
                first_frames.append(json.loads(message))
                ws.close(code=1011, reason="dropped by the test")
            ws.on_message(on_message)
        else:
            ws.connect_to_server()

    phone.page.route_web_socket("**/ws", route)
    pong = phone.page.evaluate(OPEN_SOCKET, {"conv-1": 41})
    assert pong == {"type": "pong", "id": "p1"}  # answered by the real server after the reconnect
    assert first_frames == [{"type": "hello", "version": 1, "resume": {"conv-1": 41}}]
    assert len(routes) == 2
    assert phone.page.evaluate("window.__statuses") == ["connecting", "waiting", "connecting", "open"]
    phone.page.evaluate("window.__socket.close()")


def test_socket_gives_up_when_signed_out(phone: Phone) -> None:
    phone.open_login()
    phone.page.evaluate(OPEN_SOCKET, {})  # resolves once the socket reports "closed"
    phone.page.wait_for_timeout(700)  # longer than the first backoff: no retry may start
    assert phone.page.evaluate("window.__statuses") == ["connecting", "closed", "event:unauthenticated"]
