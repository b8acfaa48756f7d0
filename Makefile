# Vigil: `make run` runs the portal, `make test` runs the tests. Both set up .venv first.

PYTHON ?= $(shell command -v python3.13 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint format migrations-check bench lock clean messages messages-update

# The translations: each language's catalogue (locale/<code>/LC_MESSAGES/django.po,
# committed) compiled to the .mo Django reads (not committed), again when the .po changes.
MO := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

run: $(STAMP) $(MO)      ## the portal: web, Celery worker and beat (Ctrl-C stops all)
	$(BIN)/python manage.py run_portal

test: $(STAMP) $(MO)     ## the test suite (PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

messages: $(MO)          ## compiles the translations (needs GNU gettext's msgfmt)

messages-update: $(STAMP)  ## collects the marked strings of templates and code into each .po
	$(BIN)/python manage.py makemessages --locale fr --locale es --locale de --no-location --no-obsolete --ignore .venv --ignore tests --ignore bench --ignore var

%.mo: %.po
	msgfmt --check-format --output-file $@ $<

lint: $(STAMP)           ## ruff (lint, formatting), import-linter (the architecture's contracts) and mypy (types)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: $(STAMP)  ## fails when a model change has no migration
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: $(STAMP)          ## benchmarks, each against a raw baseline (needs DATABASE_URL on PostgreSQL; BENCH_ARGS=--rows 100000 for a quick run)
	$(BIN)/python -m bench all $(BENCH_ARGS)

lock: $(STAMP)           ## the exact versions, after a change of ranges in pyproject.toml (keeps the pins that still fit)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.13 --quiet --no-header -o requirements/lock.txt
	$(BIN)/uv pip compile pyproject.toml --extra s3 --python-version 3.13 --quiet --no-header -o requirements/lock-production.txt

# The virtual environment, rebuilt when pyproject.toml or the lock changes: the exact
# versions of requirements/lock.txt (what CI runs), then the project itself.
$(STAMP): pyproject.toml requirements/lock.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else "Vigil needs Python 3.13 (see .python-version); set PYTHON=/path/to/python3.13")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

clean:                   ## removes the virtual environment and everything under var/
	rm -rf $(VENV) var
