// While the tab is hidden: a count of new messages in the title ("(3) Room · Chat")
// and, if the reader allowed it, a browser notification per message, unless they
// muted this room's notifications. Permission is only ever asked for from a button
// the reader presses, never on page load.
import { api } from "./api.js";
import { nameWithHandle } from "./timeline.js";

const COUNT_PREFIX = /^\(\d+\) /;

function notificationsSupported() {
  return "Notification" in window;
}

export class Notifier {
  constructor({ roomId, me, permissionButton, permissionNote, muteToggle, showError }) {
    this.roomId = roomId;
    this.me = me;
    this.permissionButton = permissionButton;
    this.permissionNote = permissionNote;
    this.muteToggle = muteToggle;
    this.showError = showError;
    this.unseen = 0;
    this.lastSeq = null; // messages up to here were counted (or seen)
    this.elsewhere = new Set(); // "room:seq" of DMs and mentions in other rooms, unread

    permissionButton.addEventListener("click", () => this.askPermission());
    muteToggle.addEventListener("change", () => this.setMuted(muteToggle.checked));
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

  async setMuted(muted) {
    this.muteToggle.disabled = true;
    const { ok, data } = await api("POST", `/api/rooms/${this.roomId}/notifications`, { muted });
    this.muteToggle.disabled = false;
    if (!ok) {
      this.muteToggle.checked = !muted;
      this.showError(data.detail);
    }
  }

  /** Messages shown on the page (live or replayed on a rejoin), oldest first. */
  arrived(messages) {
    for (const message of messages) {
      if (this.lastSeq !== null && message.seq <= this.lastSeq) continue;
      const first = this.lastSeq === null;
      this.lastSeq = message.seq;
      if (first || !this.hidden) continue; // the first join's history is not news
      if (message.kind === "system" || message.author === this.me || message.deleted) continue;
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

  /** A message in another room that is news to me: a private chat's (room_activity)
   * or one that mentions me (mention). Counted in the title until I open that room,
   * and a desktop notification if allowed, whether or not this tab is hidden. */
  otherRoom(message, { mention = false } = {}) {
    if (!message || message.author === this.me || message.kind === "system" || message.deleted) return;
    const key = `${message.room}:${message.seq}`;
    if (this.elsewhere.has(key)) return; // a mention in a private chat comes twice
    this.elsewhere.add(key);
    this.showCount();
    if (!notificationsSupported() || Notification.permission !== "granted") return;
    const who = nameWithHandle(message.author_name, message.author);
    try {
      const notification = new Notification(mention ? `${who} mentioned you` : `${who} wrote to you`, {
        body: message.body.length > 200 ? `${message.body.slice(0, 199)}…` : message.body,
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
    if (!notificationsSupported() || Notification.permission !== "granted") return;
    if (this.muteToggle.checked) return;
    const room = document.title.replace(COUNT_PREFIX, "").replace(/ · Chat$/, "");
    const who = nameWithHandle(message.author_name, message.author);
    const mentioned = /class="mention"[^>]*data-mention="([^"]*)"/g;
    const mentionsMe = [...(message.html || "").matchAll(mentioned)].some(
      ([, name]) => name.toLowerCase() === this.me.toLowerCase(),
    );
    try {
      const notification = new Notification(mentionsMe ? `${who} mentioned you in ${room}` : `${who} in ${room}`, {
        body: message.body.length > 200 ? `${message.body.slice(0, 199)}…` : message.body,
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
