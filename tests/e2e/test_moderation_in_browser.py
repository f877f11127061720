"""Moderation from the room page in real browsers: the room's owner deletes a member's
message and mutes them; the member's browser shows both at once."""

from __future__ import annotations

import pytest

from tests.e2e.pages import (
    LIVE,
    create_room,
    expect,
    open_room_from_list,
    send,
    sign_up,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_owner_deletes_a_members_message_and_mutes_them_live(new_page):
    owner, member = new_page(), new_page()
    sign_up(owner, "olga")
    sign_up(member, "max")
    create_room(owner, "Moderated")
    open_room_from_list(member, "Moderated")
    send(member, "buy cheap watches")

    spam = owner.get_by_role("log").get_by_role("article").filter(has_text="buy cheap watches")
    expect(spam).to_be_visible(timeout=LIVE)
    spam.hover()
    spam.get_by_role("button", name="Delete").click()
    owner.get_by_role("dialog").get_by_role("button", name="Delete").click()
    member_log = member.get_by_role("log")
    expect(member_log.get_by_text("buy cheap watches")).to_have_count(0, timeout=LIVE)
    expect(member_log.get_by_text("message removed")).to_be_visible()

    row = owner.get_by_role("list", name="Members").get_by_role("listitem").filter(has_text="max")
    row.get_by_role("button", name="Mute", exact=True).click()
    dialog = owner.get_by_role("dialog")
    dialog.get_by_label("1 hour").check()
    dialog.get_by_label("Reason").fill("selling watches")
    dialog.get_by_role("button", name="Mute", exact=True).click()

    box = member.get_by_label("Message", exact=True)
    expect(box).to_be_disabled(timeout=LIVE)
    expect(member.get_by_role("button", name="Send")).to_be_disabled()
    notice = member.get_by_role("status").filter(has_text="You are muted")
    expect(notice).to_contain_text("selling watches")
    expect(notice).to_contain_text("until")
    expect(row).to_contain_text("muted until")
    owner.screenshot(path="/tmp/room-moderator.png")
    member.screenshot(path="/tmp/room-muted.png")

    member.reload()  # the page itself knows, not only the live frame
    wait_until_joined(member)
    expect(box).to_be_disabled()
    expect(member.get_by_role("status").filter(has_text="You are muted")).to_contain_text(
        "selling watches"
    )

    row.get_by_role("button", name="Unmute").click()
    expect(box).to_be_enabled(timeout=LIVE)
    send(member, "sorry")
    expect(owner.get_by_role("log").get_by_text("sorry", exact=True)).to_be_visible(timeout=LIVE)
