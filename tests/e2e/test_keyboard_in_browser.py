"""Moving around by keyboard in Chromium: the composer has the focus when a room opens,
Ctrl+K finds rooms and people, Alt+↑/↓ step through rooms, ↑ edits your last
message, ? lists the shortcuts, a skip link comes first, and a draft survives leaving
the room."""

from __future__ import annotations

import re

import pytest

from tests.e2e.pages import (
    LIVE,
    create_room,
    create_user,
    expect,
    message_texts,
    send,
    sign_up,
    wait_for,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def heading(page, name):
    return page.get_by_role("heading", name=name, level=1)


def keys_ready(page) -> None:
    """The shortcuts' script has loaded (it shows the "Go to…" button)."""
    expect(page.get_by_role("button", name="Go to…")).to_be_visible()


def go_to(page, query: str) -> None:
    keys_ready(page)
    page.keyboard.press("Control+k")
    box = page.get_by_role("combobox", name="Room or person")
    expect(box).to_be_focused()
    box.fill(query)


@pytest.fixture
def bob_account(transactional_db):
    """Made before the browser starts (the ORM cannot run beside Playwright's loop)."""
    return create_user("bob")


def test_find_rooms_and_people_and_step_between_rooms(bob_account, new_page):
    alice = new_page()
    sign_up(alice, "alice")
    create_room(alice, "Alpha")
    alice.goto("/")
    create_room(alice, "Beta")
    box = alice.get_by_label("Message", exact=True)
    expect(box).to_be_focused()  # ready to type as the room opens

    go_to(alice, "alp")
    expect(alice.get_by_role("option", name="Alpha")).to_have_attribute("aria-selected", "true")
    alice.keyboard.press("Enter")
    expect(heading(alice, "Alpha")).to_be_visible(timeout=LIVE)
    wait_until_joined(alice)
    expect(alice.get_by_label("Message", exact=True)).to_be_focused()

    # Escape closes the switcher and gives the focus back.
    go_to(alice, "nothing like this")
    expect(alice.get_by_role("listbox", name="Matches")).to_contain_text("Nothing matches.")
    alice.keyboard.press("Escape")
    expect(alice.get_by_role("dialog")).to_have_count(0)
    expect(alice.get_by_label("Message", exact=True)).to_be_focused()

    # People: choosing one opens the 1:1 chat.
    go_to(alice, "bob")
    option = alice.get_by_role("option", name=re.compile(r"@bob\)"))
    expect(option).to_be_visible(timeout=LIVE)
    alice.keyboard.press("ArrowDown")  # past the rooms (none match "bob")
    alice.keyboard.press("ArrowUp")
    expect(option).to_have_attribute("aria-selected", "true")
    alice.keyboard.press("Enter")
    expect(heading(alice, "bob")).to_be_visible(timeout=LIVE)
    wait_until_joined(alice)

    # Alt+↓ / Alt+↑: the sidebar's order (public rooms by name: Alpha, Beta; then bob).
    alice.goto("/")
    alice.get_by_role("link", name="Alpha").click()
    expect(heading(alice, "Alpha")).to_be_visible(timeout=LIVE)
    keys_ready(alice)
    alice.keyboard.press("Alt+ArrowDown")
    expect(heading(alice, "Beta")).to_be_visible(timeout=LIVE)
    keys_ready(alice)
    alice.keyboard.press("Alt+ArrowDown")
    expect(heading(alice, "bob")).to_be_visible(timeout=LIVE)
    keys_ready(alice)
    alice.keyboard.press("Alt+ArrowUp")
    expect(heading(alice, "Beta")).to_be_visible(timeout=LIVE)


def test_a_draft_survives_leaving_the_room_and_up_edits_the_last_message(new_page):
    alice = new_page()
    sign_up(alice, "alice")
    create_room(alice, "Alpha")
    send(alice, "first version")
    wait_for(alice, lambda: message_texts(alice) == ["first version"])  # stored: editable
    box = alice.get_by_label("Message", exact=True)
    box.press("ArrowUp")
    edit = alice.get_by_label("Edit message")
    expect(edit).to_be_focused()
    expect(edit).to_have_value("first version")
    edit.fill("second version")
    edit.press("Enter")
    expect(alice.get_by_role("log").get_by_text("second version")).to_be_visible(timeout=LIVE)

    box.fill("half a thought")
    alice.goto("/")
    alice.get_by_role("link", name="Alpha").click()
    wait_until_joined(alice)
    expect(alice.get_by_label("Message", exact=True)).to_have_value("half a thought")
    alice.reload()  # and across a reload
    wait_until_joined(alice)
    expect(alice.get_by_label("Message", exact=True)).to_have_value("half a thought")
    send(alice, "half a thought, finished")
    alice.reload()
    wait_until_joined(alice)
    expect(alice.get_by_label("Message", exact=True)).to_have_value("")


def test_the_skip_link_comes_first_and_question_mark_lists_the_shortcuts(new_page):
    alice = new_page()
    sign_up(alice, "alice")
    alice.goto("/")
    alice.keyboard.press("Tab")
    skip = alice.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    skip.press("Enter")
    expect(alice.locator("main")).to_be_focused()

    keys_ready(alice)
    alice.get_by_role("link", name="Mentions").focus()
    alice.keyboard.press("?")
    dialog = alice.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("go to a room or person")
    expect(dialog).to_contain_text("emoji by shortcode")
    alice.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(alice.get_by_role("link", name="Mentions")).to_be_focused()


@pytest.fixture
def long_room(transactional_db):
    """A room with more history than one screen, made before the browser starts."""
    from tests.e2e.pages import add_messages
    from tests.factories import RoomFactory

    carol = create_user("carol")
    room = RoomFactory(name="Long", slug="long", creator=carol)
    add_messages(room, carol, [f"old message {n}" for n in range(1, 61)])
    return room


def test_jump_to_latest_shows_whenever_the_reader_is_scrolled_up(long_room, new_page):
    alice = new_page()
    sign_up(alice, "alice")
    alice.goto(f"/rooms/{long_room.pk}/")
    wait_until_joined(alice)
    log = alice.get_by_role("log")
    expect(log.get_by_text("old message 60", exact=True)).to_be_in_viewport()
    # Entirely: the log is scrolled to its very end (it once stopped 35 px short).
    wait_for(alice, lambda: log.evaluate("e => e.scrollHeight - e.scrollTop - e.clientHeight") <= 1)
    jump = alice.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_hidden()
    log.evaluate("element => { element.scrollTop = element.scrollHeight / 2; }")
    expect(jump).to_be_visible()  # no new message needed
    jump.click()
    expect(log.get_by_text("old message 60", exact=True)).to_be_in_viewport()
    expect(jump).to_be_hidden()


def test_on_a_phone_the_header_stays_small(new_page):
    phone = new_page(viewport={"width": 390, "height": 844})
    sign_up(phone, "alice")
    # Measured once the scripts have laid the header out (the switcher's button is theirs).
    expect(phone.get_by_role("button", name="Go to…")).to_be_visible()
    height = phone.locator("header.top").evaluate("e => e.getBoundingClientRect().height")
    assert height <= 0.12 * 844, height  # the links and both search boxes: two short rows
    expect(phone.get_by_role("searchbox", name="Search users")).to_be_visible()
    expect(phone.get_by_role("searchbox", name="Search messages")).to_be_visible()


def test_escape_closes_the_reaction_picker_and_returns_the_focus(new_page):
    alice = new_page()
    sign_up(alice, "alice")
    create_room(alice, "Alpha")
    send(alice, "react to me")
    wait_for(alice, lambda: message_texts(alice) == ["react to me"])
    post = alice.get_by_role("log").get_by_role("article").filter(has_text="react to me")
    post.hover()
    react = post.get_by_role("button", name="React")
    react.focus()
    react.press("Enter")
    picker = post.get_by_role("group", name="Quick reactions")
    expect(picker).to_be_visible()
    alice.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(react).to_be_focused()  # not <body>
    expect(react).to_have_attribute("aria-expanded", "false")


@pytest.fixture
def alice_behind(long_room):
    """alice read the long room up to message 40 of 60 (before the browser starts)."""
    from rooms import services
    from rooms.models import Membership

    alice = create_user("alice")
    services.room_join(room=long_room, user=alice)
    Membership.objects.filter(room=long_room, user=alice).update(last_read_seq=40)
    return alice


def _unread_here(page, room_id: int) -> int:
    from tests.e2e.pages import call_api

    rooms = call_api(page, "GET", "/api/sidebar").json()["rooms"]
    return next(r["unread"] for r in rooms if r["id"] == room_id)


def test_escape_marks_the_room_read(long_room, alice_behind, new_page):
    from tests.e2e.pages import PASSWORD, call_api, log_in

    alice, carol = new_page(), new_page()
    log_in(alice, "alice", PASSWORD)
    log_in(carol, "carol", PASSWORD)
    alice.goto(f"/rooms/{long_room.pk}/")
    wait_until_joined(alice)
    log = alice.get_by_role("log")
    expect(log.get_by_role("separator", name="New messages")).to_have_count(1)
    first_unread = alice.get_by_role("button", name="Jump to first unread")
    expect(first_unread).to_be_visible()
    keys_ready(alice)
    alice.keyboard.press("Escape")
    expect(log.get_by_role("separator", name="New messages")).to_have_count(0)
    expect(first_unread).to_be_hidden()

    # Scrolled up, new messages stay unread on the server ...
    log.evaluate("element => { element.scrollTop = 0; }")
    alice.wait_for_timeout(300)
    call_api(carol, "POST", f"/api/rooms/{long_room.pk}/messages", data={"body": "while away"})
    expect(alice.get_by_role("button", name="Jump to latest")).to_be_visible(timeout=LIVE)
    wait_for(alice, lambda: _unread_here(alice, long_room.pk) == 1)
    # ... until Escape says the reader has caught up, wherever the log is.
    alice.keyboard.press("Escape")
    wait_for(alice, lambda: _unread_here(alice, long_room.pk) == 0)
