// `:shortcode:` completion in the composer, like the @-mention list (mentions.js):
// typing ":" and two or more letters of a shortcode lists the emoji whose shortcodes
// start so (a role=listbox "Emoji suggestions" over the box); Up/Down move, Enter or
// Tab picks, Escape closes. A pick replaces the typed ":code" with the emoji character
// itself, which is what gets stored. A shortcode typed out in full (":tada:") is stored
// as typed and shown as its emoji (rooms/formatting.py): both come from one table.
import { completeShortcode, loadEmojiData, rememberEmoji } from "./emoji_data.js";

// ":" at the start or after a space or punctuation (not "10:30" or "http://"), then
// two or more shortcode characters, right before the caret.
const QUERY = /(?:^|[^\w:/]):([a-z0-9_+-]{2,60})$/;

export class ShortcodeAutocomplete {
  constructor({ input, composer, listbox }) {
    this.input = input;
    this.listbox = listbox;
    this.matches = [];
    this.active = -1;
    this.start = 0; // where the ":" is in the box
    this.data = null;
    const controls = new Set((input.getAttribute("aria-controls") || "").split(/\s+/).filter(Boolean));
    controls.add(listbox.id);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", [...controls].join(" "));
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => this.close());
    // Capture on the form runs before the box's own keydown (Enter sends).
    composer.addEventListener("keydown", (event) => this.keydown(event), { capture: true });
    listbox.addEventListener("mousedown", (event) => event.preventDefault());
    listbox.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  get open() {
    return !this.listbox.hidden;
  }

  update() {
    const caret = this.input.selectionStart;
    if (caret !== this.input.selectionEnd) return this.close();
    const match = QUERY.exec(this.input.value.slice(0, caret));
    if (!match) return this.close();
    if (!this.data) {
      // The first ":sm" loads the data; the list shows once it is here.
      loadEmojiData().then(
        (data) => {
          this.data = data;
          if (document.activeElement === this.input) this.update();
        },
        () => {},
      );
      return this.close();
    }
    this.start = caret - match[1].length - 1;
    this.matches = completeShortcode(this.data, match[1]);
    if (!this.matches.length) return this.close();
    this.active = 0;
    this.render();
    return undefined;
  }

  render() {
    this.listbox.replaceChildren(
      ...this.matches.map(({ entry, code }, index) => {
        const option = document.createElement("li");
        option.id = `${this.listbox.id}-${index}`;
        option.setAttribute("role", "option");
        option.dataset.index = index;
        option.setAttribute("aria-selected", String(index === this.active));
        const glyph = document.createElement("span");
        glyph.className = "emoji-glyph";
        glyph.setAttribute("aria-hidden", "true");
        glyph.textContent = entry.char;
        const label = document.createElement("span");
        label.textContent = `:${code}:`;
        option.setAttribute("aria-label", `${entry.name} :${code}:`);
        option.append(glyph, " ", label);
        return option;
      }),
    );
    this.listbox.hidden = false;
    this.input.setAttribute("aria-activedescendant", `${this.listbox.id}-${this.active}`);
    this.listbox.children[this.active]?.scrollIntoView({ block: "nearest" });
  }

  close() {
    if (this.listbox.hidden && !this.matches.length) return;
    this.listbox.hidden = true;
    this.listbox.replaceChildren();
    this.matches = [];
    this.active = -1;
    if (this.input.getAttribute("aria-activedescendant")?.startsWith(this.listbox.id)) {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  keydown(event) {
    if (!this.open || event.target !== this.input || event.isComposing) return;
    const count = this.matches.length;
    let handled = true;
    if (event.key === "ArrowDown") this.active = (this.active + 1) % count;
    else if (event.key === "ArrowUp") this.active = (this.active - 1 + count) % count;
    else if (event.key === "Enter" || event.key === "Tab") this.pick(this.active);
    else if (event.key === "Escape") this.close();
    else handled = false;
    if (!handled) return;
    event.preventDefault();
    event.stopPropagation();
    if (this.open) this.render();
  }

  pick(index) {
    const found = this.matches[index];
    if (!found) return;
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, this.start);
    const after = this.input.value.slice(caret);
    // A typed closing colon (":tada" then ":" is not offered, but a click may come
    // after the user typed on) is swallowed with the code.
    const rest = after.replace(/^:/, "");
    this.input.value = before + found.entry.char + rest;
    const position = before.length + found.entry.char.length;
    this.input.setSelectionRange(position, position);
    rememberEmoji(found.entry.char);
    this.close();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
  }
}
