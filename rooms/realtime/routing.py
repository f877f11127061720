"""WebSocket paths: the chat socket, the old clients' socket at ws/compat/ and at any
path CHAT_COMPAT_PATHS adds (where an old client expects its server). Any other path
is accepted and closed with 4404, so a client that dialled the wrong address learns
it (and the server logs no traceback)."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.urls import path, re_path

from rooms.realtime.compat import CompatConsumer
from rooms.realtime.consumers import ChatConsumer

NOT_FOUND = 4404


class UnknownPath(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        await self.close(code=NOT_FOUND)


websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    path("ws/compat/", CompatConsumer.as_asgi()),
    *(path(extra, CompatConsumer.as_asgi()) for extra in settings.CHAT_COMPAT_PATHS),
    re_path(r"", UnknownPath.as_asgi()),
]
