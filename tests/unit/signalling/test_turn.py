from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.clock import FakeClock
from server.settings import SettingsError, from_env
from server.signalling.turn import TurnConfig, credential, ice_servers, username_for, valid

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CONFIG = TurnConfig(turn_urls=("turn:turn.example.org:3478?transport=udp",), stun_urls=("stun:turn.example.org",),
                    secret="s3cret", ttl_s=600)


def test_coturn_rest_scheme() -> None:
    servers, expires = ice_servers(CONFIG, "user-1", NOW)
    assert expires == NOW + timedelta(seconds=600)
    stun, turn = servers
    assert stun.urls == ("stun:turn.example.org",) and stun.username is None
    assert turn.username == f"{int(expires.timestamp())}:user-1"
    expected = base64.b64encode(hmac.new(b"s3cret", turn.username.encode(), hashlib.sha1).digest()).decode()
    assert turn.credential == expected


def test_credentials_expire_with_the_clock() -> None:
    clock = FakeClock(NOW)
    (_, turn), _ = ice_servers(CONFIG, "user-1", clock.now())
    assert turn.username is not None and turn.credential is not None
    assert valid("s3cret", turn.username, turn.credential, clock.now())
    clock.advance(599)
    assert valid("s3cret", turn.username, turn.credential, clock.now())
    clock.advance(1)
    assert not valid("s3cret", turn.username, turn.credential, clock.now())


def test_wrong_secret_or_tampered_username_fails() -> None:
    username = username_for("user-1", NOW + timedelta(hours=1))
    password = credential("s3cret", username)
    assert not valid("other", username, password, NOW)
    assert not valid("s3cret", username.replace("user-1", "user-2"), password, NOW)
    assert not valid("s3cret", "no-expiry", password, NOW)
    assert not valid("s3cret", "soon:user-1", password, NOW)


def test_relay_only_drops_stun() -> None:
    servers, _ = ice_servers(CONFIG, "u", NOW, relay_only=True)
    assert [s.urls for s in servers] == [CONFIG.turn_urls]


def test_nothing_configured_is_an_explicit_empty_list() -> None:
    servers, _ = ice_servers(TurnConfig(), "u", NOW)
    assert servers == ()


@pytest.mark.parametrize("kwargs", [
    {"turn_urls": ("http://x",), "secret": "s"},
    {"stun_urls": ("turn:x",)},
    {"turn_urls": ("turn:x",)},
    {"ttl_s": 10},
    {"ttl_s": 100_000},
])
def test_bad_config_fails_when_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"turn:|STUN|secret|lifetime"):
        TurnConfig(**kwargs)  # type: ignore[arg-type]


def test_secret_not_in_repr() -> None:
    assert "s3cret" not in repr(CONFIG)


def test_settings_refuse_turn_urls_without_a_secret(tmp_path: Path) -> None:
    env = {"TANDEM_DEMO": "1", "TANDEM_DATA_DIR": str(tmp_path), "TANDEM_TURN_URLS": "turn:turn.example.org"}
    with pytest.raises(SettingsError, match="TANDEM_TURN_SECRET"):
        from_env(env)
    secret = tmp_path / "turn.secret"
    secret.write_text("from-a-file\n")
    settings = from_env(env | {"TANDEM_TURN_SECRET_FILE": str(secret), "TANDEM_STUN_URLS": "stun:a, stun:b"})
    assert settings.turn_secret == "from-a-file" and settings.stun_urls == ("stun:a", "stun:b")
    assert "from-a-file" not in repr(settings)
