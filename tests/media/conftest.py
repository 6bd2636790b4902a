"""Media tests: real aiortc peers against a real Tandem server, ICE pinned to 127.0.0.1.

The echo peer touches no case data, so these run on SQLite only (the database is only
where the signed-in user lives); check-in signalling tests use ``db_url`` for both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.clock import FakeClock
from server.media.ice import pin_host_addresses
from server.web.state import SERVICES, Services
from tests.conftest import make_settings
from tests.helpers import world

LOOPBACK = ("127.0.0.1",)


@pytest.fixture(autouse=True)
def _loopback_only() -> Any:
    pin_host_addresses(LOOPBACK)
    yield
    pin_host_addresses(())


@pytest.fixture
async def media_app(tmp_path: Path, sqlite_url: str, aiohttp_client: Any) -> Any:
    """make(**settings) -> (client, services, world) of a server whose echo peers use 127.0.0.1."""

    async def make(**overrides: Any) -> tuple[TestClient[Any, Any], Services, world.World]:
        settings = make_settings(sqlite_url, tmp_path, media_host_addresses=LOOPBACK, **overrides)
        app = create_app(settings, clock=FakeClock())
        client = await aiohttp_client(app)
        services = app[SERVICES]
        return client, services, await world.build(services)

    return make
