"""Honest students earn full marks: every edge case an honest class produces, graded as instructors grade.

Nothing here is an attack. Each student hands in correct work in a form real students (and real
LMSs) produce: ids with underscores, unicode, dots and dashes or 100 characters; files renamed
by the LMS; Blackboard timestamps whose seconds nbgrader's own ``parse_utc`` misreads; a second,
better attempt; scratch cells (prints, matplotlib plots, helpers the answers use, a cell that
raises, a forgotten ``input()``); slow but correct code; notebooks saved by JupyterLab 4, with
Windows line endings, or with their outputs still in; answers written in other correct forms
(out of place then copied back, loops instead of vectorised expressions). Each must get exactly
full marks and no flag an instructor has to act on (severity ``review`` or worse in
results.json): an honest student the grader doubts costs the instructor a manual review and the
student their trust.

One module-scoped fixture runs ``python -m autograder grade`` once per class, as an instructor
does: the ``optimizers`` class from an LMS (Blackboard) zip with a roster, more ``optimizers``
students in nbgrader's ``submitted/`` folder layout without a roster, two small Moodle and
Canvas downloads, and ``backprop`` students in the folder layout with a roster. Expectations are stated as "full marks, read from the
assignment", so they hold when the weights change.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
import uuid
import zipfile

import nbformat
import pytest

from autograder.classgrade import pipeline, samples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join(ROOT, "assignments")
OPT, BP = "optimizers", "backprop"

#: Flags an honest student may carry: information for the instructor, nothing to act on.
INFO = "info"

LONG_ID = "maximiliana_" + "x" * 80 + "_student"          # 100 characters: the collector's limit
assert len(LONG_ID) == 100


# ----------------------------------------------------------------------------- notebook forms
def release_of(assignment: str, tmp) -> nbformat.NotebookNode:
    template = pipeline.prepare_template(COURSE, assignment, str(tmp / f"pre-{assignment}"))
    return nbformat.read(os.path.join(template, "release", assignment, assignment + ".ipynb"), as_version=4)


def fills_of(assignment: str) -> dict[str, str]:
    return samples.solution_fills(os.path.join(COURSE, "source", assignment, assignment + ".ipynb"))


def insert_before(gid: str, *sources: str):
    """An ``edit`` for :func:`samples.student_notebook`: new code cells just before cell ``gid``."""
    def edit(nb):
        at = next(i for i, c in enumerate(nb.cells) if samples.grade_id(c) == gid)
        nb.cells[at:at] = [nbformat.v4.new_code_cell(s) for s in sources]
    return edit


def both(*edits):
    def edit(nb):
        for e in edits:
            e(nb)
    return edit


def jupyterlab4(nb) -> bytes:
    """The notebook as JupyterLab 4 saves it: nbformat 4.5, a UUID per cell, the kernel's metadata."""
    nb = copy.deepcopy(nb)
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata.update({
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                          "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                          "pygments_lexer": "ipython3", "version": "3.11.9"}})
    for i, cell in enumerate(nb.cells):
        cell.id = str(uuid.UUID(int=0x5EED0000 + i, version=4))
        if cell.cell_type == "code":
            cell.execution_count, cell.outputs = None, []
    return (json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def windows_line_endings(nb) -> bytes:
    """Saved on Windows: CRLF in the file and in every cell's source."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.source = cell.source.replace("\r\n", "\n").replace("\n", "\r\n")
    return nbformat.writes(nb).replace("\n", "\r\n").encode("utf-8")


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="


def with_outputs(nb):
    """The student ran everything before saving: execution counts, printed text, a figure, and an
    old traceback from a test that failed before they fixed their code."""
    nb = copy.deepcopy(nb)
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        gid = samples.grade_id(cell) or ""
        if gid.startswith("test_"):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"PASSED {gid}: all visible scenarios\n")]
        elif gid.startswith("demo"):
            cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                            nbformat.v4.new_output("error", ename="NameError", evalue="name 'x' is not defined",
                                                   traceback=["NameError: name 'x' is not defined"])]
        else:
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "None"},
                                                   execution_count=count)]
    return nb


SCRATCH = [
    'print("checking my shapes before the tests")',
    "import matplotlib.pyplot as plt\n\nplt.plot([0, 1, 2], [0, 1, 4], label='try')\nplt.legend()\nplt.show()",
    'raise ValueError("scratch: I was testing what happens here")',
    'name = input("which optimizer next? ")',
]


# ----------------------------------------------------------------------------- optimizers answers
def slow(fills, gids, seconds=0.005):
    """Correct code that sleeps in every update(): the kernel and the recorder take several seconds."""
    out = {}
    for gid in gids:
        src = fills[gid]
        head = "    def update(self, params, grads):\n"
        assert head in src, gid
        out[gid] = "import time\n\n\n" + src.replace(head, head + f"        time.sleep({seconds})   # my logging\n")
    return out


OPT_FORMS = {
    # a loop over every coordinate instead of the vectorised expression
    "sgd": '''class SGD(Optimizer):
    """Plain gradient descent, one coordinate at a time."""

    def __init__(self, lr=0.01):
        super().__init__(lr)

    def update(self, params, grads):
        for name in params:
            p, g = params[name], grads[name]
            for i in np.ndindex(p.shape):
                p[i] = p[i] - self.lr * g[i]
''',
    # out-of-place arithmetic, then copied back into the same arrays
    "momentum": '''class Momentum(Optimizer):
    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr)
        self.momentum = momentum

    def update(self, params, grads):
        for name, p in params.items():
            v = self.state.setdefault(name, {"velocity": np.zeros_like(p)})["velocity"]
            new_v = self.momentum * v - self.lr * grads[name]
            v[...] = new_v
            p[...] = p + new_v
''',
    "adam": '''class Adam(Optimizer):
    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def update(self, params, grads):
        for name, p in params.items():
            g = grads[name]
            s = self.state.setdefault(name, {"t": 0, "m": np.zeros_like(p), "v": np.zeros_like(p)})
            s["t"] += 1
            m_new = self.beta1 * s["m"] + (1 - self.beta1) * g
            v_new = self.beta2 * s["v"] + (1 - self.beta2) * g ** 2
            np.copyto(s["m"], m_new)
            np.copyto(s["v"], v_new)
            m_hat = m_new / (1 - self.beta1 ** s["t"])
            v_hat = v_new / (1 - self.beta2 ** s["t"])
            np.copyto(p, p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps))
''',
    "ewma": '''class EWMA:
    def __init__(self, beta=0.9):
        self.beta = beta
        self.avg = 0.0
        self.t = 0

    def update(self, x):
        self.t = self.t + 1
        self.avg = self.avg * self.beta + x * (1 - self.beta)
        correction = 1 - self.beta ** self.t
        return self.avg / correction
''',
    "cosine": '''def cosine(epoch, lr0, total, lr_min=0.0):
    if epoch >= total:
        return lr_min
    return float(lr_min + (lr0 - lr_min) * (1 + np.cos(np.pi * epoch / total)) / 2)
''',
}


# ----------------------------------------------------------------------------- backprop answers
BP_FORMS = {
    # delta through the Jacobian of the element-wise f, dW by two loops instead of np.outer
    "window_backward": '''def window_backward(ds, cache, W, u, f_prime):
    x, z, h = cache["x"], cache["z"], cache["h"]
    jacobian = np.diag(f_prime(z))          # dh/dz of an element-wise f: diagonal
    delta = jacobian.T @ (ds * u)
    dW = np.zeros((len(delta), len(x)), dtype=delta.dtype)
    for i in range(len(delta)):
        for j in range(len(x)):
            dW[i, j] = delta[i] * x[j]
    return {"u": ds * h, "b": delta, "W": dW, "x": W.T @ delta}
''',
    # a loop that accumulates, instead of np.add.at
    "embedding_grad": '''def embedding_grad(dx, word_ids, vocab_size):
    d = len(dx) // len(word_ids)
    dL = np.zeros((vocab_size, d))
    for slot, word in enumerate(word_ids):
        dL[word] += dx[slot * d:(slot + 1) * d]
    return dL
''',
    "numerical_gradient": '''def numerical_gradient(f, x, h=1e-4):
    grad = np.zeros_like(x, dtype=float)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        i = it.multi_index
        saved = x[i]
        x[i] = saved + h
        up = f(x)
        x[i] = saved - h
        down = f(x)
        x[i] = saved
        grad[i] = (up - down) / (2 * h)
        it.iternext()
    return grad
''',
    "relative_error": '''def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = (np.abs(a) + np.abs(b)).max()
    if scale == 0:
        return 0.0
    return float(np.abs(a - b).max() / scale)
''',
    "max_gate": '''class MaxGate:
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, upstream):
        a_wins = np.asarray(self.a >= self.b)      # an array even for scalars: ~ is logical not
        return upstream * a_wins, upstream * ~a_wins
''',
    "l2_penalty": '''def l2_penalty(weights, lam):
    total = 0.0
    grads = []
    for W in weights:
        total += (W ** 2).sum()
        grads.append(lam * W)
    return lam / 2 * total, grads
''',
}


def bp_helper_fills(fills):
    """window_backward written with a helper defined in a scratch cell of its own."""
    return {"window_backward": fills["window_backward"].replace("np.outer(delta, x)", "my_outer(delta, x)")}


#: Adam with Greek names and a comment in another script (Python 3 identifiers are unicode).
UNICODE_ADAM = '''class Adam(Optimizer):
    """Adam (Kingma & Ba 2015). 注意: 偏差修正 (bias correction)."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def update(self, params, grads):
        β1, β2, ε = self.beta1, self.beta2, self.eps
        for name, θ in params.items():
            g = grads[name]
            s = self.state.setdefault(name, {"t": 0, "m": np.zeros_like(θ), "v": np.zeros_like(θ)})
            s["t"] += 1
            s["m"] *= β1
            s["m"] += (1 - β1) * g
            s["v"] *= β2
            s["v"] += (1 - β2) * g * g
            m̂ = s["m"] / (1 - β1 ** s["t"])
            v̂ = s["v"] / (1 - β2 ** s["t"])
            θ -= self.lr * m̂ / (np.sqrt(v̂) + ε)
'''

#: A scratch cell that tries the student's optimizer on the course's test functions, as the
#: lectures do (the out-of-kernel recorder has no dlcourse: the cell fails there, harmlessly).
TRY_ON_ROSENBROCK = """from dlcourse import problems

path = problems.run(Adam(lr=0.1), problems.ROSENBROCK, 50)
print("my Adam on Rosenbrock ends at", path[-1])"""


def nbformat_44(nb):
    """Saved by an older Jupyter (nbformat 4.4): no cell ids."""
    nb = copy.deepcopy(nb)
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id", None)
    return json.dumps(nb, indent=1, ensure_ascii=False).encode("utf-8")


BP_HELPER = "def my_outer(a, b):\n    return a[:, None] * b[None, :]\n\nprint(my_outer(np.ones(2), np.arange(3)))"


# ----------------------------------------------------------------------------- the class
TS = "2026-11-30-12-00-00"


def build(tmp):
    """The classes (opt Blackboard zip + roster, opt folder, Moodle and Canvas zips, bp folder + roster)
    and their expectations.

    Returns {run: {"args": [...], "students": {sid: expectation}}} where an expectation is a dict
    with ``info`` (info-level flag kinds the student must carry) and optional ``timestamp``."""
    runs = {}
    # -- optimizers from an LMS zip, with a roster
    rel, fills = release_of(OPT, tmp), fills_of(OPT)
    stubs = {samples.grade_id(c): c.source for c in rel.cells if samples.grade_id(c) in fills}

    def nb(changes=None, edit=None, append=None):
        return samples.student_notebook(rel, {**fills, **(changes or {})}, append, edit)

    zpath = tmp / "lms.zip"
    members = {   # sid: [(timestamp, file name, bytes)]
        "jane_doe": [(TS, "optimizers.ipynb", nbformat.writes(nb()))],
        "zoë": [(TS, "optimizers.ipynb", nbformat.writes(nb()))],
        "李雷": [(TS, "optimizers.ipynb", nbformat.writes(nb()))],
        "j.smith-jones": [(TS, "optimizers.ipynb", nbformat.writes(nb()))],
        LONG_ID: [(TS, "optimizers.ipynb", nbformat.writes(nb()))],
        "renamed_paren": [(TS, "optimizers (1).ipynb", nbformat.writes(nb()))],
        "renamed_caps": [(TS, "Optimizers.ipynb", nbformat.writes(nb()))],
        "ts_30": [("2026-11-30-23-59-30", "optimizers.ipynb", nbformat.writes(nb()))],
        "ts_23": [("2026-11-30-23-59-23", "optimizers.ipynb", nbformat.writes(nb()))],
        # the first attempt is the release as handed out; the second, 7 s later, is the work
        "two_tries": [("2026-11-30-23-59-23", "optimizers.ipynb", nbformat.writes(nb(stubs))),
                      ("2026-11-30-23-59-30", "optimizers.ipynb", nbformat.writes(nb()))],
        # across midnight: a parse that moves ...-23-59-23 to the next day picks the wrong one
        "past_midnight": [("2026-11-30-23-59-23", "optimizers.ipynb", nbformat.writes(nb(stubs))),
                          ("2026-12-01-00-00-05", "optimizers.ipynb", nbformat.writes(nb()))],
    }
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for sid, attempts in members.items():
            for ts, name, text in attempts:
                zf.writestr(f"{OPT}_{sid}_attempt_{ts}_{name}", text.encode("utf-8"))
    roster = tmp / "roster-opt.csv"
    with open(roster, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "first_name", "last_name", "email"])
        for sid in members:
            w.writerow([sid, "First", "Last", f"student{len(sid)}@example.edu"])
    expect = {sid: {"info": set()} for sid in members}
    for sid in ("renamed_paren", "renamed_caps"):
        expect[sid]["info"] = {"renamed"}
    for sid in ("two_tries", "past_midnight"):
        expect[sid]["info"] = {"duplicate"}
    expect["ts_30"]["timestamp"] = "2026-11-30T23:59:30"
    expect["ts_23"]["timestamp"] = "2026-11-30T23:59:23"
    expect["two_tries"]["timestamp"] = "2026-11-30T23:59:30"
    expect["past_midnight"]["timestamp"] = "2026-12-01T00:00:05"
    runs["opt-zip"] = {"assignment": OPT, "args": ["--zip", str(zpath), "--roster", str(roster)],
                       "students": expect}

    # -- optimizers in nbgrader's folder layout, no roster
    sub = tmp / "opt-submitted"
    folder = {
        "zoë": nb(),
        "李雷": nb(),
        "o.brien-smith": nb(),
        LONG_ID: nb(),
        "scratch": nb({"adagrad": fills["adagrad"].replace("h += g * g", "h += squared(g)")},
                      edit=both(insert_before("ewma", SCRATCH[0], SCRATCH[1]),
                                insert_before("adagrad", "def squared(a):\n    return a * a\n\nsquared(3.0)"),
                                insert_before("adam", SCRATCH[2]), insert_before("nadam", SCRATCH[3])),
                      append=["plt.figure()\nplt.plot(np.arange(10) ** 2)\nplt.show()"]),
        "slow": nb(slow(fills, ["sgd", "momentum", "rmsprop", "adam"])),
        "lab4": jupyterlab4(nb()),
        "windows": windows_line_endings(nb()),
        "ran_it_all": with_outputs(nb()),
        "other_forms": nb(OPT_FORMS),
        "unicode_code": nb({"adam": UNICODE_ADAM}),
        # IPython magics as students leave them: a backend line, a timed answer cell
        "magics": nb({"sgd": "%%time\n" + fills["sgd"]}, edit=insert_before("ewma", "%matplotlib inline")),
        "course_library": nb(edit=insert_before("adamax", TRY_ON_ROSENBROCK)),
        "nbformat_44": nbformat_44(nb()),
    }
    for sid, book in folder.items():
        if isinstance(book, bytes):
            samples.write_submission(str(sub), sid, OPT, OPT, raw=book)
        else:
            samples.write_submission(str(sub), sid, OPT, OPT, book)
    # nbgrader collect's timestamp.txt, with seconds that nbgrader's parse_utc misreads in LMS names
    samples.write_submission(str(sub), "collected", OPT, OPT, nb())
    (sub / "collected" / OPT / "timestamp.txt").write_text("2026-11-30 23:59:30.250000 UTC\n")
    runs["opt-folder"] = {"assignment": OPT, "args": ["--submissions", str(sub)],
                          "students": {sid: {"info": set()} for sid in [*folder, "collected"]}}
    runs["opt-folder"]["students"]["collected"]["timestamp"] = "2026-11-30T23:59:30"

    # -- optimizers from Moodle's and Canvas's downloads: ids are the LMS's numbers, names are
    #    the students' own (unicode, underscores, spaces), files renamed by the LMS
    for lms, uploads in {
        "moodle": {"20431": "Zoë_Anne Müller_20431_assignsubmission_file_/optimizers.ipynb",
                   "20432": "李雷_20432_assignsubmission_file_/Optimizers (2).ipynb"},
        "canvas": {"12345": "doejane_12345_678901_optimizers.ipynb",
                   "23456": "smithjohn_LATE_23456_789012_optimizers-1.ipynb"},
    }.items():
        zpath = tmp / f"{lms}.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in uploads.values():
                zf.writestr(name, nbformat.writes(nb()).encode("utf-8"))
        roster = tmp / f"roster-{lms}.csv"
        roster.write_text("id,first_name,last_name,email\n" + "".join(f"{i},F,L,{i}@example.edu\n" for i in uploads),
                          encoding="utf-8")
        expect = {sid: {"info": set()} for sid in uploads}
        runs[f"opt-{lms}"] = {"assignment": OPT, "args": ["--zip", str(zpath), "--roster", str(roster)],
                              "students": expect}
    runs["opt-moodle"]["students"]["20432"]["info"] = {"renamed"}
    runs["opt-canvas"]["students"]["23456"]["info"] = {"renamed", "late"}

    # -- backprop in the folder layout, with a roster
    rel, fills = release_of(BP, tmp), fills_of(BP)

    def bnb(changes=None, edit=None, append=None):
        return samples.student_notebook(rel, {**fills, **(changes or {})}, append, edit)

    bsub = tmp / "bp-submitted"
    slow_backward = {"window_backward": fills["window_backward"].replace(
        '    x, z, h = cache["x"], cache["z"], cache["h"]\n',
        '    x, z, h = cache["x"], cache["z"], cache["h"]\n    time.sleep(0.005)\n')}
    slow_backward["window_backward"] = "import time\n\n\n" + slow_backward["window_backward"]
    bp_students = {
        "zoë": bnb(),
        "bp_forms": bnb(BP_FORMS),
        "bp_scratch": bnb({**bp_helper_fills(fills), **slow_backward},
                          edit=both(insert_before("add_gate", SCRATCH[0], SCRATCH[1]),
                                    insert_before("window_backward", BP_HELPER),
                                    insert_before("xavier_uniform", SCRATCH[2]),
                                    insert_before("l2_penalty", SCRATCH[3]))),
        "bp_lab4_windows": windows_line_endings(nbformat.reads(jupyterlab4(with_outputs(bnb())).decode(), as_version=4)),
    }
    for sid, book in bp_students.items():
        if isinstance(book, bytes):
            samples.write_submission(str(bsub), sid, BP, BP, raw=book)
        else:
            samples.write_submission(str(bsub), sid, BP, BP, book)
    broster = tmp / "roster-bp.csv"
    broster.write_text("id,first_name,last_name,email\n" + "".join(f"{s},F,L,{i}@example.edu\n"
                                                                   for i, s in enumerate(bp_students)),
                       encoding="utf-8")
    runs["bp-folder"] = {"assignment": BP, "args": ["--submissions", str(bsub), "--roster", str(broster)],
                         "students": {sid: {"info": set()} for sid in bp_students}}
    return runs


def _grade(assignment, args, out, cwd):
    # the command from the tree under test (in a clone its editable install is the same tree;
    # in a worktree sharing another checkout's venv, that checkout's code would be graded)
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "autograder", "grade", "--course", COURSE, "--assignment", assignment,
           "--out", str(out), "--workers", "2", "--cell-timeout", "30", "--timeout", "150", "--no-progress"] + args
    return subprocess.run(cmd, cwd=str(cwd), capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("honest")
    runs = build(tmp)
    for name, run in runs.items():
        out = tmp / f"out-{name}"
        proc = _grade(run["assignment"], run["args"], out, tmp)
        assert proc.returncode == 0, (name, proc.stdout[-3000:], proc.stderr[-3000:])
        with open(out / "results.json", encoding="utf-8") as fh:
            data = json.load(fh)
        run.update(out=out, data=data, stdout=proc.stdout,
                   results={r["student_id"]: r for r in data["results"]})
    return runs


STUDENTS = {
    "opt-zip": ["jane_doe", "zoë", "李雷", "j.smith-jones", LONG_ID, "renamed_paren", "renamed_caps",
                "ts_30", "ts_23", "two_tries", "past_midnight"],
    "opt-folder": ["zoë", "李雷", "o.brien-smith", LONG_ID, "scratch", "slow", "lab4", "windows",
                   "ran_it_all", "other_forms", "unicode_code", "magics", "course_library", "nbformat_44", "collected"],
    "opt-moodle": ["20431", "20432"],
    "opt-canvas": ["12345", "23456"],
    "bp-folder": ["zoë", "bp_forms", "bp_scratch", "bp_lab4_windows"],
}
CASES = [(run, sid) for run, sids in STUDENTS.items() for sid in sids]


def _case_id(case):
    run, sid = case
    return f"{run}-{sid if len(sid) < 30 else 'long-id'}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_an_honest_student_earns_full_marks_and_no_flag_to_act_on(honest, case):
    run, sid = case
    r = honest[run]["results"].get(sid)
    assert r is not None, (sid, sorted(honest[run]["results"]), honest[run]["data"].get("unmatched"))
    assert r["status"] == "graded", (r["status"], r["flags"])
    lost = {gid: (p["score"], p["points"], p["note"]) for gid, p in r["parts"].items() if p["score"] != p["points"]}
    assert r["score"] == r["max_score"] == sum(p["points"] for p in r["parts"].values()), lost
    assert [f for f in r["flags"] if f["severity"] != INFO] == [], r["flags"]
    want = honest[run]["students"][sid]
    assert want["info"] <= {f["kind"] for f in r["flags"]}, r["flags"]
    if "timestamp" in want:
        assert (r["timestamp"] or "").startswith(want["timestamp"]), r["timestamp"]
    assert r["feedback"] and os.path.exists(os.path.join(honest[run]["out"], r["feedback"]))


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_an_honest_student_is_not_told_they_edited_a_test(honest, case):
    """Saving a notebook (on Windows, in JupyterLab 4, with outputs) changes no test cell: the
    feedback must not say "a test or read-only cell was changed"."""
    run, sid = case
    r = honest[run]["results"][sid]
    assert [f for f in r["flags"] if f["kind"] == "edited-test"] == [], r["flags"]


def test_the_run_states_the_full_marks_of_each_assignment(honest):
    """The expectation above reads full marks from results.json: pin them to the assignments."""
    assert {r["max_score"] for r in honest["opt-zip"]["results"].values()} == {110.0}
    assert {r["max_score"] for r in honest["bp-folder"]["results"].values()} == {100.0}


@pytest.mark.parametrize("run", list(STUDENTS))
def test_every_upload_of_an_honest_class_is_matched_to_its_student(honest, run):
    """No honest file is left unmatched, no student is invented, and grades.csv has each id once."""
    data = honest[run]
    assert data["data"]["unmatched"] == []
    assert set(data["results"]) == set(STUDENTS[run])
    with open(os.path.join(data["out"], "grades.csv"), newline="", encoding="utf-8") as fh:
        ids = [row.get("student_id") or row.get("id") for row in csv.DictReader(fh)]
    assert sorted(ids) == sorted(STUDENTS[run])


def test_the_later_attempt_is_graded_and_the_earlier_one_is_listed(honest):
    for sid in ("two_tries", "past_midnight"):
        r = honest["opt-zip"]["results"][sid]
        dup = [f for f in r["flags"] if f["kind"] == "duplicate"]
        assert dup and "2026-11-30" in dup[0]["message"], r["flags"]


def test_scratch_cells_stay_in_the_students_feedback(honest):
    """The scratch cells ran in the student's kernel (their prints are in the autograded notebook)."""
    path = os.path.join(honest["opt-folder"]["out"], "autograded", "scratch", OPT, OPT + ".ipynb")
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "checking my shapes before the tests" in text
