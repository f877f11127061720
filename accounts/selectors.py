from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Block, User


def user_search(*, query: str) -> QuerySet[User]:
    """Active users whose username or display name contains the query, by username."""
    users = User.objects.filter(is_active=True)
    query = query.strip()
    if query:
        users = users.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
    return users.order_by("username")


def blocked_by_any(*, sender: User, recipients: list[User]) -> list[User]:
    """The recipients who have blocked `sender`."""
    blocker_ids = set(
        Block.objects.filter(blocked=sender, blocker__in=recipients).values_list(
            "blocker_id", flat=True
        )
    )
    return [u for u in recipients if u.pk in blocker_ids]


def any_blocks_among(*, users: list[User]) -> bool:
    """Whether any of these users has blocked another of them."""
    ids = [u.pk for u in users]
    return Block.objects.filter(blocker__in=ids, blocked__in=ids).exists()


def has_blocked(*, blocker: User, user: User) -> bool:
    return Block.objects.filter(blocker=blocker, blocked=user).exists()
