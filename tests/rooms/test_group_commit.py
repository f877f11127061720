"""services.messages_post: an author's drafts stored together (a group commit).

A socket hands over every send waiting at that moment (rooms.realtime.send_queue);
these tests pin what a batch must keep of message_post's rules: each draft its own
outcome, in order; one transaction and the same statements as one message; a bad
draft never takes the others with it; repeats answered with their originals."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rooms import access, moderation, services
from rooms.errors import InvalidInput, Muted, RateLimitedError
from rooms.models import Message
from rooms.services import Draft

pytestmark = pytest.mark.django_db


def _post(room, author, drafts):
    return services.messages_post(room=room, author=author, drafts=drafts)


def _statements(room, author, drafts) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        outcomes = _post(room, author, drafts)
    assert all(isinstance(o, tuple) and o[1] for o in outcomes), outcomes
    return [q["sql"].split()[0].upper() for q in queries.captured_queries]


def test_a_batch_is_stored_in_order_with_consecutive_seqs(room, alice):
    services.room_join(room=room, user=alice)
    drafts = [Draft(body=f"m{i}", client_id=f"c{i}") for i in range(5)]
    outcomes = _post(room, alice, drafts)
    assert [(m.body, m.seq, created) for m, created in outcomes] == [
        (f"m{i}", i + 1, True) for i in range(5)
    ]
    assert list(Message.objects.order_by("seq").values_list("body", "rev")) == [
        (f"m{i}", i + 1) for i in range(5)
    ]
    room.refresh_from_db()
    assert (room.last_seq, room.last_rev) == (5, 5)
    membership = access.room_and_membership(user=alice, room_id=room.pk)[1]
    assert membership.last_read_seq == 5  # your own messages are read by you


def test_ten_drafts_cost_the_statements_of_one(room, alice):
    services.room_join(room=room, user=alice)
    one = _statements(room, alice, [Draft(body="first")])
    ten = _statements(room, alice, [Draft(body=f"m{i}", client_id=f"c{i}") for i in range(10)])
    assert ten == one, (one, ten)
    assert Message.objects.count() == 11


def test_a_bad_draft_is_refused_alone(room, alice):
    drafts = [Draft(body="a"), Draft(body=""), Draft(body=7), Draft(body="b", client_id="x" * 65)]
    drafts.append(Draft(body="c"))
    outcomes = _post(room, alice, drafts)
    assert isinstance(outcomes[1], InvalidInput) and isinstance(outcomes[2], InvalidInput)
    assert isinstance(outcomes[3], InvalidInput)
    assert [o[0].body for o in (outcomes[0], outcomes[4])] == ["a", "c"]
    assert list(Message.objects.order_by("seq").values_list("body", flat=True)) == ["a", "c"]


def test_a_draft_failing_inside_the_transaction_falls_back_to_one_by_one(room, alice):
    """reply_to pointing past the draft's own seq is only known once seqs are taken:
    the batch rolls back and each draft is stored alone, the bad one refused."""
    outcomes = _post(
        room,
        alice,
        [Draft(body="one"), Draft(body="reply to one", reply_to=1), Draft(body="bad", reply_to=9)],
    )
    assert isinstance(outcomes[2], InvalidInput)
    assert [(o[0].seq, o[0].reply_to_seq) for o in outcomes[:2]] == [(1, None), (2, 1)]
    parent = Message.objects.get(room=room, seq=1)
    assert (parent.reply_count, parent.last_reply_seq) == (1, 2)
    room.refresh_from_db()
    assert room.last_seq == 2  # the rolled-back batch left no seq behind


def test_a_reply_to_an_earlier_draft_of_the_same_batch_counts_on_it(room, alice):
    outcomes = _post(room, alice, [Draft(body="q"), Draft(body="a1", reply_to=1), Draft(body="x")])
    assert all(isinstance(o, tuple) for o in outcomes)
    parent = Message.objects.get(room=room, seq=1)
    assert parent.reply_count == 1
    # revs: q=1, a1=2, q's new count=3, x=4
    assert list(Message.objects.order_by("seq").values_list("seq", "rev")) == [
        (1, 3),
        (2, 2),
        (3, 4),
    ]


def test_repeats_get_their_originals_once(room, alice):
    first, _ = services.message_post(room=room, author=alice, body="stored", client_id="old")
    outcomes = _post(
        room,
        alice,
        [
            Draft(body="again", client_id="old"),
            Draft(body="new", client_id="new"),
            Draft(body="new again", client_id="new"),
        ],
    )
    assert outcomes[0] == (first, False)
    new, created = outcomes[1]
    assert created and new.body == "new"
    assert outcomes[2][0].pk == new.pk and outcomes[2][1] is False
    assert Message.objects.count() == 2


def test_a_rate_limited_repeat_still_gets_its_original(room, alice, settings):
    settings.CHAT_SEND_BURST = 2
    outcomes = _post(room, alice, [Draft(body=f"m{i}", client_id=f"c{i}") for i in range(3)])
    assert isinstance(outcomes[2], RateLimitedError)
    again = _post(room, alice, [Draft(body="m0", client_id="c0"), Draft(body="m3")])
    assert again[0] == (outcomes[0][0], False)  # refused by the bucket, answered anyway
    assert isinstance(again[1], RateLimitedError)
    assert Message.objects.count() == 2


def test_a_muted_author_is_refused_every_draft_but_repeats(room, alice, bob):
    services.room_join(room=room, user=bob)
    original, _ = services.message_post(room=room, author=bob, body="before", client_id="b1")
    moderation.member_mute(room=room, by=alice, username="bob", minutes=5)
    outcomes = _post(room, bob, [Draft(body="x", client_id="b1"), Draft(body="y"), Draft(body="z")])
    assert outcomes[0] == (original, False)
    assert all(isinstance(o, Muted) for o in outcomes[1:])
    assert Message.objects.filter(author=bob).count() == 1


def test_message_post_is_a_batch_of_one(room, alice):
    """The single post raises what a batch would answer."""
    with pytest.raises(InvalidInput):
        services.message_post(room=room, author=alice, body="x", reply_to=5)
    message, created = services.message_post(room=room, author=alice, body="x")
    assert created and message.seq == 1
