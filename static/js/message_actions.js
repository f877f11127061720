// What a reader can do to a message: react, edit (their own), delete (their own, or
// anyone's for the room's owner and moderators), report (someone else's), pin and unpin
// (a public room's owner and moderators, any member of a private room). Each message
// gets a small group of buttons named "React", "Edit", "Delete", "Pin message"...,
// shown on hover or focus (on touch screens, on a tap), a row of reaction counts whose
// title says who reacted, and a pin marker while it is pinned.
//
// Changes go through the API; everyone (this page included) then sees them through
// the socket's message_updated / message_deleted frames, and the API's answer is
// shown at once as well. The server decides who may do what; the buttons only
// mirror its rules.
import { api } from "./api.js";
import { ask } from "./dialogs.js";

const noHover = window.matchMedia("(hover: none)");

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉"];
const REACTION_NAMES = { "👍": "Thumbs up", "❤️": "Heart", "😂": "Laughing", "🎉": "Party" };

function button(className, text, { action, label, emoji } = {}) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = text;
  if (action) node.dataset.action = action;
  if (emoji) node.dataset.emoji = emoji;
  if (label) {
    node.setAttribute("aria-label", label);
    node.title = label;
  }
  return node;
}

export class MessageActions {
  constructor({ log, timeline, me, canModerate, canPin, editWindowSeconds, showError, onPinned, pickEmoji }) {
    this.log = log;
    this.timeline = timeline;
    this.me = me;
    this.canModerate = canModerate;
    this.canPin = canPin;
    this.onPinned = onPinned; // (message) => void: the Pinned list hears this page's own pins at once
    this.pickEmoji = pickEmoji; // (opener, onPick) => void: the full emoji picker (emoji_picker.js)
    this.editWindowMs = editWindowSeconds * 1000;
    this.showError = showError;
    this.messages = new Map(); // seq -> the message as last drawn
    this.editing = null; // {seq, form}: an edit in progress survives redraws
    log.addEventListener("click", (event) => this.clicked(event));
    document.addEventListener("click", (event) => {
      if (!event.target.closest?.(".message-actions")) this.closePickers();
    });
    document.addEventListener("keydown", (event) => {
      // An Escape that closed a picker does nothing else (it does not mark the room read).
      if (event.key === "Escape" && this.closePickers()) event.preventDefault();
    });
  }

  /** Called by the timeline for every message it draws (or redraws). */
  decorate(item, message) {
    item.dataset.id = message.id;
    this.messages.set(message.seq, message);
    const mine = message.author === this.me;
    for (const mention of item.querySelectorAll(".body .mention")) {
      if (mention.dataset.mention?.toLowerCase() === this.me.toLowerCase()) {
        mention.classList.add("mention-me");
        item.classList.add("mentions-me");
      }
    }
    if (message.deleted || message.kind === "system") return;
    if (message.pinned) this.markPinned(item, message);
    const reactions = this.renderReactions(message);
    if (reactions) item.append(reactions);
    item.append(this.renderToolbar(message, mine));
    if (this.editing && this.editing.seq === message.seq) {
      const body = item.querySelector(".body");
      body.hidden = true;
      body.after(this.editing.form);
    }
  }

  markPinned(item, message) {
    item.classList.add("pinned");
    // Words, not an emoji: they read the same with every font and screen reader.
    const marker = document.createElement("span");
    marker.className = "tag pin-marker";
    marker.textContent = "pinned";
    marker.title = message.pinned_by ? `Pinned by @${message.pinned_by}` : "Pinned";
    // On the message itself, not in its meta line: a grouped follow-up hides that line.
    item.append(marker);
  }

  recent(message) {
    return Date.now() - new Date(message.created_at).getTime() < this.editWindowMs;
  }

  renderReactions(message) {
    const entries = Object.entries(message.reactions || {}).filter(([, users]) => users.length);
    if (!entries.length) return null;
    const row = document.createElement("div");
    row.className = "reactions";
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", "Reactions");
    for (const [emoji, users] of entries) {
      const chip = button("reaction", `${emoji} ${users.length}`, { action: "react-with", emoji });
      chip.title = users.join(", "); // who reacted
      chip.setAttribute("aria-pressed", String(users.includes(this.me)));
      row.append(chip);
    }
    return row;
  }

  renderToolbar(message, mine) {
    const bar = document.createElement("div");
    bar.className = "message-actions";
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Message actions");
    const react = button("message-action", "☺", { action: "react", label: "React" });
    react.setAttribute("aria-expanded", "false");
    bar.append(react);
    if (mine && message.kind === "text" && this.recent(message)) {
      bar.append(button("message-action", "✎", { action: "edit", label: "Edit" }));
    }
    if (this.canModerate || (mine && this.recent(message))) {
      bar.append(button("message-action", "✕", { action: "delete", label: "Delete" }));
    }
    if (this.canPin) {
      const label = message.pinned ? "Unpin message" : "Pin message";
      const pin = button("message-action", "📌", { action: "pin", label });
      if (message.pinned) pin.classList.add("on");
      bar.append(pin);
    }
    if (!mine) {
      bar.append(button("message-action", "⚑", { action: "report", label: "Report" }));
    }
    const picker = document.createElement("div");
    picker.className = "quick-reactions";
    picker.setAttribute("role", "group");
    picker.setAttribute("aria-label", "Quick reactions");
    picker.hidden = true;
    for (const emoji of QUICK_REACTIONS) {
      const choice = button("quick-reaction", emoji, { action: "react-with", emoji });
      choice.title = REACTION_NAMES[emoji];
      picker.append(choice);
    }
    // Any emoji: the full picker, with search and categories.
    if (this.pickEmoji) picker.append(button("quick-reaction more", "…", { action: "react-more", label: "All emoji" }));
    bar.append(picker);
    return bar;
  }

  /** -> whether a picker was open. */
  closePickers(except = null) {
    let closed = false;
    for (const picker of this.log.querySelectorAll(".quick-reactions:not([hidden])")) {
      if (picker === except) continue;
      const toggle = picker.parentElement.querySelector("[data-action=react]");
      const hadFocus = picker.contains(document.activeElement);
      picker.hidden = true;
      toggle?.setAttribute("aria-expanded", "false");
      if (hadFocus) toggle?.focus(); // not lost to <body> (Escape from the picker)
      closed = true;
    }
    return closed;
  }

  clicked(event) {
    const item = event.target.closest("article.message");
    if (!item || item.dataset.id === undefined) return;
    const message = this.messages.get(Number(item.dataset.seq));
    const control = event.target.closest("button[data-action]");
    if (!control) {
      // Touch screens have no hover: a tap on a message shows its buttons.
      if (noHover.matches && !event.target.closest("a, textarea, form")) {
        item.classList.toggle("show-actions");
      }
      return;
    }
    switch (control.dataset.action) {
      case "react": {
        const picker = item.querySelector(".quick-reactions");
        this.closePickers(picker);
        picker.hidden = !picker.hidden;
        control.setAttribute("aria-expanded", String(!picker.hidden));
        if (!picker.hidden) picker.querySelector("button").focus();
        break;
      }
      case "react-with":
        this.closePickers();
        this.react(message, control.dataset.emoji);
        break;
      case "react-more": {
        const toggle = item.querySelector("[data-action=react]");
        this.closePickers();
        this.pickEmoji(toggle, (emoji) => {
          const current = this.messages.get(message.seq) || message;
          this.react(current, emoji);
          // Back to the message's "React" button (redrawn if the message changed meanwhile).
          this.log.querySelector(`article[data-seq="${message.seq}"] [data-action=react]`)?.focus();
        });
        break;
      }
      case "edit":
        this.startEdit(item, message);
        break;
      case "delete":
        this.remove(message);
        break;
      case "report":
        this.report(message);
        break;
      case "pin":
        this.pin(message);
        break;
      default:
        break;
    }
  }

  /** Apply an API answer now; the socket's copy of the change follows (and is a no-op). */
  show(message) {
    this.timeline.update(message);
  }

  async react(message, emoji) {
    const mine = (message.reactions?.[emoji] || []).includes(this.me);
    const { ok, data } = await api("POST", `/api/messages/${message.id}/reactions`, { emoji, on: !mine });
    if (ok) this.show(data);
    else this.showError(data.detail);
  }

  async pin(message) {
    const pinned = !message.pinned;
    const { ok, data } = await api(pinned ? "POST" : "DELETE", `/api/messages/${message.id}/pin`);
    if (!ok) {
      this.showError(data.detail);
      return;
    }
    // The answer is a 204: show the change now; the socket's message_updated (with the
    // new rev, the time and who pinned it) follows and replaces this.
    const shown = {
      ...message,
      pinned,
      pinned_at: pinned ? new Date().toISOString() : null,
      pinned_by: pinned ? this.me : null,
    };
    this.show(shown);
    this.onPinned?.(shown);
    this.log.querySelector(`article[data-seq="${message.seq}"] [data-action=pin]`)?.focus();
  }

  async remove(message) {
    const theirs = message.author !== this.me;
    const answer = await ask({
      title: "Delete this message?",
      text: theirs
        ? `It is ${message.author}'s message. It will be removed for everyone, and the deletion is recorded in the moderation log.`
        : "It will be removed for everyone in the room.",
      confirm: "Delete",
      danger: true,
    });
    if (!answer) return;
    const { ok, data } = await api("DELETE", `/api/messages/${message.id}`);
    if (ok) this.timeline.markDeleted(message.seq);
    else this.showError(data.detail);
  }

  async report(message) {
    const answer = await ask({
      title: "Report this message?",
      text: `The room's moderators will see ${message.author}'s message and your reason.`,
      fields: [{ name: "reason", label: "Reason", required: true, maxLength: 500 }],
      confirm: "Report",
    });
    if (!answer) return;
    const { ok, data } = await api("POST", `/api/messages/${message.id}/report`, { reason: answer.reason });
    this.showError(ok ? "Reported. Thank you." : data.detail);
  }

  startEdit(item, message) {
    if (this.editing) this.stopEdit();
    const body = item.querySelector(".body");
    const form = document.createElement("form");
    form.className = "edit-form";
    const box = document.createElement("textarea");
    box.value = message.body;
    box.maxLength = 4000;
    box.rows = Math.min(8, message.body.split("\n").length + 1);
    box.setAttribute("aria-label", "Edit message");
    const error = document.createElement("p");
    error.className = "error";
    error.setAttribute("role", "alert");
    const buttons = document.createElement("div");
    buttons.className = "actions";
    const save = button("", "Save");
    save.type = "submit";
    const cancel = button("secondary", "Cancel");
    buttons.append(save, cancel);
    form.append(box, buttons, error);
    this.editing = { seq: message.seq, form };
    body.hidden = true;
    body.after(form);
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);

    cancel.addEventListener("click", () => this.stopEdit());
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.stopEdit();
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = box.value.trim();
      if (!text) {
        error.textContent = "A message cannot be empty; delete it instead.";
        return;
      }
      save.disabled = true;
      const current = this.messages.get(message.seq) || message;
      const { ok, data } = await api("PATCH", `/api/messages/${current.id}`, { body: text });
      save.disabled = false;
      if (!ok) {
        error.textContent = data.detail;
        return;
      }
      this.stopEdit();
      this.show(data);
    });
  }

  stopEdit() {
    if (!this.editing) return;
    const { form } = this.editing;
    this.editing = null;
    const body = form.previousElementSibling;
    form.remove();
    if (body && body.classList.contains("body")) body.hidden = false;
    body?.closest("article")?.querySelector("[data-action=edit]")?.focus();
  }
}
