"""The ``cluster`` fixture: the stack of deploy/ running on this machine (tests/helpers/cluster.py),
started once for the package's tests and always torn down; a world of users seeded into its database
through the action functions (an in-process app on the same PostgreSQL and Redis, with the cluster's
KEK), with a video check-in starting now for each browser test (``Seeded.calls``). The seed also sets
the safe_space policy's ``force_relay_for_staff``, as an admin would: staff in every check-in of these
tests connect only through the cluster's coturn."""

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
class Call:
    """A video check-in starting now, one per browser test (a TOTP code is good for one sign-in): its
    officer (second factor enrolled), client, the check-in's id and the client's link."""

    officer: str
    client: str
    totp_secret: str = ""
    checkin: str = ""
    path: str = ""


#: The browser check-ins of the package: name -> (officer, client).
CALLS = {"checkin": ("cluster_officer2", "cluster_client3"),  # test_cluster_checkin.py
         "kill": ("cluster_officer3", "cluster_client4"),  # test_cluster_takeover.py
         "drain": ("cluster_officer4", "cluster_client5")}


@dataclass
class Seeded:
    officer: str = "cluster_officer"
    client: str = "cluster_client"
    browser_client: str = "cluster_client2"
    totp_secret: str = ""  # the officer's enrolled second factor
    calls: dict[str, Call] = field(default_factory=dict)
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
        seeded.users[seeded.officer] = officer.user_id

        async def client_of(by: Actor, username: str) -> str:
            created = await cases.create_case(senior, client_username=username, client_display_name=username.title(),
                                              officer_id=by.user_id, password=PASSWORD)
            await cases.record_face_to_face(senior, created.case_id, met_at=now - timedelta(days=1),
                                            location="Cluster Office")
            seeded.users[username] = created.client_id
            return created.case_id

        for username in (seeded.client, seeded.browser_client):
            await client_of(officer, username)
        for name, (officer_name, client_name) in CALLS.items():
            call = seeded.calls[name] = Call(officer_name, client_name)
            host, call.totp_secret = await _officer(services, officer_name, office)
            seeded.users[officer_name] = host.user_id
            case_id = await client_of(host, client_name)
            checkin = await services.checkins.schedule_checkin(host, case_id, now, now + timedelta(hours=1))
            call.checkin = str(checkin.row.id)
            code, _expires = await services.checkins.issue_link(host, call.checkin)
            call.path = f"/#/checkin?c={call.checkin}&code={code}"
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
