// One WebSocket with reconnection and backoff. The page decides what to do on open
// (rejoin with `after`), so nothing is lost across a reconnect.
//
// A connection can die without a close event (a laptop sleeps, a NAT forgets us), so
// the socket pings now and then and drops itself if the server stops answering.
const PING_EVERY_MS = 25000;
const ANSWER_WITHIN_MS = 10000;
const FINAL_CODES = new Set([4401, 4403]); // refused or signed out: retrying cannot help

// Parts of a page that are not the socket's owner (the sidebar) hear every frame and
// every (re)open of whichever socket the page has: one socket per tab carries it all.
const watchers = new Set();
export function watchSockets(watcher) {
  watchers.add(watcher);
}
function tellWatchers(event, frame) {
  for (const watcher of watchers) {
    try {
      watcher[event]?.(frame);
    } catch (error) {
      console.error(error); // a watcher's fault never stops the page's own handling
    }
  }
}

export class ChatSocket {
  constructor({ onOpen, onClose, onFrame }) {
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.onFrame = onFrame;
    this.attempt = 0;
    this.ws = null;
    this.retryTimer = null;
    this.pingTimer = null;
    this.answerTimer = null;
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        this.retryNow();
        this.ping();
      }
    });
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}/ws/chat/`;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
      this.onOpen();
      tellWatchers("onOpen");
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      // Back-off starts over only once the server really talks to us, so a server
      // that accepts and at once closes is not retried in a tight loop.
      this.attempt = 0;
      clearTimeout(this.answerTimer);
      this.answerTimer = null;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
      tellWatchers("onFrame", frame);
    });
    ws.addEventListener("close", (event) => this.closed(ws, event.code));
  }

  closed(ws, code) {
    if (ws !== this.ws) return; // one we already gave up on
    this.ws = null;
    clearInterval(this.pingTimer);
    clearTimeout(this.answerTimer);
    this.answerTimer = null;
    if (FINAL_CODES.has(code)) {
      this.onClose("Signed out. Reload the page to sign in again.", { final: true });
      return;
    }
    this.attempt += 1;
    const delay = Math.min(30000, 500 * 2 ** Math.min(this.attempt, 6)) * (0.5 + Math.random());
    this.onClose(`Reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`, { final: false });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // Give up on a silent connection at once: close() would wait for a closing
  // handshake that a dead peer never sends.
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.closed(ws, 1006);
    ws.close();
  }

  retryNow() {
    if (this.retryTimer !== null) this.connect();
  }

  ping() {
    if (this.answerTimer !== null || !this.send({ type: "ping" })) return;
    this.answerTimer = setTimeout(() => this.drop(), ANSWER_WITHIN_MS);
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }
}
