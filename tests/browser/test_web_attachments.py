"""Attachments in a conversation, through the UI only: a client on a 360 px phone takes a
photo and chooses a PDF; a file of the wrong type and one over the server's limit are
refused with the catalog text and the server's reason, and the message being typed stays;
their officer on a desktop sees the photos inline and downloads the PDF; a programme
group's conversation offers no file buttons. Photos leave the phone redrawn, without their
EXIF GPS position, and a photo too large as it is still goes. The API is used only to open
a fresh case (enrolled, met in person, so messaging is open and the demo's own
conversations stay as test_web_messaging expects them) and to check what the server holds."""

from __future__ import annotations

import os
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
GPS = b"GPSLatitude 60.1699N GPSLongitude 24.9384E"
TYPED = "Here is my payslip, and the letter"


def png(width: int, height: int, rgb: tuple[int, int, int], rows: bytes | None = None) -> bytes:
    """A real PNG (8-bit truecolour), written here so the test needs no image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    line = width * 3
    pixels = rows if rows is not None else bytes(rgb) * width * height
    raw = b"".join(b"\x00" + pixels[y * line:(y + 1) * line] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1))
            + chunk(b"IEND", b""))


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: a large photo-like file."""
    return png(width, height, (0, 0, 0), rows=os.urandom(width * height * 3))


def camera_jpeg(device: Phone) -> bytes:
    """A JPEG as a phone's camera makes one: encoded by the browser (test data, not the app),
    with an EXIF segment that names where it was taken."""
    made = device.page.evaluate("""async () => {
      const canvas = document.createElement("canvas");
      canvas.width = 64; canvas.height = 48;
      const context = canvas.getContext("2d");
      context.fillStyle = "#0b4f8a"; context.fillRect(0, 0, 64, 48);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
      return [...new Uint8Array(await blob.arrayBuffer())];
    }""")
    jpeg = bytes(made)
    assert jpeg.startswith(b"\xff\xd8")
    exif = b"Exif\x00\x00" + GPS
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + jpeg[2:]


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


def download_attachment(base_url: str, token: str, attachment_id: str) -> bytes:
    request = urllib.request.Request(f"{base_url}/api/attachments/{attachment_id}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return bytes(resp.read())


def test_client_attaches_photos_and_a_pdf_and_the_officer_sees_them(
        tandem_server: str, open_device: Callable[..., Phone]) -> None:
    name = f"Liis Lepp {secrets.token_hex(2)}"
    username = fresh_client(tandem_server, name)
    screenshot = png(48, 32, (11, 79, 138))
    big_photo = noise_png(1800, 1100)  # over the server's limit as it is
    assert len(big_photo) > LIMIT
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
    expect(page.locator("#attach-error .reason")).to_contain_text("image/jpeg")  # the server's reason, worded
    expect(page.locator("#message-input")).to_have_value(TYPED)
    assert_no_violations(client, "client thread, a file refused")
    choose(client, "#attach-file", "huge.pdf", "application/pdf", PDF + bytes(LIMIT))
    expect(page.locator("#attach-error")).to_contain_text(client.t("attach.too_large"), timeout=30_000)
    expect(page.locator("#attach-error .reason")).to_contain_text("5 MB")  # the server's limit, in words
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

    # A photo from the camera, a screenshot, a photo too large as it is, a PDF: each a message.
    choose(client, "#attach-photo", "camera.jpg", "image/jpeg", camera_jpeg(client))
    expect(page.locator("#attach-status")).to_have_text(client.t("attach.uploaded", name="camera.jpg"))
    expect(page.locator("#attach-error")).to_be_empty()
    expect(attachment(client, "image/jpeg").locator("img")).to_have_attribute("alt", client.t("attach.photo_alt_own"))
    expect(page.locator("#messages > li").first).to_have_attribute("data-state", "sent", timeout=LIVE_MS)
    choose(client, "#attach-file", "screen.png", "image/png", screenshot)
    expect(attachment(client, "image/png")).to_have_count(1)
    choose(client, "#attach-file", "big.png", "image/png", big_photo)
    expect(attachment(client, "image/jpeg")).to_have_count(2, timeout=30_000)  # redrawn as a JPEG
    choose(client, "#attach-file", "letter.pdf", "application/pdf", PDF)
    expect(attachment(client, "application/pdf").locator("a")).to_have_text(client.t("attach.download_pdf"))
    expect(page.locator("#messages > li")).to_have_count(4)
    expect(page.locator("#message-input")).to_have_value(TYPED)  # still there, to be sent on its own
    page.wait_for_function("() => [...document.querySelectorAll('.msg-photo')].every((i) => i.naturalWidth > 0)")
    assert_phone_friendly(client)
    assert_no_violations(client, "client thread with photos and a PDF")

    # The officer, at a desk: photos inline (fetched with the session's cookie), the PDF to download.
    officer = open_device(tandem_server, desktop=True)
    officer.login("officer")
    officer.page.locator("#open-inbox").click()
    officer.settled()
    officer.page.locator(f'#conversations [data-conversation-id="{conversation_id}"] a').click()
    officer.page.locator("#message-input").wait_for()
    officer.settled()
    expect(officer.page.locator("#attach-photo")).to_have_count(0)  # no camera button on a desktop
    expect(officer.page.locator("#attach-file")).to_be_visible()
    photos = officer.page.locator("#messages .msg-photo")
    expect(photos).to_have_count(3, timeout=LIVE_MS)
    for index in range(3):
        expect(photos.nth(index)).to_have_attribute("alt", officer.t("attach.photo_alt", name=name))
    officer.page.wait_for_function(
        "() => [...document.querySelectorAll('.msg-photo')].map((i) => i.naturalWidth).join() === '64,48,1800'")
    with officer.page.expect_download() as download:
        attachment(officer, "application/pdf").locator("a").click()
    path = download.value.path()
    assert path is not None
    with open(path, "rb") as fh:
        assert fh.read() == PDF
    assert download.value.suggested_filename.endswith(".pdf")
    assert_no_violations(officer, "officer thread with photos and a PDF (desktop)")

    # What the server holds: a message naming each attachment; the camera's photo without its GPS.
    token = api_login(tandem_server, "officer")
    stored = api_call(tandem_server, "GET", f"/api/conversations/{conversation_id}/messages?after_seq=0", token)
    bodies = [m["body"] for m in stored["messages"]]
    assert [b.split(" ", 1)[1] for b in bodies] == ["image/jpeg", "image/png", "image/jpeg", "application/pdf"]
    assert all(b.startswith("attachment:") for b in bodies), bodies
    held = [download_attachment(tandem_server, token, b.split()[0].split(":", 1)[1]) for b in bodies]
    assert held[0].startswith(b"\xff\xd8\xff") and GPS not in held[0]
    assert held[1] == screenshot
    assert held[2].startswith(b"\xff\xd8\xff") and len(held[2]) < LIMIT
    assert held[3] == PDF
    for device in (client, officer):
        assert not device.csp_reports(), device.csp_reports()
        assert not device.page_errors, device.page_errors


def test_a_programme_group_conversation_takes_text_only(phone: Phone) -> None:
    """Attachments are kept under one case's keys: a group's conversation offers no file buttons."""
    name = f"Mart Mets {secrets.token_hex(2)}"
    username = fresh_client(phone.base_url, name)
    # A facilitator of the test's own: the demo facilitator keeps its one group for the other tests.
    facilitator_name = f"facilitator{secrets.token_hex(4)}"
    api_call(phone.base_url, "POST", "/api/admin/users", api_login(phone.base_url, "admin"), {
        "username": facilitator_name, "display_name": "Group Facilitator", "role": "facilitator",
        "password": PASSWORD})
    facilitator = api_login(phone.base_url, facilitator_name, PASSWORD)
    group_id = api_call(phone.base_url, "POST", "/api/groups", facilitator,
                        {"name": f"Attachments {secrets.token_hex(2)}", "programme": "Thinking Skills"})["id"]
    officer = api_login(phone.base_url, "officer")
    cases = api_call(phone.base_url, "GET", "/api/caseload", officer)["cases"]
    case_id = next(c["case_id"] for c in cases if c["client"]["display_name"] == name)
    api_call(phone.base_url, "POST", f"/api/groups/{group_id}/participants", officer, {"case_id": case_id})
    phone.open_login()
    phone.submit_login(username, PASSWORD)
    phone.page.locator("#logout").wait_for()
    phone.settled()
    phone.page.locator('#messages-card [data-kind="group"] a').click()
    phone.page.locator("#message-input").wait_for()
    phone.settled()
    expect(phone.page.locator("#attach-file")).to_have_count(0)
    expect(phone.page.locator("#attach-photo")).to_have_count(0)
    phone.page.locator("#back-to-list").click()
    phone.page.locator('#conversations [data-kind="case"] a').click()
    phone.page.locator("#message-input").wait_for()
    expect(phone.page.locator("#attach-file")).to_be_visible()
