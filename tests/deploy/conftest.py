"""The ``cluster`` fixture: the stack of deploy/ running on this machine (tests/helpers/cluster.py),
started once for the package's tests and always torn down; a world of users seeded into its database
through the action functions (an in-process app on the same PostgreSQL and Redis, with the cluster's
KEK). The seed also sets the safe_space policy's ``force_relay_for_staff``, as an admin would: staff in
every check-in of these tests connect only through the cluster's coturn."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from aiohttp import web

from server.app import create_app
from server.identity import totp
from server.identity.model import Actor, Role
from server.identity.passwords import Passwords
from server.web.state import SERVICES, Services
from tests.conftest import make_settings
from tests.helpers import db
from tests.helpers.cluster import Cluster, ClusterError, missing_tools
from tests.helpers.netns import unavailable

PASSWORD = "correct horse battery"


@dataclass
class Seeded:
    officer: str = "cluster_officer"
    client: str = "cluster_client"
    browser_client: str = "cluster_client2"
    totp_secret: str = ""  # the officer's enrolled second factor
    # A video check-in starting now: its officer (TOTP enrolled), client, the id and the client's link
    checkin_officer: str = "cluster_officer2"
    checkin_client: str = "cluster_client3"
    checkin_totp_secret: str = ""
    checkin: str = ""
    checkin_path: str = ""
    users: dict[str, str] = field(default_factory=dict)


async def _officer(services: Services, username: str, office: str) -> tuple[Actor, str]:
    """An officer with a second factor enrolled: (actor, TOTP secret)."""
    user_id = await services.identity.create_user(None, username=username, display_name=username.title(),
                                                  role=Role.OFFICER, office_id=office, password=PASSWORD)
    officer = Actor(user_id, username, username.title(), Role.OFFICER, office, "en", False)
    secret, _uri = await services.identity.totp_begin(officer)
    # Confirmed with the previous step's code, so the sign-in through nginx uses another one.
    await services.identity.totp_confirm(officer, totp.code_at(secret, time.time() - 30))
    return officer, secret


async def _seed(cluster: Cluster, data_dir: Path) -> Seeded:
    # On the cluster's Redis, so that the policy change below reaches the running nodes (they adopt it).
    settings = make_settings(cluster.database_url, data_dir, kek=cluster.kek, redis_url=cluster.redis_url)
    app = create_app(settings, passwords=Passwords(memory_cost=8, time_cost=1))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        services = app[SERVICES]
        seeded = Seeded()
        ident, cases, now = services.identity, services.cases, services.clock.now()
        office = await ident.create_office(None, "Cluster Office")
        senior_id = await ident.create_user(None, username="cluster_senior", display_name="Senior",
                                            role=Role.SENIOR_OFFICER, office_id=office, password=PASSWORD)
        senior = Actor(senior_id, "cluster_senior", "Senior", Role.SENIOR_OFFICER, office, "en", False)
        officer, seeded.totp_secret = await _officer(services, seeded.officer, office)
        officer2, seeded.checkin_totp_secret = await _officer(services, seeded.checkin_officer, office)
        for username, by in ((seeded.client, officer), (seeded.browser_client, officer),
                             (seeded.checkin_client, officer2)):
            created = await cases.create_case(senior, client_username=username, client_display_name=username.title(),
                                              officer_id=by.user_id, password=PASSWORD)
            await cases.record_face_to_face(senior, created.case_id, met_at=now - timedelta(days=1),
                                            location="Cluster Office")
            seeded.users[username] = created.client_id
        seeded.users[seeded.officer] = officer.user_id
        seeded.users[seeded.checkin_officer] = officer2.user_id
        checkin = await services.checkins.schedule_checkin(officer2, created.case_id, now, now + timedelta(hours=1))
        seeded.checkin = str(checkin.row.id)
        code, _expires = await services.checkins.issue_link(officer2, seeded.checkin)
        seeded.checkin_path = f"/#/checkin?c={seeded.checkin}&code={code}"
        # Staff connect only through TURN (the shipped coturn): what an admin sets in the policy screen.
        admin_id = await ident.create_user(None, username="cluster_admin", display_name="Admin", role=Role.ADMIN,
                                           office_id=office, password=PASSWORD)
        admin = Actor(admin_id, "cluster_admin", "Admin", Role.ADMIN, office, "en", False)
        config = msgspec.to_builtins(services.policy.engine.policies.rules["safe_space"])
        await services.policy.change_rule(admin, "safe_space", {**config, "force_relay_for_staff": True},
                                          "cluster tests: staff relay through coturn")
        return seeded
    finally:
        await runner.cleanup()


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = missing_tools()
    if missing:
        unavailable(f"the cluster needs {', '.join(missing)} (run `make cluster-tools services coturn`)")
    try:
        stack = Cluster().__enter__()
    except ClusterError as error:
        pytest.fail(f"the cluster did not start: {error}")
    try:
        yield stack
        dead = [name for name, up in stack.alive().items() if not up]
        assert not dead, f"stopped during the tests: {dead}\n" + "\n".join(stack.proc(n).tail() for n in dead)
        for port in stack.node_ports:
            log = stack.proc(f"tandem@{port}").log.read_text(errors="replace")
            assert "Traceback" not in log, f"tandem@{port} logged a traceback:\n{log[-4000:]}"
    finally:
        stack.stop()


@pytest.fixture(scope="package")
def seeded(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    data_dir = tmp_path_factory.mktemp("cluster-seed")
    seeded = db._in_thread(lambda: asyncio.run(_seed(cluster, data_dir)))
    deadline = time.monotonic() + 30
    for node in range(len(cluster.node_ports)):  # every node adopted the policy change (over Redis)
        while "version 2" not in _readyz(cluster.node_url(node)):
            assert time.monotonic() < deadline, f"node {node} did not adopt policy version 2"
            time.sleep(0.2)
    return seeded


def _readyz(url: str) -> str:
    with urllib.request.urlopen(f"{url}/readyz", timeout=10) as resp:  # loopback only
        return str(resp.read().decode())
