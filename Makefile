# Two commands for a newcomer: `make serve` and `make test`. Both install into .venv when needed.
VENV   ?= .venv
# The first of these that is Python 3.11 or newer (pyenv shims of absent versions fail quietly).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
            $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
            && { command -v $$p; break; }; done)
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
JS_DIR := tests/js
JS_STAMP := $(JS_DIR)/node_modules/.installed-stamp
BENCH_NODE_DIR := loadtest/node
BENCH_NODE_STAMP := $(BENCH_NODE_DIR)/node_modules/.installed-stamp

.PHONY: install serve test lint typecheck pytest js-deps clean media-node-install media-node-distro media-node \
        bench bench-quick bench-deps bench-profile

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The official socket.io-client for the wire-compatibility test; skipped when npm is absent.
$(JS_STAMP): $(JS_DIR)/package.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(JS_DIR) && npm install --no-audit --no-fund --silent && touch node_modules/.installed-stamp; \
	else echo "npm not found: the JavaScript client test will be skipped"; fi

js-deps:
	@command -v npm >/dev/null 2>&1 && $(MAKE) --no-print-directory $(JS_STAMP) || true

serve: install
	$(BIN)/flylive serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The suite runs on one worker per core, up to 4 (pytest-xdist; each worker has its own template
# database and embedded servers); PYTEST_WORKERS=0 runs it in this process.
PYTEST_WORKERS ?= auto
pytest: install js-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) --maxprocesses=4 $(PYTEST_ARGS)

test: lint typecheck pytest

# The realtime benchmark (loadtest/bench_realtime.py, docs/performance.md): this engine, a stock
# python-socketio server and Node socket.io 4.8 side by side; the Node server is skipped when npm is
# absent. `make bench BENCH_ARGS="--only engine --json /tmp/figures.json"` passes options through.
$(BENCH_NODE_STAMP): $(BENCH_NODE_DIR)/package.json $(BENCH_NODE_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(BENCH_NODE_DIR) && npm ci --no-audit --no-fund --silent && touch node_modules/.installed-stamp; \
	else echo "npm not found: the Node socket.io server will be skipped"; fi

bench-deps:
	@command -v npm >/dev/null 2>&1 && $(MAKE) --no-print-directory $(BENCH_NODE_STAMP) || true

bench: install bench-deps
	$(BIN)/python loadtest/bench_realtime.py $(BENCH_ARGS)

bench-quick: install bench-deps
	$(BIN)/python loadtest/bench_realtime.py --quick $(BENCH_ARGS)

# The engine alone under py-spy (perturbs the figures: for where the time goes, not how much).
bench-profile: install
	$(BIN)/python -m pip install --quiet -e '.[load]'
	$(BIN)/python loadtest/bench_realtime.py --only engine --profile var/profile $(BENCH_ARGS)

# The reference mediasoup node (media_node/), not part of `make test`: mediasoup needs a compiled
# worker. media-node-install lets mediasoup download its prebuilt one (GitHub); media-node-distro
# builds one from this Linux distribution's libraries instead. Both add the Python WebRTC client
# (aiortc) that tests/test_media_node_reference.py drives real audio with.
media-node-install: install
	cd media_node && npm install --no-audit --no-fund
	$(BIN)/python -m pip install --quiet -e '.[dev,media-test]'

media-node-distro: install
	cd media_node && ./build-worker.sh
	$(BIN)/python -m pip install --quiet -e '.[dev,media-test]'

media-node:
	cd media_node && (test -d node_modules/mediasoup || npm install --no-audit --no-fund) && node index.js

clean:
	rm -rf $(VENV) $(JS_DIR)/node_modules $(BENCH_NODE_DIR)/node_modules .mypy_cache .ruff_cache
