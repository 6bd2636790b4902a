// What has happened to the rules and the data, for the admin: every policy version (who
// changed it, when, why) and the receipts of the retention sweeper's runs (what each run
// removed, per category, under which policy version).
import { h } from "../shared/dom.js";
import { formatTime } from "../shared/i18n.js";
import { loadInto, details } from "../shared/ui.js";
import { categoryName } from "./retention.js";

function card(id, title) {
  const slot = h("div", { class: "stack" });
  const el = h("section", { class: "card", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title), slot);
  return { el, slot };
}

function versionItem(v, t) {
  return h("li", { "data-version": String(v.version) },
    h("h3", {}, t("admin.version_n", { version: v.version })),
    details([
      [t("admin.policy_created"), formatTime(v.created_at)],
      [t("admin.policy_author"), v.author || t("admin.system")],
      [t("admin.policy_reason"), v.reason],
    ]));
}

function runItem(run, t) {
  const counts = Object.entries(run.counts).filter(([, n]) => n > 0);
  return h("li", { "data-run-id": run.id },
    h("h3", {}, formatTime(run.started_at)),
    details([
      [t("admin.run_finished"), run.finished_at ? formatTime(run.finished_at) : t("admin.run_unfinished")],
      [t("admin.policy_version"), String(run.policy_version)],
      [t("admin.run_buckets"), String(run.buckets)],
      [t("admin.run_removed"), counts.length
        ? h("ul", { class: "plain" }, counts.map(([category, n]) =>
          h("li", { "data-category": category }, t("admin.run_count", { category: categoryName(t, category), count: n }))))
        : t("admin.run_nothing")],
    ]));
}

export function historyCards(ctx) {
  const { t, api } = ctx;
  const versions = card("versions-card", t("admin.versions"));
  const runs = card("runs-card", t("admin.runs"));
  const loadVersions = async () => {
    const data = await loadInto(versions.slot, () => api.get("/api/policies/versions"), loadVersions);
    if (!data) return;
    const newest = [...data.versions].sort((a, b) => b.version - a.version);
    versions.slot.replaceChildren(h("ol", { class: "plain history", id: "versions" },
      newest.map((v) => versionItem(v, t))));
  };
  const loadRuns = async () => {
    const data = await loadInto(runs.slot, () => api.get("/api/admin/retention/runs"), loadRuns);
    if (!data) return;
    runs.slot.replaceChildren(h("p", { class: "muted" }, t("admin.runs_intro")), data.runs.length
      ? h("ol", { class: "plain history", id: "runs" }, data.runs.map((run) => runItem(run, t)))
      : h("p", { class: "muted", id: "runs" }, t("admin.no_runs")));
  };
  return { cards: [versions.el, runs.el], loaded: Promise.all([loadVersions(), loadRuns()]), reloadVersions: loadVersions };
}
