// Before a group session: the safe-space check with the group's own question, and, before a
// participant's first session, the cohort's confidentiality agreement. The device and network
// test is check-in's (checkin/device_test.js).
//
// The safe-space check is the server's (server/groups/safe_space.py): it gives this person's
// questions for the session (their side's, then the group's own), keeps the answers (a
// participant's sealed in their case) and refuses group.join (rule safe_space) until they
// pass. A pass holds for the session: a rejoin is not asked again. Every question is asked so
// that "yes" is the safe answer; "I can't talk safely now" ends the attempt quietly.
import { h } from "../shared/dom.js";
import { has } from "../shared/i18n.js";
import { errorBox, errorText, loadInto } from "../shared/ui.js";

const GROUP_QUESTION = "group_only";

function questionText(q, t, meeting) {
  if (q.id === GROUP_QUESTION) return t(meeting ? "live.safe_meeting" : "live.safe_group");
  return has(`safe.q.${q.id}`) ? t(`safe.q.${q.id}`) : q.text;
}

function question(q, t, meeting) {
  const name = `safe-${q.id}`;
  const legendId = `${name}-legend`;
  return h("fieldset", { class: "question", "data-question": q.id, "aria-labelledby": legendId },
    h("legend", { id: legendId }, questionText(q, t, meeting)),
    h("div", { class: "choices" },
      h("label", { class: "choice" }, h("input", { type: "radio", name, value: "yes", required: true }), t("safe.yes")),
      h("label", { class: "choice" }, h("input", { type: "radio", name, value: "no" }), t("safe.no"))));
}

/**
 * Ask this person's questions for the session and send the answers to the server. Resolves
 * {passed: true} once passed (or when already passed for this session), {passed: false} after
 * an unsafe answer or "I can't talk safely now", {passed: false, failed: true} when the
 * questions could not be read (the server's words are then in the slot).
 */
export async function groupSafeSpace(slot, { api, t, sessionId, meetingCheck = null }) {
  // A case-network meeting by video has its own check (`meetingCheck`: {get, post} of its
  // safe-space route), with the same questions.
  const meeting = Boolean(meetingCheck);
  const base = `/api/group-sessions/${encodeURIComponent(sessionId)}/safe-space`;
  const check = meetingCheck || { get: () => api.get(base), post: (body) => api.post(base, body) };
  const asked = await loadInto(slot, () => check.get());
  if (!asked) return { passed: false, failed: true };
  if (asked.passed) return { passed: true };
  return new Promise((resolve) => {
    const problem = h("p", { role: "alert", class: "form-error", id: "safe-error" });
    const submit = h("button", { type: "submit", class: "button primary big-button", id: "safe-submit" }, t("safe.submit"));
    const cantTalk = h("button", { type: "button", class: "button secondary big-button", id: "safe-cant-talk" },
      t("safe.cant_talk"));
    const form = h("form", { class: "form stack", id: "safe-form", novalidate: true },
      h("p", { class: "lead" }, t(asked.side === "staff" ? "live.safe_intro_staff" : "live.safe_intro_client")),
      asked.questions.map((q) => question(q, t, meeting)), problem, submit, cantTalk);
    slot.replaceChildren(form);

    const send = async (answers, cant) => {
      submit.disabled = true;
      cantTalk.disabled = true;
      try {
        const result = await check.post({ answers, cant_talk: cant });
        resolve({ passed: Boolean(result.passed) });
      } catch (err) {
        problem.textContent = errorText(err);
        submit.disabled = false;
        cantTalk.disabled = false;
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const answers = {};
      for (const q of asked.questions) {
        const picked = form.querySelector(`input[name="safe-${q.id}"]:checked`);
        if (!picked) {
          problem.textContent = t("safe.answer_all");
          return;
        }
        answers[q.id] = picked.value === "yes";
      }
      send(answers, false);
    });
    cantTalk.addEventListener("click", () => send({}, true));
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
