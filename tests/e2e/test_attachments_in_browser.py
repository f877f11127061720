"""Files in real browsers: a picture dropped onto the room (a DataTransfer in a real
drop event) uploads with a progress bar and, sent with a line of text, shows inline
in the OTHER window at its reserved size; a file picked with "Attach files" shows
there as a download card; and a refused upload offers Retry without sending twice."""

from __future__ import annotations

import base64

import pytest

from tests.accounts.images import image_bytes
from tests.e2e.pages import LIVE, PASSWORD, create_user, expect, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def room(transactional_db):
    from rooms import services

    alice = create_user("alice")
    bob = create_user("bob")
    room = services.room_create(creator=alice, name="Photos")
    services.room_join(room=room, user=bob)
    return room


def open_room(page, room) -> None:
    page.goto(f"/rooms/{room.id}/")
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()


def drop_file(page, name: str, mime: str, data: bytes) -> None:
    """A real drop event on the room, carrying the file in a DataTransfer."""
    page.evaluate(
        """([name, mime, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            const target = document.getElementById("log");
            for (const type of ["dragenter", "dragover", "drop"]) {
                target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
            }
        }""",
        [name, mime, base64.b64encode(data).decode()],
    )


def test_a_dropped_picture_shows_inline_in_the_other_window(room, new_page):
    alice, bob = new_page(), new_page()
    log_in(alice, "alice", PASSWORD)
    log_in(bob, "bob", PASSWORD)
    open_room(alice, room)
    open_room(bob, room)

    drop_file(alice, "sunset.png", "image/png", image_bytes("PNG", size=(720, 480)))
    tray = alice.get_by_role("list", name="Attachments")
    expect(tray.get_by_role("button", name="Remove sunset.png")).to_be_visible(timeout=LIVE)
    alice.get_by_role("textbox", name="Message").fill("look at this")
    alice.get_by_role("button", name="Send", exact=True).click()
    expect(tray.get_by_role("listitem")).to_have_count(0, timeout=LIVE)

    message = bob.get_by_role("log").get_by_role("article").filter(has_text="look at this")
    picture = message.get_by_role("img", name="sunset.png")
    expect(picture).to_be_visible(timeout=LIVE)
    # The box is reserved before the picture loads: the width and height attributes.
    assert picture.get_attribute("width") == "360" and picture.get_attribute("height") == "240"
    bob.wait_for_function(
        "() => { const i = document.querySelector('.attachment-image img'); "
        "return i && i.complete && i.naturalWidth === 360; }"
    )
    expect(message.get_by_role("link", name="sunset.png")).to_have_attribute(
        "href", picture.evaluate("i => i.closest('a').getAttribute('href')")
    )

    # A file that is not an image, from the "Attach files" button's picker: a card.
    with alice.expect_file_chooser() as chooser:
        alice.get_by_role("button", name="Attach files").click()
    chooser.value.set_files(
        files=[{"name": "notes.html", "mimeType": "image/png", "buffer": b"<html>hi</html>"}]
    )
    expect(tray.get_by_role("button", name="Remove notes.html")).to_be_visible(timeout=LIVE)
    alice.get_by_role("textbox", name="Message").press("Enter")  # only the file
    card = bob.locator(".attachment-file").filter(has_text="notes.html")
    expect(card).to_be_visible(timeout=LIVE)
    expect(card).to_contain_text("text/html")  # sniffed, not the browser's word
    expect(card).to_have_attribute("download", "notes.html")


def test_a_refused_upload_can_be_retried_and_the_message_goes_once(room, new_page):
    alice = new_page()
    log_in(alice, "alice", PASSWORD)
    open_room(alice, room)
    # An empty file: the server refuses it with a sentence, shown beside it.
    drop_file(alice, "empty.txt", "text/plain", b"")
    tray = alice.get_by_role("list", name="Attachments")
    expect(tray.get_by_text("The file is empty.")).to_be_visible(timeout=LIVE)
    expect(tray.get_by_role("button", name="Retry upload of empty.txt")).to_be_visible()
    alice.get_by_role("textbox", name="Message").fill("with a file")
    alice.get_by_role("button", name="Send", exact=True).click()
    expect(alice.get_by_role("alert").filter(has_text="retry or remove it")).to_be_visible()
    tray.get_by_role("button", name="Remove empty.txt").click()

    drop_file(alice, "good.txt", "text/plain", b"fine words")
    expect(tray.get_by_role("button", name="Remove good.txt")).to_be_visible(timeout=LIVE)
    alice.get_by_role("button", name="Send", exact=True).click()
    message = alice.get_by_role("log").get_by_role("article").filter(has_text="with a file")
    expect(message.locator(".attachment-file")).to_contain_text("good.txt", timeout=LIVE)
    expect(alice.get_by_role("log").get_by_role("article")).to_have_count(1)


def test_an_upload_in_progress_shows_its_progress_and_can_be_cancelled(room, new_page):
    alice = new_page()
    log_in(alice, "alice", PASSWORD)
    open_room(alice, room)
    held = []
    # The upload is held on its way, so it is still in progress while we look.
    alice.route("**/api/rooms/*/uploads", lambda route: held.append(route))
    alice.locator("#file-input").set_input_files(
        files=[{"name": "slow.txt", "mimeType": "text/plain", "buffer": b"x" * 50_000}]
    )
    tray = alice.get_by_role("list", name="Attachments")
    expect(tray.get_by_role("progressbar", name="Uploading slow.txt")).to_be_visible()
    tray.get_by_role("button", name="Cancel upload of slow.txt").click()
    expect(tray.get_by_role("listitem")).to_have_count(0)
    # With nothing in the tray the box sends as before (room.js, over the socket).
    alice.get_by_role("textbox", name="Message").fill("no files after all")
    alice.get_by_role("button", name="Send", exact=True).click()
    message = alice.get_by_role("log").get_by_role("article").filter(has_text="no files after all")
    expect(message).to_be_visible(timeout=LIVE)
    expect(message.locator(".attachments")).to_have_count(0)


def test_a_pasted_picture_becomes_an_attachment(room, new_page):
    alice = new_page()
    log_in(alice, "alice", PASSWORD)
    open_room(alice, room)
    alice.get_by_role("textbox", name="Message").evaluate(
        """(box, b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
            box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
        }""",
        base64.b64encode(image_bytes("PNG", size=(100, 50))).decode(),
    )
    tray = alice.get_by_role("list", name="Attachments")
    expect(tray.get_by_role("button", name="Remove pasted.png")).to_be_visible(timeout=LIVE)
    alice.get_by_role("textbox", name="Message").press("Enter")
    picture = alice.get_by_role("log").get_by_role("img", name="pasted.png")
    expect(picture).to_be_visible(timeout=LIVE)
    assert picture.get_attribute("width") == "100" and picture.get_attribute("height") == "50"
