// The room list: keeps "Private chats and conferences" current while the page is
// open. Any `room_activity` frame re-reads the list from the API and redraws it.
import { api, oneAtATime } from "./api.js";
import { ChatSocket } from "./socket.js";

const list = document.getElementById("private-rooms");
const timeFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });

function firstLine(message) {
  if (!message) return "";
  if (message.deleted) return "message removed";
  const line = message.body.split("\n", 1)[0];
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

function badge(className, text, label) {
  const node = document.createElement("span");
  node.className = className;
  node.textContent = text;
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", label);
  return node;
}

function render(entries) {
  if (!entries.length) {
    // The last chat was hidden or left: say so rather than keep showing it.
    const empty = document.createElement("li");
    empty.className = "muted";
    empty.textContent = "None yet. Open someone's profile and choose “Message”.";
    list.replaceChildren(empty);
    return;
  }
  list.replaceChildren(
    ...entries.map(({ room, label, handle, unread, mentions, last_message: last }) => {
      const li = document.createElement("li");
      li.dataset.roomId = room.id;
      const link = document.createElement("a");
      link.href = `/rooms/${room.id}/`;
      link.textContent = label || room.name; // a 1:1 chat: the other person's name
      if (handle) link.title = `@${handle}`;
      li.append(link);
      if (unread) li.append(" ", badge("badge", `${unread}`, `${unread} unread`));
      if (mentions) {
        const label = `${mentions} mention${mentions === 1 ? "" : "s"}`;
        const mentionBadge = badge("badge mention-badge", `@${mentions}`, label);
        mentionBadge.title = "Mentions of you";
        li.append(" ", mentionBadge);
      }
      if (last) {
        const preview = document.createElement("span");
        preview.className = "preview muted";
        preview.textContent = `${last.author ? `${last.author}: ` : ""}${firstLine(last)}`;
        const time = document.createElement("time");
        time.className = "muted";
        time.dateTime = last.created_at;
        time.textContent = timeFormat.format(new Date(last.created_at));
        li.append(" ", preview, " ", time);
      }
      return li;
    }),
  );
}

// Offline reads fail quietly: the socket's next open reads the list again.
const refresh = oneAtATime(() =>
  api("GET", "/api/private").then(({ ok, data }) => ok && render(data.rooms)),
);

const socket = new ChatSocket({
  onOpen() {
    refresh(); // catch up on anything that arrived while disconnected
  },
  onClose() {},
  onFrame(frame) {
    if (["room_activity", "read", "removed"].includes(frame.type)) refresh();
  },
});
socket.connect();
