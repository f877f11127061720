from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from rooms import access, formatting, moderation, selectors, services
from rooms.errors import Banned, ChatError, RoomNotFound
from rooms.forms import ConferenceForm, InviteForm, RoomForm
from rooms.models import NotifyLevel, Room, notify_level_for


@login_required
def room_list(request):
    return render(
        request,
        "rooms/list.html",
        {
            "public_rooms": selectors.public_room_directory(user=request.user),
            "private_rooms": selectors.private_room_summaries(user=request.user),
        },
    )


@login_required
def room_new(request):
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            room = services.room_create(
                creator=request.user,
                name=form.cleaned_data["name"],
                topic=form.cleaned_data["topic"],
                temporary=form.cleaned_data["temporary"],
                announce_joins=form.cleaned_data["announce_joins"],
            )
        except ChatError as exc:
            form.add_error("name", exc.detail)
        else:
            return redirect("rooms:detail", room_id=room.id)
    return render(request, "rooms/new.html", {"form": form})


def _visible_or_404(request, room_id: int):
    try:
        return access.room_get_visible(user=request.user, room_id=room_id)
    except RoomNotFound as exc:
        raise Http404("Room not found.") from exc
    except Banned as exc:
        raise PermissionDenied(exc.detail) from exc


@login_required
def room_detail(request, room_id: int):
    """The room page. Besides the room it hands the script where this reader left off
    (read before the socket's join marks everything read), their role and any mute."""
    try:
        room = access.room_get_visible(user=request.user, room_id=room_id)
    except RoomNotFound as exc:
        raise Http404("Room not found.") from exc
    except Banned as exc:
        # A clear page instead of a room whose composer would refuse every line.
        banned_room = Room.objects.only("name").get(pk=room_id)
        context = {"room": banned_room, "reason": exc.extra.get("reason", "")}
        return render(request, "rooms/banned.html", context, status=403)
    membership = selectors.membership_get(user=request.user, room=room)
    muted = (
        membership is not None
        and membership.muted_until is not None
        and membership.muted_until > timezone.now()
    )
    return render(
        request,
        "rooms/detail.html",
        {
            "room": room,
            "name": selectors.room_label(room=room, user=request.user),
            "members": selectors.room_member_usernames(room=room) if room.is_private else None,
            "invite_form": InviteForm(),
            "last_read_seq": membership.last_read_seq if membership is not None else "",
            "can_moderate": access.can_moderate(user=request.user, room=room),
            "can_pin": access.can_pin(user=request.user, room=room),
            "my_role": membership.role if membership is not None else "",
            "guests_enabled": settings.CHAT_GUESTS,
            "edit_window": settings.CHAT_EDIT_WINDOW,
            "muted_until": membership.muted_until if muted else None,
            "muted_reason": selectors.mute_reason(room=room, user=request.user) if muted else "",
            "notify_level": notify_level_for(
                room_kind=room.kind, stored=membership.notify_level if membership else ""
            ),
            "notify_levels": NotifyLevel.choices,
        },
    )


@login_required
def mention_list(request):
    """Messages that @mention me, newest first, each linking to its room."""
    mentions = selectors.mentions_for_user(user=request.user)
    labels = selectors.room_labels(user=request.user, rooms={m.room for m in mentions})
    rows = [{"message": m, "room_name": labels[m.room_id]["label"]} for m in mentions]
    return render(request, "rooms/mentions.html", {"mentions": rows})


SEARCH_RESULTS = 50


@login_required
def message_search(request):
    """Messages matching the query in rooms I may read, newest first (at most 50), each
    with its matched words marked and a link to the room opened at that message."""
    search_query = request.GET.get("q", "").strip()[:200]
    words = selectors.search_words(search_query)
    messages_found = selectors.messages_search(
        user=request.user, query=search_query, limit=SEARCH_RESULTS
    )
    labels = selectors.room_labels(user=request.user, rooms={m.room for m in messages_found})
    results = [
        {
            "message": message,
            "room_name": labels[message.room_id]["label"],
            "body": formatting.highlight_words(message.body, words),
        }
        for message in messages_found
    ]
    return render(
        request,
        "rooms/search.html",
        {"search_query": search_query, "results": results, "limit": SEARCH_RESULTS},
    )


@login_required
def conference_new(request):
    form = ConferenceForm(request.POST or None, initial={"members": request.GET.get("with", "")})
    if request.method == "POST" and form.is_valid():
        try:
            room = services.room_create(
                creator=request.user,
                name=form.cleaned_data["name"],
                kind="conference",
                members=form.cleaned_data["members"],
            )
        except ChatError as exc:
            form.add_error("members", exc.detail)
        else:
            return redirect("rooms:detail", room_id=room.id)
    return render(request, "rooms/new_conference.html", {"form": form})


@login_required
@require_POST
def direct_open(request, username: str):
    """The profile's "Message" button: open the one 1:1 room with that user."""
    try:
        room, _ = services.direct_get_or_create(user=request.user, username=username)
    except ChatError as exc:
        messages.error(request, exc.detail)
        return redirect("accounts:profile", username=username)
    return redirect("rooms:detail", room_id=room.id)


@login_required
@require_POST
def room_invite(request, room_id: int):
    room = _visible_or_404(request, room_id)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Name at least one user to invite.")
        return redirect("rooms:detail", room_id=room.id)
    try:
        target = services.room_invite(
            room=room, by=request.user, usernames=form.cleaned_data["usernames"]
        )
    except ChatError as exc:
        messages.error(request, exc.detail)
        return redirect("rooms:detail", room_id=room.id)
    invited = ", ".join(form.cleaned_data["usernames"])
    if target.pk != room.pk:
        # A 1:1 chat stays between its two people: inviting starts a conference.
        other = selectors.room_label(room=room, user=request.user)["label"]
        messages.success(
            request,
            f"You started a new conference with {other} and {invited}; "
            f"your private chat with {other} stays as it was.",
        )
    else:
        messages.success(request, f"Invited {invited}.")
    return redirect("rooms:detail", room_id=target.id)


@login_required
@require_POST
def room_leave(request, room_id: int):
    room = _visible_or_404(request, room_id)
    try:
        if room.kind == room.Kind.DIRECT:
            services.direct_hide(room=room, user=request.user)
            messages.success(request, f"{room.name} is hidden until someone writes in it.")
        else:
            services.room_leave(room=room, user=request.user)
            messages.success(request, f"You left {room.name}.")
    except ChatError as exc:
        messages.error(request, exc.detail)
        return redirect("rooms:detail", room_id=room.id)
    return redirect("rooms:list")


@login_required
@require_POST
def room_settings(request, room_id: int):
    """Rename a conference or set the topic (and, in a public room, whether first joins
    are announced), from the room page."""
    room = _visible_or_404(request, room_id)
    name = request.POST.get("name")
    announce = open_to_guests = None
    if room.kind == room.Kind.PUBLIC:
        announce = request.POST.get("announce_joins") == "on"
        if settings.CHAT_GUESTS:  # the box is shown only where guests may come
            open_to_guests = request.POST.get("open_to_guests") == "on"
    try:
        services.room_update(
            room=room,
            by=request.user,
            name=name if name and room.kind == room.Kind.CONFERENCE else None,
            topic=request.POST.get("topic"),
            announce_joins=announce,
            open_to_guests=open_to_guests,
        )
    except ChatError as exc:
        messages.error(request, exc.detail)
    return redirect("rooms:detail", room_id=room.id)


@login_required
def room_audit(request, room_id: int):
    """The room's moderation log, for its owner and moderators (and staff)."""
    room = _visible_or_404(request, room_id)
    try:
        entries = moderation.audit_for_room(room=room, user=request.user)
    except ChatError as exc:
        raise PermissionDenied(exc.detail) from exc
    return render(request, "rooms/audit.html", {"room": room, "entries": entries})
