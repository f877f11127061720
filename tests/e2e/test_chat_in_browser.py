"""The chat site in a real browser, driven only through the outside contract's
accessible names: sign-up fields, "New room", "Name", the "Message" box, "Send" and
the role=log element.

Plain (sync) tests: Playwright's sync API runs its own event loop, which must not
meet pytest-asyncio's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.pages import (
    LIVE,
    PASSWORD,
    SocketSwitch,
    create_room,
    expect,
    log_in,
    message_texts,
    open_room_from_list,
    send,
    sign_up,
    wait_for,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<b>bold</b><script>alert(1)</script>"


def test_two_people_chat_live_and_see_history_after_reload(new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    create_room(alice, "Tea room")
    open_room_from_list(bob, "Tea room")

    send(alice, "Hello Bob")
    expect(bob.get_by_role("log").get_by_text("Hello Bob", exact=True)).to_be_visible(timeout=LIVE)

    bob.get_by_label("Message", exact=True).fill("Hi Alice, by Enter")
    bob.get_by_label("Message", exact=True).press("Enter")
    expect(bob.get_by_label("Message", exact=True)).to_have_value("")
    expect(alice.get_by_role("log").get_by_text("Hi Alice, by Enter", exact=True)).to_be_visible(
        timeout=LIVE
    )

    send(alice, HOSTILE)
    hostile_in_bob = bob.get_by_role("log").get_by_text(HOSTILE, exact=True)
    expect(hostile_in_bob).to_be_visible(timeout=LIVE)
    assert bob.get_by_role("log").locator("b, script").count() == 0

    # Own messages are marked; in the bubble layout they sit on the right.
    message_texts(alice)
    mine = alice.get_by_role("log").get_by_role("article").filter(has_text="Hello Bob")
    theirs = alice.get_by_role("log").get_by_role("article").filter(has_text="Hi Alice")
    assert mine.get_attribute("class") != theirs.get_attribute("class")
    alice.get_by_label("Bubbles").check()
    assert box_left(mine.locator(".body")) > box_left(theirs.locator(".body"))

    bob.reload()
    wait_until_joined(bob)
    expect(bob.get_by_role("log").get_by_text(HOSTILE, exact=True)).to_be_visible()
    assert message_texts(bob) == ["Hello Bob", "Hi Alice, by Enter", HOSTILE]
    assert bob.get_by_role("log").locator("b, script").count() == 0
    alice.screenshot(path="/tmp/room.png")


def box_left(locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["x"]


def test_shift_enter_makes_a_new_line_instead_of_sending(new_page):
    page = new_page()
    sign_up(page, "carol")
    create_room(page, "Poems")
    box = page.get_by_label("Message", exact=True)
    box.fill("roses are red")
    box.press("Shift+Enter")
    box.press_sequentially("violets are blue")
    expect(box).to_have_value("roses are red\nviolets are blue")
    expect(page.get_by_role("log").get_by_role("article")).to_have_count(0)

    box.press("Enter")
    expect(box).to_have_value("")
    assert message_texts(page) == ["roses are red\nviolets are blue"]


@pytest.mark.parametrize("viewport", [{"width": 375, "height": 667}, {"width": 320, "height": 568}])
def test_a_phone_width_screen_still_shows_the_composer(new_page, viewport):
    page = new_page(viewport=viewport, is_mobile=True, has_touch=True)
    sign_up(page, "dave")
    create_room(page, "Pocket")
    for n in range(12):
        send(page, f"line {n} " + "words " * 12)
    expect(page.get_by_label("Message", exact=True)).to_be_in_viewport()
    expect(page.get_by_role("button", name="Send")).to_be_in_viewport()
    expect(page.get_by_role("log").get_by_text("line 11", exact=False)).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.screenshot(path=f"/tmp/room-phone-{viewport['width']}.png")


def test_dark_mode_keeps_text_readable(new_page):
    page = new_page(color_scheme="dark")
    sign_up(page, "erin")
    create_room(page, "Night owls")
    send(page, "still up?")
    expect(page.get_by_role("log").get_by_text("still up?")).to_be_visible()
    background = luminance_of(page, "body", "backgroundColor")
    assert background < 0.1, "the page background should be dark"
    for name in ("Send",):
        button = page.get_by_role("button", name=name)
        ratio = contrast(
            luminance_of_element(button, "color"), luminance_of_element(button, "backgroundColor")
        )
        assert ratio >= 4.5, f"{name} button contrast {ratio:.1f} is below 4.5"
    bubble = page.get_by_role("log").get_by_role("article").locator(".body")
    ratio = contrast(luminance_of_element(bubble, "color"), bubble_luminance(bubble))
    assert ratio >= 4.5, f"own message contrast {ratio:.1f} is below 4.5"
    page.screenshot(path="/tmp/room-dark.png")


LUMINANCE_JS = """
(element, property) => {
  const parse = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  let node = element, value = getComputedStyle(node)[property];
  // Walk up past transparent backgrounds to the colour actually painted.
  while (property === "backgroundColor" && node.parentElement &&
         (value === "rgba(0, 0, 0, 0)" || value === "transparent")) {
    node = node.parentElement;
    value = getComputedStyle(node)[property];
  }
  const [r, g, b] = parse(value).map((c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
"""


def luminance_of(page, selector, property) -> float:
    return page.locator(selector).evaluate(LUMINANCE_JS, property)


def luminance_of_element(locator, property) -> float:
    return locator.evaluate(LUMINANCE_JS, property)


def bubble_luminance(locator) -> float:
    return luminance_of_element(locator, "backgroundColor")


def contrast(a: float, b: float) -> float:
    light, dark = max(a, b), min(a, b)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture
def archive(transactional_db):
    """A public room of 130 messages over three UTC days. Requested before the browser
    starts: the ORM refuses to run beside Playwright's event loop."""
    return seed_history(room_name="Archive", count=130, days=3)


def seed_history(*, room_name: str, count: int, days: int):
    """A public room whose `count` messages are spread over `days` UTC days."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from accounts.models import User
    from rooms.models import Message, Room
    from tests.factories import RoomFactory, UserFactory

    # Hashed as the server hashes: the test settings' fast hasher is unknown to it.
    hasher = PBKDF2PasswordHasher()
    author = UserFactory(username="historian")
    author.password = hasher.encode(PASSWORD, hasher.salt())
    author.save(update_fields=["password"])
    room = RoomFactory(name=room_name, creator=author)
    start = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    per_day = -(-count // days)
    Message.objects.bulk_create(
        Message(room=room, seq=n, rev=n, author=author, body=f"message {n}")
        for n in range(1, count + 1)
    )
    for n in range(1, count + 1):
        day, minute = divmod(n - 1, per_day)
        created = start + timedelta(days=day, minutes=minute)
        Message.objects.filter(room=room, seq=n).update(created=created)
    Room.objects.filter(pk=room.pk).update(last_seq=count, last_rev=count)
    return User.objects.get(pk=author.pk), room


def test_scrolling_up_loads_older_history_in_order_with_day_separators(archive, new_page):
    page = new_page()
    log_in(page, "historian", PASSWORD)
    open_room_from_list(page, "Archive")
    log = page.get_by_role("log")
    expect(log.get_by_text("message 130", exact=True)).to_be_in_viewport()

    for _ in range(10):
        if log.get_by_text("message 1", exact=True).count():
            break
        log.evaluate("element => { element.scrollTop = 0; }")
        page.wait_for_timeout(300)
    expect(log.get_by_text("message 1", exact=True)).to_be_attached()

    bodies = message_texts(page)
    assert bodies == [f"message {n}" for n in range(1, 131)]
    separators = log.get_by_role("separator").all_inner_texts()
    assert [re.sub(r"\s+", " ", s).strip() for s in separators] == [
        "Saturday, March 1, 2025",
        "Sunday, March 2, 2025",
        "Monday, March 3, 2025",
    ]
    expect(log.get_by_role("button", name="Load older messages")).to_be_hidden()


def test_a_dropped_connection_rejoins_and_misses_nothing(new_page, base_url):
    alice, bob = new_page(), new_page()
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    create_room(alice, "Flaky")

    switch = SocketSwitch(bob)
    open_room_from_list(bob, "Flaky")
    send(alice, "before the drop")
    expect(bob.get_by_role("log").get_by_text("before the drop")).to_be_visible(timeout=LIVE)

    switch.off("network went away")
    expect(bob.get_by_role("status").filter(has_text="Reconnecting")).to_be_visible(timeout=LIVE)
    wait_for(bob, lambda: switch.attempts >= 2)
    send(alice, "while you were away 1")
    send(alice, "while you were away 2")
    edit_message(alice, base_url, "before the drop", "before the drop, edited")
    send(bob, "typed while offline")
    # Shown at once as pending, then delivered once the socket is back.
    expect(bob.get_by_role("log").get_by_text("typed while offline")).to_be_visible()

    switch.on("network is back")
    for text in ("while you were away 1", "while you were away 2", "typed while offline"):
        expect(bob.get_by_role("log").get_by_text(text, exact=True)).to_have_count(1, timeout=LIVE)
    expect(alice.get_by_role("log").get_by_text("typed while offline", exact=True)).to_have_count(
        1, timeout=LIVE
    )
    # The edit made meanwhile is read back too.
    expect(bob.get_by_role("log").get_by_text("before the drop, edited")).to_be_visible()
    assert message_texts(bob) == [
        "before the drop, edited",
        "while you were away 1",
        "while you were away 2",
        "typed while offline",
    ]
    assert message_texts(alice) == message_texts(bob)


def edit_message(page, base_url, old: str, new: str) -> None:
    """Edit one's own message through the HTTP API, with the page's session."""
    room_id = re.search(r"/rooms/(\d+)/", page.url).group(1)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": csrf, "Referer": page.url}
    listed = page.request.get(f"{base_url}/api/rooms/{room_id}/messages").json()
    message_id = next(m["id"] for m in listed["messages"] if m["body"] == old)
    response = page.request.patch(
        f"{base_url}/api/messages/{message_id}", data={"body": new}, headers=headers
    )
    assert response.status == 200, response.text()
