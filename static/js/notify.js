// While the tab is hidden: a count of new messages in the title ("(3) Room · Chat")
// and, if the reader allowed it, a browser notification per message, as the reader's
// notify level for the room says (levelNotifies below) and unless "Do not disturb" is
// on. Permission is only ever asked for from a button the reader presses, never on
// page load.
import { api } from "./api.js";
import { nameWithHandle } from "./timeline.js";

const COUNT_PREFIX = /^\(\d+\) /;

/** A notification's text: the message's start, or the files it carries when it has no text. */
function preview(message) {
  const body = message.body || "";
  if (body) return body.length > 200 ? `${body.slice(0, 199)}…` : body;
  const files = (message.attachments || []).map((file) => file.name);
  return files.length ? `Sent ${files.length === 1 ? "a file" : `${files.length} files`}: ${files.join(", ")}` : "";
}

function notificationsSupported() {
  return "Notification" in window;
}

/** The client's one rule: does a message at this notify level concern me? "nothing":
 * never; "mentions": when it mentions me, or in a 1:1 chat (every message there is
 * to me); "all" (and a level an older server did not send): always. */
export function levelNotifies(level, { mentionsMe = false, direct = false } = {}) {
  if (level === "nothing") return false;
  if (level === "mentions") return mentionsMe || direct;
  return true;
}

/** Whether "Do not disturb" (the navigation's switch, static/js/dnd.js) is on now.
 * Read from the button, so this module needs no import of that one. */
export function doNotDisturb() {
  const button = document.getElementById("dnd-toggle");
  if (!button || button.getAttribute("aria-pressed") !== "true") return false;
  const until = button.dataset.until;
  return !until || new Date(until).getTime() > Date.now();
}

export class Notifier {
  constructor({ roomId, roomKind, me, level, permissionButton, permissionNote, levelSelect, showError }) {
    this.roomId = roomId;
    this.direct = roomKind === "direct";
    this.me = me;
    this.level = level || "all"; // my notify level for this room
    this.permissionButton = permissionButton;
    this.permissionNote = permissionNote;
    this.levelSelect = levelSelect;
    this.showError = showError;
    this.unseen = 0;
    this.lastSeq = null; // messages up to here were counted (or seen)
    this.elsewhere = new Set(); // "room:seq" of DMs and mentions in other rooms, unread

    permissionButton.addEventListener("click", () => this.askPermission());
    levelSelect.addEventListener("change", () => this.setLevel(levelSelect.value));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reset();
    });
    this.showPermission();
  }

  get hidden() {
    return document.visibilityState === "hidden";
  }

  showPermission() {
    const supported = notificationsSupported();
    const permission = supported ? Notification.permission : "unsupported";
    this.permissionButton.hidden = permission !== "default";
    this.permissionNote.textContent =
      permission === "granted"
        ? "Desktop notifications are on while this tab is in the background."
        : permission === "denied"
          ? "Notifications are blocked for this site in your browser's settings."
          : "";
  }

  async askPermission() {
    if (!notificationsSupported()) return;
    try {
      await Notification.requestPermission();
    } finally {
      this.showPermission();
    }
  }

  async setLevel(level) {
    const before = this.level;
    this.level = level;
    this.levelSelect.disabled = true;
    const { ok, data } = await api("POST", `/api/rooms/${this.roomId}/notifications`, { level });
    this.levelSelect.disabled = false;
    if (!ok) {
      this.showLevel(before);
      this.showError(data.detail);
    }
  }

  /** My level for this room changed (here, or in another tab: a notify_level frame). */
  showLevel(level) {
    this.level = level;
    this.levelSelect.value = level;
  }

  /** Messages shown on the page (live or replayed on a rejoin), oldest first. */
  arrived(messages) {
    for (const message of messages) {
      if (this.lastSeq !== null && message.seq <= this.lastSeq) continue;
      const first = this.lastSeq === null;
      this.lastSeq = message.seq;
      if (first || !this.hidden) continue; // the first join's history is not news
      if (message.kind === "system" || message.author === this.me || message.deleted) continue;
      // "nothing": not even counted. Otherwise the title counts what I have not seen
      // of the room I am reading, and the level decides what also notifies.
      if (this.level === "nothing") continue;
      this.unseen += 1;
      this.showCount();
      this.notify(message);
    }
  }

  /** The join's history sets where counting starts. */
  joined(messages, lastSeq) {
    if (this.lastSeq === null) {
      this.lastSeq = lastSeq ?? 0;
      return;
    }
    this.arrived(messages);
  }

  /** A message in another room that may be news to me: a private chat's
   * (room_activity) or one that mentions me (mention). Both frames carry my notify
   * level for that room (`level`); what it lets through is counted in the title until
   * I open that room, and a desktop notification if allowed and not in do-not-disturb,
   * whether or not this tab is hidden. */
  otherRoom(message, { mention = false, direct = false, level = "all" } = {}) {
    if (!message || message.author === this.me || message.kind === "system" || message.deleted) return;
    if (!levelNotifies(level, { mentionsMe: mention, direct })) return;
    const key = `${message.room}:${message.seq}`;
    if (this.elsewhere.has(key)) return; // a mention in a private chat comes twice
    this.elsewhere.add(key);
    this.showCount();
    if (!notificationsSupported() || Notification.permission !== "granted" || doNotDisturb()) return;
    const who = nameWithHandle(message.author_name, message.author);
    try {
      const notification = new Notification(mention ? `${who} mentioned you` : `${who} wrote to you`, {
        body: preview(message),
        tag: `room-${message.room}`,
      });
      notification.onclick = () => {
        window.focus();
        window.location.assign(`/rooms/${message.room}/?at=${message.seq}`);
      };
    } catch {
      // as in notify()
    }
  }

  /** Another room was read (here or in another tab): its messages are no longer news. */
  readElsewhere(roomId) {
    for (const key of [...this.elsewhere]) if (key.startsWith(`${roomId}:`)) this.elsewhere.delete(key);
    this.showCount();
  }

  showCount() {
    const title = document.title.replace(COUNT_PREFIX, "");
    const count = this.unseen + this.elsewhere.size;
    document.title = count ? `(${count}) ${title}` : title;
  }

  reset() {
    this.unseen = 0;
    this.showCount();
  }

  notify(message) {
    if (!notificationsSupported() || Notification.permission !== "granted" || doNotDisturb()) return;
    const mentioned = /class="mention"[^>]*data-mention="([^"]*)"/g;
    const mentionsMe = [...(message.html || "").matchAll(mentioned)].some(
      ([, name]) => name.toLowerCase() === this.me.toLowerCase(),
    );
    if (!levelNotifies(this.level, { mentionsMe, direct: this.direct })) return;
    const room = document.title.replace(COUNT_PREFIX, "").replace(/ · Chat$/, "");
    const who = nameWithHandle(message.author_name, message.author);
    try {
      const notification = new Notification(mentionsMe ? `${who} mentioned you in ${room}` : `${who} in ${room}`, {
        body: preview(message),
        tag: `room-${this.roomId}`, // one notification per room, replaced by the next
      });
      notification.onclick = () => {
        window.focus();
        notification.close();
      };
    } catch {
      // Some browsers only allow notifications from a service worker; the title count stays.
    }
  }
}
