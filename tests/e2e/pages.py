"""What the browser tests do on the site's pages, by the outside contract's accessible
names: sign up, log in, open a room, send, read the role=log element."""

from __future__ import annotations

import re
import threading

PASSWORD = "a-long-Unusual-passphrase-77"
LIVE = 10_000  # ms: how long a message may take to arrive in the other browser


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def sign_up(page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("link", name="New room")).to_be_visible()


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="New room")).to_be_visible()


def create_room(page, name: str) -> None:
    page.get_by_role("link", name="New room").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create room").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    wait_until_joined(page)


def open_room_from_list(page, name: str) -> None:
    page.goto("/")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    wait_until_joined(page)


def wait_until_joined(page) -> None:
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()


def send(page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    page.get_by_role("button", name="Send").click()
    expect(box).to_have_value("")


def message_texts(page) -> list[str]:
    """The bodies of people's delivered messages in the log, top to bottom (once no
    send is still on its way); system lines such as "bob joined" are left out."""
    log = page.get_by_role("log")
    expect(log.locator("[aria-busy=true]")).to_have_count(0, timeout=LIVE)
    texts = log.locator("article:not(.kind-system) .body").all_inner_texts()
    return [text.strip() for text in texts]


def wait_for(page, condition, timeout: float = LIVE) -> None:
    """Poll a Python-side condition while letting Playwright deliver its events."""
    waited = 0
    while not condition():
        assert waited < timeout, "timed out"
        page.wait_for_timeout(100)
        waited += 100


def create_user(username: str, **fields):
    """A user who logs in with PASSWORD, made with the ORM (before the browser starts:
    the ORM refuses to run beside Playwright's event loop). Hashed as the server hashes.
    Other keyword arguments (display_name=, bio=...) set those fields."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from tests.factories import UserFactory

    hasher = PBKDF2PasswordHasher()
    user = UserFactory(username=username, **fields)
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    return user


def call_api(page, method: str, path: str, data=None):
    """An HTTP API call with the page's session and CSRF token; returns the response."""
    csrf = next((c["value"] for c in page.context.cookies() if c["name"] == "csrftoken"), "")
    headers = {"X-CSRFToken": csrf, "Referer": page.url}
    return page.request.fetch(path, method=method, data=data, headers=headers)


def add_messages(room, author, bodies: list[str]) -> None:
    """Append messages to a room in one query (message_post's rate limit would refuse
    a burst), keeping its seq and rev counters and its last activity in step."""
    from django.utils import timezone

    from rooms.models import Message, Room

    room.refresh_from_db()
    Message.objects.bulk_create(
        Message(room=room, seq=room.last_seq + n, rev=room.last_rev + n, author=author, body=body)
        for n, body in enumerate(bodies, start=1)
    )
    Room.objects.filter(pk=room.pk).update(
        last_seq=room.last_seq + len(bodies),
        last_rev=room.last_rev + len(bodies),
        last_message_at=timezone.now(),
    )
    room.refresh_from_db()


class SocketSwitch:
    """Cuts and restores a page's chat socket, as a flaky network would: while off,
    the page's socket opens but nothing reaches the server.

        switch = SocketSwitch(page); switch.off("network went away"); switch.on("back")
    """

    def __init__(self, page) -> None:
        self.online = threading.Event()
        self.online.set()
        self.routes: list = []  # (page side, server side or None), one per socket opened
        page.route_web_socket(re.compile(r".*/ws/chat/.*"), self._route)

    def _route(self, websocket) -> None:
        server = websocket.connect_to_server() if self.online.is_set() else None
        self.routes.append((websocket, server))

    def _drop(self, reason: str) -> None:
        page_side, server_side = self.routes[-1]
        page_side.close(code=4000, reason=reason)
        if server_side is not None:
            server_side.close(code=1000, reason=reason)

    def off(self, reason: str) -> None:
        self.online.clear()
        self._drop(reason)

    def on(self, reason: str) -> None:
        """Back online: drop the dead socket so the page reconnects at once."""
        self.online.set()
        self._drop(reason)

    @property
    def attempts(self) -> int:
        return len(self.routes)
