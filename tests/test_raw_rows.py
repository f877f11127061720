"""chatsite.raw_rows: raw rows become the instances the ORM would build, with the
converters looked up once per connection (each thread has its own) and model."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from django.db import connection, connections

from accounts.models import User
from chatsite import raw_rows

pytestmark = pytest.mark.django_db(transaction=True)


def _read(user_id: int) -> User:
    fields = User._meta.concrete_fields
    q = connection.ops.quote_name
    sql = f"SELECT {', '.join(raw_rows.columns('u', fields))} FROM {q(User._meta.db_table)} u WHERE u.id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id])
        return raw_rows.from_row(User, fields, cursor.fetchone())


def _same_as_the_orm(user: User) -> None:
    expected = User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        assert getattr(user, field.attname) == getattr(expected, field.attname), field.name


def test_a_row_is_the_orms_instance_on_every_call_and_every_thread(alice):
    _same_as_the_orm(_read(alice.pk))
    cache = getattr(connections["default"], raw_rows._CACHE)
    key = (User, tuple(field.attname for field in User._meta.concrete_fields))
    cached = cache[key]
    _same_as_the_orm(_read(alice.pk))
    assert getattr(connections["default"], raw_rows._CACHE)[key] is cached  # looked up once

    seen: list[User] = []
    wrappers: list[weakref.ref] = []

    def other_thread():
        try:
            seen.append(_read(alice.pk))
            wrappers.append(weakref.ref(connections["default"]))
        finally:
            connection.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    _same_as_the_orm(seen[0])  # its own connection, its own converters
    del thread
    gc.collect()
    assert wrappers[0]() is None  # the thread's connection went with it, cache and all
