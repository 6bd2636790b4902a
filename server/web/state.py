"""Typed application state: what ``create_app`` builds, handed to handlers."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from server.alerts.service import AlertService
from server.bus.base import Bus
from server.cases.service import CaseService
from server.checkins.service import CheckinService
from server.clock import Clock
from server.crypto.keyring import Keyring
from server.evaluation.service import EvaluationService
from server.groups.attendance import AttendanceService
from server.groups.feedback import GroupFeedback
from server.groups.links import GroupLinkService
from server.groups.rooms import RoomService
from server.groups.safe_space import GroupSafeSpace
from server.groups.service import GroupService
from server.groups.sessions import GroupSessionService
from server.identity.service import IdentityService
from server.mentoring.service import MentoringService
from server.messaging.attachments import AttachmentService
from server.messaging.push import PushService
from server.messaging.service import MessagingService
from server.networks.joining import NetworkMeetingJoining
from server.networks.service import NetworkService
from server.policy.service import PolicyService
from server.retention.service import RetentionService
from server.scheduling.reminders import ReminderService
from server.scheduling.service import SchedulingService
from server.settings import Settings
from server.store.tx import Store
from server.web.routing import Registry


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    store: Store
    bus: Bus
    keyring: Keyring
    identity: IdentityService
    policy: PolicyService
    cases: CaseService
    messaging: MessagingService
    attachments: AttachmentService
    push: PushService
    groups: GroupService
    metrics: CollectorRegistry
    registry: Registry
    retention: RetentionService
    # -- scheduling (issue 4)
    scheduling: SchedulingService
    reminders: ReminderService
    checkins: CheckinService  # issue 4
    alerts: AlertService  # issue 13
    # -- group programme sessions (issue 14)
    group_sessions: GroupSessionService
    attendance: AttendanceService
    group_safe_space: GroupSafeSpace  # the safe-space check before a live session
    group_feedback: GroupFeedback  # issue 16: "How did this go?" after a live session
    group_links: GroupLinkService
    rooms: RoomService
    networks: NetworkService  # issue 16: case networks (routes_networks.py)
    network_meetings: NetworkMeetingJoining  # a network meeting by video (routes_network_meetings.py)
    mentoring: MentoringService  # issue 16: mentoring periods
    evaluation: EvaluationService  # issue 16: evaluation figures and check-in feedback


SERVICES = web.AppKey("services", Services)
