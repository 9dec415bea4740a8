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

# Sets everything up, runs the whole test suite and builds the docs strictly
# (a broken link, or a reference table behind the code, fails). With
# DATABASE_URL and REDIS_URL set (as .ci/run sets them) the tests run against
# PostgreSQL and Redis. No --quiet for mkdocs: it would hide what --strict counts.
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	site=$$(mktemp -d) && $(BIN)/mkdocs build --strict --site-dir "$$site"; \
	status=$$?; rm -rf "$$site"; exit $$status
