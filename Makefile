# Three commands do all the set-up on a fresh machine (Linux or macOS, Python 3.10-3.12):
#   make course   run every notebook on real Fashion-MNIST and render them to HTML in build/
#   make test     unit tests + every notebook under nbmake in fast mode (what CI runs)
#   make check    the everyday loop: ruff and the unit tests, without the browser test and the notebooks
# `make test` also builds .venv-colab, a Colab-like environment (make colab-like), and runs every notebook there.
# and one optional:
#   make lab      open JupyterLab on the notebooks
#   make check    ruff and the unit tests, without the browser test and the notebooks (the everyday loop)
#   make figures  refresh the committed figures in images/ from a full run
# Each creates (or reuses) the virtual environment .venv and installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch and torchvision must come as a matching pair; override e.g. TORCH="torch torchvision" on other machines.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: course figures check test lab data install browser bubblewrap colab-like clean

# tools/run_course.py: one notebook at a time, a line per notebook with its time and progress inside long ones, HTML
# with each figure's alt text and without widget state (each widget cell shows its static PNG). It writes only build/.
course: install data
	$(BIN)/python tools/run_course.py --out build
	@echo "Rendered notebooks are in build/ (open build/*.html in a browser)."

# The figures committed in images/ (the README shows them), redrawn by a full run of the course.
figures: install data
	VGG_EDU_SAVE_FIGURES=1 $(BIN)/python tools/run_course.py --out build

test: install data browser bubblewrap colab-like
	$(BIN)/ruff check .
	$(BIN)/ruff format --check vgg_edu tests benchmarks tools
	VGG_EDU_FAST=1 VGG_EDU_COLAB_PYTHON=$(abspath $(COLAB_VENV))/bin/python $(BIN)/python -m pytest tests notebooks --nbmake --nbmake-timeout=1800 -p no:cacheprovider

# The everyday loop: what `make test` checks, less the browser test and the notebooks (a few minutes).
check: install bubblewrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check vgg_edu tests benchmarks tools
	VGG_EDU_FAST=1 $(BIN)/python -m pytest tests -m "not browser" --ignore=tests/test_browser.py -p no:cacheprovider

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

# The grading tests (tests/test_teaching.py, tests/test_grading_attacks.py) run each submission in bubblewrap, as
# `python -m vgg_edu grade` does: Debian's bubblewrap where apt-get is available. Without it those tests fail and say
# how to get it.
bubblewrap:
	@command -v bwrap >/dev/null 2>&1 || { $(call apt_install,bubblewrap,the grading tests,install bubblewrap (bwrap)); }

# `make test` only: a virtual environment pinned like Google Colab's kernel side (tests/colab_like/requirements.txt)
# for tests/test_colab_like.py, which installs the package into it the way the notebooks' setup cell does on Colab.
# Colab runs Python 3.12; this machine (Debian 12) has only 3.11: COLAB_PYTHON=python3.12 where there is one.
COLAB_VENV   ?= .venv-colab
COLAB_PYTHON ?= $(PYTHON)
colab-like: $(COLAB_VENV)/.installed

$(COLAB_VENV)/.installed: tests/colab_like/requirements.txt Makefile
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install -q $(TORCH) -r tests/colab_like/requirements.txt
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
