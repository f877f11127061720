"""Look-alike names (accounts/names.py): a new username may not be confusable (by TR39
skeleton, case folded) with an existing one, and a display name (sign-up, profile page,
/nick) may not copy another user's username or display name. Stored names stay as
typed (after NFKC), so existing data and `create_user` keep working."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from accounts import names, services
from rooms.errors import InvalidInput
from tests.conftest import connect, join, receive_type
from tests.factories import UserFactory

User = get_user_model()
STRONG = "plum-tangerine-93-walrus"

# Each of these reads as "alice" to someone who glances at it.
ALICE_LOOKALIKES = [
    "\u0430lice",  # Cyrillic а
    "al\u0131ce",  # dotless ı
    "ALICE",
    "Alice",
    "aIice",  # capital I for l
    "AIice",
    "a1ice",
    "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth, NFKC makes it "alice"
    "\u13aalice",  # Cherokee Ꭺ
]


def sign_up(client, username: str, display_name: str = ""):
    return client.post(
        "/accounts/signup/",
        {
            "username": username,
            "display_name": display_name,
            "password1": STRONG,
            "password2": STRONG,
        },
    )


def errors_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- the keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("lookalike", ALICE_LOOKALIKES)
def test_a_lookalike_shares_a_key_with_the_name_it_imitates(lookalike):
    alice = names.keys("alice")
    assert set(names.keys(lookalike)) & set(alice)


@pytest.mark.parametrize(
    ("one", "other"),
    [("ali", "all"), ("zoe", "zo\u00eb"), ("bob", "rob"), ("alice", "alice2"), ("al ice", "alice")],
)
def test_different_names_have_different_keys(one, other):
    assert not set(names.keys(one)) & set(names.keys(other))


def test_a_blank_name_has_no_key():
    assert names.keys("") == ("", "") == names.keys("   ")


# --- sign-up -----------------------------------------------------------------------------


@pytest.mark.parametrize("lookalike", ALICE_LOOKALIKES)
def test_signing_up_as_a_lookalike_of_an_existing_username_is_refused(client, alice, lookalike):
    html = errors_of(sign_up(client, lookalike))
    # The same name in another case (after NFKC) gets Django's own sentence.
    assert "too like an existing username" in html or "already exists" in html
    assert list(User.objects.values_list("username", flat=True)) == ["alice"]


def test_the_signup_service_refuses_a_lookalike_too(alice):
    with pytest.raises(InvalidInput, match="too like an existing username"):
        services.user_signup(username="\u0430lice", password=STRONG)
    assert User.objects.count() == 1


def test_a_distinct_username_signs_up_and_is_stored_as_typed(client, alice):
    assert sign_up(client, "Alicia").status_code == 302
    assert User.objects.filter(username="Alicia").exists()  # case kept


def test_a_username_is_stored_after_nfkc(client, db):
    assert sign_up(client, "\uff3a\uff45\uff44").status_code == 302  # fullwidth "Zed"
    assert User.objects.filter(username="Zed").exists()


def test_create_user_still_makes_any_user_and_keeps_its_keys(db):
    # The contract's door: the ORM makes what it is asked to (old data looks like this).
    alice = User.objects.create_user(username="alice", password=STRONG)
    twin = User.objects.create_user(username="\u0430lice", password=STRONG)
    assert twin.username == "\u0430lice"
    assert alice.username_key == twin.username_key != ""
    # ... but nobody can sign up as a third.
    with pytest.raises(InvalidInput):
        services.user_signup(username="ALICE", password=STRONG)


def test_keys_follow_a_rename_saved_with_update_fields(alice):
    alice.username = "alicia"
    alice.save(update_fields=["username"])
    alice.refresh_from_db()
    assert alice.username_key == names.keys("alicia")[0]
    assert services.user_signup(username="alice", password=STRONG).username == "alice"


def test_signing_up_with_a_display_name_copying_someone_else_is_refused(client, alice):
    html = errors_of(sign_up(client, "newbie", display_name="\u0410lice"))  # Cyrillic А
    assert "too like another user" in html
    assert not User.objects.filter(username="newbie").exists()


# --- display names ----------------------------------------------------------------------


@pytest.mark.parametrize("copy", ["alice", "Alice", "ALICE", "\u0430lice", "Carol", "c\u0430rol"])
def test_the_profile_page_refuses_a_display_name_copying_another_user(
    client, alice, bob, carol, copy
):
    client.force_login(bob)
    html = errors_of(client.post("/accounts/profile/", {"display_name": copy, "bio": ""}))
    assert "too like another user" in html
    bob.refresh_from_db()
    assert bob.display_name == "Bob"


def test_a_display_name_may_be_any_case_of_my_own_username(client, alice, bob):
    client.force_login(bob)
    response = client.post("/accounts/profile/", {"display_name": "BOB", "bio": ""})
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.display_name == "BOB"
    assert bob.display_name_key == names.keys("BOB")[0]


def test_a_display_name_already_held_is_kept_when_only_the_bio_changes(client, alice):
    # Old data: mallory's display name copies alice's, from before the rule.
    mallory = UserFactory(username="mallory", display_name="Alice")
    client.force_login(mallory)
    response = client.post("/accounts/profile/", {"display_name": "Alice", "bio": "hi"})
    assert response.status_code == 302
    mallory.refresh_from_db()
    assert (mallory.display_name, mallory.bio) == ("Alice", "hi")


def test_the_profile_service_refuses_a_copied_display_name(alice, bob):
    with pytest.raises(InvalidInput, match="too like another user"):
        services.profile_update(user=bob, display_name="\u0430lice", bio="")
    bob.refresh_from_db()
    assert bob.display_name == "Bob"


def test_display_names_are_otherwise_free_text(alice, bob):
    services.profile_update(user=bob, display_name="Bob — the builder 🛠", bio="")
    bob.refresh_from_db()
    assert bob.display_name == "Bob — the builder 🛠"


# --- /nick ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_nick_refuses_to_copy_another_users_name(room, alice, bob):
    b = await connect(bob)
    await join(b, room.id)
    await b.send_json_to(
        {"type": "send", "room": room.id, "body": "/nick \u0410lice", "client_id": "n"}
    )
    notice = await receive_type(b, "notice")
    assert notice["text"].startswith("/nick: ") and "too like another user" in notice["text"]
    await b.disconnect()
    assert (await database_sync_to_async(User.objects.get)(pk=bob.pk)).display_name == "Bob"
