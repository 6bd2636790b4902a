"""Tandem on a phone's home screen: the web app manifest, the service worker (shell cache,
content-free notifications) and the notification opt-in.

What headless Chromium can and cannot do here: Playwright's browser contexts are
incognito profiles, where Chromium refuses `pushManager.subscribe` at once ("Registration
failed - permission denied"), and a persistent profile's subscribe waits forever for
Google's push service, which is unreachable from this machine. So no test here can make
a real subscription reach the server. What is tested instead, truthfully: the opt-in says
what the lock screen will show and tells the person clearly when the browser refuses;
a push carrying the server's own payload (built by the server's functions, delivered to
the real service worker through the DevTools protocol, as a push service would) shows
the catalog text only, in the person's language, and leads to the conversation; and the
worker's caches hold the shell and never an /api/ answer.
"""

from __future__ import annotations

import json
import secrets
import struct
import urllib.request
from typing import Any

import pytest

from server.messaging.push import payload as message_payload
from server.scheduling.model import reminder_push
from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly, open_case
from tests.browser.test_web_axe import assert_no_violations

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

PASSWORD = "a long enough password"
PUSH_KEYS = ("push.title", "push.new_message", "push.reminder", "push.other")


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.headers.get("Content-Type", "")), resp.read()


def test_manifest_is_served_with_icons_that_exist(tandem_server: str) -> None:
    _, index = _get(f"{tandem_server}/")
    assert b'<link rel="manifest" href="/manifest.webmanifest">' in index
    content_type, body = _get(f"{tandem_server}/manifest.webmanifest")
    assert content_type.startswith("application/manifest+json"), content_type
    manifest = json.loads(body)
    assert manifest["name"] == manifest["short_name"] == "Tandem"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"].startswith("/#/") and manifest["scope"] == "/"
    assert manifest["theme_color"] and manifest["background_color"]
    sizes = set()
    for icon in manifest["icons"]:
        content_type, image = _get(f"{tandem_server}{icon['src']}")
        assert content_type.startswith(icon["type"]), (icon, content_type)
        if icon["type"] == "image/png":
            assert image[:8] == b"\x89PNG\r\n\x1a\n" and image[12:16] == b"IHDR", icon
            width, height = struct.unpack(">II", image[16:24])
            assert icon["sizes"] == f"{width}x{height}", (icon, width, height)
            sizes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes, sizes
    content_type, worker = _get(f"{tandem_server}/sw.js")
    assert content_type.startswith("text/javascript"), content_type
    assert b"/api/" in worker  # it names what it never caches


def _fresh_client(base_url: str) -> tuple[str, str]:
    """A new client of the demo officer, enrolled: (username, case conversation id)."""
    username, link = open_case(base_url, "Pia Push", met=True)  # so that she may write
    api_call(base_url, "POST", "/api/enrol", body={"code": link.split("code=", 1)[1], "password": PASSWORD})
    token = api_login(base_url, username, PASSWORD)
    conversations = api_call(base_url, "GET", "/api/conversations", token)["conversations"]
    case = [c for c in conversations if c["kind"] == "case"]
    assert case, conversations
    return username, str(case[0]["id"])


def _sign_in(phone: Phone, username: str) -> None:
    phone.page.context.grant_permissions(["notifications"], origin=phone.base_url)
    phone.open_login()
    phone.submit_login(username, PASSWORD)
    phone.page.locator("#logout").wait_for()
    phone.settled()


def _worker_ready(phone: Phone) -> None:
    state = phone.page.evaluate("() => navigator.serviceWorker.ready.then((r) => r.active.state)")
    assert state in ("activating", "activated"), state


def test_opt_in_says_what_the_lock_screen_shows_and_when_the_browser_refuses(phone: Phone) -> None:
    username, _ = _fresh_client(phone.base_url)
    _sign_in(phone, username)
    page = phone.page
    card = page.locator("#push-card")
    expect(card.locator("h2")).to_have_text(phone.t("push.card_title"))
    expect(card.locator("[data-push-text]")).to_have_text([phone.t("push.new_message"), phone.t("push.reminder")])
    expect(page.locator("#push-state")).to_have_text(phone.t("push.state_off"))
    card.scroll_into_view_if_needed()
    assert_no_violations(phone, "client home with the notification opt-in")
    assert_phone_friendly(phone)
    _worker_ready(phone)
    page.locator("#push-on").click()
    # Chromium refuses push in this (incognito) profile: the person is told, nothing is on.
    expect(page.locator("#push-error [role=alert]")).to_have_text(phone.t("push.browser_refused"))
    expect(page.locator("#push-state")).to_have_text(phone.t("push.state_off"))
    expect(page.locator("#push-on")).to_be_enabled()
    assert page.evaluate(
        "() => navigator.serviceWorker.ready.then((r) => r.pushManager.getSubscription()).then((s) => s === null)")
    assert_no_violations(phone, "notification opt-in refused by the browser")
    page.locator("#lang-select").select_option("ro")
    expect(page.locator("#push-card h2")).to_have_text(phone.t("push.card_title", lang="ro"))
    expect(page.locator("#push-on")).to_have_text(phone.t("push.turn_on", lang="ro"))


def _registration_id(phone: Phone) -> tuple[Any, str]:
    cdp = phone.page.context.new_cdp_session(phone.page)
    found: list[str] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: found.extend(
        r["registrationId"] for r in event["registrations"]
        if r["scopeURL"] == f"{phone.base_url}/" and not r["isDeleted"]))
    cdp.send("ServiceWorker.enable")
    phone.page.wait_for_function("() => true")  # let the events arrive
    deadline = 50
    while not found and deadline:
        phone.page.wait_for_timeout(100)
        deadline -= 1
    assert found, "no service worker registration for the app's scope"
    return cdp, found[-1]


def _notifications(phone: Phone) -> list[dict[str, Any]]:
    return list(phone.page.evaluate("""() => navigator.serviceWorker.ready
        .then((r) => r.getNotifications())
        .then((all) => all.map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data})))"""))


def _wait_for_notifications(phone: Phone, count: int) -> list[dict[str, Any]]:
    for _ in range(50):
        shown = _notifications(phone)
        if len(shown) >= count:
            return shown
        phone.page.wait_for_timeout(100)
    raise AssertionError(f"{count} notifications expected, shown: {_notifications(phone)}")


def test_a_push_with_the_servers_payload_shows_only_the_catalog_text_and_leads_to_the_conversation(
        phone: Phone) -> None:
    username, conversation_id = _fresh_client(phone.base_url)
    _sign_in(phone, username)
    page = phone.page
    page.locator("#lang-select").select_option("fi")  # the notification speaks the person's language
    expect(page.locator("html")).to_have_attribute("lang", "fi")
    _worker_ready(phone)
    officer_name = api_call(phone.base_url, "GET", "/api/me", api_login(phone.base_url, "officer"))["display_name"]
    cdp, registration = _registration_id(phone)

    # What the server's push worker encrypts for a new message, as the push service delivers it.
    data = message_payload(conversation_id).decode()
    assert set(json.loads(data)) == {"type", "conversation_id"}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": phone.base_url, "registrationId": registration,
                                                  "data": data})
    [shown] = _wait_for_notifications(phone, 1)
    assert (shown["title"], shown["body"]) == (phone.t("push.title", lang="fi"), phone.t("push.new_message", lang="fi"))
    for secret in (officer_name, "Pia Push", username, conversation_id):
        assert secret not in shown["title"] + shown["body"]

    # A reminder's payload, and one the worker does not know, are content-free too.
    for count, sent, key in ((2, json.dumps(reminder_push("appt-1")), "push.reminder"),
                             (3, '{"type": "surprise", "body": "Meet Pia at 5"}', "push.other")):
        cdp.send("ServiceWorker.deliverPushMessage", {"origin": phone.base_url, "registrationId": registration,
                                                      "data": sent})
        assert phone.t(key, lang="fi") in {n["body"] for n in _wait_for_notifications(phone, count)}
    shown_all = _notifications(phone)
    assert not [n for n in shown_all if "Pia" in n["body"] + n["title"]], shown_all
    assert {n["body"] for n in shown_all} == {phone.t(k, lang="fi") for k in PUSH_KEYS[1:]}

    # Tapping it: the worker's notificationclick opens clickTarget(data); headless Chromium
    # cannot tap a notification, so the same function is asked, then its page is opened.
    target = page.evaluate(
        "(data) => import('/shared/push_notice.js').then((m) => m.clickTarget(data, location.origin))",
        shown["data"])
    assert target == f"{phone.base_url}/#/messages?id={conversation_id}"
    page.goto(target)
    page.locator("#message-input").wait_for()
    assert page.url == target


@pytest.mark.parametrize("route", [
    "https://evil.example/#/messages", "//evil.example/#/home", "/api/my/data", "#/home",
    "javascript:alert(1)", "/?x=1#/home", "/other#/home", None, 42,
])
def test_a_notification_opens_only_a_page_of_the_app(phone: Phone, route: object) -> None:
    phone.open_login()
    target = phone.page.evaluate(
        "(data) => import('/shared/push_notice.js').then((m) => m.clickTarget(data, location.origin))",
        {"route": route})
    assert target == f"{phone.base_url}/#/home", target


def test_the_worker_caches_the_shell_and_never_case_data(phone: Phone) -> None:
    username, conversation_id = _fresh_client(phone.base_url)
    _sign_in(phone, username)
    page = phone.page
    _worker_ready(phone)
    page.reload()  # now the worker controls the page and sees its requests
    phone.settled()
    assert page.evaluate("() => Boolean(navigator.serviceWorker.controller)")
    page.locator(f'#messages-card [data-conversation-id="{conversation_id}"] a').click()
    page.locator("#message-input").wait_for()
    page.locator("#message-input").fill(f"cached? {secrets.token_hex(4)}")
    page.locator("#send-button").click()
    page.goto(f"{phone.base_url}/#/home")
    phone.settled()
    kept = page.evaluate("""async () => {
        const out = {};
        for (const name of await caches.keys()) {
          const cache = await caches.open(name);
          out[name] = (await cache.keys()).map((r) => r.url);
        }
        return out;
    }""")
    assert set(kept) == {"tandem-shell-v1", "tandem-settings"}, kept
    assert kept["tandem-settings"] == [f"{phone.base_url}/tandem-settings/language"]
    shell = kept["tandem-shell-v1"]
    assert f"{phone.base_url}/shared/app.js" in shell and f"{phone.base_url}/" in shell
    assert f"{phone.base_url}/shared/messaging.js" in shell, "modules are kept as they load"
    for url in shell:
        assert url.startswith(f"{phone.base_url}/"), url
        path = url.removeprefix(phone.base_url)
        assert not path.startswith(("/api/", "/ws")), url
        assert path == "/" or path.rsplit(".", 1)[-1] in ("js", "css", "json", "png", "svg", "webmanifest"), url

    # With no network the app still starts from the shell (and says it cannot reach Tandem).
    page.context.set_offline(True)
    try:
        page.reload()
        page.locator("main h1").wait_for()
    finally:
        page.context.set_offline(False)
