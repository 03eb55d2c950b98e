# Three commands do all the set-up on a fresh machine (Linux or macOS, Python 3.11 or newer):
#   make course   run every notebook on real Fashion-MNIST and render them to HTML in build/; ends with the list of
#                 sentences of the prose that this run did not support (the notebooks go on regardless)
#   make test     unit tests + every notebook under nbmake in fast mode (what CI runs), and the Colab-like run
#   make check    the everyday loop: ruff and the unit tests, without the browser test and the notebooks
# and for the course's maintainers and teachers:
#   make course-strict   make course, failing if the prose says anything the run did not support
#   make figures         refresh the committed figures in images/ from a full run
#   make lab             open JupyterLab on the notebooks
# NOTEBOOKS="notebooks/04_*.ipynb" runs only those; COURSE_OUT=dir writes there instead of build/.
# Each creates (or reuses) the virtual environment .venv and installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch and torchvision must come as a matching pair; override e.g. TORCH="torch torchvision" on other machines.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: course course-strict figures check test lab data install browser bubblewrap podman colab-like clean

# tools/run_course.py: one notebook at a time, a line per notebook with its time and progress inside long ones, HTML
# with each figure's alt text and without widget state (each widget cell shows its static PNG), and at the end the
# sentences a claim found unsupported by this run. It writes only $(COURSE_OUT)/.
NOTEBOOKS  ?=
COURSE_OUT ?= build
course: install data
	$(BIN)/python tools/run_course.py $(NOTEBOOKS) --out $(COURSE_OUT)
	@echo "Rendered notebooks are in $(COURSE_OUT)/ (open $(COURSE_OUT)/*.html in a browser)."

course-strict: install data
	$(BIN)/python tools/run_course.py $(NOTEBOOKS) --out $(COURSE_OUT) --strict

# The figures committed in images/ (the README shows them), redrawn by a full run of the course.
figures: install data
	VGG_EDU_SAVE_FIGURES=1 $(BIN)/python tools/run_course.py $(NOTEBOOKS) --out $(COURSE_OUT)

# The tests run on TEST_WORKERS processes (pytest-xdist, the tests extra), each on one thread: --dist loadfile keeps
# a file's tests in one worker, so that a module-scoped fixture (a class graded once, a notebook run once) runs once.
# TEST_WORKERS=1 runs them in one process, one after the other.
TEST_WORKERS ?= 2
PYTEST := OMP_NUM_THREADS=1 VGG_EDU_FAST=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -p no:cacheprovider

test: install data browser bubblewrap podman colab-like
	$(BIN)/ruff check .
	$(BIN)/ruff format --check vgg_edu tests benchmarks tools
	VGG_EDU_COLAB_PYTHON=$(abspath $(COLAB_VENV))/bin/python $(PYTEST) tests notebooks --nbmake --nbmake-timeout=1800

# The everyday loop: what `make test` checks, less the browser test, the notebooks (nbmake's and the Colab-like
# kernel's) and the end-to-end runs marked slow (grading a class, the course runner, the benchmark scripts, distributed
# training, pretrained weights), which took 30 of its 34 minutes of test time (`--durations`, 2026-12-07).
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check vgg_edu tests benchmarks tools
	$(PYTEST) tests -m "not browser and not colab_like and not slow" --ignore=tests/test_browser.py

lab: install data
	$(BIN)/jupyter lab notebooks

install: $(VENV)/.installed

# $(call apt_install,PACKAGE,WHAT NEEDS IT,WITHOUT APT-GET): Debian's PACKAGE where apt-get is available (sudo where
# not root), else one line saying what to do; never fails the make (what needs it fails and says why).
apt_install = if command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's $(1) for $(2) ..."; \
	    $(SUDO) apt-get install -y -q $(1) || \
	      { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $(1); } || \
	      echo "apt-get could not install $(1): $(2) will fail until it is installed."; \
	  else \
	    echo "No apt-get here: $(3); without it $(2) cannot pass."; \
	  fi

# `make test` only: the browser test (tests/test_browser.py) drives a real Chromium through playwright (the tests extra): Debian's
# chromium where apt-get is available (playwright's own browser download is not used). Without one that test fails
# and says how to get it.
CHROMIUM ?= $(or $(VGG_EDU_CHROMIUM),/usr/bin/chromium)
browser:
	@[ -x "$(CHROMIUM)" ] || { $(call apt_install,chromium,tests/test_browser.py,install Chromium and set VGG_EDU_CHROMIUM=/path/to/it); }

# The grading tests (tests/teaching/test_grade.py, test_bwrap.py ...) run each submission in bubblewrap, as
# `python -m vgg_edu grade` does: Debian's bubblewrap where apt-get is available. Without it those tests fail and say
# how to get it.
bubblewrap:
	@command -v bwrap >/dev/null 2>&1 || { $(call apt_install,bubblewrap,the grading tests,install bubblewrap (bwrap)); }

# The grading tests run the same class in a Podman container too (`grade --sandbox podman`), with runc
# (tests/teaching/podman.conf): Debian's podman and runc where apt-get is available.
podman:
	@{ command -v podman && command -v runc; } >/dev/null 2>&1 || { $(call apt_install,podman runc,the container tests,install podman and runc); }

# `make test` only: a virtual environment pinned to Google Colab's runtime for tests/test_colab_like.py, which installs
# the package into it the way the notebooks' setup cell does on Colab. Colab's Python (tests/colab_like/python-version)
# and versions (tests/colab_like/requirements.txt, constraints.txt) are generated by tools/colab_pins.py from Colab's
# published lists in tests/colab_like/published/. Colab's torch comes from the package registry: about 5 GB with
# its CUDA wheels, a minute or two to download here. That Python is looked for on PATH and in pyenv's versions;
# elsewhere pass COLAB_PYTHON=/path/to/python3.13.
COLAB_VENV   ?= .venv-colab
COLAB_MINOR  := $(shell cat tests/colab_like/python-version)
COLAB_PYTHON ?= $(firstword $(foreach p,python$(COLAB_MINOR) $(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/$(COLAB_MINOR).*/bin/python$(COLAB_MINOR))),$(shell $(p) -c "import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma),$(COLAB_MINOR))))" >/dev/null 2>&1 && echo $(p))))
comma := ,
colab-like: $(COLAB_VENV)/.installed

$(COLAB_VENV)/.installed: tests/colab_like/python-version tests/colab_like/requirements.txt tests/colab_like/constraints.txt
	@[ -n "$(COLAB_PYTHON)" ] || { echo "No Python $(COLAB_MINOR) here, which Colab runs (tests/colab_like/python-version):" \
	  "install it (e.g. pyenv install $(COLAB_MINOR)) or pass COLAB_PYTHON=/path/to/python$(COLAB_MINOR)." >&2; exit 1; }
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install -q "$$(grep '^pip==' tests/colab_like/requirements.txt)"
	$(COLAB_VENV)/bin/python -m pip install -q -r tests/colab_like/requirements.txt -c tests/colab_like/constraints.txt
	touch $@

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[notebooks,tests,teachers,d2l]"
	# d2l 1.0.3 pins numpy/pandas versions that break on Python 3.12: install it without its pins.
	$(BIN)/python -m pip install -q --no-deps d2l==1.0.3
	touch $@

# Fashion-MNIST: found locally, or Debian's dataset-fashion-mnist where apt is available, or torchvision downloads
# it on first use (needs internet).
data: install
	@$(BIN)/python -m vgg_edu data || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's dataset-fashion-mnist into /usr/share/datasets/fashion-mnist ..."; \
	    $(SUDO) apt-get install -y -q dataset-fashion-mnist || \
	      { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q dataset-fashion-mnist; } || \
	      echo "apt-get could not install it; torchvision will try to download Fashion-MNIST on first use."; \
	  else \
	    echo "No apt-get here: torchvision will download Fashion-MNIST on first use (needs internet)."; \
	  fi; }

clean:
	rm -rf build artifacts notebooks/artifacts
