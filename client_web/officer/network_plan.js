// The risk-reduction plan form of the case network card (issue 16, TUKO stage 3): any number of
// tasks, each owned by one member (or the case leader) and due in days in a crisis or in weeks
// otherwise; the next meeting; how members keep in touch. The same form writes the first plan's
// draft and sends a new version of a sent plan (the earlier versions stay readable).
import { h } from "../shared/dom.js";
import { field, selectField } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";
import { dayFromNow, instant, localFromNow, textField } from "../shared/networks.js";

const value = (id) => document.getElementById(id).value.trim();

/** How far ahead a task is due by default: days in a crisis, weeks otherwise. */
const DEFAULT_DUE = { crisis: 3, weeks: 2 };

function taskRow(id, n, owners, t, crisis) {
  const row = `${id}-task-${n}`;
  return h("fieldset", { class: "stack network-task-row", "data-row": String(n) },
    h("legend", {}, t("network.task_number", { number: String(n) })),
    field(`${row}-text`, t("network.task_text"), { type: "text", required: n === 1, maxlength: "8000" }),
    selectField(`${row}-owner`, t("network.task_owner"), owners, owners[owners.length - 1][0]),
    field(`${row}-due`, t(crisis ? "network.due_in_days" : "network.due_in_weeks"), {
      type: "number", min: "0", max: crisis ? "14" : "52", required: true, inputmode: "numeric",
      value: String(crisis ? DEFAULT_DUE.crisis : DEFAULT_DUE.weeks), "data-unit": crisis ? "days" : "weeks" }));
}

/** The tasks written in the form: rows left empty are not tasks. */
function tasksOf(form) {
  return [...form.querySelectorAll(".network-task-row")].map((row) => {
    const [text, owner, due] = ["text", "owner", "due"].map((k) => row.querySelector(`[id$="-${k}"]`));
    const days = Number(due.value) * (due.dataset.unit === "weeks" ? 7 : 1);
    return { text: text.value.trim(), owner_id: owner.value, due_on: dayFromNow(days) };
  }).filter((task) => task.text);
}

export function planForm(id, process, ctx, send, label) {
  const { t, me } = ctx;
  const owners = [[me.id, t("network.case_leader")], ...process.members.filter((m) => !m.ended_at)
    .map((m) => [m.user_id, m.agency])];
  const rows = h("div", { class: "stack", id: `${id}-tasks` });
  let crisis = false;
  let count = 0;
  const addRow = () => {
    count += 1;
    rows.append(taskRow(id, count, owners, t, crisis));
  };
  addRow();
  const crisisBox = h("input", { type: "checkbox", id: `${id}-crisis`, name: `${id}-crisis`,
    onchange: (event) => {
      // In a crisis tasks are due in days: each row's due field changes its unit and default.
      crisis = event.target.checked;
      for (const due of rows.querySelectorAll("input[data-unit]")) {
        document.querySelector(`label[for="${due.id}"]`).textContent =
          t(crisis ? "network.due_in_days" : "network.due_in_weeks");
        Object.assign(due, { max: crisis ? "14" : "52", value: String(crisis ? DEFAULT_DUE.crisis : DEFAULT_DUE.weeks) });
        due.dataset.unit = crisis ? "days" : "weeks";
      }
    } });
  const add = h("button", { type: "button", class: "button secondary", id: `${id}-add-task`,
    onclick: () => {
      addRow();
      document.getElementById(`${id}-task-${count}-text`).focus();
    } }, t("network.add_task"));
  return actionForm(id, [
    h("div", { class: "check" }, crisisBox, h("label", { for: `${id}-crisis` }, t("network.crisis_plan"))),
    rows, add,
    field(`${id}-next`, t("network.next_meeting"), { type: "datetime-local", required: true, value: localFromNow(14) }),
    textField(`${id}-touch`, t("network.keep_in_touch"), "8000"),
  ], label, {
    body: (form) => ({ tasks: tasksOf(form), next_meeting_at: instant(`${id}-next`), keep_in_touch: value(`${id}-touch`),
      crisis }),
    send,
    done: () => ctx.reloadNetwork(t("network.saved")),
  });
}
