// "New messages": a divider above the first message the reader had not read when the
// page opened (their read position comes with the page: the socket's join then marks
// everything read), and a "Jump to first unread" button while that divider is above
// the visible part of the log, or not loaded yet. Once the reader has seen the
// divider the button stays away; the divider stays until the page is left.
const POLL_OLDER_MS = 150;

export class UnreadMarker {
  constructor({ log, timeline, me, lastReadSeq, lastSeq, button, loadOlder }) {
    this.log = log;
    this.timeline = timeline;
    this.me = me;
    this.lastRead = lastReadSeq; // null: not a member when the page opened
    this.boundary = lastSeq; // messages after this arrived live: not "unread"
    this.button = button;
    this.loadOlder = loadOlder;
    this.firstUnread = null;
    this.seen = false;
    this.scheduled = false;
    log.addEventListener("scroll", () => this.schedule(), { passive: true });
    button.addEventListener("click", () => this.jump());
  }

  get anyUnread() {
    return this.lastRead !== null && this.lastRead < this.boundary;
  }

  /** Called by the timeline for every message it draws (or redraws). */
  decorate(item, message) {
    const unread =
      this.anyUnread &&
      message.seq > this.lastRead &&
      message.seq <= this.boundary &&
      message.kind !== "system" &&
      message.author !== this.me;
    if (!unread) return;
    if (this.firstUnread === null || message.seq < this.firstUnread) {
      this.divider()?.remove(); // older history brought an earlier unread message
      this.firstUnread = message.seq;
    }
    if (message.seq === this.firstUnread) item.prepend(renderDivider());
    this.schedule();
  }

  divider() {
    return this.log.querySelector(".unread-divider");
  }

  /** Unread messages may sit above the oldest one loaded. */
  unloaded() {
    const first = this.timeline.firstSeq;
    return this.anyUnread && first !== null && first > this.lastRead + 1;
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.update();
    });
  }

  update() {
    let show = false;
    const divider = this.divider();
    if (!this.seen && divider) {
      const view = this.log.getBoundingClientRect();
      const box = divider.getBoundingClientRect();
      if (box.bottom <= view.top) show = true;
      else if (box.top < view.bottom) this.seen = true;
    } else if (!this.seen && this.unloaded()) {
      show = true;
    }
    this.button.hidden = !show;
  }

  /** Escape: the reader has caught up; the divider and the button go. */
  dismiss() {
    this.divider()?.remove();
    this.lastRead = this.boundary;
    this.seen = true;
    this.button.hidden = true;
  }

  async jump() {
    this.button.disabled = true;
    try {
      // Load older pages until the first unread message is on the page.
      for (let tries = 0; tries < 60 && this.unloaded(); tries += 1) {
        const before = this.timeline.firstSeq;
        await this.loadOlder();
        if (this.timeline.firstSeq === before) await new Promise((done) => setTimeout(done, POLL_OLDER_MS));
      }
      const target = this.divider() || this.timeline.bySeq.get(this.lastRead + 1);
      if (target) {
        const offset = target.getBoundingClientRect().top - this.log.getBoundingClientRect().top;
        this.log.scrollTop += offset - 16;
      }
      this.seen = true;
      this.button.hidden = true;
    } finally {
      this.button.disabled = false;
    }
  }
}

function renderDivider() {
  const divider = document.createElement("div");
  divider.className = "unread-divider";
  divider.setAttribute("role", "separator");
  divider.setAttribute("aria-label", "New messages");
  const label = document.createElement("span");
  label.textContent = "New messages";
  divider.append(label);
  return divider;
}
