// The device and network test (join step 2): the phone sends camera and microphone to the
// server's echo peer (POST /api/media/echo), shows what comes back, measures with getStats,
// and the server's assessment says "video" or "voice only". The person may still choose.
import { h } from "../shared/dom.js";
import { errorText } from "../shared/ui.js";
import { localMedia, peerConnection, gathered, statsSampler, present, stopMedia } from "./rtc.js";

const MEASURE_MS = 4000; // long enough for a round-trip time and a bitrate on a slow phone
const MEASURED = ["rtt_ms", "loss_pct", "bitrate_kbps", "audio_frames", "video_frames"];

function statusLine(id, label) {
  return h("li", { id, class: "status", "data-state": "pending" }, label);
}

function mark(line, ok, text) {
  line.dataset.state = ok ? "ok" : "problem";
  line.classList.toggle("status-yes", ok);
  line.classList.toggle("status-no", !ok);
  line.textContent = text;
}

/**
 * Render the test into `slot`; resolves with {mode: "video" | "audio_only"} once the person
 * chose how to continue. `iceServers`: the explicit list for this check-in ([] when none).
 */
export function deviceTest(slot, { api, t, iceServers = [] }) {
  return new Promise((resolve) => {
    const echoVideo = h("video", { id: "echo-video", autoplay: true, playsinline: true, muted: true,
      "aria-label": t("device.echo_label") });
    echoVideo.muted = true; // the person's own voice, delayed, would only confuse them
    const live = h("p", { role: "status", class: "live", id: "device-status" });
    const camera = statusLine("device-camera", t("device.camera_pending"));
    const microphone = statusLine("device-microphone", t("device.microphone_pending"));
    const network = statusLine("device-network", t("device.network_pending"));
    const actions = h("div", { class: "stack", id: "device-actions" });
    const start = h("button", { type: "button", class: "button primary big-button", id: "device-start" }, t("device.start"));
    actions.append(start);
    slot.replaceChildren(
      h("p", { class: "lead" }, t("device.intro")),
      echoVideo,
      h("ul", { class: "checks" }, camera, microphone, network),
      live, actions);

    const choose = (mode) => resolve({ mode });

    const offerChoice = (recommended) => {
      const video = h("button", { type: "button", class: recommended === "video" ? "button primary big-button" : "button secondary big-button",
        id: "device-continue-video" }, t("device.continue_video"));
      const audio = h("button", { type: "button", class: recommended === "video" ? "button secondary big-button" : "button primary big-button",
        id: "device-continue-audio" }, t("device.continue_audio"));
      video.addEventListener("click", () => choose("video"));
      audio.addEventListener("click", () => choose("audio_only"));
      actions.replaceChildren(...(recommended === "video" ? [video, audio] : [audio, video]));
    };

    start.addEventListener("click", async () => {
      start.disabled = true;
      live.textContent = t("device.running");
      let stream = null;
      let pc = null;
      let echo = null;
      try {
        stream = await localMedia();
        const hasVideo = stream.getVideoTracks().length > 0;
        mark(camera, hasVideo, t(hasVideo ? "device.camera_ok" : "device.camera_missing"));
        pc = peerConnection(iceServers);
        stream.getTracks().forEach((track) => pc.addTrack(track, stream));
        pc.addEventListener("track", (event) => {
          if (event.track.kind === "video") echoVideo.srcObject = event.streams[0] || new MediaStream([event.track]);
        });
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc);
        echo = await api.post("/api/media/echo", { type: "offer", sdp: pc.localDescription.sdp });
        await pc.setRemoteDescription({ type: echo.type, sdp: echo.sdp });
        const sample = statsSampler(pc);
        await sample();
        await new Promise((r) => setTimeout(r, MEASURE_MS));
        const measured = await sample();
        const result = await api.post(`/api/media/echo/${encodeURIComponent(echo.id)}/assessment`,
          present(measured, MEASURED));
        const heard = (result.server.audio_frames || 0) > 0;
        mark(microphone, heard, t(heard ? "device.microphone_ok" : "device.microphone_missing"));
        const good = result.mode === "video";
        mark(network, good, t(good ? "device.network_good" : "device.network_weak"));
        live.textContent = t(good ? "device.recommend_video" : "device.recommend_audio");
        offerChoice(result.mode);
      } catch (err) {
        live.textContent = err && err.code === "no_media" ? t("device.no_media") : errorText(err);
        offerChoice("audio_only");
      } finally {
        if (echo) api.del(`/api/media/echo/${encodeURIComponent(echo.id)}`).catch(() => {});
        if (pc) pc.close();
        stopMedia(stream);
        echoVideo.srcObject = null;
      }
    });
  });
}
