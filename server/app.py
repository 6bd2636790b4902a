"""The composition root: ``create_app(settings)`` builds and wires everything.

No logic lives here. Background work starts and stops through ``cleanup_ctx``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from prometheus_client import CollectorRegistry

from server.alerts.service import AlertService
from server.bus.base import Bus
from server.bus.memory import MemoryBus
from server.bus.redis import RedisBus
from server.cases.service import CaseService
from server.checkins.service import CheckinService
from server.clock import Clock, SystemClock
from server.crypto.keyring import Keyring
from server.evaluation.service import EvaluationService
from server.groups.attendance import AttendanceService
from server.groups.feedback import GroupFeedback
from server.groups.links import GroupLinkService
from server.groups.reminders import GroupReminders
from server.groups.rooms import RoomService
from server.groups.safe_space import GroupSafeSpace
from server.groups.service import GroupService
from server.groups.sessions import GroupSessionService
from server.identity.passwords import Passwords
from server.identity.ratelimit import LoginLimiter
from server.identity.service import IdentityService
from server.media.quality import Advisor
from server.media.sfu import Sfu
from server.mentoring.service import MentoringService
from server.messaging.attachments import AttachmentService
from server.messaging.push import PushService, VapidKey
from server.messaging.service import MessagingService
from server.networks.joining import NetworkMeetingJoining
from server.networks.live import NetworkMeetingHost
from server.networks.reminders import NetworkReminders
from server.networks.service import NetworkService
from server.policy.service import CHANNEL as POLICY_CHANNEL
from server.policy.service import PolicyService
from server.retention import background as retention_background
from server.retention.runner import Sweeper
from server.retention.service import RetentionService
from server.scheduling.model import WindowSettings
from server.scheduling.reminders import ReminderService
from server.scheduling.service import SchedulingService
from server.settings import Settings
from server.signalling.homes import RoomHomes
from server.signalling.turn import TurnConfig
from server.store.engine import make_engine
from server.store.tx import Store
from server.web import (
    api,
    room_router,
    routes_admin,
    routes_alerts,
    routes_attachments,
    routes_cases,
    routes_checkins,
    routes_evaluation,
    routes_group_calendar,
    routes_group_feedback,
    routes_group_links,
    routes_group_safe_space,
    routes_group_sessions,
    routes_groups,
    routes_identity,
    routes_media,
    routes_mentoring,
    routes_messaging,
    routes_network_meetings,
    routes_networks,
    routes_push,
    routes_retention,
    routes_rooms,
    routes_scheduling,
    routes_system,
    ws_group,
    ws_media,
    ws_messaging,
    ws_signalling,
)
from server.web.gateway import Gateway
from server.web.http import HttpMetrics, add_security_headers, make_edge_middleware
from server.web.routing import Registry
from server.web.state import SERVICES, Services

GATEWAY = web.AppKey("gateway", Gateway)


def build_registry() -> Registry:
    registry = Registry()
    routes_identity.register(registry)
    routes_cases.register(registry)
    routes_admin.register(registry)
    routes_messaging.register(registry)
    routes_attachments.register(registry)
    routes_push.register(registry)
    routes_groups.register(registry)
    routes_retention.register(registry)
    routes_scheduling.register(registry)
    routes_media.register(registry)
    routes_checkins.register(registry)
    routes_alerts.register(registry)
    routes_group_sessions.register(registry)
    routes_group_safe_space.register(registry)
    routes_group_feedback.register(registry)
    routes_group_calendar.register(registry)
    routes_group_links.register(registry)
    routes_mentoring.register(registry)
    routes_networks.register(registry)
    routes_network_meetings.register(registry)
    routes_rooms.register(registry)
    routes_evaluation.register(registry)
    return registry


def create_app(
    settings: Settings, *, clock: Clock | None = None, bus: Bus | None = None, passwords: Passwords | None = None
) -> web.Application:
    clock = clock or SystemClock()
    metrics = CollectorRegistry()
    engine = make_engine(settings.database_url)
    store = Store(engine, metrics)
    bus = bus or (RedisBus(settings.redis_url) if settings.redis_url else MemoryBus())
    passwords = passwords or Passwords(workers=settings.hash_workers)
    limiter = LoginLimiter(
        per_source=settings.login_limit_per_source,
        per_account=settings.login_limit_per_account,
        per_address=settings.login_limit_per_address,
        window_s=settings.login_window_s,
        account_window_s=settings.login_account_window_s,
        max_block_s=settings.login_max_block_s,
    )
    keyring = Keyring(settings.kek, ttl_s=settings.key_cache_ttl_s, ttl_bus_down_s=settings.key_cache_ttl_bus_down_s,
                      bus_healthy=lambda: bus.healthy)
    policy = PolicyService(store, clock, settings.policies_dir, bus)
    identity = IdentityService(store, clock, passwords, limiter, settings, policy)
    cases = CaseService(store, clock, keyring, policy, identity)
    messaging = MessagingService(store, clock, keyring, cases, bus)
    groups = GroupService(store, clock, policy)
    attachments = AttachmentService(store, clock, keyring, cases, max_bytes=settings.attachment_max_bytes)
    gateway = Gateway(frame_rate=settings.ws_frame_rate, frame_burst=settings.ws_frame_burst)
    vapid = VapidKey.from_pem(settings.vapid_private_key) if settings.vapid_private_key else VapidKey.ephemeral()
    push = PushService(store, clock, vapid, subject=settings.vapid_subject, ttl_s=settings.push_ttl_s,
                       hosts=settings.push_hosts, allow_loopback_http=settings.push_allow_loopback_http,
                       is_online=gateway.online, registry=metrics)
    messaging.sent_hooks.append(push.message_stored)
    sweeper = Sweeper(store, clock, keyring, policy, bus, chunk_rows=settings.retention_chunk_rows,
                      pause_ratio=settings.retention_pause_ratio)
    retention = RetentionService(store, clock, policy, cases, sweeper,
                                 backup_key_lifetime_days=settings.backup_key_lifetime_days)
    # -- scheduling and video check-ins (issue 4)
    windows = WindowSettings(open_before=timedelta(seconds=settings.join_open_before_s),
                             close_after=timedelta(seconds=settings.join_close_after_s))
    scheduling = SchedulingService(store, clock, keyring, cases, windows=windows,
                                   reminder_offsets=settings.reminder_offsets_s)
    reminders = ReminderService(store, clock, bus, push, offsets=settings.reminder_offsets_s)
    turn = TurnConfig(turn_urls=settings.turn_urls, stun_urls=settings.stun_urls, secret=settings.turn_secret,
                      ttl_s=settings.turn_ttl_s)
    alerts = AlertService(store, clock, cases, bus, push)  # issue 13: staff are told wherever they are
    checkins = CheckinService(store, clock, keyring, cases, policy, identity, bus, turn, alerts)
    # A video appointment's check-in opens, moves and is cancelled with it; its outcome is the appointment's.
    scheduling.video_scheduled_hooks.append(checkins.on_video_scheduled)
    scheduling.video_changed_hooks.append(checkins.on_video_changed)
    checkins.outcome_hooks.append(scheduling.record_outcome_in)
    # -- several nodes (issue 15): each room's home is leased in the database; frames reach it over the bus
    node_id = settings.node_id or f"{socket.gethostname() or 'local'}-{uuid.uuid4().hex[:8]}"
    homes = RoomHomes(store, node_id, lease_s=settings.room_lease_s, registry=metrics)
    signalling = ws_signalling.Signalling(gateway, checkins, clock, homes, grace_s=settings.checkin_grace_s,
                                          max_participants=settings.checkin_max_participants, alerts=alerts,
                                          registry=metrics)
    router = room_router.RoomRouter(gateway, signalling, bus, node_id)
    # -- group programme sessions (issue 14)
    group_sessions = GroupSessionService(store, clock, cases, policy, windows=windows)
    attendance = AttendanceService(store, clock, keyring, cases, group_sessions)
    group_safe_space = GroupSafeSpace(store, clock, keyring, group_sessions)
    group_feedback = GroupFeedback(store, clock, keyring, group_sessions)
    # Group sessions are reminded in the appointments' reminder pass, with its offsets, bus and push.
    reminders.also.append(GroupReminders(store, clock, bus, push, offsets=settings.reminder_offsets_s).run_once)
    rooms = RoomService(store, clock, identity, group_sessions)
    group_links = GroupLinkService(store, clock, identity, group_sessions)
    # One SFU per node; its id is the home node a session records when its media starts here.
    sfu = Sfu(capacity=settings.sfu_capacity, node_id=node_id)
    group_live = ws_group.GroupLive(gateway, group_sessions, attendance, sfu, clock, homes)
    signalling.also.append(group_live.homing)  # group sessions' leases renew and drain with the check-ins'
    router.remote_close_hooks.append(group_live.on_close)
    # -- case networks (issue 16)
    networks = NetworkService(store, clock, keyring, cases, policy, push=push.notify, windows=windows)
    # Network meetings are reminded in the appointments' reminder pass too, with its offsets and push.
    reminders.also.append(NetworkReminders(store, clock, push, networks, offsets=settings.reminder_offsets_s).run_once)
    # A network meeting by video is a live session on the group session machine, room and SFU.
    network_meetings = NetworkMeetingJoining(store, clock, keyring, networks, windows=windows)
    group_live.hosts.append(NetworkMeetingHost(network_meetings))
    mentoring = MentoringService(store, clock, keyring, cases)
    evaluation = EvaluationService(store, clock, keyring, checkins)
    registry = build_registry()
    services = Services(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        keyring=keyring,
        identity=identity,
        policy=policy,
        cases=cases,
        messaging=messaging,
        attachments=attachments,
        push=push,
        groups=groups,
        metrics=metrics,
        registry=registry,
        retention=retention,
        scheduling=scheduling,
        reminders=reminders,
        checkins=checkins,
        alerts=alerts,
        group_sessions=group_sessions,
        attendance=attendance,
        group_safe_space=group_safe_space,
        group_feedback=group_feedback,
        group_links=group_links,
        rooms=rooms,
        networks=networks,
        network_meetings=network_meetings,
        mentoring=mentoring,
        evaluation=evaluation,
    )

    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[make_edge_middleware(HttpMetrics(metrics))]
    )
    app[SERVICES] = services
    ws_messaging.register(gateway, messaging)
    signalling.register()
    ws_media.register(gateway, signalling, Advisor())  # call-quality advice after stats samples
    group_live.register()
    router.register()  # after the rooms' handlers: it wraps them
    app[ws_signalling.SIGNALLING] = signalling
    app[room_router.ROUTER] = router
    app[ws_group.GROUP_LIVE] = group_live
    app[GATEWAY] = gateway
    app.on_response_prepare.append(add_security_headers)
    app.on_response_prepare.append(routes_system.node_header(settings.port))
    api.mount(app, registry.routes)
    app.router.add_get("/ws", gateway.handle)
    routes_system.register(app, settings.web_root)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_drain)  # SIGTERM: hand this node's rooms over, then close the sockets
    app.on_shutdown.append(_close_sockets)
    app.cleanup_ctx.append(routes_push.background)
    app.cleanup_ctx.append(retention_background.sweeper)
    app.cleanup_ctx.append(routes_scheduling.background)
    # -- media: the device-test echo peers, closed when the app stops
    app[routes_rooms.PAIRING_FLOOD] = routes_rooms.pairing_flood()
    app[routes_rooms.CLAIM_FLOOD] = routes_rooms.claim_flood()
    app[routes_media.ECHO] = routes_media.make_host(host_addresses=settings.media_host_addresses,
                                                    max_peers=settings.echo_max_peers,
                                                    lifetime_s=settings.echo_lifetime_s)
    app.cleanup_ctx.append(routes_media.background)
    app.cleanup_ctx.append(ws_signalling.background)
    app.cleanup_ctx.append(room_router.background)
    app.cleanup_ctx.append(ws_group.background)  # closes the SFU's peers when the app stops
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await services.bus.start()
    await services.policy.load()
    await services.networks.index_tasks()  # stage-4 plans written before network_tasks existed
    sub = await services.bus.subscribe(POLICY_CHANNEL, lambda _c, _d: _reload_soon(services))
    yield
    sub.close()
    await services.messaging.pipeline.close()  # sends queued at shutdown are stored before the engine goes
    await services.bus.close()
    await services.store.engine.dispose()
    services.store.close()  # the SQLite writer thread of group commit
    services.identity.passwords.close()


async def _drain(app: web.Application) -> None:
    """No new rooms here; every room of this node released for another node to claim, its
    participants told to reconnect (docs/cluster.md), within ``drain_timeout_s``."""
    timeout = app[SERVICES].settings.drain_timeout_s
    # What is left after the timeout lapses with its lease and is taken over all the same.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(app[ws_signalling.SIGNALLING].drain(), timeout)
    await app[room_router.ROUTER].flush(timeout_s=2.0)
    for conn in list(app[GATEWAY].connections):
        await conn.flush(grace_s=1.0)


async def _close_sockets(app: web.Application) -> None:
    """Tell every WebSocket client to reconnect (1001) as shutdown begins, not after aiohttp's
    grace period for open connections has run out."""
    for conn in list(app[GATEWAY].connections):
        with contextlib.suppress(Exception):
            await conn.ws.close(code=1001, message=b"server shutting down")


def _reload_soon(services: Services) -> None:
    task = asyncio.get_running_loop().create_task(services.policy.reload())
    task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)
