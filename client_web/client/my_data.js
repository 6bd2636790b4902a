// "My data" on the client's phone (GDPR art. 15, 20): what Tandem holds about them, how
// long each kind is kept (a countdown to its next removal), who looked at it, and the
// whole of it to download, as a readable page or as JSON; their mentoring with the log their
// mentor kept; and (art. 16, 17) asking for
// something to be corrected or removed, with where each such request stands. The access log
// is grouped per day: when, who (and their role), what it was about, and why (its purpose).
import { h } from "../shared/dom.js";
import { formatDate, language } from "../shared/i18n.js";
import { loadInto, roleName } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { categoryName } from "../admin/retention.js";
import { requestFields, requestBody, requestDetails, requestTitle } from "../shared/data_requests.js";
import { activityLog, hoursText, outcomeList, periodText } from "../shared/mentoring.js";

const DAY_MS = 24 * 3600 * 1000;

function countdown(cat, t) {
  if (cat.on_hold) return t("mydata.on_hold");
  // Answers' faces stay (as counts) after their comments go: held, with no removal date.
  if (!cat.next_expiry_at) return cat.count ? t("mydata.kept_no_expiry") : t("mydata.nothing_held");
  const days = Math.max(0, Math.ceil((new Date(cat.next_expiry_at).getTime() - Date.now()) / DAY_MS));
  return t("mydata.removed_in", { days, date: formatDate(cat.next_expiry_at) });
}

// What an access-log action was about, by the action's first words (longest match first).
const ACCESS_WHAT = [["case.note", "case_notes"], ["message", "messages"], ["attachment", "attachments"],
  ["checkin", "checkin_records"], ["appointment", "appointments"], ["group", "group_attendance"],
  ["data.export", "everything"], ["request", "requests"], ["retention", "retention"], ["mentoring", "mentoring"],
  ["case", "case"]];

function accessWhat(action) {
  const found = ACCESS_WHAT.find(([prefix]) => action === prefix || action.startsWith(`${prefix}.`));
  return found ? found[1] : "other";
}

// Why: the purpose the server derives from the audited action (server/audit/purpose.py).
const PURPOSES = new Set(["supervision", "checkin", "group_programme", "mentoring", "case_network", "data_request",
  "legal_hold", "retention", "account", "other"]);

function purposeKey(purpose) {
  return PURPOSES.has(purpose) ? purpose : "other";
}

/** "Who looked at your data": per day, newest first, each with the time, who, what and why. */
function accessLog(entries, t) {
  const time = new Intl.DateTimeFormat(language(), { timeStyle: "short" });
  const days = new Map();
  for (const a of entries) {
    const day = formatDate(a.at);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(a);
  }
  return h("ol", { class: "plain stack", id: "my-data-access" }, [...days].map(([day, rows]) =>
    h("li", { class: "access-day" }, h("h4", {}, day),
      h("ul", { class: "plain stack" }, rows.map((a) => h("li", { "data-action": a.action,
        "data-purpose": a.purpose || "other" },
      t("mydata.access_entry", { time: time.format(new Date(a.at)), who: a.actor, role: roleName(a.role),
        what: t(`mydata.what.${accessWhat(a.action)}`) }),
      h("br"), h("span", { class: "muted access-purpose" },
        t("mydata.access_purpose", { why: t(`mydata.purpose.${purposeKey(a.purpose)}`) }))))))));
}

/** What is kept with the case itself (no monthly removal): meetings and exceptions. */
function caseRecords(data, t) {
  return ["face_to_face_meetings", "remote_exceptions"].filter((name) => (data.records[name] || []).length)
    .map((name) => h("li", { "data-record": name }, h("strong", {}, t(`mydata.record.${name}`)), " ",
      t("mydata.count", { count: data.records[name].length }), h("br"),
      h("span", { class: "muted" }, t("mydata.kept_with_case"))));
}

/** The client's mentoring (issue 16): each period with its mentor, the log the mentor kept, the outcomes. */
function mentoring(periods, t) {
  if (!periods.length) return [];
  return [
    h("h3", { id: "my-mentoring-title" }, t("mentoring.mine")),
    h("ul", { class: "plain stack", id: "my-mentoring", "aria-labelledby": "my-mentoring-title" },
      periods.map((p) => h("li", { "data-assignment-id": p.assignment_id },
        h("h4", {}, t("mentoring.with", { name: p.mentor.display_name })),
        h("p", { class: "muted" }, periodText(p, t), " · ", hoursText(p.hours, t)),
        activityLog(p, t, `my-log-${p.assignment_id}`),
        outcomeList(p, t, `my-outcomes-${p.assignment_id}`)))),
  ];
}

/** The client's own requests (from the export's records) and the form to make one. */
function requests(data, api, t, reload, sent) {
  const mine = [...(data.records.data_requests || [])].sort((a, b) => b.created_at.localeCompare(a.created_at));
  const form = actionForm("my-request", requestFields("my-request", t), t("datareq.send"), {
    body: (f) => requestBody(f, "my-request"),
    send: (b) => api.post("/api/my/data-requests", b),
    done: () => reload(true),
  });
  return [
    h("h3", { id: "my-requests-title" }, t("datareq.mine")),
    mine.length
      ? h("ul", { class: "plain stack", id: "my-requests", "aria-labelledby": "my-requests-title" },
        mine.map((r) => h("li", { "data-request-id": r.id, "data-status": r.status },
          h("h4", {}, requestTitle(r, t)), requestDetails({ ...r, categories: r.categories || [] }, t))))
      : h("p", { class: "muted", id: "my-requests" }, t("datareq.mine_none")),
    h("h3", { id: "my-request-title" }, t("datareq.ask")),
    h("p", { class: "muted" }, t("datareq.ask_intro")),
    form,
    h("p", { role: "status", id: "my-request-notice" }, sent ? t("datareq.sent") : ""),
  ];
}

export function myDataCard(api, t) {
  const slot = h("div", { class: "stack" });
  const card = h("section", { class: "card", id: "my-data-card", "aria-labelledby": "my-data-title" },
    h("h2", { id: "my-data-title" }, t("mydata.title")), slot);
  const load = async (sent = false) => {
    const both = await loadInto(slot, () => Promise.all([api.get("/api/my/data"), api.get("/api/my/mentoring")]),
      load);
    if (!both) return;
    const [data, mine] = both;
    const held = Object.entries(data.categories).filter(([name, cat]) => cat.count > 0 && name !== "audit_log");
    const seen = data.access_log.filter((a) => a.role !== "client" && a.role !== "system").slice(0, 50);
    const records = caseRecords(data, t);
    slot.replaceChildren(
      h("p", {}, t("mydata.intro")),
      held.length || records.length ? h("ul", { class: "stack", id: "my-data-categories" }, held.map(([name, cat]) =>
        h("li", { "data-category": name },
          h("strong", {}, categoryName(t, name)), " ",
          t("mydata.count", { count: cat.count }), h("br"),
          h("span", { class: "muted countdown" }, countdown(cat, t)))), records)
        : h("p", { class: "muted" }, t("mydata.none")),
      ...mentoring(mine.periods, t),
      h("h3", { id: "my-data-seen" }, t("mydata.seen_by")),
      seen.length ? accessLog(seen, t) : h("p", { class: "muted" }, t("mydata.seen_none")),
      ...requests(data, api, t, load, sent === true),
      h("p", {}, h("a", { href: "/api/my/data?format=html", download: "my-data.html", id: "my-data-html",
        class: "button secondary" },
        t("mydata.download_html"))),
      h("p", {}, h("a", { href: "/api/my/data?format=json", download: "my-data.json", id: "my-data-json",
        class: "button secondary" },
        t("mydata.download_json"))));
  };
  return { card, loaded: load() };
}
