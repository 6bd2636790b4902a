// Photos and PDFs in a conversation: the composer's "Take a photo" / "Choose a file",
// the upload with its progress, and what a message that carries an attachment shows.
//
// A file is uploaded first (POST /api/conversations/{id}/attachments, the raw file as the
// body), then sent as a message whose body is `attachment:<id> <content type>`
// (docs/protocol.md). The type after the id lets a thread show a photo inline without
// downloading a PDF to find out what it is; the server's answer, sent with `nosniff`,
// stays the authority on what the file is. Photos are shown from their same-origin URL
// (the page's CSP allows img-src 'self'); every fetch of one is an audited read.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { ApiError, upload } from "./api.js";
import { reasonText, showsRules } from "./reasons.js";

export const ACCEPT = "image/jpeg,image/png,application/pdf";
const PHOTO_TYPES = new Set(["image/jpeg", "image/png"]);
const BODY = /^attachment:([A-Za-z0-9_-]{1,64})(?:\s+(image\/jpeg|image\/png|application\/pdf))?$/;
const ANNOUNCE_STEP = 25; // progress is announced every 25 %, not every event
// Photos are redrawn before they leave the phone: a camera's 12-50 megapixels become at most
// 2048 px on the long edge (small enough for the server's limit and a slow connection), and
// the redrawn JPEG carries no metadata, so no GPS position of where a client lives or works.
const MAX_EDGE = 2048;
const QUALITY = 0.85;
const REDRAW_PNG_BYTES = 2 * 1024 * 1024; // a smaller PNG (a screenshot) goes as it is

/** {id, type} when a message body carries an attachment, else null. */
export function parseAttachment(body) {
  const match = typeof body === "string" ? BODY.exec(body.trim()) : null;
  return match ? { id: match[1], type: match[2] || null } : null;
}

export function attachmentBody(made) {
  return `attachment:${made.id} ${made.content_type}`;
}

function url(id) {
  return `/api/attachments/${encodeURIComponent(id)}`;
}

/** What a bubble shows for an attachment: a photo inline, or a download link. */
export function attachmentView(attachment, { own, name }) {
  const href = url(attachment.id);
  if (PHOTO_TYPES.has(attachment.type)) {
    const img = h("img", {
      class: "msg-photo", src: href, loading: "lazy", decoding: "async",
      alt: own ? t("attach.photo_alt_own") : t("attach.photo_alt", { name }),
    });
    const link = h("a", { class: "text-link attachment-link", href, download: "" }, t("attach.download_photo"));
    const box = h("div", { class: "attachment", "data-attachment-id": attachment.id, "data-type": attachment.type },
      img, link);
    img.addEventListener("error", () => {
      // Gone (shredded by retention) or no longer ours: say so instead of a broken image.
      box.replaceChildren(h("p", { class: "muted" }, t("attach.gone")));
    }, { once: true });
    return box;
  }
  const text = attachment.type === "application/pdf" ? t("attach.download_pdf") : t("attach.download_other");
  return h("div", { class: "attachment", "data-attachment-id": attachment.id, "data-type": attachment.type || "" },
    h("a", { class: "button secondary attachment-link", href, download: "" }, text));
}

/** The file to upload: a JPEG (or a large PNG) redrawn smaller and without metadata; any
 * other file, or one the browser cannot decode, as it is (the server then says why). */
async function prepared(file) {
  const redraw = file.type === "image/jpeg" || (file.type === "image/png" && file.size > REDRAW_PNG_BYTES);
  if (!redraw || typeof createImageBitmap !== "function") return file;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file); // turned upright by its EXIF orientation
  } catch {
    return file;
  }
  const scale = Math.min(1, MAX_EDGE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff"; // JPEG has no transparency
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
  if (!blob) return file;
  return new File([blob], `${file.name.replace(/\.[^.]*$/, "")}.jpg`, { type: "image/jpeg" });
}

/** The catalog text for an upload's refusal, and the server's own reason when it gave one. */
function refusal(err, explain) {
  const code = err instanceof ApiError ? err.code : null;
  // The server's reason (e.g. the largest size it takes) in the reader's words; its English only to staff.
  const worded = err instanceof ApiError ? reasonText(err.reason, err.params) : null;
  const english = showsRules() && err instanceof ApiError && err.status > 0 && err.message && err.message !== code
    ? err.message : null;
  const reason = worded || english;
  if (code === "payload_too_large") return [t("attach.too_large"), reason];
  if (code === "unsupported_media_type") return [t("attach.wrong_type"), reason];
  if (code === "invalid_request") return [t("attach.unreadable"), reason];
  if (code === "aborted") return [t("attach.cancelled"), null];
  const [text] = explain({ code, message: err && err.message, rule_id: err instanceof ApiError ? err.ruleId : null,
    reason: err instanceof ApiError ? err.reason : null, params: err instanceof ApiError ? err.params : {} });
  return [text, null];
}

/**
 * The composer's attachment controls. `onUploaded(body)` sends the message that carries
 * the file; `explain(error)` gives the thread's text for a refusal it also shows for
 * messages (a policy rule, a closed conversation). What is typed in the message box is
 * never touched, whatever happens to the file.
 */
export function attachControls(conversationId, { onUploaded, explain }) {
  const photoInput = h("input", { type: "file", id: "attach-photo-input", accept: "image/jpeg,image/png",
    capture: "environment", hidden: true, tabindex: "-1" });
  const fileInput = h("input", { type: "file", id: "attach-file-input", accept: ACCEPT, hidden: true,
    tabindex: "-1" });
  const hint = h("p", { class: "hint", id: "attach-hint" }, t("attach.hint"));
  // A camera only where there is one to hold: `capture` opens it straight away on phones.
  const touch = window.matchMedia("(pointer: coarse)").matches;
  const photo = touch ? h("button", { type: "button", class: "button secondary", id: "attach-photo",
    "aria-describedby": "attach-hint" }, t("attach.take_photo")) : null;
  const choose = h("button", { type: "button", class: "button secondary", id: "attach-file",
    "aria-describedby": "attach-hint" }, t("attach.choose_file"));
  const progress = h("progress", { id: "attach-progress", max: "100", value: "0", hidden: true,
    "aria-label": t("attach.progress_label") });
  const cancel = h("button", { type: "button", class: "button secondary", id: "attach-cancel", hidden: true },
    t("attach.cancel"));
  const status = h("div", { class: "live", id: "attach-status", role: "status" });
  const error = h("div", { class: "live", id: "attach-error", role: "alert" });
  let controller = null;

  const say = (text) => {
    if (text) status.replaceChildren(h("p", { class: "muted" }, text));
    else status.replaceChildren();
  };
  const busy = (on) => {
    for (const button of [photo, choose]) if (button) button.disabled = on;
    progress.hidden = !on;
    cancel.hidden = !on;
  };

  async function send(file, button) {
    error.replaceChildren();
    controller = new AbortController();
    let announced = -ANNOUNCE_STEP;
    const show = (fraction) => {
      const percent = Math.min(100, Math.round(fraction * 100));
      progress.value = percent;
      if (percent - announced >= ANNOUNCE_STEP || percent === 100) {
        announced = percent;
        say(t("attach.uploading", { name: file.name, percent }));
      }
    };
    busy(true);
    try {
      progress.removeAttribute("value"); // indeterminate while a photo is redrawn
      say(t("attach.preparing", { name: file.name }));
      const ready = await prepared(file);
      if (controller.signal.aborted) throw new ApiError(0, "aborted", "");
      show(0);
      const made = await upload(`/api/conversations/${encodeURIComponent(conversationId)}/attachments`, ready,
        { onProgress: show, signal: controller.signal });
      say(t("attach.uploaded", { name: file.name }));
      onUploaded(attachmentBody(made));
    } catch (err) {
      say("");
      const [text, reason] = refusal(err, explain);
      error.replaceChildren(h("p", { class: "form-error", id: "attach-error-text" }, text,
        reason ? h("span", { class: "reason" }, ` ${reason}`) : null));
    } finally {
      controller = null;
      busy(false);
      button.focus();
    }
  }

  for (const [button, input] of [[photo, photoInput], [choose, fileInput]]) {
    if (!button) continue;
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = ""; // the same file may be chosen again
      if (file) send(file, button);
    });
  }
  cancel.addEventListener("click", () => { if (controller) controller.abort(); });

  return h("div", { class: "attach", id: "attach" },
    h("div", { class: "attach-buttons" }, photo, choose, photoInput, fileInput),
    hint, progress, cancel, status, error);
}
