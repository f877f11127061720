# The README's two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run` needs only what the site runs on; the test and bench tools (Playwright,
# matplotlib, hypothesis, uvicorn...) come with the first `make test`.
RUN_STAMP := $(VENV)/.installed-runtime
HOST ?= 127.0.0.1
PORT ?= 8000
# `make run` serves the site as its users see it: DEBUG off (the site's own error pages,
# collected and compressed static files). `make run DEBUG=true` (or DEBUG=true in the
# environment) for development: Django's debug pages, static files read live.
DEBUG ?= false
# Generated on the first `make run` and kept with the checkout's .venv (git-ignored):
# a SECRET_KEY of its own, and the defaults `make run` hands the site (RUN_ENV). The
# environment and .env still win over every line of RUN_ENV (chatsite/settings.py).
SECRET_KEY_FILE := $(VENV)/secret-key
RUN_ENV := $(VENV)/run.env
RUN_PYTHON := CHAT_DEFAULTS_FILE=$(abspath $(RUN_ENV)) $(BIN)/python

.PHONY: run test test-postgres lint format install install-runtime migrate bench clean screenshots emoji-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

# axe-core for the accessibility test (tests/e2e/test_accessibility.py), from npm and
# pinned. Without npm the test skips with the reason (fails with CI=true).
AXE_VERSION := 4.14.1
AXE_JS := $(VENV)/node/node_modules/axe-core/axe.min.js

$(AXE_JS): | $(BIN)/python
	@if command -v npm >/dev/null; then \
	  npm install --no-audit --no-fund --no-save --silent --prefix $(VENV)/node axe-core@$(AXE_VERSION); \
	else echo "npm not found: the accessibility test will skip (axe-core $(AXE_VERSION))"; fi

# The emoji picker's categories (the Unicode emoji groups) come from emojibase-data,
# pinned; static/emoji/emoji-data.json is generated from it and the `emoji` package by
# `make emoji-data` and committed, so the site itself needs no npm. The test that the
# committed file matches both skips without npm (fails with CI=true).
EMOJIBASE_VERSION := 17.0.0
EMOJIBASE_JSON := $(VENV)/emojibase/node_modules/emojibase-data/en/data.json

$(EMOJIBASE_JSON): | $(BIN)/python
	@if command -v npm >/dev/null; then \
	  npm install --no-audit --no-fund --no-save --silent --prefix $(VENV)/emojibase emojibase-data@$(EMOJIBASE_VERSION); \
	else echo "npm not found: the emoji data check will skip (emojibase-data $(EMOJIBASE_VERSION))"; fi

emoji-data: $(STAMP) $(EMOJIBASE_JSON)
	$(BIN)/python -m rooms.emoji_catalog $(EMOJIBASE_JSON)

install: $(STAMP) $(AXE_JS) $(EMOJIBASE_JSON)

install-runtime: $(RUN_STAMP)

migrate: install-runtime
	$(BIN)/python manage.py migrate --noinput

$(SECRET_KEY_FILE): | $(BIN)/python
	umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

# Plain HTTP on loopback: no HTTPS redirect and cookies without Secure (a browser or
# client would never send a Secure cookie back over http://).
run: install-runtime $(SECRET_KEY_FILE)
	@printf '%s\n' \
	  "DEBUG=$(DEBUG)" \
	  "SECRET_KEY=$$(cat $(SECRET_KEY_FILE))" \
	  "SECURE_SSL_REDIRECT=false" \
	  "SECURE_COOKIES=false" \
	  "ALLOWED_HOSTS=127.0.0.1,localhost,[::1],$(HOST)" \
	  "CSRF_TRUSTED_ORIGINS=http://127.0.0.1:$(PORT),http://localhost:$(PORT),http://$(HOST):$(PORT)" \
	  > $(RUN_ENV)
	$(RUN_PYTHON) manage.py migrate --noinput
	$(RUN_PYTHON) manage.py collectstatic --noinput --verbosity 0
	$(RUN_PYTHON) manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: install
	DATABASE_URL=$${DATABASE_URL_PG:-postgres://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest $(PYTEST_ARGS)

# The accessibility check, saving the room page's screenshots into docs/screenshots/.
screenshots: install
	SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/e2e/test_accessibility.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .test_db.*sqlite3* staticfiles
