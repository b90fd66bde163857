# Two entry points: `make demo` and `make test`. Each creates the virtual
# environment and installs what it needs first; repeated runs reuse it.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLES ?= ../shared/data
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: chromium drives the console's browser tests; GStreamer's RTSP
# server publishes generated footage as a live camera on loopback; ffmpeg makes the
# test and benchmark footage.
SYSTEM_PACKAGES := chromium gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools ffmpeg

.PHONY: demo test lint typecheck bench migration clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

$(VENV)/.system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	touch $@

demo: $(VENV)/.installed
	$(BIN)/swipeguard demo --samples $(SAMPLES)

test: $(VENV)/.installed-dev $(VENV)/.system
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# Rebuilds the single initial migration from the models (the schema has not shipped yet).
migration: $(VENV)/.installed
	rm -f src/swipeguard/migrations/versions/0001_initial*.py
	SWIPEGUARD_DATABASE_URL=sqlite:///$$(mktemp -d)/m.db $(BIN)/python -m swipeguard.db revision

clean:
	rm -rf $(VENV) build src/*.egg-info
