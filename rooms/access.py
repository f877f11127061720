"""Who may do what in a room: the decisions every service asks, in one place.

Services raise the errors; this module only answers questions, so it imports nothing
but models and selectors and every other rooms module may import it.
"""

from __future__ import annotations

from accounts.models import User
from rooms import selectors
from rooms.models import Membership, Room


def can_moderate(*, user: User, room: Room) -> bool:
    """Owners and moderators of the room; site staff in any public room."""
    if user.is_staff and room.kind == Room.Kind.PUBLIC:
        return True
    membership = selectors.membership_get(user=user, room=room)
    return membership is not None and membership.role in (
        Membership.Role.OWNER,
        Membership.Role.MODERATOR,
    )
