"""Property-based fuzz of the two notification settings: POST
/api/rooms/{id}/notifications and PUT /api/me/dnd, fed hostile bodies (wrong types,
NUL, lone surrogates, nesting to 2,000 levels, huge strings). A body that is not a
valid setting is refused with a 4xx and a reason, and no setting changes; a valid one
stores exactly what it said. (test_api_fuzz.py fuzzes every operation more broadly;
this one knows what each of these two should answer.)"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from rooms.models import Membership
from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory
from tests.test_api_fuzz import BAD_UTF8, BODY_LIMIT, HOSTILE_TEXT, HOSTILE_VALUES, _json_text

pytestmark = pytest.mark.django_db

LEVELS = ("all", "mentions", "nothing")
MAX_MINUTES = 7 * 24 * 60


def _field(valid):
    """Mostly hostile values of any type, sometimes a valid one."""
    return st.one_of(valid, HOSTILE_VALUES, HOSTILE_TEXT, st.integers(-(2**70), 2**70))


NOTIFICATION_BODIES = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "level": _field(st.sampled_from(LEVELS)),
            "muted": _field(st.booleans()),
        },
    ),
    HOSTILE_VALUES,
)
DND_BODIES = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "on": _field(st.booleans()),
            "minutes": _field(st.integers(min_value=-5, max_value=MAX_MINUTES + 5)),
        },
    ),
    HOSTILE_VALUES,
)


@pytest.fixture
def world(db):
    user = UserFactory(username="fuzzer")
    room = RoomFactory(creator=user)
    return {
        "user": user,
        "room": room,
        "client": Client(),
        "headers": {"Authorization": f"Bearer {token_for(user)}"},
    }


def _state(world) -> tuple:
    membership = Membership.objects.get(room=world["room"], user=world["user"])
    user = User.objects.get(pk=world["user"].pk)
    return membership.notify_level, user.do_not_disturb_until


def _encode(body) -> bytes:
    return _json_text(body).encode().replace(str(BAD_UTF8).encode(), b'"\xed\xa0\x80"')


def _send(world, method: str, path: str, body) -> tuple[int, dict]:
    raw = _encode(body)
    response = world["client"].generic(
        method, path, raw, content_type="application/json", headers=world["headers"]
    )
    assert response.status_code < 500, (path, raw[:200], response.content[:300])
    data = response.json() if response.content else {}
    if response.status_code >= 400:
        assert isinstance(data.get("detail"), str), response.content
    if len(raw) > BODY_LIMIT:
        assert response.status_code == 413, raw[:200]
    return response.status_code, data


def _valid_notification(body) -> str | None | bool:
    """The level a valid body sets (None: the default), or False if it is not valid.
    `muted` may be any value pydantic reads as a boolean; such a body is only
    called valid when it is a real JSON boolean (others are checked loosely below)."""
    if not isinstance(body, dict):
        return False
    level, muted = body.get("level"), body.get("muted")
    if level is not None and (not isinstance(level, str) or level not in LEVELS):
        return False
    if (level is None) == (muted is None):
        return False
    if level is not None:
        return level
    if isinstance(muted, bool):
        return "nothing" if muted else None
    return False


FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@FUZZ_SETTINGS
@given(body=NOTIFICATION_BODIES)
def test_hostile_notification_bodies_are_refused_and_change_nothing(world, settings, body):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = BODY_LIMIT
    with transaction.atomic():
        Membership.objects.filter(room=world["room"], user=world["user"]).update(notify_level="all")
        before = _state(world)
        status, _ = _send(world, "POST", f"/api/rooms/{world['room'].id}/notifications", body)
        expected = _valid_notification(body)
        level_after, dnd_after = _state(world)
        assert dnd_after == before[1]
        if status >= 400:
            assert 400 <= status < 500
            assert (level_after, dnd_after) == before
            # A level that is not one of the three is always refused.
            assert expected is False
        else:
            assert status == 204
            assert level_after in ("", *LEVELS)
            if expected is not False:
                assert level_after == (expected or "")
            else:
                # Only a `muted` that pydantic reads as a boolean ("true", 1, "off"...)
                # gets here: it sets nothing or the default, nothing else.
                assert isinstance(body, dict) and "muted" in body and body.get("level") is None
                assert level_after in ("", "nothing")
        transaction.set_rollback(True)


def _valid_dnd(body) -> bool:
    if not isinstance(body, dict):
        return False
    on, minutes = body.get("on"), body.get("minutes")
    if on is not None and not isinstance(on, bool):
        return False
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES
    ):
        return False
    if on is None and minutes is None:
        return False
    return not (on is False and minutes is not None)


@FUZZ_SETTINGS
@given(body=DND_BODIES)
def test_hostile_do_not_disturb_bodies_are_refused_and_change_nothing(world, settings, body):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = BODY_LIMIT
    with transaction.atomic():
        before = _state(world)
        status, data = _send(world, "PUT", "/api/me/dnd", body)
        after = _state(world)
        assert after[0] == before[0]
        if _valid_dnd(body):
            assert status == 200, (body, data)
            assert data["on"] is (body.get("on") is not False)
            assert (after[1] is not None) is data["on"]
        else:
            assert 400 <= status < 500, (body, data)
            assert after == before
        transaction.set_rollback(True)
