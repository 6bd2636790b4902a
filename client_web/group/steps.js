// Before a group session: the safe-space check with the group's own question, and, before a
// participant's first session, the cohort's confidentiality agreement. The device and network
// test is check-in's (checkin/device_test.js).
//
// The safe-space answers for a group session are checked here, in the browser: the server
// keeps safe-space answers per check-in only (server/checkins/safe_space.py), and does not
// (yet) record or require them for a group join. Every question is asked so that "yes" is
// the safe answer; "I can't talk safely now" ends the attempt quietly.
import { h } from "../shared/dom.js";
import { errorBox } from "../shared/ui.js";

const GROUP_QUESTION = "group_only";
const QUESTIONS = {
  client: ["private_place", "alone", "not_driving", GROUP_QUESTION],
  staff: ["private_room", "headset", "screen_not_overlooked", GROUP_QUESTION],
};

function question(id, t) {
  const name = `safe-${id}`;
  const legendId = `${name}-legend`;
  const text = id === GROUP_QUESTION ? t("live.safe_group") : t(`safe.q.${id}`);
  return h("fieldset", { class: "question", "data-question": id, "aria-labelledby": legendId },
    h("legend", { id: legendId }, text),
    h("div", { class: "choices" },
      h("label", { class: "choice" }, h("input", { type: "radio", name, value: "yes", required: true }), t("safe.yes")),
      h("label", { class: "choice" }, h("input", { type: "radio", name, value: "no" }), t("safe.no"))));
}

/** Resolves {passed: true} when every answer is safe, else {passed: false}. */
export function groupSafeSpace(slot, { t, side }) {
  const ids = QUESTIONS[side === "staff" ? "staff" : "client"];
  return new Promise((resolve) => {
    const problem = h("p", { role: "alert", class: "form-error", id: "safe-error" });
    const submit = h("button", { type: "submit", class: "button primary big-button", id: "safe-submit" }, t("safe.submit"));
    const cantTalk = h("button", { type: "button", class: "button secondary big-button", id: "safe-cant-talk" },
      t("safe.cant_talk"));
    const form = h("form", { class: "form stack", id: "safe-form", novalidate: true },
      h("p", { class: "lead" }, t(side === "staff" ? "live.safe_intro_staff" : "live.safe_intro_client")),
      ids.map((id) => question(id, t)), problem, submit, cantTalk);
    slot.replaceChildren(form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const picked = ids.map((id) => form.querySelector(`input[name="safe-${id}"]:checked`));
      if (picked.some((p) => !p)) {
        problem.textContent = t("safe.answer_all");
        return;
      }
      resolve({ passed: picked.every((p) => p.value === "yes") });
    });
    cantTalk.addEventListener("click", () => resolve({ passed: false }));
  });
}

/**
 * The cohort's confidentiality agreement, when it has one this participant has not accepted
 * (a changed text is accepted anew). Resolves true once accepted (or when there is nothing
 * to accept), false when it could not be read.
 */
export async function agreementStep(slot, { api, t, groupId }) {
  let agreement;
  try {
    agreement = await api.get(`/api/groups/${encodeURIComponent(groupId)}/agreement`);
  } catch (err) {
    slot.replaceChildren(errorBox(err));
    return false;
  }
  if (!agreement.text || agreement.accepted) return true;
  return new Promise((resolve) => {
    const error = h("div", { "aria-live": "polite" });
    const accept = h("button", { type: "button", class: "button primary big-button", id: "live-agreement-accept",
      "aria-describedby": "live-agreement-title" }, t("my_groups.accept"));
    accept.addEventListener("click", async () => {
      accept.disabled = true;
      error.replaceChildren();
      try {
        await api.post(`/api/groups/${encodeURIComponent(groupId)}/agreement/acceptance`, { version: agreement.version });
        resolve(true);
      } catch (err) {
        error.replaceChildren(errorBox(err));
        accept.disabled = false;
      }
    });
    slot.replaceChildren(h("div", { class: "stack", id: "live-agreement" },
      h("h2", { id: "live-agreement-title" }, t("my_groups.agreement_title")),
      h("p", { class: "lead" }, t("live.agreement_first")),
      h("p", { class: "agreement-text", id: "live-agreement-text" }, agreement.text),
      h("p", { class: "hint" }, t("my_groups.agreement_hint")),
      accept, error));
  });
}
