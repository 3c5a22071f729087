"""The nbgrader course end to end, with the real command line, in a temporary copy.

One module-scoped run (each nbgrader process costs seconds): generate_assignment,
then ONE ``nbgrader autograde`` over a class of test students, one
``generate_feedback`` and one ``export``:

- "instructor": the instructor's solutions -> full marks;
- "untouched": the release as handed out -> 0;
- "warns": correct code that raises a harmless RuntimeWarning -> full marks (the
  checks catch the warning, so nothing reaches stderr, which nbgrader scores 0);
- "mistakes-N": every catalogued mistake injected into its part (at most one per
  part and student) -> exactly those parts' points lost, and the feedback names
  each mistake; the verdicts equal the in-process checks'.
"""
import csv
import html
import os
import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder import build, check, checks, mistakes
from autograder.classgrade import samples

ASSIGNMENT = "optimizers"
POINTS = {"test_ewma": 10, "test_sgd": 5, "test_momentum": 10, "test_nesterov": 10,
          "test_adagrad": 10, "test_rmsprop": 10, "test_adadelta": 10, "test_adam": 15,
          "test_adamax": 5, "test_nadam": 5, "test_step_decay": 10, "test_cosine": 10}
MAX_SCORE = sum(POINTS.values())
PART_TARGET = {"ewma": "EWMA", "step_decay": "step_decay", "cosine": "cosine",
               **{name.lower(): name for name in checks.OPTIMIZER_NAMES}}

# Correct Adam, plus a harmless line that warns on zero gradients (visible scenario).
WARNING_EDIT = ("adam", "            m_hat = m / (1 - self.beta1 ** t)\n",
                "            direction = g / np.abs(g)   # unused; 0/0 warns on zero gradients\n"
                "            m_hat = m / (1 - self.beta1 ** t)\n")


def pack_mistakes(size=4):
    """Groups of at most ``size`` mistake keys, at most one mistake per notebook cell."""
    groups = []
    for key, (cell, _) in mistakes.EXAMPLES.items():
        for group in groups:
            if len(group) < size and cell not in {mistakes.EXAMPLES[k][0] for k in group}:
                group.append(key)
                break
        else:
            groups.append([key])
    return groups


# The line nbgrader prints for every test cell of every student: the restored cells differ
# from the release's (their hidden tests are back).
ROUTINE_LOG = ("Attribute 'checksum' for cell",)


def failure_log(text):
    """nbgrader's output without the routine lines, so a failure shows its traceback."""
    return "\n".join(line for line in text.splitlines() if not any(r in line for r in ROUTINE_LOG))


def nbgrader(args, cwd):
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PATH"] = str(pathlib.Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (f"nbgrader {args} failed:\n{failure_log(done.stdout)}\n"
                                  f"{failure_log(done.stderr)}")
    return done


@pytest.fixture(scope="module")
def course(tmp_path_factory, kernel_sockets):
    root = tmp_path_factory.mktemp("course")
    shutil.copy2(build.COURSE / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(build.COURSE / "source", root / "source")
    nbgrader(["generate_assignment", ASSIGNMENT, "--force"], root)

    solutions = samples.solution_sources(ASSIGNMENT)
    students = {"instructor": (samples.make_submission(solutions, release=root / "release"), set())}
    students["untouched"] = (nbformat.read(root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4),
                             set(POINTS))
    warned = dict(solutions)
    cell, old, new = WARNING_EDIT
    assert old in warned[cell]
    warned[cell] = warned[cell].replace(old, new)
    students["warns"] = (samples.make_submission(warned, release=root / "release"), set())
    groups = pack_mistakes()
    for n, keys in enumerate(groups, start=1):
        nb = samples.make_submission(samples.with_mistakes(solutions, keys), release=root / "release")
        lost = {"test_" + mistakes.EXAMPLES[k][0] for k in keys}
        students[f"mistakes-{n}"] = (nb, lost, keys)
    for student, (nb, *_rest) in students.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")

    nbgrader(["autograde", ASSIGNMENT, *kernel_sockets.nbgrader_options()], root)
    nbgrader(["generate_feedback", ASSIGNMENT], root)
    nbgrader(["export"], root)
    return root, students, groups


def scores(root, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {grade_id: gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, student).score
                for grade_id in POINTS}


def expected_scores(lost):
    return {grade_id: (0.0 if grade_id in lost else float(points)) for grade_id, points in POINTS.items()}


def cell_outputs(root, student):
    """grade_id -> (text of the cell's outputs, has_error, has_stderr) in the autograded notebook."""
    nb = nbformat.read(root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    out = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in POINTS:
            text, error, stderr = "", False, False
            for o in cell.outputs:
                if o.output_type == "error":
                    error = True
                    text += "\n".join(o.traceback)
                elif o.output_type == "stream":
                    stderr |= o.name == "stderr"
                    text += o.text
            out[grade_id] = (text, error, stderr)
    return out


def test_the_gradebook_knows_the_twelve_graded_parts(course):
    from nbgrader.api import Gradebook
    root, _, _ = course
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        notebook = gb.find_notebook(ASSIGNMENT, ASSIGNMENT)
        assert {c.name: c.max_score for c in notebook.grade_cells} == {k: float(v) for k, v in POINTS.items()}


def test_the_instructors_solution_scores_full_marks(course):
    root, _, _ = course
    assert scores(root, "instructor") == expected_scores(set())


def test_the_untouched_release_scores_zero(course):
    root, _, _ = course
    assert scores(root, "untouched") == expected_scores(set(POINTS))


def test_a_correct_answer_with_a_numpy_warning_keeps_its_points(course):
    root, _, _ = course
    assert scores(root, "warns") == expected_scores(set())
    text, error, stderr = cell_outputs(root, "warns")["test_adam"]
    assert not error and not stderr
    assert "RuntimeWarning" in text and "invalid value encountered in divide" in text


def test_every_mistake_loses_exactly_its_parts_points(course):
    root, students, groups = course
    assert sorted(k for g in groups for k in g) == sorted(mistakes.MISTAKES)
    for n, _ in enumerate(groups, start=1):
        _, lost, keys = students[f"mistakes-{n}"]
        assert scores(root, f"mistakes-{n}") == expected_scores(lost), keys


def test_the_feedback_names_every_mistake(course):
    root, _, groups = course
    for n, keys in enumerate(groups, start=1):
        page = html.unescape((root / "feedback" / f"mistakes-{n}" / ASSIGNMENT / f"{ASSIGNMENT}.html")
                             .read_text(encoding="utf-8"))
        flat = " ".join(page.split())          # reports wrap at word boundaries
        assert "result.py" not in page and "site-packages" not in page   # no grader frame
        for key in keys:
            m = mistakes.MISTAKES[key]
            assert f"[{key}]" in page and " ".join(m.title.split()) in flat \
                and " ".join(m.hint.split()) in flat, key


def test_notebook_and_pytest_give_the_same_verdicts(course):
    """The test cells (visible + hidden) fail exactly where the in-process checks fail, same diagnosis."""
    import nbformat as nbf
    root, _, groups = course
    for n, keys in enumerate(groups, start=1):
        sources = samples.with_mistakes(samples.solution_sources(ASSIGNMENT), keys)
        ns = {}
        source_nb = nbf.read(build.COURSE / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
        for cell in source_nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in ("setup", "base_class"):
                exec(cell.source, ns)
        for code in sources.values():
            exec(code, ns)
        outputs = cell_outputs(root, f"mistakes-{n}")
        for part, target in PART_TARGET.items():
            result = check(ns[target], target, "all")
            text, error, stderr = outputs["test_" + part]
            assert error == (not result.passed), (part, keys)
            assert not stderr
            if not result.passed:
                assert f"[{result.mistake}]" in text, (part, result.mistake)


def test_export_writes_the_expected_csv(course):
    root, students, _ = course
    with open(root / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(students)
    for student, (_, lost, *_rest) in students.items():
        expected = sum(p for g, p in POINTS.items() if g not in lost)
        assert float(rows[student]["score"]) == expected, student
        assert float(rows[student]["max_score"]) == MAX_SCORE
        assert rows[student]["assignment"] == ASSIGNMENT
