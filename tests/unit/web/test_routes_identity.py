from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import SettingsError, from_env
from server.web.routes_identity import forwarded_client

NGINX = ("10.0.0.0/24",)


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert forwarded_client("203.0.113.5", ["198.51.100.7"], ()) == "203.0.113.5"
    assert forwarded_client("10.0.0.2", ["198.51.100.7"], ("10.0.0.3/32",)) == "10.0.0.2"


def test_behind_a_trusted_proxy_the_hop_it_appended_is_the_client() -> None:
    assert forwarded_client("10.0.0.2", ["198.51.100.7"], NGINX) == "198.51.100.7"
    # What the client wrote itself, to the left, is ignored: it cannot pick its own address.
    assert forwarded_client("10.0.0.2", ["1.2.3.4, 198.51.100.7"], NGINX) == "198.51.100.7"
    assert forwarded_client("10.0.0.2", ["1.2.3.4", "198.51.100.7"], NGINX) == "198.51.100.7"
    # Through two trusted proxies.
    assert forwarded_client("10.0.0.2", ["198.51.100.7, 10.0.0.9"], NGINX) == "198.51.100.7"
    assert forwarded_client("10.0.0.2", ["2001:db8::1"], NGINX) == "2001:db8::1"


def test_a_missing_or_broken_header_counts_against_the_proxy() -> None:
    assert forwarded_client("10.0.0.2", [], NGINX) == "10.0.0.2"
    assert forwarded_client("10.0.0.2", ["not-an-address"], NGINX) == "10.0.0.2"
    assert forwarded_client("10.0.0.2", ["10.0.0.7"], NGINX) == "10.0.0.7"  # only proxies: the farthest one
    assert forwarded_client("unknown", ["198.51.100.7"], NGINX) == "unknown"


def test_trusted_proxies_setting(tmp_path: Path) -> None:
    env = {"TANDEM_DATA_DIR": str(tmp_path), "TANDEM_KEK": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}
    assert from_env(env).trusted_proxies == ()
    assert from_env({**env, "TANDEM_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/24,::1"}).trusted_proxies == (
        "127.0.0.1/32", "10.0.0.0/24", "::1/128")
    with pytest.raises(SettingsError, match="TANDEM_TRUSTED_PROXIES"):
        from_env({**env, "TANDEM_TRUSTED_PROXIES": "nginx"})
