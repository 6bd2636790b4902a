"""Messaging over the /ws gateway: send, receipts, replay on resume, and resume after a bus gap."""

from __future__ import annotations

from server.errors import BadRequest
from server.messaging.model import REPLAY_LIMIT, MessageKind, message_frame
from server.messaging.service import MessagingService
from server.web.frames import Ack, Error, Hello, Receipt, Resync, Send
from server.web.gateway import CLOSE_RESUME, Connection, Gateway


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
                        # a refusal names its rule (a mentor after the mentoring period: issue 16)
                        rule_id=getattr(err, "rule_id", None),
                        reason=getattr(err, "reason", None),
                    )
                )
                continue
            for m in missed:
                conn.send(message_frame(m))
            if missed and missed[-1].seq < last:
                conn.send(Resync(conversation_id=conversation_id, after_seq=missed[-1].seq))

    def on_bus_reconnect() -> None:
        """While the bus was away this node's connections missed what other nodes published (and
        what this node failed to publish). All of it was stored first: each connection is closed
        with CLOSE_RESUME, reconnects, and its hello.resume replays what it missed."""
        gateway.close_all(CLOSE_RESUME, "message bus reconnected: reconnect and resume")

    gateway.on(Send, on_send)
    gateway.on(Receipt, on_receipt)
    gateway.hello_hooks.append(on_hello)
    # Only a bus that can lose messages (Redis) has reconnect callbacks.
    callbacks = getattr(messaging.bus, "reconnect_callbacks", None)
    if callbacks is not None:
        callbacks.append(on_bus_reconnect)
