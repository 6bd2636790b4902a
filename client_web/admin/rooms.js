// The office's rooms (#/rooms), for its admins and senior officers: register a room (an office
// or a prison room where a group meets), see each room's devices, and pair a device: the room
// PC opens #/device and shows a short code, which is typed here with the room and a name for
// the device (never a person's name: the device signs in as the room).
import { h } from "../shared/dom.js";
import { formatDate } from "../shared/i18n.js";
import { pageHeading, loadInto, field, selectField } from "../shared/ui.js";
import { actionForm } from "../shared/forms.js";

const KINDS = ["office", "prison"];

function roomItem(room, t) {
  const titleId = `room-${room.id}-name`;
  const devices = room.devices || [];
  return h("li", { class: "card room", "data-room-id": room.id },
    h("h3", { class: "big", id: titleId }, room.name),
    h("p", { class: "muted" }, t(`rooms.kind.${room.kind}`)),
    devices.length
      ? h("ul", { class: "plain", id: `room-${room.id}-devices`, "aria-labelledby": titleId },
        devices.map((d) => h("li", { "data-device-id": d.id },
          d.paired_at ? t("rooms.device_paired", { name: d.name, date: formatDate(d.paired_at) }) : d.name)))
      : h("p", { class: "muted", id: `room-${room.id}-devices` }, t("rooms.no_devices")));
}

function pairForm(rooms, ctx, reload) {
  const { api, t } = ctx;
  if (!rooms.length) return h("p", { class: "muted", id: "pair-form" }, t("rooms.pair_needs_room"));
  return actionForm("pair-form", [
    selectField("pair-room", t("rooms.room"), rooms.map((r) => [r.id, r.name]), rooms[0].id),
    field("pair-code", t("rooms.code"), { type: "text", required: true, maxlength: "32", autocomplete: "off",
      autocapitalize: "characters", spellcheck: "false" }, t("rooms.code_hint")),
    field("pair-name", t("rooms.device_name"), { type: "text", required: true, maxlength: "120" },
      t("rooms.device_name_hint")),
  ], t("rooms.pair"), {
    body: (form) => ({ room: form.querySelector("#pair-room").value,
      code: form.querySelector("#pair-code").value.trim(), name: form.querySelector("#pair-name").value.trim() }),
    send: (b) => api.post(`/api/rooms/${encodeURIComponent(b.room)}/devices`, { code: b.code, name: b.name }),
    done: async (form, _made, sent) => {
      form.reset();
      await reload(t("rooms.paired", { name: sent.name }));
    },
  });
}

export async function render(view, ctx) {
  const { api, t } = ctx;
  const said = h("p", { class: "visually-hidden", role: "status", id: "rooms-status" });
  const listSlot = h("div", { class: "stack" });
  const pairSlot = h("div", { class: "stack" });
  const reload = async (message) => {
    const data = await loadInto(listSlot, () => api.get("/api/rooms"), () => reload());
    if (!data) return;
    listSlot.replaceChildren(data.rooms.length
      ? h("ul", { class: "cards", id: "rooms" }, data.rooms.map((r) => roomItem(r, t)))
      : h("p", { class: "muted", id: "rooms" }, t("rooms.none")));
    pairSlot.replaceChildren(pairForm(data.rooms, ctx, reload));
    said.textContent = message || "";
  };
  const create = actionForm("new-room-form", [
    field("new-room-name", t("rooms.name"), { type: "text", required: true, maxlength: "120" }),
    selectField("new-room-kind", t("rooms.kind"), KINDS.map((k) => [k, t(`rooms.kind.${k}`)]), "office"),
  ], t("rooms.create"), {
    body: (form) => ({ name: form.querySelector("#new-room-name").value.trim(),
      kind: form.querySelector("#new-room-kind").value }),
    send: (b) => api.post("/api/rooms", b),
    done: async (form, _made, sent) => {
      form.reset();
      await reload(t("rooms.created", { name: sent.name }));
    },
  });
  view.append(pageHeading(t("rooms.title")), h("p", { class: "lead" }, t("rooms.intro")), said,
    h("section", { class: "card", "aria-labelledby": "rooms-list-title" },
      h("h2", { id: "rooms-list-title" }, t("rooms.list")), listSlot),
    h("section", { class: "card", "aria-labelledby": "pair-title" },
      h("h2", { id: "pair-title" }, t("rooms.pair_title")),
      h("p", { class: "hint" }, t("rooms.pair_intro")), pairSlot),
    h("section", { class: "card", "aria-labelledby": "new-room-title" },
      h("h2", { id: "new-room-title" }, t("rooms.new")), create));
  await reload();
}
