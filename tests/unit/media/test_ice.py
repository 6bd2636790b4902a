"""server.media.ice: explicit ICE servers (never aiortc's public default) and pinned host addresses."""

from __future__ import annotations

from pathlib import Path

import aioice.ice
import pytest

from server.media.ice import IceServer, configuration, pin_host_addresses
from server.settings import SettingsError, from_env


def test_configuration_is_explicit_even_when_empty() -> None:
    assert configuration().iceServers == []  # None would make aiortc use stun.l.google.com
    turn = IceServer(urls=("turn:turn.example:3478?transport=udp",), username="1700000000:u", credential="c2VjcmV0")
    [server] = configuration([turn]).iceServers
    assert (server.urls, server.username, server.credential) == (list(turn.urls), turn.username, turn.credential)
    assert turn.as_json() == {"urls": list(turn.urls), "username": "1700000000:u", "credential": "c2VjcmV0"}
    assert IceServer(urls=("stun:stun.example",)).as_json() == {"urls": ["stun:stun.example"]}


def test_pinned_host_addresses_replace_aioices_lookup_and_unpin_restores_it() -> None:
    original = aioice.ice.get_host_addresses
    try:
        pin_host_addresses(("127.0.0.1", "::1"))
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=False, use_ipv6=True) == ["::1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
        pin_host_addresses(())
        assert aioice.ice.get_host_addresses is original
    finally:
        pin_host_addresses(())


def test_host_addresses_setting(tmp_path: Path) -> None:
    env = {"TANDEM_DEMO": "1", "TANDEM_DATA_DIR": str(tmp_path)}
    assert from_env(env).media_host_addresses == ()
    assert from_env({**env, "TANDEM_MEDIA_HOST_ADDRESSES": "127.0.0.1, ::1"}).media_host_addresses == (
        "127.0.0.1", "::1")
    with pytest.raises(SettingsError, match="TANDEM_MEDIA_HOST_ADDRESSES"):
        from_env({**env, "TANDEM_MEDIA_HOST_ADDRESSES": "localhost"})
