"""Web Push (RFC 8030, 8291, 8292) for members who are not connected.

Design note. A phone in a pocket has no open WebSocket; a push wakes its service
worker so it can show "you have a new message". The push says only that: its payload
is ``{"type": "new_message", "conversation_id": ...}``, never a body, a sender or a
name, because a lock screen can be read by whoever holds the phone (in a domestic
violence case, possibly the person the client must be protected from). The payload is
encrypted to the browser anyway (aes128gcm, RFC 8291), signed with our VAPID key (RFC
8292), and sent with a short TTL so a phone that was off for a day is not woken by
stale news.

Pushes are sent off the request path: ``message_stored`` only queues a job (bounded;
a full queue drops the job and counts it, the message itself is stored and syncs on
the next connection). A new message is pushed to the members it did not reach live:
the bus says how many subscribers each publish reached, on any node, and a member
whose ``user.<id>`` channel nobody subscribed has no open connection anywhere. Only
when the bus failed (nobody knows who was reached) does this node fall back to the
presence its own gateway knows, and check it again at delivery time; a member
connected to another node is then pushed anyway (a spurious wake-up that carries
nothing); see docs/operations.md. Endpoints are capability URLs on the browser
vendors' push services: only hosts on an allow-list are accepted (we POST to them, so
anything else would be a server-side request forgery), redirects are not followed,
endpoints are never logged, and subscriptions that answer 404 or 410 are deleted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import CollectorRegistry, Counter
from py_vapid import Vapid02
from pywebpush import WebPusher
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.audit import store as audit
from server.clock import Clock
from server.errors import BadRequest, Conflict
from server.identity.model import Actor
from server.ids import new_id
from server.messaging.model import StoredMessage
from server.store.schema import push_subscriptions, users
from server.store.tx import Store

log = logging.getLogger("tandem.push")

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
GONE = frozenset({404, 410})  # the subscription expired or was withdrawn: forget it
VAPID_LIFETIME_S = 12 * 3600  # RFC 8292 allows up to 24 h


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VapidKey:
    """Our application server key: ECDSA P-256, public half given to browsers."""

    def __init__(self, private: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private.curve, ec.SECP256R1):
            raise ValueError("a VAPID key is EC P-256")
        self._vapid = Vapid02(private_key=private)
        point = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_key = b64url(point)  # applicationServerKey for PushManager.subscribe

    @classmethod
    def from_pem(cls, pem: bytes) -> VapidKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("a VAPID key is EC P-256")
        return cls(key)

    @classmethod
    def ephemeral(cls) -> VapidKey:
        """For a server built without a key file (tests): subscriptions die with the process."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    def authorization(self, endpoint: str, subject: str, now: float) -> str:
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": subject, "exp": int(now) + VAPID_LIFETIME_S}
        headers: dict[str, str] = self._vapid.sign(claims)
        return headers["Authorization"]


# -- validation (pure) ---------------------------------------------------------------


def check_endpoint(endpoint: str, hosts: tuple[str, ...], *, allow_loopback_http: bool) -> None:
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise BadRequest("endpoint is not a URL") from None
    if parts.username is not None or parts.password is not None:
        raise BadRequest("endpoint may not carry credentials")
    if allow_loopback_http and host in LOOPBACK and parts.scheme in ("http", "https"):
        return
    if parts.scheme != "https":
        raise BadRequest("endpoint must be an https URL")
    if not any(host == h or host.endswith("." + h) for h in hosts):
        raise BadRequest(f"endpoint is not on a known push service ({', '.join(hosts)})")


def check_keys(p256dh: str, auth: str) -> None:
    """The browser's ECDH P-256 public key and 16-byte auth secret (RFC 8291 section 3)."""
    try:
        point, secret = unb64url(p256dh), unb64url(auth)
    except (binascii.Error, ValueError):
        raise BadRequest("keys are base64url") from None
    if len(secret) != 16:
        raise BadRequest("keys.auth must be 16 bytes")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise BadRequest("keys.p256dh is not a P-256 public key") from None
    if len(point) != 65:
        raise BadRequest("keys.p256dh must be an uncompressed P-256 point")


def payload(conversation_id: str) -> bytes:
    """All a push ever says. No body, no sender, no names."""
    return msgspec.json.encode({"type": "new_message", "conversation_id": conversation_id})


def topic(conversation_id: str) -> str:
    """RFC 8030 Topic: a newer push replaces an undelivered one for the same conversation.
    Hashed, because the push service sees it in clear."""
    return b64url(hashlib.sha256(b"tandem-push|" + conversation_id.encode()).digest()[:24])


# -- the service -----------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    conversation_id: str
    recipients: tuple[str, ...]
    data: bytes | None = None  # another feature's content-free payload (reminders); default: new_message
    topic: str | None = None
    # Recipients chosen from this node's presence: check it again at delivery. Not when the bus
    # said who was reached: a member online on another node is offline here.
    recheck_local: bool = True


class PushService:
    def __init__(
        self,
        store_: Store,
        clock: Clock,
        vapid: VapidKey,
        *,
        subject: str,
        ttl_s: int,
        hosts: tuple[str, ...],
        allow_loopback_http: bool = False,
        is_online: Callable[[str], bool] = lambda _user_id: False,
        registry: CollectorRegistry | None = None,
        queue_limit: int = 1000,
        workers: int = 2,
        timeout_s: float = 10.0,
        max_subscriptions: int = 10,
    ) -> None:
        self.store = store_
        self.clock = clock
        self.vapid = vapid
        self.subject = subject
        self.ttl_s = ttl_s
        self.hosts = hosts
        self.allow_loopback_http = allow_loopback_http
        self.is_online = is_online
        self.timeout_s = timeout_s
        self.max_subscriptions = max_subscriptions
        self.workers = workers
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=queue_limit)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._pushes = Counter("tandem_push_total", "Web Push deliveries by result", ["result"],
                               registry=registry if registry is not None else CollectorRegistry())

    # -- subscriptions ---------------------------------------------------------------

    async def subscribe(self, actor: Actor, endpoint: str, p256dh: str, auth: str) -> None:
        """Store the browser's subscription for the actor. An endpoint belongs to one user:
        on a shared phone the last person to subscribe it gets its pushes."""
        check_endpoint(endpoint, self.hosts, allow_loopback_http=self.allow_loopback_http)
        check_keys(p256dh, auth)
        now = self.clock.now()
        async with self.store.write("push.subscribe") as conn:
            existing = await subscription_by_endpoint(conn, endpoint)
            if existing is None:
                if await subscription_count(conn, actor.user_id) >= self.max_subscriptions:
                    raise Conflict(
                        f"At most {self.max_subscriptions} devices receive notifications; turn one off first"
                    )
                sub_id = new_id()
                await insert_subscription(
                    conn, id=sub_id, user_id=actor.user_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now
                )
            else:
                sub_id = str(existing.id)
                await update_subscription(conn, sub_id, user_id=actor.user_id, p256dh=p256dh, auth=auth)
            await audit.append(conn, at=now, actor_id=actor.user_id, action="push.subscribe",
                               target_type="push_subscription", target_id=sub_id)

    async def unsubscribe(self, actor: Actor, endpoint: str) -> None:
        """Forget the actor's subscription for this endpoint; nothing to forget is not an error."""
        async with self.store.write("push.unsubscribe") as conn:
            existing = await subscription_by_endpoint(conn, endpoint)
            if existing is None or existing.user_id != actor.user_id:
                return
            await delete_subscription(conn, str(existing.id))
            await audit.append(conn, at=self.clock.now(), actor_id=actor.user_id, action="push.unsubscribe",
                               target_type="push_subscription", target_id=str(existing.id))

    # -- queueing (called on the request path: never blocks) ---------------------------

    def message_stored(self, message: StoredMessage, member_ids: list[str], reached: set[str] | None) -> None:
        """A hook for MessagingService: queue a push to every other member the message did not
        reach live on any node. ``reached`` None (the bus failed): whoever has no open
        connection on this node, checked again when the worker delivers."""
        # Most sends reach everyone live, and then queue nothing.
        live = self.is_online if reached is None else reached.__contains__
        recipients = tuple(m for m in member_ids if m != message.sender_id and not live(m))
        if not recipients:
            return
        try:
            self._queue.put_nowait(Job(message.conversation_id, recipients, recheck_local=reached is None))
        except asyncio.QueueFull:
            self._pushes.labels("dropped").inc()
            log.warning("push queue full; notification dropped")

    def notify(self, recipients: tuple[str, ...], data: dict[str, str], topic_key: str, *,
               recheck_local: bool = True) -> None:
        """Queue a content-free push of another feature (a reminder). ``data`` must carry no case
        content; ``topic_key`` is hashed like a conversation id. ``recheck_local``: the caller
        does not know who is online, so whoever is online on this node then is skipped; False
        when the bus already said no node has them online."""
        try:
            self._queue.put_nowait(Job(topic_key, recipients, msgspec.json.encode(data), topic(topic_key),
                                       recheck_local=recheck_local))
        except asyncio.QueueFull:
            self._pushes.labels("dropped").inc()
            log.warning("push queue full; notification dropped")

    # -- delivery ----------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            connector=aiohttp.TCPConnector(limit=32),
        )
        self._tasks = [asyncio.create_task(self._worker(), name=f"push-{i}") for i in range(self.workers)]

    async def drain(self) -> None:
        """Wait until every queued job has been delivered or given up (tests, shutdown)."""
        await self._queue.join()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _worker(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._deliver(job)
            except Exception:  # one bad job must not stop the worker
                log.exception("push delivery failed")
            finally:
                self._queue.task_done()

    async def _deliver(self, job: Job) -> None:
        if job.recheck_local:
            offline = [user_id for user_id in job.recipients if not self.is_online(user_id)]
        else:
            offline = list(job.recipients)
        if not offline:
            return
        async with self.store.read("push.targets") as conn:
            subs = await subscriptions_of(conn, offline)
        if not subs:
            return
        data = job.data if job.data is not None else payload(job.conversation_id)
        topic_ = job.topic or topic(job.conversation_id)
        results = await asyncio.gather(*(self._send(s, data, topic_) for s in subs))
        gone = [str(s.id) for s, status in zip(subs, results, strict=True) if status in GONE]
        if gone:
            async with self.store.write("push.expire") as conn:
                for sub_id in gone:
                    await delete_subscription(conn, sub_id)

    async def _send(self, sub: Any, data: bytes, topic_: str) -> int | None:
        """POST one encrypted push; the HTTP status, or None when the service was unreachable."""
        assert self._session is not None, "PushService.start() was not called"
        host = urlsplit(sub.endpoint).hostname
        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        try:
            body = WebPusher(info).encode(data, "aes128gcm")["body"]
            authorization = self.vapid.authorization(sub.endpoint, self.subject, self.clock.now().timestamp())
        except Exception:  # one subscription's bad keys must not stop the others
            self._pushes.labels("refused").inc()
            log.exception("push not encrypted or signed", extra={"host": host})
            return None
        headers = {
            "Authorization": authorization,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self.ttl_s),
            "Urgency": "normal",
            "Topic": topic_,
        }
        try:
            async with self._session.post(sub.endpoint, data=body, headers=headers, allow_redirects=False) as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as err:
            self._pushes.labels("unreachable").inc()
            log.warning("push service unreachable", extra={"host": host, "error": type(err).__name__})
            return None
        result = "sent" if 200 <= status < 300 else "gone" if status in GONE else "refused"
        self._pushes.labels(result).inc()
        if result == "refused":
            log.warning("push refused", extra={"host": host, "status": status})
        return status


# -- SQL (the push_subscriptions table only) ------------------------------------------


async def subscription_by_endpoint(conn: AsyncConnection, endpoint: str) -> Any:
    return (
        await conn.execute(select(push_subscriptions).where(push_subscriptions.c.endpoint == endpoint))
    ).first()


async def subscription_count(conn: AsyncConnection, user_id: str) -> int:
    return int(
        (
            await conn.execute(
                select(func.count()).select_from(push_subscriptions).where(push_subscriptions.c.user_id == user_id)
            )
        ).scalar_one()
    )


async def insert_subscription(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(push_subscriptions.insert().values(**values))


async def update_subscription(conn: AsyncConnection, sub_id: str, **values: Any) -> None:
    await conn.execute(update(push_subscriptions).where(push_subscriptions.c.id == sub_id).values(**values))


async def delete_subscription(conn: AsyncConnection, sub_id: str) -> None:
    await conn.execute(delete(push_subscriptions).where(push_subscriptions.c.id == sub_id))


async def subscriptions_of(conn: AsyncConnection, user_ids: list[str]) -> list[Any]:
    """Subscriptions of these users, leaving out disabled accounts."""
    return list(
        (
            await conn.execute(
                select(push_subscriptions)
                .join(users, users.c.id == push_subscriptions.c.user_id)
                .where(push_subscriptions.c.user_id.in_(user_ids), users.c.disabled.is_(False))
            )
        ).all()
    )
