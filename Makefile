# vmgui: `make run` starts the app, `make test` runs lint, types and the whole test suite.
# Both install what is missing first (system packages via apt, Python packages into .venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest sysdeps venv libvirtd bench screenshot clean

sysdeps:
	@scripts/install-system-deps.sh

$(STAMP): pyproject.toml | sysdeps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

libvirtd: sysdeps
	@scripts/ensure-libvirtd.sh

run: $(STAMP)
	@scripts/ensure-libvirtd.sh || echo "note: no system libvirtd; vmgui will use qemu:///session" >&2
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ] && [ -z "$$QT_QPA_PLATFORM" ]; then \
		echo "vmgui needs a display: DISPLAY and WAYLAND_DISPLAY are unset. Run it in a desktop session," >&2; \
		echo "or on a virtual screen: xvfb-run -a make run" >&2; exit 1; fi
	$(VENV)/bin/vmgui $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check vmgui tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) libvirtd
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) bench/scale.py

.PHONY: bench-console
bench-console: $(STAMP)  # vmgui's VNC console against gvncviewer under Xvfb (needs xvfb, gvncviewer)
	$(PY) bench/console.py $(ARGS)

screenshot: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/vmgui --connect test://$(CURDIR)/tests/data/host.xml --screenshot docs/main-window.png

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
