// One way to send a form: the submit button waits while the request runs, a refusal stays on
// the form with the server's reason and rule (nothing typed is lost), and `done` runs after
// the server accepted it.
import { h } from "./dom.js";
import { errorBox } from "./ui.js";

/**
 * <form id> of `fields` and a submit button (`${id}-submit`); on submit, `send(body(form))`,
 * then `done(form, result, sent)`. Errors go to `${id}-error`.
 */
export function actionForm(id, fields, submitText, { body, send, done }) {
  const error = h("div", { id: `${id}-error`, "aria-live": "polite" });
  const submit = async (event) => {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector("button[type=submit]");
    error.replaceChildren();
    button.disabled = true;
    try {
      const sent = body(form);
      await done(form, await send(sent), sent);
    } catch (err) {
      error.replaceChildren(errorBox(err));
    } finally {
      button.disabled = false;
    }
  };
  return h("form", { class: "form", id, onsubmit: submit }, fields,
    h("button", { type: "submit", class: "button primary", id: `${id}-submit` }, submitText), error);
}
