"""Attachments to conversations: upload, encrypted at rest, member-only download.

Design note. A client photographs a payslip or a letter from a landlord and sends it
to their officer. The file is client data: it is encrypted under the conversation
case's ``attachments`` bucket key (case, month), so retention shreds it with its
bucket (GDPR art. 5(1)(e), 17), and every download is audited like every other read
of a client's data. Only three types are taken (JPEG, PNG, PDF) and the first bytes
must match the declared type, so a script cannot be uploaded as an image; downloads
are always ``Content-Disposition: attachment`` with ``nosniff``. Conversation
membership is the fence, answering 404 for "no such attachment" and "not yours"
alike. A message refers to an attachment by carrying ``attachment:<id>`` in its body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.cases.service import CaseService, refuse
from server.clock import Clock
from server.crypto.keyring import Keyring, KeyShredded
from server.errors import BadRequest, NotFound, PayloadTooLarge, RateLimited, UnsupportedMediaType
from server.identity.model import Actor
from server.ids import new_id
from server.mentoring.model import refuse_after_period
from server.messaging import store as messaging_store
from server.messaging.model import Kind, attachment_aad, refuse_closed
from server.messaging.service import member_conversation
from server.policy.facts import READ_MENTORING, WRITE_MENTORING
from server.store.schema import attachments
from server.store.tx import Store

CATEGORY = "attachments"

#: The media types we take, each with the signatures its files start with.
MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
}
CONTENT_TYPES = tuple(MAGIC)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


@dataclass(frozen=True)
class Attachment:
    id: str
    conversation_id: str
    uploader_id: str
    content_type: str
    size: int
    created_at: datetime

    @property
    def filename(self) -> str:
        return f"{self.id}.{EXTENSIONS[self.content_type]}"


def check_content(content_type: str, data: bytes, *, max_bytes: int) -> None:
    """Refuse a body whose type is not allowed, whose size is wrong, or whose first
    bytes do not match its declared type."""
    if content_type not in MAGIC:
        raise UnsupportedMediaType(f"Attachments are one of: {', '.join(CONTENT_TYPES)}",
                                   reason="attachment.type", params={"types": ", ".join(CONTENT_TYPES)})
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"Attachments are limited to {max_bytes} bytes",
                              reason="attachment.too_large", params={"max_bytes": max_bytes})
    if not data:
        raise BadRequest("The attachment is empty", reason="attachment.empty")
    if not data.startswith(MAGIC[content_type]):
        raise BadRequest(f"The file's content is not {content_type}",
                         reason="attachment.content_mismatch", params={"type": content_type})


class AttachmentService:
    def __init__(
        self,
        store_: Store,
        clock: Clock,
        keyring: Keyring,
        cases: CaseService,
        *,
        max_bytes: int = 5 * 1024 * 1024,
        max_concurrent: int = 8,
    ) -> None:
        self.store = store_
        self.clock = clock
        self.keyring = keyring
        self.cases = cases
        self.max_bytes = max_bytes
        self.max_concurrent = max_concurrent
        self._in_progress = 0

    @asynccontextmanager
    async def upload_slot(self) -> AsyncIterator[None]:
        """Bound the uploads held in memory at once (each up to ``max_bytes``, twice over
        with its ciphertext); a client over the bound is told to retry shortly."""
        if self._in_progress >= self.max_concurrent:
            raise RateLimited("Too many uploads in progress; try again in a moment", retry_after=1.0)
        self._in_progress += 1
        try:
            yield
        finally:
            self._in_progress -= 1

    async def _writable(self, conn: AsyncConnection, actor: Actor, conversation_id: str) -> Any:
        """The conversation, if the actor is a member who may send content to it now."""
        row = await member_conversation(conn, actor, conversation_id)
        refuse_closed(row)
        refuse_after_period(self.cases.policy.evaluate, actor, row, WRITE_MENTORING, self.clock.now())
        if row.case_id is None:
            raise BadRequest("Attachments belong to case conversations", reason="attachment.case_only")
        if row.kind == Kind.CASE.value:
            # An attachment is content, like a text message: face_to_face_first applies.
            view = await self.cases.view(conn, row.case_id)
            refuse(self.cases.decide(actor, "send_message", view, message_kind="text"))
        return row

    async def may_upload(self, actor: Actor, conversation_id: str) -> None:
        """Checked before the body is read, so a non-member cannot make us buffer one."""
        async with self.store.read("attachment.may_upload") as conn:
            await self._writable(conn, actor, conversation_id)

    async def upload(self, actor: Actor, conversation_id: str, content_type: str, data: bytes) -> Attachment:
        check_content(content_type, data, max_bytes=self.max_bytes)
        now = self.clock.now()
        attachment_id = new_id()
        async with self.store.write("attachment.upload") as conn:
            row = await self._writable(conn, actor, conversation_id)
            key_id, blob = await self.keyring.encrypt(
                conn,
                case_id=row.case_id,
                category=CATEGORY,
                at=now,
                plaintext=data,
                aad=attachment_aad(attachment_id, conversation_id, content_type),
            )
            await insert(
                conn,
                id=attachment_id,
                conversation_id=conversation_id,
                uploader_id=actor.user_id,
                case_id=row.case_id,
                content_type=content_type,
                size=len(data),
                key_id=key_id,
                body=blob,
                created_at=now,
            )
            await audit.append(
                conn,
                at=now,
                actor_id=actor.user_id,
                action="attachment.upload",
                target_type="attachment",
                target_id=attachment_id,
                case_id=row.case_id,
                details={"conversation_id": conversation_id, "content_type": content_type, "size": len(data)},
            )
        return Attachment(attachment_id, conversation_id, actor.user_id, content_type, len(data), now)

    async def read(self, actor: Actor, attachment_id: str) -> tuple[Attachment, bytes]:
        """The attachment and its plaintext, for a member of its conversation (audited)."""
        async with self.store.write("attachment.read") as conn:
            row = await by_id(conn, attachment_id)
            if row is None or await messaging_store.membership(conn, row.conversation_id, actor.user_id) is None:
                raise NotFound("No such attachment")
            conversation = await messaging_store.conversation(conn, row.conversation_id)
            refuse_after_period(self.cases.policy.evaluate, actor, conversation, READ_MENTORING, self.clock.now())
            try:
                data = await self.keyring.decrypt(
                    conn, key_id=row.key_id, blob=row.body,
                    aad=attachment_aad(row.id, row.conversation_id, row.content_type),
                )
            except KeyShredded:
                raise NotFound("No such attachment") from None  # shredded by retention: it no longer exists
            await audit.append(
                conn,
                at=self.clock.now(),
                actor_id=actor.user_id,
                action="attachment.read",
                target_type="attachment",
                target_id=row.id,
                case_id=row.case_id,
                details={"conversation_id": row.conversation_id},
            )
        meta = Attachment(row.id, row.conversation_id, row.uploader_id, row.content_type, int(row.size), row.created_at)
        return meta, data


# -- SQL (the attachments table only) ------------------------------------------------


async def insert(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(attachments.insert().values(**values))


async def by_id(conn: AsyncConnection, attachment_id: str) -> Any:
    return (await conn.execute(select(attachments).where(attachments.c.id == attachment_id))).first()
