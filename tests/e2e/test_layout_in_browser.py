"""The message list: compact by default (generated avatars, name and time once per
group, the follow-ups' time on hover), bubbles as this browser's choice."""

from __future__ import annotations

import pytest

from tests.e2e.pages import (
    PASSWORD,
    add_messages,
    create_user,
    expect,
    log_in,
    wait_for,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def talk(transactional_db):
    from accounts import services as account_services
    from rooms import services
    from tests.accounts.images import image_bytes, upload

    alice, bob = create_user("alice"), create_user("bob", display_name="Bob Stone")
    account_services.avatar_set(user=bob, upload=upload(image_bytes("PNG")))
    room = services.room_create(creator=alice, name="General")
    services.room_join(room=room, user=bob)
    add_messages(room, bob, ["hello there", "anyone around?"])
    add_messages(room, alice, ["I am here"])
    return room


def test_compact_by_default_and_bubbles_on_request(talk, new_page):
    page = new_page(viewport={"width": 1366, "height": 768})
    log_in(page, "alice", PASSWORD)
    page.goto(f"/rooms/{talk.pk}/")
    wait_until_joined(page)
    log = page.get_by_role("log")
    expect(log).to_have_class("log compact")
    posts = log.get_by_role("article")
    expect(posts).to_have_count(3)
    first, follow_up, mine = posts.nth(0), posts.nth(1), posts.nth(2)

    # A group's first line: an avatar (hidden from screen readers: the name says who),
    # name, time. bob uploaded one; alice has none, so hers is her initials.
    avatar = first.locator(".avatar")
    expect(avatar).to_have_attribute("aria-hidden", "true")
    picture = avatar.locator("img")
    expect(picture).to_be_visible()
    wait_for(page, lambda: picture.evaluate("image => image.complete && image.naturalWidth") == 128)
    expect(mine.locator(".avatar")).to_have_text("A")
    expect(first.locator(".author")).to_be_visible()
    # The follow-up: no avatar or name shown; its time appears on hover.
    expect(follow_up.locator(".author")).to_be_hidden()
    time = follow_up.locator("time")
    assert time.evaluate("e => getComputedStyle(e.parentElement).opacity") == "0"
    follow_up.hover()
    wait_for(page, lambda: time.evaluate("e => getComputedStyle(e.parentElement).opacity") == "1")
    # My own messages sit on the left with my name, like everyone's.
    expect(mine.locator(".author")).to_have_text("Alice")
    mine_box, first_box = (
        mine.locator(".body").bounding_box(),
        first.locator(".body").bounding_box(),
    )
    assert abs(mine_box["x"] - first_box["x"]) < 2, (mine_box, first_box)

    # Bubbles: own messages on the right, no avatars; remembered across a reload.
    page.get_by_label("Bubbles").check()
    expect(log).not_to_have_class("log compact")
    expect(avatar).to_be_hidden()
    page.reload()
    wait_until_joined(page)
    expect(page.get_by_role("log")).not_to_have_class("log compact")
    expect(page.get_by_label("Bubbles")).to_be_checked()
    mine_box = page.get_by_role("log").get_by_role("article").nth(2).locator(".body").bounding_box()
    assert mine_box["x"] > first_box["x"] + 200, mine_box
