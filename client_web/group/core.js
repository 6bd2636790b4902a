// The live core of a group session (docs/protocol.md "Group sessions over /ws", docs/media.md
// "One connection per participant, negotiated once"): its own /ws socket and ONE
// RTCPeerConnection to the SFU. The offer has one sendrecv audio and one sendrecv video m-line
// (what this person publishes) and recvonly slots: audio slots to hear everyone in the room,
// video slots for the last-N the server picks. The SFU says whose media each slot carries
// (group.slots, by mid), so nothing is renegotiated when people join, speak or move rooms.
// After a dropped socket the server keeps the person's place for its grace period: the core
// opens a new peer connection and joins again with a fresh offer. The same when the session
// moves to another server (docs/cluster.md): told `reconnect`, or answered `unavailable` while
// the session's server is out of reach or handing over, it joins again (every 2 s, for up to
// the grace period), "reconnecting" meanwhile.
import { connectSocket } from "../shared/socket.js";
import { localMedia, gathered, stopMedia, statsSampler } from "../checkin/rtc.js";

export const AUDIO_SLOTS = 15; // everyone else in a full room (seats - 1), the sendrecv m-line included
export const VIDEO_SLOTS = 6; // last-N on a phone (the server's default)
const FINAL = new Set(["denied", "removed", "ended", "left", "refused"]);
const STATS_EVERY_MS = 15000; // connection quality for the register (group.stats)
// A join answered `unavailable` for these reasons is tried again (the session is moving between servers).
const RETRY_JOIN = new Set(["room.unreachable", "room.moving", "node.draining"]);
const RETRY_JOIN_MS = 2000;
const RETRY_FOR_MS = 30000; // the server's grace period (TANDEM_CHECKIN_GRACE_S, default 30 s): the place is kept that long

/** Keep only the codecs the SFU forwards (Opus; VP8 with RTX): a small offer, no transcoding. */
function preferCodecs(transceiver, kind) {
  if (!transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
  const caps = RTCRtpReceiver.getCapabilities(kind);
  if (!caps) return;
  const keep = kind === "audio" ? ["audio/opus"] : ["video/vp8", "video/rtx"];
  const codecs = caps.codecs.filter((c) => keep.includes(c.mimeType.toLowerCase()));
  try {
    if (codecs.length) transceiver.setCodecPreferences(codecs);
  } catch {
    // the browser refused the list: its full offer is still valid, only larger
  }
}

/**
 * Join group session `sessionId`. `video`: publish the camera (false: voice only, the
 * camera is not opened until the person turns it on). Events, through
 * `on(name, fn)`: "place" (connecting | waiting | present | reconnecting | <final reason>),
 * "joined" ({participant, role}), "state" (group.state), "slots", "notice" (kind, by),
 * "error" (the server's error frame), "media" (the peer connection was (re)built),
 * "local" (this person's microphone or camera changed), "connection" (the peer connection's state).
 */
export function joinLive(sessionId, { video = true } = {}) {
  const handlers = new Map();
  const emit = (name, ...args) => (handlers.get(name) || []).forEach((fn) => fn(...args));
  let counter = 0;
  const live = {
    sessionId, me: null, role: null, place: "connecting", state: null, slots: {}, pc: null,
    stream: null, videoTrack: null, micOn: true, cameraOn: video, voiceOnly: !video, final: null,
    kinds: new Map(), // mid -> "audio" | "video"
    on(name, fn) {
      if (!handlers.has(name)) handlers.set(name, []);
      handlers.get(name).push(fn);
      return live;
    },
    /** Send a frame about this session; returns its id (errors answer it in `ref`). */
    send(type, fields = {}) {
      counter += 1;
      const id = `${type.replace("group.", "")}-${counter}`;
      socket.send({ type, session: sessionId, id, ...fields });
      return id;
    },
    seat(pid = live.me) {
      return live.state ? live.state.participants.find((s) => s.participant === pid) || null : null;
    },
    name(pid) {
      const seats = [...(live.state?.participants || []), ...(live.state?.lobby || [])];
      const seat = seats.find((s) => s.participant === pid);
      return seat ? seat.display_name : "";
    },
    roleKeys: {}, // role -> catalog key, where a kind of live session names its roles otherwise
    /** The catalog key of a role's name ("live.role.<role>" unless `roleKeys` says otherwise). */
    roleKey(role) {
      return live.roleKeys[role] || `live.role.${role}`;
    },
    get runs() {
      return live.role === "facilitator" || live.role === "co_facilitator";
    },
    setMic(on) {
      live.micOn = on;
      if (live.stream) live.stream.getAudioTracks().forEach((track) => { track.enabled = on; });
      emit("local");
    },
    async setCamera(on) {
      if (on && !live.videoTrack) {
        try {
          const media = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } } });
          live.videoTrack = media.getVideoTracks()[0];
          if (live.stream) live.stream.addTrack(live.videoTrack);
        } catch {
          emit("notice", "no_camera");
          return;
        }
      }
      if (live.videoTrack) live.videoTrack.enabled = on;
      const sender = live.videoSender;
      if (sender && on && sender.track !== live.videoTrack) await sender.replaceTrack(live.videoTrack);
      live.cameraOn = on;
      live.send("group.media", { video: on });
      emit("local");
    },
    async setVoiceOnly(on) {
      live.voiceOnly = on;
      live.send("group.media", { voice_only: on }); // the SFU stops (or starts) sending video here
      await live.setCamera(!on);
    },
    leave() {
      if (!live.final) live.send("group.leave");
      finish("left");
    },
    close() {
      finish(live.final || "left");
    },
  };
  let joinId = null;
  let retryingSince = null; // when joins began to be answered `unavailable` (null: the last one was not)

  const setPlace = (place) => {
    live.place = place;
    emit("place", place);
  };

  // What this browser measures of its connection, for the register's quality evidence.
  let sample = null;
  const statsTimer = setInterval(async () => {
    if (live.final || live.place !== "present" || !sample || live.pc?.connectionState !== "connected") return;
    try {
      const m = await sample();
      if (m.rtt_ms == null || m.loss_pct == null || m.bitrate_kbps == null) return;
      live.send("group.stats", { rtt_ms: m.rtt_ms, loss_pct: m.loss_pct, bitrate_kbps: m.bitrate_kbps });
    } catch {
      // a closed connection has no statistics: the next report will tell
    }
  }, STATS_EVERY_MS);

  function finish(reason) {
    if (live.final) return;
    live.final = reason;
    clearInterval(statsTimer);
    if (live.pc) live.pc.close();
    stopMedia(live.stream);
    if (live.videoTrack) live.videoTrack.stop();
    socket.close();
    setPlace(reason);
  }

  async function ensureMedia() {
    if (live.stream) return;
    try {
      live.stream = await localMedia({ video });
    } catch {
      live.stream = new MediaStream(); // no microphone: in the session, listening
    }
    live.videoTrack = live.stream.getVideoTracks()[0] || null;
    if (!live.videoTrack) live.cameraOn = false;
    live.stream.getAudioTracks().forEach((track) => { track.enabled = live.micOn; });
  }

  async function offer() {
    if (live.pc) live.pc.close();
    const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle" });
    live.pc = pc;
    const audioTrack = live.stream.getAudioTracks()[0] || null;
    const first = pc.addTransceiver(audioTrack || "audio", { direction: "sendrecv", streams: [live.stream] });
    preferCodecs(first, "audio");
    for (let i = 1; i < AUDIO_SLOTS; i += 1) preferCodecs(pc.addTransceiver("audio", { direction: "recvonly" }), "audio");
    const cam = pc.addTransceiver(live.cameraOn && live.videoTrack ? live.videoTrack : "video",
      { direction: "sendrecv", streams: [live.stream] });
    preferCodecs(cam, "video");
    live.videoSender = cam.sender;
    for (let i = 1; i < VIDEO_SLOTS; i += 1) preferCodecs(pc.addTransceiver("video", { direction: "recvonly" }), "video");
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    live.kinds = new Map(pc.getTransceivers().map((t) => [t.mid, t.receiver.track.kind]));
    sample = statsSampler(pc);
    pc.addEventListener("connectionstatechange", () => emit("connection", pc.connectionState));
    emit("media", pc);
    return pc.localDescription.sdp;
  }

  async function join() {
    if (live.final) return;
    await ensureMedia();
    const sdp = await offer();
    if (live.final) return;
    joinId = live.send("group.join", { sdp });
  }

  function rejoin() {
    join().catch((err) => {
      live.refusal = { code: err && err.code === "no_media" ? "no_media" : "generic" };
      finish("refused");
    });
  }

  async function onFrame(frame) {
    if (frame.session && frame.session !== sessionId) return;
    switch (frame.type) {
      case "reconnect":
        // The session moves to another server: the same place, after a fresh join on a new peer connection.
        if (frame.room !== sessionId || live.final) break;
        setPlace("reconnecting");
        rejoin();
        break;
      case "group.joined":
        retryingSince = null;
        live.me = frame.participant;
        live.role = frame.role;
        emit("joined", frame);
        setPlace(frame.state === "waiting" ? "waiting" : "present");
        break;
      case "group.answer":
        if (live.pc && live.pc.signalingState === "have-local-offer") {
          await live.pc.setRemoteDescription({ type: "answer", sdp: frame.sdp });
        }
        if (live.voiceOnly) live.send("group.media", { voice_only: true, video: false });
        setPlace("present");
        break;
      case "group.slots":
        live.slots = { ...frame.slots };
        emit("slots", live.slots);
        break;
      case "group.state": {
        live.state = frame;
        const mine = live.seat();
        if (mine && mine.muted && live.micOn) live.setMic(false);
        emit("state", frame);
        break;
      }
      case "group.notice":
        if (frame.kind === "admitted") setPlace("present");
        if (frame.kind === "muted") live.setMic(false);
        if (frame.kind === "camera_stopped") {
          if (live.videoTrack) live.videoTrack.enabled = false;
          live.cameraOn = false;
          emit("local");
        }
        emit("notice", frame.kind, frame.by);
        if (FINAL.has(frame.kind)) finish(frame.kind);
        break;
      case "error":
        if (frame.ref && frame.ref === joinId && frame.code === "unavailable" && RETRY_JOIN.has(frame.reason)) {
          if (retryingSince === null) retryingSince = Date.now();
          if (Date.now() - retryingSince < RETRY_FOR_MS) {
            setPlace("reconnecting");
            const refused = joinId; // a join sent meanwhile (the socket reopened) makes this retry moot
            setTimeout(() => { if (!live.final && joinId === refused) rejoin(); }, RETRY_JOIN_MS);
            break;
          }
        }
        if (frame.ref && frame.ref === joinId) {
          live.refusal = frame;
          emit("error", frame);
          finish("refused");
        } else emit("error", frame);
        break;
      default:
        break;
    }
  }

  const socket = connectSocket({
    onOpen: () => {
      if (live.final) return;
      rejoin();
    },
    onMessage: (frame) => { onFrame(frame).catch(() => {}); },
    onStatus: (status) => {
      if (live.final) return;
      if (status === "waiting" && live.place !== "connecting") setPlace("reconnecting");
    },
  });
  return live;
}
