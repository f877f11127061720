"""Avatars on the pages and the API: the upload on the profile edit page, the served
thumbnail (/accounts/avatar/<username>/), the initials fallback, `avatar_url`."""

from __future__ import annotations

import hypothesis
import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from accounts import avatars, services
from tests.accounts.images import decoded, image_bytes, upload
from tests.accounts.test_avatar_services import mutated_images
from tests.accounts.test_views import field_errors, page
from tests.conftest import token_for

# Names outside checks look for (tests/e2e/pages.py, /work/shared/CONTRACT.md): no new
# control may hold one, as Playwright matches by case-insensitive substring.
CONTRACT_NAMES = ("message", "send", "new room", "name", "search users", "username", "password")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def bob_with_avatar(bob, media_root):
    return services.avatar_set(user=bob, upload=upload(image_bytes("PNG")))


def avatar_path(user) -> str:
    return reverse("accounts:avatar", args=[user.username])


# --- serving -----------------------------------------------------------------------------


def test_the_avatar_is_served_as_a_png_with_nosniff(client, alice, bob_with_avatar):
    client.force_login(alice)
    response = client.get(avatars.url(bob_with_avatar))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="avatar.png"'
    assert decoded(response.content).size == (128, 128)


def test_a_versioned_url_is_cached_for_good_and_a_bare_one_revalidated(
    client, alice, bob_with_avatar
):
    client.force_login(alice)
    versioned = client.get(avatars.url(bob_with_avatar))
    assert versioned["Cache-Control"] == "private, max-age=31536000, immutable"

    bare = client.get(avatar_path(bob_with_avatar))
    assert bare["Cache-Control"] == "private, no-cache"
    assert bare["ETag"] == versioned["ETag"]

    again = client.get(avatar_path(bob_with_avatar), headers={"If-None-Match": bare["ETag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_a_new_avatar_gets_a_new_url_and_etag(client, alice, bob_with_avatar):
    client.force_login(alice)
    before_url = avatars.url(bob_with_avatar)
    before = client.get(before_url)

    services.avatar_set(user=bob_with_avatar, upload=upload(image_bytes("GIF")))
    after = client.get(avatar_path(bob_with_avatar), headers={"If-None-Match": before["ETag"]})

    assert avatars.url(bob_with_avatar) != before_url
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]


def test_it_is_404_for_a_user_without_an_avatar_or_no_user(client, alice, bob, media_root):
    client.force_login(alice)
    assert client.get(avatar_path(bob)).status_code == 404
    assert client.get("/accounts/avatar/nobody/").status_code == 404


def test_it_is_404_for_an_inactive_user(client, alice, bob_with_avatar):
    bob_with_avatar.is_active = False
    bob_with_avatar.save(update_fields=["is_active"])
    client.force_login(alice)
    assert client.get(avatar_path(bob_with_avatar)).status_code == 404


def test_it_is_404_when_the_file_is_gone_from_storage(client, alice, bob_with_avatar):
    bob_with_avatar.avatar.storage.delete(bob_with_avatar.avatar.name)
    client.force_login(alice)
    assert client.get(avatar_path(bob_with_avatar)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, bob_with_avatar):
    response = client.get(avatar_path(bob_with_avatar))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_api_clients_fetch_it_with_their_token(client, alice, bob_with_avatar):
    token = token_for(alice)
    response = client.get(
        avatars.url(bob_with_avatar), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"

    refused = client.get(avatar_path(bob_with_avatar), headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401


def test_it_is_served_with_debug_off(client, settings, alice, bob_with_avatar):
    settings.DEBUG = False
    client.force_login(alice)
    response = client.get(avatars.url(bob_with_avatar))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"


def test_only_reads_are_answered(client, alice, bob_with_avatar):
    client.force_login(alice)
    assert client.head(avatar_path(bob_with_avatar)).status_code == 200
    assert client.post(avatar_path(bob_with_avatar)).status_code == 405


# --- the profile page --------------------------------------------------------------------


def test_the_profile_shows_the_avatar(client, alice, bob_with_avatar):
    client.force_login(alice)
    html = client.get(reverse("accounts:profile", args=["bob"])).content.decode()
    src = avatars.url(bob_with_avatar).replace("&", "&amp;")
    assert f'<img class="profile-avatar" src="{src}" alt=""' in html
    assert "initials" not in html


def test_without_an_avatar_the_profile_shows_initials_on_a_hue(client, alice, media_root):
    alice.display_name = "alice van der berg"
    alice.save(update_fields=["display_name"])
    client.force_login(alice)
    html = client.get(reverse("accounts:profile", args=["alice"])).content.decode()
    hue = avatars.hue("alice")
    assert f'<span class="profile-avatar initials hue-{hue}" aria-hidden="true">AB</span>' in html
    assert "<img" not in html
    assert 'style="' not in html  # the Content-Security-Policy allows no inline style


@pytest.mark.parametrize(
    ("display_name", "username", "expected"),
    [("Alice", "alice", "A"), ("", "zed_99", "Z"), ("Mary Ann Lee", "m", "ML"), ("   ", "q", "Q")],
)
def test_initials_come_from_the_display_name_or_username(display_name, username, expected):
    class Someone:
        pass

    someone = Someone()
    someone.display_name, someone.username = display_name, username
    assert avatars.initials(someone) == expected


def test_a_username_always_gets_the_same_hue():
    assert avatars.hue("alice") == avatars.hue("alice")
    assert {avatars.hue(f"user{n}") for n in range(200)} == set(range(avatars.HUES))


# --- the edit page -----------------------------------------------------------------------


def test_the_edit_page_has_an_avatar_file_input(client, alice, media_root):
    client.force_login(alice)
    response = client.get(reverse("accounts:profile_edit"))
    edit = page(response)
    control = edit.control_labelled("Avatar")
    assert control["type"] == "file"
    assert "Remove avatar" not in edit.labels  # nothing to remove yet
    assert 'enctype="multipart/form-data"' in response.content.decode()


def test_no_avatar_control_is_named_like_a_contract_control(client, bob_with_avatar):
    client.force_login(bob_with_avatar)
    edit = page(client.get(reverse("accounts:profile_edit")))
    assert edit.control_labelled("Remove avatar")["type"] == "checkbox"
    for label in ("Avatar", "Remove avatar"):
        assert not [word for word in CONTRACT_NAMES if word in label.lower()], label


def post_profile(client, user, **extra):
    data = {"display_name": user.display_name, "bio": user.bio, **extra}
    return client.post(reverse("accounts:profile_edit"), data)


def test_uploading_an_avatar_on_the_edit_page(client, alice, media_root):
    client.force_login(alice)
    response = post_profile(client, alice, avatar=upload(image_bytes("JPEG"), name="me.jpg"))

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.avatar
    profile = client.get(reverse("accounts:profile", args=["alice"])).content.decode()
    assert avatars.url(alice).replace("&", "&amp;") in profile


def test_a_bad_file_is_a_form_error_and_nothing_is_saved(client, alice, media_root):
    client.force_login(alice)
    response = post_profile(
        client,
        alice,
        display_name="Someone Else",
        avatar=upload(b"<svg xmlns='http://www.w3.org/2000/svg'/>", name="a.png"),
    )

    assert response.status_code == 200
    errors = field_errors(response.content.decode(), "id_avatar")
    assert errors == ["Upload a PNG, JPEG, GIF or WebP image."]
    alice.refresh_from_db()
    assert alice.display_name == "Alice"
    assert not alice.avatar


def test_an_oversized_file_is_a_form_error(client, alice, media_root, settings):
    settings.CHAT_AVATAR_MAX_BYTES = 1024
    client.force_login(alice)
    content = image_bytes("PNG", size=(64, 64), noisy=True)
    response = post_profile(client, alice, avatar=upload(content))
    assert field_errors(response.content.decode(), "id_avatar") == [
        "The image must be at most 1 KB."
    ]


def test_an_empty_file_is_a_form_error(client, alice, media_root):
    client.force_login(alice)
    response = post_profile(client, alice, avatar=upload(b""))
    assert response.status_code == 200
    assert field_errors(response.content.decode(), "id_avatar")
    alice.refresh_from_db()
    assert not alice.avatar


def test_removing_the_avatar_on_the_edit_page(client, bob_with_avatar, media_root):
    client.force_login(bob_with_avatar)
    response = post_profile(client, bob_with_avatar, remove_avatar="on")
    assert response.status_code == 302
    bob_with_avatar.refresh_from_db()
    assert not bob_with_avatar.avatar


def test_uploading_and_removing_at_once_is_a_form_error(client, bob_with_avatar):
    client.force_login(bob_with_avatar)
    before = bob_with_avatar.avatar.name
    response = post_profile(
        client, bob_with_avatar, remove_avatar="on", avatar=upload(image_bytes("PNG"))
    )
    assert response.status_code == 200
    assert field_errors(response.content.decode(), "id_avatar")
    bob_with_avatar.refresh_from_db()
    assert bob_with_avatar.avatar.name == before


FUZZ = hypothesis.settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


BOUNDARY = "avatar-fuzz-boundary"
NAMES = ["avatar.png", "x.svg", "../../settings.py", "a.png\x00.html", "\ud800.gif", "C:\\a.jpg"]


def multipart(fields: dict[str, str], *, filename: bytes, content: bytes) -> bytes:
    """A form body with the file's name exactly as given (Django's test client would
    tidy it): what a hostile client can send."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="avatar"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: image/png\r\n\r\n'
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


@FUZZ
@given(
    content=st.binary(max_size=1024) | mutated_images(),
    name=st.one_of(
        st.sampled_from(NAMES),
        st.text(min_size=1, max_size=300),
        st.binary(max_size=300),  # mostly not UTF-8: Django drops such a file unread
    ).map(lambda name: name if isinstance(name, bytes) else name.encode("utf-8", "surrogatepass")),
)
def test_any_upload_is_a_form_error_never_a_server_error(client, alice, media_root, content, name):
    client.force_login(alice)
    body = multipart(
        {"display_name": alice.display_name, "bio": ""}, filename=name, content=content
    )
    response = client.post(
        reverse("accounts:profile_edit"),
        body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )

    assert response.status_code < 500, response.status_code
    hypothesis.event(f"status {response.status_code}")
    alice.refresh_from_db()
    if response.status_code == 200:  # refused: the reason is shown, nothing changed
        assert 'role="alert"' in response.content.decode()
        assert not alice.avatar
    elif alice.avatar:  # a file with no usable name never reaches the form; else an image
        assert decoded(alice.avatar.read()).size == (128, 128)


# --- the API -----------------------------------------------------------------------------


def test_the_users_api_gives_avatar_urls(api_client, alice, bob_with_avatar):
    users = api_client(alice).get("/api/users", q="").json()["users"]
    by_name = {user["username"]: user for user in users}
    assert by_name["alice"]["avatar_url"] is None
    assert by_name["bob"]["avatar_url"] == avatars.url(bob_with_avatar)


def test_me_gives_my_avatar_url(api_client, bob_with_avatar):
    me = api_client(bob_with_avatar).get("/api/me").json()
    assert me == {
        "username": "bob",
        "display_name": "Bob",
        "avatar_url": avatars.url(bob_with_avatar),
    }
