"""ICE for the server's own aiortc peers: explicit servers, and which host addresses to offer.

aiortc reaches for a public STUN server (stun.l.google.com) when it is given no ICE servers,
and this deployment's networks have none: every ``RTCPeerConnection`` the server makes gets
an explicit list (possibly empty: host candidates only) through ``configuration``.

aioice gathers host candidates on every interface except loopback and has no per-connection
option to choose them. ``pin_host_addresses`` replaces its address lookup for the whole
process with a fixed list (setting ``TANDEM_MEDIA_HOST_ADDRESSES``): tests and the bench pin
127.0.0.1 so no packet leaves the machine; a node with several interfaces pins the one
browsers can reach. Empty: aioice's own choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

_ORIGINAL: Callable[..., list[str]] = aioice.ice.get_host_addresses


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def as_json(self) -> dict[str, object]:
        """As a browser's ``RTCIceServer`` dictionary."""
        out: dict[str, object] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


def configuration(servers: Iterable[IceServer] = ()) -> RTCConfiguration:
    """An aiortc configuration with exactly these ICE servers (an empty list, never None)."""
    return RTCConfiguration(iceServers=[RTCIceServer(urls=list(s.urls), username=s.username,
                                                     credential=s.credential) for s in servers])


def pin_host_addresses(addresses: Sequence[str]) -> None:
    """Offer only ``addresses`` as host candidates, process-wide; ``()`` restores aioice's lookup."""
    pinned = list(addresses)
    if not pinned:
        aioice.ice.get_host_addresses = _ORIGINAL
        return

    def fixed(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in pinned if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = fixed
