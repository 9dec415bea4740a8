# The two quickstart commands: `make run` and `make test`. Everything else is
# a step they share. Needs python3 (3.11+) on PATH; nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Sets everything up and serves gatehouse on http://127.0.0.1:8000 (SQLite,
# local-memory cache, DEBUG on for local use), printing a fresh demo API key.
run: $(STAMP)
	$(BIN)/python manage.py migrate --no-input -v 0
	DJANGO_DEBUG=1 $(BIN)/python manage.py quickstart
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# Sets everything up and runs the whole test suite. With DATABASE_URL and
# REDIS_URL set (as .ci/run sets them) it runs against PostgreSQL and Redis.
test: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)
