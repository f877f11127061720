"""token_authenticate: one raw query for the token's active user (every socket and
token request runs it), last_used stamped at most once a minute; on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def test_the_tokens_user_comes_back_with_its_credential(alice):
    token, secret = services.token_create(user=alice, name="bot")
    user = services.token_authenticate(secret=secret)
    assert user == alice and user.username == "alice" and user.is_authenticated
    assert user.chat_credential == f"token:{token.pk}"
    assert user.date_joined == alice.date_joined  # a whole user, converted as the ORM does


def test_last_used_is_stamped_on_first_use_then_at_most_once_a_minute(alice):
    token, secret = services.token_create(user=alice, name="bot")
    assert token.last_used is None
    services.token_authenticate(secret=secret)
    first = ApiToken.objects.get(pk=token.pk).last_used
    assert first is not None
    services.token_authenticate(secret=secret)
    assert ApiToken.objects.get(pk=token.pk).last_used == first  # within the minute
    old = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used=old)
    services.token_authenticate(secret=secret)
    assert ApiToken.objects.get(pk=token.pk).last_used > old + timedelta(minutes=1)


@pytest.mark.parametrize("secret", ["", "cst_nope", "x" * 201, "cst_\x00", "\ud800"])
def test_a_wrong_secret_is_nobody(alice, secret):
    services.token_create(user=alice, name="bot")
    assert services.token_authenticate(secret=secret) is None


def test_an_inactive_users_token_is_nobody(alice):
    _, secret = services.token_create(user=alice, name="bot")
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert services.token_authenticate(secret=secret) is None
