# The two commands of the README: `make run` and `make test`. Everything else is helpers.
# Only Python 3.11 is needed up front: the virtualenv (.venv), uv and every dependency
# pinned in uv.lock are installed by the first target that needs them.

PYTHON ?= python3.11
VENV := .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# uv itself is pinned in uv.lock (dev group); bootstrap exactly that version.
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"/\1/p;}' uv.lock)
PYTEST_WORKERS ?= 2

.PHONY: run test lint stop install fmt check-deploy image-context

$(VENV)/.synced: pyproject.toml uv.lock
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(VENV)/bin/uv sync --frozen --inexact --quiet
	@touch $@

install: $(VENV)/.synced

run: install
	$(VENV)/bin/python manage.py serve --host $(HOST) --port $(PORT)

test: install
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy .
	$(VENV)/bin/python manage.py makemigrations --check --dry-run

check-deploy: install
	DJANGO_SETTINGS_MODULE=config.django.production \
	DJANGO_SECRET_KEY="$$($(VENV)/bin/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	DJANGO_ALLOWED_HOSTS=genai.example.com \
	FIELD_ENCRYPTION_KEYS="$$($(VENV)/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
	$(VENV)/bin/python manage.py check --deploy --fail-level WARNING

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

stop: install
	$(VENV)/bin/python manage.py embedded stop

# The Docker build context needs the CPU PyTorch wheel that uv.lock points at (decision 0011).
image-context:
	mkdir -p wheels && cp /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl wheels/
