// #/group-join?s=<group session id>&code=<one-time code>: a participant's join link for one
// group session, made by its facilitator (as check-in links are). Using it signs the person in
// for that session only (the server limits the session it opens); from there they go on to the
// live session (#/group-sessions/<id>/live). Someone already signed in goes straight on.
import { h } from "../shared/dom.js";
import { setCsrfToken } from "../shared/api.js";
import { errorText, pageHeading } from "../shared/ui.js";

const ID = /^[A-Za-z0-9_-]{1,64}$/;

function ready(view, t, sessionId, groupId) {
  // The group's id lets the live page ask for its agreement: a session signed in by the link
  // may not list the person's groups.
  const query = ID.test(groupId) ? `?g=${encodeURIComponent(groupId)}` : "";
  view.append(h("p", { class: "lead", id: "group-join-ready" }, t("group_join.ready")),
    h("p", {}, h("a", { class: "button primary big-button", id: "group-join-go",
      href: `#/group-sessions/${encodeURIComponent(sessionId)}/live${query}` }, t("group_join.go"))));
}

export async function render(view, { me, api, t, params, signedIn }) {
  const sessionId = params.get("s") || "";
  const code = params.get("code") || "";
  view.append(pageHeading(t("group_join.title")));
  if (!ID.test(sessionId)) {
    view.append(h("p", { role: "alert", class: "form-error", id: "group-join-error" }, t("group_join.bad_link")));
    return;
  }
  if (me) {
    ready(view, t, sessionId, params.get("g") || "");
    return;
  }
  if (!code) {
    view.append(h("p", { role: "alert", class: "form-error", id: "group-join-error" }, t("group_join.bad_link")));
    return;
  }
  const problem = h("p", { role: "alert", class: "form-error", id: "group-join-error" });
  const use = h("button", { type: "button", class: "button primary big-button", id: "group-join-use" },
    t("group_join.use"));
  use.addEventListener("click", async () => {
    use.disabled = true;
    problem.textContent = "";
    try {
      const session = await api.post(`/api/group-sessions/${encodeURIComponent(sessionId)}/code-session`, { code });
      setCsrfToken(session.csrf_token);
      // The code is spent: on to this screen without it, signed in for this session only.
      await signedIn(session, {
        then: `/group-join?s=${encodeURIComponent(sessionId)}&g=${encodeURIComponent(session.group_id)}` });
    } catch (err) {
      problem.textContent = errorText(err);
      use.disabled = false;
    }
  });
  view.append(h("p", { class: "lead" }, t("group_join.intro")), problem, use);
}
