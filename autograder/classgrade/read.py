"""Read a submitted notebook into a :class:`Submission`: what the student wrote, what was restored.

nbgrader's own predicates say what kind each cell is (``nbgrader.utils.is_grade`` /
``is_solution`` / ``is_locked``); the instructor's source decides what a cell must contain:

* test cells and read-only cells are compared with the source; an edited or deleted one is
  restored before grading (nbgrader's OverwriteCells does it in the kernel run; the recorder
  takes the source's text) and flagged once, listing the cells;
* the cells the recorder executes are the instructor's read-only set-up cells (those before
  the last answer in the source: imports, base classes), from the source, then the student's
  code in notebook order (answer cells and any cells the student added, scratch cells
  included: they may define helpers), magics and shell escapes stripped; test cells and the
  final plotting cells are not run there;
* a notebook holding none of the assignment's cells is a foreign notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .flags import Flag, Kind
from .protocol import AssignmentSpec
from .scan import strip_magics


@dataclass
class Submission:
    """One student's notebook, as the later stages need it."""

    editable: list[tuple[str, str]] = field(default_factory=list)   # (cell id, source): what the scan reads
    recorder_cells: list[str] = field(default_factory=list)          # what the recorder executes, in order
    flags: list[Flag] = field(default_factory=list)
    readable: bool = True


#: more cells than this is not a notebook anyone wrote by hand (the assignment has ~30): such a
#: notebook would cost nbgrader minutes and its feedback page tens of MB, so it is not graded
MAX_CELLS = 2000


def _grade_id(cell) -> str | None:
    return ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")


def _same_points(points, expected: float) -> bool:
    try:
        return abs(float(points) - expected) < 1e-9
    except (TypeError, ValueError):
        return False


def read_submission(path: str, spec: AssignmentSpec) -> Submission:
    """Never raises for what is in the file: an unreadable notebook is ``readable=False``."""
    import nbformat
    sub = Submission()
    try:
        nb = nbformat.read(path, as_version=4)
        cells = list(nb.cells)
    except Exception as exc:  # noqa: BLE001 - any malformed file is the submission's problem
        sub.readable = False
        sub.flags.append(Flag(Kind.INVALID_FILE, f"cannot read the notebook: {type(exc).__name__}: "
                                                  f"{str(exc)[:160]}"))
        return sub
    if len(cells) > MAX_CELLS:
        sub.readable = False
        sub.flags.append(Flag(Kind.TOO_LARGE, f"the notebook has {len(cells)} cells (at most {MAX_CELLS} are "
                                              "graded): ask the student to hand in the assignment's notebook"))
        return sub
    if not any((c.get("source") or "").strip() for c in cells):
        sub.readable = False
        sub.flags.append(Flag(Kind.INVALID_FILE, "the notebook is empty"))
        return sub
    present = {_grade_id(c) for c in cells}
    if not (spec.expected_ids & present):
        sub.readable = False
        sub.flags.append(Flag(Kind.FOREIGN_NOTEBOOK, "none of the assignment's answer or test cells are in the "
                                                     "notebook (a notebook of another assignment?)"))
        return sub
    edited, seen = [], set()
    sub.recorder_cells = [strip_magics(spec.locked[g]) for g in spec.locked if g in spec.setup_before]
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        gid = _grade_id(cell)
        src = cell.get("source") or ""
        if gid in spec.test_sources:
            seen.add(gid)
            points = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("points")
            if not spec.unchanged(gid, src) or not _same_points(points, spec.points(gid)):
                edited.append(gid)
            continue
        if gid in spec.locked:
            seen.add(gid)
            if not spec.unchanged(gid, src):
                edited.append(gid)
            continue
        cid = gid if gid in spec.solution_ids else f"cell {i + 1}"
        sub.editable.append((cid, src))
        sub.recorder_cells.append(strip_magics(src))
    deleted = sorted((set(spec.test_sources) | set(spec.locked)) - seen)
    if edited or deleted:
        what = []
        if edited:
            what.append("edited: " + ", ".join(edited))
        if deleted:
            what.append("deleted: " + ", ".join(deleted))
        sub.flags.append(Flag(Kind.EDITED_TEST, "; ".join(what) + " (restored from the assignment's source)"))
    return sub
