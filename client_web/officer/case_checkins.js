// The case page's video check-ins: schedule one, and for each that has not ended the join
// link with its one-time code (for a client who signs in without an account, or on another
// phone) and an interpreter's invitation. Refusals (face_to_face_first, safe_space...) are
// shown with the server's reason and rule.
import { h } from "../shared/dom.js";
import { dayAndTime, isoDay } from "../shared/appointments.js";
import { errorBox, field, loadInto, selectField } from "../shared/ui.js";
import { shareableLink } from "../shared/share.js";

const OPEN = new Set(["scheduled", "waiting", "in_call"]);
const DURATIONS = [15, 30, 45, 60];

function checkinItem(c, interpreters, ctx) {
  const { t, api } = ctx;
  const id = encodeURIComponent(c.id);
  const out = h("div", { "aria-live": "polite" });
  const run = async (button, action) => {
    button.disabled = true;
    try {
      out.replaceChildren(await action());
    } catch (err) {
      out.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  const linkButton = h("button", { type: "button", class: "button secondary", "data-link": c.id,
    onclick: () => run(linkButton, async () => {
      const made = await api.post(`/api/checkins/${id}/link`);
      return h("div", { class: "note", "data-join-link": c.id },
        h("p", {}, t("case_checkins.link_made", { until: dayAndTime(made.expires_at) })),
        shareableLink(made.path, `join-${c.id}`));
    }) }, t("case_checkins.make_link"));
  const chooser = `interpreter-${c.id}`;
  const invite = interpreters.length
    ? h("form", { class: "inline-form", onsubmit: (event) => {
      event.preventDefault();
      const button = event.target.querySelector("button");
      run(button, async () => {
        const select = document.getElementById(chooser);
        await api.post(`/api/checkins/${id}/interpreters`, { user_id: select.value });
        return h("p", { class: "note" }, t("case_checkins.interpreter_invited",
          { name: select.selectedOptions[0].textContent }));
      });
    } },
    selectField(chooser, t("case_checkins.interpreter"), interpreters.map((p) => [p.id, p.display_name])),
    h("button", { type: "submit", class: "button secondary", "data-invite": c.id }, t("case_checkins.invite")))
    : null;
  return h("li", { class: "card", "data-checkin-id": c.id, "data-state": c.state },
    h("p", {}, h("strong", {}, dayAndTime(c.opens_at)), ` · ${t(`case_checkins.state.${c.state}`)}`),
    h("div", { class: "actions" }, linkButton), invite, out);
}

export function checkinsCard(file, ctx) {
  const { t, api } = ctx;
  const slot = h("div", { class: "stack", id: "case-checkins-list" });
  const interpreters = file.candidates.filter((c) => c.role === "interpreter");
  const load = async () => {
    const since = new Date(Date.now() - 2 * 3600_000).toISOString();
    const data = await loadInto(slot, () => api.get(`/api/checkins?start=${encodeURIComponent(since)}`), load);
    if (!data) return;
    const mine = data.checkins.filter((c) => c.case_id === file.case_id && OPEN.has(c.state));
    slot.replaceChildren(mine.length
      ? h("ul", { class: "cards" }, mine.map((c) => checkinItem(c, interpreters, ctx)))
      : h("p", { class: "muted" }, t("case_checkins.none")));
  };
  const error = h("div", { id: "checkin-form-error", "aria-live": "polite" });
  const value = (id) => document.getElementById(id).value;
  const submit = async (event) => {
    event.preventDefault();
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    error.replaceChildren();
    const start = new Date(`${value("checkin-date")}T${value("checkin-time")}`);
    const end = new Date(start.getTime() + Number(value("checkin-duration")) * 60_000);
    try {
      await api.post(`/api/cases/${encodeURIComponent(file.case_id)}/checkins`,
        { starts_at: start.toISOString(), ends_at: end.toISOString() });
      await load();
    } catch (err) {
      error.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  const card = h("section", { class: "card", id: "case-checkins", "aria-labelledby": "case-checkins-title" },
    h("h2", { id: "case-checkins-title" }, t("case_checkins.title")), slot,
    h("h3", {}, t("case_checkins.new")),
    h("form", { class: "form", id: "checkin-form", onsubmit: submit },
      field("checkin-date", t("schedule.date"), { type: "date", required: true, value: isoDay(new Date()) }),
      field("checkin-time", t("schedule.time"), { type: "time", required: true }),
      selectField("checkin-duration", t("schedule.duration"),
        DURATIONS.map((m) => [m, t("schedule.minutes", { count: m })]), 30),
      h("button", { type: "submit", class: "button primary", id: "checkin-form-submit" }, t("case_checkins.schedule")),
      error));
  return { card, loaded: load() };
}
