"""Prepare the chat site's database for a benchmark run and print the plan as JSON.

Run with DJANGO_SETTINGS_MODULE=chatsite.settings (the default) and the benchmark's
DATABASE_URL, after `migrate` (bench.stack.migrate does it). It creates, through the
project's own services, R public rooms and R x M users, each with an API token: one
user per socket, so every socket authenticates with `Authorization: Bearer <token>`
like an API client would.

    python -m bench.project_setup --rooms 10 --members 20 --tag core > plan.json

Output: {"rooms": [{"id": room_id, "tokens": [token, ...]}, ...]}. Users get an
unusable password (create_user with password=None), which skips the deliberately slow
password hash: the benchmark never logs in with a password.

With --bulk (thousands of sockets: the idle, bigroom and long-poll scenarios) users,
tokens and memberships are written with bulk_create, a few statements per thousand
rows; tokens are built as accounts.services.token_create builds them (same secret
format, same hash helper) and rooms still come from rooms.services.room_create.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _picture(index: int) -> bytes:
    """A 320x240 PNG, different per index (the upload path sniffs it and makes a
    thumbnail, as for a phone photo, only smaller)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), ((index * 37) % 256, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def build_plan(*, rooms: int, members: int, tag: str, uploads: int = 0) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts import services as account_services
    from rooms import attachments
    from rooms import services as room_services

    user_model = get_user_model()
    plan_rooms = []
    for room_index in range(rooms):
        users = [
            user_model.objects.create_user(
                username=f"bench-{tag}-r{room_index}-m{m}", password=None
            )
            for m in range(members)
        ]
        room = room_services.room_create(creator=users[0], name=f"bench {tag} {room_index}")
        tokens = [account_services.token_create(user=u, name="bench")[1] for u in users]
        # Files the room's sender (member 0) attaches during the run, one per message,
        # stored through the same service as POST /api/rooms/{id}/uploads.
        files = [
            attachments.upload_create(
                room=room,
                uploader=users[0],
                upload=SimpleUploadedFile(f"photo-{n}.png", _picture(n), "image/png"),
            ).id
            for n in range(uploads)
        ]
        plan_rooms.append({"id": room.id, "tokens": tokens, "uploads": files})
    return {"rooms": plan_rooms}


def build_plan_bulk(*, rooms: int, members: int, tag: str) -> dict:
    import secrets

    from django.contrib.auth import get_user_model
    from django.db import transaction

    from accounts import services as account_services
    from accounts.models import ApiToken
    from rooms import services as room_services
    from rooms.models import Membership

    user_model = get_user_model()
    plan_rooms = []
    with transaction.atomic():
        users = []
        for room_index in range(rooms):
            for m in range(members):
                user = user_model(username=f"bench-{tag}-r{room_index}-m{m}")
                user.set_unusable_password()
                users.append(user)
        users = user_model.objects.bulk_create(users, batch_size=1000)
        secrets_by_user = {}
        tokens = []
        for user in users:
            secret = account_services.TOKEN_PREFIX + secrets.token_urlsafe(32)
            secrets_by_user[user.pk] = secret
            tokens.append(
                ApiToken(
                    user=user,
                    name="bench",
                    key_hash=account_services._hash(secret),
                    prefix=secret[:8],
                )
            )
        ApiToken.objects.bulk_create(tokens, batch_size=1000)
        memberships = []
        for room_index in range(rooms):
            room_users = users[room_index * members : (room_index + 1) * members]
            # The first member creates the room (and so is its owner), as a user would.
            room = room_services.room_create(
                creator=room_users[0], name=f"bench {tag} {room_index}"
            )
            memberships += [Membership(room=room, user=u) for u in room_users[1:]]
            plan_rooms.append(
                {"id": room.id, "tokens": [secrets_by_user[u.pk] for u in room_users]}
            )
        Membership.objects.bulk_create(memberships, batch_size=1000)
    return {"rooms": plan_rooms}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, required=True)
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--tag", required=True, help="makes usernames unique per scenario")
    parser.add_argument("--bulk", action="store_true", help="bulk_create users and tokens")
    parser.add_argument(
        "--uploads", type=int, default=0, help="files per room for its sender to attach"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()
    if args.bulk:
        plan = build_plan_bulk(rooms=args.rooms, members=args.members, tag=args.tag)
    else:
        plan = build_plan(
            rooms=args.rooms, members=args.members, tag=args.tag, uploads=args.uploads
        )
    json.dump(plan, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
