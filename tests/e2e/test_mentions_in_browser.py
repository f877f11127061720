"""@mentions and notifications in real browsers: autocomplete in the composer, the
highlight, the room list's mention badge, the Mentions page; and, while the tab is
hidden, the title count and browser notifications (asked for politely, per room as its
notify level says)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.pages import (
    LIVE,
    create_room,
    expect,
    open_room_from_list,
    send,
    sign_up,
    wait_for,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_mention_is_autocompleted_highlighted_counted_and_listed(new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    alice.goto("/")  # she waits on the room list

    bob.goto("/accounts/users/alice/")
    bob.get_by_role("button", name="Message").click()
    wait_until_joined(bob)
    box = bob.get_by_label("Message", exact=True)
    box.press_sequentially("look @al")
    options = bob.get_by_role("listbox", name="People to mention").get_by_role("option")
    expect(options).to_have_text(["alice"])
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("Enter")  # picks; does not send
    expect(box).to_have_value("look @alice ")
    expect(bob.get_by_role("listbox")).to_be_hidden()
    box.press_sequentially("here")
    box.press("Enter")
    expect(box).to_have_value("")
    mention = bob.get_by_role("log").locator(".mention")
    expect(mention).to_have_text("@alice")
    expect(mention).not_to_have_class(re.compile(r"\bmention-me\b"))  # not bob's name

    entry = alice.locator("#private-rooms > li").filter(has=alice.locator('a[title="@bob"]'))
    expect(entry.get_by_role("img", name="1 mention")).to_be_visible(timeout=LIVE)
    expect(entry.get_by_role("img", name="1 unread")).to_be_visible()

    alice.get_by_role("navigation").get_by_role("link", name="Mentions").click()
    listed = alice.get_by_role("listitem").filter(has_text="look @alice here")
    listed.get_by_role("link", name="bob", exact=True).click()  # the chat, by its name
    wait_until_joined(alice)
    expect(alice.get_by_role("log").locator(".mention.mention-me")).to_have_text("@alice")


FAKE_NOTIFICATIONS = """
window.shownNotifications = [];
window.permissionRequests = 0;
window.Notification = class {
  constructor(title, options) { window.shownNotifications.push({ title, body: options.body }); }
  close() {}
  static permission = "default";
  static requestPermission() {
    window.permissionRequests += 1;
    window.Notification.permission = "granted";
    return Promise.resolve("granted");
  }
};
"""


def set_visibility(page, state: str) -> None:
    """Headless tabs never hide: pretend, as a switch to another tab would."""
    page.evaluate(
        """state => {
          Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
          Object.defineProperty(document, "hidden", { configurable: true, get: () => state === "hidden" });
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def test_a_hidden_tab_counts_and_notifies_as_the_rooms_notify_level_says(new_page):
    alice, bob = new_page(), new_page()
    alice.add_init_script(FAKE_NOTIFICATIONS)
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    create_room(alice, "Pings")
    open_room_from_list(bob, "Pings")

    assert alice.evaluate("window.permissionRequests") == 0  # never asked on page load
    ask = alice.get_by_role("button", name="Enable desktop notifications")
    ask.click()
    expect(ask).to_be_hidden()
    assert alice.evaluate("window.permissionRequests") == 1

    send(bob, "visible, so no news")
    expect(alice.get_by_role("log").get_by_text("visible, so no news")).to_be_visible(timeout=LIVE)
    set_visibility(alice, "hidden")
    send(bob, "are you there, @alice?")
    expect(alice).to_have_title("(1) Pings · Chat", timeout=LIVE)
    wait_for(alice, lambda: alice.evaluate("window.shownNotifications.length") == 1)
    assert alice.evaluate("window.shownNotifications") == [
        {"title": "bob mentioned you in Pings", "body": "are you there, @alice?"}
    ]

    # A public room notifies of mentions only, by default: other lines are counted.
    level = alice.get_by_label("Notify me about")
    expect(level).to_have_value("mentions")
    send(bob, "just chatting")
    expect(alice).to_have_title("(2) Pings · Chat", timeout=LIVE)
    alice.wait_for_timeout(300)
    assert alice.evaluate("window.shownNotifications.length") == 1
    with alice.expect_response("**/api/rooms/*/notifications") as answer:
        level.select_option(label="Everything")
    assert answer.value.status == 204
    send(bob, "now everything")
    expect(alice).to_have_title("(3) Pings · Chat", timeout=LIVE)
    wait_for(alice, lambda: alice.evaluate("window.shownNotifications.length") == 2)
    assert alice.evaluate("window.shownNotifications")[1] == {
        "title": "bob in Pings",
        "body": "now everything",
    }

    with alice.expect_response("**/api/rooms/*/notifications") as answer:
        level.select_option(label="Nothing")
    assert answer.value.status == 204
    send(bob, "hello?? @alice")
    expect(bob.get_by_role("log")).to_contain_text("hello?? @alice")
    alice.wait_for_timeout(500)
    expect(alice).to_have_title("(3) Pings · Chat")  # "nothing": not even counted
    assert alice.evaluate("window.shownNotifications.length") == 2

    set_visibility(alice, "visible")
    expect(alice).to_have_title("Pings · Chat")
    alice.reload()
    wait_until_joined(alice)
    expect(alice.get_by_label("Notify me about")).to_have_value("nothing")
