"""Writes besides posting are bounded too: edits, reactions, renames and reports are
rate-limited per user, a message takes a bounded set of real emoji, leaving and
rejoining does not repeat "joined" notices, and blocks hold in conferences."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from rooms import changes, moderation, services
from rooms.errors import Forbidden, InvalidInput, RateLimitedError
from rooms.models import Message, Room
from tests.factories import UserFactory


def test_edits_are_rate_limited(settings, room, alice):
    settings.CHAT_EDITS_PER_MINUTE = 3
    message, _ = services.message_post(room=room, author=alice, body="v0")
    for n in range(3):
        changes.message_edit(message=message, by=alice, body=f"v{n + 1}")
    with pytest.raises(RateLimitedError):
        changes.message_edit(message=message, by=alice, body="v4")
    assert Message.objects.get(pk=message.pk).body == "v3"
    assert message.revisions.count() == 3


def test_reactions_are_rate_limited(settings, room, alice, bob):
    settings.CHAT_REACTIONS_PER_MINUTE = 2
    message, _ = services.message_post(room=room, author=alice, body="hi")
    changes.reaction_set(message=message, by=bob, emoji="👍", on=True)
    changes.reaction_set(message=message, by=bob, emoji="👍", on=False)
    with pytest.raises(RateLimitedError):
        changes.reaction_set(message=message, by=bob, emoji="🎉", on=True)


def test_a_message_takes_a_bounded_set_of_distinct_reactions(settings, room, alice, bob):
    settings.CHAT_REACTIONS_PER_MESSAGE = 3
    message, _ = services.message_post(room=room, author=alice, body="hi")
    for emoji in ("👍", "🎉", "❤️"):
        message = changes.reaction_set(message=message, by=bob, emoji=emoji, on=True)
    with pytest.raises(InvalidInput, match="at most 3 different reactions"):
        changes.reaction_set(message=message, by=bob, emoji="🚀", on=True)
    # An emoji already there can still be added by someone else.
    changes.reaction_set(message=message, by=alice, emoji="👍", on=True)


@pytest.mark.parametrize("value", ["a", "ab", "👍👍", ":)", "\u200d", "x" * 40, "1", 7, None])
def test_a_reaction_must_be_one_emoji(room, alice, value):
    message, _ = services.message_post(room=room, author=alice, body="hi")
    with pytest.raises(InvalidInput):
        changes.reaction_set(message=message, by=alice, emoji=value, on=True)


@pytest.mark.parametrize("value", ["👍", "👨‍👩‍👧", "🇫🇷", "❤️", "👍🏽"])
def test_real_emoji_are_accepted(room, alice, value):
    message, _ = services.message_post(room=room, author=alice, body="hi")
    message = changes.reaction_set(message=message, by=alice, emoji=value, on=True)
    assert value in message.reactions


def test_room_renames_are_rate_limited(settings, alice, bob, carol):
    settings.CHAT_ROOM_UPDATES_PER_HOUR = 2
    room = services.room_create(
        creator=alice, name="c", kind=Room.Kind.CONFERENCE, members=["bob", "carol"]
    )
    services.room_update(room=room, by=bob, name="one")
    services.room_update(room=room, by=bob, name="two")
    with pytest.raises(RateLimitedError):
        services.room_update(room=room, by=bob, name="three")


def test_reports_are_rate_limited(settings, room, alice, bob):
    settings.CHAT_REPORTS_PER_HOUR = 2
    messages = [services.message_post(room=room, author=alice, body=f"m{n}")[0] for n in range(3)]
    moderation.message_report(message=messages[0], by=bob, reason="spam")
    moderation.message_report(message=messages[0], by=bob, reason="again")  # the same report
    moderation.message_report(message=messages[1], by=bob, reason="spam")
    with pytest.raises(RateLimitedError):
        moderation.message_report(message=messages[2], by=bob, reason="spam")


def test_leaving_and_rejoining_announces_once(alice, bob):
    room = services.room_create(creator=alice, name="Lobby", announce_joins=True)
    for _ in range(5):
        services.room_join(room=room, user=bob)
        services.room_leave(room=room, user=bob)
    notices = Message.objects.filter(room=room, kind=Message.Kind.SYSTEM, body="bob joined")
    assert notices.count() == 1


def test_a_conference_cannot_include_someone_who_blocked_the_creator(alice, bob, carol, mallory):
    account_services.user_block(blocker=carol, username="mallory")
    with pytest.raises(Forbidden, match="carol"):
        services.room_create(
            creator=mallory, name=None, kind=Room.Kind.CONFERENCE, members=["carol", "bob"]
        )
    assert not Room.objects.filter(kind=Room.Kind.CONFERENCE).exists()


def test_a_conference_cannot_join_two_people_who_blocked_each_other(alice, bob, carol):
    account_services.user_block(blocker=carol, username="bob")
    with pytest.raises(Forbidden, match="blocked one another"):
        services.room_create(
            creator=alice, name=None, kind=Room.Kind.CONFERENCE, members=["carol", "bob"]
        )


def test_an_invitation_cannot_bring_someone_blocked_by_a_member(alice, bob, carol, mallory):
    room = services.room_create(
        creator=alice, name="c", kind=Room.Kind.CONFERENCE, members=["bob", "carol"]
    )
    account_services.user_block(blocker=carol, username="mallory")
    with pytest.raises(Forbidden):
        services.room_invite(room=room, by=bob, usernames=["mallory"])
    assert not room.memberships.filter(user=mallory).exists()
    dave = UserFactory(username="dave")
    services.room_invite(room=room, by=bob, usernames=[dave.username])  # others still can
