# The quickstart commands: `make run` and `make test` (`make test-fast` while
# working). Everything else is a step they share. Needs python3 (3.11+) on
# PATH; nothing else.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-fast install docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Only what production needs; the test tools come with `make test`.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

install: $(STAMP)

# Serves gatehouse on http://127.0.0.1:$(PORT) (SQLite, local-memory cache,
# DEBUG on for local use), printing a fresh demo API key and the page's URL,
# with the outbox sender (mail and SMS printed to this terminal, webhooks
# sent) running beside the server; Ctrl-C stops both.
# `make run PORT=8123` for another port; a busy port stops it before the
# database, the demo key or the admin password is touched.
# The page binds its sessions to a browser key (DPoP) when the server knows
# the origin proofs are signed for: the one runserver serves. Set
# GATEHOUSE_PUBLIC_BASE_URL yourself to override it (only for `make run`).
GATEHOUSE_PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# One log format on the terminal: plain text lines (production logs JSON).
GATEHOUSE_LOG_FORMAT ?= text
RUN_ENV = DJANGO_DEBUG=1 GATEHOUSE_PUBLIC_BASE_URL=$(GATEHOUSE_PUBLIC_BASE_URL) \
	GATEHOUSE_LOG_FORMAT=$(GATEHOUSE_LOG_FORMAT)
run: $(STAMP)
	$(RUN_ENV) $(BIN)/python manage.py quickstart --port $(PORT)
	$(RUN_ENV) $(BIN)/python manage.py outbox_send --loop --interval 1 & sender=$$!; \
	trap 'kill $$sender 2>/dev/null; wait $$sender' EXIT INT TERM; \
	$(RUN_ENV) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Sets everything up, runs the whole test suite and builds the docs strictly
# (a broken link, or a reference table behind the code, fails). With
# DATABASE_URL and REDIS_URL set (as .ci/run sets them) the tests run against
# PostgreSQL and Redis. No --quiet for mkdocs: it would hide what --strict counts.
test: $(TEST_STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	site=$$(mktemp -d) && $(BIN)/mkdocs build --strict --site-dir "$$site"; \
	status=$$?; rm -rf "$$site"; exit $$status

# The lane to run while working, in under a minute on two cores: every test
# that starts no process (the servers, browsers, network namespaces and wheel
# builds of tests/system/, marked server/browser/netns/slow, and the
# manage.py or fresh interpreters marked subprocess), on two xdist
# workers (each with its own test database and cache key prefix), plus ruff
# and lint-imports. Schemathesis' and Hypothesis' pytest plugins serve only
# tests/system/ and cost seconds to load in every worker.
# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: each worker
# would otherwise compile (and assertion-rewrite) every module on every run.
FAST_MARKERS = not server and not browser and not netns and not slow and not subprocess
FAST_WORKERS ?= 2
test-fast: $(TEST_STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest tests --ignore=tests/system -m "$(FAST_MARKERS)" \
		-n $(FAST_WORKERS) --dist worksteal -p no:schemathesis -p no:hypothesispytest $(PYTEST_ARGS)

# Serves the documentation with live reload on http://127.0.0.1:$(DOCS_PORT)
# (8001 by default, so it runs next to `make run`): `make docs PORT=8123`
# picks another port. mkdocs comes with the test tools.
DOCS_PORT := $(if $(filter command line,$(origin PORT)),$(PORT),8001)
docs: $(TEST_STAMP)
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)
