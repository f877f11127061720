"""A message takes at most CHAT_REACTIONS_PER_MESSAGE distinct emoji, at every door: the
API answers 400 with the reason, nothing is stored, and no socket hears of it."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from rooms import changes, services
from rooms.errors import InvalidInput
from rooms.models import Message, Reaction, Room
from tests.conftest import connect, join, nothing_more, receive_type


@pytest.mark.django_db
def test_the_api_refuses_one_distinct_reaction_too_many_with_the_reason(
    api_client, room, alice, bob, settings
):
    settings.CHAT_REACTIONS_PER_MESSAGE = 2
    message, _ = services.message_post(room=room, author=alice, body="hi")
    url = f"/api/messages/{message.id}/reactions"
    for emoji in ("👍", "🎉"):
        assert api_client(bob).post(url, {"emoji": emoji, "on": True}).status_code == 200
    refused = api_client(bob).post(url, {"emoji": "🚀", "on": True})
    assert refused.status_code == 400
    assert refused.json() == {"detail": "A message takes at most 2 different reactions."}
    assert set(Message.objects.get(pk=message.pk).reactions) == {"👍", "🎉"}
    assert Reaction.objects.filter(message=message).count() == 2
    # Joining an emoji already there, and taking one back, still work at the bound.
    assert api_client(alice).post(url, {"emoji": "🎉", "on": True}).status_code == 200
    assert api_client(bob).post(url, {"emoji": "👍", "on": False}).status_code == 200
    assert api_client(bob).post(url, {"emoji": "🚀", "on": True}).status_code == 200


@pytest.mark.django_db
def test_the_bound_defaults_to_twenty(settings):
    from chatsite import settings as site_settings

    assert site_settings.CHAT_REACTIONS_PER_MESSAGE == 20


@pytest.mark.django_db(transaction=True)
async def test_a_refused_reaction_reaches_no_socket(alice, bob, settings):
    settings.CHAT_REACTIONS_PER_MESSAGE = 1
    room = await database_sync_to_async(services.room_create)(
        creator=alice, name="Lobby", kind=Room.Kind.PUBLIC
    )
    message, _ = await database_sync_to_async(services.message_post)(
        room=room, author=alice, body="react"
    )
    watcher = await connect(alice)
    await join(watcher, room.id)
    await database_sync_to_async(services.room_join)(room=room, user=bob)
    message = await database_sync_to_async(changes.reaction_set)(
        message=message, by=bob, emoji="👍", on=True
    )
    updated = await receive_type(watcher, "message_updated")
    assert updated["message"]["reactions"] == {"👍": ["bob"]}
    with pytest.raises(InvalidInput, match="at most 1 different reactions"):
        await database_sync_to_async(changes.reaction_set)(
            message=message, by=bob, emoji="🎉", on=True
        )
    assert await nothing_more(watcher)
    await watcher.disconnect()
