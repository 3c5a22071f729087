# The course's commands. Each target bootstraps .venv with the machine's python3
# and pip when it is missing, so a fresh clone needs nothing else first.
#
#   make demo     grade a sample class of each assignment (optimizers, then backprop) and print
#                 where the reports are; make demo ASSIGNMENT=backprop for one, STUDENTS=40 for more
#   make test     install the test extras (and torch for the live cross-check), run pytest;
#                 as root it also installs Debian's chromium and bubblewrap when missing
#   make lab      start JupyterLab on the course, as a student sees it (LAB_ARGS=... adds options)
#   make release  regenerate assignments/release/ and solutions/ from assignments/source/
#   make grade    grade a class:  make grade SUBMISSIONS=path/to/submitted  (or ZIP=lms.zip)
#   make bench    run the benchmarks in bench/
#   make formgrader OUT=grading   nbgrader's formgrader (JupyterLab) on a grading output folder

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Put the venv first on PATH so Jupyter kernels (and nbgrader's) run its python.
RUN    := PATH="$(abspath $(BIN)):$$PATH"
TORCH  := torch==2.13.0
JOBS   ?= 2

.PHONY: demo test lab release grade bench clean formgrader nbstrip system-packages

# The runtime environment: the course and its command.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# Tests add hypothesis, nbclient, xdist, playwright, dask and torch (test-only: the course never imports it).
$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,dask]" "$(TORCH)"
	touch $@

# The demo grades every assignment (or ASSIGNMENT=...); 20 synthetic students each keeps the
# two under ~2 minutes on two cores.
STUDENTS ?= 20
demo: $(BIN)/.installed
	$(RUN) $(BIN)/python -m autograder.classgrade.demo --out demo-output --students $(STUDENTS) \
	    $(foreach a,$(or $(ASSIGNMENT),optimizers backprop),--assignment $(a))

# One BLAS thread per process: the two test workers already use both cores, and threaded
# OpenBLAS on small matrices under that load made lectures up to 6x slower.
test: $(BIN)/.installed-test nbstrip system-packages
	$(RUN) OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadfile

# JupyterLab as a student sees it: .jupyter/ holds the course's configuration (root may run
# it, it opens on the README, nbgrader's instructor tools are off; .jupyter/jupyter_server_config.py
# says why). It comes after your own ~/.jupyter on the config path, so your settings still win.
lab: $(BIN)/.installed nbstrip
	$(RUN) JUPYTER_CONFIG_PATH="$(CURDIR)/.jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	    $(BIN)/jupyter-lab $(LAB_ARGS)

# Notebooks are committed without outputs. .gitattributes sends every *.ipynb through the
# "nbstrip" clean filter (.jupyter/nbstrip.py); this registers it in the clone's .git/config,
# so running a lecture leaves `git status` clean. Outside a git clone of the course (an
# unpacked zip, maybe inside some other repository) it does nothing.
nbstrip: $(BIN)/.installed
	@if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; then \
	    git config filter.nbstrip.clean '"$(abspath $(BIN))/python" .jupyter/nbstrip.py'; \
	fi

# What the tests need from Debian: chromium for the browser tests (never a browser downloaded
# by `playwright install`) and bubblewrap, the sandbox tests' independent check of the view.
system-packages:
	@if [ ! -x /usr/bin/chromium ] || ! command -v bwrap >/dev/null; then \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium bubblewrap >/dev/null; \
	    else echo "make: the tests need Debian's chromium and bubblewrap:" \
	              "run 'sudo apt-get install -y chromium bubblewrap'" >&2; fi; \
	fi

release: $(BIN)/.installed
	$(RUN) $(BIN)/python -m autograder.build

grade: $(BIN)/.installed
	$(RUN) $(BIN)/python -m autograder grade --course assignments --assignment optimizers \
	    $(if $(ZIP),--zip $(ZIP),--submissions $(or $(SUBMISSIONS),assignments/submitted)) \
	    $(if $(ROSTER),--roster $(ROSTER)) --out $(or $(OUT),grading)

bench: $(BIN)/.installed-test
	$(RUN) $(BIN)/python bench/optim_step.py
	$(RUN) $(BIN)/python bench/notebooks.py
	$(RUN) $(BIN)/python bench/grading.py

# The formgrader on a grading output folder (an nbgrader course root: its nbgrader_config.py,
# gradebook.db, autograded/). Loopback only, on PORT (or the next free one); Jupyter prints the
# URL with its token: the formgrader is that address with /formgrader.
PORT ?= 8890
formgrader: $(BIN)/.installed
	@test -n "$(OUT)" || { echo "usage: make formgrader OUT=<grading output folder> [PORT=8890]" >&2; exit 2; }
	@test -f "$(OUT)/nbgrader_config.py" -a -f "$(OUT)/gradebook.db" || { echo "$(OUT) is not a grading \
	output folder (no nbgrader_config.py and gradebook.db): run make grade OUT=$(OUT) first" >&2; exit 2; }
	@echo "formgrader on $(OUT): open the http://127.0.0.1:.../lab?token=... address printed below, then Nbgrader > Formgrader"
	cd "$(OUT)" && PATH="$(abspath $(BIN)):$$PATH" "$(abspath $(BIN))/jupyter" lab --no-browser \
	    --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --ServerApp.root_dir=. \
	    $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf demo-output grading .pytest_cache .hypothesis
