"""Attachments in a conversation, through the UI only: a client on a 360 px phone takes a
photo and chooses a PDF; a file of the wrong type and one over the server's limit are
refused with the catalog text and the server's reason, and the message being typed stays;
their officer on a desktop sees the photo inline and downloads the PDF. The API is used
only to open a fresh case (enrolled, met in person, so messaging is open and the demo's own
conversations stay as test_web_messaging expects them) and to check what the server holds."""

from __future__ import annotations

import secrets
import struct
import urllib.request
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.support import Phone, api_call, api_login, assert_phone_friendly, open_case
from tests.browser.test_web_axe import assert_no_violations

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
LIVE_MS = 15_000
LIMIT = 5 * 1024 * 1024  # the server's default TANDEM_ATTACHMENT_MAX_BYTES
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TYPED = "Here is my payslip, and the letter"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG (8-bit truecolour), written here so the test needs no image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def fresh_client(base_url: str, name: str) -> str:
    """A new client of the demo officer's, enrolled and met in person: their username."""
    username, link = open_case(base_url, name)
    api_call(base_url, "POST", "/api/enrol", body={"code": link.split("code=", 1)[1], "password": PASSWORD})
    officer = api_login(base_url, "officer")
    cases = api_call(base_url, "GET", "/api/caseload", officer)["cases"]
    case_id = next(c["case_id"] for c in cases if c["client"]["display_name"] == name)
    met_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    api_call(base_url, "POST", f"/api/cases/{case_id}/face-to-face", officer,
             {"met_at": met_at, "location": "Office"})
    return username


def choose(device: Phone, button: str, name: str, mime: str, data: bytes) -> None:
    """Tap one of the composer's buttons and pick a file in the chooser it opens."""
    with device.page.expect_file_chooser() as chooser:
        device.page.locator(button).click()
    chooser.value.set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


def attachment(device: Phone, content_type: str) -> Any:
    return device.page.locator(f'#messages > li .attachment[data-type="{content_type}"]')


def loaded(image: Any) -> bool:
    return bool(image.evaluate("(img) => img.complete && img.naturalWidth > 0"))


def test_client_attaches_a_photo_and_a_pdf_and_the_officer_sees_them(
        tandem_server: str, open_device: Callable[..., Phone]) -> None:
    name = f"Liis Lepp {secrets.token_hex(2)}"
    username = fresh_client(tandem_server, name)
    photo = png(48, 32, (11, 79, 138))
    client = open_device(tandem_server)
    page = client.page
    client.open_login()
    client.submit_login(username, PASSWORD)
    page.locator("#logout").wait_for()
    client.settled()
    conversation_id = str(page.locator('#messages-card [data-kind="case"]').get_attribute("data-conversation-id"))
    page.locator('#messages-card [data-kind="case"] a').click()
    page.wait_for_url(f"**/#/messages?id={conversation_id}")
    page.locator("#message-input").wait_for()
    client.settled()
    page.locator("#message-input").fill(TYPED)
    expect(page.locator("#attach-photo")).to_have_text(client.t("attach.take_photo"))  # a phone: the camera too
    assert_no_violations(client, "client thread with the attachment buttons")

    # A wrong type and a file over the limit: refused, said why, nothing typed is lost.
    choose(client, "#attach-file", "notes.txt", "text/plain", b"just text")
    expect(page.locator("#attach-error")).to_contain_text(client.t("attach.wrong_type"))
    expect(page.locator("#attach-error .reason")).to_contain_text("image/jpeg")  # the server's reason
    expect(page.locator("#message-input")).to_have_value(TYPED)
    assert_no_violations(client, "client thread, a file refused")
    too_large = b"\x89PNG\r\n\x1a\n" + bytes(LIMIT)
    choose(client, "#attach-file", "huge.png", "image/png", too_large)
    expect(page.locator("#attach-error")).to_contain_text(client.t("attach.too_large"), timeout=30_000)
    expect(page.locator("#attach-error .reason")).to_contain_text(str(LIMIT))
    expect(page.locator("#message-input")).to_have_value(TYPED)
    expect(page.locator("#messages > li")).to_have_count(0)

    # On a slow connection the upload shows its progress, announced, and can be stopped.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 100, "downloadThroughput": -1, "uploadThroughput": 64 * 1024})
    choose(client, "#attach-file", "scan.pdf", "application/pdf", PDF + bytes(1024 * 1024))
    expect(page.locator("#attach-progress")).to_be_visible()
    expect(page.locator("#attach-status")).to_contain_text("scan.pdf")
    page.wait_for_function("() => document.querySelector('#attach-progress').value > 0")
    expect(page.locator("#attach-file")).to_be_disabled()  # one file at a time
    assert_no_violations(client, "client thread, a file being sent")
    page.locator("#attach-cancel").click()
    expect(page.locator("#attach-error")).to_have_text(client.t("attach.cancelled"))
    expect(page.locator("#attach-progress")).to_be_hidden()
    expect(page.locator("#attach-file")).to_be_focused()
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    # A photo from the camera, then a PDF: each sent as a message of its own.
    choose(client, "#attach-photo", "payslip.png", "image/png", photo)
    expect(page.locator("#attach-status")).to_have_text(client.t("attach.uploaded", name="payslip.png"))
    expect(page.locator("#attach-error")).to_be_empty()
    mine = attachment(client, "image/png")
    expect(mine.locator("img")).to_have_attribute("alt", client.t("attach.photo_alt_own"))
    expect(page.locator("#messages > li").first).to_have_attribute("data-state", "sent", timeout=LIVE_MS)
    choose(client, "#attach-file", "letter.pdf", "application/pdf", PDF)
    expect(attachment(client, "application/pdf").locator("a")).to_have_text(client.t("attach.download_pdf"))
    expect(page.locator("#messages > li")).to_have_count(2)
    expect(page.locator("#message-input")).to_have_value(TYPED)  # still there, to be sent on its own
    page.wait_for_function("() => [...document.querySelectorAll('.msg-photo')].every((i) => i.naturalWidth > 0)")
    assert_phone_friendly(client)
    assert_no_violations(client, "client thread with a photo and a PDF")

    # The officer, at a desk: the photo inline (fetched with the session's cookie), the PDF to download.
    officer = open_device(tandem_server, desktop=True)
    officer.login("officer")
    officer.page.locator("#open-inbox").click()
    officer.settled()
    officer.page.locator(f'#conversations [data-conversation-id="{conversation_id}"] a').click()
    officer.page.locator("#message-input").wait_for()
    officer.settled()
    expect(officer.page.locator("#attach-photo")).to_have_count(0)  # no camera button on a desktop
    expect(officer.page.locator("#attach-file")).to_be_visible()
    image = attachment(officer, "image/png").locator("img")
    expect(image).to_have_attribute("alt", officer.t("attach.photo_alt", name=name), timeout=LIVE_MS)
    officer.page.wait_for_function("() => document.querySelector('.msg-photo').naturalWidth === 48")
    assert loaded(image)
    with officer.page.expect_download() as download:
        attachment(officer, "application/pdf").locator("a").click()
    path = download.value.path()
    assert path is not None
    with open(path, "rb") as fh:
        assert fh.read() == PDF
    assert download.value.suggested_filename.endswith(".pdf")
    assert_no_violations(officer, "officer thread with a photo and a PDF (desktop)")

    # What the server holds: two messages, each naming its attachment, and the photo's bytes.
    token = api_login(tandem_server, "officer")
    stored = api_call(tandem_server, "GET", f"/api/conversations/{conversation_id}/messages?after_seq=0", token)
    bodies = [m["body"] for m in stored["messages"]]
    assert [b.split(" ", 1)[1] for b in bodies] == ["image/png", "application/pdf"], bodies
    assert all(b.startswith("attachment:") for b in bodies), bodies
    request = urllib.request.Request(f"{tandem_server}/api/attachments/{bodies[0].split()[0].split(':', 1)[1]}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.read() == photo
    for device in (client, officer):
        assert not device.csp_reports(), device.csp_reports()
        assert not device.page_errors, device.page_errors
