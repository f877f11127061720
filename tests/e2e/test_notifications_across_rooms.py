"""A private message or a mention in another room reaches the room alice is reading:
the title counts it at once, and reading it elsewhere (another tab) takes it off."""

from __future__ import annotations

import pytest

from tests.e2e.pages import (
    LIVE,
    call_api,
    create_room,
    expect,
    open_room_from_list,
    send,
    sign_up,
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
