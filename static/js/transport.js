// The room page's connection: the chat WebSocket when it works, long polling over the
// HTTP API when it does not (a proxy or firewall that blocks WebSockets), with the
// socket retried in the background and preferred again as soon as it joins.
//
// It speaks frames either way, so the page need not care which path is in use: over
// HTTP a join becomes a read of the messages after the last seq, each long-poll answer
// becomes `message` frames, and a send becomes a POST with the same client_id. Sends
// are idempotent by client_id and the timeline drops seqs it already shows, so a
// switch in either direction neither loses nor doubles a message.
import { ChatSocket } from "./socket.js";
import { csrfToken } from "./api.js";

const FALLBACK_AFTER_FAILURES = 3; // socket attempts failed in a row
const FALLBACK_AFTER_MS = 6000; // or this long without a joined socket
const POLL_WAIT_SECONDS = 25;
const POLL_RETRY_MS = 3000; // after a failed poll or send
const SEND_RETRIES = 5;
const CHANGES_EVERY_MS = 10000; // edits and deletions are read at most this often
const PROBE_FIRST_MS = 5000; // then doubling: how often a polling page retries the socket
const PROBE_MAX_MS = 60000;

function commandRefused(clientId) {
  return {
    type: "error",
    code: "unavailable",
    detail: "Commands need the live connection, which is being retried. Start with // to send text beginning with /.",
    ref: clientId,
  };
}

function jitter(ms) {
  return ms * (0.75 + Math.random() / 2);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// What an API refusal means, in the socket's error codes.
function errorCode(status, body) {
  if (status === 403 && body.until !== undefined) return "muted";
  return { 400: "invalid", 403: "forbidden", 404: "not_found", 429: "rate_limited" }[status] || "invalid";
}

export class RoomTransport {
  /** The same callbacks as ChatSocket; `polling` says which path is carrying the page. */
  constructor({ roomId, me, onOpen, onClose, onFrame }) {
    this.roomId = roomId;
    this.api = `/api/rooms/${roomId}`;
    this.page = { onOpen, onClose, onFrame };
    this.online = [me]; // presence needs the socket: the last list it gave is kept
    this.lastSeq = null; // the newest seq of this room's ordered stream, either path
    this.lastRev = 0; // changes up to this rev have been read (while polling)
    this.live = false; // the socket has joined the room
    this.heard = false; // the current socket has answered at all
    this.failures = 0;
    this.polling = false;
    this.generation = 0; // bumped when polling stops: stale answers are dropped
    this.abort = null;
    this.fallbackTimer = null;
    this.probeTimer = null;
    this.probeEvery = PROBE_FIRST_MS;
    this.stuckSocket = null;
    this.socket = new ChatSocket({
      onOpen: () => this.socketOpened(),
      onClose: (reason, info) => this.socketClosed(reason, info),
      onFrame: (frame) => this.socketFrame(frame),
    });
  }

  connect() {
    this.armFallback();
    this.socket.connect();
  }

  send(frame) {
    return this.route(frame, SEND_RETRIES);
  }

  route(frame, retries) {
    if (this.live || !this.polling) return this.socket.send(frame);
    if (frame.type === "send") {
      if (/^\/(?!\/)/.test(frame.body) && frame.reply_to == null) {
        // Slash commands run in the socket's consumer; over HTTP "/leave" would be
        // posted as text. Answered later, as a socket would: the page clears the box
        // after send() returns and only then may put the text back.
        setTimeout(() => this.page.onFrame(commandRefused(frame.client_id)), 0);
        return true;
      }
      this.post(frame, retries);
      return true;
    }
    if (frame.type === "read") {
      this.request("POST", `${this.api}/read`, { seq: frame.seq }).catch(() => {});
      return true;
    }
    return false; // typing and pings need the socket; joins are the poll loop's
  }

  // --- the socket ----------------------------------------------------------------------

  socketOpened() {
    this.heard = false;
    if (!this.polling) {
      this.page.onOpen();
      return;
    }
    // Polling carries the page meanwhile: join quietly, and switch once joined.
    this.socket.send({ type: "join", room: this.roomId, after: this.lastSeq });
  }

  socketClosed(reason, { final }) {
    const wasLive = this.live;
    this.live = false;
    this.heard = false;
    if (final) {
      this.stopPolling();
      clearTimeout(this.fallbackTimer);
      this.page.onClose(reason, { final });
      return;
    }
    if (this.polling) return; // quiet: the page is still live
    this.page.onClose(reason, { final });
    if (wasLive) {
      this.failures = 0;
      this.armFallback();
    } else if (++this.failures >= FALLBACK_AFTER_FAILURES) {
      this.startPolling();
    }
  }

  socketFrame(frame) {
    this.heard = true;
    const ours = frame.room === this.roomId;
    if (frame.type === "joined" && ours) {
      this.live = true;
      this.failures = 0;
      clearTimeout(this.fallbackTimer);
      this.stopPolling();
      this.track(frame.messages, { revs: true });
      this.lastRev = Math.max(this.lastRev, frame.last_rev || 0);
      if (frame.online) this.online = frame.online;
    } else if (frame.type === "message" && this.live) {
      this.track([frame.message], { revs: true });
    } else if (frame.type === "message_updated" && this.live) {
      this.lastRev = Math.max(this.lastRev, frame.message.rev || 0);
    } else if (frame.type === "presence" && ours) {
      this.online = frame.online || [];
    }
    this.page.onFrame(frame);
  }

  armFallback() {
    clearTimeout(this.fallbackTimer);
    this.fallbackTimer = setTimeout(() => {
      // A socket that answers but is not let in (a refused join) is no network problem.
      if (!this.live && !this.heard) this.startPolling();
    }, FALLBACK_AFTER_MS);
  }

  /** Only the ordered streams move lastSeq: a POST's answer may skip past messages
   * that the next poll has yet to bring. While polling, lastRev moves only with the
   * changes read (a new message's rev is above an older message's unread edit). */
  track(messages, { revs = false } = {}) {
    for (const message of messages) {
      if (message.room !== this.roomId) continue;
      if (this.lastSeq === null || message.seq > this.lastSeq) this.lastSeq = message.seq;
      if (revs && message.rev > this.lastRev) this.lastRev = message.rev;
    }
  }

  // --- long polling ----------------------------------------------------------------------

  startPolling() {
    if (this.polling) return;
    clearTimeout(this.fallbackTimer);
    this.polling = true;
    this.abort = new AbortController();
    this.probeEvery = PROBE_FIRST_MS;
    this.scheduleProbe();
    this.poll(this.generation);
  }

  stopPolling() {
    if (!this.polling) return;
    this.polling = false;
    this.generation += 1;
    this.abort.abort();
    clearTimeout(this.probeTimer);
  }

  /** Retry the socket now and then; one that hangs unjoined for a whole round is
   * dropped so that it can be retried. */
  scheduleProbe() {
    this.probeTimer = setTimeout(() => {
      const ws = this.socket.ws;
      if (ws && !this.live && ws === this.stuckSocket) this.socket.drop();
      this.stuckSocket = this.socket.ws;
      this.socket.retryNow();
      this.probeEvery = Math.min(this.probeEvery * 2, PROBE_MAX_MS);
      this.scheduleProbe();
    }, jitter(this.probeEvery));
  }

  async poll(generation) {
    let joined = false;
    let changesAt = Date.now();
    while (generation === this.generation) {
      let response;
      let page;
      try {
        response = await fetch(this.pollUrl(joined), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
          signal: this.abort.signal,
        });
        page = await response.json().catch(() => ({}));
      } catch {
        if (generation !== this.generation) return;
        if (joined) this.page.onClose("Reconnecting…", { final: false });
        joined = false;
        await sleep(POLL_RETRY_MS);
        continue;
      }
      if (generation !== this.generation) return;
      if (!response.ok || !Array.isArray(page.messages)) {
        if (this.pollRefused(response.status, page)) return;
        await sleep(POLL_RETRY_MS);
        continue;
      }
      const fresh = page.messages.filter((message) => this.lastSeq === null || message.seq > this.lastSeq);
      // Edits before this first read are in it, or the page's catch-up on (re)join reads them.
      this.track(page.messages, { revs: !joined });
      if (!joined) {
        joined = true;
        this.page.onFrame({
          type: "joined",
          room: this.roomId,
          messages: page.messages,
          online: this.online,
          has_more: false,
          last_seq: this.lastSeq ?? 0,
          last_rev: this.lastRev,
        });
      } else {
        for (const message of fresh) this.page.onFrame({ type: "message", message });
      }
      if (Date.now() - changesAt >= CHANGES_EVERY_MS) {
        changesAt = Date.now();
        await this.readChanges(generation);
      }
    }
  }

  /** The first read of a (re)join answers at once; after it, each read waits. */
  pollUrl(joined) {
    const messages = `${this.api}/messages`;
    if (joined) return `${messages}?after=${this.lastSeq ?? 0}&wait=${POLL_WAIT_SECONDS}`;
    return this.lastSeq === null ? messages : `${messages}?after=${this.lastSeq}&limit=200`;
  }

  /** A refusal ends polling when retrying cannot help. */
  pollRefused(status, body) {
    if (status === 401) {
      this.stopPolling();
      this.page.onClose("Signed out. Reload the page to sign in again.", { final: true });
      return true;
    }
    if (status === 404 || status === 403) {
      this.stopPolling();
      if (status === 404) this.page.onFrame({ type: "removed", room: this.roomId });
      else this.page.onFrame({ type: "error", code: "forbidden", detail: body.detail, ref: null });
      return true;
    }
    return false;
  }

  /** Edits, deletions and reactions since the last look, as the socket would send them. */
  async readChanges(generation) {
    for (let round = 0; round < 10; round += 1) {
      let page;
      try {
        const response = await fetch(`${this.api}/messages?changed_after=${this.lastRev}&limit=200`, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
          signal: this.abort.signal,
        });
        if (!response.ok) return;
        page = await response.json();
      } catch {
        return;
      }
      if (generation !== this.generation) return;
      for (const message of page.messages) {
        this.lastRev = Math.max(this.lastRev, message.rev);
        // Newer messages are the seq poll's to bring, in order.
        if (this.lastSeq !== null && message.seq <= this.lastSeq) {
          this.page.onFrame({ type: "message_updated", message });
        }
      }
      if (!page.has_more || !page.messages.length) return;
    }
  }

  // --- sending over HTTP ---------------------------------------------------------------

  request(method, url, body) {
    return fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
  }

  /** POST a send; its answer is shown at once (the timeline places it by seq). A
   * refusal comes back as the socket's error frame, with the client_id as `ref`. */
  async post(frame, retries) {
    let response;
    let body = {};
    try {
      response = await this.request("POST", `${this.api}/messages`, {
        // "//text" sends "/text", as the socket's command runner does.
        // A reply is never a command: its text goes as written.
        body: frame.body.startsWith("//") && frame.reply_to == null ? frame.body.slice(1) : frame.body,
        client_id: frame.client_id,
        // A reply, and whether it stays in its thread (threads.js), as the socket takes them.
        ...(frame.reply_to != null && { reply_to: frame.reply_to }),
        ...(frame.thread_only != null && { thread_only: frame.thread_only }),
      });
      body = await response.json().catch(() => ({}));
    } catch {
      response = null; // the network: retried below, with the same client_id
    }
    if (response && response.ok) {
      this.page.onFrame({ type: "message", message: body });
    } else if (response && response.status < 500) {
      this.page.onFrame({
        ...body, // until, retry_after
        type: "error",
        code: errorCode(response.status, body),
        detail: body.detail || "The message was not sent.",
        ref: frame.client_id,
      });
    } else if (retries > 0) {
      // Still pending on the page; whichever path is up then carries it.
      setTimeout(() => this.route(frame, retries - 1), POLL_RETRY_MS);
    }
  }
}
