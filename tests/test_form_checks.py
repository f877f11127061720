"""chatsite.forms: every text field of the site's forms refuses NUL and lone
surrogates with a form error ("... cannot be stored"), never a 500 (PostgreSQL
refuses NUL; no UTF-8 exists for a lone surrogate)."""

from __future__ import annotations

import inspect

import pytest
from django import forms

from accounts import forms as account_forms
from accounts.models import User
from chatsite.forms import StorableTextMixin
from rooms import forms as room_forms
from rooms.models import Room

pytestmark = pytest.mark.django_db

FORMS = [
    cls
    for module in (account_forms, room_forms)
    for _, cls in inspect.getmembers(module, inspect.isclass)
    if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__
]


def _make(cls, data):
    if issubclass(cls, account_forms.AuthenticationForm):
        return cls(request=None, data=data)
    return cls(data=data)


def test_every_form_of_the_site_checks_its_text():
    assert {c.__name__ for c in FORMS} >= {
        "SignupForm",
        "ThrottledLoginForm",
        "ProfileForm",
        "TokenForm",
        "RoomForm",
        "ConferenceForm",
        "InviteForm",
    }
    assert [c.__name__ for c in FORMS if not issubclass(c, StorableTextMixin)] == []


@pytest.mark.parametrize("cls", FORMS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b", "\udfff"], ids=["nul", "high", "low"])
def test_each_text_field_refuses_unstorable_text_with_one_error(cls, bad):
    form = _make(cls, {})
    text_fields = [n for n, f in form.fields.items() if isinstance(f, forms.CharField)]
    assert text_fields
    for name in text_fields:
        form = _make(cls, {name: bad})
        assert not form.is_valid()
        errors = form.errors[name]
        label = form.fields[name].label
        what = "a NUL character" if "\x00" in bad else "an unpaired surrogate"
        assert errors == [f"{label} contains {what}, which cannot be stored."], (name, errors)


def test_a_nul_in_the_signup_username_is_a_form_error(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "eve\x00", "password1": "a-long-passphrase-1", "password2": "x"},
    )
    assert response.status_code == 200
    assert "Username contains a NUL character, which cannot be stored." in response.content.decode()
    assert not User.objects.exists()


def test_a_nul_in_the_login_username_is_a_form_error(client, alice):
    response = client.post("/accounts/login/", {"username": "alice\x00", "password": "x"})
    assert response.status_code == 200
    assert "Username contains a NUL character" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_nul_in_the_profile_is_a_form_error_and_nothing_changes(client, alice):
    client.force_login(alice)
    response = client.post("/accounts/profile/", {"display_name": "A\x00", "bio": "b\x00"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Display name contains a NUL character" in page
    assert "Bio contains a NUL character" in page
    alice.refresh_from_db()
    assert alice.display_name == "Alice" and alice.bio == ""


def test_a_nul_in_a_new_room_is_a_form_error_and_no_room_is_made(client, alice):
    client.force_login(alice)
    response = client.post("/rooms/new/", {"name": "Den\x00", "topic": "t"})
    assert response.status_code == 200
    assert "Name contains a NUL character" in response.content.decode()
    response = client.post("/rooms/new-conference/", {"members": "bob\x00 carol"})
    assert response.status_code == 200
    assert "Members contains a NUL character" in response.content.decode()
    assert not Room.objects.exists()


def test_good_text_still_passes(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "zoë",
            "display_name": "Zoë 👍",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="zoë").display_name == "Zoë 👍"
