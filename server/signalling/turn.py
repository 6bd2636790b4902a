"""TURN credentials in coturn's REST-API scheme (pure).

coturn (``use-auth-secret`` with ``static-auth-secret``, deploy/coturn/turnserver.conf)
accepts ``username = "<expiry unix seconds>:<user>"`` with
``credential = base64(HMAC-SHA1(secret, username))`` until the expiry, without any
call between Tandem and coturn ("A REST API for Access To TURN Services",
draft-uberti-behave-turn-rest-00). The secret never leaves the server; a credential
stops working on its own.

ICE servers are always explicit: with nothing configured the list is empty, never
absent, so no peer reaches for a default public STUN server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import msgspec

from server.signalling.protocol import IceServer


class TurnConfig(msgspec.Struct, frozen=True, kw_only=True):
    turn_urls: tuple[str, ...] = ()
    stun_urls: tuple[str, ...] = ()
    secret: str = msgspec.field(default="")
    ttl_s: int = 3600

    def __post_init__(self) -> None:
        for url in self.turn_urls:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"TURN URL {url!r} must start with turn: or turns:")
        for url in self.stun_urls:
            if not url.startswith(("stun:", "stuns:")):
                raise ValueError(f"STUN URL {url!r} must start with stun: or stuns:")
        if self.turn_urls and not self.secret:
            raise ValueError("TURN URLs need the shared secret (TANDEM_TURN_SECRET)")
        if not 60 <= self.ttl_s <= 86_400:
            raise ValueError("the TURN credential lifetime must be between 60 s and 24 h")

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"TurnConfig(turn_urls={self.turn_urls!r}, stun_urls={self.stun_urls!r}, ttl_s={self.ttl_s})"


def credential(secret: str, username: str) -> str:
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1)  # coturn's scheme is HMAC-SHA1
    return base64.b64encode(mac.digest()).decode()


def username_for(user_id: str, expires_at: datetime) -> str:
    return f"{int(expires_at.timestamp())}:{user_id}"


def valid(secret: str, username: str, password: str, now: datetime) -> bool:
    """What coturn checks: the HMAC matches and the expiry in the username is still ahead."""
    expiry, sep, _user = username.partition(":")
    if not sep or not expiry.isdigit():
        return False
    if datetime.fromtimestamp(int(expiry), UTC) <= now:
        return False
    return hmac.compare_digest(credential(secret, username), password)


def ice_servers(config: TurnConfig, user_id: str, now: datetime, *, relay_only: bool = False
                ) -> tuple[tuple[IceServer, ...], datetime]:
    """The ICE servers one user gets, and when their TURN credential expires."""
    expires_at = now + timedelta(seconds=config.ttl_s)
    servers: list[IceServer] = []
    if config.stun_urls and not relay_only:
        servers.append(IceServer(urls=config.stun_urls))
    if config.turn_urls:
        username = username_for(user_id, expires_at)
        servers.append(IceServer(urls=config.turn_urls, username=username,
                                 credential=credential(config.secret, username)))
    return tuple(servers), expires_at
