// The room page: one socket, joined with `after` = the last seq shown, so a dropped
// connection loses nothing; edits made meanwhile are read back by rev. Older history
// loads from the API as the reader scrolls up.
import { RoomTransport } from "./transport.js";
import { Timeline } from "./timeline.js";
import { mutedText } from "./moderation.js";
import { roomFeatures } from "./room_features.js";

const root = document.getElementById("room");
const roomId = Number(root.dataset.roomId);
const me = root.dataset.username;
const log = document.getElementById("log");
const loadOlder = document.getElementById("load-older");
const jumpLatest = document.getElementById("jump-latest");
const input = document.getElementById("message-input");
const composer = document.getElementById("composer");
const sendButton = document.getElementById("send-button");
const statusLine = document.getElementById("connection-status");
const composerError = document.getElementById("composer-error");
const onlineList = document.getElementById("online-list");
const side = document.getElementById("room-side");
const typingLine = document.getElementById("typing");
const heading = root.querySelector(".room-head h1");
const placeholder = input.placeholder;
const blockedNote = document.getElementById("composer-blocked");

const timeline = new Timeline(log, { me, outbox: document.getElementById("outbox") });
const pending = new Map(); // client_id -> body: sent, not seen back yet; resent on rejoin
let joinedOnce = false;
let joinedNow = false; // joined on the current connection
let knownRev = 0; // every change up to this rev is on screen
let readUpTo = 0; // the read position last reported to the server
let loadingOlder = false;
// ?at=<seq> (a search result): open the room at that message instead of at the end.
const openAt = Number.parseInt(new URLSearchParams(window.location.search).get("at") ?? "", 10);
const FOUND_SHOWN_MS = 4000;

function setStatus(text, state) {
  statusLine.textContent = text;
  statusLine.dataset.state = state;
}

function showError(text) {
  composerError.textContent = text || "";
}

function noteRev(rev) {
  if (typeof rev === "number" && rev > knownRev) knownRev = rev;
}

async function getJSON(url) {
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return response.ok ? await response.json() : null;
  } catch {
    return null; // offline: the next rejoin or scroll tries again
  }
}

// --- showing messages --------------------------------------------------------------

/** New messages (live, or replayed on join): follow them down if the reader is at
 * the bottom, otherwise offer a way down. */
function showNew(messages, { scroll = false } = {}) {
  const stick = scroll || timeline.atBottom();
  let ownArrived = false;
  let othersArrived = false;
  for (const message of messages) {
    if (message.room !== roomId) continue;
    noteRev(message.rev);
    if (message.client_id && message.author === me && pending.delete(message.client_id)) {
      timeline.removePending(message.client_id);
      ownArrived = true;
    }
    if (message.author) stoppedTyping(message.author);
    if (timeline.put(message) && message.author !== me) othersArrived = true;
  }
  updateLoadOlder(); // first: the button sits above the messages and moves them
  if (stick || ownArrived) timeline.scrollToBottom();
  else if (othersArrived) jumpLatest.hidden = false;
  reportRead();
}

/** Edits and deletions made while this page was disconnected. */
async function catchUpChanges(since) {
  let rev = since;
  for (let round = 0; round < 20; round += 1) {
    const page = await getJSON(`/api/rooms/${roomId}/messages?changed_after=${rev}&limit=200`);
    if (!page) return;
    for (const message of page.messages) {
      timeline.update(message);
      noteRev(message.rev);
      rev = Math.max(rev, message.rev);
    }
    if (!page.has_more || !page.messages.length) return;
  }
}

/** Before the socket joins: the page of history that ends at the message asked for.
 * The join then asks for what follows it (`after` = the last seq shown), so the
 * timeline stays without gaps and live updates carry on from there. */
async function loadAround(seq) {
  const page = await getJSON(`/api/rooms/${roomId}/messages?before=${seq + 1}&limit=25`);
  if (page) page.messages.forEach((message) => timeline.put(message));
  updateLoadOlder();
}

/** Scroll the message into the middle of the log and outline it for a moment.
 * -> whether it is on the page (a search result, a pinned message). */
function showFound(seq) {
  const item = timeline.bySeq.get(seq);
  if (!item) return false;
  const offset = item.getBoundingClientRect().top - log.getBoundingClientRect().top;
  log.scrollTop += offset - Math.max(16, (log.clientHeight - item.offsetHeight) / 2);
  item.classList.add("found");
  setTimeout(() => item.classList.remove("found"), FOUND_SHOWN_MS);
  jumpLatest.hidden = timeline.atBottom();
  return true;
}

function updateLoadOlder() {
  const first = timeline.firstSeq;
  loadOlder.hidden = first === null || first <= 1; // seqs start at 1, without gaps
}

async function fetchOlder() {
  const first = timeline.firstSeq;
  if (loadingOlder || first === null || first <= 1) return;
  loadingOlder = true;
  loadOlder.disabled = true;
  try {
    const page = await getJSON(`/api/rooms/${roomId}/messages?before=${first}&limit=50`);
    if (page) timeline.keepPlace(() => page.messages.forEach((message) => timeline.put(message)));
  } finally {
    loadingOlder = false;
    loadOlder.disabled = false;
    updateLoadOlder();
  }
  fillViewport();
}

/** Until the log can scroll, there is no scrolling up to ask for more. */
function fillViewport() {
  if (log.scrollHeight <= log.clientHeight + 40) fetchOlder();
}

function reportRead() {
  const last = timeline.lastSeq;
  if (last === null || last <= readUpTo) return;
  if (document.visibilityState !== "visible" || !timeline.atBottom()) return;
  if (socket.send({ type: "read", room: roomId, seq: last })) readUpTo = last;
}

/** Escape: everything here is read, wherever the log is scrolled to. */
function markAllRead() {
  const last = timeline.lastSeq;
  if (last !== null && last > readUpTo && socket.send({ type: "read", room: roomId, seq: last })) readUpTo = last;
  features.markedRead();
}

// --- who is typing ----------------------------------------------------------------------

const TYPING_SHOWN_MS = 5000; // the server forwards "typing" at most every 3 s
const TYPING_SENT_EVERY_MS = 3000;
const typing = new Map(); // username -> timer that forgets them
let typingSentAt = 0;

function showTyping() {
  const names = [...typing.keys()];
  if (names.length === 0) typingLine.textContent = "";
  else if (names.length === 1) typingLine.textContent = `${names[0]} is typing…`;
  else if (names.length === 2) typingLine.textContent = `${names[0]} and ${names[1]} are typing…`;
  else typingLine.textContent = "Several people are typing…";
}

function someoneTyping(username) {
  if (username === me) return;
  clearTimeout(typing.get(username));
  typing.set(username, setTimeout(() => stoppedTyping(username), TYPING_SHOWN_MS));
  showTyping();
}

function stoppedTyping(username) {
  if (!typing.has(username)) return;
  clearTimeout(typing.get(username));
  typing.delete(username);
  showTyping();
}

function tellTyping() {
  const now = Date.now();
  if (!joinedNow || !input.value.trim() || input.value.startsWith("/")) return;
  if (now - typingSentAt < TYPING_SENT_EVERY_MS) return;
  if (socket.send({ type: "typing", room: roomId })) typingSentAt = now;
}

// --- the composer's state ------------------------------------------------------------

const blocks = new Map(); // why the composer is disabled (removed, archived, muted) -> text
let unmuteTimer = null;

function setBlocked(reason, text) {
  if (text) blocks.set(reason, text);
  else blocks.delete(reason);
  const shown = [...blocks.values()].at(-1);
  input.disabled = sendButton.disabled = shown !== undefined;
  input.placeholder = shown ?? placeholder;
  blockedNote.textContent = shown ?? ""; // a placeholder alone is easy to miss
}

function setMuted(until, reason) {
  clearTimeout(unmuteTimer);
  const end = until ? new Date(until) : null;
  if (!end || end <= new Date()) {
    setBlocked("muted", null);
    return;
  }
  setBlocked("muted", mutedText(until, reason));
  // Timers are capped near 24.8 days; a longer mute is re-checked when it fires.
  unmuteTimer = setTimeout(() => setMuted(until, reason), Math.min(end - new Date(), 2 ** 31 - 1));
}

function roomChanged(room) {
  if (room.kind !== "direct") {
    // A 1:1 chat is titled with the other person's name, which no room update changes.
    heading.textContent = room.name;
    document.title = `${room.name} · Chat`;
  }
  let topic = root.querySelector(".room-head .topic");
  if (room.topic && !topic) {
    topic = document.createElement("p");
    topic.className = "muted topic";
    heading.after(topic);
  }
  if (topic) topic.textContent = room.topic || "";
  setBlocked("archived", room.archived ? "This room is archived and read-only." : null);
}

// Who is online, named as everywhere else: display name, then @username (the
// presence frame carries usernames; display names come with the member list).
let online = [];
function setOnline(usernames) {
  online = usernames;
  onlineList.replaceChildren(
    ...usernames.map((username) => {
      const item = document.createElement("li");
      const shown = features.members.get(username)?.display_name || username;
      const name = Object.assign(document.createElement("span"), { className: "member-name", textContent: shown });
      const handle = Object.assign(document.createElement("span"), { className: "handle", textContent: `@${username}` });
      item.append(name, " ", handle);
      if (username === me) item.append(" (you)");
      item.title = `${shown} @${username}`;
      return item;
    }),
  );
}

/** An error frame: a refused send (it has our client_id as `ref`) comes back to the
 * box so the text is not lost; a refused join is shown where the status is. */
const RETRY_MS_MIN = 1000;

function refused(frame) {
  if (frame.code === "muted") setMuted(frame.until, frame.reason || "");
  if (frame.ref && frame.code === "rate_limited" && pending.has(frame.ref)) {
    // Sent too fast: the message stays on screen as "sending" and goes again, with its
    // client_id (stored once), when the server says it may.
    const body = pending.get(frame.ref);
    const wait = Math.max(RETRY_MS_MIN, (Number(frame.retry_after) || 1) * 1000);
    showError(`Sending too fast; this message goes out in ${Math.round(wait / 1000)} s.`);
    setTimeout(() => {
      if (pending.has(frame.ref)) socket.send({ type: "send", room: roomId, body, client_id: frame.ref });
    }, wait);
  } else if (frame.ref) {
    // Refused for good (too long, muted, locked...): the text comes back to the box,
    // after anything already there, so no refused message is ever lost.
    const body = dropPending(frame.ref);
    if (body !== undefined) {
      input.value = input.value ? `${input.value}\n${body}` : body;
      fitInput();
      drafts.save();
    }
    showError(frame.detail);
  } else if (!joinedNow && ["not_found", "banned", "forbidden"].includes(frame.code)) {
    setStatus(frame.detail, "offline");
  } else if (frame.code !== "invalid") {
    showError(frame.detail);
  }
}

function dropPending(clientId) {
  const body = pending.get(clientId);
  pending.delete(clientId);
  timeline.removePending(clientId);
  return body;
}

// --- around the conversation: actions, members, mentions, notifications, unread -------

const features = roomFeatures({
  root,
  roomId,
  me,
  log,
  timeline,
  input,
  composer,
  showError,
  loadOlder: fetchOlder,
  showMessage: showFound,
  send: (frame) => socket.send(frame), // the thread panel answers on the room's socket
});
features.members.addEventListener("change", () => setOnline(online));
if (root.dataset.mutedUntil) setMuted(root.dataset.mutedUntil, root.dataset.mutedReason);

// --- the socket ----------------------------------------------------------------------

// The WebSocket, or long polling where WebSockets are blocked (see transport.js).
const socket = new RoomTransport({
  roomId,
  me,
  onOpen() {
    setStatus("Joining…", "connecting");
    socket.send({ type: "join", room: roomId, after: timeline.lastSeq });
  },
  onClose(reason, { final }) {
    joinedNow = false;
    setStatus(reason, final ? "offline" : "reconnecting");
  },
  onFrame(frame) {
    features.onFrame(frame);
    // `room` is an id on most frames and a Room object on room_updated.
    const frameRoom = frame.room !== null && typeof frame.room === "object" ? frame.room.id : frame.room;
    if (frameRoom !== undefined && frameRoom !== roomId) return;
    switch (frame.type) {
      case "joined": {
        const rejoin = joinedOnce;
        const since = knownRev;
        joinedOnce = true;
        joinedNow = true;
        const finding = !rejoin && openAt > 0;
        showNew(frame.messages, { scroll: !rejoin && !finding });
        if (finding) showFound(openAt);
        if (rejoin) catchUpChanges(since);
        else noteRev(frame.last_rev);
        setOnline(frame.online || []);
        setStatus(socket.polling ? "Live updates via polling" : "Connected", "online");
        // Anything typed while offline goes out now, with its original client_id,
        // so a send that did reach the server is not stored twice.
        for (const [clientId, body] of pending) {
          socket.send({ type: "send", room: roomId, body, client_id: clientId });
        }
        fillViewport();
        break;
      }
      case "message":
        showNew([frame.message]);
        break;
      case "message_updated":
        timeline.update(frame.message);
        noteRev(frame.message.rev);
        break;
      case "message_deleted":
        timeline.markDeleted(frame.seq);
        break;
      case "presence":
        setOnline(frame.online || []);
        break;
      case "notice": {
        const stick = timeline.atBottom();
        if (frame.ref) dropPending(frame.ref);
        timeline.addNotice(frame.text);
        if (stick || frame.ref) timeline.scrollToBottom();
        break;
      }
      case "whisper": {
        // Only the two of them get it; the sender's copy settles what they typed.
        const stick = timeline.atBottom();
        if (frame.ref) dropPending(frame.ref);
        timeline.addWhisper(frame);
        if (stick || frame.ref) timeline.scrollToBottom();
        break;
      }
      case "typing":
        someoneTyping(frame.user);
        break;
      case "read":
        readUpTo = Math.max(readUpTo, frame.seq); // read in another tab or device
        break;
      case "room_updated":
        roomChanged(frame.room);
        break;
      case "muted":
        setMuted(frame.until, frame.reason);
        break;
      case "removed": {
        // Left elsewhere, removed, or banned (then with the reason): for good.
        const why = frame.detail || "You are no longer a member of this room.";
        joinedNow = false;
        setStatus(why, "offline");
        setBlocked("removed", why);
        break;
      }
      case "error":
        refused(frame);
        break;
      default:
        break; // frame types this page does not know are ignored
    }
  },
});

// --- the composer --------------------------------------------------------------------

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function fitInput() {
  input.style.height = "";
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = input.value.trim();
  if (!body || input.disabled) return;
  const clientId = newClientId();
  pending.set(clientId, body);
  timeline.addPending(clientId, body);
  timeline.scrollToBottom();
  showError("");
  // Offline, it waits in `pending` and goes out on the next join.
  socket.send({ type: "send", room: roomId, body, client_id: clientId });
  input.value = "";
  drafts.clear();
  fitInput();
  input.focus();
});

// Escape marks the room read, unless something took it first (a picker, the mention
// list, an edit box or a dialog closing).
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented || document.querySelector("dialog[open]")) return;
  markAllRead();
});

input.addEventListener("keydown", (event) => {
  // Enter sends; Shift+Enter is a new line; Enter that ends an IME composition is not a send.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    composer.requestSubmit();
  } else if (event.key === "ArrowUp" && !input.value && !event.altKey && !event.ctrlKey && !event.metaKey) {
    // Up in an empty box edits your last message still in its edit window.
    const edits = log.querySelectorAll(".message.mine [data-action=edit]");
    const last = edits[edits.length - 1];
    if (last) {
      event.preventDefault();
      last.click();
    }
  }
});
input.addEventListener("input", () => {
  fitInput();
  tellTyping();
  drafts.save();
});

// A message being written survives leaving the room and reloading: one draft per room
// in this browser's localStorage, dropped once sent.
const drafts = {
  key: `chat:draft:${roomId}`,
  save() {
    try {
      if (input.value) localStorage.setItem(this.key, input.value);
      else localStorage.removeItem(this.key);
    } catch {
      // storage full or disabled: a draft is a convenience
    }
  },
  clear() {
    try {
      localStorage.removeItem(this.key);
    } catch {
      // as above
    }
  },
  restore() {
    try {
      const draft = localStorage.getItem(this.key);
      if (draft && !input.value) {
        input.value = draft;
        fitInput();
      }
    } catch {
      // as above
    }
  },
};
drafts.restore();

// --- scrolling -----------------------------------------------------------------------

loadOlder.addEventListener("click", fetchOlder);
log.addEventListener("scroll", () => {
  if (log.scrollTop < 200) fetchOlder();
  if (timeline.atBottom()) {
    jumpLatest.hidden = true;
    reportRead();
  } else {
    jumpLatest.hidden = false; // scrolled up: the way down is always at hand
  }
});
// The log's height changes after it was scrolled down (the status line, the composer,
// notes above it settle as the room opens; a phone's toolbar comes and goes): a reader
// at the bottom stays at the bottom, so the newest message is never cut off.
let pinned = true;
log.addEventListener("scroll", () => {
  pinned = timeline.atBottom();
}, { passive: true });
new ResizeObserver(() => {
  if (pinned) timeline.scrollToBottom();
}).observe(log);
jumpLatest.addEventListener("click", () => {
  timeline.scrollToBottom();
  jumpLatest.hidden = true;
});
document.addEventListener("visibilitychange", reportRead);

// The side panel sits beside the log on wide screens and folds away on phones.
const narrow = window.matchMedia("(max-width: 640px)");
const fitSide = () => {
  side.open = !narrow.matches;
};
fitSide();
narrow.addEventListener("change", fitSide);

if (openAt > 0) loadAround(openAt).finally(() => socket.connect());
else socket.connect();
// Ready to type when the room opens (not when it opens at a search result to read).
if (!(openAt > 0) && !input.disabled) input.focus({ preventScroll: true });
