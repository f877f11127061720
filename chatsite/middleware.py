"""Django's own middleware, without the thread hops in async requests.

Under ASGI, Django runs each hook of a classic (MiddlewareMixin) middleware through
sync_to_async(thread_sensitive=True): every hook of every request queues for the one
thread Django keeps for sync code. That is a dozen hops per request, all on one
thread; a thousand long polls woken by one message left through it one by one.

The hooks of these do no I/O (they read cookies, set headers, build lazy objects), so
in an async request they run in the event loop. Those that can touch the database or
the disk hop only when they must: the session when it has to be saved, messages when
some must be stored, CSRF when it checks an unsafe request (a POST's body is parsed,
an upload spooled to disk) or keeps its secret in the session. Sync requests (the
test client, WSGI) are unchanged.

Django's deploy checks find Security, CSRF and X-Frame-Options by their exact paths;
chatsite/checks.py runs those checks for the subclasses here.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")  # what CSRF lets through unchecked


class InlineHooks:
    """Runs process_request / process_response in the event loop for async requests.
    Subclasses say when a response hook needs the sync thread after all."""

    def request_needs_thread(self, request) -> bool:
        return False

    def response_needs_thread(self, request, response) -> bool:
        return False

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            if self.request_needs_thread(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(
                    request
                )
            else:
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


class InlineSecurityMiddleware(InlineHooks, SecurityMiddleware):
    """HTTPS redirect and security headers: settings and headers only."""


class InlineXFrameOptionsMiddleware(InlineHooks, XFrameOptionsMiddleware):
    """One header."""


class InlineCsrfViewMiddleware(InlineHooks, CsrfViewMiddleware):
    """The cookie is read and set in the event loop. The view hook, which Django calls
    on its own (not through __acall__), is a coroutine in an async request: a safe
    method or an exempt view (the JSON API checks its own) only marks the request, in
    the loop; an unsafe one is checked in the sync thread, since the check reads the
    body (a form, an upload spooled to disk) and a refusal renders a page.

    For MIDDLEWARE only: as a view decorator (decorator_from_middleware) on an async
    view its process_view would hand back a coroutine; decorators use Django's class."""

    def request_needs_thread(self, request) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_needs_thread(self, request, response) -> bool:
        return settings.CSRF_USE_SESSIONS

    @property
    def process_view(self):
        # Django adapts this hook by what it is when the chain is built: a coroutine
        # function runs in the loop, a plain one in a thread (async requests) or as is.
        if self.async_mode:
            return self._process_view_async
        return super().process_view

    async def _process_view_async(self, request, callback, callback_args, callback_kwargs):
        check = CsrfViewMiddleware.process_view
        if request.method in SAFE_METHODS or getattr(callback, "csrf_exempt", False):
            return check(self, request, callback, callback_args, callback_kwargs)
        return await sync_to_async(check, thread_sensitive=True)(
            self, request, callback, callback_args, callback_kwargs
        )
