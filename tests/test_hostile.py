"""Hostile and broken submissions: each gets the right score, a flag, and harms nobody else.

One class holding every kind of hostile submission (plus a control student) is packed into an
LMS zip and graded ONCE by ``python -m autograder grade`` (module-scoped fixture, 2 workers);
each test then checks one student's row. The control student's notebook is also graded alone
in a clean run: its grade must be the same in both.

Scores are stated as "full marks minus the parts the submission breaks", with the points read
from the assignment, so the expectations hold when the assignment's weights change.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join(ROOT, "assignments")
ASSIGNMENT = "optimizers"
SOURCE_NB = os.path.join(COURSE, "source", ASSIGNMENT, ASSIGNMENT + ".ipynb")

ANY = "any"   # the score may be anything up to full marks: what matters is the rest of the class

LEAK_PROBE = '''
import os, glob
_targets = [{source!r}, {solutions!r}, os.path.join(os.getcwd(), "..", "..", "..", "gradebook.db"),
            os.path.join(os.getcwd(), "..", "..", "..", "source"), {zip!r}, {out_feedback!r}]
_leaked = []
for _p in _targets:
    try:
        if os.path.isdir(_p):
            if os.listdir(_p):
                _leaked.append(_p)
        else:
            with open(_p, "rb") as _fh:
                if _fh.read(64):
                    _leaked.append(_p)
    except Exception:
        pass
print("LEAKED", _leaked)
'''

WRITE_PROBE = '''
import os
_wrote = []
for _p in [os.path.join(os.getcwd(), "..", "..", "..", "gradebook.db"), {control_feedback!r},
           {zip!r}, os.path.join({out!r}, "grades.csv")]:
    try:
        with open(_p, "ab") as _fh:
            _fh.write(b"x")
        _wrote.append(_p)
    except Exception:
        pass
print("WROTE", _wrote)
'''


def _stub(release, gid):
    for c in release.cells:
        if ((c.get("metadata") or {}).get("nbgrader") or {}).get("grade_id") == gid:
            return c.source
    raise KeyError(gid)


def _cells_by_id(nb):
    return {((c.get("metadata") or {}).get("nbgrader") or {}).get("grade_id"): c for c in nb.cells}


SMUGGLE_WRITE = """
import shutil, dlcourse.optim
for _d in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        shutil.copy(dlcourse.optim.__file__, _d + "/ref_optim.py")
    except Exception:
        pass
"""
SMUGGLE_READ = """
_src = None
for _d in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        _src = open(_d + "/ref_optim.py").read()
        break
    except Exception:
        pass
if _src:
    _ns = {}
    exec(_src.replace("from dlcourse", "from dlcourse"), _ns)
    Adam = _ns["Adam"]
"""


def build_hostile(tmp):
    """The hostile class: {student: (notebook bytes or None, expectation)} and the zip."""
    from autograder.classgrade import course, samples as synth
    template = course.prepare_template(COURSE, ASSIGNMENT, str(tmp / "pre"))
    release = nbformat.read(os.path.join(template, "release", ASSIGNMENT, ASSIGNMENT + ".ipynb"), as_version=4)
    fills = synth.solution_fills(SOURCE_NB)
    out = str(tmp / "out")
    zpath = str(tmp / "class.zip")
    paths = dict(source=SOURCE_NB, solutions=os.path.join(ROOT, "solutions"), zip=zpath,
                 out=out, out_feedback=os.path.join(out, "feedback"),
                 control_feedback=os.path.join(out, "feedback", "control", ASSIGNMENT, ASSIGNMENT + ".ipynb"))
    def nb(changes=None, append=None, edit=None):
        merged = dict(fills)
        merged.update(changes or {})
        return synth.student_notebook(release, merged, append, edit)

    def with_(gid, extra, before=False):
        return {gid: (extra + "\n" + fills[gid]) if before else (fills[gid] + "\n" + extra)}

    stubs = {gid: _stub(release, gid) for gid in fills}
    import inspect
    from dlcourse import optim
    rms_copy = inspect.getsource(optim.RMSprop)

    def del_test(nb_):
        nb_.cells = [c for c in nb_.cells if synth.grade_id(c) != "test_adam"]

    def edit_test(nb_):
        _cells_by_id(nb_)["test_sgd"].source = "print('all good')"

    def edit_points(nb_):
        _cells_by_id(nb_)["test_ewma"].metadata["nbgrader"]["points"] = 1000

    adam_raises = fills["adam"].replace("for name, p in params.items():",
                                        "raise ValueError('oops')\n        for name, p in params.items():", 1)
    adam_nan = fills["adam"].replace("for name, p in params.items():",
                                     "for name, p in params.items():\n            p[...] = np.nan\n            continue", 1)
    sgd_new = ("class SGD(Optimizer):\n    def __init__(self, lr=0.01):\n        super().__init__(lr)\n\n"
               "    def update(self, params, grads):\n"
               "        return {k: p - self.lr * grads[k] for k, p in params.items()}\n")
    momentum_loop = fills["momentum"].replace("for name, p in params.items():",
                                              "while True:\n            pass\n        for name, p in params.items():", 1)
    assert momentum_loop != fills["momentum"] and adam_raises != fills["adam"] and adam_nan != fills["adam"]
    everything_stub = dict(stubs)
    obfuscated_patch = ('_m = __import__("sys").modules["autograder.res" + "ult"]\n'
                        '_m.CheckResult.assert_passed = lambda self: print("PASSED")\n')
    all_parts = None   # every part loses its points
    TEST_IDS = [synth.grade_id(c) for c in release.cells
                if ((c.get("metadata") or {}).get("nbgrader") or {}).get("grade") and c.cell_type == "code"]
    cases = {
        # student: (notebook, parts that lose their points (grade ids of tests) or all_parts, flags expected, status)
        "control": (nb(), [], [], "graded"),
        "loop-in-update": (nb({"momentum": momentum_loop}), ["test_momentum"], ["timeout"], "graded"),
        "loop-at-top": (nb(with_("sgd", "while True:\n    pass", before=True)), ["test_sgd"], ["timeout"], "graded"),
        # the code is the student's own and correct: the exit costs nothing, and is flagged
        "sys-exit": (nb(with_("cosine", "import sys\nsys.exit(0)")), [], ["tampering"], "graded"),
        # a process that ends itself while its cells run: the grader's recorder cannot record
        # any part of it (each restart dies again): nothing earned, flagged
        "os-exit": (nb(with_("cosine", "import os\nos._exit(1)")), all_parts, ["tampering", "crash"], "graded"),
        "kernel-crash-hidden": (nb(with_("cosine", 'import os\ngetattr(os, "ki" + "ll")(os.getpid(), 9)')),
                                all_parts, ["crash"], "graded"),
        "kill-the-parent": (nb(with_("cosine", 'import os, signal\n'
                                     'for _p in (os.getppid(), 1):\n'
                                     '    try:\n        os.kill(_p, signal.SIGKILL)\n'
                                     '    except Exception:\n        pass\n')), ANY, ["tampering"], "graded"),
        "memory-bomb": (nb(with_("adagrad", "_hog = []\nwhile True:\n    _hog.append(bytearray(200_000_000))",
                                 before=True)), ["test_adagrad"], [], "graded"),
        "output-flood": (nb(with_("ewma", "for _i in range(300000):\n    print('flood', _i)")), [],
                         ["output-truncated"], "graded"),
        "display-script": (nb(with_("ewma", "from IPython.display import HTML, Javascript, display\n"
                                    "display(HTML('<script>window.PWNED_HTML = 1</script><b>hi</b>'))\n"
                                    "display(Javascript('window.PWNED_JS = 1'))")), [], [], "graded"),
        "syntax-error": (nb({"sgd": "class SGD(Optimizer)\n    pass\n"}), ["test_sgd"], ["syntax-error"], "graded"),
        "deleted-test": (nb(edit=del_test), [], ["edited-test"], "graded"),
        "edited-test": (nb(edit=edit_test), [], ["edited-test"], "graded"),
        "changed-points": (nb(edit=edit_points), [], ["edited-test"], "graded"),
        # patches only what the notebook's tests use: the grader's verdicts are computed elsewhere
        "patch-numpy": (nb(with_("ewma", "np.allclose = lambda *a, **k: True\n"
                                 "np.testing.assert_allclose = lambda *a, **k: None")), [], ["tampering"], "graded"),
        # breaks the kernel itself (ipykernel calls isinstance): the submission limit stops it
        # breaks ipykernel's own loop: the kernel dies (an exec'd kernel would hang on its
        # threads until the submission's time limit; one forked from the zygote exits)
        "patch-builtins": (nb(with_("ewma", "import builtins\nbuiltins.isinstance = lambda *a: True")),
                           all_parts, ["tampering"], "graded"),
        # every stub as released, the notebook's own report patched to say PASSED: 0 everywhere
        "stubs-patched-report": (nb(dict(everything_stub, ewma=stubs["ewma"] + "\n" + obfuscated_patch)),
                                 all_parts, ["inconsistent"], "graded"),
        # the reference copied through a shared temporary folder by the kernel, read back by
        # the answer: the recorder has private, empty temporary folders
        "tmp-smuggle": (nb({"adam": SMUGGLE_WRITE + "\n" + SMUGGLE_READ}), ["test_adam"], ["tampering"], "graded"),
        "git-show": (nb(with_("ewma", f"!git -C {ROOT} show HEAD:solutions/optimizers/optimizers.ipynb | head -c 4000\n"
                                      f"!cat {ROOT}/solutions/optimizers/optimizers.ipynb | head -c 4000")),
                     [], [], "graded"),
        # EWMA is written (and earns its points); the patch earns nothing for the stubs
        "patch-autograder": (nb(dict(everything_stub, ewma=fills["ewma"] + "\nimport autograder.result\n"
                                     "autograder.result.CheckResult.assert_passed = lambda self: None")),
                             [t for t in TEST_IDS if t != "test_ewma"], ["tampering"], "graded"),
        # evades the static scan; the out-of-kernel check takes every part it faked (the honest
        # EWMA keeps its points)
        "patch-obfuscated": (nb(dict(everything_stub, ewma=fills["ewma"] + "\n" + obfuscated_patch)),
                             [t for t in TEST_IDS if t != "test_ewma"], ["inconsistent"], "graded"),
        "redefine-check": (nb(dict(everything_stub, ewma=fills["ewma"] + "\nclass _R:\n    def assert_passed(self):\n"
                                   "        print('PASSED')\n\ndef check_optimizer(*a, **k):\n    return _R()\n")),
                           [t for t in TEST_IDS if t != "test_ewma"], ["tampering"], "graded"),
        "subclass-reference": (nb({"adam": "from dlcourse.optim import Adam as _RefAdam\n\n\nclass Adam(_RefAdam):\n    pass\n"}),
                               ["test_adam"], ["copying"], "graded"),
        "import-reference": (nb({"nadam": "from dlcourse import optim as _o\nNadam = _o.Nadam\n"}),
                             ["test_nadam"], ["copying"], "graded"),
        "copy-reference-source": (nb({"rmsprop": rms_copy}), ["test_rmsprop"], ["copying"], "graded"),
        # evades the static scan (only "suspicious"); earns nothing: the out-of-kernel check runs
        # without the reference library, so the class cannot be the reference there
        "reference-obfuscated": (nb({"adam": 'Adam = getattr(__import__("dlcourse.op" + "tim", fromlist=["x"]), "Ad" + "am")'}),
                                 ["test_adam"], ["suspicious"], "graded"),
        # attempts that fail in the sandbox: the student's own correct code keeps its points,
        # the attempt is flagged for the instructor
        "read-solution": (nb(with_("ewma", f"try:\n    _s = open({SOURCE_NB!r}).read()\nexcept OSError:\n    pass")),
                          [], ["tampering"], "graded"),
        # the scan sees "gradebook.db"; the sandbox independently stops every read and write
        # (checked on the notebook's printed output below)
        "read-disk-dynamic": (nb(with_("cosine", LEAK_PROBE.format(**paths))), [], ["tampering"], "graded"),
        "write-disk-dynamic": (nb(with_("cosine", WRITE_PROBE.format(**paths))), [], ["tampering"], "graded"),
        "update-raises": (nb({"adam": adam_raises}), ["test_adam"], [], "graded"),
        "update-nan": (nb({"adam": adam_nan}), ["test_adam"], [], "graded"),
        "update-returns-new": (nb({"sgd": sgd_new}), ["test_sgd"], [], "graded"),
        "empty-notebook": (nbformat.v4.new_notebook(), all_parts, ["invalid-file"], "invalid"),
        "other-assignment": (None, all_parts, ["foreign-notebook"], "invalid"),
        "other-content": (nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]),
                          all_parts, ["foreign-notebook"], "invalid"),
        "not-a-notebook": (b"\x00\x01 this is not json", all_parts, ["invalid-file"], "invalid"),
        "two-submissions": (nb(), [], ["duplicate"], "graded"),
        "missing": (None, all_parts, ["missing"], "missing"),
    }
    ts = "2026-11-30-12-00-00"
    with zipfile.ZipFile(zpath, "w") as zf:
        for sid, (book, *_rest) in cases.items():
            name = f"{ASSIGNMENT}_{sid}_attempt_{ts}_{ASSIGNMENT}.ipynb"
            if sid == "missing":
                continue
            if sid == "other-assignment":      # the other assignment's notebook, handed in here
                other = os.path.join(ROOT, "assignments", "release", "backprop", "backprop.ipynb")
                zf.writestr(f"{ASSIGNMENT}_{sid}_attempt_{ts}_backprop.ipynb", open(other, "rb").read())
                continue
            if isinstance(book, bytes):
                zf.writestr(name, book)
                continue
            zf.writestr(name, nbformat.writes(book))
            if sid == "two-submissions":   # an older, empty attempt: the latest one must be graded
                old = nb(dict(everything_stub))
                zf.writestr(f"{ASSIGNMENT}_{sid}_attempt_2026-11-29-09-00-00_{ASSIGNMENT}.ipynb", nbformat.writes(old))
        zf.writestr(f"{ASSIGNMENT}_stranger_attempt_{ts}_{ASSIGNMENT}.ipynb", nbformat.writes(nb()))
        zf.writestr("README.txt", "not a submission")
    roster = str(tmp / "roster.csv")
    with open(roster, "w") as fh:
        fh.write("id,first_name,last_name,email\n")
        for sid in cases:
            fh.write(f"{sid},First,Last,{sid}@example.edu\n")
    control = tmp / "control-only"
    synth.write_submission(str(control), "control", ASSIGNMENT, ASSIGNMENT, nb())
    return cases, zpath, roster, out, str(control)


def _run(args, cwd):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", COURSE,
                           "--assignment", ASSIGNMENT, "--no-progress"] + args,
                          cwd=cwd, capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    cases, zpath, roster, out, control_dir = build_hostile(tmp)
    zip_hash = hashlib.sha256(open(zpath, "rb").read()).hexdigest()
    proc = _run(["--zip", zpath, "--roster", roster, "--out", out, "--workers", "2",
                 "--cell-timeout", "10", "--timeout", "60"], cwd=str(tmp))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    clean_out = str(tmp / "clean")
    clean = _run(["--submissions", control_dir, "--out", clean_out, "--workers", "1"], cwd=str(tmp))
    assert clean.returncode == 0, clean.stderr[-3000:]
    with open(os.path.join(out, "results.json")) as fh:
        data = json.load(fh)
    with open(os.path.join(clean_out, "results.json")) as fh:
        clean_data = json.load(fh)
    return {"cases": cases, "results": {r["student_id"]: r for r in data["results"]}, "out": out,
            "zip": zpath, "zip_hash": zip_hash, "stdout": proc.stdout, "stderr": proc.stderr,
            "clean": {r["student_id"]: r for r in clean_data["results"]}}


CASES = ["control", "loop-in-update", "loop-at-top", "sys-exit", "os-exit", "kernel-crash-hidden", "kill-the-parent",
         "memory-bomb", "output-flood", "display-script", "syntax-error", "deleted-test", "edited-test",
         "changed-points", "patch-numpy", "patch-builtins", "stubs-patched-report", "tmp-smuggle", "git-show",
         "patch-autograder", "patch-obfuscated", "redefine-check", "subclass-reference", "import-reference",
         "copy-reference-source", "reference-obfuscated", "read-solution", "read-disk-dynamic",
         "write-disk-dynamic", "update-raises", "update-nan", "update-returns-new", "empty-notebook",
         "other-assignment", "other-content", "not-a-notebook", "two-submissions", "missing"]


def kinds(result) -> set[str]:
    return {f["kind"] for f in result["flags"]}


@pytest.mark.parametrize("student", CASES)
def test_each_hostile_submission_gets_its_expected_score_status_and_flags(hostile, student):
    """Full marks minus exactly the parts the submission breaks (nothing for what it did not
    implement), flagged with the reason."""
    _, lost, flags, status = hostile["cases"][student]
    r = hostile["results"][student]
    points = {gid: p["points"] for gid, p in r["parts"].items()}
    total = sum(points.values())
    assert r["status"] == status, (r["status"], r["flags"])
    if lost == ANY:
        assert 0 <= r["score"] <= total
    else:
        expected = 0.0 if lost is None else total - sum(points[g] for g in lost)
        assert r["score"] == pytest.approx(expected), (r["score"], r["flags"], r["parts"])
    for kind in flags:
        assert kind in kinds(r), (kind, r["flags"])
    if not flags and student != "control":
        assert not kinds(r) & {"tampering", "copying"}, r["flags"]


def test_the_control_student_grades_as_in_a_clean_run(hostile):
    """Nothing the hostile students did changes the control student's grade."""
    r, clean = hostile["results"]["control"], hostile["clean"]["control"]
    assert r["score"] == clean["score"] == clean["max_score"]
    assert {g: p["score"] for g, p in r["parts"].items()} == {g: p["score"] for g, p in clean["parts"].items()}
    assert r["flags"] == [] and clean["flags"] == []


def test_every_rostered_student_has_exactly_one_row_and_strangers_are_flagged(hostile):
    results = hostile["results"]
    assert set(CASES) <= set(results)
    assert "not-on-roster" in kinds(results["stranger"])
    assert results["stranger"]["score"] == results["control"]["score"]
    assert results["missing"]["score"] == 0 and "missing" in kinds(results["missing"])
    with open(os.path.join(hostile["out"], "grades.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [r.get("student_id") or r.get("id") for r in rows]
    assert sorted(ids) == sorted(set(ids)) and set(CASES) <= set(ids)


def test_the_sandbox_hides_solutions_gradebooks_and_other_students(hostile):
    """The kernel ran the leak probe: it could read none of the grader's files."""
    text = _autograded_text(hostile, "read-disk-dynamic")
    assert "LEAKED []" in text, text[-2000:]


def test_the_sandbox_stops_writes_to_the_gradebook_and_other_students(hostile):
    text = _autograded_text(hostile, "write-disk-dynamic")
    assert "WROTE []" in text, text[-2000:]
    assert hashlib.sha256(open(hostile["zip"], "rb").read()).hexdigest() == hostile["zip_hash"]


def test_the_solutions_never_reach_a_students_feedback(hostile):
    """A shell escape to the repository's .git or solutions/ finds nothing: they are not in the sandbox."""
    marker = "m_hat = m / (1 - self.beta1 ** t)"
    assert marker not in _autograded_text(hostile, "git-show")
    page = open(os.path.join(hostile["out"], hostile["results"]["git-show"]["feedback"]), encoding="utf-8").read()
    assert marker not in page


def test_student_html_and_javascript_never_run_in_feedback_pages(hostile):
    """The cell's source is shown (escaped); what its outputs displayed never becomes markup."""
    import re
    page = open(os.path.join(hostile["out"], hostile["results"]["display-script"]["feedback"]), encoding="utf-8").read()
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.S | re.I)
    assert not [s for s in scripts if "PWNED" in s]


def test_a_flood_of_output_is_capped_before_it_is_stored(hostile):
    r = hostile["results"]["output-flood"]
    auto = os.path.join(hostile["out"], "autograded", "output-flood", ASSIGNMENT, ASSIGNMENT + ".ipynb")
    assert os.path.getsize(auto) < 4 * 2**20
    assert os.path.getsize(os.path.join(hostile["out"], r["feedback"])) < 5 * 2**20


def test_the_gradebook_holds_every_student_once(hostile):
    import sqlite3
    con = sqlite3.connect(os.path.join(hostile["out"], "gradebook.db"))
    students = [r[0] for r in con.execute("select id from student")]
    con.close()
    assert sorted(students) == sorted(set(students))
    assert set(CASES) <= set(students)


def test_the_class_report_lists_the_flagged_submissions(hostile):
    with open(os.path.join(hostile["out"], "report.html"), encoding="utf-8") as fh:
        page = fh.read()
    assert "data:image/png;base64," in page
    for sid in ("patch-obfuscated", "loop-in-update", "subclass-reference", "missing"):
        assert sid in page


def _autograded_text(hostile, sid):
    path = os.path.join(hostile["out"], "autograded", sid, ASSIGNMENT, ASSIGNMENT + ".ipynb")
    nb = nbformat.read(path, as_version=4)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_feedback_pages_show_no_grader_frames_or_server_paths(hostile):
    """A cell stopped at its time limit gets IPython's full traceback; the grader's frames (and
    with them the server's paths) are cut from it, the student's own frames stay."""
    import sys
    for sid in ("loop-in-update", "update-raises", "control"):
        page = open(os.path.join(hostile["out"], hostile["results"][sid]["feedback"]), encoding="utf-8").read()
        for path in (ROOT, sys.prefix, "site-packages"):
            assert path not in page, (sid, path)


def test_the_feedback_table_of_contents_names_each_part(hostile):
    page = open(os.path.join(hostile["out"], hostile["results"]["control"]["feedback"]), encoding="utf-8").read()
    assert '<a href="#test_adam">Adam</a>' in page and ">Test cell<" not in page
