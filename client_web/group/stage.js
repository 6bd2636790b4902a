// The tiles of a live group session: one <video> per video slot and one (unseen) <audio>
// per audio slot, labelled by whose media the slot carries now (group.slots) and their name
// (group.state). "speaker" layout (a phone): the spotlit person, else the active speaker,
// large and the others as thumbnails; "grid" (the facilitator's console, the room device):
// everyone the same size. The active speaker is read from the audio level the SFU forwards
// (RFC 6464, getSynchronizationSources), so the large view follows whoever talks.
import { h } from "../shared/dom.js";
import { t } from "../shared/i18n.js";

const SPEAKING = 0.02; // audio level (0..1) above which someone counts as talking
const POLL_MS = 400;

/** The stage for `live` (core.js) in `layout` "speaker" | "grid"; `self`: show one's own picture. */
export function stage(live, { layout = "speaker", self = true } = {}) {
  const tiles = h("div", { class: `group-tiles layout-${layout}`, id: "group-tiles" });
  const sounds = h("div", { hidden: true, id: "group-audio" });
  const empty = h("p", { class: "muted", id: "group-tiles-empty" }, t("live.nobody_yet"));
  const mine = h("video", { id: "group-self-video", autoplay: true, playsinline: true, "aria-label": t("live.you") });
  mine.muted = true;
  const selfTile = self ? h("figure", { class: "tile tile-self", id: "group-self" }, mine,
    h("figcaption", {}, t("live.you"))) : null;
  const root = h("section", { class: "group-stage", id: "group-stage", "aria-label": t("live.stage") },
    empty, tiles, selfTile, sounds);
  const videos = new Map(); // mid -> {tile, video, caption}
  let speaker = null;
  let timer = null;

  const build = (pc) => {
    tiles.replaceChildren();
    sounds.replaceChildren();
    videos.clear();
    for (const tr of pc.getTransceivers()) {
      const track = tr.receiver.track;
      if (track.kind === "audio") {
        const el = h("audio", { autoplay: true, "data-mid": tr.mid });
        el.srcObject = new MediaStream([track]);
        sounds.append(el);
      } else {
        const video = h("video", { autoplay: true, playsinline: true, "data-mid": tr.mid });
        video.muted = true; // sound comes from the audio slots
        video.srcObject = new MediaStream([track]);
        const caption = h("figcaption", {});
        const tile = h("figure", { class: "tile", "data-mid": tr.mid, hidden: true }, video, caption);
        tiles.append(tile);
        videos.set(tr.mid, { tile, video, caption });
      }
    }
    if (live.stream) mine.srcObject = live.stream;
    draw();
  };

  const loudest = () => {
    if (!live.pc) return null;
    let best = null;
    let level = SPEAKING;
    for (const tr of live.pc.getTransceivers()) {
      if (tr.receiver.track.kind !== "audio" || !tr.receiver.getSynchronizationSources) continue;
      const who = live.slots[tr.mid];
      if (!who) continue;
      for (const source of tr.receiver.getSynchronizationSources()) {
        if ((source.audioLevel || 0) > level && performance.now() - source.timestamp < 1500) {
          level = source.audioLevel;
          best = who;
        }
      }
    }
    return best;
  };

  function draw() {
    const state = live.state;
    const spot = state && state.spotlight && state.spotlight !== live.me ? state.spotlight : null;
    const large = spot || speaker;
    let shown = 0;
    let largeMid = null;
    for (const [mid, { tile, video, caption }] of videos) {
      const who = live.slots[mid] || null;
      const seat = who ? live.seat(who) : null;
      const visible = Boolean(who) && !live.voiceOnly && (!seat || seat.video);
      tile.hidden = !visible;
      tile.dataset.participant = who || "";
      const name = who ? live.name(who) : "";
      caption.textContent = seat && seat.role !== "participant" && seat.role !== "room_device"
        ? t("live.name_role", { name, role: t(live.roleKey(seat.role)) }) : name;
      video.setAttribute("aria-label", name || t("live.slot"));
      tile.classList.remove("large");
      if (visible) {
        shown += 1;
        // A muted tile that was hidden when its first frame came is not started by autoplay everywhere.
        if (video.paused) video.play().catch(() => {});
        if (layout === "speaker" && (who === large || (!largeMid && !large))) largeMid = mid;
      }
    }
    if (largeMid) videos.get(largeMid).tile.classList.add("large");
    empty.hidden = shown > 0;
    empty.textContent = live.voiceOnly ? t("live.voice_only_on") : t("live.nobody_yet");
    for (const el of sounds.children) {
      el.dataset.participant = live.slots[el.dataset.mid] || "";
      if (el.paused && el.dataset.participant) el.play().catch(() => {});
    }
    if (selfTile) selfTile.hidden = !live.cameraOn;
  }

  live.on("media", build).on("slots", draw).on("state", draw).on("local", draw);
  timer = setInterval(() => {
    if (!root.isConnected && live.final) {
      clearInterval(timer);
      return;
    }
    const now = loudest();
    if (now && now !== speaker) {
      speaker = now;
      draw();
    }
  }, POLL_MS);
  live.on("place", (place) => {
    if (live.final) clearInterval(timer);
    if (place === "present") draw();
  });
  return root;
}
