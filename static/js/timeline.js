// The room's messages inside the role=log element: in seq order, each once, with a
// day separator above the first message of each day, and consecutive messages from
// one author grouped. Sends still on their way wait in the outbox, the log's last
// child. User text is set with textContent; the one exception is a message's `html`,
// the server's sanitised Markdown rendering, which goes through safe_html.js.
import { appendSanitizedHtml } from "./safe_html.js";
import { renderAttachments } from "./attachment_view.js";

const GROUP_WITHIN_MS = 5 * 60 * 1000;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  month: "long",
  day: "numeric",
  year: "numeric",
});

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "Alice (@mallory)" for a sentence: a display name is free text, so say whose it is
 * unless it is the username itself. */
export function nameWithHandle(name, username) {
  return !name || name === username ? username : `${name} (@${username})`;
}

/** Up to two initials of a name, for the generated avatar. */
function initials(name) {
  const words = name.replace(/^@/, "").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0] || "?"];
  return letters.map((word) => [...word][0].toUpperCase()).join("");
}

/** A stable hue per username: the same person has the same colour everywhere. */
function hue(username) {
  let hash = 0;
  for (const char of username) hash = (hash * 31 + char.codePointAt(0)) % 360;
  return hash;
}

function renderAvatar(name, username) {
  const avatar = element("span", "avatar", initials(name));
  avatar.setAttribute("aria-hidden", "true"); // the name beside it says who
  avatar.style.setProperty("--avatar-hue", hue(username));
  return avatar;
}

function renderMessage(message, me) {
  const created = new Date(message.created_at);
  const item = element("article", `message kind-${message.kind}`);
  item.dataset.seq = message.seq;
  item.dataset.rev = message.deleted ? "Infinity" : message.rev;
  item.dataset.day = dayKey(created);
  item.dataset.time = created.getTime();
  item.dataset.author = message.author || "";
  if (message.author && message.author === me) item.classList.add("mine");

  const name = message.author_name || message.author || "";
  const meta = element("div", "meta");
  if (message.author) {
    // "Alice @alice": the display name is free text, the username says who it is.
    const author = element("span", "author", name);
    author.title = `${name} @${message.author}`;
    meta.append(author, element("span", "handle", `@${message.author}`));
  }
  const time = element("time", "", timeFormat.format(created));
  time.dateTime = message.created_at;
  time.title = fullFormat.format(created);
  meta.append(time);
  if (message.edited_at && !message.deleted) {
    const edited = element("span", "edited", "(edited)");
    edited.title = `Edited ${fullFormat.format(new Date(message.edited_at))}`;
    meta.append(edited);
  }
  if (message.deleted) item.classList.add("deleted");
  if (message.author) item.append(renderAvatar(name, message.author));
  item.append(meta, renderBody(message, name));
  const files = renderAttachments(message);
  if (files) item.append(files);
  return item;
}

/** The server's Markdown rendering when there is one (see safe_html.js); plain text
 * for deletions, system lines and sends not yet acknowledged. */
function renderBody(message, name) {
  if (message.deleted) return element("div", "body", "message removed");
  if (message.kind === "system" || !message.html) {
    return element("div", "body", message.kind === "action" ? `${name} ${message.body}` : message.body);
  }
  const body = element("div", "body rich");
  appendSanitizedHtml(body, message.html);
  if (message.kind === "action") {
    // "/me waves" reads "Alice waves": the name leads the first paragraph.
    const first = body.firstElementChild && body.firstElementChild.tagName === "P" ? body.firstElementChild : body;
    first.prepend(`${name} `);
  }
  return body;
}

function renderSeparator(day, date) {
  const label = dayFormat.format(date);
  const separator = element("div", "day-separator");
  separator.setAttribute("role", "separator");
  separator.setAttribute("aria-label", label); // a separator's own text is not read out
  separator.dataset.day = day;
  separator.append(element("span", "", label));
  return separator;
}

function isMessage(node) {
  return node !== null && node.classList.contains("message") && node.dataset.seq !== undefined;
}

/** Where `seq` goes in the ascending list `seqs` (binary search). */
function insertionIndex(seqs, seq) {
  let low = 0;
  let high = seqs.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (seqs[middle] < seq) low = middle + 1;
    else high = middle;
  }
  return low;
}

export class Timeline {
  constructor(log, { me, outbox }) {
    this.log = log;
    this.me = me;
    this.outbox = outbox;
    this.bySeq = new Map(); // seq -> article
    this.seqs = []; // shown seqs, ascending
    this.pending = new Map(); // client_id -> article in the outbox
    this.decorators = []; // (article, message) => void: reactions, actions, markers
  }

  render(message) {
    const item = renderMessage(message, this.me);
    for (const decorate of this.decorators) decorate(item, message);
    return item;
  }

  get firstSeq() {
    return this.seqs.length ? this.seqs[0] : null;
  }

  get lastSeq() {
    return this.seqs.length ? this.seqs[this.seqs.length - 1] : null;
  }

  /** Show a message in its place. Returns false if it was already shown (then it is
   * redrawn only if this copy is newer). */
  put(message) {
    if (this.bySeq.has(message.seq)) {
      this.update(message);
      return false;
    }
    const item = this.render(message);
    const index = insertionIndex(this.seqs, message.seq);
    const next = index < this.seqs.length ? this.bySeq.get(this.seqs[index]) : null;
    this.seqs.splice(index, 0, message.seq);
    this.bySeq.set(message.seq, item);
    this.place(item, next);
    return true;
  }

  /** An edit or deletion of a shown message; messages not on screen are left alone
   * (showing one would leave a hole in the history above it). */
  update(message) {
    const existing = this.bySeq.get(message.seq);
    if (!existing || Number(existing.dataset.rev) > (message.rev ?? 0)) return;
    const item = this.render(message);
    existing.replaceWith(item);
    this.bySeq.set(message.seq, item);
    this.regroup(item);
    this.regroup(item.nextElementSibling);
  }

  markDeleted(seq) {
    const item = this.bySeq.get(seq);
    if (!item) return;
    item.classList.add("deleted");
    item.dataset.rev = "Infinity"; // nothing comes after a deletion
    for (const extra of item.querySelectorAll(".edited, .reactions, .message-actions, .edit-form, .attachments")) extra.remove();
    const body = item.querySelector(".body");
    body.classList.remove("rich");
    body.hidden = false;
    body.textContent = "message removed";
  }

  place(item, next) {
    const day = item.dataset.day;
    let anchor = next || this.outbox;
    // A later day's separator stays directly above that day's first message.
    const above = next && next.previousElementSibling;
    if (above && above.classList.contains("day-separator") && above.dataset.day !== day) {
      anchor = above;
    }
    this.log.insertBefore(item, anchor);
    const previous = item.previousElementSibling;
    if (!previous || previous.dataset.day !== day) {
      this.log.insertBefore(renderSeparator(day, new Date(Number(item.dataset.time))), item);
    }
    const after = item.nextElementSibling;
    if (isMessage(after) && after.dataset.day !== day) {
      this.log.insertBefore(renderSeparator(after.dataset.day, new Date(Number(after.dataset.time))), after);
    }
    this.regroup(item);
    this.regroup(item.nextElementSibling);
  }

  /** Follow-ups by the same author within a few minutes drop the repeated name. */
  regroup(item) {
    if (!isMessage(item)) return;
    let previous = item.previousElementSibling;
    while (previous?.hidden) previous = previous.previousElementSibling; // kept out of the log (threads.js)
    const continued =
      isMessage(previous) &&
      item.dataset.author !== "" &&
      previous.dataset.author === item.dataset.author &&
      !item.classList.contains("kind-system") &&
      !previous.classList.contains("kind-system") &&
      Number(item.dataset.time) - Number(previous.dataset.time) < GROUP_WITHIN_MS;
    item.classList.toggle("continued", continued);
  }

  // --- sends on their way ------------------------------------------------------------

  addPending(clientId, body) {
    const item = renderMessage(
      { seq: "", rev: 0, kind: "text", author: this.me, body, created_at: new Date().toISOString() },
      this.me,
    );
    delete item.dataset.seq;
    item.classList.add("pending");
    item.setAttribute("aria-busy", "true");
    item.querySelector(".meta time").textContent = "Sending…";
    this.pending.set(clientId, item);
    this.outbox.append(item);
  }

  removePending(clientId) {
    this.pending.get(clientId)?.remove();
    this.pending.delete(clientId);
  }

  /** A private answer from the server (a command's reply): shown here, never stored. */
  addNotice(text) {
    const now = new Date();
    const notice = element("div", "notice", text);
    notice.dataset.day = dayKey(now);
    notice.dataset.time = now.getTime();
    this.log.insertBefore(notice, this.outbox);
  }

  /** A whisper to or from me: shown apart from the room's messages, user text as text. */
  addWhisper(frame) {
    const when = new Date(frame.created_at);
    const mine = frame.from === this.me;
    const item = element("div", `whisper ${mine ? "whisper-sent" : "whisper-received"}`);
    const label = mine
      ? `You whisper to ${nameWithHandle(frame.to_name, frame.to)}`
      : `${nameWithHandle(frame.from_name, frame.from)} whispers to you`;
    item.append(
      element("span", "whisper-label", `${label}:`),
      " ",
      element("span", "whisper-text", frame.text),
    );
    item.dataset.day = dayKey(when);
    item.dataset.time = when.getTime();
    this.log.insertBefore(item, this.outbox);
  }

  // --- scrolling -----------------------------------------------------------------------

  atBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 48;
  }

  scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** Run `change` (which adds content above) without moving what the reader sees. */
  keepPlace(change) {
    const fromBottom = this.log.scrollHeight - this.log.scrollTop;
    change();
    this.log.scrollTop = this.log.scrollHeight - fromBottom;
  }
}
