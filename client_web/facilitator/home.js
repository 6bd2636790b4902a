// Facilitator landing page: their programme groups (open one, enrol and withdraw
// participants, add co-facilitators; members by name, no case data) and the groups'
// conversations; each group's sessions, agreement and attendance registers (sessions.js).
// Live group video arrives in a later change.
import { pageHeading, greeting, signedInAs } from "../shared/ui.js";
import { messagesCard } from "../shared/conversations.js";
import { groupsCard } from "./groups.js";

export async function render(view, ctx) {
  const { me, t } = ctx;
  const groups = groupsCard(ctx);
  const messages = messagesCard(me);
  view.append(pageHeading(t("facilitator.title")), greeting(me), signedInAs(me), groups.card, messages.card);
  await Promise.all([groups.loaded, messages.loaded]);
}
