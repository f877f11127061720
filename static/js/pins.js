// The room's "Pinned" list in the side panel: the messages pinned to the room, newest
// pin first, each a link that shows the message in the log (or opens the room there,
// `?at=seq`, when it is not loaded). It follows every change live: a pin or an unpin
// is a `message_updated` frame carrying the message's `pinned` field, a deletion a
// `message_deleted` frame (deleting unpins), and each (re)join reads the whole list
// again, so what happened while the page was away is not missed either.
import { api } from "./api.js";

const FIRST_LINE_MAX = 80;

function firstLine(message) {
  const line = (message.body || "").split("\n", 1)[0].trim();
  const text = message.kind === "action" ? `${message.author_name || message.author} ${line}` : line;
  return text.length <= FIRST_LINE_MAX ? text : `${text.slice(0, FIRST_LINE_MAX - 1)}…`;
}

function newestPinFirst(a, b) {
  return (b.pinned_at || "").localeCompare(a.pinned_at || "") || b.seq - a.seq;
}

export class PinnedList {
  constructor({ list, empty, roomId, showMessage }) {
    this.list = list;
    this.empty = empty;
    this.roomId = roomId;
    this.showMessage = showMessage; // (seq) -> whether the log could show it
    this.pins = new Map(); // seq -> message
    this.touched = null; // seqs changed live while a refresh was on its way
    list.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-seq]");
      if (link && this.showMessage(Number(link.dataset.seq))) event.preventDefault();
    });
  }

  /** Read the whole list again (on every join). */
  async refresh() {
    const touched = new Set();
    this.touched = touched;
    const { ok, data } = await api("GET", `/api/rooms/${this.roomId}/pins`);
    if (this.touched === touched) this.touched = null;
    if (!ok) return;
    const next = new Map(data.messages.map((message) => [message.seq, message]));
    // What a frame told us meanwhile is newer than the answer.
    for (const seq of touched) {
      if (this.pins.has(seq)) next.set(seq, this.pins.get(seq));
      else next.delete(seq);
    }
    this.pins = next;
    this.render();
  }

  /** A message as it is now (a frame, or this page's own pin or unpin). */
  apply(message) {
    if (message.room !== this.roomId) return;
    const known = this.pins.get(message.seq);
    if (known && (known.rev ?? 0) > (message.rev ?? 0)) return;
    this.touched?.add(message.seq);
    const was = this.pins.has(message.seq);
    if (message.pinned && !message.deleted) this.pins.set(message.seq, message);
    else this.pins.delete(message.seq);
    if (was || this.pins.has(message.seq)) this.render();
  }

  removed(seq) {
    this.touched?.add(seq);
    if (this.pins.delete(seq)) this.render();
  }

  render() {
    const messages = [...this.pins.values()].sort(newestPinFirst);
    this.list.replaceChildren(
      ...messages.map((message) => {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = `?at=${message.seq}`;
        link.dataset.seq = message.seq;
        const author = Object.assign(document.createElement("span"), {
          className: "pin-author",
          textContent: message.author_name || message.author || "",
        });
        const text = Object.assign(document.createElement("span"), {
          className: "pin-text",
          textContent: firstLine(message),
        });
        link.append(author, ": ", text);
        if (message.pinned_by) link.title = `Pinned by @${message.pinned_by}`;
        item.append(link);
        return item;
      }),
    );
    this.empty.hidden = messages.length > 0;
  }
}
