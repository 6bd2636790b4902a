"""Shared fixtures. ``db_url`` runs a test on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.bus.base import Bus
from server.clock import FakeClock
from server.settings import REPO_ROOT, Settings
from server.web.state import SERVICES, Services
from tests.helpers import db
from tests.helpers.services import require_postgres

TEST_KEK = base64.b64decode(base64.b64encode(bytes(range(32))))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return db.sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    require_postgres()
    name = db.pg_name()
    url = db.create_pg_database(name)
    yield url
    db.drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield db.sqlite_copy(sqlite_template, tmp_path)
        return
    url: str = request.getfixturevalue("pg_database")
    await db.truncate_pg(url)
    yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    return db.sqlite_copy(sqlite_template, tmp_path)


def make_settings(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    base = Settings(database_url=db_url, data_dir=tmp_path, kek=TEST_KEK, cookie_secure=False,
                    require_staff_mfa=False, policies_dir=REPO_ROOT / "policies", log_json=False,
                    reminder_interval_s=24 * 3600)  # no background reminder pass mid-test: tests call run_once()
    return base.with_(**overrides) if overrides else base


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


AppFactory = Callable[..., Any]


@pytest.fixture
async def app_factory(tmp_path: Path, db_url: str, clock: FakeClock,
                      aiohttp_client: Any) -> AppFactory:
    """Start a real aiohttp server on this test's database; returns (client, services). Called
    twice with a RedisBus each (one prefix), it gives two nodes of one deployment."""

    async def make(*, bus: Bus | None = None, **overrides: Any) -> tuple[TestClient[Any, Any], Services]:
        app: web.Application = create_app(make_settings(db_url, tmp_path, **overrides), clock=clock, bus=bus)
        client = await aiohttp_client(app)
        return client, app[SERVICES]

    return make


@pytest.fixture
async def api(app_factory: AppFactory) -> tuple[TestClient[Any, Any], Services]:
    result: tuple[TestClient[Any, Any], Services] = await app_factory()
    return result
