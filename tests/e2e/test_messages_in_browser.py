"""Messages in real browsers: the server's safe Markdown rendering (and attempts to slip
script through it), and the per-message actions "Edit", "Delete" and "React", live in
the other person's browser."""

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

ATTACKS = [
    "[click me](javascript:alert(1))",
    "<img src=x onerror=alert(2)>",
    "<script>alert(3)</script>",
    "![pic](javascript:alert(4))",
    "[also](JaVaScRiPt:alert(5)) <svg onload=alert(6)>",
]


def article(page, text: str):
    return page.get_by_role("log").get_by_role("article").filter(has_text=text)


def assert_rendered_safely(page) -> None:
    log = page.get_by_role("log")
    expect(log.locator("blockquote")).to_have_text("quoted wisdom", timeout=LIVE)
    # No element a user could have smuggled in, no handler, no script link.
    assert log.locator("script, img, svg, iframe, [onerror], [onload]").count() == 0
    assert log.locator("a[href]:not([href^='https://'])").count() == 0
    for attack in ATTACKS:
        expect(log.get_by_text(attack, exact=True)).to_be_visible()  # shown as text
    # What Markdown is for still works.
    expect(log.locator("strong")).to_have_text("bold")
    expect(log.locator("p > code")).to_have_text("code")
    expect(log.locator("pre > code")).to_contain_text("<b>indented</b>")
    link = log.get_by_role("link", name="the docs")
    expect(link).to_have_attribute("href", "https://example.com/docs")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")


def test_markdown_renders_and_script_attempts_stay_harmless_live_and_in_history(new_page):
    alice, bob = new_page(), new_page()  # any dialog (alert) fails the test
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    create_room(alice, "Markup")
    open_room_from_list(bob, "Markup")

    for attack in ATTACKS:
        send(alice, attack)
    send(alice, "**bold** and `code` and [the docs](https://example.com/docs)")
    send(alice, "```\nline one\n  <b>indented</b>\n```")
    send(alice, "> quoted wisdom")

    assert_rendered_safely(bob)  # live
    bob.reload()
    wait_until_joined(bob)
    assert_rendered_safely(bob)  # history
    bob.screenshot(path="/tmp/room-markdown.png")


def test_authors_edit_and_delete_their_messages_and_everyone_reacts_live(new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    create_room(alice, "Actions")
    open_room_from_list(bob, "Actions")
    send(alice, "frist post")
    send(alice, "to be deleted")

    # Not bob's to change: he may only react.
    theirs = article(bob, "frist post")
    expect(theirs).to_be_visible(timeout=LIVE)
    expect(theirs.get_by_role("button", name="React")).to_have_count(1)
    expect(theirs.get_by_role("button", name="Edit")).to_have_count(0)
    expect(theirs.get_by_role("button", name="Delete")).to_have_count(0)
    # ...or report it to the moderators, with a reason.
    theirs.hover()
    theirs.get_by_role("button", name="Report").click()
    bob.get_by_label("Reason").fill("spelling crimes")
    bob.get_by_role("button", name="Report", exact=True).last.click()
    expect(bob.get_by_text("Reported. Thank you.")).to_be_visible(timeout=LIVE)

    mine = article(alice, "frist post")
    mine.hover()
    mine.get_by_role("button", name="Edit").click()
    editor = alice.get_by_role("textbox", name="Edit message")
    editor.fill("first post")
    editor.press("Enter")
    expect(editor).to_have_count(0)
    expect(article(bob, "first post").get_by_text("(edited)")).to_be_visible(timeout=LIVE)
    expect(bob.get_by_role("log").get_by_text("frist post")).to_have_count(0)

    doomed = article(alice, "to be deleted")
    doomed.hover()
    doomed.get_by_role("button", name="Delete").click()
    alice.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(bob.get_by_role("log").get_by_text("to be deleted")).to_have_count(0, timeout=LIVE)
    expect(bob.get_by_role("log").get_by_text("message removed")).to_be_visible()

    liked = article(bob, "first post")
    liked.hover()
    liked.get_by_role("button", name="React").click()
    liked.get_by_role("group", name="Quick reactions").get_by_role("button", name="👍").click()
    chip = article(alice, "first post").get_by_role("group", name="Reactions").get_by_role("button")
    expect(chip).to_have_text("👍 1", timeout=LIVE)
    expect(chip).to_have_attribute("title", "bob")
    expect(chip).to_have_attribute("aria-pressed", "false")

    chip.click()  # alice joins in
    expect(chip).to_have_text("👍 2")
    expect(chip).to_have_attribute("title", "bob, alice")
    expect(chip).to_have_attribute("aria-pressed", "true")
    bob_chip = liked.get_by_role("group", name="Reactions").get_by_role("button")
    expect(bob_chip).to_have_text("👍 2", timeout=LIVE)
    bob_chip.click()  # and bob takes his back
    expect(chip).to_have_text("👍 1", timeout=LIVE)
    expect(chip).to_have_attribute("title", "alice")
    article(alice, "first post").hover()
    alice.screenshot(path="/tmp/room-reactions.png")
