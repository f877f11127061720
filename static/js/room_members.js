// The room's members with their roles, read from GET /api/rooms/{id}/members and
// shared by the side panel (moderation), the composer's @-autocomplete and the
// notification toggle. Re-read when presence changes (someone new may have joined)
// and after a moderation action.
import { api } from "./api.js";

const REFRESH_DELAY_MS = 800; // a burst of presence frames costs one request

export class RoomMembers extends EventTarget {
  constructor(roomId) {
    super();
    this.roomId = roomId;
    this.members = [];
    this.timer = null;
    this.loading = null;
  }

  get(username) {
    return this.members.find((member) => member.username === username);
  }

  async refresh() {
    if (this.loading) return this.loading;
    this.loading = api("GET", `/api/rooms/${this.roomId}/members`).then(({ ok, data }) => {
      this.loading = null;
      if (!ok) return;
      this.members = data.members;
      this.dispatchEvent(new Event("change"));
    });
    return this.loading;
  }

  refreshSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), REFRESH_DELAY_MS);
  }
}
