// When the officer cannot talk safely (issue 13): they answered their own safe-space check
// "no", or said "I can't talk safely now". The server ends the waiting room for the client
// (`ended`, reason `officer_unavailable`), who is told kindly that the officer will be in
// touch; the officer is offered to move the appointment to another time right here, with
// the schedule's own change form (PATCH /api/appointments/{id}).
import { h } from "../shared/dom.js";
import { dayAndTime } from "../shared/appointments.js";
import { changeForm } from "../officer/schedule.js";

/** The client's screen: kind, and nothing about why. */
export function officerUnavailable(slot, t) {
  slot.replaceChildren(h("p", { class: "lead", id: "checkin-ended", role: "status" }, t("checkin.officer_unavailable")));
}

/** The officer's screen after their own "no": what the client was told, and another time. */
export async function offerAnotherTime(slot, ctx, checkinId) {
  const { api, t } = ctx;
  const status = h("p", { role: "status", id: "propose-status" });
  const formSlot = h("div", { class: "stack" });
  slot.replaceChildren(h("p", { class: "lead", id: "staff-unavailable" }, t("checkin.staff_unavailable")), status,
    formSlot);
  let appointment = null;
  try {
    const checkin = await api.get(`/api/checkins/${encodeURIComponent(checkinId)}`);
    if (checkin.appointment_id) appointment = await api.get(`/api/appointments/${encodeURIComponent(checkin.appointment_id)}`);
  } catch {
    return; // offline or no longer in scope: the schedule offers the change later
  }
  if (!appointment) return; // a check-in with no appointment: nothing to move
  const propose = h("button", { type: "button", class: "button primary", id: "propose-time" }, t("checkin.propose_time"));
  const changed = async (moved) => {
    formSlot.replaceChildren();
    propose.hidden = true;
    status.textContent = t("schedule.changed", { when: dayAndTime(moved.starts_at) });
  };
  propose.addEventListener("click", () => changeForm(appointment, ctx, 2, formSlot, propose, changed));
  slot.insertBefore(propose, formSlot);
}
