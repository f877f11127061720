// What the composer's completion lists share (@-mentions in mentions.js, :shortcodes: in
// shortcodes.js): a role=listbox tied to the box by aria-controls and
// aria-activedescendant; Up/Down move, Enter or Tab picks, Escape closes; a click picks
// without taking focus from the box. A subclass says what the typed query matches
// (`update`), how an option reads (`fillOption`) and what a pick inserts (`pick`).
export class Completion {
  constructor({ input, composer, listbox }) {
    this.input = input;
    this.listbox = listbox;
    this.matches = [];
    this.active = -1;
    this.start = 0; // where the query's first character (the "@" or ":") is in the box
    const controls = new Set((input.getAttribute("aria-controls") || "").split(/\s+/).filter(Boolean));
    controls.add(listbox.id);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", [...controls].join(" "));
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => this.close());
    // Capture on the form runs before the box's own keydown (Enter sends), so a pick
    // with Enter does not also send the message.
    composer.addEventListener("keydown", (event) => this.keydown(event), { capture: true });
    // Keep focus in the box while an option is clicked.
    listbox.addEventListener("mousedown", (event) => event.preventDefault());
    listbox.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  get open() {
    return !this.listbox.hidden;
  }

  /** The query typed right before the caret, as `pattern`'s first group, or null. */
  query(pattern) {
    const caret = this.input.selectionStart;
    if (caret !== this.input.selectionEnd) return null;
    const match = pattern.exec(this.input.value.slice(0, caret));
    if (!match) return null;
    this.start = caret - match[1].length - 1;
    return match[1];
  }

  /** List `matches` (the first one active), or close when there are none. */
  show(matches) {
    this.matches = matches;
    if (!matches.length) return this.close();
    this.active = 0;
    this.render();
    return undefined;
  }

  render() {
    this.listbox.replaceChildren(
      ...this.matches.map((match, index) => {
        const option = document.createElement("li");
        option.id = `${this.listbox.id}-${index}`;
        option.setAttribute("role", "option");
        option.dataset.index = index;
        option.setAttribute("aria-selected", String(index === this.active));
        this.fillOption(option, match);
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

  /** Put `text` where the query was; `swallow` drops a match of it just after the caret. */
  replaceQuery(text, swallow) {
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, this.start);
    const after = this.input.value.slice(caret).replace(swallow, "");
    this.input.value = before + text + after;
    const position = before.length + text.length;
    this.input.setSelectionRange(position, position);
    this.close();
    this.input.dispatchEvent(new Event("input", { bubbles: true })); // resize, typing
  }
}
