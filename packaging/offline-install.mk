# Installs phaseout from this offline bundle: no package registry, no network.
# Needs Python 3.11 with venv (Debian/Ubuntu: apt-get install python3-venv) and make.
#   make install            -> ./.venv with phaseout and its pinned dependencies
#   make install VENV=/opt/phaseout
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install check

install:
	$(PYTHON) -m venv $(VENV)
	PIP_FIND_LINKS= $(BIN)/python -m pip install --quiet --no-index --find-links wheels --require-hashes -r requirements.lock
	PIP_FIND_LINKS= $(BIN)/python -m pip install --quiet --no-index --no-deps wheels/phaseout-*.whl
	$(BIN)/python -c "import pathlib, shutil, phaseout.web as w; d = pathlib.Path(w.__file__).parent / 'static' / 'vendor'; shutil.copytree('vendor', d, dirs_exist_ok=True); print('web assets:', d)"
	$(BIN)/phaseout --version
	@echo "installed: $(BIN)/phaseout (try: $(BIN)/phaseout demo)"

check:
	$(BIN)/python -c "from phaseout.web.assets import missing_assets as m; assert not m(), m(); print('web assets complete')"
