// WebRTC helpers shared by the device test and the call: explicit ICE servers, waiting for
// ICE gathering, and the numbers we read from getStats (round trip, loss, bitrate, frames).

/** The camera and microphone; falls back to the microphone alone when there is no camera. */
export async function localMedia({ video = true } = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw Object.assign(new Error("no media devices"), { code: "no_media" });
  }
  if (video) {
    try {
      return await navigator.mediaDevices.getUserMedia({
        audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15 } },
      });
    } catch {
      // no camera, or the camera was refused: try the microphone alone
    }
  }
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch {
    throw Object.assign(new Error("microphone refused"), { code: "no_media" });
  }
}

/** An RTCPeerConnection with exactly the ICE servers the server gave (never the browser's defaults). */
export function peerConnection(iceServers = [], policy = "all") {
  return new RTCPeerConnection({ iceServers, iceTransportPolicy: policy === "relay" ? "relay" : "all" });
}

/** Resolves when ICE gathering is complete (or after `ms`, with what was gathered by then). */
export function gathered(pc, ms = 5000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}

/**
 * A sampler of one connection's statistics. Each `sample()` returns what was measured since
 * the previous one: {rtt_ms, loss_pct, bitrate_kbps, frames_decoded, video_frames, audio_frames,
 * jitter_ms}; a value the browser did not report is null.
 */
export function statsSampler(pc) {
  let previous = null;
  return async function sample() {
    const report = await pc.getStats();
    let rtt = null;
    let bytes = 0;
    let received = 0;
    let lost = 0;
    let framesDecoded = null;
    let audioPackets = null;
    let jitter = null;
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated
        && typeof s.currentRoundTripTime === "number") {
        rtt = Math.max(rtt ?? 0, s.currentRoundTripTime * 1000);
      } else if (s.type === "inbound-rtp") {
        bytes += s.bytesReceived || 0;
        received += s.packetsReceived || 0;
        lost += Math.max(0, s.packetsLost || 0);
        if (typeof s.jitter === "number") jitter = Math.max(jitter ?? 0, s.jitter * 1000);
        if (s.kind === "video") framesDecoded = (framesDecoded ?? 0) + (s.framesDecoded || 0);
        if (s.kind === "audio") audioPackets = (audioPackets ?? 0) + (s.packetsReceived || 0);
      }
    });
    const now = performance.now();
    const out = {
      rtt_ms: rtt, loss_pct: null, bitrate_kbps: null, jitter_ms: jitter,
      frames_decoded: framesDecoded, video_frames: framesDecoded, audio_frames: audioPackets,
    };
    if (previous) {
      const seconds = (now - previous.at) / 1000;
      const newReceived = received - previous.received;
      const newLost = lost - previous.lost;
      if (seconds > 0) out.bitrate_kbps = Math.max(0, ((bytes - previous.bytes) * 8) / 1000 / seconds);
      if (newReceived + newLost > 0) out.loss_pct = Math.max(0, Math.min(100, (100 * newLost) / (newReceived + newLost)));
    }
    previous = { at: now, bytes, received, lost };
    return out;
  };
}

/** Drop null fields and round numbers, for a frame or a request body. */
export function present(measured, keys) {
  const out = {};
  for (const key of keys) {
    const value = measured[key];
    if (typeof value === "number" && Number.isFinite(value)) out[key] = Number.isInteger(value) ? value : Math.round(value * 10) / 10;
  }
  return out;
}

export function stopMedia(stream) {
  if (stream) stream.getTracks().forEach((track) => track.stop());
}
