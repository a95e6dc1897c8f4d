# Every target creates .venv on first use, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

# Plugins shipped in this repository, each its own distribution, installed next to
# Norq: listed once, used by the install, the type check and (through pytest's
# testpaths) the tests. A plugin's `test` extra, if it declares one, brings its test
# dependencies (asking pip for an extra a plugin lacks only earns a warning).
PLUGINS := plugins/norq-example plugins/norq-sendgrid plugins/norq-vonage plugins/norq-slack \
	plugins/norq-smtp plugins/norq-sandbox plugins/norq-fcm plugins/norq-apns plugins/norq-webpush \
	plugins/norq-telegram
# Each plugin's package: plugins/norq-acme holds norq_acme.
PLUGIN_PACKAGES := $(foreach p,$(PLUGINS),$(p)/$(subst -,_,$(notdir $(p))))
with_test_extra = $(if $(shell grep -s '^test = ' $(1)/pyproject.toml),$(1)[test],$(1))

$(STAMP): pyproject.toml $(PLUGINS:%=%/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]' $(foreach p,$(PLUGINS),-e '$(call with_test_extra,$(p))')
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m norq_sandbox.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict norq $(PLUGIN_PACKAGES)

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
