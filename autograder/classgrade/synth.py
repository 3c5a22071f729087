"""Make student notebooks from an nbgrader course: fill the release notebook's solution cells.

Used by the demo class, the hostile-submission tests and the benchmark.
"""

from __future__ import annotations

import copy
import os
import re

import nbformat

BEGIN = re.compile(r"^\s*### BEGIN (SOLUTION|HIDDEN TESTS)\s*$")
END = re.compile(r"^\s*### END (SOLUTION|HIDDEN TESTS)\s*$")


def strip_markers(source: str) -> str:
    """Instructor source -> what a perfect student writes (solution kept, hidden tests dropped)."""
    out, hidden = [], False
    for line in source.splitlines():
        m = BEGIN.match(line)
        if m:
            hidden = m.group(1) == "HIDDEN TESTS"
            continue
        if END.match(line):
            hidden = False
            continue
        if not hidden:
            out.append(line)
    return "\n".join(out)


def solution_fills(source_nb_path: str) -> dict[str, str]:
    """grade_id -> the model solution's code, for every solution cell of the source notebook."""
    nb = nbformat.read(source_nb_path, as_version=4)
    fills = {}
    for cell in nb.cells:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if meta.get("solution") and meta.get("grade_id"):
            fills[meta["grade_id"]] = strip_markers(cell.source)
    return fills


def grade_id(cell) -> str | None:
    return ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")


def student_notebook(release_nb, fills: dict[str, str], append: list[str] | None = None,
                     edit=None):
    """A copy of the release notebook with solution cells replaced by ``fills`` (grade_id -> code).

    ``append``: extra code cells added at the end (as a student would); ``edit(nb)``: any other
    change, applied last.
    """
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in fills:
            cell.source = fills[gid]
    for src in append or []:
        nb.cells.append(nbformat.v4.new_code_cell(src))
    if edit is not None:
        edit(nb)
    return nb


def write_submission(submitted: str, student: str, assignment: str, notebook: str, nb=None,
                     raw: bytes | None = None, filename: str | None = None) -> str:
    d = os.path.join(submitted, student, assignment)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, filename or (notebook + ".ipynb"))
    if raw is not None:
        with open(path, "wb") as fh:
            fh.write(raw)
    else:
        nbformat.write(nb, path)
    return path


def find_class_cell(nb, class_name: str) -> str | None:
    """grade_id of the solution cell that defines ``class_name``."""
    pat = re.compile(rf"^\s*class\s+{re.escape(class_name)}\b", re.M)
    for cell in nb.cells:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if meta.get("solution") and pat.search(cell.get("source") or ""):
            return meta.get("grade_id")
    return None
