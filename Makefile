# phaseout — developer entry points. `make run` and `make test` work on a fresh Debian machine
# with Python 3.11 (python3-venv installed): both install into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run demo test test-fast lint typecheck bench lock clean offline-bundle

install: $(STAMP)

$(STAMP): requirements-dev.lock pyproject.toml src/phaseout/web/assets.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m phaseout.web.assets
	touch $@

run: install
	$(BIN)/phaseout demo

test: install
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# The pure core, the knowledge rules and the layer test: seconds, for every edit.
test-fast: install
	$(BIN)/python -m pytest -n 2 -q tests/unit tests/knowledge tests/policy/test_packs.py tests/plan/test_status.py $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

bench: install
	$(BIN)/python bench/import_speed.py
	$(BIN)/python bench/identify_speed.py
	$(BIN)/python bench/identify_accuracy.py
	$(BIN)/python bench/identify_printouts.py
	$(BIN)/python bench/scan_speed.py
	$(BIN)/python bench/plan_speed.py
	$(BIN)/python bench/web_speed.py
	$(BIN)/python bench/alert_eval.py

# Re-resolve the pinned, hashed lock files after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/uv pip compile pyproject.toml --group dev --generate-hashes --universal --python-version 3.11 -o requirements-dev.lock -q
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 -o requirements.lock -q

# One archive for machines with no registry: every pinned wheel (requirements.lock, this
# platform and Python), phaseout's own wheel and the dashboard's front-end assets, with a
# Makefile whose `make install` needs no network. Build it on a connected machine of the same
# OS, CPU and Python minor version as the target.
BUNDLE_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
BUNDLE := build/phaseout-offline-$(BUNDLE_VERSION)
offline-bundle: install
	rm -rf $(BUNDLE) $(BUNDLE).tar.gz
	mkdir -p $(BUNDLE)/wheels
	$(BIN)/python -m pip download --quiet --only-binary=:all: --require-hashes -r requirements.lock -d $(BUNDLE)/wheels
	$(BIN)/uv build --quiet --wheel --out-dir $(BUNDLE)/wheels .
	cp -r src/phaseout/web/static/vendor $(BUNDLE)/vendor
	cp requirements.lock $(BUNDLE)/
	cp packaging/offline-install.mk $(BUNDLE)/Makefile
	cp README.md $(BUNDLE)/
	tar -C build -czf $(BUNDLE).tar.gz phaseout-offline-$(BUNDLE_VERSION)
	@echo "offline bundle: $(BUNDLE).tar.gz ($$(du -h $(BUNDLE).tar.gz | cut -f1)); on the target: tar xzf it, cd into it, make install"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache phaseout-demo
