// A check-in call over /ws (docs/protocol.md, "Video check-ins: signalling"): join the room,
// wait in the lobby until admitted, then one RTCPeerConnection per admitted peer (a mesh; the
// newcomer offers), candidates trickled, statistics sent every few seconds, and a switch to
// voice only that renegotiates so no video flows either way.
import { connectSocket } from "../shared/socket.js";
import { peerConnection, statsSampler, present, stopMedia, localMedia } from "./rtc.js";

const STATS_EVERY_MS = 5000;
const CANT_TALK_WAIT_MS = 3000; // no `ended` back by then: the frame is taken as lost
let frameIds = 0;

/**
 * startCall({room, mode, onEvent}) -> call
 *   onEvent(kind, detail): "joined" {state} | "admitted" | "lobby" {waiting} | "room" {participants}
 *     | "remote" {participant, stream} | "peer_left" {participant} | "ended" {reason} | "error" {code, ruleId}
 *     | "alert" {frame} | "media" {audio, video} | "quality" {mode, reasons}: the server's advice from our stats
 *     | "local" {stream}: our camera and microphone (again after a camera switch)
 *     | "peer_joined" {participant, display_name, role} | "reconnecting" (the call moves to another server)
 *   call.admit(participant), call.audioOnly(), call.setMuted(on), call.setCameraOff(on),
 *   call.switchCamera(), call.leave(), call.leaveNow(), call.end(), call.cantTalk() (the
 *   `cant_talk` frame; with no socket open, or no `ended` back in time, POST
 *   /api/checkins/{room}/cant-talk through `api`, as docs/protocol.md says),
 *   call.local (MediaStream), call.peers (Map participant -> RTCPeerConnection)
 */
const RETRY_JOIN = new Set(["room.unreachable", "room.moving", "node.draining"]);
const RETRY_JOIN_MS = 2000;

export function startCall({ room, api = null, mode = "video", onEvent = () => {} }) {
  const peers = new Map(); // participant id -> {pc, sample, polite}
  let me = null;
  let iceServers = [];
  let policy = "all";
  let local = null;
  let video = mode === "video";
  let muted = false;
  let cameraOff = false;
  let facing = "user"; // the camera in use: "user" (front) or "environment" (back)
  let statsTimer = null;
  let closed = false;
  const send = (frame) => socket.send({ ...frame, room }); // false when no socket is open
  const id = () => `f${++frameIds}`;

  async function media() {
    if (!local) {
      local = await localMedia({ video });
      call.local = local;
      local.getAudioTracks().forEach((track) => { track.enabled = !muted; });
      local.getVideoTracks().forEach((track) => { track.enabled = !cameraOff; });
      onEvent("local", { stream: local });
    }
    return local;
  }

  function peer(participant) {
    let entry = peers.get(participant);
    if (entry) return entry;
    const pc = peerConnection(iceServers, policy);
    entry = { pc, sample: statsSampler(pc), polite: me < participant, makingOffer: false };
    peers.set(participant, entry);
    pc.addEventListener("icecandidate", (event) => {
      const c = event.candidate;
      send({ type: "candidate", to: participant, candidate: c ? c.candidate : "",
        ...(c && c.sdpMid != null ? { sdp_mid: c.sdpMid } : {}),
        ...(c && c.sdpMLineIndex != null ? { sdp_mline_index: c.sdpMLineIndex } : {}) });
    });
    pc.addEventListener("track", (event) => {
      onEvent("remote", { participant, stream: event.streams[0] || new MediaStream([event.track]) });
    });
    for (const track of local ? local.getTracks() : []) {
      if (track.kind === "video" && !video) continue;
      pc.addTrack(track, local);
    }
    if (!video) for (const t of pc.getTransceivers()) if (t.receiver.track.kind === "video") t.direction = "inactive";
    return entry;
  }

  async function offerTo(participant) {
    const entry = peer(participant);
    entry.makingOffer = true;
    try {
      await entry.pc.setLocalDescription(await entry.pc.createOffer());
      send({ type: "offer", to: participant, sdp: entry.pc.localDescription.sdp, id: id() });
    } finally {
      entry.makingOffer = false;
    }
  }

  async function onOffer(frame) {
    const entry = peer(frame.from);
    const collision = entry.makingOffer || entry.pc.signalingState !== "stable";
    if (collision && !entry.polite) return; // the other side yields (perfect negotiation)
    await entry.pc.setRemoteDescription({ type: "offer", sdp: frame.sdp });
    if (!video) {
      for (const t of entry.pc.getTransceivers()) {
        if (t.receiver.track.kind === "video") t.direction = "inactive";
      }
    }
    await entry.pc.setLocalDescription(await entry.pc.createAnswer());
    send({ type: "answer", to: frame.from, sdp: entry.pc.localDescription.sdp, id: id() });
  }

  function closePeer(participant) {
    const entry = peers.get(participant);
    if (!entry) return;
    entry.pc.close();
    peers.delete(participant);
  }

  async function reportStats() {
    for (const entry of peers.values()) {
      if (entry.pc.connectionState !== "connected") continue;
      const m = await entry.sample();
      if (m.rtt_ms == null || m.loss_pct == null || m.bitrate_kbps == null) continue;
      send({ type: "stats", ...present(m, ["rtt_ms", "loss_pct", "bitrate_kbps", "jitter_ms", "frames_decoded"]),
        audio_only: !video });
    }
  }

  function finish(reason) {
    if (closed) return;
    closed = true;
    clearInterval(statsTimer);
    for (const participant of [...peers.keys()]) closePeer(participant);
    stopMedia(local);
    socket.close();
    onEvent("ended", { reason });
  }

  const handlers = {
    async joined(f) {
      me = f.participant;
      iceServers = f.ice_servers || [];
      policy = f.ice_transport_policy || "all";
      onEvent("joined", { state: f.state });
      try {
        await media(); // the self-view in the waiting room; the same tracks go into the call
      } catch {
        // no camera or microphone yet: asked again when admitted, and reported then
      }
    },
    async admitted(f) {
      await media();
      onEvent("admitted", {});
      // A rejoin (after a reload or a dropped socket) is a newcomer: a fresh connection to each peer.
      for (const participant of f.peers || []) {
        closePeer(participant);
        await offerTo(participant);
      }
      if (!statsTimer) statsTimer = setInterval(() => reportStats().catch(() => {}), STATS_EVERY_MS);
    },
    async offer(f) {
      await media();
      await onOffer(f);
    },
    async answer(f) {
      const entry = peers.get(f.from);
      if (entry && entry.pc.signalingState === "have-local-offer") {
        await entry.pc.setRemoteDescription({ type: "answer", sdp: f.sdp });
      }
    },
    async candidate(f) {
      const entry = peers.get(f.from);
      if (!entry) return;
      try {
        await entry.pc.addIceCandidate(f.candidate
          ? { candidate: f.candidate, sdpMid: f.sdp_mid ?? null, sdpMLineIndex: f.sdp_mline_index ?? null }
          : null);
      } catch {
        // a candidate for an offer we ignored in a collision: harmless
      }
    },
    async peer_left(f) {
      if (f.reason !== "dropped") closePeer(f.participant);
      onEvent("peer_left", { participant: f.participant, reason: f.reason });
    },
    async peer_joined(f) {
      closePeer(f.participant); // it rejoined: it offers afresh, the old connection is dead
      onEvent("peer_joined", f);
    },
    async lobby(f) { onEvent("lobby", f); },
    async room(f) { onEvent("room", f); },
    async peer_media(f) { onEvent("peer_media", f); },
    async quality(f) { if (video) onEvent("quality", { mode: f.mode, reasons: f.reasons || [] }); },
    async checkin_alert(f) { onEvent("alert", f); },
    async reconnect() {
      // The call moves to another server (docs/cluster.md): the same place, after a fresh join.
      for (const participant of [...peers.keys()]) closePeer(participant);
      onEvent("reconnecting", {});
      join();
    },
    async ended(f) { finish(f.reason); },
    async left() { finish("left"); },
    async error(f) {
      // The server holding the call is out of reach for a moment, or the call is moving: join again soon.
      if (f.ref === joinRef && RETRY_JOIN.has(f.reason)) {
        onEvent("reconnecting", {});
        setTimeout(() => { if (!closed) join(); }, RETRY_JOIN_MS);
        return;
      }
      onEvent("error", { code: f.code, ruleId: f.rule_id || null, message: f.message, reason: f.reason || null,
        params: f.params || {} });
    },
  };

  // Frames are handled one at a time, in order: SDP steps must not interleave.
  let joinRef = null;
  const join = () => { joinRef = id(); send({ type: "join", id: joinRef }); };
  let queue = Promise.resolve();
  const socket = connectSocket({
    onOpen: () => join(),
    onMessage: (frame) => {
      if (frame.room !== undefined && frame.room !== room && frame.checkin_id === undefined) return;
      const handler = handlers[frame.type];
      if (handler) queue = queue.then(() => handler(frame)).catch((err) => onEvent("error", { code: "media", message: String(err) }));
    },
  });

  const call = {
    local: null,
    peers,
    get participant() { return me; },
    get video() { return video; },
    get muted() { return muted; },
    get cameraOff() { return cameraOff; },
    /** Microphone off (true) or on: the track stays negotiated and sends silence. */
    setMuted(on) {
      muted = Boolean(on);
      if (local) local.getAudioTracks().forEach((track) => { track.enabled = !muted; });
    },
    /** Camera off (true) or on: the track stays negotiated and sends black frames. */
    setCameraOff(on) {
      cameraOff = Boolean(on);
      if (local) local.getVideoTracks().forEach((track) => { track.enabled = !cameraOff; });
    },
    /** Front to back camera or back: a new track replaces the old one on every connection. */
    async switchCamera() {
      if (!video || !local) return;
      const want = facing === "user" ? "environment" : "user";
      const old = local.getVideoTracks()[0] || null;
      if (old) old.stop(); // many phones cannot open both cameras at once
      let track;
      try {
        [track] = (await navigator.mediaDevices.getUserMedia({ video: { facingMode: want } })).getVideoTracks();
        facing = want;
      } catch {
        [track] = (await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing } })).getVideoTracks();
      }
      if (old) local.removeTrack(old);
      track.enabled = !cameraOff;
      local.addTrack(track);
      for (const entry of peers.values()) {
        for (const sender of entry.pc.getSenders()) {
          if (old && sender.track === old) await sender.replaceTrack(track);
        }
      }
      onEvent("local", { stream: local });
    },
    admit(participant) { send({ type: "admit", participant, id: id() }); },
    /** Voice only from now on: stop the camera and renegotiate so no video flows either way. */
    async audioOnly() {
      if (!video) return;
      video = false;
      if (local) local.getVideoTracks().forEach((track) => { track.stop(); local.removeTrack(track); });
      send({ type: "media", audio: true, video: false });
      for (const [participant, entry] of peers) {
        for (const t of entry.pc.getTransceivers()) {
          if (t.receiver.track.kind === "video") {
            await t.sender.replaceTrack(null);
            t.direction = "inactive";
          }
        }
        await offerTo(participant);
      }
      onEvent("media", { audio: true, video: false });
    },
    leave() { send({ type: "leave", id: id() }); setTimeout(() => finish("left"), 1000); },
    /** Leave at once (signing out): the frame goes before the socket closes. */
    leaveNow() { send({ type: "leave", id: id() }); finish("left"); },
    end() { send({ type: "end", id: id() }); },
    /** "I can't talk safely now": it must reach the server even on a lost or flaky socket. */
    cantTalk() {
      const post = async () => {
        if (closed) return;
        try {
          if (api) await api.post(`/api/checkins/${encodeURIComponent(room)}/cant-talk`);
        } catch {
          // recorded already through the frame (the check-in moved on), or offline: the
          // person's screen ends neutrally either way
        }
        finish("ended");
      };
      if (!send({ type: "cant_talk", id: id() })) post();
      else setTimeout(post, CANT_TALK_WAIT_MS);
    },
    close() { finish("closed"); },
  };
  return call;
}
