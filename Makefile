# The course's commands. Each target bootstraps .venv with the machine's python3
# and pip when it is missing, so a fresh clone needs nothing else first.
#
#   make demo     grade the bundled sample class and print where the report is
#   make test     install the test extras (and torch for the live cross-check), run pytest;
#                 as root it also installs Debian's chromium for the browser tests when missing
#   make lab      start JupyterLab on the course, as a student sees it (LAB_ARGS=... adds options)
#   make release  regenerate assignments/release/ and solutions/ from assignments/source/
#   make grade    grade a class:  make grade SUBMISSIONS=path/to/submitted  (or ZIP=lms.zip)
#   make bench    run the benchmarks in bench/

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Put the venv first on PATH so Jupyter kernels (and nbgrader's) run its python.
RUN    := PATH="$(abspath $(BIN)):$$PATH"
TORCH  := torch==2.13.0
JOBS   ?= 2

.PHONY: demo test lab release grade bench clean nbstrip chromium

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

demo: $(BIN)/.installed
	$(RUN) $(BIN)/python -m autograder demo --out demo-output

test: $(BIN)/.installed-test nbstrip chromium
	$(RUN) $(BIN)/python -m pytest -n $(JOBS) --dist loadfile

# JupyterLab as a student sees it: .jupyter/ holds the course's configuration (root may run
# it, it opens on the README, nbgrader's instructor tools are off; .jupyter/jupyter_server_config.py
# says why). It comes after your own ~/.jupyter on the config path, so your settings still win.
lab: $(BIN)/.installed nbstrip
	$(RUN) JUPYTER_CONFIG_PATH="$(CURDIR)/.jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	    $(BIN)/jupyter lab $(LAB_ARGS)

# Notebooks are committed without outputs. .gitattributes sends every *.ipynb through the
# "nbstrip" clean filter (.jupyter/nbstrip.py); this registers it in the clone's .git/config,
# so running a lecture leaves `git status` clean. Outside a git clone of the course (an
# unpacked zip, maybe inside some other repository) it does nothing.
nbstrip: $(BIN)/.installed
	@if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; then \
	    git config filter.nbstrip.clean '"$(abspath $(BIN))/python" .jupyter/nbstrip.py'; \
	fi

# The browser tests drive Debian's chromium (never a browser downloaded by `playwright install`).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	    if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	    else echo "make: /usr/bin/chromium is missing and the browser tests need it:" \
	              "run 'sudo apt-get install -y chromium'" >&2; fi; \
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

clean:
	rm -rf demo-output grading .pytest_cache .hypothesis
