# Two commands set everything up on a fresh machine:
#   make app   runs the app on the shipped checkpoint
#              (make app CKPT=path/to/ckpt.pt [VOCAB=meta.pkl or text] opens your own model first)
#   make serve  the same behind nginx for a lecture hall: WORKERS app processes (default: one per core)
#              on one PORT, each browser kept on its process (installs Debian's nginx when missing)
#   make test  runs the whole test suite (installs Chromium for the browser test when missing)
#   make test-fast  ruff and pytest without the browser and subprocess tests (e2e, slow): the edit loop
#   (make test runs pytest in TEST_WORKERS=4 processes, make test-fast in PYTEST_WORKERS=2; 0 runs it in one)
#   make screenshots  retakes the pictures of README.md and docs/ from the running app (docs/images/)
#   make wheel  builds the installable package (dist/attention_lab-*.whl: the library, the app, the `attention-lab` command)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
WORKERS ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: app serve test test-fast lint bench clean-venv chromium nginx wheel screenshots

$(VENV)/.runtime: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-compile -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q --no-compile -r requirements-dev.txt
	touch $@

# the runtime's wheels, kept for tests/test_install.py: it installs the built wheel into a fresh
# virtual environment from these alone (--no-index), so the test itself needs no network
$(VENV)/.wheelhouse: $(VENV)/.runtime requirements.txt
	$(PY) -m pip download -q -d $(VENV)/wheelhouse -r requirements.txt
	touch $@

app: $(VENV)/.runtime
	ATTENTION_LAB_CKPT="$(CKPT)" ATTENTION_LAB_VOCAB="$(VOCAB)" $(PY) -m viz_app.serving.app_process --port $(PORT)

serve: $(VENV)/.runtime nginx
	ATTENTION_LAB_CKPT="$(CKPT)" ATTENTION_LAB_VOCAB="$(VOCAB)" $(PY) -m viz_app.serving.serve --workers $(WORKERS) --port $(PORT)

# nginx runs as make serve's own foreground process (viz_app/serving/serve.py), never as the system service
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
		echo "installing Debian's nginx for make serve and its tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
		|| { echo "could not install nginx (apt-get failed): make serve needs it"; exit 1; }; }

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| { echo "could not install chromium (apt-get failed): the browser test needs it"; exit 1; }; }

# --no-compile above: pip byte-compiled all of torch's files (about 30 s of a fresh setup); Python
# compiles the modules a run imports, once, on first use.
# make test: one pytest-xdist pool for every test, a test file each at a time (--dist loadfile: a file's
# tests share its fixtures), in collection order. Four workers on two cores: a browser test often waits
# (for the page, the server, a poll); the browser tests alone in one process took 16.5 of CI's 21.5 min,
# one pool of four 15 min with none failing. Putting the browser and process files first made it worse
# (18.5 min, two load timeouts: torchrun beside four browsers). gwN's servers on core N mod 2.
TEST_WORKERS ?= 4
PYTEST_WORKERS ?= 2

test: $(VENV)/.dev $(VENV)/.wheelhouse chromium nginx
	$(PY) -m ruff check nanogpt viz_app tests
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: $(VENV)/.dev
	$(PY) -m ruff check nanogpt viz_app tests
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not e2e and not slow"

lint: $(VENV)/.dev
	$(PY) -m ruff check nanogpt viz_app tests
	$(PY) -m ruff format --check nanogpt viz_app tests

bench: $(VENV)/.runtime
	$(PY) -m viz_app.bench

# Playwright drives Debian's chromium (as in the browser tests); Pillow, which Streamlit installs, shrinks the PNGs
screenshots: $(VENV)/.dev chromium
	$(PY) -m viz_app.screenshots

wheel: $(VENV)/.dev
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist .

clean-venv:
	rm -rf $(VENV)
