// The message layout: compact (avatars, name and time on a group's first line, like
// Slack or Zulip) by default, or bubbles (own messages on the right). A choice of this
// browser, kept in localStorage and applied before the log fills.
const KEY = "chat:layout";
const log = document.getElementById("log");
const toggle = document.getElementById("layout-bubbles");

function stored() {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the default
  }
}

function apply(layout) {
  log.classList.toggle("compact", layout !== "bubbles");
  toggle.checked = layout === "bubbles";
}

apply(stored());
toggle.addEventListener("change", () => {
  const layout = toggle.checked ? "bubbles" : "compact";
  try {
    localStorage.setItem(KEY, layout);
  } catch {
    // not remembered; still applied to this page
  }
  apply(layout);
});
