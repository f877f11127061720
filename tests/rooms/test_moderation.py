"""Roles, moderation actions and their live effects, audit log, reports, admin."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from accounts.models import ApiToken
from rooms import moderation, services
from rooms.errors import Banned, Forbidden, Locked, Muted
from rooms.models import Membership, Message, ModerationAction, Report
from tests.conftest import connect, join, receive_type
from tests.factories import UserFactory


@pytest.fixture
def members(room, bob, carol, mallory):
    for user in (bob, carol, mallory):
        services.room_join(room=room, user=user)
    moderation.moderator_set(room=room, by=room.creator, username="bob", moderator=True)
    return room


@pytest.mark.django_db
class TestRoles:
    def test_only_the_owner_appoints_moderators(self, members, alice, bob, carol):
        assert Membership.objects.get(room=members, user=bob).role == "moderator"
        with pytest.raises(Forbidden):
            moderation.moderator_set(room=members, by=bob, username="carol", moderator=True)
        moderation.moderator_set(room=members, by=alice, username="bob", moderator=False)
        assert Membership.objects.get(room=members, user=bob).role == "member"

    @pytest.mark.parametrize("actor", ["carol", "mallory"])
    def test_members_cannot_moderate(self, members, actor, alice):
        user = UserFactory(username=actor)
        message, _ = services.message_post(room=members, author=alice, body="hi")
        with pytest.raises(Forbidden):
            moderation.member_mute(room=members, by=user, username="alice", minutes=5)
        with pytest.raises(Forbidden):
            moderation.member_ban(room=members, by=user, username="bob")
        with pytest.raises(Forbidden):
            moderation.room_lock(room=members, by=user, locked=True)
        with pytest.raises(Forbidden):
            moderation.message_remove(message=message, by=user)
        assert ModerationAction.objects.count() == 1  # only the fixture's appointment

    def test_moderators_cannot_touch_the_owner(self, members, bob):
        with pytest.raises(Forbidden):
            moderation.member_ban(room=members, by=bob, username="alice")

    def test_staff_moderate_any_public_room(self, members, carol):
        staff = UserFactory(username="staff", is_staff=True)
        moderation.member_mute(room=members, by=staff, username="carol", minutes=10)
        assert Membership.objects.get(room=members, user=carol).muted_until is not None


@pytest.mark.django_db
class TestEffects:
    def test_a_muted_member_cannot_post_until_unmuted(self, members, bob, carol):
        moderation.member_mute(room=members, by=bob, username="carol", minutes=30, reason="spam")
        with pytest.raises(Muted) as refused:
            services.message_post(room=members, author=carol, body="let me talk")
        assert "until" in refused.value.extra
        assert refused.value.extra["reason"] == "spam"  # the composer shows why
        moderation.member_unmute(room=members, by=bob, username="carol")
        services.message_post(room=members, author=carol, body="thanks")
        actions = list(ModerationAction.objects.values_list("action", flat=True))
        assert actions[:2] == ["unmute", "mute"]

    def test_a_banned_user_is_removed_and_cannot_rejoin_until_unbanned(self, members, bob, mallory):
        moderation.member_ban(room=members, by=bob, username="mallory", reason="abuse")
        assert not Membership.objects.filter(room=members, user=mallory).exists()
        with pytest.raises(Banned):
            services.room_join(room=members, user=mallory)
        with pytest.raises(Banned):
            services.message_post(room=members, author=mallory, body="back!")
        moderation.member_unban(room=members, by=bob, username="mallory")
        services.room_join(room=members, user=mallory)

    def test_a_locked_room_is_read_only_except_for_moderators(self, members, bob, carol):
        moderation.room_lock(room=members, by=bob, locked=True)
        with pytest.raises(Locked):
            services.message_post(room=members, author=carol, body="hello?")
        services.message_post(room=members, author=bob, body="announcement")
        moderation.room_lock(room=members, by=bob, locked=False)
        services.message_post(room=members, author=carol, body="hello!")

    def test_moderator_deletion_is_kept_flagged_and_audited(self, members, bob, carol):
        message, _ = services.message_post(room=members, author=carol, body="rude words")
        Report.objects.create(message=message, reporter=bob, reason="rude")
        moderation.message_remove(message=message, by=bob, reason="rude")
        message.refresh_from_db()
        assert message.deleted and message.deleted_by == bob and message.body == "rude words"
        assert ModerationAction.objects.filter(action="delete_message", message=message).exists()
        assert Report.objects.get(message=message).resolved

    def test_deactivating_a_user_kills_their_tokens(self, alice, mallory):
        staff = UserFactory(username="staff", is_staff=True)
        ApiToken.objects.create(user=mallory, name="t", key_hash="x" * 64, prefix="cst_x")
        with pytest.raises(Forbidden):
            moderation.user_deactivate(user=mallory, by=alice)
        moderation.user_deactivate(user=mallory, by=staff)
        mallory.refresh_from_db()
        assert not mallory.is_active and not ApiToken.objects.filter(user=mallory).exists()

    def test_reports_need_a_reason_and_are_kept_once(self, members, alice, carol):
        message, _ = services.message_post(room=members, author=alice, body="hmm")
        moderation.message_report(message=message, by=carol, reason="off topic")
        moderation.message_report(message=message, by=carol, reason="again")
        assert Report.objects.count() == 1


@pytest.mark.django_db(transaction=True)
async def test_moderation_takes_effect_live_on_open_sockets(room, alice, bob, mallory):
    await database_sync_to_async(services.room_join)(room=room, user=mallory)
    m = await connect(mallory)
    a = await connect(alice)
    await join(m, room.id)
    await join(a, room.id)
    message, _ = await database_sync_to_async(services.message_post)(
        room=room, author=mallory, body="spam spam"
    )
    await receive_type(a, "message")
    await receive_type(m, "message")
    await database_sync_to_async(moderation.message_remove)(message=message, by=alice)
    for socket in (a, m):
        assert await receive_type(socket, "message_deleted") == {
            "type": "message_deleted",
            "room": room.id,
            "seq": message.seq,
        }
    await database_sync_to_async(moderation.member_mute)(
        room=room, by=alice, username="mallory", minutes=5, reason="flood"
    )
    muted = await receive_type(m, "muted")
    assert muted["room"] == room.id and muted["until"] and muted["reason"] == "flood"
    await m.send_json_to({"type": "send", "room": room.id, "body": "no", "client_id": "z"})
    error = await receive_type(m, "error")
    assert error["code"] == "muted" and error["until"] and error["ref"] == "z"
    await database_sync_to_async(moderation.member_ban)(
        room=room, by=alice, username="mallory", reason="spam"
    )
    assert await receive_type(m, "removed") == {
        "type": "removed",
        "room": room.id,
        "detail": "You were banned from this room. Reason: spam",
    }
    await m.send_json_to({"type": "join", "room": room.id, "after": None})
    assert (await receive_type(m, "error"))["code"] == "banned"
    staff = await database_sync_to_async(UserFactory)(username="staff", is_staff=True)
    await database_sync_to_async(moderation.user_deactivate)(user=mallory, by=staff)
    assert (await m.receive_output(timeout=2)) == {"type": "websocket.close", "code": 4403}
    await a.disconnect()


@pytest.mark.django_db
def test_moderation_api_and_audit_log(api_client, members, alice, bob, carol):
    api = api_client(bob)
    muted = api.post(f"/api/rooms/{members.id}/mute", {"username": "carol", "minutes": 10})
    assert muted.status_code == 200 and muted.json()["until"]
    refused = api_client(carol).post(f"/api/rooms/{members.id}/messages", {"body": "x"})
    assert refused.status_code == 403 and "muted" in refused.json()["detail"]
    assert (
        api_client(carol).post(f"/api/rooms/{members.id}/ban", {"username": "bob"}).status_code
        == 403
    )
    assert api.post(f"/api/rooms/{members.id}/lock", {}).status_code == 204
    log = api.get(f"/api/rooms/{members.id}/audit").json()["entries"]
    assert [e["action"] for e in log][:2] == ["lock", "mute"]
    assert api_client(carol).get(f"/api/rooms/{members.id}/audit").status_code == 403
    bad = api.post(f"/api/rooms/{members.id}/mute", {"username": "ghost"})
    assert bad.status_code == 400 and "ghost" in bad.json()["detail"]


@pytest.mark.django_db
def test_the_ban_list_is_for_moderators_and_unban_empties_it(api_client, members, bob, carol):
    api = api_client(bob)  # a moderator of `members`
    assert api.get(f"/api/rooms/{members.id}/bans").json() == {"bans": []}
    assert api.post(f"/api/rooms/{members.id}/ban", {"username": "carol", "reason": "spam"})
    [ban] = api.get(f"/api/rooms/{members.id}/bans").json()["bans"]
    assert (ban["username"], ban["reason"], ban["by"]) == ("carol", "spam", "bob")
    outsider = api_client(UserFactory(username="dave"))
    assert outsider.get(f"/api/rooms/{members.id}/bans").status_code == 403
    assert api_client(carol).get(f"/api/rooms/{members.id}/bans").status_code == 403  # banned
    assert api.post(f"/api/rooms/{members.id}/unban", {"username": "carol"}).status_code == 204
    assert api.get(f"/api/rooms/{members.id}/bans").json() == {"bans": []}


@pytest.mark.django_db
def test_admin_actions_moderate_live_and_audit(client, members, carol):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    message, _ = services.message_post(room=members, author=carol, body="bad")
    response = client.post(
        "/admin/rooms/message/",
        {"action": "delete_live", "_selected_action": [message.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Message.objects.get(pk=message.pk).deleted
    membership = Membership.objects.get(room=members, user=carol)
    client.post("/admin/rooms/membership/", {"action": "ban", "_selected_action": [membership.pk]})
    assert not Membership.objects.filter(room=members, user=carol).exists()
    client.post("/admin/accounts/user/", {"action": "deactivate", "_selected_action": [carol.pk]})
    carol.refresh_from_db()
    assert not carol.is_active
    actions = set(ModerationAction.objects.values_list("action", flat=True))
    assert {"delete_message", "ban", "deactivate_user"} <= actions
    assert client.get("/admin/rooms/moderationaction/").status_code == 200
    assert client.get("/admin/rooms/report/").status_code == 200


@pytest.mark.django_db
def test_the_audit_page_is_for_owners_and_moderators(client, members, bob, carol):
    moderation.member_mute(room=members, by=bob, username="carol", minutes=5, reason="<b>spam</b>")
    client.force_login(bob)
    page = client.get(f"/rooms/{members.id}/audit/")
    assert page.status_code == 200
    assert b"&lt;b&gt;spam&lt;/b&gt;" in page.content and b">carol<" in page.content
    client.force_login(carol)
    assert client.get(f"/rooms/{members.id}/audit/").status_code == 403


@pytest.mark.django_db
def test_the_admin_shows_a_messages_earlier_versions(client, room, alice):
    from rooms import changes

    message, _ = services.message_post(room=room, author=alice, body="first wording")
    changes.message_edit(message=message, by=alice, body="second wording")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/rooms/message/{message.pk}/change/")
    assert page.status_code == 200
    assert b"first wording" in page.content and b"second wording" in page.content
