// A check-in's outcome, asked for where the officer is: at once when their call ends, and in
// the schedule's follow-up list for what was not recorded. What happened comes first (who
// joined and when, a dropped connection, the call's quality in words, "I can't talk safely
// now"), then the outcomes with the server's suggestion (server/checkins/outcomes.py)
// preselected and why, an optional note, and a confirmation. The suggestion is advice: every
// outcome stays selectable. The reasons are said here in the officer's language, from the
// evidence, rather than in the server's English.
import { h } from "../shared/dom.js";
import { details, errorBox, roleName } from "../shared/ui.js";
import { timeOnly } from "../shared/appointments.js";

export const OUTCOMES = ["attended", "late", "missed", "technical_failure", "not_safe_to_talk", "excused"];
const NOTE_MAX = 2000;

const times = (list) => list.map(timeOnly).join(", ");

function whoJoined(evidence, t) {
  const people = evidence.participants;
  const rows = people.map((p) => h("li", { "data-role": p.role || "" },
    `${p.role ? roleName(p.role) : t("outcome.someone")}: `,
    p.joined_at.length ? t("outcome.joined_at", { times: times(p.joined_at) }) : t("outcome.not_joined"),
    p.left_at.length ? ` · ${t("outcome.left_at", { times: times(p.left_at) })}` : ""));
  if (!people.some((p) => p.role === "client" && p.joined_at.length)) {
    rows.push(h("li", { "data-role": "client" }, `${roleName("client")}: ${t("outcome.not_joined")}`));
  }
  return h("ul", { class: "plain", id: "outcome-joins" }, rows);
}

function qualityText(q, t) {
  if (!q.samples) return t("outcome.quality_none");
  const values = {
    loss: Math.round((q.median_loss_pct ?? 0) * 10) / 10,
    rtt: Math.round(q.median_rtt_ms ?? 0),
    kbps: Math.round(q.median_bitrate_kbps ?? 0),
  };
  return t(q.poor ? "outcome.quality_poor" : "outcome.quality_good", values);
}

/** Why the server suggests what it does, in words (the rules of server/checkins/outcomes.py). */
export function suggestionReasons(checkin, t) {
  const { evidence, suggestion } = checkin;
  if (!suggestion) return [];
  let key = `outcome.why.${suggestion.outcome}`;
  if (suggestion.outcome === "technical_failure") {
    key = evidence && evidence.dropped ? "outcome.why.dropped" : "outcome.why.never_connected";
  }
  const reasons = [t(key)];
  if (evidence && evidence.quality.poor && suggestion.outcome !== "not_safe_to_talk") {
    reasons.push(t("outcome.why.poor_quality"));
  }
  if (evidence && evidence.interrupted && !evidence.dropped && suggestion.outcome !== "not_safe_to_talk") {
    reasons.push(t("outcome.why.interrupted"));
  }
  return reasons;
}

/** What happened in the check-in, for staff: a <dl>. */
export function evidenceDetails(checkin, t) {
  const e = checkin.evidence;
  if (!e) return null;
  return h("div", { class: "stack", id: "outcome-evidence" },
    e.cant_talk ? h("p", { class: "badge badge-risk", id: "outcome-cant-talk" }, t("outcome.cant_talk")) : null,
    details([
      [t("outcome.who"), whoJoined(e, t)],
      [t("outcome.connection"), h("span", { id: "outcome-dropped" },
        t(e.dropped ? "outcome.dropped" : e.interrupted ? "outcome.interrupted" : "outcome.not_dropped"))],
      [t("outcome.quality"), h("span", { id: "outcome-quality" }, qualityText(e.quality, t))],
    ]));
}

/**
 * The outcome form. `prefix` keeps ids unique on a page with several; `suggested` is the
 * outcome preselected (none: the officer must choose); `record(outcome, note)` sends it;
 * `onRecorded(outcome)` runs after the confirmation is shown.
 */
export function outcomeForm({ t, prefix, suggested = null, reasons = [], record, onRecorded = () => {} }) {
  const name = `${prefix}-outcome`;
  const legendId = `${name}-legend`;
  const whyId = `${name}-why`;
  const error = h("div", { "aria-live": "assertive" });
  const options = OUTCOMES.map((o) => h("div", { class: "check" },
    h("input", { type: "radio", name, id: `${name}-${o}`, value: o, required: true, checked: o === suggested,
      "aria-describedby": o === suggested && reasons.length ? whyId : null }),
    h("label", { for: `${name}-${o}` }, t(`appt.outcome.${o}`),
      o === suggested ? h("span", { class: "badge badge-info" }, ` ${t("outcome.suggested")}`) : null)));
  const note = h("textarea", { id: `${name}-note`, name: `${name}-note`, maxlength: String(NOTE_MAX), rows: "3" });
  const box = h("div", { class: "stack", id: `${name}-box` });
  const submit = h("button", { type: "submit", class: "button primary", id: `${name}-submit` }, t("schedule.record"));
  const save = async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const picked = form.querySelector(`input[name="${name}"]:checked`);
    if (!picked) {
      error.replaceChildren(h("p", { class: "form-error", role: "alert" }, t("outcome.choose")));
      return;
    }
    submit.disabled = true;
    try {
      await record(picked.value, note.value.trim());
      box.replaceChildren(h("p", { class: "lead", role: "status", id: `${name}-recorded`, "data-outcome": picked.value },
        t("outcome.recorded", { outcome: t(`appt.outcome.${picked.value}`) })));
      await onRecorded(picked.value);
    } catch (err) {
      error.replaceChildren(errorBox(err));
      submit.disabled = false;
    }
  };
  const form = h("form", { class: "form", id: `${name}-form`, onsubmit: save },
    reasons.length ? h("div", { class: "note", id: whyId },
      h("p", {}, t("outcome.suggestion", { outcome: t(`appt.outcome.${suggested}`) })),
      h("ul", {}, reasons.map((r) => h("li", {}, r)))) : null,
    h("fieldset", { class: "question", "aria-labelledby": legendId },
      h("legend", { id: legendId }, t("schedule.outcome")), options),
    h("div", { class: "field" }, h("label", { for: `${name}-note` }, t("outcome.note")), note),
    submit, error);
  box.append(form);
  return box;
}

/** The form for one check-in read with its evidence (GET /api/checkins/{id} as staff). */
export function checkinOutcome(checkin, ctx, { prefix, onRecorded } = {}) {
  const { t, api } = ctx;
  if (checkin.outcome) {
    return h("p", { class: "lead", id: `${prefix}-outcome-recorded`, "data-outcome": checkin.outcome },
      t("outcome.recorded", { outcome: t(`appt.outcome.${checkin.outcome}`) }));
  }
  const suggested = checkin.suggestion ? checkin.suggestion.outcome : null;
  return h("div", { class: "stack" },
    evidenceDetails(checkin, t),
    outcomeForm({
      t, prefix, suggested, reasons: suggestionReasons(checkin, t), onRecorded,
      record: (outcome, note) => api.post(`/api/checkins/${encodeURIComponent(checkin.id)}/outcome`,
        { outcome, note }),
    }));
}
