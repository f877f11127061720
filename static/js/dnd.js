// The "Do not disturb" switch in the navigation, on every page of a signed-in user.
// Its state lives on the button itself (aria-pressed, data-until) so that any script
// can read it without importing this module (see doNotDisturb() in notify.js). While it
// is on, no desktop notifications are shown; title counts stay.
// A change made in another tab arrives on the room page's socket as a do_not_disturb
// frame, which room_features.js passes on as a "chat:do-not-disturb" event.
import { api } from "./api.js";

const button = document.getElementById("dnd-toggle");
let expiry = null;

function show(on, until) {
  const end = on && until ? new Date(until) : null;
  button.setAttribute("aria-pressed", on ? "true" : "false");
  button.dataset.until = on ? (until ?? "") : "";
  button.title = !on
    ? "Desktop notifications are allowed."
    : end && end.getFullYear() < 9000
      ? `No desktop notifications until ${end.toLocaleString()}.`
      : "No desktop notifications until you turn this off.";
  clearTimeout(expiry);
  const left = end ? end.getTime() - Date.now() : null;
  // A timed do-not-disturb turns itself off on the page too (setTimeout's range is ~24 days).
  if (left !== null && left < 2 ** 31 - 1) expiry = setTimeout(() => show(false, null), Math.max(0, left));
}

if (button) {
  show(button.getAttribute("aria-pressed") === "true", button.dataset.until || null);
  button.addEventListener("click", async () => {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.disabled = true;
    const { ok, data } = await api("PUT", "/api/me/dnd", { on });
    button.disabled = false;
    if (ok) show(data.on, data.until);
    else button.title = data.detail;
  });
  document.addEventListener("chat:do-not-disturb", (event) => show(event.detail.on, event.detail.until));
}
