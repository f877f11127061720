// Forms with data-confirm ask before they submit (e.g. leaving a conference), in the
// site's own dialog like deleting a message or banning (dialogs.js), not confirm().
import { ask } from "./dialogs.js";

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await ask({
      title: form.dataset.confirm,
      confirm: form.dataset.confirmButton || "OK",
      danger: true,
    });
    if (answer) form.submit(); // submit() skips this listener
  });
}
