// `:shortcode:` completion in the composer, like the @-mention list (mentions.js):
// typing ":" and two or more letters of a shortcode lists the emoji whose shortcodes
// start so (a role=listbox "Emoji suggestions" over the box); Up/Down move, Enter or
// Tab picks, Escape closes. A pick replaces the typed ":code" with the emoji character
// itself, which is what gets stored. A shortcode typed out in full (":tada:") is stored
// as typed and shown as its emoji (rooms/formatting.py): both come from one table.
import { Completion } from "./completion.js";
import { completeShortcode, loadEmojiData, rememberEmoji } from "./emoji_data.js";

// ":" at the start or after a space or punctuation (not "10:30" or "http://"), then
// two or more shortcode characters, right before the caret.
const QUERY = /(?:^|[^\w:/]):([a-z0-9_+-]{2,60})$/;

export class ShortcodeAutocomplete extends Completion {
  constructor({ input, composer, listbox }) {
    super({ input, composer, listbox });
    this.data = null;
  }

  update() {
    const typed = this.query(QUERY);
    if (typed === null) return this.close();
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
    return this.show(completeShortcode(this.data, typed));
  }

  fillOption(option, { entry, code }) {
    const glyph = document.createElement("span");
    glyph.className = "emoji-glyph";
    glyph.setAttribute("aria-hidden", "true");
    glyph.textContent = entry.char;
    const label = document.createElement("span");
    label.textContent = `:${code}:`;
    option.setAttribute("aria-label", `${entry.name} :${code}:`);
    option.append(glyph, " ", label);
  }

  pick(index) {
    const found = this.matches[index];
    if (!found) return;
    rememberEmoji(found.entry.char);
    // A typed closing colon (":tada" then ":" is not offered, but a click may come
    // after the user typed on) is swallowed with the code.
    this.replaceQuery(found.entry.char, /^:/);
  }
}
