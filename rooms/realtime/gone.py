"""What the ASGI server raises when a frame is sent to a socket whose client has just
closed (its `websocket.disconnect` still queued): daphne's (autobahn) and uvicorn's own
errors. Sockets treat them as "the client left", never as a server fault."""

from __future__ import annotations


def _client_gone_errors() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = []
    try:
        from autobahn.exception import Disconnected

        kinds.append(Disconnected)
    except ImportError:  # pragma: no cover - daphne (hence autobahn) is a runtime dependency
        pass
    try:
        from uvicorn.protocols.utils import ClientDisconnected

        kinds.append(ClientDisconnected)
    except ImportError:  # uvicorn is only a bench tool
        pass
    return tuple(kinds)


CLIENT_GONE = _client_gone_errors()
