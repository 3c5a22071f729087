"""How an assignment plugs into the class grader: one declared protocol, one spec per run.

An assignment is a *checks module* (``autograder.checks`` for ``optimizers``,
``autograder.backprop`` for ``backprop``) that satisfies :class:`AssignmentChecks`. Adding an
assignment is writing such a module and its nbgrader source notebook; the pipeline does not
change. :func:`load_spec` reads the module and the instructor's source notebook once, in the
main process, into an :class:`AssignmentSpec`: plain, picklable data every worker gets.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .decide import PartSpec

#: assignment name -> its checks module (the default when --checks is not given)
CHECKS_MODULES = {"optimizers": "autograder.checks", "backprop": "autograder.backprop"}
#: assignment name -> its mistake catalogue (grader-side knowledge: never in the recorder)
CATALOGUES = {"optimizers": "autograder.mistakes", "backprop": "autograder.backprop_mistakes"}


@runtime_checkable
class AssignmentChecks(Protocol):
    """What the grader needs from an assignment's checks module.

    ``PARTS``: ``(test grade_id, solution grade_id, target, student's name, points)`` rows in
    notebook order (a test cell may check several targets: several rows).
    ``scenarios(target, which, seed)``: plain data; visible fixed; with an int ``seed`` the
    hidden ones are drawn from ``np.random.default_rng(seed)`` at grading time.
    ``run_trajectory(code, scenario)``: the recorder; never raises for the student's doing.
    It runs in the student's sandboxed process, from ``RECORDER_FILES`` alone (paths relative
    to the ``autograder`` package; default: the module's own file and ``result.py``), so it
    must not import the reference or the catalogue at module level.
    ``Trajectory.from_dict``: rebuilds a recording from plain data, validating it.
    ``compare_all(target, scenarios, trajectories)``: the grader-side verdict (a
    ``CheckResult``: ``passed``, ``problem``, ``mistake``, ``summary()``), with diagnosis.
    ``reference(target)``: the course's reference, in the student's calling convention.
    """

    PARTS: tuple
    TARGETS: tuple

    def scenarios(self, name: str, which: str = "visible", seed: int | None = None) -> list: ...

    def run_trajectory(self, code: Any, scenario: Any) -> Any: ...

    def compare_all(self, name: str, scenarios: list, trajectories: list) -> Any: ...

    def reference(self, name: str) -> Any: ...


@dataclass
class AssignmentSpec:
    """Everything the stages need to know about the assignment (built once per run)."""

    name: str
    notebook: str                     # notebook file stem
    course: str                       # the instructor's nbgrader course root
    checks: str                       # the checks module's name
    parts: list[PartSpec]             # graded test cells, notebook order
    test_sources: dict[str, str]      # test grade_id -> the released source (edits are restored)
    locked: dict[str, str]            # read-only code cells: grade_id -> instructor source
    setup_before: set[str]            # locked cells that come before the last answer (the recorder runs them)
    solution_ids: list[str]           # answer cells, notebook order
    recorder_files: tuple[str, ...]
    recorder_module: str
    targets: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)   # target -> the class/function name the student writes
    solution_classes: dict[str, str] = field(default_factory=dict)   # the model solution's classes (scan)
    test_full_sources: dict[str, str] = field(default_factory=dict)  # test grade_id -> source text (hidden tests in)

    def points(self, gid: str) -> float:
        """The points of test cell ``gid`` in the instructor's source."""
        return next(p.points for p in self.parts if p.grade_id == gid)

    def unchanged(self, gid: str, text: str) -> bool:
        """Is ``text`` the test or read-only cell ``gid`` as released (or as in the source,
        which is what a notebook made from solutions/ holds)?"""
        text = text.replace("\r\n", "\n").strip()         # a notebook saved on Windows is unchanged
        return any(text == t.replace("\r\n", "\n").strip() for t in (self.test_sources.get(gid), self.test_full_sources.get(gid),
                                                self.locked.get(gid)) if t is not None)

    @property
    def max_score(self) -> float:
        return float(sum(p.points for p in self.parts))

    @property
    def expected_ids(self) -> set[str]:
        """The grade_ids that tell this assignment's notebooks from others: its answer and test
        cells (read-only cells such as ``setup`` may share their ids with other assignments)."""
        return set(self.test_sources) | set(self.solution_ids)


def load_checks(module: str) -> AssignmentChecks:
    mod = importlib.import_module(module)
    missing = [a for a in ("PARTS", "TARGETS", "scenarios", "run_trajectory", "compare_all", "reference",
                           "Trajectory") if not hasattr(mod, a)]
    if missing:
        raise ValueError(f"checks module {module!r} lacks {', '.join(missing)} (see autograder.classgrade.protocol)")
    return mod


def load_spec(course: str, assignment: str, checks: str | None = None) -> AssignmentSpec:
    """Read the assignment from the instructor's ``source/`` and its checks module.

    Raises ValueError / FileNotFoundError naming the cause (an instructor's error)."""
    import nbformat
    checks = checks or CHECKS_MODULES.get(assignment)
    if checks is None:
        raise ValueError(f"no checks module known for assignment {assignment!r}; pass --checks MODULE")
    mod = load_checks(checks)
    src_dir = os.path.join(course, "source", assignment)
    if not os.path.isdir(src_dir):
        raise FileNotFoundError(f"no source folder {src_dir}: is --course the nbgrader course root?")
    nbs = sorted(f for f in os.listdir(src_dir) if f.endswith(".ipynb") and not f.startswith("."))
    if len(nbs) != 1:
        raise ValueError(f"{src_dir} must hold exactly one notebook, found {nbs}")
    notebook = nbs[0][:-len(".ipynb")]
    nb = nbformat.read(os.path.join(src_dir, nbs[0]), as_version=4)
    released = {}
    rel = os.path.join(course, "release", assignment, nbs[0])
    if os.path.exists(rel):
        for cell in nbformat.read(rel, as_version=4).cells:
            gid = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")
            if gid:
                released[gid] = cell.source
    targets_of: dict[str, list[str]] = {}
    names = {}
    for row in mod.PARTS:
        targets_of.setdefault(row[0], []).append(row[2])
        names[row[2]] = row[3]
    parts, tests, full, locked, sols, order = [], {}, {}, {}, [], []
    for cell in nb.cells:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        gid = meta.get("grade_id")
        if not gid:
            continue
        order.append(gid)
        if meta.get("solution"):
            sols.append(gid)
        elif meta.get("grade") and cell.cell_type == "code":
            parts.append(PartSpec(gid, float(meta.get("points") or 0), tuple(targets_of.get(gid, ()))))
            tests[gid] = released.get(gid, cell.source)
            full[gid] = cell.source
        elif meta.get("locked") and cell.cell_type == "code":
            locked[gid] = cell.source
    untied = [p.grade_id for p in parts if not p.targets]
    if untied:
        raise ValueError(f"test cell(s) {', '.join(untied)} of {notebook}.ipynb are not in {checks}.PARTS: "
                         "no verdict could ever be computed for them")
    last = max((order.index(s) for s in sols), default=-1)
    setup = {g for g in locked if order.index(g) < last}
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    default_files = (os.path.relpath(os.path.abspath(mod.__file__), here), "result.py")
    files = tuple(getattr(mod, "RECORDER_FILES", default_files))
    from .scan import class_sources
    solution_classes: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and ((cell.get("metadata") or {}).get("nbgrader") or {}).get("solution"):
            solution_classes.update(class_sources(cell.source))
    return AssignmentSpec(name=assignment, course=os.path.abspath(course), solution_classes=solution_classes, test_full_sources=full, notebook=notebook, checks=checks, parts=parts, test_sources=tests,
                          locked=locked, setup_before=setup, solution_ids=sols, recorder_files=files,
                          recorder_module=getattr(mod, "RECORDER_MODULE", checks),
                          targets=[t for p in parts for t in p.targets], names=names)
