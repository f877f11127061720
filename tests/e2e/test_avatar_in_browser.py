"""An avatar uploaded on the profile edit page shows on the profile, in Chromium."""

from __future__ import annotations

import pytest

from tests.accounts.images import image_bytes
from tests.e2e.pages import PASSWORD, create_user, expect, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice(transactional_db):
    return create_user("alice")  # before the browser starts: the ORM refuses to run beside it


def test_an_uploaded_avatar_replaces_the_initials_on_the_profile(alice, new_page):
    page = new_page()
    log_in(page, "alice", PASSWORD)

    page.goto("/accounts/users/alice/")
    expect(page.locator(".profile-avatar.initials")).to_have_text("A")

    page.goto("/accounts/profile/")
    page.get_by_label("Avatar", exact=True).set_input_files(
        {"name": "me.jpg", "mimeType": "image/jpeg", "buffer": image_bytes("JPEG")}
    )
    page.get_by_role("button", name="Save profile").click()

    expect(page).to_have_url("/accounts/users/alice/")
    avatar = page.locator("img.profile-avatar")
    expect(avatar).to_be_visible()
    expect(page.locator(".profile-avatar.initials")).to_have_count(0)
    # The image really loaded: the 128x128 thumbnail, not a broken-image icon.
    page.wait_for_function("document.querySelector('img.profile-avatar').complete")
    assert avatar.evaluate("image => image.naturalWidth") == 128
