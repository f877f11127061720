"""Edits, deletions and reactions, and clients that were away learning of all of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from rooms import changes, services
from rooms.errors import Forbidden, InvalidInput
from rooms.models import Message
from tests.conftest import connect, join, receive_type

pytestmark = pytest.mark.django_db


def test_editing_keeps_the_previous_version_for_moderators(room, alice, bob):
    message, _ = services.message_post(room=room, author=bob, body="teh typo")
    changes.message_edit(message=message, by=bob, body="the typo")
    message.refresh_from_db()
    assert message.body == "the typo" and message.edited_at is not None
    assert [r.body for r in changes.revisions_for(message=message, user=alice)] == ["teh typo"]
    with pytest.raises(Forbidden):
        changes.revisions_for(message=message, user=bob)


def test_only_the_author_edits_and_only_within_the_window(room, alice, bob, settings):
    message, _ = services.message_post(room=room, author=bob, body="mine")
    with pytest.raises(Forbidden):
        changes.message_edit(message=message, by=alice, body="hacked")
    Message.objects.filter(pk=message.pk).update(created=timezone.now() - timedelta(hours=2))
    message.refresh_from_db()
    with pytest.raises(Forbidden, match="too old"):
        changes.message_edit(message=message, by=bob, body="late")
    with pytest.raises(Forbidden, match="too old"):
        changes.message_delete(message=message, by=bob)
    changes.message_delete(message=message, by=alice)  # the owner moderates any time
    assert Message.objects.get(pk=message.pk).deleted


def test_every_change_takes_the_next_rev(room, alice, bob):
    message, _ = services.message_post(room=room, author=alice, body="hello")
    revs = [message.rev]
    changes.message_edit(message=message, by=alice, body="hello!")
    revs.append(message.rev)
    changes.reaction_set(message=message, by=bob, emoji="👍", on=True)
    revs.append(message.rev)
    changes.message_delete(message=message, by=alice)
    revs.append(message.rev)
    assert revs == sorted(revs) and len(set(revs)) == 4


def test_reactions_count_who_reacted_and_toggle(room, alice, bob, carol):
    message, _ = services.message_post(room=room, author=alice, body="lunch?")
    changes.reaction_set(message=message, by=bob, emoji="👍", on=True)
    changes.reaction_set(message=message, by=carol, emoji="👍", on=True)
    changes.reaction_set(message=message, by=carol, emoji="🎉", on=True)
    rev = message.rev
    changes.reaction_set(message=message, by=carol, emoji="🎉", on=True)  # again: no change
    assert message.rev == rev
    changes.reaction_set(message=message, by=carol, emoji="🎉", on=False)
    message.refresh_from_db()
    assert message.reactions == {"👍": ["bob", "carol"]}


@pytest.mark.parametrize("emoji", ["", "   ", "x" * 33, "a\x00", 5])
def test_bad_emoji_are_refused(room, alice, emoji):
    message, _ = services.message_post(room=room, author=alice, body="hi")
    with pytest.raises(InvalidInput):
        changes.reaction_set(message=message, by=alice, emoji=emoji, on=True)
    message.refresh_from_db()
    assert message.reactions == {}


def test_a_deleted_message_loses_its_body_everywhere(api_client, room, alice):
    message, _ = services.message_post(room=room, author=alice, body="oops secret")
    assert api_client(alice).delete(f"/api/messages/{message.id}").status_code == 204
    page = api_client(alice).get(f"/api/rooms/{room.id}/messages").json()["messages"]
    deleted = [m for m in page if m["id"] == message.id][0]
    assert deleted["deleted"] and deleted["body"] == "" and deleted["seq"] == message.seq
    found = api_client(alice).get("/api/search", q="secret").json()["results"]
    assert found == []


def test_api_changed_after_returns_every_change_once_oldest_first(api_client, room, alice, bob):
    first, _ = services.message_post(room=room, author=alice, body="one")
    second, _ = services.message_post(room=room, author=alice, body="two")
    seen_rev = second.rev
    changes.message_edit(message=first, by=alice, body="one, edited")
    changes.reaction_set(message=second, by=bob, emoji="❤️", on=True)
    third, _ = services.message_post(room=room, author=bob, body="three")
    api = api_client(bob)
    page = api.get(f"/api/rooms/{room.id}/messages", changed_after=seen_rev).json()
    assert [(m["seq"], m["body"]) for m in page["messages"]] == [
        (1, "one, edited"),
        (2, "two"),
        (third.seq, "three"),
    ]
    assert page["messages"][1]["reactions"] == {"❤️": ["bob"]}


def test_reaction_api_and_errors(api_client, room, alice, bob):
    message, _ = services.message_post(room=room, author=alice, body="hi")
    answer = api_client(bob).post(f"/api/messages/{message.id}/reactions", {"emoji": "👍"})
    assert answer.status_code == 200 and answer.json()["reactions"] == {"👍": ["bob"]}
    bad = api_client(bob).post(f"/api/messages/{message.id}/reactions", {"emoji": ""})
    assert bad.status_code == 400 and isinstance(bad.json()["detail"], str)
    assert api_client(bob).get(f"/api/messages/{message.id}/revisions").status_code == 403


@pytest.mark.django_db(transaction=True)
async def test_a_socket_that_slept_through_an_edit_a_deletion_and_a_reaction_learns_all_three(
    room, alice, bob
):
    post = database_sync_to_async(services.message_post)
    edited, _ = await post(room=room, author=alice, body="edit me")
    removed, _ = await post(room=room, author=alice, body="delete me")
    liked, _ = await post(room=room, author=alice, body="like me")
    b = await connect(bob)
    joined = await join(b, room.id)
    last_rev = joined["last_rev"]
    await b.disconnect()  # the tab sleeps

    await database_sync_to_async(changes.message_edit)(message=edited, by=alice, body="edited")
    await database_sync_to_async(changes.message_delete)(message=removed, by=alice)
    await database_sync_to_async(changes.reaction_set)(message=liked, by=alice, emoji="👍", on=True)

    b = await connect(bob)
    rejoined = await join(b, room.id, changed_after=last_rev)
    by_seq = {m["seq"]: m for m in rejoined["messages"]}
    assert len(rejoined["messages"]) == 3
    assert by_seq[edited.seq]["body"] == "edited" and by_seq[edited.seq]["edited_at"]
    assert by_seq[removed.seq]["deleted"] and by_seq[removed.seq]["body"] == ""
    assert by_seq[liked.seq]["reactions"] == {"👍": ["alice"]}
    # Live changes arrive as frames from now on.
    await database_sync_to_async(changes.message_edit)(message=liked, by=alice, body="liked")
    updated = await receive_type(b, "message_updated")
    assert updated["message"]["body"] == "liked"
    await b.disconnect()
