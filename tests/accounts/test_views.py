"""The account pages, and the room pages' accessible names, as a browser sees them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import ApiToken
from rooms import services as room_services
from rooms.models import Room
from tests.conftest import PASSWORD
from tests.factories import UserFactory

User = get_user_model()
STRONG = "plum-tangerine-93-walrus"


class Page(HTMLParser):
    """Labels, controls and roles of a page: enough to check accessible names."""

    def __init__(self, html: str):
        super().__init__()
        self.labels: dict[str, str] = {}  # label text -> the id it is for
        self.controls: dict[str, dict] = {}  # id -> attributes of input/textarea/select
        self.buttons: list[str] = []
        self.links: list[str] = []
        self.roles: list[str] = []
        self.alerts: list[str] = []
        self._open: list[tuple[str, dict, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("role"):
            self.roles.append(attrs["role"])
        if tag in ("input", "textarea", "select") and attrs.get("id"):
            self.controls[attrs["id"]] = {"tag": tag, **attrs}
        if tag in ("label", "button", "a") or attrs.get("role") == "alert":
            self._open.append((tag, attrs, []))

    def handle_data(self, data):
        for _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            open_tag, attrs, text = self._open[index]
            if open_tag != tag:
                continue
            del self._open[index]
            name = " ".join("".join(text).split())
            if attrs.get("role") == "alert":
                self.alerts.append(name)
            if tag == "label":
                self.labels[name] = attrs.get("for", "")
            elif tag == "button":
                self.buttons.append(attrs.get("aria-label") or name)
            elif tag == "a":
                self.links.append(name)
            break

    def control_labelled(self, text: str) -> dict:
        assert text in self.labels, f"no label {text!r} in {sorted(self.labels)}"
        control = self.controls.get(self.labels[text])
        assert control is not None, f"label {text!r} points at no control"
        return control


def page(response) -> Page:
    assert response.status_code == 200, response.status_code
    return Page(response.content.decode())


def field_errors(html: str, field_id: str) -> list[str]:
    """The errors shown inside the field's own block (next to its control)."""
    blocks = html.split('<div class="field">')[1:]
    for block in blocks:
        if f'id="{field_id}"' in block:
            return re.findall(r'<p class="error" role="alert">(.*?)</p>', block, flags=re.S)
    raise AssertionError(f"no field {field_id}")


def logged_in_user(client):
    return client.get(reverse("rooms:list")).wsgi_request.user


# --- sign-up -----------------------------------------------------------------------------


def test_the_signup_page_has_the_labelled_fields(client, db):
    signup = page(client.get("/accounts/signup/"))
    assert signup.control_labelled("Username")["name"] == "username"
    assert signup.control_labelled("Password")["type"] == "password"
    assert signup.control_labelled("Password confirmation")["type"] == "password"
    assert "Sign up" in signup.buttons


def test_signing_up_creates_the_user_and_logs_them_in(client, db):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newbie",
            "display_name": "New Bie",
            "password1": STRONG,
            "password2": STRONG,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("rooms:list")
    user = User.objects.get(username="newbie")
    assert user.display_name == "New Bie"
    assert user.check_password(STRONG)
    assert logged_in_user(client) == user


def test_signing_up_needs_no_display_name(client, db):
    response = client.post(
        "/accounts/signup/", {"username": "plain", "password1": STRONG, "password2": STRONG}
    )
    assert response.status_code == 302
    assert User.objects.get(username="plain").shown_name == "plain"


@pytest.mark.parametrize(
    ("password1", "password2", "field"),
    [
        ("123", "123", "id_password2"),
        ("password", "password", "id_password2"),
        ("newbie99", "newbie99", "id_password2"),
        (STRONG, STRONG + "x", "id_password2"),
    ],
    ids=["short", "common", "like-username", "mismatch"],
)
def test_signup_shows_password_errors_in_place(client, db, password1, password2, field):
    response = client.post(
        "/accounts/signup/",
        {"username": "newbie", "password1": password1, "password2": password2},
    )
    assert response.status_code == 200
    assert field_errors(response.content.decode(), field)
    assert not User.objects.filter(username="newbie").exists()
    assert not logged_in_user(client).is_authenticated


def test_signup_refuses_a_taken_username_in_any_case(client, alice):
    for name in ("alice", "ALICE"):
        response = client.post(
            "/accounts/signup/", {"username": name, "password1": STRONG, "password2": STRONG}
        )
        assert response.status_code == 200
        assert field_errors(response.content.decode(), "id_username")
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_signup_refuses_a_missing_username(client, db):
    response = client.post(
        "/accounts/signup/", {"username": "", "password1": STRONG, "password2": STRONG}
    )
    assert field_errors(response.content.decode(), "id_username")
    assert User.objects.count() == 0


def test_the_signup_page_sends_a_signed_in_user_to_the_rooms(client, alice):
    client.force_login(alice)
    response = client.get("/accounts/signup/")
    assert response.status_code == 302
    assert response["Location"] == reverse("rooms:list")


# --- log-in and log-out -------------------------------------------------------------------


def test_the_login_page_has_the_labelled_fields(client, db):
    login = page(client.get("/accounts/login/"))
    assert login.control_labelled("Username")["name"] == "username"
    assert login.control_labelled("Password")["type"] == "password"
    assert "Log in" in login.buttons


def test_logging_in_with_the_right_password(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert logged_in_user(client) == alice


def test_logging_in_follows_next(client, alice, room):
    target = reverse("rooms:detail", args=[room.id])
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD, "next": target}
    )
    assert response["Location"] == target


def test_logging_in_with_the_wrong_password_shows_an_error(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert page(response).alerts
    assert not logged_in_user(client).is_authenticated


def test_the_login_form_is_throttled_after_repeated_failures(client, alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert any("Too many failed log-ins" in alert for alert in page(response).alerts)
    assert not logged_in_user(client).is_authenticated


def test_the_login_form_throttle_is_shared_with_the_token_endpoint(client, alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post(
            "/api/token", {"username": "alice", "password": "x"}, content_type="application/json"
        )
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert not logged_in_user(client).is_authenticated
    assert any("Too many" in alert for alert in page(response).alerts)


def test_logging_out(client, alice):
    client.force_login(alice)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert not logged_in_user(client).is_authenticated


def test_logging_out_needs_a_post(client, alice):
    client.force_login(alice)
    assert client.get("/accounts/logout/").status_code == 405
    assert logged_in_user(client) == alice


@pytest.mark.parametrize(
    "path",
    ["/", "/rooms/new/", "/accounts/profile/", "/accounts/users/", "/accounts/users/alice/"],
)
def test_pages_send_anonymous_visitors_to_log_in(client, alice, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- profile -------------------------------------------------------------------------------------


def test_a_profile_shows_display_name_and_bio(client, alice, bob):
    bob.bio = "Likes tea."
    bob.save()
    client.force_login(alice)
    html = client.get("/accounts/users/bob/").content.decode()
    assert "Bob" in html
    assert "@bob" in html
    assert "Likes tea." in html
    assert "Edit profile" not in html


def test_my_own_profile_links_to_editing(client, alice):
    client.force_login(alice)
    assert "Edit profile" in page(client.get("/accounts/users/alice/")).links


def test_a_missing_or_inactive_profile_is_404(client, alice):
    UserFactory(username="gone", is_active=False)
    client.force_login(alice)
    assert client.get("/accounts/users/nobody/").status_code == 404
    assert client.get("/accounts/users/gone/").status_code == 404


def test_editing_the_profile_saves_display_name_and_bio(client, alice):
    client.force_login(alice)
    edit = page(client.get("/accounts/profile/"))
    assert edit.control_labelled("Display name")["value"] == "Alice"
    assert edit.control_labelled("Bio")["tag"] == "textarea"
    response = client.post(
        "/accounts/profile/", {"display_name": "  Alice A.  ", "bio": "Hello there."}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:profile", args=["alice"])
    alice.refresh_from_db()
    assert (alice.display_name, alice.bio) == ("Alice A.", "Hello there.")
    html = client.get(response["Location"]).content.decode()
    assert "Alice A." in html and "Hello there." in html


def test_editing_the_profile_refuses_a_too_long_display_name(client, alice):
    client.force_login(alice)
    response = client.post("/accounts/profile/", {"display_name": "x" * 81, "bio": ""})
    assert response.status_code == 200
    assert field_errors(response.content.decode(), "id_display_name")
    alice.refresh_from_db()
    assert alice.display_name == "Alice"


# --- user search -----------------------------------------------------------------------------------


def test_the_navigation_has_a_user_search_box(client, alice):
    client.force_login(alice)
    nav = page(client.get("/"))
    assert nav.control_labelled("Search users")["name"] == "q"


def test_user_search_finds_by_username_and_display_name(client, alice, bob, carol):
    UserFactory(username="zed", display_name="Bobby Zed")
    client.force_login(alice)
    html = client.get("/accounts/users/", {"q": "bob"}).content.decode()
    assert "@bob" in html and "@zed" in html
    assert "@carol" not in html


def test_user_search_is_paginated(client, alice):
    for i in range(25):
        UserFactory(username=f"member{i:02d}")
    client.force_login(alice)
    first = client.get("/accounts/users/", {"q": "member"})
    html = first.content.decode()
    assert html.count("@member") == 20
    assert "Page 1 of 2" in html
    assert "Next" in page(first).links
    second = client.get("/accounts/users/", {"q": "member", "page": 2}).content.decode()
    assert second.count("@member") == 5
    assert "@member24" in second


def test_user_search_with_a_bad_page_number_still_answers(client, alice):
    client.force_login(alice)
    assert client.get("/accounts/users/", {"page": "abc"}).status_code == 200
    assert client.get("/accounts/users/", {"page": "999"}).status_code == 200


def test_user_search_says_when_nothing_matches(client, alice):
    client.force_login(alice)
    assert "No users found." in client.get("/accounts/users/", {"q": "zzzz"}).content.decode()


# --- API tokens on the profile page -----------------------------------------------------------------


def test_a_token_is_created_and_shown_once(client, alice):
    client.force_login(alice)
    assert page(client.get("/accounts/profile/")).control_labelled("Token name")
    response = client.post("/accounts/tokens/", {"name": "laptop"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:profile_edit")

    shown = client.get("/accounts/profile/").content.decode()
    secret = re.search(r'<code class="token">([^<]+)</code>', shown).group(1)
    assert ApiToken.objects.get(user=alice).name == "laptop"
    api = client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert api.json()["username"] == "alice"

    again = client.get("/accounts/profile/").content.decode()
    assert secret not in again
    assert "laptop" in again


def test_a_token_needs_a_name(client, alice):
    client.force_login(alice)
    client.post("/accounts/tokens/", {"name": ""})
    assert ApiToken.objects.count() == 0


def test_a_token_is_revoked_from_the_profile_page(client, alice):
    client.force_login(alice)
    client.post("/accounts/tokens/", {"name": "old"})
    secret = re.search(
        r'<code class="token">([^<]+)</code>', client.get("/accounts/profile/").content.decode()
    ).group(1)
    token = ApiToken.objects.get(user=alice)
    assert "Revoke old" in page(client.get("/accounts/profile/")).buttons

    response = client.post(f"/accounts/tokens/{token.id}/revoke/")
    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    client.logout()  # so the session cannot stand in for the revoked token
    api = client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401


def test_nobody_can_revoke_someone_elses_token(client, alice, bob):
    client.force_login(alice)
    client.post("/accounts/tokens/", {"name": "alices"})
    token = ApiToken.objects.get(user=alice)
    client.force_login(bob)
    client.post(f"/accounts/tokens/{token.id}/revoke/")
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_token_pages_need_a_post(client, alice):
    client.force_login(alice)
    assert client.get("/accounts/tokens/").status_code == 405
    assert client.get("/accounts/tokens/1/revoke/").status_code == 405


# --- rooms pages ----------------------------------------------------------------------------------------


def test_the_room_list_offers_a_new_room(client, alice, room):
    client.force_login(alice)
    rooms = page(client.get("/"))
    assert "New room" in rooms.links
    assert "General" in rooms.links


def test_the_room_list_shows_only_my_private_rooms(client, alice, bob, mallory):
    direct, _ = room_services.direct_get_or_create(user=alice, username="bob")
    client.force_login(mallory)
    assert f'href="/rooms/{direct.pk}/"' not in client.get("/").content.decode()
    client.force_login(alice)
    assert "Bob" in page(client.get("/")).links  # a 1:1 chat: the other person's name


def test_creating_a_room_through_the_form_opens_it(client, alice):
    client.force_login(alice)
    form = page(client.get("/rooms/new/"))
    assert form.control_labelled("Name")["name"] == "name"
    response = client.post("/rooms/new/", {"name": "Book club", "topic": "Novels"})
    room = Room.objects.get(name="Book club")
    assert response.status_code == 302
    assert response["Location"] == reverse("rooms:detail", args=[room.id])
    assert room.kind == "public"
    assert room.topic == "Novels"


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "bad\x00name"])
def test_the_room_form_refuses_a_bad_name(client, alice, name):
    client.force_login(alice)
    response = client.post("/rooms/new/", {"name": name})
    assert response.status_code == 200
    assert field_errors(response.content.decode(), "id_name")
    assert Room.objects.count() == 0


def test_a_room_page_has_its_message_box_send_button_and_log(client, alice, room):
    client.force_login(alice)
    room_page = page(client.get(f"/rooms/{room.id}/"))
    assert room_page.control_labelled("Message")["tag"] == "textarea"
    assert "Send" in room_page.buttons
    assert "log" in room_page.roles


def test_a_private_room_page_is_404_for_a_non_member(client, alice, bob, mallory):
    direct, _ = room_services.direct_get_or_create(user=alice, username="bob")
    client.force_login(mallory)
    assert client.get(f"/rooms/{direct.id}/").status_code == 404
    assert client.get("/rooms/99999/").status_code == 404
    client.force_login(bob)
    assert client.get(f"/rooms/{direct.id}/").status_code == 200


# --- escaping ----------------------------------------------------------------------------------------------

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def assert_escaped(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_user_text_is_escaped_on_every_page(client, alice, bob):
    bob.display_name = EVIL[:80]
    bob.bio = EVIL
    bob.save()
    evil_room = room_services.room_create(creator=bob, name=EVIL[:80], topic=EVIL)
    client.force_login(alice)
    assert_escaped(client.get("/accounts/users/bob/").content.decode())
    assert_escaped(client.get("/accounts/users/", {"q": "bob"}).content.decode())
    assert_escaped(client.get("/").content.decode())
    assert_escaped(client.get(f"/rooms/{evil_room.id}/").content.decode())


def test_my_own_escaped_name_in_the_navigation_and_search_box(client, alice):
    alice.display_name = "<b>bold</b>"
    alice.save()
    client.force_login(alice)
    html = client.get("/accounts/users/", {"q": '"><script>x</script>'}).content.decode()
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>x</script>" not in html


def test_a_token_name_is_escaped(client, alice):
    client.force_login(alice)
    client.post("/accounts/tokens/", {"name": '"><script>t()</script>'})
    html = client.get("/accounts/profile/").content.decode()
    assert "<script>t()</script>" not in html
