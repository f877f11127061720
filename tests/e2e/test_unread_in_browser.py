"""The "New messages" divider where the reader left off, and the "Jump to first unread"
button when that place is above the visible part of the log (or not loaded yet)."""

from __future__ import annotations

import pytest

from tests.e2e.pages import PASSWORD, expect, log_in, open_room_from_list

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READ_UP_TO = 5
MESSAGES = 70  # more than the first page (50), so the first unread is not loaded at first


@pytest.fixture
def backlog(transactional_db):
    """A public room of 70 messages by "writer"; "reader" read the first five. Made
    before the browser starts: the ORM refuses to run beside Playwright's event loop."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from rooms.models import Membership, Message, Room
    from tests.factories import RoomFactory, UserFactory

    hasher = PBKDF2PasswordHasher()  # as the server hashes
    writer, reader = UserFactory(username="writer"), UserFactory(username="reader")
    reader.password = hasher.encode(PASSWORD, hasher.salt())
    reader.save(update_fields=["password"])
    room = RoomFactory(name="Backlog", creator=writer)
    Message.objects.bulk_create(
        Message(room=room, seq=n, rev=n, author=writer, body=f"message {n}")
        for n in range(1, MESSAGES + 1)
    )
    Room.objects.filter(pk=room.pk).update(last_seq=MESSAGES, last_rev=MESSAGES)
    Membership.objects.create(room=room, user=reader, last_read_seq=READ_UP_TO)
    return room


def test_the_reader_jumps_to_the_first_unread_message(backlog, new_page):
    page = new_page()
    log_in(page, "reader", PASSWORD)
    open_room_from_list(page, "Backlog")
    log = page.get_by_role("log")
    expect(log.get_by_text(f"message {MESSAGES}", exact=True)).to_be_in_viewport()

    jump = page.get_by_role("button", name="Jump to first unread")
    expect(jump).to_be_visible()
    jump.click()

    divider = log.get_by_role("separator", name="New messages")
    expect(divider).to_have_count(1)
    expect(divider).to_be_in_viewport()
    expect(jump).to_be_hidden()
    first_unread = log.get_by_role("article").filter(
        has=page.get_by_role("separator", name="New messages")
    )
    expect(first_unread.locator(".body")).to_have_text(f"message {READ_UP_TO + 1}")
    expect(log.get_by_text(f"message {READ_UP_TO + 1}", exact=True)).to_be_in_viewport()

    # Coming back later, everything is read: no divider, no button.
    page.reload()
    expect(log.get_by_text(f"message {MESSAGES}", exact=True)).to_be_in_viewport()
    expect(log.get_by_role("separator", name="New messages")).to_have_count(0)
    expect(jump).to_be_hidden()
