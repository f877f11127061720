"""Django's own middleware, without the thread hops in async requests.

Under ASGI, Django runs each hook of a classic (MiddlewareMixin) middleware through
sync_to_async(thread_sensitive=True): every hook of every request queues for the one
thread Django keeps for sync code. That is a dozen hops per request, all on one
thread; a thousand long polls woken by one message left through it one by one.

The hooks of these four do no I/O (they read cookies, set headers, build lazy
objects), so in an async request they run in the event loop. The two that can touch
the database hop only when they must: the session when it has to be saved, messages
when some must be stored. Sync requests (the test client, WSGI) are unchanged.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.common import CommonMiddleware


class InlineHooks:
    """Runs process_request / process_response in the event loop for async requests.
    Subclasses say when a response hook needs the sync thread after all."""

    def response_needs_thread(self, request, response) -> bool:
        return False

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = self.process_response(request, response)
        return response


class InlineSessionMiddleware(InlineHooks, SessionMiddleware):
    def response_needs_thread(self, request, response) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class InlineCommonMiddleware(InlineHooks, CommonMiddleware):
    pass


class InlineAuthenticationMiddleware(InlineHooks, AuthenticationMiddleware):
    pass


class InlineMessageMiddleware(InlineHooks, MessageMiddleware):
    def response_needs_thread(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class InlineCSPMiddleware(InlineHooks, CSPMiddleware):
    """django-csp's header; its hooks only build a string, so they stay in the loop."""
