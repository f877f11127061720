from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections

from rooms import access, selectors, services
from rooms.errors import Forbidden, InvalidInput, RateLimitedError, RoomNotFound
from rooms.models import Membership, Message, Room
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_posting_stores_gapless_seqs_starting_at_one(room, alice):
    seqs = [services.message_post(room=room, author=alice, body=f"m{i}")[0].seq for i in range(3)]
    assert seqs == [1, 2, 3]
    room.refresh_from_db()
    assert room.last_seq == 3


def test_body_is_trimmed_and_stored_as_text(room, alice):
    message, _ = services.message_post(room=room, author=alice, body="  <b>hi</b>\r\n  ")
    assert message.body == "<b>hi</b>"


@pytest.mark.parametrize(
    "body, reason",
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * 4001, "limit is 4000"),
        ("bell\x07", "control characters"),
        (42, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason_and_nothing_stored(room, alice, body, reason):
    with pytest.raises(InvalidInput, match=reason):
        services.message_post(room=room, author=alice, body=body)
    assert Message.objects.count() == 0


def test_tabs_and_newlines_are_kept(room, alice):
    message, _ = services.message_post(room=room, author=alice, body="a\tb\nc")
    assert message.body == "a\tb\nc"


def test_repeated_client_id_returns_the_original_once(
    room, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        first, created = services.message_post(room=room, author=alice, body="hi", client_id="c1")
        again, created_again = services.message_post(
            room=room, author=alice, body="different", client_id="c1"
        )
    assert created and not created_again
    assert again.pk == first.pk and again.body == "hi"
    assert Message.objects.count() == 1
    assert len(callbacks) == 1  # one broadcast, for the first only


def test_same_client_id_from_another_author_is_another_message(room, alice, bob):
    services.message_post(room=room, author=alice, body="a", client_id="same")
    services.message_post(room=room, author=bob, body="b", client_id="same")
    assert Message.objects.count() == 2


def test_broadcast_is_sent_only_after_commit(room, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.message_post(room=room, author=alice, body="hi")
    assert len(callbacks) == 1


def test_posting_to_a_public_room_makes_the_author_a_member(room, bob):
    services.message_post(room=room, author=bob, body="hello")
    assert Membership.objects.filter(room=room, user=bob).exists()


def test_non_member_cannot_post_to_a_private_room(alice, bob, mallory):
    conference = services.room_create(
        creator=alice, name="Secret", kind="conference", members=["bob", "mallory"]
    )
    Membership.objects.filter(room=conference, user=mallory).delete()
    with pytest.raises(RoomNotFound):
        services.message_post(room=conference, author=mallory, body="let me in")
    assert Message.objects.filter(room=conference).count() == 0


def test_posting_to_an_archived_room_is_refused(room, alice):
    Room.objects.filter(pk=room.pk).update(is_archived=True)
    room.refresh_from_db()
    with pytest.raises(Forbidden):
        services.message_post(room=room, author=alice, body="hi")


def test_posting_is_rate_limited_per_user(room, alice, bob, settings):
    settings.CHAT_SEND_BURST = 3
    for i in range(3):
        services.message_post(room=room, author=alice, body=f"m{i}")
    with pytest.raises(RateLimitedError) as excinfo:
        services.message_post(room=room, author=alice, body="one too many")
    assert excinfo.value.retry_after >= 1
    services.message_post(room=room, author=bob, body="bob is unaffected")
    assert Message.objects.filter(author=alice).count() == 3


def test_room_creator_is_owner(alice):
    room = services.room_create(creator=alice, name="  Lots   of  space ")
    assert room.name == "Lots of space"
    assert Membership.objects.get(room=room, user=alice).role == Membership.Role.OWNER


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, None])
def test_room_names_must_be_1_to_80_characters(alice, name):
    with pytest.raises(InvalidInput):
        services.room_create(creator=alice, name=name)
    assert Room.objects.count() == 0


def test_history_pages_are_oldest_first_with_has_more(room, alice, settings):
    settings.CHAT_SEND_BURST = 1000
    for i in range(1, 11):
        services.message_post(room=room, author=alice, body=f"m{i}")
    newest, more = selectors.messages_page(room=room, limit=3)
    assert [m.seq for m in newest] == [8, 9, 10] and more
    before, more = selectors.messages_page(room=room, before=3, limit=5)
    assert [m.seq for m in before] == [1, 2] and not more
    after, more = selectors.messages_page(room=room, after=7, limit=2)
    assert [m.seq for m in after] == [8, 9] and more
    after, more = selectors.messages_page(room=room, after=8, limit=2)
    assert [m.seq for m in after] == [9, 10] and not more


def test_history_page_costs_one_query(room, alice, bob, django_assert_num_queries):
    services.message_post(room=room, author=alice, body="a")
    services.message_post(room=room, author=bob, body="b")
    with django_assert_num_queries(1):
        rows, _ = selectors.messages_page(room=room)
        assert [m.author.username for m in rows] == ["alice", "bob"]


def test_private_rooms_are_invisible_to_non_members(alice, bob, carol, mallory):
    conference = services.room_create(
        creator=alice, name="Plans", kind="conference", members=["bob", "carol"]
    )
    with pytest.raises(RoomNotFound) as hidden:
        access.room_get_visible(user=mallory, room_id=conference.id)
    with pytest.raises(RoomNotFound) as missing:
        access.room_get_visible(user=mallory, room_id=999999)
    assert hidden.value.detail == missing.value.detail
    assert conference not in selectors.rooms_for_user(user=mallory)


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_from_many_threads_keep_seqs_gapless_and_unique(settings):
    settings.CHAT_SEND_BURST = 10_000
    owner = UserFactory(username="owner")
    room = services.room_create(creator=owner, name="Busy")
    writers = [UserFactory(username=f"writer{i}") for i in range(8)]
    errors: list[BaseException] = []

    def write(user):
        try:
            for i in range(15):
                services.message_post(room=room, author=user, body=f"{user.username} {i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=write, args=(u,)) for u in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 8 * 15 + 1))
    room.refresh_from_db()
    assert room.last_seq == 120


def test_a_room_named_by_a_client_is_an_exact_slug_first_then_a_unique_name(alice):
    first = services.room_create(creator=alice, name="devroom")
    # Same name, another slug: from before open public rooms' names were unique.
    second = RoomFactory(name="devroom", slug="devroom-2", creator=alice)
    assert first.slug == "devroom" and second.slug != "devroom"
    assert selectors.public_room_id_by_name(name="devroom") == first.id
    assert selectors.public_room_id_by_name(name=second.slug) == second.id
    with pytest.raises(InvalidInput):
        selectors.public_room_id_by_name(name="DEVROOM")  # no exact slug: two names match
