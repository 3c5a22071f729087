"""Synthetic submissions, made in one place: the demo class, the tests and the benchmark use them.

From an nbgrader course this makes what students hand in: the release notebook with its answer
cells filled (:func:`student_notebook`; :func:`solution_fills` reads the model solution,
:func:`strip_markers` drops hidden tests), written in nbgrader's ``submitted/`` layout
(:func:`write_submission`). :func:`build_class` makes a whole sample class:

* perfect submissions;
* one per catalogued mistake (the catalogue's ``EXAMPLES``: the mistake's text edits applied to
  the matching solution cell), so the class report's mistake chart is populated;
* students with two mistakes, and partial attempts (some answers left as the release stub);
* a few broken or hostile ones: a syntax error, an endless loop, a class copied from the
  reference library, a notebook that patches the checks, an empty notebook, a PDF instead
  of a notebook, and a rostered student who submitted nothing.
"""

from __future__ import annotations

import copy
import csv
import os
import random
import re
import shutil

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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


def solution_sources(assignment: str = "optimizers", course: str | None = None) -> dict[str, str]:
    """grade_id -> the instructor's code of every solution cell of ``assignment``."""
    course = course or os.path.join(ROOT, "assignments")
    return solution_fills(os.path.join(course, "source", assignment, f"{assignment}.ipynb"))


def with_mistakes(sources: dict, keys, examples=None) -> dict:
    """``sources`` with the catalogued mistakes ``keys`` injected (see ``mistakes.EXAMPLES``;
    another assignment passes its own ``examples``, e.g. ``backprop_mistakes.EXAMPLES``).

    Raises ValueError when an edit does not apply or two mistakes hit the same cell.
    """
    if examples is None:
        from autograder.mistakes import EXAMPLES as examples
    out, used = dict(sources), {}
    for key in keys:
        cell, edits = examples[key]
        if cell in used:
            raise ValueError(f"mistakes {used[cell]!r} and {key!r} both change cell {cell!r}")
        used[cell] = key
        code = out[cell]
        for old, new in edits:
            if old not in code:
                raise ValueError(f"mistake {key!r}: {old!r} not found in cell {cell!r}")
            code = code.replace(old, new)
        out[cell] = code
    return out


def make_submission(sources=None, assignment: str = "optimizers", release: str | None = None):
    """A student's notebook: the release with its solution cells replaced by ``sources``
    (default: the instructor's solutions, a full-marks submission); other cells as released."""
    sources = solution_sources(assignment) if sources is None else sources
    release = release or os.path.join(ROOT, "assignments", "release")
    nb = nbformat.read(os.path.join(str(release), assignment, f"{assignment}.ipynb"), as_version=4)
    solutions = {grade_id(c) for c in nb.cells if ((c.get("metadata") or {}).get("nbgrader") or {}).get("solution")}
    return student_notebook(nb, {g: src for g, src in sources.items() if g in solutions})


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


def _apply(source: str, edits) -> str | None:
    for old, new in edits:
        if old not in source:
            return None
        source = source.replace(old, new)
    return source


def mistake_fills(fills: dict[str, str], assignment: str = "optimizers") -> dict[str, tuple[str, str, str]]:
    """mistake key -> (grade_id, mistaken source, target) for every applicable catalogue entry."""
    import importlib

    from .protocol import CATALOGUES
    mistakes = importlib.import_module(CATALOGUES[assignment])
    out = {}
    for key, (gid, edits) in getattr(mistakes, "EXAMPLES", {}).items():
        if gid in fills:
            src = _apply(fills[gid], edits)
            if src is not None:
                out[key] = (gid, src, gid)
    return out


#: assignment -> {name: (solution grade_id or None, the cell's hostile source)}; None appends the
#: source to the first answer cell (code that runs before any test).
HOSTILE_DEMO = {
    "optimizers": {
        "syntax-error": ("sgd", "class SGD(Optimizer):\n    def update(self, params, grads)\n        pass\n"),
        "endless-loop": ("momentum", "class Momentum(Optimizer):\n    def __init__(self, lr=0.01, momentum=0.9):\n"
                         "        super().__init__(lr)\n        self.momentum = momentum\n\n"
                         "    def update(self, params, grads):\n        while True:\n            pass\n"),
        "copies-reference": ("adam", "from dlcourse.optim import Adam as _A\n\n\nclass Adam(_A):\n    pass\n"),
        "patches-checks": (None, "import autograder.result\n"
                           "autograder.result.CheckResult.assert_passed = lambda self: print('PASSED')\n"),
    },
    "backprop": {
        "syntax-error": ("add_gate", "class AddGate:\n    def backward(self, upstream)\n        return upstream\n"),
        "endless-loop": ("window_backward", "def window_backward(ds, cache, W, u, f_prime):\n"
                         "    while True:\n        pass\n"),
        "copies-reference": ("relative_error", "from dlcourse.gradcheck import relative_error\n"),
        "patches-checks": (None, "import autograder.result\n"
                           "autograder.result.CheckResult.assert_passed = lambda self: print('PASSED')\n"),
    },
}


def build_class(course: str, assignment: str, dest: str, students: int = 40, seed: int = 0,
                hostile: bool = True) -> tuple[str, str, dict[str, str]]:
    """Write ``dest/submitted/<student>/<assignment>/`` and ``dest/roster.csv``.

    Returns (submitted dir, roster path, {student: what was done to the submission}).
    """
    from .course import prepare_template
    from .protocol import load_spec
    rng = random.Random(seed)
    notebook = load_spec(course, assignment).notebook
    tmp = os.path.join(dest, ".release")
    template = prepare_template(course, assignment, tmp)
    release = nbformat.read(os.path.join(template, "release", assignment, notebook + ".ipynb"), as_version=4)
    fills = solution_fills(os.path.join(course, "source", assignment, notebook + ".ipynb"))
    submitted = os.path.join(dest, "submitted")
    shutil.rmtree(submitted, ignore_errors=True)
    os.makedirs(submitted)
    plan: dict[str, str] = {}
    subs: list[tuple[str, dict, list]] = []

    def add(desc: str, changes: dict, append=None):
        sid = f"s{len(plan) + 1:03d}"
        plan[sid] = desc
        subs.append((sid, changes, append or []))

    hostile_members = {name: (gid, src) for name, (gid, src) in HOSTILE_DEMO.get(assignment, {}).items()
                       if gid is None or gid in fills} if hostile else {}
    tail = len(hostile_members) + 3 if hostile else 0            # hostile, empty, pdf, missing
    reserved = 3 + tail                                          # and a few more perfect ones
    mist = mistake_fills(fills, assignment)
    reserved = 3 + (len(HOSTILE_DEMO) + 3 if hostile else 0)   # perfect ones, hostile, empty, pdf, missing
    add("perfect", {})
    for key in list(mist)[:max(0, students - reserved - 1)]:
        gid, src, _ = mist[key]
        add(f"mistake {key}", {gid: src})
    keys = list(mist)
    while len(plan) < max(students - reserved, 1):
        kind = rng.random()
        if kind < 0.4 and len(keys) >= 2:
            a, b = rng.sample(keys, 2)
            if mist[a][0] != mist[b][0]:
                add(f"mistakes {a} + {b}", {mist[a][0]: mist[a][1], mist[b][0]: mist[b][1]})
        else:
            parts = rng.sample(sorted(fills), k=max(1, len(fills) // 3))
            add("partial: left " + ", ".join(parts) + " as released",
                {gid: c.source for c in release.cells if (gid := grade_id(c)) in parts})
    while len(plan) < students - tail:
        add("perfect", {})
    for sid, changes, append in subs:
        merged = dict(fills)
        merged.update(changes)
        write_submission(submitted, sid, assignment, notebook, student_notebook(release, merged, append))
    if hostile:
        first_answer = next(gid for c in release.cells if (gid := grade_id(c)) in fills)
        for name, (gid, src) in hostile_members.items():
            sid = f"s{len(plan) + 1:03d}"
            plan[sid] = f"hostile: {name}"
            merged = dict(fills)
            if gid:
                merged[gid] = src
            else:
                merged[first_answer] = merged[first_answer] + "\n\n" + src
            write_submission(submitted, sid, assignment, notebook, student_notebook(release, merged))
        sid = f"s{len(plan) + 1:03d}"
        plan[sid] = "broken: empty notebook"
        write_submission(submitted, sid, assignment, notebook, nbformat.v4.new_notebook())
        sid = f"s{len(plan) + 1:03d}"
        plan[sid] = "broken: a PDF instead of the notebook"
        write_submission(submitted, sid, assignment, notebook, raw=b"%PDF-1.4 not a notebook\n",
                               filename=notebook + ".pdf")
        sid = f"s{len(plan) + 1:03d}"
        plan[sid] = "missing: on the roster, no submission"
    roster = os.path.join(dest, "roster.csv")
    with open(roster, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "first_name", "last_name", "email"])
        for sid in plan:
            w.writerow([sid, "Student", sid.upper(), f"{sid}@example.edu"])
    shutil.rmtree(tmp, ignore_errors=True)
    return submitted, roster, plan
