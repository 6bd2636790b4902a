"""The sweeper as a background task of the app (started and stopped through ``cleanup_ctx``).

It runs once every ``retention_sweep_interval_s`` (the first time one interval after
start, so a restart loop cannot hammer the database), and on every node it drops
keys that any node (or ``tandem retention run``) shredded from the in-memory key cache,
and the whole cache when the bus comes back from an outage. Running on several nodes
at once is safe: shredding and deleting are idempotent, each chunk is its own
transaction, and a key destroyed twice is destroyed once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import Gauge

from server.backup.service import check_lifetime
from server.retention.runner import SHRED_CHANNEL
from server.web.state import SERVICES

log = logging.getLogger(__name__)


async def sweeper(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    keyring = services.keyring
    # A backup key that outlives the shortest retention period would keep expired data readable in
    # backups longer than the data was kept: such a node does not start (issue 15).
    check_lifetime(services.settings.backup_key_lifetime_days, services.policy.engine.policies.retention)

    def forget(_channel: str, payload: bytes) -> None:
        keyring.forget_many(payload.decode().split(","))

    sub = await services.bus.subscribe(SHRED_CHANNEL, forget)
    # Back from an outage, the bus may have missed shred notices: nothing cached is trusted.
    callbacks = getattr(services.bus, "reconnect_callbacks", None)
    if callbacks is not None:
        callbacks.append(keyring.forget_all)
    task = None
    if services.settings.retention_sweep_enabled:
        Gauge("tandem_retention_sweep_interval_seconds", "How often this node's retention sweeper runs",
              registry=services.metrics).set(services.settings.retention_sweep_interval_s)
        # Set to the sweeper's start until a sweep has succeeded: the alert "no sweep in two intervals"
        # (deploy/prometheus/tandem-alerts.yml) then counts from the start, not from 1970.
        last = Gauge("tandem_retention_sweep_last_success_timestamp_seconds",
                     "When this node's retention sweeper last finished a sweep (or started, before its first)",
                     registry=services.metrics)
        last.set(services.clock.now().timestamp())
        task = asyncio.get_running_loop().create_task(_loop(app, last))
    yield
    sub.close()
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _loop(app: web.Application, last_success: Gauge) -> None:
    services = app[SERVICES]
    while True:
        await asyncio.sleep(services.settings.retention_sweep_interval_s)
        try:
            await services.retention.sweeper.run()
        except Exception:
            log.exception("retention sweep failed; the next run finishes it")
        else:
            last_success.set(services.clock.now().timestamp())
