"""The site's own error pages as a user meets them: a conference they left, a room
that never existed (404, with a way back), never Django's debug page."""

from __future__ import annotations

import pytest

from tests.e2e.pages import PASSWORD, expect, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(production_site):
    return production_site


@pytest.fixture
def left_conference(transactional_db):
    from rooms import services
    from tests.e2e.pages import create_user

    alice = create_user("alice")
    for name in ("bob", "carol"):
        create_user(name)
    room = services.room_create(
        creator=alice, name=None, kind="conference", members=["bob", "carol"]
    )
    services.room_leave(room=room, user=alice)
    return room


def test_a_left_conference_and_a_missing_room_show_the_404_page(left_conference, new_page):
    page = new_page()
    log_in(page, "alice", PASSWORD)
    for path in (f"/rooms/{left_conference.pk}/", "/rooms/999999/", "/no/such/page/"):
        response = page.goto(path)
        assert response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        expect(page.get_by_text("URLconf")).to_have_count(0)  # not Django's debug page
        page.get_by_role("main").get_by_role("link", name="Back to your rooms").click()
        expect(page.get_by_role("link", name="New room")).to_be_visible()
