from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from rooms import selectors, services
from rooms.errors import ChatError, RoomNotFound
from rooms.forms import RoomForm


@login_required
def room_list(request):
    return render(
        request,
        "rooms/list.html",
        {
            "public_rooms": selectors.public_rooms(),
            "private_rooms": selectors.private_rooms_for_user(user=request.user),
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
            )
        except ChatError as exc:
            form.add_error("name", exc.detail)
        else:
            return redirect("rooms:detail", room_id=room.id)
    return render(request, "rooms/new.html", {"form": form})


@login_required
def room_detail(request, room_id: int):
    try:
        room = selectors.room_get_visible(user=request.user, room_id=room_id)
    except RoomNotFound as exc:
        raise Http404("Room not found.") from exc
    members = selectors.room_member_usernames(room=room) if room.is_private else None
    return render(request, "rooms/detail.html", {"room": room, "members": members})
