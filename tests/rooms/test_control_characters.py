"""Control characters (other than newline and tab) are refused in every stored string a
user writes, with a clear InvalidInput or form error, by one rule
(rooms.input_checks.refuse_control_characters): room names and topics, display names,
bios, /nick, moderation and report reasons, message bodies. Nothing is stored then."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from accounts import services as account_services
from rooms import moderation, services
from rooms.errors import InvalidInput
from rooms.input_checks import find_control_character, refuse_control_characters
from rooms.models import Membership, Message, ModerationAction, Report, Room, RoomBan
from rooms.realtime import commands
from tests.conftest import connect, join, receive_type

# The terminal attack of the issue: retitle the window, clear it, paint it red.
ESCAPES = "\x1b]0;title\x07\x1b[2J\x1b[31mFAKE"
# Each control character alone; \x1c-\x1f, \x85 and the separators are whitespace to
# str.split(), so they must be refused before any whitespace is collapsed.
CONTROLS = ["\x00", "\x07", "\x1b", "\r", "\x0b", "\x1c", "\x7f", "\x85", "\x9b", "\u2028"]


@pytest.mark.parametrize("character", CONTROLS)
def test_the_rule_refuses_each_control_character_and_names_it(character):
    assert find_control_character(f"a{character}b") == character
    with pytest.raises(
        InvalidInput, match=f"name must not contain control characters.*U\\+{ord(character):04X}"
    ):
        refuse_control_characters(f"a{character}b", field="name")


def test_the_rule_keeps_newlines_tabs_and_ordinary_text():
    text = "line one\n\tline two — ünïcode 👍 \u200f"
    assert find_control_character(text) is None
    assert refuse_control_characters(text, field="text") == text


# --- rooms ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("character", CONTROLS[1:])  # NUL is refused at the doors already
def test_a_room_name_or_topic_with_a_control_character_is_refused(alice, character):
    with pytest.raises(InvalidInput, match="name must not contain control characters"):
        services.room_create(creator=alice, name=f"Den{character}")
    with pytest.raises(InvalidInput, match="topic must not contain control characters"):
        services.room_create(creator=alice, name="Den", topic=f"hi{character}there")
    assert not Room.objects.exists()


@pytest.mark.django_db
def test_renaming_or_setting_a_topic_with_escapes_changes_nothing(room, alice):
    with pytest.raises(InvalidInput, match="topic"):
        services.room_update(room=room, by=alice, topic=ESCAPES)
    room.refresh_from_db()
    assert room.topic == "" and not Message.objects.exists()


@pytest.mark.django_db
def test_the_api_answers_a_control_character_in_a_topic_with_a_400_sentence(api_client, alice):
    response = api_client(alice).post("/api/rooms", {"name": "Den", "topic": ESCAPES})
    assert response.status_code == 400
    assert "topic must not contain control characters" in response.json()["detail"]
    assert not Room.objects.exists()


@pytest.mark.django_db
def test_the_new_room_form_shows_the_refusal(client, alice):
    client.force_login(alice)
    response = client.post("/rooms/new/", {"name": "Den\x1b[2J", "topic": ""})
    assert response.status_code == 200
    assert "name must not contain control characters" in response.content.decode()
    assert not Room.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_slash_topic_with_escapes_is_refused_as_a_notice(room, alice):
    socket = await connect(alice)
    await join(socket, room.id)
    await socket.send_json_to(
        {"type": "send", "room": room.id, "body": f"/topic {ESCAPES}", "client_id": "t"}
    )
    notice = await receive_type(socket, "notice")
    assert notice["text"].startswith("/topic: topic must not contain control characters")
    await socket.disconnect()
    topic = await database_sync_to_async(lambda: Room.objects.get(pk=room.pk).topic)()
    assert topic == ""


# --- people --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("character", CONTROLS[1:])
def test_a_display_name_or_bio_with_a_control_character_is_refused(alice, character):
    with pytest.raises(InvalidInput, match="display name must not contain control characters"):
        account_services.profile_update(user=alice, display_name=f"Al{character}ice", bio="")
    if character != "\r":  # a bio is multi-line text: a carriage return is a newline
        with pytest.raises(InvalidInput, match="bio must not contain control characters"):
            account_services.profile_update(user=alice, display_name="Alice", bio=f"x{character}y")
    alice.refresh_from_db()
    assert (alice.display_name, alice.bio) == ("Alice", "")


@pytest.mark.django_db
def test_a_bio_keeps_its_lines_and_tabs(alice):
    account_services.profile_update(user=alice, display_name="Alice", bio="one\r\n\ttwo")
    alice.refresh_from_db()
    assert alice.bio == "one\n\ttwo"


@pytest.mark.django_db
def test_the_profile_form_shows_the_refusal_beside_each_field(client, alice):
    client.force_login(alice)
    response = client.post("/accounts/profile/", {"display_name": ESCAPES, "bio": "b\x07"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "display name must not contain control characters" in html
    assert "bio must not contain control characters" in html
    alice.refresh_from_db()
    assert (alice.display_name, alice.bio) == ("Alice", "")


@pytest.mark.django_db
def test_signing_up_with_a_control_character_in_the_display_name_is_refused(client, db):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newbie",
            "display_name": "New\x1b[31mBie",
            "password1": "plum-tangerine-93-walrus",
            "password2": "plum-tangerine-93-walrus",
        },
    )
    assert response.status_code == 200
    assert "display name must not contain control characters" in response.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("nick", ["Al\x00ice", "Al\x1bice", ESCAPES])
async def test_nick_with_nul_or_escapes_is_refused_and_nothing_changes(room, alice, nick):
    # The command itself, as the socket and the gateway run it (their edges refuse NUL
    # before it gets here; the service must not rely on that).
    context = commands.Context(user=alice, room=room, client_id=None)
    outcome = await commands.run(context, f"/nick {nick}")
    assert outcome.notice.startswith("/nick: display name must not contain control characters")
    shown = await database_sync_to_async(
        lambda: type(alice).objects.get(pk=alice.pk).display_name
    )()
    assert shown == "Alice"


# --- moderation ----------------------------------------------------------------------------


@pytest.fixture
def members(room, bob, carol):
    for user in (bob, carol):
        services.room_join(room=room, user=user)
    return room


@pytest.mark.django_db
def test_moderation_reasons_with_escapes_are_refused_and_nothing_happens(members, alice, carol):
    with pytest.raises(InvalidInput, match="reason must not contain control characters"):
        moderation.member_mute(room=members, by=alice, username="carol", minutes=5, reason=ESCAPES)
    assert Membership.objects.get(room=members, user=carol).muted_until is None
    with pytest.raises(InvalidInput, match="reason"):
        moderation.member_ban(room=members, by=alice, username="carol", reason=ESCAPES)
    assert not RoomBan.objects.exists()
    assert Membership.objects.filter(room=members, user=carol).exists()
    with pytest.raises(InvalidInput, match="reason"):
        moderation.room_lock(room=members, by=alice, locked=True, reason="\x9b2J")
    members.refresh_from_db()
    assert not members.is_locked
    assert not ModerationAction.objects.exists()


@pytest.mark.django_db
def test_a_report_reason_with_escapes_is_refused(members, alice, carol):
    message, _ = services.message_post(room=members, author=alice, body="hi")
    with pytest.raises(InvalidInput, match="reason must not contain control characters"):
        moderation.message_report(message=message, by=carol, reason=f"spam {ESCAPES}")
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_the_moderation_api_answers_a_bad_reason_with_a_400(api_client, members, carol):
    response = api_client(members.creator).post(
        f"/api/rooms/{members.id}/mute", {"username": "carol", "minutes": 5, "reason": ESCAPES}
    )
    assert response.status_code == 400
    assert "reason must not contain control characters" in response.json()["detail"]
    assert Membership.objects.get(room=members, user=carol).muted_until is None


# --- messages (the rule they always had, now shared) ---------------------------------------


@pytest.mark.django_db
def test_a_message_body_with_escapes_is_refused(room, alice):
    with pytest.raises(InvalidInput, match="body must not contain control characters"):
        services.message_post(room=room, author=alice, body=ESCAPES)
    assert not Message.objects.exists()
