"""Usernames and display names: how they are normalised, and when one is too like another.

Usernames are stored as typed after NFKC (Django's `normalize_username`), so existing
names and `create_user` keep working. Names are compared by key, never as stored: a
key is the name's skeleton in the sense of Unicode TR39 section 4 (each character
replaced by the prototype of its confusables class), with case folded. Two keys are
kept per name, because folding case and mapping look-alikes do not commute:
"ALICE" only meets "alice" once case is folded, while "aIice" (a capital I) only meets
"alice" if the skeleton maps I to l before case is folded.

- A new username is refused when a key of it equals the same key of an existing
  username ("аlice" with a Cyrillic а, "alıce", "ALICE", "Alice", "aIice" beside
  "alice").
- A new display name (sign-up, profile, /nick) is refused when a key of it equals the
  same key of another user's username or display name. Otherwise display names are
  free text, apart from control characters (rooms.input_checks).

The keys are stored on the user (hashed: a skeleton can be many times longer than the
name) so a check is an indexed query; `User.save()` keeps them current. They depend on
the confusables data of `confusable_homoglyphs`: after upgrading it, recompute every
user's keys with `refresh_keys` in a data migration.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from functools import cache
from typing import TYPE_CHECKING

from confusable_homoglyphs.confusables import confusables_data
from django.contrib.auth import get_user_model
from django.db.models import Q

from rooms.errors import InvalidInput
from rooms.input_checks import refuse_control_characters

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accounts.models import User

DISPLAY_NAME_MAX_LENGTH = 80
# The library reads its pairs from the comments of confusables.txt, where right-to-left
# characters are wrapped in LEFT-TO-RIGHT MARKs for display; the marks are not data.
_DISPLAY_MARK = "\u200e"
_SKELETON_ROUNDS = 4  # a prototype's own characters are prototypes: two rounds suffice


@cache
def _prototypes() -> dict[str, str]:
    """Each character of the confusables data -> the representative of its class.

    The library holds TR39's pairs "source -> prototype" in both directions, so each
    class is a star: one prototype and every source mapped to it. The prototype is the
    member with more than one neighbour, the multi-character one, or (for a class of
    two single characters, where either direction reads the same) the smaller one;
    any fixed choice gives equal skeletons for exactly the strings TR39 calls
    confusable."""
    neighbours: dict[str, set[str]] = defaultdict(set)
    for key, entries in confusables_data.items():
        key = key.replace(_DISPLAY_MARK, "")
        for entry in entries:
            other = entry["c"].replace(_DISPLAY_MARK, "")
            if key and other and key != other:
                neighbours[key].add(other)
                neighbours[other].add(key)
    mapping: dict[str, str] = {}
    seen: set[str] = set()
    for start in neighbours:
        if start in seen:
            continue
        members, stack = set(), [start]
        while stack:
            member = stack.pop()
            if member not in members:
                members.add(member)
                stack.extend(neighbours[member] - members)
        seen |= members
        prototype = min(members, key=lambda m: (-len(neighbours[m]), -len(m), m))
        for member in members:
            if len(member) == 1 and member != prototype:
                mapping[member] = prototype
    return mapping


def _invisible(character: str) -> bool:
    # Format characters (zero-width spaces and joiners, bidi controls, soft hyphens)
    # and variation selectors change nothing a reader sees.
    return unicodedata.category(character) == "Cf" or "\ufe00" <= character <= "\ufe0f"


def skeleton(text: str) -> str:
    """TR39's skeleton: NFD, each character to its prototype, NFD again (repeated until
    nothing changes, so the result is a fixed point). Invisible characters are dropped
    and runs of whitespace count as one space."""
    mapping = _prototypes()
    current = " ".join(text.split())
    for _ in range(_SKELETON_ROUNDS):
        decomposed = unicodedata.normalize("NFD", current)
        mapped = unicodedata.normalize(
            "NFD", "".join(mapping.get(c, c) for c in decomposed if not _invisible(c))
        )
        if mapped == current:
            break
        current = mapped
    return current


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def keys(name: str) -> tuple[str, str]:
    """(folded, cased) keys of a name, hashed; ("", "") for a blank name, which never
    matches anything. `folded` is the skeleton of the case-folded name (ALICE = alice);
    `cased` is the case-folded skeleton of the name as typed (aIice = alice)."""
    normal = unicodedata.normalize("NFKC", name).strip()
    if not normal:
        return "", ""
    folded = skeleton(skeleton(normal.casefold()).casefold())
    cased = skeleton(skeleton(normal).casefold())
    return _hashed(folded), _hashed(cased)


def _same_key(prefix: str, name: str) -> Q:
    folded, cased = keys(name)
    return Q(**{f"{prefix}_key": folded}) | Q(**{f"{prefix}_key_cased": cased})


def same_name(name: str) -> Q:
    """Users whose username or display name is `name` or looks like it."""
    return _same_key("username", name) | _same_key("display_name", name)


def check_new_username(username: str) -> str:
    """The username as it will be stored (NFKC), or InvalidInput when it looks like an
    existing user's username."""
    username = unicodedata.normalize("NFKC", username)
    if not keys(username)[0]:
        return username
    users = get_user_model().objects
    if users.filter(_same_key("username", username)).exists():
        raise InvalidInput(
            f"The username “{username}” is too like an existing username; choose another."
        )
    return username


def clean_display_name(display_name: object, *, user: User | None) -> str:
    """A display name as it will be stored (trimmed), or InvalidInput: not a string,
    too long, holding control characters, or copying (by skeleton) the username or
    display name of a user other than `user` (None: someone signing up). A name the
    user already has is kept as it is, even if someone else's now looks like it."""
    if not isinstance(display_name, str):
        raise InvalidInput("display name must be a string.")
    # One line: checked before whitespace is collapsed, which would hide \x1c-\x1f.
    display_name = " ".join(refuse_control_characters(display_name, field="display name").split())
    if len(display_name) > DISPLAY_NAME_MAX_LENGTH:
        raise InvalidInput(f"display name must be at most {DISPLAY_NAME_MAX_LENGTH} characters.")
    if not display_name or (user is not None and display_name == user.display_name):
        return display_name
    others = get_user_model().objects.filter(
        _same_key("username", display_name) | _same_key("display_name", display_name)
    )
    # A guest's name is unique in its room only (rooms/guests.py), and a guest gone idle
    # frees it: members never clash with guests no longer active.
    others = others.exclude(is_guest=True, is_active=False)
    if user is not None and user.pk is not None:
        others = others.exclude(pk=user.pk)
    if others.exists():
        raise InvalidInput(
            f"The display name “{display_name}” is too like another user's name; choose another."
        )
    return display_name


def refresh_keys(users: Iterable[User]) -> None:
    """Recompute and save the stored keys of these users (after the confusables data
    changed). Writes only the key columns."""
    for user in users:
        user.username_key, user.username_key_cased = keys(user.username)
        user.display_name_key, user.display_name_key_cased = keys(user.display_name)
        user.save(
            update_fields=[
                "username_key",
                "username_key_cased",
                "display_name_key",
                "display_name_key_cased",
            ]
        )
