# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test processes: most tests wait on sockets and subprocesses, so two share two cores well.
PYTEST_WORKERS ?= 2
# The venv of `make test-lowest`: every direct dependency at its declared lower bound.
LOWEST := .venv-lowest
# What `make test-lowest` runs: the unit tests and the integration tests that cross every
# dependency (Slack, OpenAI, FastAPI, SQLAlchemy on both databases, Alembic, APScheduler,
# pydantic-settings, Stripe, Prometheus), about a third of the suite. The parity test needs
# Presidio, which is pinned and so has no lower bound to test.
LOWEST_TESTS ?= tests/unit tests/integration/test_end_to_end.py \
	tests/integration/test_llm_wiring.py tests/integration/test_openai_classifier.py \
	tests/integration/test_slack_card.py tests/integration/test_slack_commands.py \
	tests/integration/test_settings.py tests/integration/test_schema_matches_models.py \
	tests/integration/test_pipeline_execution.py tests/integration/test_vendor_stripe.py \
	tests/integration/test_metrics.py tests/integration/test_slack_home.py \
	tests/integration/test_generic_webhook.py tests/integration/test_lazy_imports.py \
	tests/integration/test_slack_resilience.py tests/integration/test_doctor.py \
	tests/e2e/test_demo_and_cli.py --ignore=tests/unit/test_pii_parity.py
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --quiet

.PHONY: run test lint typecheck pytest migrate bench lock test-lowest footprint clean

# Installs exactly what requirements-dev.lock pins (with hashes), then Signoff itself.
$(STAMP): requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m bot

test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint Dockerfile

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS)

migrate: $(STAMP)
	$(PY) -m bot migrate

bench: $(STAMP)
	$(PY) -m benchmarks.run_all

# Install size, start-up time and RSS at ready of `serve` (docs/benchmarks.md).
footprint: $(STAMP)
	$(PY) -m benchmarks.footprint

# Re-resolve the lock files after changing pyproject.toml's dependencies.
lock: $(STAMP)
	$(UV_COMPILE) --extra postgres -o requirements.lock
	$(UV_COMPILE) --extra dev -o requirements-dev.lock

# Every direct dependency at the lowest version pyproject.toml allows (uv's lowest-direct
# resolution), in a venv of its own, then the tests in LOWEST_TESTS.
test-lowest: $(STAMP)
	rm -rf $(LOWEST)
	$(VENV)/bin/uv venv --quiet --python $(PYTHON) $(LOWEST)
	$(VENV)/bin/uv pip install --quiet --python $(LOWEST)/bin/python --resolution lowest-direct \
		-e '.[test]'
	$(LOWEST)/bin/pytest -n $(PYTEST_WORKERS) $(LOWEST_TESTS)

clean:
	rm -rf $(VENV) $(LOWEST) *.egg-info .mypy_cache .ruff_cache
