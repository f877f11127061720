"""The sidebar beside every page but the room list: your rooms with live unread and
mention counts, the room you are in marked, one line on a phone."""

from __future__ import annotations

import pytest

from tests.e2e.pages import LIVE, PASSWORD, call_api, expect, log_in, wait_until_joined

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(transactional_db):
    from rooms import services
    from tests.e2e.pages import create_user

    alice, bob = create_user("alice"), create_user("bob", display_name="Bob Stone")
    general = services.room_create(creator=alice, name="General")
    random = services.room_create(creator=alice, name="Random")
    services.room_join(room=random, user=bob)
    return {"general": general.id, "random": random.id}


def _sidebar(page):
    return page.get_by_role("complementary", name="Your rooms")


def test_counts_change_live_and_the_current_room_is_marked(people, new_page):
    alice, bob = new_page(), new_page()
    log_in(alice, "alice", PASSWORD)
    log_in(bob, "bob", PASSWORD)
    alice.goto(f"/rooms/{people['general']}/")
    wait_until_joined(alice)
    sidebar = _sidebar(alice)
    expect(sidebar.get_by_role("link", name="General")).to_have_attribute("aria-current", "page")
    expect(sidebar.get_by_role("link", name="Random")).to_be_visible()
    expect(sidebar.get_by_role("img", name="unread")).to_have_count(0)

    # A private chat from bob appears at once, named for him, with its count.
    direct = call_api(bob, "POST", "/api/direct", data={"username": "alice"}).json()
    call_api(bob, "POST", f"/api/rooms/{direct['id']}/messages", data={"body": "psst"})
    dm_entry = sidebar.locator("li", has=alice.get_by_role("link", name="Bob Stone"))
    expect(dm_entry.get_by_role("img", name="1 unread")).to_be_visible(timeout=LIVE)
    expect(sidebar.get_by_role("link", name="Bob Stone")).to_have_attribute("title", "@bob")

    # A mention in another public room counts there, live.
    bob.goto(f"/rooms/{people['random']}/")
    wait_until_joined(bob)
    call_api(bob, "POST", f"/api/rooms/{people['random']}/messages", data={"body": "@alice look"})
    random_entry = sidebar.locator("li", has=alice.get_by_role("link", name="Random"))
    expect(random_entry.get_by_role("img", name="1 mention")).to_be_visible(timeout=LIVE)
    expect(random_entry.get_by_role("img", name="1 unread")).to_be_visible()

    # Messages in the room being read never count.
    call_api(bob, "POST", f"/api/rooms/{people['general']}/messages", data={"body": "hi all"})
    expect(alice.get_by_role("log")).to_contain_text("hi all", timeout=LIVE)
    general_entry = sidebar.locator("li", has=alice.get_by_role("link", name="General"))
    expect(general_entry.get_by_role("img")).to_have_count(0)

    # Opening the chat from the sidebar reads it: its count goes, it becomes current.
    sidebar.get_by_role("link", name="Bob Stone").click()
    wait_until_joined(alice)
    expect(alice.get_by_role("log")).to_contain_text("psst")
    sidebar = _sidebar(alice)
    expect(sidebar.get_by_role("link", name="Bob Stone")).to_have_attribute("aria-current", "page")
    expect(dm_entry.get_by_role("img", name="unread")).to_have_count(0)
    expect(random_entry.get_by_role("img", name="1 mention")).to_be_visible()

    # Pages without a room have it too, kept live by their own socket.
    alice.goto("/mentions/")
    call_api(bob, "POST", f"/api/rooms/{direct['id']}/messages", data={"body": "again"})
    dm_entry = _sidebar(alice).locator("li", has=alice.get_by_role("link", name="Bob Stone"))
    expect(dm_entry.get_by_role("img", name="1 unread")).to_be_visible(timeout=LIVE)

    # The room list is the same list in full: no sidebar beside it.
    alice.goto("/")
    expect(alice.get_by_role("link", name="New room")).to_be_visible()
    expect(_sidebar(alice)).to_have_count(0)


def test_on_a_phone_it_is_one_line_with_the_total(people, new_page):
    bob = new_page()
    log_in(bob, "bob", PASSWORD)
    direct = call_api(bob, "POST", "/api/direct", data={"username": "alice"}).json()
    call_api(bob, "POST", f"/api/rooms/{direct['id']}/messages", data={"body": "one"})
    call_api(bob, "POST", f"/api/rooms/{direct['id']}/messages", data={"body": "two"})

    alice = new_page(viewport={"width": 390, "height": 844})
    log_in(alice, "alice", PASSWORD)
    alice.goto(f"/rooms/{people['general']}/")
    wait_until_joined(alice)
    sidebar = _sidebar(alice)
    expect(sidebar.get_by_role("link", name="Bob Stone")).to_be_hidden()
    total = sidebar.locator("summary").get_by_role("img", name="2 unread")
    expect(total).to_be_visible(timeout=LIVE)
    box = sidebar.bounding_box()
    assert box is not None and box["height"] < 60, box  # one line, the log keeps the screen
    sidebar.locator("summary").click()
    expect(sidebar.get_by_role("link", name="Bob Stone")).to_be_visible()
    # The composer is still on screen.
    expect(alice.get_by_label("Message", exact=True)).to_be_in_viewport()
