"""The client's address, the one every per-address throttle counts by.

It is the peer's address (REMOTE_ADDR, or the ASGI scope's `client`), except when the
peer is one of CHAT_TRUSTED_PROXIES: then it is the right-most X-Forwarded-For entry
that is not itself a trusted proxy. Each trusted proxy appends (or, like the shipped
nginx, writes) the address it saw, so everything left of the first untrusted entry is
whatever the client chose to send and is never believed. A peer that is not a trusted
proxy gets no say at all: its X-Forwarded-For is ignored.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"


@functools.lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Addresses and CIDR blocks (settings checks them when it reads the environment)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def parse_address(text: str) -> Address | None:
    """An address as proxies write it: bare, `[v6]`, `[v6]:port` or `v4:port`."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port; a bare IPv6 has several colons
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client reaching an IPv6 socket shows up as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)


def _peer_and_forwarded(request_or_scope) -> tuple[str, str]:
    meta = getattr(request_or_scope, "META", None)
    if meta is not None:
        return meta.get("REMOTE_ADDR") or "", meta.get("HTTP_X_FORWARDED_FOR") or ""
    scope = request_or_scope
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    forwarded = ",".join(
        value.decode("latin-1")
        for name, value in scope.get("headers", [])
        if name.lower() == b"x-forwarded-for"
    )
    return peer, forwarded


def client_address(request_or_scope) -> str:
    """The address to count a client by: an HttpRequest or an ASGI scope (sockets)."""
    peer_text, forwarded = _peer_and_forwarded(request_or_scope)
    peer = parse_address(peer_text)
    if peer is None:
        # A unix socket or a test client without an address: one shared bucket.
        return peer_text.strip() or UNKNOWN
    networks = trusted_networks(tuple(settings.CHAT_TRUSTED_PROXIES))
    if not _is_trusted(peer, networks):
        return str(peer)
    nearest = peer
    for entry in reversed([part for part in forwarded.split(",") if part.strip()]):
        hop = parse_address(entry)
        if hop is None:
            # A trusted proxy wrote something that is not an address ("unknown"): the
            # nearest address we can vouch for is the proxy that forwarded it.
            return str(nearest)
        if not _is_trusted(hop, networks):
            return str(hop)
        nearest = hop
    # Every hop is a trusted proxy: the farthest one is as close to the client as we get.
    return str(nearest)
