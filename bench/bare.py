"""A bare broadcast app, as in the Channels tutorial: the baseline the benchmark
compares the chat site against. No authentication, no storage, no ordering repair.

Frames: `{"type": "join", "room": id}` subscribes the socket to group room.<id> and
is answered `{"type": "joined", "room": id}`; `{"type": "send", "room": id, "body",
"client_id"}` is broadcast to the room as `{"type": "message", "message": {...}}`.
Each message carries `sender` (the sending socket's channel name) and `seq`, a
counter per sending socket, so the load generator can check order and gaps.

Run it with DJANGO_SETTINGS_MODULE=bench.bare_settings (the default here):
`daphne bench.bare:application`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bare_settings")
django_asgi_app = get_asgi_application()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


class BareChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.sent = 0
        self.rooms: set[int] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for room_id in self.rooms:
            await self.channel_layer.group_discard(f"room.{room_id}", self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        try:
            frame = json.loads(text_data or "")
            room_id = int(frame["room"])
        except (ValueError, KeyError, TypeError):
            await self.send(text_data=json.dumps({"type": "error", "code": "invalid"}))
            return
        if frame.get("type") == "join":
            await self.channel_layer.group_add(f"room.{room_id}", self.channel_name)
            self.rooms.add(room_id)
            await self.send(text_data=json.dumps({"type": "joined", "room": room_id}))
        elif frame.get("type") == "send":
            self.sent += 1
            message = {
                "room": room_id,
                "sender": self.channel_name,
                "seq": self.sent,
                "body": frame.get("body"),
                "client_id": frame.get("client_id"),
                # Echoed as given, so a mixed load's frames are the same on both sides.
                "reply_to": frame.get("reply_to"),
                "attachments": frame.get("attachments") or [],
            }
            await self.channel_layer.group_send(
                f"room.{room_id}", {"type": "chat.message", "message": message}
            )

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "message", "message": event["message"]}))


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path("", health), path("health", health)]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("ws/chat/", BareChatConsumer.as_asgi())]),
    }
)
