"""`{% sidebar %}`: the signed-in user's rooms beside every page but the room list
(which is the same list, in full). static/js/sidebar.js keeps it current."""

from __future__ import annotations

from django import template

from rooms import selectors

register = template.Library()


@register.inclusion_tag("rooms/_sidebar.html", takes_context=True)
def sidebar(context, current=None):
    user = context["user"]
    entries = selectors.sidebar_rooms(user=user)
    return {
        "public": [e for e in entries if e["room"].kind == "public"],
        "private": [e for e in entries if e["room"].kind != "public"],
        "current": current,
        # The room being read counts nothing (sidebar.js draws it the same way).
        "total": sum(e["unread"] for e in entries if e["room"].id != current),
    }
