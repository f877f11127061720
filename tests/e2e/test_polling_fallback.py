"""Where WebSockets are blocked, the room page falls back to long polling over the HTTP
API, and goes back to the socket as soon as it can, without losing or doubling a
message on either switch."""

from __future__ import annotations

import re
import threading

import pytest

from tests.e2e.pages import (
    LIVE,
    create_room,
    expect,
    message_texts,
    open_room_from_list,
    send,
    sign_up,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOCKET = re.compile(r".*/ws/chat/.*")


def shown_once(page, text: str) -> None:
    expect(page.get_by_role("log").get_by_text(text, exact=True)).to_have_count(1, timeout=LIVE)


def test_a_blocked_socket_falls_back_to_polling_and_upgrades_back(new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    create_room(bob, "Firewalled")

    blocked = threading.Event()
    sockets = []

    def route(websocket):
        if blocked.is_set():
            websocket.close(code=1011, reason="blocked by a proxy")
        else:
            sockets.append((websocket, websocket.connect_to_server()))

    http = []
    alice.on(
        "request",
        lambda request: "/api/rooms/" in request.url and http.append((request.method, request.url)),
    )
    alice.route_web_socket(SOCKET, route)
    open_room_from_list(alice, "Firewalled")
    send(alice, "1 alice over the socket")
    send(bob, "2 bob over the socket")
    shown_once(alice, "2 bob over the socket")

    blocked.set()
    page_side, server_side = sockets[-1]
    page_side.close(code=4000, reason="cut off")
    server_side.close(code=1000, reason="cut off")
    # Typed while cut off: waits on the page, then goes out over HTTP.
    send(alice, "3 alice while cut off")
    status = alice.get_by_role("status")
    expect(status).to_have_text("Live updates via polling", timeout=LIVE)
    shown_once(bob, "3 alice while cut off")
    send(bob, "4 bob to a polling page")
    shown_once(alice, "4 bob to a polling page")
    send(alice, "5 alice over HTTP")
    shown_once(bob, "5 alice over HTTP")
    assert any(method == "POST" and url.endswith("/messages") for method, url in http)
    assert any(method == "GET" and "wait=" in url for method, url in http)

    blocked.clear()
    expect(status).to_have_text("Connected", timeout=15_000)
    posts = len([1 for method, _ in http if method == "POST"])
    send(bob, "6 bob after the upgrade")
    send(alice, "7 alice over the socket again")
    shown_once(alice, "6 bob after the upgrade")
    shown_once(bob, "7 alice over the socket again")
    assert len([1 for method, _ in http if method == "POST"]) == posts, "sent over HTTP"

    expected = [
        "1 alice over the socket",
        "2 bob over the socket",
        "3 alice while cut off",
        "4 bob to a polling page",
        "5 alice over HTTP",
        "6 bob after the upgrade",
        "7 alice over the socket again",
    ]
    assert message_texts(alice) == expected
    assert message_texts(bob) == expected


def test_a_page_that_never_gets_a_socket_chats_by_polling(new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    create_room(bob, "Behind a proxy")
    send(bob, "history before alice came")
    alice.route_web_socket(SOCKET, lambda websocket: websocket.close(code=1011))

    alice.goto("/")
    alice.get_by_role("link", name="Behind a proxy").click()
    expect(alice.get_by_role("status").filter(has_text="Live updates via polling")).to_be_visible(
        timeout=LIVE
    )
    shown_once(alice, "history before alice came")
    send(alice, "hello from behind the proxy")
    shown_once(bob, "hello from behind the proxy")
    send(bob, "welcome")
    shown_once(alice, "welcome")

    # Commands run only over the socket: refused, and the text is kept for later.
    box = alice.get_by_label("Message", exact=True)
    box.fill("/me waves")
    box.press("Enter")
    expect(alice.get_by_role("alert")).to_contain_text("Commands need the live connection")
    expect(box).to_have_value("/me waves")
    box.fill("")
    send(alice, "//slash is literal")
    shown_once(bob, "/slash is literal")
    assert message_texts(alice) == [
        "history before alice came",
        "hello from behind the proxy",
        "welcome",
        "/slash is literal",
    ]
