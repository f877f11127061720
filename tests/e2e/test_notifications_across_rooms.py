"""A private message or a mention in another room reaches the room alice is reading:
the title counts it at once, and reading it elsewhere (another tab) takes it off. A
room's notify level and do-not-disturb decide what of it notifies."""

from __future__ import annotations

import pytest

from tests.e2e.pages import (
    LIVE,
    PASSWORD,
    call_api,
    create_room,
    create_user,
    expect,
    log_in,
    open_room_from_list,
    send,
    sign_up,
    wait_for,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dms_and_mentions_elsewhere_count_in_the_title_until_read(new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    create_room(alice, "Beta")  # alice is a member; bob will mention her here
    open_room_from_list(bob, "Beta")
    alice.goto("/")
    create_room(alice, "Alpha")  # where alice reads
    expect(alice).to_have_title("Alpha · Chat")

    direct = call_api(bob, "POST", "/api/direct", data={"username": "alice"}).json()
    call_api(bob, "POST", f"/api/rooms/{direct['id']}/messages", data={"body": "psst, alice"})
    expect(alice).to_have_title("(1) Alpha · Chat", timeout=LIVE)
    send(bob, "@alice have a look")  # in Beta
    expect(alice).to_have_title("(2) Alpha · Chat", timeout=LIVE)
    expect(alice.get_by_role("log")).not_to_contain_text("psst")  # not shown in Alpha

    # alice reads the private chat in another tab: this tab's count drops.
    other_tab = alice.context.new_page()
    other_tab.goto(f"/rooms/{direct['id']}/")
    wait_until_joined(other_tab)
    expect(other_tab.get_by_role("log")).to_contain_text("psst, alice", timeout=LIVE)
    expect(alice).to_have_title("(1) Alpha · Chat", timeout=LIVE)


@pytest.fixture
def rooms_of_alice(transactional_db):
    """alice reads Desk; bob talks to her in a conference she set to "nothing" and in
    a public room (default: mentions). Made with the ORM before the browser starts."""
    from rooms import services
    from tests.conftest import token_for
    from tests.factories import RoomFactory

    alice, bob = create_user("alice"), create_user("bob")
    create_user("carol")
    desk = RoomFactory(name="Desk", slug="desk", creator=alice)
    lobby = RoomFactory(name="Lobby", slug="lobby", creator=bob)
    services.room_join(room=lobby, user=alice)
    plans = services.room_create(
        creator=bob, name="Plans", kind="conference", members=["alice", "carol"]
    )
    services.membership_set_notify_level(room=plans, user=alice, level="nothing")
    return {
        "desk": desk.id,
        "lobby": lobby.id,
        "plans": plans.id,
        "bob": {"Authorization": f"Bearer {token_for(bob)}"},
    }


def test_a_silenced_room_stays_quiet_a_mention_elsewhere_notifies_and_dnd_mutes_the_desktop(
    rooms_of_alice, new_page
):
    from tests.e2e.test_mentions_in_browser import FAKE_NOTIFICATIONS

    ids, bob_says = rooms_of_alice, new_page().request

    def post(room: str, body: str) -> None:
        answer = bob_says.post(
            f"/api/rooms/{ids[room]}/messages", data={"body": body}, headers=ids["bob"]
        )
        assert answer.status == 201, answer.text()

    alice = new_page()
    alice.add_init_script(FAKE_NOTIFICATIONS)
    log_in(alice, "alice", PASSWORD)
    alice.goto(f"/rooms/{ids['desk']}/")
    wait_until_joined(alice)
    expect(alice.get_by_role("button", name="Go to…")).to_be_visible()
    alice.get_by_role("button", name="Enable desktop notifications").click()
    shown = lambda: alice.evaluate("window.shownNotifications")  # noqa: E731

    # "nothing" in Plans: neither its message nor its mention of alice is news. The
    # Lobby mention comes after them on the same socket, so once it has shown, Plans'
    # frames have been handled.
    post("plans", "@alice the plans are in")
    post("lobby", "@alice over here")
    expect(alice).to_have_title("(1) Desk · Chat", timeout=LIVE)
    wait_for(alice, lambda: len(shown()) == 1)
    [first] = shown()
    assert first["body"] == "@alice over here" and first["title"].endswith("mentioned you")

    # Do not disturb: still counted in the title, no desktop notification.
    dnd = alice.get_by_role("button", name="Do not disturb")
    expect(dnd).to_have_attribute("aria-pressed", "false")
    with alice.expect_response("**/api/me/dnd") as answer:
        dnd.click()
    assert answer.value.status == 200
    expect(dnd).to_have_attribute("aria-pressed", "true")
    post("lobby", "@alice again")
    expect(alice).to_have_title("(2) Desk · Chat", timeout=LIVE)
    alice.wait_for_timeout(300)
    assert len(shown()) == 1

    # Off again: the next mention notifies.
    with alice.expect_response("**/api/me/dnd"):
        dnd.click()
    expect(dnd).to_have_attribute("aria-pressed", "false")
    post("lobby", "@alice and now?")
    wait_for(alice, lambda: len(shown()) == 2)
    assert shown()[1]["body"] == "@alice and now?"


@pytest.fixture
def direct_with_bob(transactional_db):
    """alice reads Desk; bob has a 1:1 chat with her. Made before the browser starts."""
    from rooms import services
    from tests.conftest import token_for
    from tests.factories import RoomFactory

    alice, bob = create_user("alice"), create_user("bob")
    desk = RoomFactory(name="Desk", slug="desk", creator=alice)
    direct = services.direct_get_or_create(user=bob, username="alice")[0]
    return {
        "desk": desk.id,
        "direct": direct.id,
        "bob": {"Authorization": f"Bearer {token_for(bob)}"},
    }


def test_a_message_that_is_only_files_notifies_with_their_names(direct_with_bob, new_page):
    from tests.e2e.test_mentions_in_browser import FAKE_NOTIFICATIONS

    ids, bob_says = direct_with_bob, new_page().request
    alice = new_page()
    alice.add_init_script(FAKE_NOTIFICATIONS)
    log_in(alice, "alice", PASSWORD)
    alice.goto(f"/rooms/{ids['desk']}/")
    wait_until_joined(alice)
    expect(alice.get_by_role("button", name="Go to…")).to_be_visible()
    alice.get_by_role("button", name="Enable desktop notifications").click()

    upload = bob_says.post(
        f"/api/rooms/{ids['direct']}/uploads",
        multipart={"file": {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}},
        headers=ids["bob"],
    )
    assert upload.status == 201, upload.text()
    sent = bob_says.post(
        f"/api/rooms/{ids['direct']}/messages",
        data={"body": "", "attachments": [upload.json()["id"]]},
        headers=ids["bob"],
    )
    assert sent.status == 201, sent.text()
    wait_for(alice, lambda: len(alice.evaluate("window.shownNotifications")) == 1)
    [shown] = alice.evaluate("window.shownNotifications")
    assert shown["title"].endswith("wrote to you")
    assert shown["body"] == "Sent a file: notes.txt"
