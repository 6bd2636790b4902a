// The server's reasons in the reader's language (issue 13). A refusal or a decision comes with
// a stable code and its parameters ("face_to_face_first.too_few", {count: 1, required: 2});
// this module words it from the catalog ("reason.<code>", or "reason.<code>.client" when a
// client is told differently). Rule ids are for staff only: a person under supervision is told
// what to do, not which rule of ours said no.
import { t, has, formatTime } from "./i18n.js";

const STAFF = new Set(["officer", "senior_officer", "admin", "facilitator"]);
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

let viewer = null;

/** Who is reading: set by the app when someone signs in (null when nobody is). */
export function setViewer(me) {
  viewer = me || null;
}

/** Staff see the rule behind a refusal; clients, mentors, partners and interpreters do not. */
export function showsRules() {
  return Boolean(viewer && STAFF.has(viewer.role));
}

export function audience() {
  return viewer && viewer.role === "client" ? "client" : "staff";
}

/** A parameter as the reader should see it: times in their format, known words from the catalog. */
function shown(name, value) {
  if (typeof value === "string" && ISO_TIME.test(value)) return formatTime(value);
  if (name === "max_bytes") return `${Math.max(1, Math.round(Number(value) / 1048576))} MB`;
  if (name === "offers") {
    return String(value).split(",").map((kind) => (has(`appt.kind.${kind}`) ? t(`appt.kind.${kind}`) : kind))
      .join(", ");
  }
  for (const prefix of ["reason.param", "role"]) {
    if (typeof value === "string" && has(`${prefix}.${value}`)) return t(`${prefix}.${value}`);
  }
  return value;
}

/** The catalog's words for a reason code, or null when the catalog has none. */
export function reasonText(code, params = {}, { field = null, who = audience() } = {}) {
  if (!code) return null;
  const base = `reason.${code}`;
  const key = has(`${base}.${who}`) ? `${base}.${who}` : base;
  if (!has(key)) return null;
  const values = Object.fromEntries(Object.entries(params || {}).map(([k, v]) => [k, shown(k, v)]));
  let text = t(key, values);
  if (params && params.exception_ended) text = `${text} ${t("reason.exception_ended", values)}`;
  if (field && has(`form_field.${field}`)) text = t("reason.on_field", { field: t(`form_field.${field}`), text });
  return text;
}
