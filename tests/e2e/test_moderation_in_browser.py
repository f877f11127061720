"""Moderation from the room page in real browsers: the room's owner deletes a member's
message and mutes them; the member's browser shows both at once."""

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


def test_the_owner_appoints_a_moderator_locks_bans_and_unbans_from_the_room_page(new_page):
    owner, member, troll = new_page(), new_page(), new_page()
    sign_up(owner, "olga")
    sign_up(member, "max")
    sign_up(troll, "tom")
    create_room(owner, "Moderated")
    open_room_from_list(member, "Moderated")
    open_room_from_list(troll, "Moderated")
    members = owner.get_by_role("list", name="Members")
    max_row = members.get_by_role("listitem").filter(has_text="max")
    expect(max_row).to_be_visible(timeout=LIVE)

    max_row.get_by_role("button", name="Make moderator").click()
    expect(max_row).to_contain_text("moderator", timeout=LIVE)
    expect(max_row.get_by_role("button", name="Remove moderator")).to_be_visible()

    owner.get_by_role("button", name="Lock room").click()
    expect(owner.get_by_role("button", name="Unlock room")).to_be_visible(timeout=LIVE)
    send(member, "moderators may still post")  # max is a moderator now
    troll.get_by_label("Message", exact=True).fill("let me in")
    troll.get_by_role("button", name="Send").click()
    expect(troll.get_by_text("locked", exact=False).first).to_be_visible(timeout=LIVE)
    owner.get_by_role("button", name="Unlock room").click()
    expect(owner.get_by_role("button", name="Lock room")).to_be_visible(timeout=LIVE)

    bans = owner.get_by_role("list", name="Banned")
    expect(bans).to_contain_text("Nobody.")
    tom_row = members.get_by_role("listitem").filter(has_text="tom")
    tom_row.get_by_role("button", name="Ban", exact=True).click()
    dialog = owner.get_by_role("dialog")
    dialog.get_by_label("Reason").fill("trolling")
    dialog.get_by_role("button", name="Ban", exact=True).click()
    expect(bans).to_contain_text("tom (trolling)", timeout=LIVE)
    expect(troll.locator("#composer-blocked")).to_have_text(
        "You were banned from this room. Reason: trolling", timeout=LIVE
    )
    expect(troll.get_by_label("Message", exact=True)).to_be_disabled()
    bans.get_by_role("button", name="Unban tom").click()
    expect(bans).to_contain_text("Nobody.", timeout=LIVE)

    owner.get_by_role("link", name="Audit log").click()
    for action in ("appoint", "lock", "unlock", "ban", "unban"):
        expect(owner.get_by_role("main")).to_contain_text(re.compile(action, re.IGNORECASE))
