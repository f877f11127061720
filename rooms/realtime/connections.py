"""What the rest of the site may ask of live connections, in plain synchronous calls.

accounts/ (log-out, profiles) and the domain's pages go through these functions and
never reach into the channel layer, presence or the consumers themselves.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync

from rooms.realtime import events, presence


def close_session_connections(session_key: str) -> None:
    """Log-out: close every socket opened with that session, on every process (4401)."""
    events.session_ended(session_key)


def close_credential_connections(credential: str) -> None:
    """A revoked credential ("token:<id>"): close every socket, gateway line and long
    poll it opened (directly or through a ticket), on every process, after commit."""
    events.credential_revoked(credential)


def online_usernames() -> set[str]:
    """Who has any connection open (a socket or a gateway line) right now."""
    return set(async_to_sync(presence.store().online)(presence.SITE))


def is_online(username: str) -> bool:
    return username in online_usernames()
