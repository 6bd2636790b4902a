// Caseload for officers (their own cases) and senior officers (their office's cases).
import { h, append } from "../shared/dom.js";
import { formatDate, languageName } from "../shared/i18n.js";
import { pageHeading, loadInto, greeting, details } from "../shared/ui.js";
import { remoteStatus } from "../shared/remote.js";
import { inboxCard } from "../shared/conversations.js";
import { remindersCard } from "../shared/appointments.js";
import { waitingPanel } from "./waiting.js";
import { openCaseCard } from "./open_case.js";
import { pushCard } from "../shared/push.js";

export function flagList(flags, t) {
  const items = [];
  if (flags.domestic_violence) items.push(["risk", t("flag.domestic_violence")]);
  if (flags.low_digital_access) items.push(["info", t("flag.low_digital_access")]);
  if (flags.interpreter_needed) {
    items.push(["info", flags.language
      ? t("flag.interpreter_language", { language: languageName(flags.language) })
      : t("flag.interpreter")]);
  }
  if (!items.length) return t("flag.none");
  return h("ul", { class: "badges" },
    items.map(([kind, text]) => h("li", { class: `badge badge-${kind}` }, text)));
}

function caseCard(c, { me, t }) {
  const titleId = `case-${c.case_id}-title`;
  const met = c.face_to_face.last_met_at
    ? t("officer.last_met", { date: formatDate(c.face_to_face.last_met_at) })
    : t("officer.never_met");
  return h("li", { class: "card case", "data-case-id": c.case_id },
    h("article", { "aria-labelledby": titleId },
      h("h2", { id: titleId },
        h("a", { class: "text-link", href: `#/cases/${encodeURIComponent(c.case_id)}`, "data-open-case": c.case_id },
          c.client.display_name)),
      details([
        me.role === "senior_officer" || c.officer.id !== me.id
          ? [t("officer.officer"), c.officer.display_name] : null,
        [t("officer.face_to_face"), h("span", { class: "count" }, String(c.face_to_face.count)),
          h("span", { class: "muted" }, ` · ${met}`)],
        [t("officer.remote"), remoteStatus(c.remote, "staff")],
        [t("officer.flags"), flagList(c.flags, t)],
      ])));
}

export async function render(view, ctx) {
  const { me, api, t } = ctx;
  const senior = me.role === "senior_officer";
  const slot = h("div", { class: "stack" });
  const inbox = senior ? null : inboxCard(me); // senior officers have no conversations of their own
  const reminders = remindersCard(api);
  const scheduleCard = h("section", { class: "card", id: "schedule-card", "aria-labelledby": "schedule-card-title" },
    h("h2", { id: "schedule-card-title" }, t("schedule.title")),
    h("p", { class: "aside" },
      h("a", { class: "text-link", href: "#/schedule", id: "open-schedule" }, t("schedule.open"))));
  const waiting = waitingPanel(ctx); // check-ins with someone in the waiting room
  const push = pushCard(api);
  const load = async () => {
    const data = await loadInto(slot, () => api.get("/api/caseload"), load);
    if (!data) return;
    const cases = [...data.cases].sort((a, b) =>
      a.client.display_name.localeCompare(b.client.display_name));
    slot.replaceChildren(
      h("p", { class: "muted", id: "case-count" }, t("officer.case_count", { count: cases.length })),
      cases.length
        ? h("ul", { class: "cards", "aria-labelledby": "page-title" },
          cases.map((c) => caseCard(c, ctx)))
        : h("p", {}, t("officer.empty")));
  };
  // append() leaves out a senior's missing inbox (Element.append would write "null").
  append(view, [pageHeading(t(senior ? "officer.title_senior" : "officer.title")), greeting(me),
    waiting.card, scheduleCard, reminders.card, inbox && inbox.card, slot, openCaseCard(ctx, load), push.card]);
  await Promise.all([load(), inbox && inbox.loaded, reminders.loaded, waiting.loaded, push.loaded]);
}
