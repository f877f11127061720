// The sidebar: your rooms with unread and mention counts, the current one marked.
// Drawn by the server (rooms/_sidebar.html) and read again from GET /api/sidebar when
// the page's socket says something changed: a private chat's activity, a mention, a
// read position, a removal, a (re)connect. Public rooms you are not looking at send
// nothing to your socket for each message (that would be a frame per member per
// message), so their counts are also read again every 30 s while the tab is visible
// and whenever it becomes visible.
import { api, oneAtATime } from "./api.js";
import { ChatSocket, watchSockets } from "./socket.js";

const REFRESH_EVERY_MS = 30000;
const PHONE = window.matchMedia("(max-width: 640px)");
const nav = document.getElementById("sidebar");

function element(tag, props = {}, text) {
  const node = Object.assign(document.createElement(tag), props);
  if (text !== undefined) node.textContent = text;
  return node;
}

function badge(className, text, label) {
  const node = element("span", { className }, text);
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", label);
  return node;
}

function entry(room, current) {
  const li = element("li", { className: room.unread ? "has-unread" : "" });
  li.dataset.roomId = room.id;
  const link = element("a", { href: `/rooms/${room.id}/` }, room.label);
  if (room.id === current) link.setAttribute("aria-current", "page");
  if (room.handle) link.title = `@${room.handle}`;
  li.append(link);
  if (room.mentions) {
    li.append(" ", badge("badge mention-badge", `@${room.mentions}`, `${room.mentions} mention${room.mentions === 1 ? "" : "s"}`));
  }
  if (room.unread) li.append(" ", badge("badge", `${room.unread}`, `${room.unread} unread`));
  return li;
}

function fill(list, rooms, current, empty) {
  list.replaceChildren(...(rooms.length ? rooms.map((room) => entry(room, current)) : [element("li", { className: "muted" }, empty)]));
}

function render(rooms) {
  const current = Number(nav.dataset.current || 0);
  // The room being read counts nothing: its socket marks it read as messages arrive.
  const shown = rooms.map((room) => (room.id === current ? { ...room, unread: 0, mentions: 0 } : room));
  fill(document.getElementById("sidebar-public"), shown.filter((r) => r.kind === "public"), current, "None joined yet.");
  fill(document.getElementById("sidebar-private"), shown.filter((r) => r.kind !== "public"), current, "None yet.");
  const total = shown.reduce((sum, room) => sum + room.unread, 0);
  const totalBadge = document.getElementById("sidebar-total");
  totalBadge.hidden = total === 0;
  totalBadge.textContent = `${total}`;
  totalBadge.setAttribute("aria-label", `${total} unread`);
  totalBadge.setAttribute("role", "img");
}

// Offline reads fail quietly: the next (re)connect reads again.
const refresh = oneAtATime(() =>
  api("GET", "/api/sidebar").then(({ ok, data }) => ok && render(data.rooms)),
);

const CHANGES = new Set(["room_activity", "mention", "read", "removed", "joined", "room_updated", "left"]);

if (nav) {
  const details = document.getElementById("sidebar-details");
  if (PHONE.matches) details.open = false; // one line on a phone until asked for
  watchSockets({
    onOpen: refresh,
    onFrame(frame) {
      if (CHANGES.has(frame.type)) refresh();
    },
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
  setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_EVERY_MS);
  // Pages without a chat socket of their own (all but the room page) open one for it.
  if (!document.getElementById("room")) new ChatSocket({ onOpen() {}, onClose() {}, onFrame() {} }).connect();
}
