// The room page: one socket, join with `after` = the last seq shown, so a dropped
// connection loses nothing; messages are rendered with textContent, never as HTML.
import { ChatSocket } from "./socket.js";

const root = document.getElementById("room");
const roomId = Number(root.dataset.roomId);
const me = root.dataset.username;
const log = document.getElementById("log");
const loadOlder = document.getElementById("load-older");
const input = document.getElementById("message-input");
const composer = document.getElementById("composer");
const statusLine = document.getElementById("connection-status");
const composerError = document.getElementById("composer-error");
const onlineList = document.getElementById("online-list");

const shown = new Map(); // seq -> element
let lastSeq = null; // newest seq shown
let oldestSeq = null;
const pending = new Map(); // client_id -> body, sent but not yet seen back

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric", year: "numeric" });

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

function renderMessage(message) {
  const item = document.createElement("article");
  item.className = `message kind-${message.kind}`;
  item.dataset.seq = message.seq;
  const created = new Date(message.created_at);
  item.dataset.day = dayKey(created);
  if (message.author === me) item.classList.add("mine");
  const meta = document.createElement("div");
  meta.className = "meta";
  if (message.author) {
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = message.author_name || message.author;
    author.title = `@${message.author}`;
    meta.append(author);
  }
  const time = document.createElement("time");
  time.dateTime = message.created_at;
  time.textContent = timeFormat.format(created);
  meta.append(time);
  if (message.edited_at && !message.deleted) {
    const edited = document.createElement("span");
    edited.className = "muted";
    edited.textContent = " (edited)";
    meta.append(edited);
  }
  const body = document.createElement("div");
  body.className = "body";
  if (message.deleted) {
    body.textContent = "message removed";
    item.classList.add("deleted");
  } else if (message.kind === "action") {
    body.textContent = `${message.author_name || message.author} ${message.body}`;
  } else {
    body.textContent = message.body;
  }
  item.append(meta, body);
  return item;
}

function daySeparator(day, date) {
  const sep = document.createElement("div");
  sep.className = "day-separator";
  sep.setAttribute("role", "separator");
  sep.dataset.daySeparator = day;
  sep.textContent = dayFormat.format(date);
  return sep;
}

function insertMessage(message) {
  const existing = shown.get(message.seq);
  if (existing) {
    existing.replaceWith(renderMessage(message));
    shown.set(message.seq, log.querySelector(`[data-seq="${message.seq}"]`));
    return;
  }
  const element = renderMessage(message);
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  // Find the first shown message with a larger seq; insert before it.
  let next = null;
  for (const [seq, el] of shown) {
    if (seq > message.seq && (next === null || seq < Number(next.dataset.seq))) next = el;
  }
  const day = element.dataset.day;
  if (next) {
    // Another day's message keeps its separator directly above it.
    const above = next.previousElementSibling;
    const anchor = above && above.dataset.daySeparator && next.dataset.day !== day ? above : next;
    log.insertBefore(element, anchor);
  } else {
    log.append(element);
  }
  let previous = element.previousElementSibling;
  while (previous && previous.dataset.day === undefined && previous.dataset.daySeparator === undefined) {
    previous = previous.previousElementSibling; // skip the "load older" button
  }
  const previousDay = previous && (previous.dataset.day || previous.dataset.daySeparator);
  if (previousDay !== day) log.insertBefore(daySeparator(day, new Date(message.created_at)), element);
  shown.set(message.seq, element);
  lastSeq = lastSeq === null ? message.seq : Math.max(lastSeq, message.seq);
  oldestSeq = oldestSeq === null ? message.seq : Math.min(oldestSeq, message.seq);
  if (message.client_id && message.author === me) pending.delete(message.client_id);
  if (atBottom || message.author === me) log.scrollTop = log.scrollHeight;
}

function markDeleted(seq) {
  const element = shown.get(seq);
  if (!element) return;
  element.classList.add("deleted");
  element.querySelector(".body").textContent = "message removed";
}

function setOnline(usernames) {
  onlineList.replaceChildren(
    ...usernames.map((name) => {
      const li = document.createElement("li");
      li.textContent = name;
      return li;
    }),
  );
}

function showError(text) {
  composerError.textContent = text || "";
}

const socket = new ChatSocket({
  onOpen() {
    statusLine.textContent = "Connected";
    socket.send({ type: "join", room: roomId, after: lastSeq });
  },
  onClose(reason) {
    statusLine.textContent = reason;
  },
  onFrame(frame) {
    if (frame.room !== undefined && frame.room !== roomId && frame.type !== "error") return;
    switch (frame.type) {
      case "joined":
        frame.messages.forEach(insertMessage);
        setOnline(frame.online || []);
        if (oldestSeq !== null && oldestSeq > 1) loadOlder.hidden = false;
        // Anything typed while offline goes out now, with its original client_id.
        for (const [clientId, body] of pending) {
          socket.send({ type: "send", room: roomId, body, client_id: clientId });
        }
        break;
      case "message":
        insertMessage(frame.message);
        break;
      case "message_updated":
        insertMessage(frame.message);
        break;
      case "message_deleted":
        markDeleted(frame.seq);
        break;
      case "presence":
        setOnline(frame.online || []);
        break;
      case "removed":
        statusLine.textContent = "You are no longer a member of this room.";
        input.disabled = true;
        break;
      case "error":
        showError(frame.detail);
        if (frame.ref) pending.delete(frame.ref);
        break;
      default:
        break; // frame types this page does not know are ignored
    }
  },
});

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = input.value.trim();
  if (!body) return;
  const clientId = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  pending.set(clientId, body);
  showError("");
  socket.send({ type: "send", room: roomId, body, client_id: clientId });
  input.value = "";
  input.style.height = "";
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

input.addEventListener("input", () => {
  input.style.height = "";
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
});

async function fetchOlder() {
  if (oldestSeq === null || oldestSeq <= 1) return;
  loadOlder.disabled = true;
  const response = await fetch(`/api/rooms/${roomId}/messages?before=${oldestSeq}&limit=50`, {
    credentials: "same-origin",
  });
  loadOlder.disabled = false;
  if (!response.ok) return;
  const page = await response.json();
  const height = log.scrollHeight;
  const top = log.scrollTop;
  page.messages.forEach(insertMessage);
  log.scrollTop = top + (log.scrollHeight - height); // keep the reader's place
  loadOlder.hidden = !page.has_more;
  log.prepend(loadOlder);
}

loadOlder.addEventListener("click", fetchOlder);
log.addEventListener("scroll", () => {
  if (log.scrollTop < 20 && !loadOlder.hidden && !loadOlder.disabled) fetchOlder();
});

socket.connect();
