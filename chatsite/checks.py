"""Django's deploy checks for the middleware that chatsite.middleware runs in the loop.

Django's security checks find SecurityMiddleware, CsrfViewMiddleware and
XFrameOptionsMiddleware by their exact dotted paths. With our subclasses in MIDDLEWARE,
Django reports them missing (security.W001-W003, silenced in settings for that reason)
and skips every check that depends on them: HSTS, the HTTPS redirect, nosniff, the
referrer and opener policies, X-Frame-Options DENY, the CSRF cookie's Secure flag.

Here those same checks of Django's run again with each subclass counted as the class
it extends, so `check --deploy` says what it says of Django's own classes, in Django's
words and with Django's IDs. A middleware really missing is reported as chatsite.W001-W003
(Django's IDs for that are the silenced ones).
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.core.checks.security import base, csrf

# Our subclass -> the Django class it stands for.
STANDS_FOR = {
    "chatsite.middleware.InlineSecurityMiddleware": "django.middleware.security.SecurityMiddleware",
    "chatsite.middleware.InlineCsrfViewMiddleware": "django.middleware.csrf.CsrfViewMiddleware",
    "chatsite.middleware.InlineXFrameOptionsMiddleware": (
        "django.middleware.clickjacking.XFrameOptionsMiddleware"
    ),
}

# Django's checks that look for one of those three by path.
_DEPENDENT = (
    base.check_security_middleware,
    base.check_xframe_options_middleware,
    base.check_sts,
    base.check_sts_include_subdomains,
    base.check_sts_preload,
    base.check_content_type_nosniff,
    base.check_ssl_redirect,
    base.check_xframe_deny,
    base.check_referrer_policy,
    base.check_cross_origin_opener_policy,
    csrf.check_csrf_middleware,
    csrf.check_csrf_cookie_secure,
)
SILENCED_AS_MISSING = ("security.W001", "security.W002", "security.W003")


@register(Tags.security, deploy=True)
def check_inline_middleware(app_configs, **kwargs):
    # Imported here: the checks run in `manage.py check`, not in every worker.
    from django.test.utils import override_settings

    as_django = [STANDS_FOR.get(path, path) for path in settings.MIDDLEWARE]
    with override_settings(MIDDLEWARE=as_django):
        found = [message for check in _DEPENDENT for message in check(app_configs)]
    # What Django's own run says already (one of its classes listed as itself) is not
    # said twice; its "missing" warnings are silenced, so ours always count.
    said = [message for check in _DEPENDENT for message in check(app_configs)]
    return [
        _as_ours(message) if message.id in SILENCED_AS_MISSING else message
        for message in found
        if message.id in SILENCED_AS_MISSING or message not in said
    ]


def _as_ours(message: Warning) -> Warning:
    return Warning(message.msg, hint=message.hint, id=message.id.replace("security.", "chatsite."))
