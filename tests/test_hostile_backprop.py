"""The hostile suite's main attacks, on the ``backprop`` assignment; and its catalogued mistakes.

The grader's trust model does not depend on the assignment, so what holds for ``optimizers``
(tests/test_hostile.py) must hold here: a patched report over unwritten stubs earns nothing; an
answer that imports the course's reference (``dlcourse.graph``, ``window``, ``gradcheck``,
``layers``, ``init``) loses that part and is flagged as copying; an endless loop, an
``os._exit`` or a memory bomb costs exactly the parts it breaks; reading the solutions finds
nothing; patching numpy changes no verdict. Beside them, students with catalogued mistakes
(``backprop_mistakes.EXAMPLES`` applied to the model solution) lose exactly the mistaken part,
and results.json names the mistake on that part.

One class is graded ONCE by ``python -m autograder grade --assignment backprop`` (module-scoped
fixture, 2 workers, the folder layout with a roster); the control student is also graded alone
in a clean run, and must grade the same in both. Scores are "full marks minus the points of the
parts the submission breaks", read from the assignment.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import nbformat
import pytest

from autograder import backprop as bp
from autograder import backprop_mistakes as bm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join(ROOT, "assignments")
ASSIGNMENT = "backprop"
SOURCE_NB = os.path.join(COURSE, "source", ASSIGNMENT, ASSIGNMENT + ".ipynb")
SOLUTION_NB = os.path.join(ROOT, "solutions", ASSIGNMENT, ASSIGNMENT + ".ipynb")

TEST_OF = {target: test for test, _, target, _, _ in bp.PARTS}
ALL = None     # every part loses its points

OBFUSCATED_PATCH = ('_m = __import__("sys").modules["autograder.res" + "ult"]\n'
                    '_m.CheckResult.assert_passed = lambda self: print("PASSED")\n')

IMPORT_GRAPH = "from dlcourse.graph import MaxGate\n"
IMPORT_WINDOW = '''from dlcourse import window as _window


def window_forward(L, W, b, u, word_ids, f):
    s, cache = _window.forward({"L": L, "W": W, "b": b, "U": u}, word_ids, activation=f.__name__)
    return s, {"x": cache["x"], "z": cache["z"], "h": cache["h"]}
'''
IMPORT_GRADCHECK = "from dlcourse.gradcheck import numerical_gradient\n"
IMPORT_LAYERS = '''from dlcourse import layers as _layers


class Dropout:
    def __init__(self, keep_prob, rng):
        self.keep_prob, self.rng, self.mask = keep_prob, rng, None

    def forward(self, x, train=True):
        out, self.mask = _layers.dropout_forward(x, self.keep_prob, self.rng, train)
        return out

    def backward(self, dout):
        return _layers.dropout_backward(dout, self.mask)
'''
IMPORT_INIT = "from dlcourse.init import xavier_normal\n"

#: The answer is the solution's own cell, read out of the solutions notebook at run time.
READ_SOLUTIONS = f'''import json as _json

try:
    with open({SOLUTION_NB!r}, encoding="utf-8") as _fh:
        for _cell in _json.load(_fh)["cells"]:
            _src = "".join(_cell["source"])
            if _src.lstrip().startswith("def window_backward"):
                exec(_src)
except OSError:
    pass
'''
READ_SOURCE = f'''try:
    _s = open({SOURCE_NB!r}).read()
except OSError:
    pass
'''
#: What the optimizers suite patches: the comparisons a test would use.
PATCH_NUMPY = "np.allclose = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None\n"
#: More of numpy, over unwritten stubs (it also breaks the notebook's own statistical checks,
#: which can only lower a score: nothing to gain).
PATCH_NUMPY_MORE = PATCH_NUMPY + ("np.array_equal = lambda *a, **k: True\n"
                                  "np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)\n")
#: The optimizers suite's bomb (bytearray pages are zero-filled lazily: the memory may never be
#: touched) and one that writes every page, so the submission's memory limit is really reached.
MEMORY_BOMB = "_hog = []\nwhile True:\n    _hog.append(bytearray(200_000_000))\n"
MEMORY_BOMB_TOUCHED = "_hog = []\nwhile True:\n    _hog.append(np.ones(25_000_000))\n"

#: Eight catalogued mistakes in four students, two per student in different parts.
MISTAKE_STUDENTS = {
    "mistakes-1": ["multiply-no-swap", "outer-product-transposed"],
    "mistakes-2": ["repeat-overwritten", "one-sided-difference"],
    "mistakes-3": ["xavier-uniform-fan-in-only", "dropout-scales-at-test"],
    "mistakes-4": ["l2-grad-factor-2", "max-routes-to-both"],
}


def build(tmp):
    from autograder.classgrade import pipeline, samples
    template = pipeline.prepare_template(COURSE, ASSIGNMENT, str(tmp / "pre"))
    release = nbformat.read(os.path.join(template, "release", ASSIGNMENT, ASSIGNMENT + ".ipynb"), as_version=4)
    fills = samples.solution_fills(SOURCE_NB)
    stubs = {samples.grade_id(c): c.source for c in release.cells if samples.grade_id(c) in fills}

    def nb(changes=None):
        return samples.student_notebook(release, {**fills, **(changes or {})})

    def with_(gid, extra, before=False):
        return {gid: (extra + "\n" + fills[gid]) if before else (fills[gid] + "\n\n" + extra)}

    def mistaken(keys):
        out = dict(fills)
        for key in keys:
            cell, edits = bm.EXAMPLES[key]
            for old, new in edits:
                assert old in out[cell], (key, old)
                out[cell] = out[cell].replace(old, new)
        return out

    loop = fills["window_backward"].replace('    x, z, h = cache["x"], cache["z"], cache["h"]\n',
                                            '    while True:\n        pass\n', 1)
    exit_in_body = fills["l2_penalty"].replace('    penalty = ', '    import os\n    os._exit(3)\n    penalty = ', 1)
    assert loop != fills["window_backward"] and exit_in_body != fills["l2_penalty"]
    cases = {
        # student: (notebook, tests that lose their points (or ALL), flags expected, status)
        "control": (nb(), [], [], "graded"),
        # every stub as released, the notebook's own report patched to say PASSED: 0 everywhere
        "stubs-patched-report": (nb({**stubs, "add_gate": stubs["add_gate"] + "\n" + OBFUSCATED_PATCH}),
                                 ALL, ["inconsistent"], "graded"),
        # the reference instead of the student's own code: that part earns nothing, and is named
        "import-graph": (nb({"max_gate": IMPORT_GRAPH}), ["test_max_gate"], ["copying"], "graded"),
        "import-window": (nb({"window_forward": IMPORT_WINDOW}), ["test_window_forward"], ["copying"], "graded"),
        "import-gradcheck": (nb({"numerical_gradient": IMPORT_GRADCHECK}), ["test_numerical_gradient"],
                             ["copying"], "graded"),
        "import-layers": (nb({"dropout": IMPORT_LAYERS}), ["test_dropout_forward", "test_dropout_backward"],
                          ["copying"], "graded"),
        "import-init": (nb({"xavier_normal": IMPORT_INIT}), ["test_xavier_normal"], ["copying"], "graded"),
        "loop-in-backward": (nb({"window_backward": loop}), ["test_window_backward"], ["timeout"], "graded"),
        "loop-at-top": (nb(with_("embedding_grad", "while True:\n    pass", before=True)),
                        ["test_embedding_grad"], ["timeout"], "graded"),
        # a process that ends itself while its cells run: nothing can be recorded, flagged
        "os-exit": (nb(with_("l2_penalty", "import os\nos._exit(1)")), ALL, ["tampering", "crash"], "graded"),
        # ... and one that ends itself only when its part is called: that part alone
        "os-exit-in-answer": (nb({"l2_penalty": exit_in_body}), ["test_l2_penalty"], ["crash"], "graded"),
        # the solutions are not in the sandbox: the answer they were to supply is missing
        "read-solutions": (nb({"window_backward": READ_SOLUTIONS}), ["test_window_backward"], ["tampering"],
                           "graded"),
        # an attempt that finds nothing: the student's own correct code keeps its points, flagged
        "read-source": (nb(with_("add_gate", READ_SOURCE)), [], ["tampering"], "graded"),
        # patching numpy's comparisons changes only the notebook's own tests
        "patch-numpy": (nb(with_("add_gate", PATCH_NUMPY)), [], ["tampering"], "graded"),
        "patch-numpy-stubs": (nb({**stubs, "add_gate": stubs["add_gate"] + "\n" + PATCH_NUMPY_MORE}), ALL,
                              ["tampering"], "graded"),
        "memory-bomb": (nb(with_("embedding_grad", MEMORY_BOMB, before=True)), ["test_embedding_grad"], [],
                        "graded"),
        "memory-bomb-touched": (nb(with_("embedding_grad", MEMORY_BOMB_TOUCHED, before=True)),
                                ["test_embedding_grad"], [], "graded"),
        "untouched": (nb(stubs), ALL, [], "graded"),
    }
    for sid, keys in MISTAKE_STUDENTS.items():
        cases[sid] = (nb(mistaken(keys)), [TEST_OF[bm.MISTAKES[k].target] for k in keys], [], "graded")
    sub = tmp / "submitted"
    for sid, (book, *_rest) in cases.items():
        samples.write_submission(str(sub), sid, ASSIGNMENT, ASSIGNMENT, book)
    roster = tmp / "roster.csv"
    roster.write_text("id,first_name,last_name,email\n" + "".join(f"{s},First,Last,{s}@example.edu\n" for s in cases))
    control = tmp / "control-only"
    samples.write_submission(str(control), "control", ASSIGNMENT, ASSIGNMENT, nb())
    return cases, str(sub), str(roster), str(control)


def _run(args, cwd):
    # the command from the tree under test (in a clone its editable install is the same tree;
    # in a worktree sharing another checkout's venv, that checkout's code would be graded)
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", COURSE,
                           "--assignment", ASSIGNMENT, "--no-progress"] + args,
                          cwd=cwd, capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile-bp")
    cases, sub, roster, control = build(tmp)
    out = str(tmp / "out")
    proc = _run(["--submissions", sub, "--roster", roster, "--out", out, "--workers", "2",
                 "--cell-timeout", "10", "--timeout", "60"], cwd=str(tmp))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    clean_out = str(tmp / "clean")
    clean = _run(["--submissions", control, "--out", clean_out, "--workers", "1"], cwd=str(tmp))
    assert clean.returncode == 0, clean.stderr[-3000:]
    with open(os.path.join(out, "results.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    with open(os.path.join(clean_out, "results.json"), encoding="utf-8") as fh:
        clean_data = json.load(fh)
    return {"cases": cases, "out": out, "results": {r["student_id"]: r for r in data["results"]},
            "clean": {r["student_id"]: r for r in clean_data["results"]}}


ATTACKS = ["control", "stubs-patched-report", "import-graph", "import-window", "import-gradcheck", "import-layers",
           "import-init", "loop-in-backward", "loop-at-top", "os-exit", "os-exit-in-answer", "read-solutions",
           "read-source", "patch-numpy", "patch-numpy-stubs", "memory-bomb", "memory-bomb-touched", "untouched"]


def kinds(result) -> set[str]:
    return {f["kind"] for f in result["flags"]}


def expected_score(result, lost):
    points = {gid: p["points"] for gid, p in result["parts"].items()}
    return 0.0 if lost is ALL else sum(points.values()) - sum(points[g] for g in lost)


@pytest.mark.parametrize("student", ATTACKS + list(MISTAKE_STUDENTS))
def test_each_backprop_submission_loses_exactly_the_parts_it_breaks(hostile, student):
    _, lost, flags, status = hostile["cases"][student]
    r = hostile["results"][student]
    assert r["status"] == status, (r["status"], r["flags"])
    scores = {gid: (p["score"], p["points"], p["note"][:200]) for gid, p in r["parts"].items()}
    assert r["score"] == pytest.approx(expected_score(r, lost)), (r["flags"], scores)
    if lost is not ALL:
        assert {g for g, p in r["parts"].items() if p["score"] < p["points"]} == set(lost), scores
    for kind in flags:
        assert kind in kinds(r), (kind, r["flags"])
    if not flags and student != "control":
        assert not kinds(r) & {"tampering", "copying"}, r["flags"]


def test_the_control_student_grades_as_in_a_clean_run(hostile):
    r, clean = hostile["results"]["control"], hostile["clean"]["control"]
    assert r["score"] == clean["score"] == clean["max_score"] == 100.0
    assert {g: p["score"] for g, p in r["parts"].items()} == {g: p["score"] for g, p in clean["parts"].items()}
    assert r["flags"] == [] and clean["flags"] == []


@pytest.mark.parametrize("student", list(MISTAKE_STUDENTS))
def test_a_catalogued_mistake_is_named_on_its_part(hostile, student):
    """results.json lists the mistake's key on exactly the part it breaks, and its note says so."""
    r = hostile["results"][student]
    for key in MISTAKE_STUDENTS[student]:
        part = r["parts"][TEST_OF[bm.MISTAKES[key].target]]
        assert part["score"] == 0 and part["attempted"], part
        assert key in part["mistakes"], (key, part)
    named = {k for p in r["parts"].values() for k in p["mistakes"]}
    assert named == set(MISTAKE_STUDENTS[student]), named


def test_an_answer_importing_the_reference_is_not_run_against_it(hostile):
    """The recorder has no dlcourse: the copied part is not even a working program there."""
    for sid in ("import-graph", "import-gradcheck", "import-init"):
        r = hostile["results"][sid]
        (gid,) = hostile["cases"][sid][1]
        assert r["parts"][gid]["score"] == 0 and r["parts"][gid]["verdict"] is not True, r["parts"][gid]


def test_every_rostered_student_has_exactly_one_row(hostile):
    with open(os.path.join(hostile["out"], "grades.csv"), newline="", encoding="utf-8") as fh:
        ids = [row.get("student_id") or row.get("id") for row in csv.DictReader(fh)]
    assert sorted(ids) == sorted(hostile["cases"])


def test_the_solutions_never_reach_the_students_notebook_or_feedback(hostile):
    marker = "np.outer(delta, x)"
    r = hostile["results"]["read-solutions"]
    page = open(os.path.join(hostile["out"], r["feedback"]), encoding="utf-8").read()
    auto = os.path.join(hostile["out"], "autograded", "read-solutions", ASSIGNMENT, ASSIGNMENT + ".ipynb")
    nb = nbformat.read(auto, as_version=4)
    outputs = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert marker not in outputs and marker not in page


@pytest.mark.parametrize("assignment,students", [("backprop", 40), ("backprop", 12), ("optimizers", 24)])
def test_the_demo_class_holds_every_hostile_member_and_catalogued_mistakes(tmp_path, assignment, students):
    """samples.build_class (make demo's class) for either assignment: exactly ``students`` rows,
    the assignment's hostile members written into its own cells, mistakes from its own catalogue."""
    import importlib

    from autograder.classgrade import protocol, samples
    submitted, roster, plan = samples.build_class(COURSE, assignment, str(tmp_path), students)
    assert len(plan) == students
    with open(roster, newline="") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == list(plan)
    hostile = [d.split(": ", 1)[1] for d in plan.values() if d.startswith("hostile: ")]
    assert hostile == list(samples.HOSTILE_DEMO[assignment])
    catalogue = importlib.import_module(protocol.CATALOGUES[assignment])
    mistakes = [d.split(" ", 1)[1] for d in plan.values() if d.startswith("mistake ")]
    assert mistakes and set(mistakes) <= set(catalogue.EXAMPLES)
    fills = samples.solution_fills(os.path.join(COURSE, "source", assignment, assignment + ".ipynb"))
    for sid, what in plan.items():
        if not what.startswith(("hostile: ", "mistake ")):
            continue
        book = nbformat.read(os.path.join(submitted, sid, assignment, assignment + ".ipynb"), as_version=4)
        cells = {samples.grade_id(c): c.source for c in book.cells if samples.grade_id(c) in fills}
        changed = [gid for gid, src in cells.items() if src != fills[gid]]
        assert len(changed) == 1, (sid, what, changed)
        if what.startswith("mistake "):
            assert changed == [catalogue.EXAMPLES[what.split(" ", 1)[1]][0]], (sid, what)
