// The members list in the room's side panel, with roles, and for the room's owner and
// moderators per-member "Mute" (10 min / 1 h / until lifted), "Unmute" and, in public
// rooms, "Ban" (with a reason). The server checks every action (rooms/moderation.py);
// the muted member hears of it at once through a `muted` frame.
import { api } from "./api.js";
import { ask } from "./dialogs.js";

// A mute "until lifted" is stored as a date a century away.
const UNTIL_LIFTED_AFTER_MS = 50 * 365 * 24 * 3600 * 1000;
const untilFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const shortFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });

function isUntilLifted(date) {
  return date - new Date() > UNTIL_LIFTED_AFTER_MS;
}

/** The sentence a muted member's composer shows. */
export function mutedText(until, reason) {
  const end = new Date(until);
  const when = isUntilLifted(end) ? "until a moderator lifts it" : `until ${untilFormat.format(end)}`;
  const why = reason ? ` Reason: ${reason}` : "";
  return `You are muted in this room ${when}.${why}`;
}

function mutedLabel(until) {
  const end = new Date(until);
  return isUntilLifted(end) ? "muted" : `muted until ${shortFormat.format(end)}`;
}

function isMuted(member) {
  return member.muted_until !== null && new Date(member.muted_until) > new Date();
}

function actionButton(text, onClick) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = "link member-action";
  node.textContent = text;
  node.addEventListener("click", onClick);
  return node;
}

export class MemberPanel {
  constructor({ list, members, roomId, roomKind, me, canModerate, isOwner, showError }) {
    this.list = list;
    this.members = members;
    this.roomId = roomId;
    this.roomKind = roomKind;
    this.me = me;
    this.canModerate = canModerate;
    this.isOwner = isOwner;
    this.showError = showError;
    this.bans = new BanList({ roomId, showError });
    members.addEventListener("change", () => this.render());
  }

  render() {
    this.list.replaceChildren(...this.members.members.map((member) => this.renderMember(member)));
  }

  renderMember(member) {
    const item = document.createElement("li");
    item.dataset.username = member.username;
    const link = document.createElement("a");
    link.href = `/accounts/users/${encodeURIComponent(member.username)}/`;
    // "Alice @alice": the display name, then the username that says who it really is.
    const name = document.createElement("span");
    name.className = "member-name";
    name.textContent = member.display_name || member.username;
    const handle = document.createElement("span");
    handle.className = "handle";
    handle.textContent = `@${member.username}`;
    link.append(name, " ", handle);
    if (member.username === this.me) link.append(" (you)");
    link.title = `${name.textContent} @${member.username}`;
    item.append(link);
    if (member.role !== "member") item.append(" ", tag("role", member.role));
    if (isMuted(member)) item.append(" ", tag("muted-tag", mutedLabel(member.muted_until)));
    item.append(" ", tag("seen muted", seenLabel(member)));
    if (this.canModerate && member.username !== this.me && member.role !== "owner") {
      const actions = document.createElement("div");
      actions.className = "member-actions";
      actions.setAttribute("role", "group");
      actions.setAttribute("aria-label", `Moderate ${member.username}`);
      if (isMuted(member)) actions.append(actionButton("Unmute", () => this.unmute(member)));
      else actions.append(actionButton("Mute", () => this.mute(member)));
      if (this.roomKind === "public") actions.append(actionButton("Ban", () => this.ban(member)));
      if (this.isOwner && member.role === "moderator") {
        actions.append(actionButton("Remove moderator", () => this.act("moderators", { username: member.username, moderator: false })));
      } else if (this.isOwner && member.role === "member") {
        actions.append(actionButton("Make moderator", () => this.act("moderators", { username: member.username, moderator: true })));
      }
      item.append(actions);
    }
    return item;
  }

  async act(path, body) {
    const { ok, data } = await api("POST", `/api/rooms/${this.roomId}/${path}`, body);
    if (!ok) this.showError(data.detail);
    await this.members.refresh();
    return ok;
  }

  async mute(member) {
    const answer = await ask({
      title: `Mute ${member.username}`,
      text: "They can still read the room, but not post in it.",
      fields: [
        {
          type: "radio",
          name: "minutes",
          legend: "For how long",
          options: [
            { label: "10 minutes", value: "10", checked: true },
            { label: "1 hour", value: "60" },
            { label: "Until lifted", value: "" },
          ],
        },
        { type: "text", name: "reason", label: "Reason (shown to them)" },
      ],
      confirm: "Mute",
    });
    if (!answer) return;
    await this.act("mute", {
      username: member.username,
      minutes: answer.minutes ? Number(answer.minutes) : null,
      reason: answer.reason.trim(),
    });
  }

  async unmute(member) {
    await this.act("unmute", { username: member.username });
  }

  async ban(member) {
    const answer = await ask({
      title: `Ban ${member.username} from this room?`,
      text: "They are removed at once and cannot come back until unbanned.",
      fields: [{ type: "text", name: "reason", label: "Reason", required: true }],
      confirm: "Ban",
      danger: true,
    });
    if (!answer) return;
    await this.act("ban", { username: member.username, reason: answer.reason.trim() });
    await this.bans.refresh();
  }
}

/** "Banned" in the side panel of a public room, for its owner and moderators: who is
 * banned and why, each with "Unban". */
class BanList {
  constructor({ roomId, showError }) {
    this.roomId = roomId;
    this.showError = showError;
    this.list = document.getElementById("ban-list");
    if (this.list) this.refresh();
  }

  async refresh() {
    if (!this.list) return;
    const { ok, data } = await api("GET", `/api/rooms/${this.roomId}/bans`);
    if (!ok) return;
    if (!data.bans.length) {
      this.list.replaceChildren(Object.assign(document.createElement("li"), { className: "muted", textContent: "Nobody." }));
      return;
    }
    this.list.replaceChildren(
      ...data.bans.map((ban) => {
        const item = document.createElement("li");
        item.append(ban.username);
        if (ban.reason) item.append(" ", Object.assign(document.createElement("span"), { className: "muted", textContent: `(${ban.reason})` }));
        const lift = actionButton("Unban", async () => {
          const { ok: lifted, data: answer } = await api("POST", `/api/rooms/${this.roomId}/unban`, { username: ban.username });
          if (!lifted) this.showError(answer.detail);
          await this.refresh();
        });
        lift.setAttribute("aria-label", `Unban ${ban.username}`);
        item.append(" ", lift);
        return item;
      }),
    );
  }
}

/** "Lock room" / "Unlock room" for moderators; the button follows the room's state as
 * room_updated frames report it (a lock from the admin or another tab too). */
export class LockToggle {
  constructor({ roomId, showError }) {
    this.roomId = roomId;
    this.showError = showError;
    this.button = document.getElementById("lock-toggle");
    if (!this.button) return;
    this.show(this.button.dataset.locked === "true");
    this.button.addEventListener("click", () => this.toggle());
  }

  show(locked) {
    if (!this.button) return;
    this.locked = locked;
    this.button.textContent = locked ? "Unlock room" : "Lock room";
  }

  async toggle() {
    const { ok, data } = await api("POST", `/api/rooms/${this.roomId}/${this.locked ? "unlock" : "lock"}`, this.locked ? undefined : { reason: "" });
    if (!ok) this.showError(data.detail);
  }
}

function tag(className, text) {
  const node = document.createElement("span");
  node.className = `tag ${className}`;
  node.textContent = text;
  return node;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "online", or "seen 5 minutes ago" from the member list's last_seen. */
function seenLabel(member) {
  if (member.online) return "online";
  if (!member.last_seen) return "offline";
  const minutes = Math.round((new Date(member.last_seen).getTime() - Date.now()) / 60000);
  if (Math.abs(minutes) < 60) return `seen ${relative.format(minutes, "minute")}`;
  const hours = Math.round(minutes / 60);
  if (Math.abs(hours) < 48) return `seen ${relative.format(hours, "hour")}`;
  return `seen ${relative.format(Math.round(hours / 24), "day")}`;
}
