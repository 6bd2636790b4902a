"""Messaging over the /ws gateway: send, receipts, and replay on resume."""

from __future__ import annotations

from server.errors import BadRequest
from server.messaging.model import REPLAY_LIMIT, MessageKind, message_frame
from server.messaging.service import MessagingService
from server.web.frames import Ack, Error, Hello, Receipt, Resync, Send
from server.web.gateway import Connection, Gateway


def register(gateway: Gateway, messaging: MessagingService) -> None:
    async def on_send(conn: Connection, frame: Send) -> None:
        ack = await messaging.send(
            conn.auth.actor, frame.conversation_id, frame.id, frame.body, MessageKind(frame.kind)
        )
        conn.send(Ack(id=ack.id, conversation_id=ack.conversation_id, seq=ack.seq, sent_at=ack.sent_at))

    async def on_receipt(conn: Connection, frame: Receipt) -> None:
        await messaging.receipt(conn.auth.actor, frame.conversation_id, frame.seq, frame.status)

    async def on_hello(conn: Connection, frame: Hello) -> None:
        """Replay, in order and once, what the client missed in each conversation it names."""
        for conversation_id, held in frame.resume.items():
            try:
                missed, last = await messaging.history(
                    conn.auth.actor, conversation_id, after_seq=held, limit=REPLAY_LIMIT, via="resume"
                )
            except BadRequest as err:  # a seq from the future: say so, replay nothing
                conn.send(Error(code="invalid_resume", message=err.message, ref=conversation_id))
                continue
            except Exception as err:  # not a member, or gone: the other conversations still resume
                conn.send(
                    Error(
                        code=getattr(err, "code", "internal_error"),
                        message="Cannot resume this conversation",
                        ref=conversation_id,
                    )
                )
                continue
            for m in missed:
                conn.send(message_frame(m))
            if missed and missed[-1].seq < last:
                conn.send(Resync(conversation_id=conversation_id, after_seq=missed[-1].seq))

    gateway.on(Send, on_send)
    gateway.on(Receipt, on_receipt)
    gateway.hello_hooks.append(on_hello)
