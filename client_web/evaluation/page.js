// Evaluation (issue 16): figures per month for an evaluator (every office) or a senior officer
// (their own office). Each figure is a bar chart drawn here in SVG, hidden from screen readers,
// with the same numbers in a table beside it, and a CSV download. The server has already put
// "fewer than 5" in place of every cell drawn from fewer than 5 people; the page never sees more.
import { h, append } from "../shared/dom.js";
import { has, languageName } from "../shared/i18n.js";
import { pageHeading, loadInto, greeting, selectField } from "../shared/ui.js";

const SVG = "http://www.w3.org/2000/svg";
// A cell is a number, null (no data) or, only when it was drawn from fewer than 5 people, the
// API's sentence for that (server/evaluation/model.py FEWER), shown here in the user's language.
const suppressed = (value) => typeof value === "string";
// Bar fills, told apart in the legend and the table too (never by colour alone).
const FILLS = ["#0b4f8a", "#c2571a", "#1d6b2f", "#6b3fa0", "#8a6d0b", "#4a4f57"];
const FILTERS = ["first", "last", "office", "channel", "language", "digital"];

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  el.append(...children);
  return el;
}

function seriesName(fig, s, t) {
  if (s.label) return s.label; // a cohort's name
  if (fig.id.startsWith("network_") && has(`network.stage.${s.key}`)) return t(`network.stage.${s.key}`);
  return has(`evaluation.series.${s.key}`) ? t(`evaluation.series.${s.key}`) : s.key;
}

function columnName(month, t) {
  return month === "now" ? t("evaluation.now") : month;
}

function cellText(value, t) {
  if (suppressed(value)) return t("evaluation.fewer");
  if (value === null) return t("evaluation.no_data");
  return String(value);
}

/** Grouped bars: one group per column (month), one bar per series. */
function chart(fig, t) {
  const width = 320, height = 150, left = 30, bottom = 22, top = 8;
  const numbers = fig.series.flatMap((s) => s.cells.filter((v) => typeof v === "number"));
  const max = Math.max(1, ...numbers);
  const groups = fig.months.length;
  const groupW = (width - left) / groups;
  const barW = Math.max(2, (groupW - 6) / Math.max(1, fig.series.length));
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const parts = [
    svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#5a5f66" }),
    svg("text", { x: left - 4, y: top + 8, "text-anchor": "end", "font-size": 9, fill: "#4a4f57" }, String(max)),
    svg("text", { x: left - 4, y: height - bottom, "text-anchor": "end", "font-size": 9, fill: "#4a4f57" }, "0"),
  ];
  fig.months.forEach((month, i) => {
    const x0 = left + i * groupW + 3;
    parts.push(svg("text", { x: x0 + (groupW - 6) / 2, y: height - 6, "text-anchor": "middle", "font-size": 9,
      fill: "#4a4f57" }, groups > 8 ? month.slice(5) : columnName(month, t)));
    fig.series.forEach((s, j) => {
      const v = s.cells[i];
      const x = x0 + j * barW;
      if (typeof v === "number") {
        parts.push(svg("rect", { x, y: y(v), width: Math.max(1, barW - 1), height: height - bottom - y(v),
          fill: FILLS[j % FILLS.length] }));
      } else if (suppressed(v)) {
        parts.push(svg("text", { x: x + barW / 2, y: height - bottom - 3, "text-anchor": "middle", "font-size": 7,
          fill: "#4a4f57" }, "<5"));
      }
    });
  });
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", "aria-hidden": "true", focusable: "false" },
    ...parts);
}

function legend(fig, t) {
  return h("ul", { class: "legend", "aria-hidden": "true" }, fig.series.map((s, j) =>
    h("li", {}, h("span", { class: `swatch swatch-${j % FILLS.length}` }), seriesName(fig, s, t))));
}

function table(fig, t, titleId) {
  // Named by the figure and the table's caption, so it differs from the figure's own landmark.
  const captionId = `caption-${fig.id}`;
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": `${titleId} ${captionId}` },
    h("table", { class: "table", id: `table-${fig.id}` },
      h("caption", { class: "muted", id: captionId }, t(`evaluation.unit.${fig.unit}`)),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("evaluation.series_col")),
        fig.months.map((m) => h("th", { scope: "col" }, columnName(m, t))))),
      h("tbody", {}, fig.series.map((s) => h("tr", {},
        h("th", { scope: "row" }, seriesName(fig, s, t)),
        s.cells.map((v) => h("td", { "data-cell": suppressed(v) ? "fewer" : null }, cellText(v, t))))))));
}

function figureCard(fig, query, t) {
  const titleId = `figure-${fig.id}-title`;
  const csv = `/api/evaluation/${fig.id}.csv?${query}`;
  return h("section", { class: "card figure", id: `figure-${fig.id}`, "aria-labelledby": titleId },
    h("h2", { id: titleId }, t(`evaluation.figure.${fig.id}`)),
    fig.by_channel ? null : h("p", { class: "muted" }, t("evaluation.not_by_channel")),
    fig.series.length ? [chart(fig, t), legend(fig, t), table(fig, t, titleId)]
      : h("p", { class: "muted" }, t("evaluation.empty")),
    h("p", {}, h("a", { class: "button secondary", id: `csv-${fig.id}`, href: csv, download: `${fig.id}.csv`,
      "aria-describedby": titleId }, t("evaluation.csv"))));
}

function filterForm(data, values, me, t, onShow) {
  const all = [["", t("evaluation.all")]];
  const offices = me.role === "evaluator" ? [["", t("evaluation.all_offices")]] : [];
  const form = h("form", { class: "card stack", id: "evaluation-filters", "aria-labelledby": "filters-title" },
    h("h2", { id: "filters-title" }, t("evaluation.filters")),
    h("div", { class: "field" }, h("label", { for: "first" }, t("evaluation.first")),
      h("input", { id: "first", name: "first", type: "month", value: values.first || data.first })),
    h("div", { class: "field" }, h("label", { for: "last" }, t("evaluation.last")),
      h("input", { id: "last", name: "last", type: "month", value: values.last || data.last })),
    selectField("office", t("evaluation.office"),
      [...offices, ...data.offices.map((o) => [o.id, o.name])], values.office || ""),
    selectField("channel", t("evaluation.channel"),
      [...all, ...["video", "phone", "in_person"].map((c) => [c, t(`evaluation.channel.${c}`)])], values.channel || ""),
    selectField("language", t("evaluation.language"),
      [...all, ...data.languages.map((l) => [l, languageName(l)])], values.language || ""),
    selectField("digital", t("evaluation.digital"),
      [...all, ...["low", "standard"].map((d) => [d, t(`evaluation.digital.${d}`)])], values.digital || ""),
    h("button", { type: "submit", class: "button primary", id: "evaluation-show" }, t("evaluation.show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = {};
    for (const name of FILTERS) {
      const value = form.elements[name].value;
      if (value) chosen[name] = value;
    }
    onShow(chosen);
  });
  return form;
}

export async function render(view, ctx) {
  const { me, api, t } = ctx;
  const slot = h("div", { class: "stack", id: "evaluation-figures" });
  let values = {};
  const load = async () => {
    const query = new URLSearchParams(values).toString();
    const data = await loadInto(slot, () => api.get(`/api/evaluation?${query}`), load);
    if (!data) return;
    slot.replaceChildren(
      filterForm(data, values, me, t, (chosen) => { values = chosen; load(); }),
      h("p", { class: "muted", id: "evaluation-period", role: "status" },
        t("evaluation.period", { first: data.first, last: data.last })),
      ...data.figures.map((fig) => figureCard(fig, query, t)));
  };
  append(view, [pageHeading(t("evaluation.title")), me.role === "evaluator" ? greeting(me) : null,
    h("p", { class: "note" }, t("evaluation.intro")), slot]);
  await load();
}
