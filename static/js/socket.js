// One WebSocket with reconnection and backoff. The page decides what to do on open
// (rejoin with `after`), so nothing is lost across a reconnect.
export class ChatSocket {
  constructor({ onOpen, onClose, onFrame }) {
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.onFrame = onFrame;
    this.attempt = 0;
    this.ws = null;
    this.outbox = [];
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}/ws/chat/`;
  }

  connect() {
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (event.code === 4401 || event.code === 4403) {
        this.onClose("Signed out. Reload the page to sign in again.");
        return;
      }
      this.attempt += 1;
      const delay = Math.min(30000, 500 * 2 ** Math.min(this.attempt, 6)) * (0.5 + Math.random());
      this.onClose(`Reconnecting in ${Math.round(delay / 1000)} s…`);
      setTimeout(() => this.connect(), delay);
    });
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }
}
