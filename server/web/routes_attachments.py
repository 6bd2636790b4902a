"""Attachments over HTTP: upload a raw body into a conversation, download it back.

The app-wide ``client_max_size`` (64 KiB) is for JSON; an upload is read here from
``request.content`` in chunks under its own limit (``attachment_max_bytes``), and a
body over it is refused with 413 as soon as it is seen to be too large.
"""

from __future__ import annotations

from aiohttp import web
from msgspec import Struct

from server.errors import PayloadTooLarge
from server.messaging.attachments import CONTENT_TYPES
from server.web.routes_messaging import CONVERSE
from server.web.routing import Call, Registry
from server.web.state import SERVICES

CHUNK_BYTES = 64 * 1024
#: Downloads are files, never documents of ours: no scripts, no plugins, no framing.
DOWNLOAD_CSP = "default-src 'none'; sandbox"


class AttachmentOut(Struct, kw_only=True):
    id: str
    content_type: str
    size: int


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refused with 413 when it is (or says it is) over ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"Attachments are limited to {limit} bytes",
                              reason="attachment.too_large", params={"max_bytes": limit})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Attachments are limited to {limit} bytes",
                                  reason="attachment.too_large", params={"max_bytes": limit})
        chunks.append(chunk)
    return b"".join(chunks)


def register(api: Registry) -> None:
    @api.route("POST", "/api/conversations/{conversation_id}/attachments", permission=CONVERSE,
               summary="Upload a JPEG, PNG or PDF to a conversation (encrypted at rest, audited)",
               raw_body=CONTENT_TYPES, response=AttachmentOut, status=201, tag="messaging")
    async def upload(call: Call[None]) -> AttachmentOut:
        services = call.request.app[SERVICES]
        conversation_id = call.param("conversation_id")
        await services.attachments.may_upload(call.actor, conversation_id)
        async with services.attachments.upload_slot():
            data = await read_body(call.request, services.attachments.max_bytes)
            made = await services.attachments.upload(call.actor, conversation_id, call.request.content_type, data)
        return AttachmentOut(id=made.id, content_type=made.content_type, size=made.size)

    @api.route("GET", "/api/attachments/{attachment_id}", permission=CONVERSE,
               summary="Download an attachment of one of my conversations (audited read)",
               raw_response=CONTENT_TYPES, tag="messaging")
    async def download(call: Call[None]) -> web.Response:
        meta, data = await call.request.app[SERVICES].attachments.read(call.actor, call.param("attachment_id"))
        return web.Response(
            body=data,
            content_type=meta.content_type,
            headers={
                "Content-Disposition": f'attachment; filename="{meta.filename}"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": DOWNLOAD_CSP,
            },
        )
