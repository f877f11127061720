// The emoji picker: a popover (role=dialog "Emoji picker") with a search box ("Find
// emoji": by name or shortcode), category tabs (recently used first), and a grid of
// emoji buttons, each named by the emoji's name. Used by the composer's "Insert emoji"
// button (inserts at the caret) and by a message's "All emoji" reaction button.
//
// Keys: typing searches; Down (or Tab) from the box goes to the grid; arrows move in
// the grid, Home/End to its ends; Enter or Space picks (Enter in the box picks the first
// match); Left/Right move between category tabs; Escape closes and gives focus back to
// the button that opened the picker. A click outside closes it too.
import { loadEmojiData, rememberEmoji, recentEmoji, searchEmoji } from "./emoji_data.js";

const COLUMNS = 8;
const RECENT = "Recently used";

function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

class EmojiPicker {
  constructor() {
    this.root = element("div", "emoji-picker", { role: "dialog", "aria-label": "Emoji picker", id: "emoji-picker" });
    this.root.hidden = true;
    this.search = element("input", "emoji-search", {
      type: "search",
      "aria-label": "Find emoji",
      placeholder: "Find emoji",
      autocomplete: "off",
      spellcheck: "false",
    });
    this.tabs = element("div", "emoji-tabs", { role: "tablist", "aria-label": "Emoji categories" });
    this.grid = element("div", "emoji-grid", { role: "tabpanel", id: "emoji-picker-grid", tabindex: "-1" });
    this.note = element("p", "emoji-note muted", { "aria-live": "polite" });
    this.root.append(this.search, this.tabs, this.grid, this.note);
    document.body.append(this.root);
    this.data = null;
    this.opener = null;
    this.onPick = null;
    this.category = null;

    this.search.addEventListener("input", () => this.show());
    this.search.addEventListener("keydown", (event) => this.searchKeydown(event));
    this.tabs.addEventListener("click", (event) => {
      const tab = event.target.closest("[role=tab]");
      if (tab) this.choose(tab.dataset.category, { focusTab: true });
    });
    this.tabs.addEventListener("keydown", (event) => this.tabKeydown(event));
    this.grid.addEventListener("click", (event) => {
      const choice = event.target.closest("button[data-emoji]");
      if (choice) this.pick(choice.dataset.emoji);
    });
    this.grid.addEventListener("keydown", (event) => this.gridKeydown(event));
    // Escape is the picker's own: it neither marks the room read nor closes other things.
    this.root.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.close();
    });
    document.addEventListener(
      "pointerdown",
      (event) => {
        if (this.root.hidden || this.root.contains(event.target) || this.opener?.contains(event.target)) return;
        this.close({ restoreFocus: false });
      },
      true,
    );
    window.addEventListener("resize", () => this.place());
  }

  get isOpen() {
    return !this.root.hidden;
  }

  /** Open under/over `opener`; `onPick(char)` gets the chosen emoji. Opening from the
   * same button again closes it. */
  async open(opener, onPick) {
    if (this.isOpen && this.opener === opener) {
      this.close();
      return;
    }
    if (this.isOpen) this.close({ restoreFocus: false });
    this.opener = opener;
    this.onPick = onPick;
    opener.setAttribute("aria-expanded", "true");
    opener.setAttribute("aria-controls", this.root.id);
    this.search.value = "";
    this.root.hidden = false;
    this.place();
    this.search.focus();
    if (!this.data) {
      this.note.textContent = "Loading emoji…";
      try {
        this.data = await loadEmojiData();
      } catch {
        this.note.textContent = "The emoji could not be loaded. Try again later.";
        return;
      }
    }
    if (this.opener !== opener) return; // closed or reopened elsewhere meanwhile
    this.category = recentEmoji().length ? RECENT : this.data.groups[0];
    this.renderTabs();
    this.show();
  }

  close({ restoreFocus = true } = {}) {
    if (!this.isOpen) return;
    this.root.hidden = true;
    this.grid.replaceChildren();
    const opener = this.opener;
    this.opener = null;
    this.onPick = null;
    opener?.setAttribute("aria-expanded", "false");
    if (restoreFocus && opener?.isConnected) opener.focus();
  }

  place() {
    if (!this.isOpen || !this.opener) return;
    const anchor = this.opener.getBoundingClientRect();
    const width = Math.min(this.root.offsetWidth || 320, window.innerWidth - 16);
    const height = this.root.offsetHeight || 360;
    const left = Math.max(8, Math.min(anchor.right - width, window.innerWidth - width - 8));
    const above = anchor.top - height - 6;
    const top = above >= 8 ? above : Math.min(anchor.bottom + 6, window.innerHeight - height - 8);
    this.root.style.left = `${left}px`;
    this.root.style.top = `${Math.max(8, top)}px`;
  }

  renderTabs() {
    const names = [...(recentEmoji().length ? [RECENT] : []), ...this.data.groups];
    this.tabs.replaceChildren(
      ...names.map((name, index) => {
        const tab = element("button", "emoji-tab", {
          id: `emoji-tab-${index}`,
          type: "button",
          role: "tab",
          "aria-controls": this.grid.id,
          "data-category": name,
          title: name,
        });
        tab.textContent = this.tabIcon(name);
        tab.setAttribute("aria-label", name);
        return tab;
      }),
    );
    this.markTabs();
  }

  tabIcon(name) {
    if (name === RECENT) return "🕘";
    const first = this.data.emoji.find((entry) => this.data.groups[entry.group] === name);
    return first ? first.char : name.slice(0, 1);
  }

  markTabs() {
    const searching = Boolean(this.search.value.trim());
    for (const tab of this.tabs.children) {
      const selected = !searching && tab.dataset.category === this.category;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected || (searching && tab === this.tabs.firstElementChild) ? 0 : -1;
    }
    const current = [...this.tabs.children].find((tab) => tab.getAttribute("aria-selected") === "true");
    if (current) {
      this.grid.setAttribute("aria-labelledby", current.id);
      this.grid.removeAttribute("aria-label");
    } else {
      this.grid.removeAttribute("aria-labelledby");
      this.grid.setAttribute("aria-label", "Matching emoji");
    }
  }

  choose(category, { focusTab = false } = {}) {
    this.category = category;
    if (this.search.value) this.search.value = "";
    this.show();
    if (focusTab) [...this.tabs.children].find((tab) => tab.dataset.category === category)?.focus();
  }

  /** The grid: search results while the box has text, else the chosen category. */
  show() {
    if (!this.data) return;
    const query = this.search.value.trim();
    let entries;
    if (query) entries = searchEmoji(this.data, query);
    else if (this.category === RECENT) {
      entries = recentEmoji()
        .map((char) => this.data.byChar.get(char))
        .filter(Boolean);
    } else {
      const group = this.data.groups.indexOf(this.category);
      entries = this.data.emoji.filter((entry) => entry.group === group);
    }
    this.markTabs();
    this.grid.replaceChildren(
      ...entries.map((entry, index) => {
        const choice = element("button", "emoji-choice", { type: "button", "data-emoji": entry.char });
        choice.textContent = entry.char;
        choice.setAttribute("aria-label", entry.name);
        choice.title = entry.codes.length ? `${entry.name} :${entry.codes[0]}:` : entry.name;
        choice.tabIndex = index === 0 ? 0 : -1;
        return choice;
      }),
    );
    this.grid.scrollTop = 0;
    if (query) this.note.textContent = entries.length ? `${entries.length} found` : "No emoji found";
    else this.note.textContent = "";
  }

  buttons() {
    return [...this.grid.querySelectorAll("button[data-emoji]")];
  }

  focusChoice(index) {
    const buttons = this.buttons();
    if (!buttons.length) return;
    const target = buttons[Math.max(0, Math.min(index, buttons.length - 1))];
    for (const button of buttons) button.tabIndex = button === target ? 0 : -1;
    target.focus();
    target.scrollIntoView({ block: "nearest" });
  }

  searchKeydown(event) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      this.focusChoice(0);
    } else if (event.key === "Enter") {
      event.preventDefault();
      const first = this.buttons()[0];
      if (first) this.pick(first.dataset.emoji);
    }
  }

  gridKeydown(event) {
    const buttons = this.buttons();
    const index = buttons.indexOf(document.activeElement);
    if (index === -1) return;
    const moves = {
      ArrowRight: 1,
      ArrowLeft: -1,
      ArrowDown: COLUMNS,
      ArrowUp: -COLUMNS,
    };
    if (event.key in moves) {
      event.preventDefault();
      const next = index + moves[event.key];
      if (next < 0 && event.key === "ArrowUp") this.search.focus();
      else this.focusChoice(next);
    } else if (event.key === "Home") {
      event.preventDefault();
      this.focusChoice(0);
    } else if (event.key === "End") {
      event.preventDefault();
      this.focusChoice(buttons.length - 1);
    }
  }

  tabKeydown(event) {
    const tabs = [...this.tabs.children];
    const index = tabs.indexOf(document.activeElement);
    if (index === -1) return;
    let next = null;
    if (event.key === "ArrowRight") next = (index + 1) % tabs.length;
    else if (event.key === "ArrowLeft") next = (index - 1 + tabs.length) % tabs.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = tabs.length - 1;
    if (next === null) return;
    event.preventDefault();
    this.choose(tabs[next].dataset.category, { focusTab: true });
  }

  pick(char) {
    const onPick = this.onPick;
    rememberEmoji(char);
    this.close({ restoreFocus: false });
    onPick?.(char);
  }
}

let picker = null;

/** The page's one picker, made on first use. */
export function emojiPicker() {
  if (!picker) picker = new EmojiPicker();
  return picker;
}

/** An "Insert emoji" button for the composer: the pick goes in at the caret. */
export function attachComposerPicker({ composer, input, before }) {
  const button = element("button", "emoji-button secondary", {
    type: "button",
    "aria-label": "Insert emoji",
    "aria-haspopup": "dialog",
    "aria-expanded": "false",
    title: "Insert emoji",
  });
  button.textContent = "☺";
  composer.insertBefore(button, before);
  const sync = () => {
    button.disabled = input.disabled;
  };
  new MutationObserver(sync).observe(input, { attributes: true, attributeFilter: ["disabled"] });
  sync();
  button.addEventListener("click", () => {
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? start;
    emojiPicker().open(button, (char) => {
      input.focus();
      input.setSelectionRange(start, end);
      input.setRangeText(char, start, end, "end");
      input.dispatchEvent(new Event("input", { bubbles: true })); // resize, draft, typing
    });
  });
  return button;
}
