"""Settings for the chat site.

Everything an operator changes comes from the environment through the small typed
helpers below, which raise ImproperlyConfigured on a bad value. Production differs
from local use only by environment values. An optional `.env` file at the project root
(or the file CHAT_ENV_FILE names) supplies the variables the environment leaves unset.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from redis.exceptions import ConnectionError as RedisConnectionError

from chatsite import redis_shards

BASE_DIR = Path(__file__).resolve().parent.parent

# Before anything is read: a `.env` file fills in what the environment does not set
# (override=False, so a real environment variable always wins).
_ENV_FILE = os.environ.get("CHAT_ENV_FILE") or str(BASE_DIR / ".env")
if os.environ.get("CHAT_ENV_FILE") and not Path(_ENV_FILE).is_file():
    raise ImproperlyConfigured(f"CHAT_ENV_FILE names {_ENV_FILE!r}, which is not a file")
load_dotenv(_ENV_FILE, override=False)
# Below both: defaults a launcher supplies for what neither sets. `make run` writes one
# (.venv/run.env: DEBUG off, a per-checkout SECRET_KEY, plain-HTTP cookies), so a fresh
# clone serves the site as its users see it with no setup.
_DEFAULTS_FILE = os.environ.get("CHAT_DEFAULTS_FILE")
if _DEFAULTS_FILE:
    if not Path(_DEFAULTS_FILE).is_file():
        raise ImproperlyConfigured(
            f"CHAT_DEFAULTS_FILE names {_DEFAULTS_FILE!r}, which is not a file"
        )
    load_dotenv(_DEFAULTS_FILE, override=False)


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> list[str]:
    """A comma-separated list of IP addresses and CIDR blocks (empty by default)."""
    entries = env_list(name, [])
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or CIDR blocks, got {entry!r}"
            ) from exc
    return entries


DEBUG = env_bool("DEBUG", True)
# The embedded key is for local use only; `check --deploy` flags it in production.
SECRET_KEY = env_str("SECRET_KEY", "django-insecure-local-development-key-change-me")
if not DEBUG and SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS", ["http://127.0.0.1:8000", "http://localhost:8000"]
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "accounts",
    "rooms",
    # django-ninja's own copy of Swagger UI for /api/docs (its CDN copy, with an inline
    # script, would break under CONTENT_SECURITY_POLICY).
    "ninja",
    # The project package itself, for its system checks (chatsite/checks.py).
    "chatsite.apps.ChatsiteConfig",
]

MIDDLEWARE = [
    "chatsite.request_log.RequestLogMiddleware",
    "chatsite.middleware.InlineSecurityMiddleware",
    # django-csp's Content-Security-Policy header on every response (CONTENT_SECURITY_POLICY
    # below), its hooks in the event loop like the Inline* ones further down.
    "chatsite.middleware.InlineCSPMiddleware",
    "chatsite.static_files.AsyncWhiteNoiseMiddleware",
    # Before any view: NUL or bad UTF-8 in a path or query (any page), and under /api/
    # a body that is not JSON, nests too deep or holds NUL or a lone surrogate, answer
    # 400; an API body over DATA_UPLOAD_MAX_MEMORY_SIZE 413; each with a sentence
    # ({"detail"} on the API). chatsite/request_checks.py.
    "chatsite.request_checks.RequestChecksMiddleware",
    # Django's security, session, common, CSRF, auth, messages and X-Frame-Options
    # middleware, running their hooks in the event loop in async requests instead of
    # hopping to a thread for each (chatsite/middleware.py). `check --deploy` finds
    # Django's Security, CSRF and X-Frame-Options by their paths: chatsite/checks.py
    # runs those checks for these subclasses, hence the three silenced below.
    "chatsite.middleware.InlineSessionMiddleware",
    "chatsite.middleware.InlineCommonMiddleware",
    "chatsite.middleware.InlineCsrfViewMiddleware",
    "chatsite.middleware.InlineAuthenticationMiddleware",
    "chatsite.middleware.InlineMessageMiddleware",
    "chatsite.middleware.InlineXFrameOptionsMiddleware",
]
# "SecurityMiddleware / CsrfViewMiddleware / XFrameOptionsMiddleware not in MIDDLEWARE":
# their subclasses are; chatsite/checks.py reports them as chatsite.W001-W003 if not.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite by default. WAL lets readers run beside the writer, and IMMEDIATE transactions
# take the write lock up front so concurrent writers queue (busy timeout) instead of
# failing with "database is locked" when a read transaction tries to upgrade.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
    ),
}
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
    # psycopg's connection pool (Django 5.1+): under ASGI every request runs its sync
    # code in a thread of its own, so persistent connections (CONN_MAX_AGE) do not
    # work; a pool does, and saves a connect (~4 ms here) on most database calls.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DB_POOL_MAX", 20),
        "timeout": 10,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Named per test run, so two runs against one server (a developer's and CI's) do
    # not fight over one test database.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
    # A file, not memory: live-server tests start daphne processes that share it.
    # Named per test run so parallel runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test_db.{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Channel layer ----------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
# Namespaces every Redis key this site writes (channel layer, presence and cache).
CHAT_REDIS_PREFIX = env_str("CHANNEL_PREFIX", "chat")
# How long a channel stays in a group without being added again. Live sockets add
# themselves again on every presence heartbeat (CHAT_PRESENCE_TTL / 3), so this only
# bounds how long the channels of a process that died without a goodbye linger in
# their groups (each broadcast still queues a copy for them). It must be longer than
# the heartbeat; docs/deploy.md says more.
CHANNEL_GROUP_EXPIRY = env_int("CHANNEL_GROUP_EXPIRY", 86400 * 2)
# redis-py's pools make no retry by default, so after Redis restarts, each pooled
# connection to the old server fails the one command that next uses it (a socket
# dropped, a broadcast delayed). One immediate retry on a fresh connection heals
# that, and costs nothing while Redis is really down (the retry is refused at once).
REDIS_RETRY_ON_ERROR = [RedisConnectionError]
# Which channels-redis layer carries events: "core" (RedisChannelLayer: per-channel
# lists in Redis, with capacity and expiry) or "pubsub" (RedisPubSubChannelLayer: Redis
# PUBLISH/SUBSCRIBE, groups kept in each process, at-most-once). docs/performance.md
# compares the two; the consumer repairs any gap from the database either way.
CHANNEL_BACKEND = env_choice("CHANNEL_BACKEND", "core", ("core", "pubsub"))
if REDIS_URL:

    def _redis_host(url: str) -> dict:
        return {
            "address": url,
            # redis-py 8 defaults: a pool of 100 that raises when full, and a
            # 5 s socket timeout equal to the layer's 5 s blocking read. Both
            # drop sockets under load or when idle; see docs/performance.md.
            "max_connections": env_int("REDIS_MAX_CONNECTIONS", 2000),
            "socket_timeout": None,
            "socket_connect_timeout": 5,
            "health_check_interval": 30,
            "socket_keepalive": True,
            "retry_on_error": REDIS_RETRY_ON_ERROR,
        }

    # Several servers (REDIS_URL="redis://a:6379/0,redis://b:6379/0"): channels-redis
    # shards channels and groups over them; chatsite/redis_shards.py does the same for
    # presence, rate limits and the cache. docs/deploy.md says when that helps.
    REDIS_HOSTS = [_redis_host(url) for url in redis_shards.split(REDIS_URL)]
    if CHANNEL_BACKEND == "pubsub":
        # Capacity, expiry and group expiry do not apply: nothing is queued in Redis.
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": REDIS_HOSTS, "prefix": CHAT_REDIS_PREFIX},
            }
        }
    else:
        CHANNEL_LAYERS = {
            "default": {
                # channels-redis's core layer, a group join in one round trip.
                "BACKEND": "chatsite.channel_layer.RedisChannelLayer",
                "CONFIG": {
                    "hosts": REDIS_HOSTS,
                    "group_expiry": CHANNEL_GROUP_EXPIRY,
                    "capacity": env_int("CHANNEL_CAPACITY", 1000),
                    "expiry": 60,
                    "prefix": CHAT_REDIS_PREFIX,
                },
            }
        }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"group_expiry": CHANNEL_GROUP_EXPIRY, "capacity": 1000},
        }
    }

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "rooms:list"
LOGOUT_REDIRECT_URL = "login"

# Failed log-ins (the log-in form, the admin's and `POST /api/token`) within
# LOGIN_FAILURE_WINDOW seconds: LOGIN_FAILURE_LIMIT per username from one client
# address, LOGIN_ADDRESS_FAILURE_LIMIT per address whatever the usernames
# (accounts/login_throttle.py). Nothing counts per username alone, so a stranger
# cannot lock a user out from everywhere.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 300)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 20)
# Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For is believed when
# telling client addresses apart (chatsite/client_address.py). Empty: the peer's own
# address counts and X-Forwarded-For is ignored. docs/deploy.md says what to set.
CHAT_TRUSTED_PROXIES = env_networks("CHAT_TRUSTED_PROXIES")
# Password-reset mails asked for per hour, per client address and per email address.
PASSWORD_RESET_LIMIT = env_int("PASSWORD_RESET_LIMIT", 5)

# --- Email (password reset) -----------------------------------------------------------
# Printed to the console unless EMAIL_HOST names an SMTP server.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10  # seconds: a stuck mail server must not hold a request for ever
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "chat@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

# Under CHAT_REDIS_PREFIX like every other Redis key: rate-limit counters are keyed by
# user id, so two sites (or test runs) sharing one Redis would otherwise share them.
CACHES = {
    "default": (
        {
            # Django's RedisCache, but a key's server is chosen by its hash (Django's own
            # would write to the first server and read from the others as replicas).
            "BACKEND": "chatsite.sharded_cache.ShardedRedisCache",
            "LOCATION": list(redis_shards.split(REDIS_URL)),  # as the layer reads it
            "KEY_PREFIX": CHAT_REDIS_PREFIX,
            "OPTIONS": {"retry_on_error": REDIS_RETRY_ON_ERROR},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Chat limits ------------------------------------------------------------------------
CHAT_MESSAGE_MAX_LENGTH = env_int("CHAT_MESSAGE_MAX_LENGTH", 4000)
CHAT_ROOM_NAME_MAX_LENGTH = 80
CHAT_PAGE_DEFAULT = 50
CHAT_PAGE_MAX = 200
CHAT_FRAME_MAX_BYTES = 64 * 1024
CHAT_TICKET_TTL = env_int("CHAT_TICKET_TTL", 30)
# How long authors may edit or delete their own messages (seconds; moderators always can).
CHAT_EDIT_WINDOW = env_int("CHAT_EDIT_WINDOW", 3600)
# A socket (or a whole server process) that vanishes without a goodbye drops out of
# presence within this many seconds; sockets refresh their entry every third of it.
CHAT_PRESENCE_TTL = env_int("CHAT_PRESENCE_TTL", 90)
if CHANNEL_GROUP_EXPIRY <= CHAT_PRESENCE_TTL / 3:
    # Sockets re-add themselves to their groups on the heartbeat; a shorter expiry
    # would drop live sockets from their rooms between two heartbeats.
    raise ImproperlyConfigured("CHANNEL_GROUP_EXPIRY must be longer than CHAT_PRESENCE_TTL / 3")
# A temporary public room closes after this many idle seconds.
CHAT_EPHEMERAL_IDLE = env_int("CHAT_EPHEMERAL_IDLE", 1800)
# Each server process closes idle temporary rooms every CHAT_CLEANUP_INTERVAL seconds
# (rooms/realtime/cleanup.py).
CHAT_CLEANUP_LOOP = env_bool("CHAT_CLEANUP_LOOP", True)
CHAT_CLEANUP_INTERVAL = env_float("CHAT_CLEANUP_INTERVAL", 60)
if not 0 < CHAT_CLEANUP_INTERVAL < float("inf"):
    raise ImproperlyConfigured("CHAT_CLEANUP_INTERVAL must be a positive number of seconds")
CHAT_LONG_POLL_MAX = 30
# Database calls running at once from async views (long polls), per process.
CHAT_DB_CONCURRENCY = env_int("CHAT_DB_CONCURRENCY", 16)
# Sends waiting to be stored per socket (rooms.realtime.send_queue); beyond it a send
# is refused with `rate_limited` and the client sends it again.
CHAT_SEND_QUEUE = env_int("CHAT_SEND_QUEUE", 200)
# Per-user posting: a token bucket of CHAT_SEND_BURST messages, refilled over
# CHAT_SEND_WINDOW seconds (30 at once, then 3 a second by default).
CHAT_SEND_BURST = env_int("CHAT_SEND_BURST", 30)
CHAT_SEND_WINDOW = env_int("CHAT_SEND_WINDOW", 10)

# --- I18n, static -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG
# Uploaded files (avatars), through Django's default storage. Never served from here as
# static files: accounts.views.avatar serves each avatar with its own headers.
# MEDIA_URL stays unset for the same reason.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
# Where uploads (avatars, message attachments) are kept: the file system under
# MEDIA_ROOT, or with CHAT_STORAGE=s3 any S3-compatible store through django-storages
# (`pip install '.[s3]'`), configured by its own AWS_* variables (docs/deploy.md).
CHAT_STORAGE = env_choice("CHAT_STORAGE", "filesystem", ("filesystem", "s3"))
_DEFAULT_STORAGE: dict = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if CHAT_STORAGE == "s3":
    _DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME", ""),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            # Files are never public: the permission-checked view streams them.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
STORAGES = {
    "default": _DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production values come with DEBUG=false) -----------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the page's script reads it for API calls
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Pages load scripts, styles and images from this site only, with no inline script or
# style (so injected markup cannot run); sockets go to this site (ws: and wss: are
# not matched by 'self' in every browser). templates/ and static/js keep to it;
# tests/e2e/test_content_security_policy.py watches the main pages for violations.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", "ws:", "wss:"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Off only for plain HTTP on loopback (`make run`): a Secure cookie never comes back
    # over http://, so neither log-in nor a form would work there.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # One line per request comes from chatsite.request; these would repeat it
        # (4xx answers included). Server errors are still logged.
        "django.channels.server": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        "django.request": {"level": "ERROR"},
        "chatsite.request": {"level": env_str("REQUEST_LOG_LEVEL", "INFO")},
    },
}
CHAT_ROOMS_PER_HOUR = env_int("CHAT_ROOMS_PER_HOUR", 20)  # rooms a user may create
CHAT_INVITES_PER_HOUR = env_int("CHAT_INVITES_PER_HOUR", 60)  # invitations a user may send
# Writes besides posting, per user (rooms/changes.py, services.py, moderation.py).
CHAT_EDITS_PER_MINUTE = env_int("CHAT_EDITS_PER_MINUTE", 20)
CHAT_REACTIONS_PER_MINUTE = env_int("CHAT_REACTIONS_PER_MINUTE", 60)
CHAT_ROOM_UPDATES_PER_HOUR = env_int("CHAT_ROOM_UPDATES_PER_HOUR", 30)  # renames, topics
CHAT_REPORTS_PER_HOUR = env_int("CHAT_REPORTS_PER_HOUR", 20)
# "bob joined" at most once an hour per user and room, however often they leave and rejoin.
CHAT_JOIN_NOTICE_INTERVAL = env_int("CHAT_JOIN_NOTICE_INTERVAL", 3600)
CHAT_REACTIONS_PER_MESSAGE = env_int("CHAT_REACTIONS_PER_MESSAGE", 20)  # distinct emoji
CHAT_PINS_PER_ROOM = env_int("CHAT_PINS_PER_ROOM", 50)  # pinned messages a room holds at once
CHAT_PINS_PER_MINUTE = env_int("CHAT_PINS_PER_MINUTE", 30)  # pins and unpins per user
CHAT_SOCKETS_PER_USER = env_int("CHAT_SOCKETS_PER_USER", 20)  # open sockets per user
# Guests (rooms/guests.py): people with a name and no account, in public rooms their
# owners opened to guests, through the TCP gateway and the old clients' socket. Off by
# default; CHAT_GUEST_ROOMS lets a guest naming a missing room create it (off too).
CHAT_GUESTS = env_bool("CHAT_GUESTS", False)
CHAT_GUEST_ROOMS = env_bool("CHAT_GUEST_ROOMS", False)
CHAT_GUEST_IDLE = env_int("CHAT_GUEST_IDLE", 24 * 3600)  # seconds offline before expiry
CHAT_GUEST_SEND_BURST = env_int("CHAT_GUEST_SEND_BURST", 10)  # over CHAT_SEND_WINDOW
CHAT_GUEST_NAME_MAX_LENGTH = 30
# More paths for the old clients' socket (rooms/realtime/compat.py), comma-separated
# and without the leading slash, e.g. "chat,mychat": where those clients expect it.
CHAT_COMPAT_PATHS = [
    p.strip().strip("/")
    for p in env_str("CHAT_COMPAT_PATHS", "").split(",")
    if p.strip().strip("/")
]
CHAT_TOKEN_CREATE_LIMIT = env_int("CHAT_TOKEN_CREATE_LIMIT", 30)  # per user per hour
CHAT_TICKET_CREATE_LIMIT = env_int("CHAT_TICKET_CREATE_LIMIT", 60)  # per user per minute
# Avatar uploads (accounts/avatars.py): the largest file taken, in bytes, and the
# largest width or height in pixels. Only a 128x128 PNG made from it is kept.
CHAT_AVATAR_MAX_BYTES = env_int("CHAT_AVATAR_MAX_BYTES", 2 * 1024 * 1024)
CHAT_AVATAR_MAX_DIMENSION = env_int("CHAT_AVATAR_MAX_DIMENSION", 4096)
if CHAT_AVATAR_MAX_BYTES < 1 or CHAT_AVATAR_MAX_DIMENSION < 1:
    raise ImproperlyConfigured(
        "CHAT_AVATAR_MAX_BYTES and CHAT_AVATAR_MAX_DIMENSION must be positive"
    )
# Message attachments (rooms/attachments.py): the largest file taken, files on one
# message, bytes one user may upload in 24 hours, and seconds an upload not yet sent
# with a message is kept (`manage.py cleanuploads` removes older ones).
CHAT_UPLOAD_MAX_BYTES = env_int("CHAT_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
CHAT_FILES_PER_MESSAGE = env_int("CHAT_FILES_PER_MESSAGE", 10)
CHAT_UPLOAD_BYTES_PER_DAY = env_int("CHAT_UPLOAD_BYTES_PER_DAY", 200 * 1024 * 1024)
CHAT_UPLOAD_UNUSED_TTL = env_int("CHAT_UPLOAD_UNUSED_TTL", 3600)
# Pixels an uploaded image may have (width x height) before it is refused as a
# decompression bomb; Pillow's own limit (Image.MAX_IMAGE_PIXELS) is set from it.
CHAT_IMAGE_MAX_PIXELS = env_int("CHAT_IMAGE_MAX_PIXELS", 50_000_000)
# Behind nginx: the internal location that serves MEDIA_ROOT (deploy/nginx.conf), e.g.
# "/_protected_files/". Set, the file view answers with X-Accel-Redirect and nginx
# sends the bytes; empty, the view streams them itself.
CHAT_FILES_ACCEL_REDIRECT = env_str("CHAT_FILES_ACCEL_REDIRECT", "")
if min(CHAT_UPLOAD_MAX_BYTES, CHAT_FILES_PER_MESSAGE, CHAT_UPLOAD_BYTES_PER_DAY) < 1:
    raise ImproperlyConfigured(
        "CHAT_UPLOAD_MAX_BYTES, CHAT_FILES_PER_MESSAGE and CHAT_UPLOAD_BYTES_PER_DAY "
        "must be positive"
    )
if CHAT_FILES_ACCEL_REDIRECT and not (
    CHAT_FILES_ACCEL_REDIRECT.startswith("/") and CHAT_FILES_ACCEL_REDIRECT.endswith("/")
):
    raise ImproperlyConfigured("CHAT_FILES_ACCEL_REDIRECT must start and end with '/'")
