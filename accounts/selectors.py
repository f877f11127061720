from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User


def user_search(*, query: str) -> QuerySet[User]:
    """Active users whose username or display name contains the query, by username."""
    users = User.objects.filter(is_active=True)
    query = query.strip()
    if query:
        users = users.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
    return users.order_by("username")
