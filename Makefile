# Every target creates .venv on first use, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

# Plugins shipped in this repository, each its own distribution, installed next to Norq.
PLUGINS := plugins/norq-example plugins/norq-sendgrid plugins/norq-vonage plugins/norq-slack \
	plugins/norq-smtp plugins/norq-sandbox

$(STAMP): pyproject.toml $(PLUGINS:%=%/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]' -e plugins/norq-example \
		-e plugins/norq-sendgrid -e plugins/norq-vonage -e plugins/norq-slack \
		-e 'plugins/norq-smtp[test]' -e plugins/norq-sandbox
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m norq_sandbox.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict norq plugins/norq-smtp/norq_smtp plugins/norq-sendgrid/norq_sendgrid \
		plugins/norq-vonage/norq_vonage plugins/norq-slack/norq_slack \
		plugins/norq-sandbox/norq_sandbox

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
