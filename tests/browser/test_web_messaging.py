"""Messaging in the web client: a client on a phone and their officer on a desktop talk
live; a server restart, a closed page, a lost ack, a dropped frame or a lost signal lose
nothing and duplicate nothing (checked against GET /api/conversations/{id}/messages);
a refusal names its rule and says what to do; a mentor reaches their conversation."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import DemoServer
from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

SEQ = re.compile(r"^[1-9][0-9]*$")
LIVE_MS = 15_000  # a frame from the other page
RECONNECT_MS = 45_000  # backoff is at most 15 s; the server needs a few seconds to start


def open_conversation(device: Phone, kind: str) -> str:
    """From the landing page, open the conversation of `kind`; its id."""
    page = device.page
    link = page.locator(f'#messages-card [data-kind="{kind}"] a')
    conversation_id = str(page.locator(f'#messages-card [data-kind="{kind}"]').get_attribute("data-conversation-id"))
    link.click()
    wait_for_thread(device, conversation_id)
    return conversation_id


def wait_for_thread(device: Phone, conversation_id: str) -> None:
    device.page.wait_for_url(f"**/#/messages?id={conversation_id}")
    device.page.locator("#message-input, #cannot-write").first.wait_for()
    device.settled()
    expect(device.page.locator("#thread")).to_have_attribute("data-connection", "open", timeout=LIVE_MS)


def send(device: Phone, text: str) -> None:
    device.page.locator("#message-input").fill(text)
    device.page.locator("#send-button").click()


def bubble(device: Phone, text: str) -> Any:
    return device.page.locator("#messages > li").filter(
        has=device.page.locator(".msg-body", has_text=text))


def thread_contents(device: Phone) -> list[tuple[int, str]]:
    """(seq, body) of every message the page shows, top to bottom (unsent ones have seq 0)."""
    rows = device.page.eval_on_selector_all(
        "#messages > li",
        "els => els.map((li) => [Number(li.dataset.seq || 0), li.querySelector('.msg-body').textContent])")
    return [(int(seq), str(body)) for seq, body in rows]


def stored_messages(base_url: str, token: str, conversation_id: str) -> list[dict[str, Any]]:
    data = api_call(base_url, "GET", f"/api/conversations/{conversation_id}/messages?after_seq=0&limit=200", token)
    seqs = [m["seq"] for m in data["messages"]]
    assert seqs == sorted(seqs), f"history not in ascending seq: {seqs}"
    assert len(data["messages"]) < 200, "more than one page: compare the pages shown instead"
    return list(data["messages"])


def stored_contents(base_url: str, token: str, conversation_id: str) -> list[tuple[int, str]]:
    return [(int(m["seq"]), str(m["body"])) for m in stored_messages(base_url, token, conversation_id)]


def assert_clean(*devices: Phone) -> None:
    """No CSP violation, no script error, and the server's resume never left a thread short."""
    for device in devices:
        reports = device.csp_reports()
        assert not reports, "CSP violations:\n" + "\n".join(reports)
        assert not device.page_errors, device.page_errors
        gaps = [m.text for m in device.console if "resume left a gap" in m.text]
        assert not gaps, gaps


def test_client_and_officer_talk_live_and_survive_a_server_restart(
        restartable_server: DemoServer, open_device: Callable[..., Phone]) -> None:
    server = restartable_server
    client = open_device(server.base_url)  # 360 px phone
    officer = open_device(server.base_url, desktop=True)

    client.login("client1")
    expect(client.page.locator("#messages-card [data-kind]")).to_have_count(3)  # officer, mentor, programme group
    expect(client.page.locator('#messages-card [data-kind="group"]')).to_contain_text(client.t("messages.kind.group"))
    expect(client.page.locator('#messages-card [data-kind="mentoring"]')).to_contain_text(
        client.t("messages.kind.mentoring.client"))
    conversation_id = open_conversation(client, "case")
    expect(client.page.locator("h1")).to_have_text("Olli Officer")
    assert_phone_friendly(client)

    officer.login("officer")
    officer.page.locator("#open-inbox").click()
    officer.page.wait_for_url("**/#/messages")
    officer.settled()
    row = officer.page.locator(f'#conversations [data-conversation-id="{conversation_id}"]')
    expect(row).to_contain_text("Kalle Client")
    row.locator("a").click()
    wait_for_thread(officer, conversation_id)

    # Both ways, live.
    send(client, "Hello from Kalle")
    expect(bubble(officer, "Hello from Kalle")).to_have_class("msg msg-other", timeout=LIVE_MS)
    mine = bubble(client, "Hello from Kalle")
    expect(mine).to_have_class("msg msg-own")
    # The officer's page shows it, so it is read (the receipt comes back live).
    expect(mine).to_have_attribute("data-state", "read", timeout=LIVE_MS)
    expect(mine.locator(".msg-state")).to_have_text(client.t("messages.state.read"))
    send(officer, "Hello Kalle, Olli here")
    expect(bubble(client, "Hello Kalle, Olli here")).to_have_count(1, timeout=LIVE_MS)
    expect(bubble(officer, "Hello Kalle, Olli here")).to_have_attribute("data-state", "read", timeout=LIVE_MS)

    # The server restarts while both pages stay open.
    server.stop()
    for device in (client, officer):
        expect(device.page.locator("#conn-status")).to_have_text(device.t("messages.conn.waiting"), timeout=LIVE_MS)
    send(client, "Typed while the server was down")
    waiting = bubble(client, "Typed while the server was down")
    expect(waiting).to_have_attribute("data-state", "sending")
    expect(waiting.locator(".msg-state")).to_have_text(client.t("messages.state.sending"))
    outbox = client.page.evaluate("() => Object.entries(localStorage).filter(([k]) => k.startsWith('tandem.outbox.'))")
    assert len(outbox) == 1 and "Typed while the server was down" in outbox[0][1], outbox
    send_id = str(waiting.get_attribute("data-send-id"))
    assert send_id in json.loads(outbox[0][1]), outbox
    server.start()

    for device in (client, officer):
        expect(device.page.locator("#thread")).to_have_attribute("data-connection", "open", timeout=RECONNECT_MS)
        expect(device.page.locator("#conn-status")).to_be_hidden()
    expect(waiting).to_have_attribute("data-seq", SEQ, timeout=LIVE_MS)
    expect(waiting).not_to_have_attribute("data-state", "sending")
    expect(bubble(officer, "Typed while the server was down")).to_have_count(1, timeout=LIVE_MS)
    send(officer, "Welcome back")
    expect(bubble(client, "Welcome back")).to_have_count(1, timeout=LIVE_MS)
    expect(bubble(officer, "Welcome back")).to_have_attribute("data-state", "read", timeout=LIVE_MS)
    expect(waiting).to_have_attribute("data-state", "read", timeout=LIVE_MS)

    # Exactly what the server stored, once each and in order, on both pages.
    token = api_login(server.base_url, "officer")
    stored = stored_contents(server.base_url, token, conversation_id)
    bodies = [body for _, body in stored]
    assert bodies == ["Hello from Kalle", "Hello Kalle, Olli here", "Typed while the server was down",
                      "Welcome back"], stored
    assert [s for s, _ in stored] == list(range(1, len(stored) + 1)), stored
    assert stored[2][0] == int(str(waiting.get_attribute("data-seq")))
    # Re-sent after the reconnect with the id it was given when it was written.
    assert stored_messages(server.base_url, token, conversation_id)[2]["id"] == send_id
    for device in (client, officer):
        assert thread_contents(device) == stored, device
    assert client.page.evaluate(
        "() => Object.keys(localStorage).filter((k) => k.startsWith('tandem.outbox.'))") == []

    # A reload shows the same, from the server.
    client.page.reload()
    wait_for_thread(client, conversation_id)
    expect(client.page.locator("#messages > li")).to_have_count(len(stored))
    assert thread_contents(client) == stored
    assert_clean(client, officer)


def test_unsent_message_survives_closing_the_page_and_is_sent_once(
        restartable_server: DemoServer, open_device: Callable[..., Phone]) -> None:
    """The outbox is in localStorage: a message written offline in a page that was then
    closed is sent, once, the next time Tandem is opened on that device."""
    server = restartable_server
    client = open_device(server.base_url)
    client.login("client1")
    conversation_id = open_conversation(client, "case")
    server.stop()
    expect(client.page.locator("#conn-status")).to_be_visible(timeout=LIVE_MS)
    send(client, "Written on the bus with no signal")
    expect(bubble(client, "Written on the bus with no signal")).to_have_attribute("data-state", "sending")
    context = client.page.context
    client.page.close()  # only localStorage has the message now
    server.start()
    again = Phone(context.new_page(), client.base_url, client.catalogs)
    again.page.on("pageerror", lambda error: again.page_errors.append(error))
    again.page.on("console", lambda message: again.console.append(message))
    again.page.goto(f"{server.base_url}/#/home")
    again.settled()
    assert open_conversation(again, "case") == conversation_id
    sent = bubble(again, "Written on the bus with no signal")
    expect(sent).to_have_attribute("data-seq", SEQ, timeout=LIVE_MS)
    token = api_login(server.base_url, "officer")
    stored = stored_contents(server.base_url, token, conversation_id)
    assert [body for _, body in stored] == ["Written on the bus with no signal"], stored
    expect(again.page.locator("#messages > li")).to_have_count(1)
    assert thread_contents(again) == stored
    assert again.page.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith('tandem.outbox.'))") == []
    assert_clean(again)


def test_client_without_a_face_to_face_meeting_is_told_why_and_what_next(phone: Phone) -> None:
    """No composer that would only be refused: the conversation says why the client cannot
    write yet and what happens next, in their language, without the rule's id (issue 13)."""
    phone.login("client2")
    open_conversation(phone, "case")
    page = phone.page
    notice = page.locator("#cannot-write")
    expect(notice).to_be_visible()
    expect(page.locator("#composer")).to_have_count(0)
    expect(page.locator("#message-input")).to_have_count(0)
    expect(notice.locator("#cannot-write-reason")).to_have_text(
        phone.t("reason.face_to_face_first.none_recorded.client"))
    expect(notice).to_contain_text(phone.t("messages.refused.face_to_face_first.client_next"))
    expect(notice).not_to_have_attribute("data-rule-id", "face_to_face_first")
    expect(page.locator("main")).not_to_contain_text("face_to_face_first")
    assert_phone_friendly(phone)
    # In another language too, from that catalog.
    page.locator("#lang-select").select_option("fi")
    expect(page.locator("#cannot-write-reason")).to_have_text(
        phone.t("reason.face_to_face_first.none_recorded.client", lang="fi"))
    expect(page.locator("#cannot-write-title")).to_have_text(phone.t("messages.cannot_write_title", lang="fi"))
    assert_clean(phone)


def test_mentor_reaches_their_mentoring_conversation_from_home(phone: Phone) -> None:
    phone.login("mentor")
    conversation = phone.page.locator('#messages-card [data-kind="mentoring"]')
    expect(conversation).to_have_count(1)
    expect(conversation).to_contain_text("Kalle Client")
    expect(conversation).to_contain_text(phone.t("messages.kind.mentoring.mentor"))
    open_conversation(phone, "mentoring")
    expect(phone.page.locator("h1")).to_have_text("Kalle Client")
    assert_phone_friendly(phone)
    assert_clean(phone)


def test_a_lost_ack_is_resent_with_the_same_id_and_stored_once(phone: Phone) -> None:
    """The connection drops after the server stored a message but before the page heard
    so: the page sends it again with the same id, and it is still stored (and shown) once."""
    text = f"Did this arrive? {secrets.token_hex(3)}"
    from_page: list[tuple[int, dict[str, Any]]] = []
    routes: list[Any] = []

    def route(ws: Any) -> None:
        n = len(routes)
        routes.append(ws)
        server = ws.connect_to_server()

        def upstream(message: str | bytes) -> None:
            from_page.append((n, json.loads(message)))
            server.send(message)

        def downstream(message: str | bytes) -> None:
            frame = json.loads(message)
            if n == 0 and frame.get("type") == "message" and frame.get("body") == text:
                return  # the echo of our own message is lost...
            if n == 0 and frame.get("type") == "ack":
                ws.close(code=1011, reason="dropped by the test")  # ...and so is the ack
                server.close()
                return
            ws.send(message)

        ws.on_message(upstream)
        server.on_message(downstream)

    phone.page.route_web_socket("**/ws", route)
    phone.login("client1")
    conversation_id = open_conversation(phone, "case")
    send(phone, text)
    shown = bubble(phone, text)
    expect(shown).to_have_attribute("data-seq", SEQ, timeout=RECONNECT_MS)
    sends = [(n, f) for n, f in from_page if f["type"] == "send"]
    assert [n for n, _ in sends] == [0, 1], sends  # once per connection
    assert sends[0][1]["id"] == sends[1][1]["id"], sends
    hello = [f for n, f in from_page if n == 1 and f["type"] == "hello"]
    assert hello and conversation_id in hello[0]["resume"], hello  # resumed, not started over
    token = api_login(phone.base_url, "client1")
    stored = stored_messages(phone.base_url, token, conversation_id)
    mine = [m for m in stored if m["body"] == text]
    assert len(mine) == 1 and mine[0]["id"] == sends[0][1]["id"], mine
    expect(shown).to_have_count(1)
    assert thread_contents(phone) == [(int(m["seq"]), str(m["body"])) for m in stored]
    assert_clean(phone)


def test_a_gap_or_a_resync_is_filled_over_rest(
        phone: Phone, tandem_server: str, open_device: Callable[..., Phone]) -> None:
    first, second = (f"{word} {secrets.token_hex(3)}" for word in ("First", "Second"))
    routes: list[Any] = []

    def route(ws: Any) -> None:
        routes.append(ws)
        server = ws.connect_to_server()
        ws.on_message(lambda message: server.send(message))

        def downstream(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "message" and frame.get("body") == first:
                return  # lost on the way: the next message shows a gap in seq
            ws.send(message)

        server.on_message(downstream)

    phone.page.route_web_socket("**/ws", route)
    phone.login("client1")
    conversation_id = open_conversation(phone, "case")
    officer = open_device(tandem_server, desktop=True)
    officer.login("officer")
    officer.page.goto(f"{tandem_server}/#/messages?id={conversation_id}")
    wait_for_thread(officer, conversation_id)

    with phone.page.expect_request(lambda r: f"/api/conversations/{conversation_id}/messages?" in r.url):
        send(officer, first)
        expect(bubble(officer, first)).to_have_attribute("data-seq", SEQ, timeout=LIVE_MS)
        send(officer, second)
        expect(bubble(phone, second)).to_have_count(1, timeout=LIVE_MS)
    expect(bubble(phone, first)).to_have_count(1, timeout=LIVE_MS)  # fetched over REST
    token = api_login(tandem_server, "client1")
    stored = stored_contents(tandem_server, token, conversation_id)
    expect(phone.page.locator("#messages > li")).to_have_count(len(stored))
    assert thread_contents(phone) == stored

    with phone.page.expect_request(lambda r: f"/api/conversations/{conversation_id}/messages?after_seq=0&" in r.url):
        routes[-1].send(json.dumps({"type": "resync", "conversation_id": conversation_id, "after_seq": 0}))
    phone.page.wait_for_timeout(500)
    assert thread_contents(phone) == stored  # nothing twice
    assert_clean(phone, officer)


def test_a_phone_that_loses_its_signal_sends_once_when_it_is_back(phone: Phone) -> None:
    text = f"No signal here {secrets.token_hex(3)}"
    phone.login("client1")
    conversation_id = open_conversation(phone, "case")
    phone.page.context.set_offline(True)
    expect(phone.page.locator("#conn-status")).to_have_text(phone.t("messages.conn.waiting"))
    send(phone, text)
    waiting = bubble(phone, text)
    expect(waiting).to_have_attribute("data-state", "sending")
    phone.page.context.set_offline(False)
    expect(waiting).to_have_attribute("data-seq", SEQ, timeout=RECONNECT_MS)
    expect(phone.page.locator("#conn-status")).to_have_count(0)
    token = api_login(phone.base_url, "client1")
    stored = stored_contents(phone.base_url, token, conversation_id)
    assert [body for _, body in stored].count(text) == 1, stored
    assert thread_contents(phone) == stored
    assert_clean(phone)


def test_a_full_outbox_is_sent_at_a_pace_the_server_accepts(phone: Phone) -> None:
    """Forty messages written offline go out after the reconnect without being refused as
    flooding (the server allows 10 frames/s), each once and in the order written."""
    texts = [f"Offline note {n:02d} {secrets.token_hex(2)}" for n in range(40)]
    refusals: list[str] = []

    def watch(ws: Any) -> None:
        def received(payload: str | bytes) -> None:
            if "rate_limited" in str(payload):
                refusals.append(str(payload))

        ws.on("framereceived", received)

    phone.page.on("websocket", watch)
    phone.login("client1")
    conversation_id = open_conversation(phone, "case")
    phone.page.context.set_offline(True)
    expect(phone.page.locator("#conn-status")).to_be_visible()
    for text in texts:
        send(phone, text)
    phone.page.context.set_offline(False)
    expect(phone.page.locator("#messages > li:not([data-seq])")).to_have_count(0, timeout=RECONNECT_MS)
    token = api_login(phone.base_url, "client1")
    stored = stored_contents(phone.base_url, token, conversation_id)
    bodies = [body for _, body in stored]
    assert [b for b in bodies if b in texts] == texts, bodies
    assert thread_contents(phone) == stored
    assert not refusals, refusals
    assert_clean(phone)
