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
``language_info`` down to its ``name`` (the rest names the Python that last ran it). A Python
kernelspec becomes the course's one, ``python3`` shown as "Python 3": JupyterLab writes the
display name of whichever kernel ran the notebook ("Python 3 (ipykernel)", a conda
environment's name), which says where it ran, not what the course is. Everything else
(sources, cell ids, tags, nbgrader metadata) is kept. The output is
``nbformat.writes`` plus one newline, the form of every committed notebook, so the filter leaves
a committed notebook byte for byte unchanged.

One thing a filter cannot do: ``git status`` (and ``git pull``, which refuses to overwrite "local
changes") compare a file's *size* with the one recorded in git's index before they look at its
content, so a notebook whose outputs made it bigger counts as changed until its index entry is
refreshed. :func:`refresh_index` does that, for a notebook whose cleaned text is exactly what
the index holds, and only then; ``make lab``'s JupyterLab calls it after every save
(``.jupyter/jupyter_server_config.py``). A notebook you changed stays a change.

A filter must never lose a file: text that is not a readable notebook (a merge in progress,
a half-written file) passes through unchanged, with a warning on stderr.
"""
import os
import subprocess
import sys

# git starts this script once for every notebook it looks at, so its start-up time is paid per
# file. nbformat imports jsonschema, which imports rfc3987_syntax when installed (jupyter-events
# pulls it in) for an IRI format check notebooks never use, and that builds a parser grammar
# on import: about 1 s of CPU. Blocking it makes jsonschema skip that one check.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402

CELL_RUN_STATE = ("execution", "collapsed", "scrolled", "jupyter", "ExecuteTime")
NOTEBOOK_RUN_STATE = ("widgets", "signature")
PYTHON_KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def strip(nb) -> None:
    """Remove run and view state from ``nb`` (a v4 NotebookNode), in place."""
    for key in NOTEBOOK_RUN_STATE:
        nb.metadata.pop(key, None)
    spec = nb.metadata.get("kernelspec")
    if spec is not None and (spec.get("language") == "python" or spec.get("name") == "python3"):
        nb.metadata["kernelspec"] = dict(PYTHON_KERNELSPEC)
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


def refresh_index(path) -> bool:
    """Mark the tracked notebook ``path`` unchanged in git's index when its cleaned text is what
    the index holds; True when it did. Anything else (not in a git clone, untracked, really
    changed, the index not writable, no git) leaves the index alone and returns False."""
    folder, name = os.path.split(os.path.abspath(path))

    def git(*args):
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=30)

    try:
        staged = git("rev-parse", "--verify", "--quiet", f":./{name}")
        if staged.returncode != 0:
            return False
        cleaned = git("hash-object", "--", name)   # through the clean filter, like `git add` would
        if cleaned.returncode != 0 or cleaned.stdout.strip() != staged.stdout.strip():
            return False
        return git("update-index", "--", name).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def main() -> None:
    text = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(clean(text).encode("utf-8"))


if __name__ == "__main__":
    main()
