// @-mention autocomplete in the composer: typing "@" and the start of a name lists the
// room's members who match (a role=listbox under the box); Up/Down move, Enter or Tab
// picks, Escape closes. The server marks mentions in the rendered message and tells
// the mentioned member.
const MAX_SHOWN = 8;
// "@" at the start or after a space or punctuation (not inside an e-mail address),
// then the partial name, right before the caret.
const QUERY = /(?:^|[^\w@])@([\w.+-]*)$/;

export class MentionAutocomplete {
  constructor({ input, composer, listbox, members, me }) {
    this.input = input;
    this.listbox = listbox;
    this.members = members;
    this.me = me;
    this.matches = [];
    this.active = -1;
    this.start = 0; // where the "@" is in the box
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", listbox.id);
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => this.close());
    // Members load after the join: someone already typing "@al" gets the list then.
    members.addEventListener("change", () => {
      if (document.activeElement === input) this.update();
    });
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

  update() {
    const caret = this.input.selectionStart;
    if (caret !== this.input.selectionEnd) return this.close();
    const match = QUERY.exec(this.input.value.slice(0, caret));
    if (!match) return this.close();
    const query = match[1].toLowerCase();
    this.start = caret - match[1].length - 1;
    this.matches = this.members.members
      .filter((member) => member.username !== this.me)
      .filter(
        (member) =>
          member.username.toLowerCase().startsWith(query) ||
          member.display_name.toLowerCase().split(/\s+/).some((word) => word.startsWith(query)),
      )
      .slice(0, MAX_SHOWN);
    if (!this.matches.length) return this.close();
    this.active = 0;
    this.render();
    return undefined;
  }

  render() {
    this.listbox.replaceChildren(
      ...this.matches.map((member, index) => {
        const option = document.createElement("li");
        option.id = `${this.listbox.id}-${index}`;
        option.setAttribute("role", "option");
        option.dataset.index = index;
        option.setAttribute("aria-selected", String(index === this.active));
        const name = document.createElement("span");
        name.className = "mention-name";
        name.textContent = member.username;
        option.append(name);
        if (member.display_name && member.display_name !== member.username) {
          const shown = document.createElement("span");
          shown.className = "muted";
          shown.textContent = member.display_name;
          option.append(" ", shown);
        }
        return option;
      }),
    );
    this.listbox.hidden = false;
    this.input.setAttribute("aria-activedescendant", `${this.listbox.id}-${this.active}`);
    this.listbox.children[this.active]?.scrollIntoView({ block: "nearest" });
  }

  close() {
    this.listbox.hidden = true;
    this.listbox.replaceChildren();
    this.matches = [];
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
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
    const member = this.matches[index];
    if (!member) return;
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, this.start);
    const after = this.input.value.slice(caret);
    const inserted = `@${member.username} `;
    this.input.value = before + inserted + after.replace(/^\s/, "");
    const position = before.length + inserted.length;
    this.input.setSelectionRange(position, position);
    this.close();
    this.input.dispatchEvent(new Event("input", { bubbles: true })); // resize, typing
  }
}
