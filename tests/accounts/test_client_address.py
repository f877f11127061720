"""The client address every throttle counts by (chatsite/client_address.py), and the
shipped proxy set-up that feeds it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from chatsite import settings as site_settings
from chatsite.client_address import client_address

ROOT = Path(__file__).resolve().parent.parent.parent


def request(remote: str | None, forwarded: str | None = None):
    meta = {}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    built = RequestFactory().get("/", **meta)
    if remote is None:
        del built.META["REMOTE_ADDR"]
    else:
        built.META["REMOTE_ADDR"] = remote
    return built


def scope(client: str | None, *forwarded: str) -> dict:
    return {
        "type": "websocket",
        "client": [client, 51234] if client else None,
        "headers": [(b"host", b"chat.example")]
        + [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


def test_with_no_trusted_proxy_the_peer_is_the_client(settings):
    settings.CHAT_TRUSTED_PROXIES = []
    assert client_address(request("198.51.100.7")) == "198.51.100.7"


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(settings):
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.5"]
    assert client_address(request("198.51.100.7", "192.0.2.1")) == "198.51.100.7"
    settings.CHAT_TRUSTED_PROXIES = []
    assert client_address(request("198.51.100.7", "192.0.2.1")) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(settings):
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.5"]
    assert client_address(request("10.0.0.5", "198.51.100.7")) == "198.51.100.7"


def test_the_right_most_untrusted_entry_wins_over_what_the_client_made_up(settings):
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.5"]
    # The client sent "X-Forwarded-For: 192.0.2.1"; an appending proxy added its peer.
    assert client_address(request("10.0.0.5", "192.0.2.1, 198.51.100.7")) == "198.51.100.7"


def test_a_chain_of_trusted_proxies_is_walked_past(settings):
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.0/8", "172.16.0.1"]
    forwarded = "192.0.2.1, 198.51.100.7, 172.16.0.1, 10.2.3.4"
    assert client_address(request("10.0.0.5", forwarded)) == "198.51.100.7"


def test_when_every_hop_is_trusted_the_farthest_one_counts(settings):
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(request("10.0.0.5", "10.9.9.9, 10.1.1.1")) == "10.9.9.9"
    assert client_address(request("10.0.0.5")) == "10.0.0.5"
    assert client_address(request("10.0.0.5", " , ")) == "10.0.0.5"


def test_an_entry_that_is_no_address_stops_at_the_proxy_that_wrote_it(settings):
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(request("10.0.0.5", "198.51.100.7, unknown")) == "10.0.0.5"
    assert client_address(request("10.0.0.5", "unknown, 10.2.2.2")) == "10.2.2.2"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("198.51.100.7:4711", "198.51.100.7"),
        ("[2001:db8::7]:4711", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("2001:DB8:0:0::7", "2001:db8::7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
    ],
)
def test_forwarded_entries_are_read_as_proxies_write_them(settings, entry, expected):
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.5", "fd00::/8"]
    assert client_address(request("10.0.0.5", entry)) == expected
    assert client_address(request("fd00::1", entry)) == expected


def test_an_ipv4_peer_on_an_ipv6_socket_is_matched_as_ipv4(settings):
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.5"]
    assert client_address(request("::ffff:10.0.0.5", "198.51.100.7")) == "198.51.100.7"


def test_a_peer_without_an_address_is_one_shared_unknown(settings):
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.5"]
    assert client_address(request(None, "192.0.2.1")) == "unknown"
    assert client_address(request("", "192.0.2.1")) == "unknown"


def test_a_socket_scope_is_read_the_same_way(settings):
    settings.CHAT_TRUSTED_PROXIES = []
    assert client_address(scope("198.51.100.7", "192.0.2.1")) == "198.51.100.7"
    settings.CHAT_TRUSTED_PROXIES = ["10.0.0.5"]
    assert client_address(scope("10.0.0.5", "192.0.2.1", "198.51.100.7")) == "198.51.100.7"
    assert client_address(scope(None)) == "unknown"


def test_the_setting_accepts_addresses_and_blocks(monkeypatch):
    monkeypatch.setenv("CHAT_TRUSTED_PROXIES", "10.0.0.5, 172.18.0.0/16,fd00::/8")
    assert site_settings.env_networks("CHAT_TRUSTED_PROXIES") == [
        "10.0.0.5",
        "172.18.0.0/16",
        "fd00::/8",
    ]
    monkeypatch.delenv("CHAT_TRUSTED_PROXIES")
    assert site_settings.env_networks("CHAT_TRUSTED_PROXIES") == []


@pytest.mark.parametrize("bad", ["nginx", "10.0.0.300", "10.0.0.0/33", "*"])
def test_the_setting_refuses_anything_else(monkeypatch, bad):
    monkeypatch.setenv("CHAT_TRUSTED_PROXIES", f"10.0.0.5,{bad}")
    with pytest.raises(ImproperlyConfigured, match="CHAT_TRUSTED_PROXIES"):
        site_settings.env_networks("CHAT_TRUSTED_PROXIES")


def test_the_shipped_nginx_overwrites_x_forwarded_for():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", conf)
    assert "$proxy_add_x_forwarded_for" not in conf


def test_the_shipped_daphne_does_not_believe_x_forwarded_for():
    # daphne's --proxy-headers takes the left-most X-Forwarded-For entry, which any
    # client can write, from any peer.
    commands = [
        line
        for path in ("Dockerfile", "docker-compose.yml")
        for line in (ROOT / path).read_text().splitlines()
        if "daphne" in line and not line.lstrip().startswith("#")
    ]
    assert commands
    assert not [line for line in commands if "proxy-headers" in line]


def test_the_compose_stack_trusts_its_own_network_as_the_proxy():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "CHAT_TRUSTED_PROXIES:" in compose
