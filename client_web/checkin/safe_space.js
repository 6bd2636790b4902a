// The safe-space check (join step 3, and the officer's own check before admitting).
// Every question is asked so that "yes" is the safe answer. "I can't talk safely now" is
// a plain, quiet button: it ends the attempt without penalty; the screen then shows only a
// neutral message (the officer is alerted by the server, nothing here says so).
import { h } from "../shared/dom.js";
import { has } from "../shared/i18n.js";
import { loadInto, errorText } from "../shared/ui.js";

function questionText(q, t) {
  return has(`safe.q.${q.id}`) ? t(`safe.q.${q.id}`) : q.text;
}

function question(q, t) {
  const name = `safe-${q.id}`;
  const legendId = `${name}-legend`;
  return h("fieldset", { class: "question", "data-question": q.id, "aria-labelledby": legendId },
    h("legend", { id: legendId }, questionText(q, t)),
    h("div", { class: "choices" },
      h("label", { class: "choice" }, h("input", { type: "radio", name, value: "yes", required: true }), t("safe.yes")),
      h("label", { class: "choice" }, h("input", { type: "radio", name, value: "no" }), t("safe.no"))));
}

/**
 * Ask this user's questions for the check-in. Resolves {passed: true} when every answer was
 * safe, {passed: false, ended: true} after "I can't talk safely now" or an unsafe answer.
 */
export async function safeSpaceCheck(slot, { api, t, checkinId }) {
  const base = `/api/checkins/${encodeURIComponent(checkinId)}/safe-space`;
  const asked = await loadInto(slot, () => api.get(base));
  if (!asked) return { passed: false, ended: false };
  if (asked.passed) return { passed: true };
  return new Promise((resolve) => {
    const problem = h("p", { role: "alert", class: "form-error", id: "safe-error" });
    const submit = h("button", { type: "submit", class: "button primary big-button", id: "safe-submit" }, t("safe.submit"));
    const cantTalk = h("button", { type: "button", class: "button secondary big-button", id: "safe-cant-talk" },
      t("safe.cant_talk"));
    const form = h("form", { class: "form stack", id: "safe-form", novalidate: true },
      h("p", { class: "lead" }, t(asked.side === "staff" ? "safe.intro_staff" : "safe.intro_client")),
      asked.questions.map((q) => question(q, t)), problem, submit, cantTalk);
    slot.replaceChildren(form);

    const send = async (answers, cant) => {
      submit.disabled = true;
      cantTalk.disabled = true;
      try {
        const result = await api.post(base, { answers, cant_talk: cant });
        resolve({ passed: Boolean(result.passed), ended: Boolean(result.ended) || !result.passed });
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

/** What the person sees after a check that was not passed: neutral, nothing about alerts. */
export function neutralEnd(slot, t) {
  slot.replaceChildren(h("p", { class: "lead", id: "checkin-ended", role: "status" }, t("checkin.ended_neutral")));
}
