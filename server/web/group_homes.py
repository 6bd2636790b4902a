"""Group sessions on any node (issue 15): a live group session (or a network meeting by video) is
a room like a check-in's, with a home node leased in ``room_homes`` (kind ``group``;
server/signalling/homes.py). This is the part of ``GroupLive`` (server/web/ws_group.py) that
deals with the lease: the claim on a session's first join, the list the node renews with its
check-ins' leases (one statement, ``Signalling.renew``), a lease lost, the row forgotten when
the session is over, and the drain. Frames from participants on other nodes reach the home
through server/web/room_router.py; the SFU, and so the ICE candidates, are the home's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.errors import Unavailable
from server.groups.session_snapshot import Restored, dump, restore
from server.signalling import protocol as sp
from server.signalling.homes import Claim, RoomHomes
from server.web.ws_signalling import Moved

if TYPE_CHECKING:
    from server.web.ws_group import GroupLive, Hosted

log = logging.getLogger("tandem.groups.homes")


class GroupHoming:
    def __init__(self, live: GroupLive, homes: RoomHomes) -> None:
        self.live = live
        self.homes = homes
        self.draining = False

    async def claim(self, session_id: str) -> Claim:
        """Become the session's home, or say who is (``Moved``: the router forwards the join there)."""
        if self.draining:  # its sessions are being handed over: a new one belongs on another node
            raise Unavailable("This server is restarting; connect again in a moment", reason="node.draining")
        claim = await self.homes.claim(session_id, kind="group")
        if not claim.won:
            raise Moved(claim.home)
        return claim

    def restored(self, claim: Claim, session_id: str) -> Restored | None:
        """The session a claim took over from another node (its home died, or drained and released
        it), as that home last kept it: everyone who held a place is dropped with a fresh grace
        period and an ``interrupted`` note, and their join resumes it. None: a new session."""
        if not claim.snapshot:
            return None
        try:
            restored = restore(claim.snapshot, session_id, self.live.clock)
        except ValueError as err:  # unreadable (another version): the session starts afresh
            log.warning("group session snapshot not restored", extra={"session": session_id, "error": str(err)})
            return None
        log.info("group session taken over", extra={"session": session_id, "from": claim.taken_over_from})
        return restored

    @staticmethod
    def snapshot(hosted: Hosted) -> str:
        return dump(hosted.session, naming=hosted.naming, voice_only=hosted.voice_only)

    def keep(self, hosted: Hosted) -> None:
        """Store the session as it is now (taken at the step that changed it, so in order), for
        whichever node takes it over. One write at a time per session, the latest state each
        time, so an older state never overwrites a newer; a node that lost its lease writes nothing."""
        if self.live.live.get(hosted.session.id) is not hosted or hosted.over:
            return
        snap = self.snapshot(hosted)
        if snap == hosted.snap:
            return
        hosted.snap = snap
        if hosted.keeper is None:
            hosted.keeper = asyncio.get_running_loop().create_task(self._keeper(hosted))

    async def _keeper(self, hosted: Hosted) -> None:
        try:
            while hosted.snap is not None and hosted.kept != hosted.snap:
                snap = hosted.snap
                try:
                    await self.homes.keep(hosted.session.id, hosted.epoch, snap)
                except Exception as err:  # the database is down: the next change tries again
                    log.warning("group session snapshot not kept", extra={"session": hosted.session.id,
                                                                           "error": type(err).__name__})
                    hosted.snap = hosted.kept
                    return
                hosted.kept = snap
        finally:
            hosted.keeper = None

    def homed(self) -> dict[str, int]:
        """This node's group sessions and the epochs of their leases, renewed with the check-ins'."""
        return {sid: hosted.epoch for sid, hosted in self.live.live.items()}

    async def lost(self, session_ids: set[str]) -> None:
        """Leases another node took (this node was paused or cut off): the sessions leave this node
        and everyone in them is told to reconnect; their join finds the new home."""
        for sid in session_ids & set(self.live.live):
            hosted = self.live.live.pop(sid)
            log.warning("group session lease lost", extra={"session": sid})
            await self._let_go(hosted, "takeover")

    async def _let_go(self, hosted: Hosted, reason: str) -> None:
        sid = hosted.session.id
        for conn in list(hosted.conns.values()):
            conn.send(sp.Reconnect(room=sid, reason=reason))  # type: ignore[arg-type]
            self.live.of_conn.get(conn, {}).pop(sid, None)
        hosted.conns.clear()
        hosted.offers.clear()
        with contextlib.suppress(Exception):
            await self.live.sfu.close_session(sid)

    async def forget(self, hosted: Hosted) -> None:
        """The session is over here: its row goes (a no-op if another node holds it now)."""
        try:
            await self.homes.forget(hosted.session.id, hosted.epoch)
        except Exception as err:  # its lease lapses by itself
            log.warning("group session home not forgotten", extra={"session": hosted.session.id,
                                                                    "error": type(err).__name__})
    async def drain(self, progress: Callable[[], None]) -> None:
        """No new sessions here; each one released for another node to claim, with its snapshot;
        everyone told to reconnect (``drain``), its media closed."""
        self.draining = True
        for sid, hosted in list(self.live.live.items()):
            try:
                if hosted.over:
                    await self.homes.forget(sid, hosted.epoch)
                else:
                    await self.homes.release(sid, hosted.epoch, self.snapshot(hosted))
            except Exception as err:  # the lease lapses by itself and the session is taken over
                log.warning("group session not released", extra={"session": sid, "error": type(err).__name__})
            self.live.live.pop(sid, None)
            await self._let_go(hosted, "drain")
            progress()
