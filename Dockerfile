# The chat site: daphne on Python 3.11, non-root, static files collected at build.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN useradd --create-home --uid 1000 chat
COPY pyproject.toml README.md ./
COPY chatsite ./chatsite
COPY accounts ./accounts
COPY rooms ./rooms
RUN pip install .
COPY . .
# collectstatic needs settings but no database or secrets of production.
RUN DEBUG=false SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput
# MEDIA_ROOT (uploaded avatars), owned by the user the server runs as: a new named
# volume mounted here (docker-compose.yml) takes this ownership.
RUN mkdir -p /app/media && chown chat:chat /app/media
USER chat
EXPOSE 8000
# No --proxy-headers: daphne would take the left-most X-Forwarded-For entry, which any
# client can write. Client addresses come from CHAT_TRUSTED_PROXIES instead.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "chatsite.asgi:application"]
