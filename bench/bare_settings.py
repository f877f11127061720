"""Settings for the bare broadcast app (bench/bare.py): no database, no auth, no
sessions; only Channels and the channel layer.

The layer is the project's own CHANNEL_LAYERS, read from chatsite.settings, so with the
same REDIS_URL, CHANNEL_PREFIX and CHANNEL_BACKEND both apps run on the same layer
configuration (the in-memory layer when REDIS_URL is unset).
"""

from __future__ import annotations

from chatsite import settings as project_settings
from chatsite.settings import env_str

SECRET_KEY = env_str("SECRET_KEY", "django-insecure-bench-bare-app")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare"
ASGI_APPLICATION = "bench.bare.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
CHANNEL_LAYERS = project_settings.CHANNEL_LAYERS
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
