"""Threads in real browsers: bob answers a message in its thread panel, alice's window
shows the new count under the message at once and, opening the thread, the reply; a
thread-only reply stays out of the room's log, one with "Also send to room" shows in
both; Escape closes the panel; on a phone the panel takes the screen."""

from __future__ import annotations

import re

import pytest

from tests.e2e.pages import (
    LIVE,
    PASSWORD,
    SocketSwitch,
    add_messages,
    call_api,
    create_user,
    expect,
    log_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def room(transactional_db):
    """A public room of alice's that bob belongs to; made before any browser opens."""
    from rooms import services

    alice = create_user("alice")
    bob = create_user("bob")
    room = services.room_create(creator=alice, name="Plans")
    services.room_join(room=room, user=bob)
    add_messages(room, alice, ["Where do we eat on Friday?", "unrelated chatter"])
    return room


def article(page, text: str):
    return page.get_by_role("log").get_by_role("article").filter(has_text=text)


def open_room(page, room) -> None:
    page.goto(f"/rooms/{room.id}/")
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()


def open_thread_from_actions(page, text: str):
    message = article(page, text)
    message.hover()
    message.get_by_role("button", name="Reply in thread", exact=True).click()
    panel = page.get_by_role("complementary", name="Thread")
    expect(panel).to_be_visible()
    return panel


def reply_in_panel(panel, text: str, *, also_to_room: bool = False) -> None:
    box = panel.get_by_role("textbox", name="Thread reply")
    expect(box).to_be_focused()
    box.fill(text)
    if also_to_room:
        panel.get_by_role("checkbox", name="Also send to room").check()
    panel.get_by_role("button", name="Reply", exact=True).click()


def test_a_reply_in_the_thread_panel_shows_live_in_another_window(room, new_page):
    alice, bob = new_page(), new_page()
    log_in(alice, "alice", PASSWORD)
    log_in(bob, "bob", PASSWORD)
    open_room(alice, room)
    open_room(bob, room)
    question = "Where do we eat on Friday?"

    panel = open_thread_from_actions(bob, question)
    expect(panel.get_by_text("No replies yet")).to_be_visible()
    expect(panel.locator(".thread-parent")).to_contain_text(question)
    reply_in_panel(panel, "The noodle place")
    replies = panel.get_by_role("listitem")
    expect(replies).to_have_count(1, timeout=LIVE)
    expect(replies).to_contain_text("The noodle place")
    expect(replies).not_to_have_attribute("aria-busy", "true", timeout=LIVE)  # stored
    expect(panel.get_by_role("list", name="1 reply")).to_be_visible()

    # Alice's window: the count under the message, live; the reply stays out of her log.
    count = article(alice, question).get_by_role("button", name="1 reply", exact=True)
    expect(count).to_be_visible(timeout=LIVE)
    expect(article(alice, question).locator(".thread-summary")).to_contain_text("last reply")
    expect(article(alice, "The noodle place")).to_have_count(0)  # hidden, not in the log's tree
    expect(article(bob, "The noodle place")).to_have_count(0)
    expect(alice.locator("#log article.thread-only")).to_have_count(1)  # delivered, in order

    count.click()
    alice_panel = alice.get_by_role("complementary", name="Thread")
    expect(alice_panel).to_be_visible()
    expect(alice_panel.get_by_role("listitem")).to_have_text(
        [re.compile("bob.*The noodle place", re.S | re.I)], timeout=LIVE
    )

    # "Also send to room": in the thread and in both logs, quoting the message it answers.
    reply_in_panel(alice_panel, "Booked for seven", also_to_room=True)
    expect(alice_panel.get_by_role("listitem")).to_have_count(2, timeout=LIVE)
    expect(panel.get_by_role("listitem")).to_have_count(2, timeout=LIVE)  # bob's panel, live
    for page in (alice, bob):
        in_log = article(page, "Booked for seven")
        expect(in_log).to_be_visible(timeout=LIVE)
        expect(in_log.locator(".reply-quote")).to_contain_text(question)
        expect(article(page, question).get_by_role("button", name="2 replies")).to_be_visible(
            timeout=LIVE
        )

    alice.screenshot(path="/tmp/thread-panel.png")
    # Escape closes the panel and gives the focus back.
    alice.keyboard.press("Escape")
    expect(alice_panel).to_be_hidden()

    # The contract's names still point at one control each with the panel open.
    expect(bob.get_by_role("textbox", name="Message")).to_have_count(1)
    expect(bob.get_by_role("button", name="Send")).to_have_count(1)
    expect(bob.get_by_role("log")).to_have_count(1)

    # A window opened now reads the same: counts from history, the thread from the API.
    alice.reload()
    expect(alice.get_by_role("status").filter(has_text="Connected")).to_be_visible()
    expect(article(alice, "The noodle place")).to_have_count(0)  # hidden, not in the log's tree
    article(alice, question).get_by_role("button", name="2 replies").click()
    expect(alice.get_by_role("complementary", name="Thread").get_by_role("listitem")).to_have_count(
        2, timeout=LIVE
    )


def test_on_a_phone_the_thread_panel_takes_the_screen(room, new_page):
    phone = new_page(viewport={"width": 390, "height": 844}, has_touch=True)
    log_in(phone, "bob", PASSWORD)
    open_room(phone, room)
    message = article(phone, "Where do we eat on Friday?")
    message.click()  # a tap shows the message's buttons
    message.get_by_role("button", name="Reply in thread", exact=True).click()
    panel = phone.get_by_role("complementary", name="Thread")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None
    assert box["x"] == 0 and box["y"] == 0
    assert box["width"] == 390 and box["height"] >= 800
    reply_in_panel(panel, "From my phone")
    expect(panel.get_by_role("listitem")).to_have_count(1, timeout=LIVE)
    phone.screenshot(path="/tmp/thread-panel-phone.png")
    panel.get_by_role("button", name="Close thread").click()
    expect(panel).to_be_hidden()
    expect(
        article(phone, "Where do we eat on Friday?").get_by_role("button", name="1 reply")
    ).to_be_visible()


def test_a_thread_reply_over_long_polling_stays_in_its_thread(room, new_page):
    """Where WebSockets are blocked, the panel's reply goes out as a POST with the same
    reply_to and thread_only (static/js/transport.js)."""
    bob = new_page()
    bob.route_web_socket(
        re.compile(r".*/ws/chat/.*"), lambda ws: ws.close(code=1011, reason="blocked")
    )
    log_in(bob, "bob", PASSWORD)
    bob.goto(f"/rooms/{room.id}/")
    expect(bob.get_by_role("status").filter(has_text="polling")).to_be_visible(timeout=30_000)
    panel = open_thread_from_actions(bob, "Where do we eat on Friday?")
    reply_in_panel(panel, "Polled answer")
    expect(panel.get_by_role("listitem")).to_have_count(1, timeout=LIVE)
    expect(panel.get_by_role("listitem")).not_to_have_attribute("aria-busy", "true")
    expect(article(bob, "Polled answer")).to_have_count(0)
    replies = call_api(bob, "GET", f"/api/rooms/{room.id}/messages/1/replies").json()
    assert [(m["body"], m["thread_only"]) for m in replies["messages"]] == [("Polled answer", True)]


def test_a_window_that_was_offline_catches_up_on_a_thread(room, new_page):
    """Replies and a deletion made while bob's socket was cut: on reconnecting, the
    count under the message and the open thread panel show them (join with `after`,
    then changed_after for the parent's new count)."""
    alice, bob = new_page(), new_page()
    switch = SocketSwitch(bob)
    log_in(alice, "alice", PASSWORD)
    log_in(bob, "bob", PASSWORD)
    open_room(alice, room)
    open_room(bob, room)
    question = "Where do we eat on Friday?"
    panel = open_thread_from_actions(bob, question)
    expect(panel.get_by_text("No replies yet")).to_be_visible()

    switch.off("network went away")
    expect(bob.get_by_role("status").filter(has_text="Connected")).to_be_hidden(timeout=LIVE)
    path = f"/api/rooms/{room.id}/messages"
    for body in ("first idea", "second idea"):
        answer = call_api(alice, "POST", path, {"body": body, "reply_to": 1, "thread_only": True})
        assert answer.status == 201, answer.text()
    gone = call_api(alice, "POST", path, {"body": "never mind", "reply_to": 1}).json()
    assert call_api(alice, "DELETE", f"/api/messages/{gone['id']}").status == 204

    switch.on("network is back")
    expect(bob.get_by_role("status").filter(has_text="Connected")).to_be_visible(timeout=LIVE)
    expect(article(bob, question).get_by_role("button", name="2 replies")).to_be_visible(
        timeout=LIVE
    )
    items = panel.get_by_role("listitem")
    expect(items).to_have_count(3, timeout=LIVE)
    expect(items.nth(0)).to_contain_text("first idea")
    expect(items.nth(1)).to_contain_text("second idea")
    expect(items.nth(2)).to_contain_text("message removed")
    expect(panel.get_by_role("list", name="2 replies")).to_be_visible()
