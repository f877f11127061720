"""The Django admin writes only through the services: rows of the domain are read-only
there, every change is an action calling rooms.moderation (audited in ModerationAction,
announced live after the commit), and no admin page answers a 500."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import reverse

from accounts import services as account_services
from accounts.models import ApiToken, User
from rooms import attachments, moderation, services
from rooms.models import Membership, Message, ModerationAction, Report, Room, RoomBan
from rooms.realtime import events
from tests.factories import RoomFactory, UserFactory


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def world(room, alice, bob, carol, mallory, root):
    """At least one row of every model the admin shows. Returns the public room, where
    carol posted a message that bob reported, and alice banned mallory."""
    for user in (bob, carol, mallory):
        services.room_join(room=room, user=user)
    upload = attachments.upload_create(
        room=room, uploader=carol, upload=SimpleUploadedFile("spam.txt", b"spam")
    )
    message, _ = services.message_post(
        room=room, author=carol, body="spam spam", attachments=[upload.pk]
    )
    moderation.message_report(message=message, by=bob, reason="looks like spam")
    moderation.member_ban(room=room, by=alice, username="mallory", reason="trolling")
    account_services.token_create(user=carol, name="bot")
    Group.objects.create(name="helpers")
    return room


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def act(client, model, action: str, objects, **extra):
    """POST an admin action on the changelist, as its "Go" button does."""
    data = {"action": action, "_selected_action": [o.pk for o in objects], **extra}
    return client.post(url(model, "changelist"), data)


def notes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def offered_actions(response) -> set[str]:
    form = response.context["action_form"]
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


def fresh(obj) -> dict:
    return model_to_dict(type(obj).objects.get(pk=obj.pk))


# --- no page answers 500 -------------------------------------------------------------------


@pytest.mark.django_db
def test_every_admin_page_answers_without_an_error(client, world, root):
    client.force_login(root)
    request = RequestFactory().get("/admin/")
    request.user = root
    assert client.get("/admin/").status_code == 200
    addable, deletable = set(), set()
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"no {label} to show"
        changelist = url(model, "changelist")
        assert client.get(changelist).status_code == 200, label
        assert client.get(changelist, {"q": "a"}).status_code == 200, label
        assert client.get(url(model, "change", obj.pk)).status_code == 200, label
        assert client.get(url(model, "history", obj.pk)).status_code == 200, label
        add = client.get(url(model, "add")).status_code
        delete = client.get(url(model, "delete", obj.pk)).status_code
        if model_admin.has_add_permission(request):
            addable.add(label)
            assert add == 200, label
        else:
            assert add == 403, label
        if model_admin.has_delete_permission(request, obj):
            deletable.add(label)
            assert delete == 200, label
        else:
            assert delete == 403, label
    # Rooms, memberships, messages, bans, reports and tokens are made by the services.
    assert addable == {"auth.Group", "accounts.User"}
    # Tokens are deleted through services.token_revoke; reports carry no state of their own.
    assert deletable == {"auth.Group", "accounts.ApiToken", "rooms.Report"}


@pytest.mark.django_db
def test_adding_a_message_is_refused_instead_of_a_500(client, world, root, carol):
    client.force_login(root)
    response = client.post(
        url(Message, "add"),
        {"room": world.pk, "author": carol.pk, "body": "typed in the admin", "kind": "text"},
    )
    assert response.status_code == 403
    assert list(Message.objects.values_list("body", flat=True)) == ["spam spam"]


@pytest.mark.django_db
def test_a_posted_change_form_of_a_read_only_row_changes_nothing(client, world, root, carol):
    client.force_login(root)
    membership = Membership.objects.get(room=world, user=carol)
    attempts = [
        (
            Room.objects.get(pk=world.pk),
            {
                "name": "Renamed",
                "slug": "renamed",
                "kind": "public",
                "topic": "new topic",
                "is_locked": "on",
                "is_archived": "on",
            },
        ),
        (membership, {"room": world.pk, "user": carol.pk, "role": "moderator", "hidden": "on"}),
        (
            Message.objects.get(),
            {"room": world.pk, "seq": 99, "rev": 99, "body": "rewritten", "kind": "text"},
        ),
        (RoomBan.objects.get(), {"room": world.pk, "user": carol.pk, "reason": "moved"}),
        (ApiToken.objects.get(), {"name": "renamed", "user": root.pk}),
        (ModerationAction.objects.get(), {"action": "unban", "reason": "rewritten"}),
    ]
    audited = ModerationAction.objects.count()
    for obj, data in attempts:
        before = fresh(obj)
        assert client.post(url(type(obj), "change", obj.pk), data).status_code == 403
        assert fresh(obj) == before, type(obj)
    assert ModerationAction.objects.count() == audited


@pytest.mark.django_db
def test_rows_are_not_hard_deleted_around_the_services(client, world, root, carol):
    client.force_login(root)
    rows = [
        Room.objects.get(pk=world.pk),
        Membership.objects.get(room=world, user=carol),
        Message.objects.get(),
        RoomBan.objects.get(),
        ModerationAction.objects.get(),
        carol,
    ]
    for obj in rows:
        model = type(obj)
        assert client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
        page = client.get(url(model, "changelist"))
        assert "delete_selected" not in offered_actions(page), model
        act(client, model, "delete_selected", [obj], post="yes")
        assert model.objects.filter(pk=obj.pk).exists(), model
    assert not Message.objects.get().deleted


@pytest.mark.django_db
def test_the_user_form_edits_names_and_flags_but_not_is_active(client, world, root, carol):
    client.force_login(root)
    change = url(User, "change", carol.pk)
    page = client.get(change)
    assert page.status_code == 200
    assert b'name="is_active"' not in page.content and b'name="first_name"' in page.content
    data = {  # is_active left out, as an unticked box is
        "username": "carol",
        "first_name": "Caroline",
        "last_name": "",
        "email": "",
        "is_staff": "on",
        "display_name": "Carol",
        "bio": "",
        "date_joined_0": "2024-01-02",
        "date_joined_1": "03:04:05",
        "last_login_0": "",
        "last_login_1": "",
    }
    response = client.post(change, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    carol.refresh_from_db()
    assert carol.first_name == "Caroline" and carol.is_staff
    assert carol.is_active
    assert not ModerationAction.objects.filter(action="deactivate_user").exists()


# --- the actions: through the services, audited and live -------------------------------------


def listen(*groups: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    for group in groups:
        async_to_sync(layer.group_add)(group, channel)
    return channel


def heard(channel: str) -> list[dict]:
    """Every event the channel received, once they stop coming."""

    async def drain():
        layer = get_channel_layer()
        events_heard = []
        while True:
            try:
                async with asyncio.timeout(0.2):
                    events_heard.append(await layer.receive(channel))
            except TimeoutError:
                return events_heard

    return async_to_sync(drain)()


def frames(channel: str) -> list[dict]:
    return [json.loads(event["frame"]) for event in heard(channel) if "frame" in event]


def audit(action: str, **where) -> int:
    return ModerationAction.objects.filter(action=action, **where).count()


@pytest.mark.django_db(transaction=True)
class TestActions:
    def test_lock_unlock_and_archive_a_room(self, client, world, root):
        client.force_login(root)
        channel = listen(events.room_group(world.pk))
        steps = [
            ("lock_rooms", "lock", "locked", True),
            ("unlock_rooms", "unlock", "locked", False),
            ("archive_rooms", "archive", "archived", True),
        ]
        for action, audited, key, value in steps:
            response = act(client, Room, action, [world])
            assert response.status_code == 302
            assert audit(audited, actor=root, room=world) == 1
            [frame] = frames(channel)
            assert frame["type"] == "room_updated" and frame["room"][key] is value
        world.refresh_from_db()
        assert world.is_archived and not world.is_locked

    def test_mute_unmute_and_ban_a_member(self, client, world, root, carol):
        client.force_login(root)
        channel = listen(events.user_group(carol.pk))
        membership = Membership.objects.get(room=world, user=carol)

        act(client, Membership, "mute_hour", [membership])
        assert Membership.objects.get(pk=membership.pk).muted_until is not None
        assert audit("mute", actor=root, room=world, target_user=carol) == 1
        [frame] = frames(channel)
        assert frame["type"] == "muted" and frame["until"] and frame["room"] == world.pk

        act(client, Membership, "unmute", [membership])
        assert Membership.objects.get(pk=membership.pk).muted_until is None
        assert audit("unmute", actor=root, room=world, target_user=carol) == 1
        assert [(f["type"], f["until"]) for f in frames(channel)] == [("muted", None)]

        act(client, Membership, "ban", [membership])
        assert not Membership.objects.filter(pk=membership.pk).exists()
        assert RoomBan.objects.filter(room=world, user=carol, by=root).exists()
        assert audit("ban", actor=root, room=world, target_user=carol) == 1
        assert heard(channel) == [
            {
                "type": "chat.removed",
                "room": world.pk,
                "detail": "You were banned from this room. Reason: from the admin",
                "group": events.user_group(carol.pk),
            }
        ]

    def test_appointing_moderators_is_for_the_rooms_owner(self, client, world, root, bob):
        client.force_login(root)
        own = RoomFactory(name="Root's", slug="roots", creator=root)
        services.room_join(room=own, user=bob)
        mine = Membership.objects.get(room=own, user=bob)
        theirs = Membership.objects.get(room=world, user=bob)

        response = act(client, Membership, "appoint_moderator", [mine, theirs])
        assert Membership.objects.get(pk=mine.pk).role == "moderator"
        assert Membership.objects.get(pk=theirs.pk).role == "member"  # the service refused
        assert audit("appoint_moderator", actor=root, target_user=bob) == 1
        assert any("owner" in note for note in notes(response))

        act(client, Membership, "dismiss_moderator", [mine])
        assert Membership.objects.get(pk=mine.pk).role == "member"
        assert audit("dismiss_moderator", actor=root, room=own, target_user=bob) == 1

    def test_delete_a_message_keeps_the_row_flagged(self, client, world, root, carol):
        client.force_login(root)
        channel = listen(events.room_group(world.pk))
        message = Message.objects.get()
        act(client, Message, "delete_live", [message])
        message.refresh_from_db()
        assert message.deleted and message.deleted_by == root and message.body == "spam spam"
        assert audit("delete_message", actor=root, target_user=carol, message=message) == 1
        assert frames(channel) == [{"type": "message_deleted", "room": world.pk, "seq": 1}]
        assert Report.objects.get().resolved

    def test_delete_a_reported_message(self, client, world, root):
        client.force_login(root)
        channel = listen(events.room_group(world.pk))
        act(client, Report, "delete_reported_messages", [Report.objects.get()])
        assert Message.objects.get().deleted and Report.objects.get().resolved
        assert audit("delete_message", actor=root, reason="reported: looks like spam") == 1
        assert [f["type"] for f in frames(channel)] == ["message_deleted"]

    def test_lift_a_ban(self, client, world, root, mallory):
        client.force_login(root)
        act(client, RoomBan, "unban", [RoomBan.objects.get()])
        assert not RoomBan.objects.exists()
        assert audit("unban", actor=root, room=world, target_user=mallory) == 1

    def test_deactivate_an_account_closes_its_sockets(self, client, world, root, carol):
        client.force_login(root)
        channel = listen(events.user_group(carol.pk))
        response = act(client, User, "deactivate", [carol, root])
        carol.refresh_from_db()
        root.refresh_from_db()
        assert not carol.is_active and root.is_active  # not your own account
        assert not ApiToken.objects.filter(user=carol).exists()
        assert audit("deactivate_user", actor=root, target_user=carol) == 1
        assert audit("deactivate_user") == 1
        assert heard(channel) == [
            {"type": "chat.close", "code": 4403, "group": events.user_group(carol.pk)}
        ]
        assert "Deactivated: 1." in notes(response)

    def test_deleting_a_token_revokes_it_and_closes_its_connections(
        self, client, world, root, carol
    ):
        client.force_login(root)
        first = ApiToken.objects.get()
        second, _ = account_services.token_create(user=carol, name="second")
        channel = listen(
            events.credential_group(f"token:{first.pk}"),
            events.credential_group(f"token:{second.pk}"),
        )
        response = client.post(url(ApiToken, "delete", first.pk), {"post": "yes"})
        assert response.status_code == 302
        act(client, ApiToken, "delete_selected", [second], post="yes")
        assert not ApiToken.objects.exists()
        assert heard(channel) == [
            {"type": "chat.close", "code": 4401, "group": events.credential_group(f"token:{t.pk}")}
            for t in (first, second)
        ]


# --- staff who are not superusers --------------------------------------------------------------


@pytest.mark.django_db
def test_staff_see_and_do_only_what_their_permissions_allow(client, world, alice, bob, carol):
    conference = services.room_create(
        creator=alice, name="Back room", kind="conference", members=["bob", "carol"]
    )
    secret, _ = services.message_post(room=conference, author=carol, body="private words")
    moderation.message_report(message=secret, by=bob, reason="a private report")
    desk = UserFactory(username="desk", is_staff=True)
    desk.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="rooms",
            codename__in=["view_room", "change_membership", "view_message", "view_report"],
        )
    )
    client.force_login(desk)

    for model in (User, ApiToken, Group, RoomBan, ModerationAction):
        assert client.get(url(model, "changelist")).status_code == 403, model

    rooms_page = client.get(url(Room, "changelist"))
    assert rooms_page.status_code == 200 and offered_actions(rooms_page) == set()
    room_page = client.get(url(Room, "change", world.pk))
    assert room_page.status_code == 200 and b'name="_save"' not in room_page.content
    act(client, Room, "lock_rooms", [world])
    assert not Room.objects.get(pk=world.pk).is_locked

    messages_page = client.get(url(Message, "changelist"))
    assert b"spam spam" in messages_page.content
    assert b"private words" not in messages_page.content
    assert offered_actions(messages_page) == set()
    assert client.get(url(Message, "change", secret.pk)).status_code == 302  # "not found"
    act(client, Message, "delete_live", [Message.objects.get(room=world)])
    assert not Message.objects.filter(deleted=True).exists()

    reports_page = client.get(url(Report, "changelist"))
    assert b"looks like spam" in reports_page.content
    assert b"a private report" not in reports_page.content
    assert offered_actions(reports_page) == set()

    members_page = client.get(url(Membership, "changelist"))
    assert offered_actions(members_page) == {
        "mute_hour",
        "mute_indefinitely",
        "unmute",
        "ban",
        "appoint_moderator",
        "dismiss_moderator",
    }
    in_public = Membership.objects.get(room=world, user=carol)
    in_private = Membership.objects.get(room=conference, user=carol)
    response = act(client, Membership, "mute_hour", [in_public, in_private])
    assert Membership.objects.get(pk=in_public.pk).muted_until is not None
    # Staff moderate public rooms only: the service refuses the conference.
    assert Membership.objects.get(pk=in_private.pk).muted_until is None
    assert audit("mute", actor=desk, room=world, target_user=carol) == 1
    assert audit("mute", actor=desk) == 1
    assert "Muted: 1." in notes(response)
