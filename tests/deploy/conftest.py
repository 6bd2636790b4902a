"""The ``cluster`` fixture: the stack of deploy/ running on this machine (tests/helpers/cluster.py),
started once for the package's tests and always torn down; a world of users seeded into its database
through the action functions (an in-process app on the same PostgreSQL, with the cluster's KEK)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from server.app import create_app
from server.identity import totp
from server.identity.model import Actor, Role
from server.identity.passwords import Passwords
from server.web.state import SERVICES
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
    conversation: str = ""  # officer <-> client case conversation
    users: dict[str, str] = field(default_factory=dict)


async def _seed(cluster: Cluster, data_dir: Path) -> Seeded:
    settings = make_settings(cluster.database_url, data_dir, kek=cluster.kek)
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
        officer_id = await ident.create_user(None, username=seeded.officer, display_name="Officer",
                                             role=Role.OFFICER, office_id=office, password=PASSWORD)
        senior = Actor(senior_id, "cluster_senior", "Senior", Role.SENIOR_OFFICER, office, "en", False)
        officer = Actor(officer_id, seeded.officer, "Officer", Role.OFFICER, office, "en", False)
        secret, _uri = await ident.totp_begin(officer)
        # Confirmed with the previous step's code, so the sign-in through nginx uses another one.
        await ident.totp_confirm(officer, totp.code_at(secret, time.time() - 30))
        seeded.totp_secret = secret
        for username in (seeded.client, seeded.browser_client):
            created = await cases.create_case(senior, client_username=username, client_display_name=username.title(),
                                              officer_id=officer_id, password=PASSWORD)
            await cases.record_face_to_face(senior, created.case_id, met_at=now - timedelta(days=1),
                                            location="Cluster Office")
            seeded.users[username] = created.client_id
        seeded.users[seeded.officer] = officer_id
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
    return db._in_thread(lambda: asyncio.run(_seed(cluster, data_dir)))
