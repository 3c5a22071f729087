"""The ``backprop`` assignment end to end with the real nbgrader command line, in a temporary course.

One module-scoped run: generate_assignment, ONE ``nbgrader autograde`` over a small class, one
``generate_feedback`` and one ``export``:

- "instructor": the instructor's solutions -> 100;
- "untouched": the release as handed out -> 0;
- "mistakes-N": every catalogued mistake injected into its solution cell (at most one per cell
  and student) -> exactly the points of the mistaken parts lost, and the feedback names each
  mistake with its title and hint.
"""
import csv
import html
import shutil

import nbformat
import pytest

from autograder import backprop as bp
from autograder import backprop_mistakes as bm
from autograder import build
from autograder.classgrade import samples

from test_backprop_checks import solution_namespace, student_code
from test_nbgrader_e2e import nbgrader

ASSIGNMENT = "backprop"
POINTS = {test: points for test, _, _, _, points in bp.PARTS}
TEST_OF = {target: test for test, _, target, _, _ in bp.PARTS}


def inject(sources, keys):
    """``sources`` with the mistakes ``keys`` written in, edits applied one after another.

    Unlike ``samples.with_mistakes`` this allows two mistakes in one cell (the Dropout class holds
    the forward and the backward part), as long as every edit still applies."""
    out = dict(sources)
    for key in keys:
        cell, edits = bm.EXAMPLES[key]
        for old, new in edits:
            if old not in out[cell]:
                raise ValueError(f"{key}: {old!r} no longer in cell {cell!r}")
            out[cell] = out[cell].replace(old, new)
    return out


def _diagnosed_separately(keys):
    """Do the in-process checks fail exactly these keys' parts, each diagnosed as its own key?"""
    try:
        ns = solution_namespace(inject(samples.solution_sources(ASSIGNMENT), keys))
    except ValueError:
        return False
    want = {bm.MISTAKES[k].target: k for k in keys}
    for target in bp.TARGETS:
        result = bp.check(student_code(ns, target), target, "all")
        if result.passed == (target in want) or (target in want and result.mistake != want[target]):
            return False
    return True


def pack_mistakes():
    """As few students as possible: at most one mistake per part, two in one cell only when they
    belong to different parts and are still diagnosed separately (two mistakes at once)."""
    groups = []
    for key in bm.EXAMPLES:
        target = bm.MISTAKES[key].target
        for group in groups:
            if target in {bm.MISTAKES[k].target for k in group}:
                continue
            if any(bm.EXAMPLES[k][0] == bm.EXAMPLES[key][0] for k in group) and not _diagnosed_separately(group + [key]):
                continue
            group.append(key)
            break
        else:
            groups.append([key])
    return groups


@pytest.fixture(scope="module")
def course(tmp_path_factory, kernel_sockets):
    root = tmp_path_factory.mktemp("course")
    shutil.copy2(build.COURSE / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(build.COURSE / "source" / ASSIGNMENT, root / "source" / ASSIGNMENT)
    nbgrader(["generate_assignment", ASSIGNMENT, "--force"], root)
    release = root / "release"
    solutions = samples.solution_sources(ASSIGNMENT)
    students = {"instructor": (samples.make_submission(solutions, ASSIGNMENT, release), set(), []),
                "untouched": (nbformat.read(release / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4), set(POINTS), [])}
    for n, keys in enumerate(pack_mistakes(), start=1):
        nb = samples.make_submission(inject(solutions, keys), ASSIGNMENT, release)
        students[f"mistakes-{n}"] = (nb, {TEST_OF[bm.MISTAKES[k].target] for k in keys}, keys)
    for student, (nb, _, _) in students.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    nbgrader(["autograde", ASSIGNMENT, *kernel_sockets.nbgrader_options()], root)
    nbgrader(["generate_feedback", ASSIGNMENT], root)
    nbgrader(["export"], root)
    return root, students


def scores(root, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {grade_id: gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, student).score for grade_id in POINTS}


def expected(lost):
    return {grade_id: 0.0 if grade_id in lost else float(points) for grade_id, points in POINTS.items()}


def test_the_gradebook_knows_the_graded_parts_and_their_points(course):
    from nbgrader.api import Gradebook
    root, _ = course
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        notebook = gb.find_notebook(ASSIGNMENT, ASSIGNMENT)
        assert {c.name: c.max_score for c in notebook.grade_cells} == {k: float(v) for k, v in POINTS.items()}
    assert sum(POINTS.values()) == 100


def test_the_solution_scores_full_marks_and_the_release_zero(course):
    root, _ = course
    assert scores(root, "instructor") == expected(set())
    assert scores(root, "untouched") == expected(set(POINTS))


def test_every_mistake_loses_exactly_its_parts_points(course):
    root, students = course
    assert sorted(k for _, _, keys in students.values() for k in keys) == sorted(bm.MISTAKES)
    for student, (_, lost, keys) in students.items():
        assert scores(root, student) == expected(lost), (student, keys)


def test_the_feedback_names_every_mistake_with_its_hint(course):
    root, students = course
    for student, (_, _, keys) in students.items():
        if not keys:
            continue
        page = html.unescape((root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html")
                             .read_text(encoding="utf-8"))
        flat = " ".join(page.split())          # reports wrap at word boundaries
        for key in keys:
            m = bm.MISTAKES[key]
            assert f"[{key}]" in flat and " ".join(m.title.split()) in flat \
                and " ".join(m.hint.split()) in flat, (student, key)


def test_no_graded_cell_writes_to_stderr(course):
    root, students = course
    for student in students:
        nb = nbformat.read(root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], student


def test_export_writes_the_expected_csv(course):
    root, students = course
    with open(root / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f) if row["assignment"] == ASSIGNMENT}
    assert set(rows) == set(students)
    for student, (_, lost, _) in students.items():
        assert float(rows[student]["score"]) == sum(p for g, p in POINTS.items() if g not in lost), student
        assert float(rows[student]["max_score"]) == 100


# ----------------------------------------------------------------------- the committed notebooks run
def _run(path, kernel_sockets, allow_errors):
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=allow_errors, config=kernel_sockets.config(),
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def _text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def test_the_solution_notebook_runs_cleanly_and_its_checker_agrees(kernel_sockets):
    nb = _run(build.ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", kernel_sockets, False)
    stderr = [o.text for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr
    assert sum(_text(c).count("PASSED") for c in nb.cells) == 2 * len(bp.PARTS)   # visible and hidden tests
    demos = {c.metadata.get("nbgrader", {}).get("grade_id"): _text(c) for c in nb.cells}
    assert "gradient (2, 5, 0)   (expected" in demos["demo_gates"]
    assert demos["demo_gradcheck"].count(" ok") == 4


def test_the_release_runs_and_fails_only_its_test_cells(kernel_sockets):
    nb = _run(build.ROOT / "assignments" / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", kernel_sockets, True)
    failing = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells
               if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert failing == [test for test, *_ in bp.PARTS]
    errors = "\n".join("\n".join(o.traceback) for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error")
    assert errors.count("not implemented") >= len(bp.PARTS)
    demos = [_text(c) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("demo")]
    assert all("not written yet, skipped" in t for t in demos) and len(demos) == 2
