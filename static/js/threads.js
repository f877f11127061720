// Threads on the room page: under a message with replies, "3 replies · last reply
// 10:42" (a button that opens its thread); a "Reply in thread" action on every
// message; in the log, a reply's one-line quote of the message it answers; and the
// thread panel beside the log (the whole screen on a phone): the message, its replies,
// and a box to answer in the thread, with "Also send to room".
//
// A reply written in the panel is `thread_only` unless "Also send to room" is ticked:
// it stays out of the room's log (the count under its parent stands for it) and shows
// in the panel. Everything arrives on the room's one socket, in order: the panel loads
// a thread's replies from the API when it opens, then follows the same frames as the
// log (a reply is a `message`, its parent's new count a `message_updated`); a rejoin
// reads the thread again, so nothing said while the page was away is missed.
// User text is set with textContent; a message's `html` goes through safe_html.js.
import { api } from "./api.js";
import { appendSanitizedHtml } from "./safe_html.js";

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const QUOTE_MAX = 80;
const PAGE = 200;
const MAX_PAGES = 20;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function firstLine(message) {
  if (message.deleted) return "message removed";
  const line = (message.body || "").split("\n", 1)[0].trim();
  return line.length <= QUOTE_MAX ? line : `${line.slice(0, QUOTE_MAX - 1)}…`;
}

function shownName(message) {
  return message.author_name || message.author || "";
}

function newer(known, message) {
  return !known || (known.rev ?? 0) <= (message.rev ?? 0) || message.deleted;
}

export function repliesText(count) {
  return count === 1 ? "1 reply" : `${count} replies`;
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export class ThreadPanel {
  constructor({ root, log, roomId, me, send }) {
    this.root = root;
    this.log = log;
    this.roomId = roomId;
    this.me = me;
    this.send = send; // (frame) -> whether the socket took it
    this.panel = document.getElementById("thread-panel");
    this.parentBox = document.getElementById("thread-parent");
    this.list = document.getElementById("thread-replies");
    this.countLine = document.getElementById("thread-count");
    this.form = document.getElementById("thread-composer");
    this.input = document.getElementById("thread-input");
    this.alsoRoom = document.getElementById("thread-also-room");
    this.error = document.getElementById("thread-error");
    this.messages = new Map(); // seq -> newest copy seen of every message of the room
    this.replies = new Map(); // seq -> reply in the open thread
    this.pending = new Map(); // client_id -> {body, reply_to, thread_only}
    this.seq = null; // the open thread's parent
    this.opener = null; // what had focus before the panel opened
    this.loading = 0; // bumped per load: an older answer is dropped

    log.addEventListener("click", (event) => {
      const control = event.target.closest("[data-thread]");
      if (!control || !log.contains(control)) return;
      event.preventDefault();
      this.open(Number(control.dataset.thread), control);
    });
    document.getElementById("thread-close").addEventListener("click", () => this.close());
    document.addEventListener("keydown", (event) => {
      // After the pickers' own Escape (they prevent it), before "mark all read".
      if (event.key !== "Escape" || event.defaultPrevented || this.seq === null) return;
      if (document.querySelector("dialog[open]")) return;
      event.preventDefault();
      this.close();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
  }

  // --- in the room's log ---------------------------------------------------------------

  /** A timeline decorator: every message the log draws or redraws passes here. */
  decorate(item, message) {
    this.see(message);
    if (message.thread_only && !message.deleted) {
      // Written in its thread only: the parent's count stands for it in the log.
      item.hidden = true;
      item.classList.add("thread-only");
      return;
    }
    if (message.reply_to) item.querySelector(".body")?.before(this.quote(message));
    if (message.reply_count > 0) item.append(this.summary(message));
    const bar = item.querySelector(".message-actions");
    if (bar && message.kind !== "system") {
      const reply = element("button", "message-action", "💬");
      reply.type = "button";
      reply.dataset.thread = message.seq;
      reply.setAttribute("aria-label", "Reply in thread");
      reply.title = "Reply in thread";
      const picker = bar.querySelector(".quick-reactions");
      if (picker) picker.before(reply);
      else bar.append(reply);
    }
  }

  quote(message) {
    const parent = this.messages.get(message.reply_to);
    const quote = element("button", "link reply-quote");
    quote.type = "button";
    quote.dataset.thread = message.reply_to;
    const text = parent ? `${shownName(parent)}: ${firstLine(parent)}` : "an earlier message";
    quote.textContent = `↪ ${text}`;
    quote.title = "Open the thread";
    return quote;
  }

  summary(message) {
    const line = element("div", "thread-summary");
    const open = element("button", "link thread-link", repliesText(message.reply_count));
    open.type = "button";
    open.dataset.thread = message.seq;
    line.append(open);
    if (message.last_reply_at) {
      const when = new Date(message.last_reply_at);
      const time = element("time", "", timeFormat.format(when));
      time.dateTime = message.last_reply_at;
      time.title = fullFormat.format(when);
      line.append(" · last reply ", time);
    }
    return line;
  }

  // --- following the room ----------------------------------------------------------------

  /** A message as it is now (a frame, history, this page's own send). */
  see(message) {
    if (!message || message.room !== this.roomId) return;
    if (!newer(this.messages.get(message.seq), message)) return;
    this.messages.set(message.seq, message);
    if (message.client_id && this.pending.delete(message.client_id)) this.renderList();
    if (this.seq === null) return;
    if (message.seq === this.seq) this.renderParent();
    else if (message.reply_to === this.seq && newer(this.replies.get(message.seq), message)) {
      this.replies.set(message.seq, message);
      this.renderList();
    }
  }

  removed(seq) {
    const known = this.messages.get(seq);
    if (known) this.see({ ...known, deleted: true, body: "", html: "", rev: Infinity });
  }

  onFrame(frame) {
    switch (frame.type) {
      case "joined":
        for (const message of frame.messages || []) this.see(message);
        if (this.seq !== null) this.load(); // what the thread got while we were away
        // Thread replies typed while offline go out now, with their client_id.
        for (const [clientId, sent] of this.pending) {
          this.send({ type: "send", room: this.roomId, client_id: clientId, ...sent });
        }
        break;
      case "message":
      case "message_updated":
        this.see(frame.message);
        break;
      case "message_deleted":
        this.removed(frame.seq);
        break;
      case "error":
        if (frame.ref && this.pending.has(frame.ref) && frame.code === "rate_limited") {
          // Sent too fast: it goes again, with its client_id (stored once), when allowed.
          const wait = Math.max(1000, (Number(frame.retry_after) || 1) * 1000);
          setTimeout(() => {
            const sent = this.pending.get(frame.ref);
            if (sent) this.send({ type: "send", room: this.roomId, client_id: frame.ref, ...sent });
          }, wait);
        } else if (frame.ref && this.pending.has(frame.ref)) {
          // Refused for good: the text comes back to the thread box.
          const { body } = this.pending.get(frame.ref);
          this.pending.delete(frame.ref);
          this.input.value = this.input.value ? `${this.input.value}\n${body}` : body;
          this.error.textContent = frame.detail || "";
          this.renderList();
        }
        break;
      default:
        break;
    }
  }

  // --- the panel -----------------------------------------------------------------------

  open(seq, opener = null) {
    if (!Number.isInteger(seq) || seq < 1) return;
    if (this.seq !== seq) {
      this.seq = seq;
      this.replies = new Map();
      for (const message of this.messages.values()) {
        if (message.reply_to === seq) this.replies.set(message.seq, message);
      }
      this.error.textContent = "";
      this.renderParent();
      this.renderList();
      this.load();
    }
    if (opener) this.opener = opener;
    this.panel.hidden = false;
    this.root.classList.add("thread-open");
    this.input.focus();
  }

  close() {
    if (this.seq === null) return;
    this.seq = null;
    this.panel.hidden = true;
    this.root.classList.remove("thread-open");
    const back = this.opener && this.opener.isConnected ? this.opener : document.getElementById("message-input");
    this.opener = null;
    back?.focus({ preventScroll: true });
  }

  /** Every reply of the open thread from the API, page by page; frames that arrive
   * meanwhile are kept (a copy with a higher rev wins). */
  async load() {
    const seq = this.seq;
    const round = ++this.loading;
    let after = 0;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const { ok, data } = await api(
        "GET",
        `/api/rooms/${this.roomId}/messages/${seq}/replies?after=${after}&limit=${PAGE}`,
      );
      if (round !== this.loading || seq !== this.seq) return;
      if (!ok) {
        this.error.textContent = data?.detail || "The thread could not be loaded.";
        return;
      }
      for (const message of data.messages) {
        if (newer(this.messages.get(message.seq), message)) this.messages.set(message.seq, message);
        if (newer(this.replies.get(message.seq), message)) this.replies.set(message.seq, message);
        after = message.seq;
      }
      this.renderList();
      if (!data.has_more || !data.messages.length) return;
    }
  }

  submit() {
    const body = this.input.value.trim();
    if (!body || this.seq === null) return;
    const clientId = newClientId();
    const sent = { body, reply_to: this.seq, thread_only: !this.alsoRoom.checked };
    this.pending.set(clientId, sent);
    this.error.textContent = "";
    // Offline, it waits in `pending` and goes out on the next join.
    this.send({ type: "send", room: this.roomId, client_id: clientId, ...sent });
    this.input.value = "";
    this.alsoRoom.checked = false; // each reply chooses again, as the box starts
    this.renderList();
    this.input.focus();
  }

  renderParent() {
    const parent = this.messages.get(this.seq);
    this.parentBox.replaceChildren(parent ? this.renderEntry(parent) : element("p", "muted", "Loading…"));
    const count = parent?.reply_count ?? this.replies.size;
    this.countLine.textContent = count ? repliesText(count) : "No replies yet";
  }

  renderList() {
    if (this.seq === null) return;
    const replies = [...this.replies.values()].sort((a, b) => a.seq - b.seq);
    const items = replies.map((message) => {
      const item = element("li");
      item.append(this.renderEntry(message));
      return item;
    });
    for (const sent of this.pending.values()) {
      if (sent.reply_to !== this.seq) continue;
      const item = element("li", "pending");
      item.setAttribute("aria-busy", "true");
      item.append(this.renderEntry({ author: this.me, author_name: "", body: sent.body, kind: "text" }, "Sending…"));
      items.push(item);
    }
    this.list.replaceChildren(...items);
    this.renderParent();
  }

  renderEntry(message, status = null) {
    const entry = element("article", `thread-message kind-${message.kind || "text"}`);
    if (message.seq) entry.dataset.seq = message.seq;
    const meta = element("div", "meta");
    if (message.author) {
      meta.append(element("span", "author", shownName(message)), " ", element("span", "handle", `@${message.author}`), " ");
    }
    if (status) meta.append(element("span", "muted", status));
    else if (message.created_at) {
      const when = new Date(message.created_at);
      const time = element("time", "", timeFormat.format(when));
      time.dateTime = message.created_at;
      time.title = fullFormat.format(when);
      meta.append(time);
    }
    if (message.reply_to && !message.thread_only && !message.deleted) {
      meta.append(" ", element("span", "tag", "also in room"));
    }
    let body;
    if (message.deleted) body = element("div", "body", "message removed");
    else if (message.html && message.kind !== "system") {
      body = element("div", "body rich");
      appendSanitizedHtml(body, message.html);
    } else body = element("div", "body", message.body || "");
    if (message.deleted) entry.classList.add("deleted");
    entry.append(meta, body);
    return entry;
  }
}
