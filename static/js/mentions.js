// @-mention autocomplete in the composer: typing "@" and the start of a name lists the
// room's members who match (a role=listbox under the box); Up/Down move, Enter or Tab
// picks, Escape closes. The server marks mentions in the rendered message and tells
// the mentioned member.
import { Completion } from "./completion.js";

const MAX_SHOWN = 8;
// "@" at the start or after a space or punctuation (not inside an e-mail address),
// then the partial name, right before the caret.
const QUERY = /(?:^|[^\w@])@([\w.+-]*)$/;

export class MentionAutocomplete extends Completion {
  constructor({ input, composer, listbox, members, me }) {
    super({ input, composer, listbox });
    this.members = members;
    this.me = me;
    // Members load after the join: someone already typing "@al" gets the list then.
    members.addEventListener("change", () => {
      if (document.activeElement === input) this.update();
    });
  }

  update() {
    const typed = this.query(QUERY);
    if (typed === null) return this.close();
    const query = typed.toLowerCase();
    return this.show(
      this.members.members
        .filter((member) => member.username !== this.me)
        .filter(
          (member) =>
            member.username.toLowerCase().startsWith(query) ||
            member.display_name.toLowerCase().split(/\s+/).some((word) => word.startsWith(query)),
        )
        .slice(0, MAX_SHOWN),
    );
  }

  fillOption(option, member) {
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
  }

  pick(index) {
    const member = this.matches[index];
    if (member) this.replaceQuery(`@${member.username} `, /^\s/);
  }
}
