"""Slash commands typed in the composer: one function per command, with its help.

`run()` is called by the socket for a body starting with "/". A command either posts
something (through the same services as everything else) or answers the asker alone
with a notice, which is never stored. "//text" sends "/text" literally.
To add a command, write an async function taking (context, argument text) and
decorate it with @command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from accounts import services as account_services
from accounts.models import User
from rooms import services
from rooms.errors import ChatError
from rooms.models import Message, Room
from rooms.realtime import presence
from rooms.realtime.db_gate import in_thread


@dataclass
class Context:
    user: User
    room: Room
    client_id: str | None


@dataclass
class Outcome:
    """What a command did: a stored message (broadcast as usual) and/or a private notice."""

    message: Message | None = None
    notice: str | None = None


Handler = Callable[[Context, str], Awaitable[Outcome]]


@dataclass
class Command:
    name: str
    usage: str
    help: str
    handler: Handler


REGISTRY: dict[str, Command] = {}
ALIASES = {"w": "whisper", "msg": "whisper"}


def command(name: str, usage: str, help: str) -> Callable[[Handler], Handler]:  # noqa: A002
    def register(handler: Handler) -> Handler:
        REGISTRY[name] = Command(name, usage, help, handler)
        return handler

    return register


def is_command(body: object) -> bool:
    return isinstance(body, str) and body.lstrip().startswith("/")


async def run(context: Context, body: str) -> Outcome:
    text = body.strip()
    if text.startswith("//"):
        message, _ = await in_thread(services.message_post)(
            room=context.room, author=context.user, body=text[1:], client_id=context.client_id
        )
        return Outcome(message=message)
    name, _, argument = text[1:].partition(" ")
    found = REGISTRY.get(ALIASES.get(name.lower(), name.lower()))
    if found is None:
        return Outcome(notice=f"Unknown command /{name[:30]}. Type /help for the list.")
    try:
        return await found.handler(context, argument.strip())
    except ChatError as exc:
        return Outcome(notice=f"/{found.name}: {exc.detail}")


def _usage(name: str) -> Outcome:
    return Outcome(notice=f"Usage: {REGISTRY[name].usage}")


@command("help", "/help", "list the commands")
async def help_command(context: Context, argument: str) -> Outcome:
    lines = [f"{c.usage} — {c.help}" for c in REGISTRY.values()]
    lines.append("//text — send a message that starts with /")
    return Outcome(notice="\n".join(lines))


@command("who", "/who", "who is online in this room")
async def who_command(context: Context, argument: str) -> Outcome:
    online = await presence.store().online(context.room.id)
    return Outcome(notice="Online: " + (", ".join(online) if online else "nobody"))


@command("me", "/me <action>", "post an action line, e.g. /me waves")
async def me_command(context: Context, argument: str) -> Outcome:
    if not argument:
        return _usage("me")
    message, _ = await in_thread(services.message_post)(
        room=context.room,
        author=context.user,
        body=argument,
        client_id=context.client_id,
        kind=Message.Kind.ACTION,
    )
    return Outcome(message=message)


@command("topic", "/topic <text>", "set the room topic (empty clears it)")
async def topic_command(context: Context, argument: str) -> Outcome:
    await in_thread(services.room_update)(room=context.room, by=context.user, topic=argument)
    return Outcome()


@command("invite", "/invite <username> ...", "invite people into this private chat")
async def invite_command(context: Context, argument: str) -> Outcome:
    usernames = argument.replace(",", " ").split()
    if not usernames:
        return _usage("invite")
    target = await in_thread(services.room_invite)(
        room=context.room, by=context.user, usernames=usernames
    )
    if target.pk != context.room.pk:
        return Outcome(notice=f"Started the conference “{target.name}” (room {target.pk}).")
    return Outcome()


@command("leave", "/leave", "leave this conference")
async def leave_command(context: Context, argument: str) -> Outcome:
    if context.room.kind != Room.Kind.CONFERENCE:
        return Outcome(notice="/leave works in conferences only.")
    await in_thread(services.room_leave)(room=context.room, user=context.user)
    return Outcome()


@command("whisper", "/whisper <name> <text>", "a line only that person sees (also /w, /msg)")
async def whisper_command(context: Context, argument: str) -> Outcome:
    name, _, text = argument.partition(" ")
    if not name or not text.strip():
        return _usage("whisper")
    online = await presence.store().online(context.room.id)
    await in_thread(services.whisper_send)(
        room=context.room,
        sender=context.user,
        to=name,
        body=text,
        online=online,
        client_id=context.client_id,
    )
    return Outcome()


@command("nick", "/nick <display name>", "change your display name")
async def nick_command(context: Context, argument: str) -> Outcome:
    if not argument or len(argument) > 80:
        return Outcome(notice="Usage: /nick <display name> (1 to 80 characters)")
    # The same rules as the profile page: no control characters, no copy of another
    # user's name (accounts/names.py); a refusal comes back as a notice.
    user = await in_thread(account_services.profile_update)(
        user=context.user, display_name=argument, bio=context.user.bio
    )
    return Outcome(notice=f"You are now shown as {user.display_name}.")
