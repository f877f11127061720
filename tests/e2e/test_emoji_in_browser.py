"""Emoji in real browsers: the composer's picker inserts at the caret and the other
window sees the message; a reaction found by searching the picker reaches the other
window live; `:smi` completion inserts the emoji; a typed `:tada:` shows as 🎉; the
picker is keyboard-driven (Escape gives focus back); the distinct-reactions bound
shows its reason."""

from __future__ import annotations

import pytest

from tests.e2e.pages import LIVE, PASSWORD, add_messages, create_user, expect, log_in, send

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def room(transactional_db):
    """A public room of alice's that bob belongs to, made before any browser opens."""
    from rooms import services

    alice = create_user("alice")
    bob = create_user("bob")
    room = services.room_create(creator=alice, name="Party")
    services.room_join(room=room, user=bob)
    add_messages(room, alice, ["welcome all"])
    return room


@pytest.fixture
def crowded(room):
    """A message that already carries the default 20 distinct reactions."""
    from django.contrib.auth import get_user_model

    from rooms import changes, services

    bob = get_user_model().objects.get(username="bob")
    message, _ = services.message_post(room=room, author=bob, body="react to me")
    for emoji in "😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😌😍🥰😘😗😙😚":
        message = changes.reaction_set(message=message, by=bob, emoji=emoji, on=True)
    return room


def article(page, text: str):
    return page.get_by_role("log").get_by_role("article").filter(has_text=text)


def open_room(page, room) -> None:
    page.goto(f"/rooms/{room.id}/")
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()


def two_windows(new_page, room):
    alice, bob = new_page(), new_page()
    log_in(alice, "alice", PASSWORD)
    log_in(bob, "bob", PASSWORD)
    open_room(alice, room)
    open_room(bob, room)
    return alice, bob


def test_an_emoji_picked_in_the_composer_is_sent_and_seen(room, new_page):
    alice, bob = two_windows(new_page, room)
    box = alice.get_by_label("Message", exact=True)
    box.fill("well done ")
    opener = alice.get_by_role("button", name="Insert emoji")
    opener.click()
    picker = alice.get_by_role("dialog", name="Emoji picker")
    expect(picker).to_be_visible()
    expect(picker.get_by_role("searchbox", name="Find emoji")).to_be_focused()
    # Categories: a tab per Unicode group; choosing one shows its emoji.
    picker.get_by_role("tab", name="Food & drink").click()
    expect(picker.get_by_role("tab", name="Food & drink")).to_have_attribute(
        "aria-selected", "true"
    )
    picker.get_by_role("button", name="pizza", exact=True).click()
    expect(picker).to_be_hidden()
    expect(box).to_have_value("well done 🍕")
    expect(box).to_be_focused()
    alice.get_by_role("button", name="Send").click()
    expect(article(bob, "well done 🍕")).to_be_visible(timeout=LIVE)


def test_the_picker_is_driven_by_the_keyboard_and_escape_returns_focus(room, new_page):
    alice = new_page()
    log_in(alice, "alice", PASSWORD)
    open_room(alice, room)
    opener = alice.get_by_role("button", name="Insert emoji")
    opener.focus()
    alice.keyboard.press("Enter")
    picker = alice.get_by_role("dialog", name="Emoji picker")
    search = picker.get_by_role("searchbox", name="Find emoji")
    expect(search).to_be_focused()
    search.press_sequentially("rocket")
    expect(picker.get_by_role("button", name="rocket", exact=True)).to_be_visible()
    alice.keyboard.press("ArrowDown")
    expect(picker.get_by_role("button", name="rocket", exact=True)).to_be_focused()
    alice.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(opener).to_be_focused()
    # Enter in the search box picks the first match; it then leads the "Recently used" tab.
    alice.keyboard.press("Enter")
    search.fill("tada")
    search.press("Enter")
    box = alice.get_by_label("Message", exact=True)
    expect(box).to_have_value("🎉")
    opener.click()
    expect(picker.get_by_role("tab", name="Recently used")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(picker.get_by_role("tabpanel").get_by_role("button").first).to_have_text("🎉")
    alice.keyboard.press("Escape")
    expect(picker).to_be_hidden()


def test_a_reaction_found_by_search_reaches_the_other_window(room, new_page):
    alice, bob = two_windows(new_page, room)
    message = article(bob, "welcome all")
    message.hover()
    message.get_by_role("button", name="React").click()
    message.get_by_role("button", name="All emoji").click()
    picker = bob.get_by_role("dialog", name="Emoji picker")
    picker.get_by_role("searchbox", name="Find emoji").fill("avocado")
    picker.get_by_role("button", name="avocado", exact=True).click()
    expect(picker).to_be_hidden()
    chip = (
        article(alice, "welcome all").get_by_role("group", name="Reactions").get_by_role("button")
    )
    expect(chip).to_have_text("🥑 1", timeout=LIVE)
    expect(chip).to_have_attribute("title", "bob")


def test_shortcode_completion_inserts_the_emoji(room, new_page):
    alice, bob = two_windows(new_page, room)
    box = alice.get_by_label("Message", exact=True)
    box.click()
    box.press_sequentially("hi :smi")
    options = alice.get_by_role("listbox", name="Emoji suggestions")
    expect(options).to_be_visible()
    expect(options.get_by_role("option").first).to_have_text("😄 :smile:")
    box.press("Enter")  # picks; does not send
    expect(options).to_be_hidden()
    expect(box).to_have_value("hi 😄")
    box.press("Enter")
    expect(article(bob, "hi 😄")).to_be_visible(timeout=LIVE)


def test_a_typed_shortcode_shows_as_its_emoji_everywhere(room, new_page):
    alice, bob = two_windows(new_page, room)
    send(alice, "we shipped :tada: and `:tada:`")
    for page in (alice, bob):
        body = article(page, "we shipped").locator(".body")
        expect(body).to_have_text("we shipped 🎉 and :tada:", timeout=LIVE)
        expect(body.locator("code")).to_have_text(":tada:")


def test_one_distinct_reaction_too_many_shows_the_reason(crowded, new_page):
    alice = new_page()
    log_in(alice, "alice", PASSWORD)
    open_room(alice, crowded)
    message = article(alice, "react to me")
    expect(message.get_by_role("group", name="Reactions").get_by_role("button")).to_have_count(20)
    message.hover()
    message.get_by_role("button", name="React").click()
    message.get_by_role("button", name="🎉").click()
    expect(
        alice.get_by_role("alert").filter(has_text="at most 20 different reactions")
    ).to_be_visible()
    expect(message.get_by_role("group", name="Reactions").get_by_role("button")).to_have_count(20)
