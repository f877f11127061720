// The room page's features around the conversation itself, wired in one place so
// room.js (the socket, the timeline and the composer) only hands them its parts:
// message actions and reactions, the members panel with moderation, @-autocomplete,
// notifications and the title count, and the unread divider.
import { MessageActions } from "./message_actions.js";
import { MentionAutocomplete } from "./mentions.js";
import { attachComposerPicker, emojiPicker } from "./emoji_picker.js";
import { ShortcodeAutocomplete } from "./shortcodes.js";
import { LockToggle, MemberPanel } from "./moderation.js";
import { Notifier } from "./notify.js";
import { PinnedList } from "./pins.js";
import { RoomMembers } from "./room_members.js";
import { ThreadPanel } from "./threads.js";
import { UnreadMarker } from "./unread.js";

function optionalNumber(value) {
  return value === undefined || value === "" ? null : Number(value);
}

/** The composer's emoji: an "Insert emoji" picker button and `:shortcode:` completion. */
function setUpEmoji({ input, composer }) {
  const listbox = document.createElement("ul");
  Object.assign(listbox, { id: "emoji-options", className: "mention-options", hidden: true });
  listbox.setAttribute("role", "listbox");
  listbox.setAttribute("aria-label", "Emoji suggestions");
  input.before(listbox);
  new ShortcodeAutocomplete({ input, composer, listbox });
  attachComposerPicker({ composer, input, before: composer.querySelector("button[type=submit]") });
}

/** -> {onFrame(frame)}: give it every frame the page's socket receives. */
export function roomFeatures({ root, roomId, me, log, timeline, input, composer, showError, loadOlder, showMessage, send }) {
  const data = root.dataset;
  const canModerate = data.canModerate === "true";
  const members = new RoomMembers(roomId);
  const pins = new PinnedList({
    list: document.getElementById("pin-list"),
    empty: document.getElementById("pins-empty"),
    roomId,
    showMessage,
  });

  const actions = new MessageActions({
    log,
    timeline,
    me,
    canModerate,
    canPin: data.canPin === "true",
    editWindowSeconds: Number(data.editWindow || 0),
    showError,
    onPinned: (message) => pins.apply(message),
    pickEmoji: (opener, onPick) => emojiPicker().open(opener, onPick),
  });
  const unread = new UnreadMarker({
    log,
    timeline,
    me,
    lastReadSeq: optionalNumber(data.lastReadSeq),
    lastSeq: Number(data.lastSeq || 0),
    button: document.getElementById("jump-unread"),
    loadOlder,
  });
  // An @mention shows the username; hovering it says whose display name that is.
  const nameMentions = (scope) => {
    for (const mention of scope.querySelectorAll(".body .mention")) {
      const wanted = (mention.dataset.mention || "").toLowerCase();
      const member = members.members.find((m) => m.username.toLowerCase() === wanted);
      if (member) mention.title = `${member.display_name} @${member.username}`;
    }
  };
  // Uploaded avatars replace the generated initials once the member list says whose
  // there are (a past member's messages keep their initials).
  const showAvatars = (scope) => {
    for (const avatar of scope.querySelectorAll(".message > .avatar:not(.has-image)")) {
      const url = members.get(avatar.parentElement.dataset.author)?.avatar_url;
      if (!url) continue;
      const image = Object.assign(document.createElement("img"), { src: url, alt: "", width: 36, height: 36 });
      avatar.replaceChildren(image);
      avatar.classList.add("has-image");
    }
  };
  members.addEventListener("change", () => {
    nameMentions(log);
    showAvatars(log);
  });
  timeline.decorators.push(
    (item, message) => actions.decorate(item, message),
    (item, message) => unread.decorate(item, message),
    (item) => nameMentions(item),
    (item) => showAvatars(item),
  );
  // Last: it adds its action to the toolbar the actions drew, and hides thread-only replies.
  const threads = new ThreadPanel({ root, log, roomId, me, send });
  timeline.decorators.push((item, message) => threads.decorate(item, message));

  const memberList = document.getElementById("member-list");
  if (memberList) {
    new MemberPanel({
      list: memberList,
      members,
      roomId,
      roomKind: data.roomKind,
      me,
      canModerate,
      isOwner: data.myRole === "owner",
      showError,
    });
  }
  const lock = new LockToggle({ roomId, showError });
  new MentionAutocomplete({
    input,
    composer,
    listbox: document.getElementById("mention-options"),
    members,
    me,
  });
  setUpEmoji({ input, composer });
  const notifier = new Notifier({
    roomId,
    roomKind: data.roomKind,
    me,
    level: data.notifyLevel,
    permissionButton: document.getElementById("notify-permission"),
    permissionNote: document.getElementById("notify-note"),
    levelSelect: document.getElementById("notify-level"),
    showError,
  });

  return {
    members,
    /** Escape marked the room read: nothing here is news any more. */
    markedRead() {
      unread.dismiss();
      notifier.reset();
    },
    onFrame(frame) {
      // `room` is an id on most frames and a Room object on room_updated; message
      // frames name theirs inside the message.
      const frameRoom = frame.room !== null && typeof frame.room === "object" ? frame.room.id : frame.room;
      const where = frameRoom ?? frame.message?.room;
      // A refused send names no room: the thread panel looks for its own (by `ref`).
      if (frame.type === "error") threads.onFrame(frame);
      if (frame.type === "do_not_disturb") {
        // Turned on or off in another tab: the navigation's switch (dnd.js) shows it.
        document.dispatchEvent(new CustomEvent("chat:do-not-disturb", { detail: frame }));
        return;
      }
      if (where !== roomId) {
        // Other rooms reach this socket through my user group: DMs, conferences, mentions,
        // each with my notify level for its room.
        const level = frame.notify_level;
        if (frame.type === "room_activity") {
          notifier.otherRoom(frame.message, { level, direct: frame.room_kind === "direct" });
        } else if (frame.type === "mention") notifier.otherRoom(frame.message, { mention: true, level });
        else if (frame.type === "read" || frame.type === "removed") notifier.readElsewhere(where);
        return;
      }
      if (frame.type !== "error") threads.onFrame(frame);
      switch (frame.type) {
        case "joined":
          members.refresh();
          pins.refresh(); // pins and unpins made while this page was away
          notifier.joined(frame.messages, frame.last_seq);
          unread.schedule();
          break;
        case "message":
          notifier.arrived([frame.message]);
          // Invitations and departures are system lines: the member list changed.
          if (frame.message.kind === "system") members.refreshSoon();
          break;
        case "presence":
          members.refreshSoon(); // someone new may have joined the room
          break;
        case "message_updated":
          pins.apply(frame.message); // pinned, unpinned, or a pinned message edited
          break;
        case "message_deleted":
          pins.removed(frame.seq); // deleting unpins
          break;
        case "room_updated":
          lock.show(Boolean(frame.room.locked));
          break;
        case "notify_level":
          notifier.showLevel(frame.level); // chosen in another tab or device
          break;
        default:
          break;
      }
    },
  };
}
