# The course's commands. Each target bootstraps .venv with the machine's python3
# and pip when it is missing, so a fresh clone needs nothing else first.
#
#   make demo     grade a sample class of each assignment (optimizers, then backprop) and print
#                 where the reports are; make demo ASSIGNMENT=backprop for one, STUDENTS=40 for more
#   make test     install the test extras (and torch for the live cross-check), run pytest
#   make lab      start JupyterLab on the course
#   make release  regenerate assignments/release/ and solutions/ from assignments/source/
#   make grade    grade a class:  make grade SUBMISSIONS=path/to/submitted  (or ZIP=lms.zip)
#   make bench    run the benchmarks in bench/
#   make formgrader OUT=grading   nbgrader's formgrader (JupyterLab) on a grading output folder

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Put the venv first on PATH so Jupyter kernels (and nbgrader's) run its python.
RUN    := PATH="$(CURDIR)/$(BIN):$$PATH"
TORCH  := torch==2.13.0
JOBS   ?= 2

.PHONY: demo test lab release grade bench clean formgrader

# The runtime environment: the course and its command.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# Tests add hypothesis, nbclient, xdist, dask and torch (test-only: the course never imports it),
# and bubblewrap, which tests/test_sandbox.py uses as an independent check of the sandbox's view
# (installed only when missing and we are root on a Debian-like system; skipped otherwise).
$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,dask]" "$(TORCH)"
	command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get install -y -qq bubblewrap >/dev/null; } || true
	touch $@

# The demo grades every assignment (or ASSIGNMENT=...); 20 synthetic students each keeps the
# two under ~2 minutes on two cores.
STUDENTS ?= 20
demo: $(BIN)/.installed
	$(RUN) $(BIN)/python -m autograder.classgrade.demo --out demo-output --students $(STUDENTS) \
	    $(foreach a,$(or $(ASSIGNMENT),optimizers backprop),--assignment $(a))

test: $(BIN)/.installed-test
	$(RUN) $(BIN)/python -m pytest -n $(JOBS) --dist loadfile

lab: $(BIN)/.installed
	$(RUN) $(BIN)/jupyter lab --notebook-dir=.

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
