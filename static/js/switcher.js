// Keyboard ways around the site, on every page of a signed-in user:
// - Ctrl+K (Cmd+K on a Mac), or "Go to…" in the navigation: a switcher that finds your
//   rooms and public rooms by name, and people by name (choosing one opens your 1:1
//   chat with them);
// - Alt+↑ / Alt+↓: the previous / next room, in the sidebar's order (without a
//   sidebar, the room list's: newest activity first);
// - ? (outside a text field): the list of shortcuts.
// Rooms come from GET /api/rooms, people from GET /api/users: what the user may see.
import { api } from "./api.js";

const PEOPLE_SHOWN = 5;
const currentRoom = Number(document.getElementById("room")?.dataset.roomId || 0);
let counter = 0;

function element(tag, props = {}, text) {
  const node = Object.assign(document.createElement(tag), props);
  if (text !== undefined) node.textContent = text;
  return node;
}

let roomsCache = null;
async function rooms() {
  if (!roomsCache) {
    const { ok, data } = await api("GET", "/api/rooms");
    if (!ok) return [];
    roomsCache = data.rooms;
    setTimeout(() => {
      roomsCache = null; // read again next time: rooms come and go
    }, 30000);
  }
  return roomsCache;
}

function roomLabel(room) {
  if (room.kind === "direct") return `${room.name} (private chat)`;
  if (room.kind === "conference") return `${room.name} (conference)`;
  return room.name;
}

/** Rooms whose name or slug holds the query, those starting with it first. */
function matchRooms(all, query) {
  const q = query.trim().toLowerCase();
  if (!q) return all.slice(0, 12);
  const scored = [];
  for (const room of all) {
    const name = room.name.toLowerCase();
    const at = Math.min(...[name.indexOf(q), room.slug.indexOf(q)].filter((i) => i >= 0), Infinity);
    if (at !== Infinity) scored.push([at === 0 ? 0 : 1, room]);
  }
  scored.sort((a, b) => a[0] - b[0]);
  return scored.slice(0, 12).map(([, room]) => room);
}

function openSwitcher(opener) {
  const id = (counter += 1);
  const dialog = element("dialog", { className: "switcher" });
  const heading = element("h2", { id: `switcher-title-${id}` }, "Go to a room or person");
  dialog.setAttribute("aria-labelledby", heading.id);
  const input = element("input", { type: "text", id: `switcher-input-${id}`, autocomplete: "off" });
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-label", "Room or person");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "true");
  const list = element("ul", { id: `switcher-results-${id}`, className: "switcher-results" });
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Matches");
  input.setAttribute("aria-controls", list.id);
  const hint = element("p", { className: "muted" }, "↑ ↓ to choose, Enter to open, Esc to close.");
  dialog.append(heading, input, list, hint);
  document.body.append(dialog);

  let options = []; // [{label, go}]
  let active = 0;
  let asked = 0; // the newest query: older answers are dropped

  function draw() {
    list.replaceChildren(
      ...options.map((option, index) => {
        const li = element("li", { id: `switcher-option-${id}-${index}` }, option.label);
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(index === active));
        li.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep the focus in the box
          option.go();
        });
        return li;
      }),
    );
    if (!options.length) list.append(element("li", { className: "muted" }, "Nothing matches."));
    if (options[active]) input.setAttribute("aria-activedescendant", `switcher-option-${id}-${active}`);
    else input.removeAttribute("aria-activedescendant");
  }

  async function search() {
    const query = input.value;
    const mine = (asked += 1);
    const found = matchRooms(await rooms(), query).map((room) => ({
      label: roomLabel(room),
      go: () => window.location.assign(`/rooms/${room.id}/`),
    }));
    let people = [];
    if (query.trim()) {
      const { ok, data } = await api("GET", `/api/users?q=${encodeURIComponent(query.trim())}&limit=${PEOPLE_SHOWN}`);
      if (ok) {
        people = data.users.map((user) => ({
          label: `${user.display_name || user.username} (@${user.username})`,
          go: () => openDirect(user.username),
        }));
      }
    }
    if (mine !== asked) return;
    options = [...found, ...people];
    active = 0;
    draw();
  }

  async function openDirect(username) {
    const { ok, data } = await api("POST", "/api/direct", { username });
    if (ok) window.location.assign(`/rooms/${data.id}/`);
    else hint.textContent = data.detail;
  }

  input.addEventListener("input", search);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!options.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
      draw();
    } else if (event.key === "Enter") {
      event.preventDefault();
      options[active]?.go();
    }
  });
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener?.focus?.(); // back where the user was
  });
  dialog.showModal();
  input.focus();
  search();
}

const SHORTCUTS = [
  ["Ctrl+K (⌘K)", "go to a room or person"],
  ["Alt+↑ / Alt+↓", "previous / next room"],
  ["Enter / Shift+Enter", "send / new line"],
  ["↑ in an empty message box", "edit your last message"],
  [":smi in the message box", "emoji by shortcode (↑/↓, Enter or Tab picks)"],
  ["In the emoji picker", "type to search, ↓ to the emoji, arrows move, Enter picks"],
  ["Esc", "close a dialog or picker; otherwise mark the room read"],
  ["?", "this list"],
];

function openHelp(opener) {
  const dialog = element("dialog", { className: "ask" });
  const heading = element("h2", { id: `shortcuts-title-${(counter += 1)}` }, "Keyboard shortcuts");
  dialog.setAttribute("aria-labelledby", heading.id);
  const table = element("dl", { className: "shortcuts" });
  for (const [keys, what] of SHORTCUTS) table.append(element("dt", {}, keys), element("dd", {}, what));
  const form = element("form", { method: "dialog" });
  form.append(element("button", { type: "submit" }, "Close"));
  dialog.append(heading, table, form);
  document.body.append(dialog);
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener?.focus?.();
  });
  dialog.showModal();
  form.querySelector("button").focus();
}

/** Alt+↑/↓ follow the sidebar as the reader sees it; without one, the room list's order. */
async function step(direction) {
  const listed = [...document.querySelectorAll("#sidebar li[data-room-id]")].map((li) => ({ id: Number(li.dataset.roomId) }));
  const all = listed.length ? listed : await rooms();
  if (!all.length) return;
  const at = all.findIndex((room) => room.id === currentRoom);
  const next = at < 0 ? (direction > 0 ? 0 : all.length - 1) : at + direction;
  if (next >= 0 && next < all.length) window.location.assign(`/rooms/${all[next].id}/`);
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

document.addEventListener("keydown", (event) => {
  if (document.querySelector("dialog[open]")) return; // a dialog has the keyboard
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
    event.preventDefault();
    openSwitcher(document.activeElement);
  } else if (event.altKey && !event.ctrlKey && !event.metaKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    event.preventDefault();
    step(event.key === "ArrowDown" ? 1 : -1);
  } else if (event.key === "?" && !typing(event.target)) {
    event.preventDefault();
    openHelp(document.activeElement);
  }
});

const button = document.getElementById("go-to");
if (button) {
  button.hidden = false; // a control that needs this script appears with it
  button.addEventListener("click", () => openSwitcher(button));
}
