"""git's "nbstrip" clean filter: a notebook as the course commits it (no outputs, no run state).

    python .jupyter/nbstrip.py < executed.ipynb > clean.ipynb

``.gitattributes`` sends every ``*.ipynb`` through this filter and ``make lab`` / ``make test``
register it in the clone's ``.git/config`` (``git config filter.nbstrip.clean ...``). git then
compares and commits the *cleaned* text, so running a lecture or the assignment in JupyterLab
(outputs, execution counts, kernel and widget state, cells collapsed or scrolled) leaves
``git status`` clean and ``git diff`` showing only what a person wrote. The file on disk keeps
its outputs.

What is removed is run and view state only: outputs and execution counts of code cells; the
cell metadata ``execution`` (timings), ``collapsed``, ``scrolled``, ``jupyter``
(hidden input/output), ``ExecuteTime``; the notebook metadata ``widgets`` and ``signature``; and
``language_info`` down to its ``name`` (the rest names the Python that last ran it). Everything
else (sources, cell ids, tags, nbgrader metadata, the kernelspec) is kept. The output is
``nbformat.writes`` plus one newline, the form of every committed notebook, so the filter leaves
a committed notebook byte for byte unchanged.

A filter must never lose a file: text that is not a readable notebook (a merge in progress,
a half-written file) passes through unchanged, with a warning on stderr.
"""
import sys

import nbformat

CELL_RUN_STATE = ("execution", "collapsed", "scrolled", "jupyter", "ExecuteTime")
NOTEBOOK_RUN_STATE = ("widgets", "signature")


def strip(nb) -> None:
    """Remove run and view state from ``nb`` (a v4 NotebookNode), in place."""
    for key in NOTEBOOK_RUN_STATE:
        nb.metadata.pop(key, None)
    info = nb.metadata.get("language_info")
    if info is not None:
        nb.metadata["language_info"] = {"name": info.get("name", "python")}
    for cell in nb.cells:
        for key in CELL_RUN_STATE:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


def clean(text: str) -> str:
    """The committed form of the notebook ``text``; ``text`` itself when it is not a notebook."""
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # any parse failure: keep the content, say why
        print(f"nbstrip: not a notebook ({type(exc).__name__}: {exc}); left unchanged",
              file=sys.stderr)
        return text
    strip(nb)
    return nbformat.writes(nb) + "\n"


def main() -> None:
    text = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(clean(text).encode("utf-8"))


if __name__ == "__main__":
    main()
