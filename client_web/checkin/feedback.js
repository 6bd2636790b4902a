// "How did this go?" (issue 16): one optional question after a check-in, for the client on
// their phone and for the officer after recording the outcome. Three faces with words (never
// the picture alone), an optional comment the server keeps 30 days, and a plain thank-you.
// Answering is never required and changes nothing about the supervision. The same card asks
// after a live group session (group/live.js), with that session's route, hint and comment limit.
import { h } from "../shared/dom.js";
import { errorBox } from "../shared/ui.js";

const FACES = [[3, "🙂"], [2, "😐"], [1, "🙁"]];
const COMMENT_MAX = 500;

/** The card for a check-in; `target` is another session's instead: `send(body)`, its `hint` key and `max`. */
export function feedbackCard({ api, t }, checkinId, target = null) {
  const send = target ? target.send
    : (body) => api.post(`/api/checkins/${encodeURIComponent(checkinId)}/feedback`, body);
  const hint = target ? target.hint : "feedback.hint";
  const name = "feedback-face";
  const error = h("div", { "aria-live": "assertive" });
  const faces = FACES.map(([value, face]) => h("div", { class: "check face" },
    h("input", { type: "radio", name, id: `${name}-${value}`, value: String(value) }),
    h("label", { for: `${name}-${value}` }, h("span", { class: "face-icon", "aria-hidden": "true" }, face),
      t(`feedback.face.${value}`))));
  const comment = h("textarea", { id: "feedback-comment", name: "feedback-comment", rows: "2",
    maxlength: String(target ? target.max : COMMENT_MAX) });
  const submit = h("button", { type: "submit", class: "button secondary", id: "feedback-send" }, t("feedback.send"));
  const card = h("section", { class: "card", id: "feedback", "aria-labelledby": "feedback-title" });
  const form = h("form", { class: "form", id: "feedback-form" },
    h("fieldset", { class: "question", "aria-describedby": "feedback-hint" },
      h("legend", { id: "feedback-title" }, t("feedback.question")),
      h("p", { class: "hint", id: "feedback-hint" }, t(hint)), faces),
    h("div", { class: "field" }, h("label", { for: "feedback-comment" }, t("feedback.comment")), comment),
    submit, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const picked = form.querySelector(`input[name="${name}"]:checked`);
    if (!picked) {
      error.replaceChildren(h("p", { class: "form-error", role: "alert" }, t("feedback.choose")));
      return;
    }
    submit.disabled = true;
    try {
      await send({ face: Number(picked.value), comment: comment.value.trim() });
      card.replaceChildren(h("p", { class: "lead", role: "status", id: "feedback-thanks" }, t("feedback.thanks")));
    } catch (err) {
      error.replaceChildren(errorBox(err));
      submit.disabled = false;
    }
  });
  card.append(form);
  return card;
}
