"""Files attached to messages: the service (sniffing, thumbnails, limits, storage), the
API (multipart, and upload-then-send), who may fetch a file (the room's read rule, 404
for everyone else by any path), the headers that keep files from running as pages,
deletion with the message, and sync by changed_after."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from rooms import access, attachments, file_text, moderation, selectors, services, wire
from rooms.errors import AttachmentNotFound, Banned, InvalidInput, Muted
from rooms.models import Attachment, Message, Room
from tests.accounts.images import image_bytes
from tests.conftest import token_for

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)


def upload(room, user, data: bytes, name: str = "file.bin") -> Attachment:
    return attachments.upload_create(
        room=room, uploader=user, upload=SimpleUploadedFile(name, data, "image/png")
    )


def send(room, user, data: bytes, name: str = "file.bin", body: str = "") -> Message:
    made = upload(room, user, data, name)
    message, _ = services.message_post(room=room, author=user, body=body, attachments=[made.pk])
    return message


@pytest.fixture
def public(alice, bob):
    room = services.room_create(creator=alice, name="Lobby")
    services.room_join(room=room, user=bob)
    return room


@pytest.fixture
def private(alice, bob, carol):
    return services.room_create(
        creator=alice, name="Trio", kind=Room.Kind.CONFERENCE, members=["bob", "carol"]
    )


def auth(user) -> dict:
    return {"Authorization": f"Bearer {token_for(user)}"}


# --- sniffing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_images_are_sniffed_with_a_thumbnail_and_their_size(public, alice, fmt, content_type):
    made = upload(public, alice, image_bytes(fmt, size=(800, 400)), name="x.bin")
    assert made.content_type == content_type
    assert (made.width, made.height) == (800, 400)
    assert made.thumbnail and default_storage.exists(made.thumbnail)
    assert attachments.thumbnail_size(800, 400) == (360, 180)


def test_a_png_named_txt_is_an_image_and_html_named_png_is_html(public, alice):
    assert upload(public, alice, image_bytes("PNG"), name="notes.txt").content_type == "image/png"
    html = upload(public, alice, HTML, name="cat.png")
    assert html.content_type == "text/html" and not html.thumbnail and html.width is None
    assert upload(public, alice, SVG, name="cat.png").content_type == "image/svg+xml"
    assert upload(public, alice, b"just words\n", name="a.exe").content_type == "text/plain"
    assert upload(public, alice, b"\x00\x01\x02\xff", name="a").content_type == (
        "application/octet-stream"
    )
    assert upload(public, alice, b"%PDF-1.4 ...", name="a").content_type == "application/pdf"


def test_a_truncated_image_is_a_plain_file(public, alice):
    data = image_bytes("PNG", size=(200, 200), noisy=True)
    made = upload(public, alice, data[: len(data) // 2], name="broken.png")
    assert not made.thumbnail and made.content_type == "application/octet-stream"


def test_decompression_bombs_are_refused(public, alice, settings):
    settings.CHAT_IMAGE_MAX_PIXELS = 1000
    with pytest.raises(InvalidInput, match="too many pixels"):
        upload(public, alice, image_bytes("PNG", size=(100, 100)))
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("a\x00b.png", "ab.png"),
        ("\ud800evil.txt", "evil.txt"),
        ("line\nbreak.txt", "linebreak.txt"),
        ("", "file"),
        ("..", "file"),
        ("x" * 300 + ".png", "x" * 251 + ".png"),
    ],
)
def test_hostile_names_are_cleaned(given, kept):
    assert attachments.clean_name(given) == kept


def test_storage_names_hold_no_user_text(public, alice):
    made = upload(public, alice, b"hello", name="../../../evil.sh")
    assert made.file.startswith(f"attachments/{public.pk}/") and "evil" not in made.file
    assert made.name == "evil.sh"


# --- posting -------------------------------------------------------------------------------


def test_a_message_may_be_only_files_and_carries_them_on_the_wire(public, alice):
    message = send(public, alice, image_bytes("PNG", size=(40, 20)), name="dot.png")
    assert message.body == ""
    (item,) = wire.message_dict(message)["attachments"]
    assert item["name"] == "dot.png" and item["content_type"] == "image/png"
    assert (item["width"], item["height"]) == (40, 20)
    assert item["url"] == f"/files/{item['id']}/"
    assert item["thumbnail_url"] == f"/files/{item['id']}/thumbnail/"
    assert Attachment.objects.get(pk=item["id"]).message == message


def test_a_message_without_files_still_needs_a_body(public, alice):
    with pytest.raises(InvalidInput, match="body must not be empty"):
        services.message_post(room=public, author=alice, body="  ", attachments=[])


def test_uploads_are_the_uploaders_own_for_this_room_and_sent_once(public, private, alice, bob):
    mine = upload(public, alice, b"one")
    with pytest.raises(InvalidInput, match="not yours"):
        services.message_post(room=public, author=bob, body="x", attachments=[mine.pk])
    elsewhere = upload(private, alice, b"two")
    with pytest.raises(InvalidInput, match="not yours"):
        services.message_post(room=public, author=alice, body="x", attachments=[elsewhere.pk])
    services.message_post(room=public, author=alice, body="x", attachments=[mine.pk])
    with pytest.raises(InvalidInput, match="already"):
        services.message_post(room=public, author=alice, body="y", attachments=[mine.pk])
    assert Message.objects.filter(room=public).count() == 1


def test_a_repeated_client_id_answers_the_original(public, alice):
    made = upload(public, alice, b"one")
    first, created = services.message_post(
        room=public, author=alice, body="", client_id="c1", attachments=[made.pk]
    )
    again, created_again = services.message_post(
        room=public, author=alice, body="", client_id="c1", attachments=[made.pk]
    )
    assert created and not created_again and again.pk == first.pk


def test_uploading_follows_the_post_rules(public, alice, bob, mallory):
    moderation.member_mute(room=public, by=alice, username="bob", minutes=10)
    with pytest.raises(Muted):
        upload(public, bob, b"x")
    moderation.member_ban(room=public, by=alice, username="mallory")
    with pytest.raises(Banned):
        access.room_get_visible(user=mallory, room_id=public.pk)


# --- limits --------------------------------------------------------------------------------


def test_limits_per_file_per_message_and_per_day(public, alice, settings):
    settings.CHAT_UPLOAD_MAX_BYTES = 10
    with pytest.raises(InvalidInput, match="larger than the limit of 10 bytes"):
        upload(public, alice, b"x" * 11)
    settings.CHAT_FILES_PER_MESSAGE = 2
    ids = [upload(public, alice, b"abc").pk for _ in range(3)]
    with pytest.raises(InvalidInput, match="at most 2 files"):
        services.message_post(room=public, author=alice, body="x", attachments=ids)
    settings.CHAT_UPLOAD_BYTES_PER_DAY = 12
    with pytest.raises(InvalidInput, match="a day"):
        upload(public, alice, b"abcd")  # 9 used + 4 > 12
    upload(public, alice, b"abc")  # exactly 12


def test_unused_uploads_are_removed_after_their_time(public, alice, settings):
    made = upload(public, alice, image_bytes("PNG"))
    sent = send(public, alice, b"kept", body="keep")
    settings.CHAT_UPLOAD_UNUSED_TTL = -1
    assert attachments.uploads_remove_unused() == 1
    assert not Attachment.objects.filter(pk=made.pk).exists()
    assert Attachment.objects.filter(message=sent).count() == 1


def test_unused_upload_files_leave_the_storage_after_commit(
    public, alice, settings, django_capture_on_commit_callbacks
):
    made = upload(public, alice, image_bytes("PNG"))
    settings.CHAT_UPLOAD_UNUSED_TTL = -1
    with django_capture_on_commit_callbacks(execute=True):
        attachments.uploads_remove_unused()
    assert not default_storage.exists(made.file) and not default_storage.exists(made.thumbnail)


# --- deletion and sync ---------------------------------------------------------------------


def test_deleting_a_message_deletes_its_files_after_commit(
    public, alice, bob, django_capture_on_commit_callbacks
):
    message = send(public, bob, image_bytes("PNG"), body="look")
    (made,) = Attachment.objects.filter(message=message)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        moderation.message_remove(message=message, by=alice, reason="spam")
    assert default_storage.exists(made.file)  # not before commit
    for callback in callbacks:
        callback()
    assert not default_storage.exists(made.file) and not default_storage.exists(made.thumbnail)
    assert not Attachment.objects.filter(pk=made.pk).exists()
    message.refresh_from_db()
    assert message.attachments == [] and wire.message_dict(message)["attachments"] == []


def test_changed_after_brings_files_and_their_deletion_once_in_order(public, alice, bob):
    start = Room.objects.get(pk=public.pk).last_rev
    message = send(public, bob, image_bytes("GIF"), body="gif")
    rows, _ = selectors.messages_changed_after(room=public, rev=start, limit=None)
    assert [m.seq for m in rows] == [message.seq]
    assert wire.message_dict(rows[0])["attachments"][0]["content_type"] == "image/gif"
    seen = rows[-1].rev
    moderation.message_remove(message=message, by=bob)
    rows, _ = selectors.messages_changed_after(room=public, rev=seen, limit=None)
    assert [(m.seq, m.deleted) for m in rows] == [(message.seq, True)]
    assert wire.message_dict(rows[0])["attachments"] == []


def test_a_page_of_history_with_files_is_one_query(public, alice, django_assert_num_queries):
    for n in range(3):
        send(public, alice, image_bytes("PNG"), body=f"pic {n}")
    with django_assert_num_queries(1):
        rows, _ = selectors.messages_page(room=public, after=None, before=None, limit=10)
        page = [wire.message_dict(m) for m in rows]
    assert all(len(m["attachments"]) == 1 for m in page)


def test_line_clients_read_files_as_text(public, alice):
    message = send(public, alice, b"a" * 2048, name="notes.txt", body="see")
    data = wire.message_dict(message)
    url = data["attachments"][0]["url"]
    assert file_text.with_files(data["body"], data) == f"see [file: notes.txt (2 KB) {url}]"
    only = wire.message_dict(send(public, alice, b"x", name="x.bin"))
    assert file_text.with_files(only["body"], only).startswith("[file: x.bin (1 bytes) /files/")


# --- who may fetch -------------------------------------------------------------------------


def test_members_fetch_files_and_thumbnails(client, private, alice, bob):
    message = send(private, alice, image_bytes("PNG", size=(50, 50)), name="p.png")
    item = wire.message_dict(message)["attachments"][0]
    client.force_login(bob)
    response = client.get(item["url"])
    assert response.status_code == 200
    assert (
        b"".join(response.streaming_content)
        == default_storage.open(Attachment.objects.get(pk=item["id"]).file).read()
    )
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert client.get(item["thumbnail_url"]).status_code == 200


def test_outsiders_banned_users_and_strangers_get_404_for_file_and_thumbnail(
    client, public, private, alice, bob, carol, mallory
):
    secret = wire.message_dict(send(private, alice, image_bytes("PNG")))["attachments"][0]
    lobby = wire.message_dict(send(public, bob, image_bytes("PNG")))["attachments"][0]
    moderation.member_ban(room=public, by=alice, username="mallory")
    unsent = upload(public, alice, image_bytes("PNG"))
    client.force_login(mallory)
    for item in (secret, lobby):
        for url in (item["url"], item["thumbnail_url"], item["url"] + "x/"):
            assert client.get(url).status_code == 404, url
    for path in (f"/files/{unsent.pk}/", f"/files/{unsent.pk}/thumbnail/", "/files/nope/"):
        assert client.get(path).status_code == 404
    client.logout()
    assert client.get(secret["url"]).status_code == 404  # nobody signed in
    response = client.get(secret["url"], headers=auth(carol))  # a member, by token
    assert response.status_code == 200


def test_a_deleted_messages_files_are_gone(client, public, alice):
    message = send(public, alice, image_bytes("PNG"))
    item = wire.message_dict(message)["attachments"][0]
    moderation.message_remove(message=message, by=alice)
    client.force_login(alice)
    assert client.get(item["url"]).status_code == 404
    with pytest.raises(AttachmentNotFound):
        access.attachment_get_readable(user=alice, attachment_id=item["id"])


@pytest.mark.parametrize(
    ("data", "name"), [(HTML, "page.html"), (HTML, "cat.png"), (SVG, "logo.svg"), (b"hi", "a.txt")]
)
def test_html_svg_and_everything_not_an_image_is_a_download_that_cannot_run(
    client, public, alice, data, name
):
    item = wire.message_dict(send(public, alice, data, name=name))["attachments"][0]
    assert "thumbnail_url" not in item
    client.force_login(alice)
    response = client.get(item["url"])
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["Content-Type"] in ("text/html", "image/svg+xml", "text/plain")


def test_with_accel_redirect_nginx_sends_the_bytes(client, public, alice, settings):
    settings.CHAT_FILES_ACCEL_REDIRECT = "/_protected_files/"
    made = Attachment.objects.get(message=send(public, alice, HTML, name="x.html"))
    client.force_login(alice)
    response = client.get(f"/files/{made.pk}/")
    assert response["X-Accel-Redirect"] == f"/_protected_files/{made.file}"
    assert response.content == b""
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


# --- the API -------------------------------------------------------------------------------


def test_upload_then_send_through_the_api(client, public, alice, bob):
    response = client.post(
        f"/api/rooms/{public.pk}/uploads",
        {"file": SimpleUploadedFile("pic.txt", image_bytes("JPEG"), "text/plain")},
        headers=auth(alice),
    )
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["content_type"] == "image/jpeg" and made["name"] == "pic.txt"
    response = client.post(
        f"/api/rooms/{public.pk}/messages",
        {"body": "", "client_id": "u1", "attachments": [made["id"]]},
        content_type="application/json",
        headers=auth(alice),
    )
    assert response.status_code == 201, response.content
    assert response.json()["attachments"][0]["id"] == made["id"]
    history = client.get(f"/api/rooms/{public.pk}/messages", headers=auth(bob)).json()
    assert history["messages"][-1]["attachments"][0]["thumbnail_url"]


def test_multipart_message_with_files_through_the_api(client, public, alice):
    response = client.post(
        f"/api/rooms/{public.pk}/messages/files",
        {
            "body": "two files",
            "client_id": "m1",
            "file": [
                SimpleUploadedFile("a.png", image_bytes("PNG"), "image/png"),
                SimpleUploadedFile("b.html", HTML, "image/png"),
            ],
        },
        headers=auth(alice),
    )
    assert response.status_code == 201, response.content
    message = response.json()
    assert message["body"] == "two files"
    assert [a["content_type"] for a in message["attachments"]] == ["image/png", "text/html"]
    again = client.post(
        f"/api/rooms/{public.pk}/messages/files",
        {"client_id": "m1", "file": [SimpleUploadedFile("c.txt", b"c")]},
        headers=auth(alice),
    )
    assert again.status_code == 201 and again.json()["id"] == message["id"]
    assert Attachment.objects.count() == 2


def test_a_file_sent_in_one_request_may_stay_in_its_thread(client, public, alice):
    parent = client.post(
        f"/api/rooms/{public.pk}/messages",
        {"body": "the plan?"},
        content_type="application/json",
        headers=auth(alice),
    ).json()
    response = client.post(
        f"/api/rooms/{public.pk}/messages/files",
        {
            "reply_to": parent["seq"],
            "thread_only": "true",
            "file": [SimpleUploadedFile("plan.txt", b"the plan")],
        },
        headers=auth(alice),
    )
    assert response.status_code == 201, response.content
    reply = response.json()
    assert (reply["reply_to"], reply["thread_only"]) == (parent["seq"], True)
    alone = client.post(
        f"/api/rooms/{public.pk}/messages/files",
        {"thread_only": "true", "file": [SimpleUploadedFile("x.txt", b"x")]},
        headers=auth(alice),
    )
    assert alone.status_code == 400 and "reply_to" in alone.json()["detail"]


def test_api_refusals_are_sentences(client, public, private, alice, mallory, settings):
    settings.CHAT_UPLOAD_MAX_BYTES = 5
    response = client.post(
        f"/api/rooms/{public.pk}/uploads",
        {"file": SimpleUploadedFile("a", b"123456")},
        headers=auth(alice),
    )
    assert response.status_code == 400 and "limit" in response.json()["detail"]
    response = client.post(f"/api/rooms/{public.pk}/uploads", {}, headers=auth(alice))
    assert response.status_code == 400
    response = client.post(
        f"/api/rooms/{private.pk}/uploads",
        {"file": SimpleUploadedFile("a", b"1")},
        headers=auth(mallory),
    )
    assert response.status_code == 404
    response = client.post(
        f"/api/rooms/{public.pk}/messages/files", {"body": "no files"}, headers=auth(alice)
    )
    assert response.status_code == 400 and "file" in response.json()["detail"]
    response = client.post(
        f"/api/rooms/{public.pk}/messages",
        {"body": "x", "attachments": "nope"},
        content_type="application/json",
        headers=auth(alice),
    )
    assert response.status_code == 400


def test_the_cleanup_command_removes_unused_uploads(public, alice, settings):
    from io import StringIO

    from django.core.management import call_command

    upload(public, alice, b"never sent")
    settings.CHAT_UPLOAD_UNUSED_TTL = -1
    out = StringIO()
    call_command("cleanuploads", stdout=out)
    assert out.getvalue().strip() == "Removed 1 unused upload(s)."
    assert not Attachment.objects.exists()


def test_files_stay_readable_in_locked_and_archived_rooms(client, public, alice, bob):
    item = wire.message_dict(send(public, bob, image_bytes("PNG")))["attachments"][0]
    moderation.room_lock(room=public, by=alice, locked=True)
    client.force_login(bob)
    assert client.get(item["url"]).status_code == 200
    with pytest.raises(Exception, match="locked"):
        upload(Room.objects.get(pk=public.pk), bob, b"x")
    moderation.room_archive(room=public, by=alice)
    assert client.get(item["thumbnail_url"]).status_code == 200


def test_the_admin_lists_files_with_room_uploader_size_type_and_message(client, public, alice):
    from tests.factories import UserFactory

    message = send(public, alice, image_bytes("PNG"), name="chart.png", body="chart")
    made = Attachment.objects.get(message=message)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    page = client.get("/admin/rooms/attachment/").content.decode()
    for text in ("chart.png", "Lobby", "alice", str(made.size), "image/png"):
        assert text in page
    assert f"/admin/rooms/message/{message.pk}/change/" in page
    detail = client.get(f"/admin/rooms/attachment/{made.pk}/change/")
    assert detail.status_code == 200 and f"/files/{made.pk}/" in detail.content.decode()
    message_page = client.get(f"/admin/rooms/message/{message.pk}/change/").content.decode()
    assert "chart.png" in message_page


def test_reporting_a_message_with_files_works(public, alice, bob):
    from rooms.models import Report

    message = send(public, bob, image_bytes("PNG"), body="")
    moderation.message_report(message=message, by=alice, reason="not nice")
    assert Report.objects.filter(message=message).exists()


def test_the_room_list_previews_a_files_only_message_by_its_file(private, alice, bob):
    send(private, alice, b"minutes", name="minutes.txt")
    (summary,) = [s for s in selectors.private_room_summaries(user=bob) if s["room"] == private]
    assert summary["preview"] == "[file: minutes.txt]"
