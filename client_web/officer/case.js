// The officer's case page (#/cases/<id>), reached from each caseload card: the client and
// their flags, face-to-face meetings and a form to record one, the remote-supervision
// decision with its rule, the senior's exception, notes, mentor and case network, the mentoring
// periods (case_mentoring.js), and for
// senior officers the handover and the legal hold. Every form shows the server's refusal
// with its rule; each read of the page and of the notes is audited by the server.
import { h, append } from "../shared/dom.js";
import { formatDate, formatTime } from "../shared/i18n.js";
import { pageHeading, loadInto, errorBox, field, selectField, details } from "../shared/ui.js";
import { remoteStatus } from "../shared/remote.js";
import { reasonText } from "../shared/reasons.js";
import { actionForm } from "../shared/forms.js";
import { isoDay } from "../shared/appointments.js";
import { flagList } from "./home.js";
import { checkinsCard } from "./case_checkins.js";
import { caseAttendanceCard } from "./group_attendance.js";
import { mentoringCard } from "./case_mentoring.js";
import { networkCard } from "./case_network.js";

/** A card with a heading, its content, and an optional form whose submit calls `send`. */
function section(id, title, ...content) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title), ...content);
}

const value = (id) => document.getElementById(id).value;

function meetingsCard(file, ctx, reload) {
  const { t, api } = ctx;
  const list = file.meetings.length
    ? h("ul", { class: "plain", id: "meetings" }, file.meetings.map((m) =>
      h("li", { "data-meeting-id": m.id }, `${formatTime(m.met_at)} · ${m.location} · ${m.officer.display_name}`)))
    : h("p", { class: "muted", id: "meetings" }, t("case.no_meetings"));
  const form = actionForm("f2f-form", [
    field("f2f-date", t("schedule.date"), { type: "date", required: true, value: isoDay(new Date()) }),
    field("f2f-time", t("schedule.time"), { type: "time", required: true }),
    field("f2f-location", t("case.location"), { type: "text", required: true, maxlength: "200" }),
  ], t("case.record_meeting"), {
    body: () => ({ met_at: new Date(`${value("f2f-date")}T${value("f2f-time")}`).toISOString(),
      location: value("f2f-location").trim() }),
    send: (b) => api.post(`/api/cases/${encodeURIComponent(file.case_id)}/face-to-face`, b),
    done: () => reload(t("case.meeting_recorded")),
  });
  return section("case-meetings", t("case.meetings"),
    h("p", {}, t("case.meeting_count", { count: file.face_to_face.count })), list,
    h("h3", {}, t("case.record_meeting")), form);
}

function remoteCard(file, ctx, reload) {
  const { t, api, me } = ctx;
  const exception = me.role === "senior_officer" && !file.remote.allowed
    ? [h("h3", {}, t("case.exception")), actionForm("exception-form", [
      field("exception-days", t("case.exception_days"), { type: "number", min: "1", max: "365", value: "14",
        required: true, inputmode: "numeric" }),
      field("exception-reason", t("case.reason"), { type: "text", required: true, maxlength: "500" }),
    ], t("case.grant_exception"), {
      body: () => ({ days: Number(value("exception-days")), reason: value("exception-reason").trim() }),
      send: (b) => api.post(`/api/cases/${encodeURIComponent(file.case_id)}/exceptions`, b),
      done: () => reload(t("case.exception_granted")),
    })]
    : [];
  const decision = h("div", { class: "stack", id: "remote-decision" });
  const load = async () => {
    const d = await loadInto(decision,
      () => api.get(`/api/cases/${encodeURIComponent(file.case_id)}/remote-decision`), load);
    if (!d) return;
    const list = (id, items) => h("ul", { class: "plain", id }, items.map((x) => h("li", {}, x)));
    decision.replaceChildren(details([
      [t("case.decided_by_version"), h("span", { id: "remote-policy-version" }, String(d.policy_version))],
      d.rule_id ? [t("case.deciding_rule"), h("code", { id: "remote-rule" }, d.rule_id)] : null,
      // Each reason in the officer's language from its code; the server's English where the catalog has none.
      d.reasons.length ? [t("case.decision_reasons"), list("remote-reasons", d.reasons.map((english, i) => {
        const code = (d.codes || [])[i];
        return (code && reasonText(code.code, code.params, { who: "staff" })) || english;
      }))] : null,
      d.obligations.length ? [t("case.decision_obligations"), list("remote-obligations", d.obligations)] : null,
    ]));
  };
  return { card: section("case-remote", t("officer.remote"), remoteStatus(file.remote, "staff"), decision,
    ...exception), loaded: load() };
}

function notesCard(file, ctx, reload) {
  const { t, api } = ctx;
  const slot = h("div", { class: "stack", id: "notes" });
  const load = async () => {
    const data = await loadInto(slot, () => api.get(`/api/cases/${encodeURIComponent(file.case_id)}/notes`), load);
    if (!data) return;
    slot.replaceChildren(data.notes.length
      ? h("ul", { class: "plain notes" }, data.notes.map((n) =>
        h("li", { "data-note-id": n.id }, h("p", { class: "muted" }, formatTime(n.created_at)), h("p", {}, n.text))))
      : h("p", { class: "muted" }, t("case.no_notes")));
  };
  const form = actionForm("note-form", [
    h("div", { class: "field" }, h("label", { for: "note-text" }, t("case.new_note")),
      h("textarea", { id: "note-text", name: "note-text", required: true, maxlength: "4000", rows: "3" })),
  ], t("case.add_note"), {
    body: () => ({ text: value("note-text").trim() }),
    send: (b) => api.post(`/api/cases/${encodeURIComponent(file.case_id)}/notes`, b),
    done: () => reload(t("case.note_added")),
  });
  return { card: section("case-notes", t("case.notes"), slot, form), loaded: load() };
}

function chooser(id, label, people) {
  return selectField(id, label, people.map((p) => [p.id, p.display_name]));
}

function peopleList(id, people, empty) {
  return people.length
    ? h("ul", { class: "plain", id }, people.map((p) => h("li", { "data-user-id": p.id }, p.display_name)))
    : h("p", { class: "muted", id }, empty);
}

/** The client's mentors, each with "End the mentoring", which asks once more before it is sent. */
function mentorList(file, ctx, reload) {
  const { t, api } = ctx;
  if (!file.mentors.length) return h("p", { class: "muted", id: "mentors" }, t("case.no_mentor"));
  const item = (m) => {
    const li = h("li", { "data-user-id": m.mentor.id });
    const error = h("div", { "aria-live": "polite" });
    const end = async () => {
      try {
        await api.post(`/api/mentor-assignments/${encodeURIComponent(m.assignment_id)}/end`);
        await reload(t("case.mentoring_ended"));
      } catch (err) {
        error.replaceChildren(errorBox(err));
      }
    };
    const ask = () => {
      li.replaceChildren(h("p", { class: "confirm", id: `end-${m.assignment_id}` },
        t("case.confirm_end_mentoring", { name: m.mentor.display_name })),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button secondary", "data-confirm-end": "",
          "aria-describedby": `end-${m.assignment_id}`, onclick: end }, t("schedule.confirm_yes")),
        h("button", { type: "button", class: "button secondary", onclick: () => li.replaceWith(item(m)) },
          t("schedule.confirm_no"))), error);
      li.querySelector("[data-confirm-end]").focus();
    };
    append(li, [h("span", { class: "name" }, m.mentor.display_name),
      m.ends_on ? h("span", { class: "muted" }, ` · ${t("case.mentoring_until", { date: formatDate(m.ends_on) })}`) : null,
      h("button", { type: "button", class: "button secondary", "data-end-mentoring": m.assignment_id, onclick: ask },
        t("case.end_mentoring"))]);
    return li;
  };
  return h("ul", { class: "plain", id: "mentors" }, file.mentors.map(item));
}

function peopleCard(file, ctx, reload) {
  const { t, api } = ctx;
  const of = (role) => file.candidates.filter((c) => c.role === role);
  const mentors = of("mentor").filter((m) => !file.mentors.some((x) => x.mentor.id === m.id));
  const partners = of("partner").filter((p) => !file.network.some((x) => x.id === p.id));
  return section("case-people", t("case.people"),
    h("h3", {}, t("case.mentor")), mentorList(file, ctx, reload),
    mentors.length ? actionForm("mentor-form", [chooser("mentor-choice", t("case.choose_mentor"), mentors),
      field("mentor-starts", t("mentoring.period_starts"), { type: "date", required: true,
        max: isoDay(new Date()), value: isoDay(new Date()) }),
      field("mentor-ends", t("mentoring.period_ends"), { type: "date", required: true, min: isoDay(new Date()),
        value: isoDay(new Date(Date.now() + 240 * 24 * 3600_000)) }, t("mentoring.period_ends_hint"))],
      t("case.assign_mentor"), {
        body: () => ({ mentor_id: value("mentor-choice"), client_id: file.client.id, starts_on: value("mentor-starts"),
          ends_on: value("mentor-ends") }),
        send: (b) => api.post("/api/mentor-assignments", b),
        done: () => reload(t("case.mentor_assigned")),
      }) : null,
    h("h3", {}, t("case.network")), peopleList("network", file.network, t("case.no_network")),
    partners.length ? actionForm("network-form", [chooser("partner-choice", t("case.choose_partner"), partners)],
      t("case.add_partner"), {
        body: () => ({ partner_id: value("partner-choice") }),
        send: (b) => api.post(`/api/cases/${encodeURIComponent(file.case_id)}/network`, b),
        done: () => reload(t("case.partner_added")),
      }) : null);
}

/** Senior officers: hand the case to another officer of the office; set or lift a legal hold. */
function seniorCard(file, ctx, reload) {
  const { t, api } = ctx;
  const officers = file.candidates.filter((c) => c.role === "officer" || c.role === "senior_officer");
  const hold = file.legal_hold ? "lift" : "set";
  return section("case-senior", t("case.senior_actions"),
    h("h3", {}, t("case.handover")),
    officers.length ? actionForm("handover-form", [chooser("handover-choice", t("case.new_officer"), officers)],
      t("case.hand_over"), {
        body: () => ({ officer_id: value("handover-choice") }),
        send: (b) => api.put(`/api/cases/${encodeURIComponent(file.case_id)}/officer`, b),
        done: () => reload(t("case.handed_over")),
      }) : h("p", { class: "muted" }, t("case.no_officers")),
    h("h3", {}, t("case.legal_hold")),
    h("p", { id: "hold-state" }, t(file.legal_hold ? "case.hold_on" : "case.hold_off")),
    actionForm("hold-form", [field("hold-reason", t("case.reason"), { type: "text", required: true, maxlength: "500" })],
      t(`case.hold_button_${hold}`), {
        body: () => ({ reason: value("hold-reason").trim() }),
        send: (b) => (hold === "set" ? api.post(`/api/cases/${encodeURIComponent(file.case_id)}/legal-hold`, b)
          : api.del(`/api/cases/${encodeURIComponent(file.case_id)}/legal-hold`, b)),
        done: () => reload(t(hold === "set" ? "case.hold_was_set" : "case.hold_was_lifted")),
      }));
}

export async function render(view, ctx) {
  const { t, api, params } = ctx;
  const caseId = params.get("id");
  const status = h("p", { class: "visually-hidden", role: "status", id: "case-status" });
  const slot = h("div", { class: "stack" });
  const back = h("p", {}, h("a", { class: "text-link", href: "#/home", id: "back-to-caseload" }, t("case.back")));
  view.append(back, status, slot);
  const reload = async (said) => {
    const file = await loadInto(slot, () => api.get(`/api/cases/${encodeURIComponent(caseId)}/file`), () => reload());
    if (!file) {
      view.prepend(pageHeading(t("case.title")));
      return;
    }
    const notes = notesCard(file, ctx, reload);
    const checkins = checkinsCard(file, ctx);
    const remote = remoteCard(file, ctx, reload);
    const attendance = caseAttendanceCard(file.case_id, api, t);
    const mentoring = mentoringCard(file, ctx, reload);
    const network = networkCard(file, ctx);
    view.querySelector("h1")?.remove();
    view.prepend(pageHeading(file.client.display_name));
    slot.replaceChildren();
    append(slot, [
      section("case-summary", t("case.summary"), details([
        [t("officer.officer"), file.officer.display_name],
        [t("case.reference"), h("code", { id: "case-reference" }, file.case_id)],
        [t("officer.flags"), flagList(file.flags, t)],
        [t("officer.face_to_face"), h("span", { class: "count" }, String(file.face_to_face.count)),
          file.face_to_face.last_met_at
            ? h("span", { class: "muted" }, ` · ${t("officer.last_met", { date: formatDate(file.face_to_face.last_met_at) })}`)
            : null],
        file.legal_hold ? [t("case.legal_hold"), t("case.hold_on")] : null,
      ]), h("p", {}, h("a", { class: "text-link", href: "#/schedule", id: "case-schedule" }, t("case.schedule")))),
      meetingsCard(file, ctx, reload),
      remote.card,
      checkins.card,
      attendance.card,
      notes.card,
      peopleCard(file, ctx, reload),
      mentoring.card,
      network.card,
      ctx.me.role === "senior_officer" ? seniorCard(file, ctx, reload) : null]);
    await Promise.all([notes.loaded, checkins.loaded, remote.loaded, attendance.loaded, mentoring.loaded, network.loaded]);
    if (said) status.textContent = said;
  };
  await reload();
}
