"""Red-team attacks on the class grader, each with the outcome the trust model promises.

DESIGN.md ("The trust model of a grade", "The sandbox") promises: points only from the
grader's own verdicts on trajectories recorded where the student cannot reach a correct
implementation; no verdict is 0 and a flag; a grader fault is never a student's zero, and a
student can never cause one; one submission never affects another or the run; nothing
survives a submission. Each submission below attacks one of those promises, as a hostile
student would (forged trajectories, precomputed answers, daemons, /proc and ptrace, symlinks,
a full disk, SIGSTOP, metadata tricks, names built for spreadsheets and browsers) or as an
unlucky honest one would (several endless loops, 10^5 cells, a 19 MB cell, unicode ids).

One class (an LMS zip, a control student among the attackers) is graded ONCE by
``python -m autograder grade`` in a module-scoped fixture; the control student is also graded
alone, and its grade must be the same. Each test then checks one promise. Attacks the
existing suites already cover (tests/test_hostile.py, test_recorder.py, test_sandbox.py,
test_collect.py) are not repeated. Two fast unit-level tests at the end reproduce, without
the sandbox, the recorder faults the class run shows.
"""

from __future__ import annotations

import base64
import copy
import csv
import json
import os
import pickle
import subprocess
import sys
import time
import uuid
import zipfile
import zlib

import nbformat
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join(ROOT, "assignments")
ASSIGNMENT = "optimizers"
SOURCE_NB = os.path.join(COURSE, "source", ASSIGNMENT, ASSIGNMENT + ".ipynb")
SOLUTIONS = os.path.join(ROOT, "solutions")
CELL_TIMEOUT, TIMEOUT = 10, 60
#: what a submission may cost beyond its --timeout (process starts, nbgrader's own work)
SLACK_S = 30
ALL, ANY = "all", "any"        # every part lost / the score may be anything up to full marks
#: a line of the reference's Adam: it must never reach the output folder
SOLUTION_MARKER = "m_hat = m / (1 - self.beta1 ** t)"
MARK = "att" + uuid.uuid4().hex[:12]      # names the daemons' processes and files of this session

IN_RECORDER = "__import__('importlib.util').util.find_spec('dlcourse') is None"

# ------------------------------------------------------------------------ the attacks' code
# Detects the recorder (no dlcourse there), stops its own alarm and sleeps past every budget.
RECORDER_SLEEPS = f"""
import signal as _sg, time as _tm
if {IN_RECORDER}:
    _sg.signal(_sg.SIGALRM, _sg.SIG_IGN)
    while True:
        _tm.sleep(1000)
"""
# Stops itself: nothing inside the process can wake it (the kernel and the recorder alike).
SIGSTOP_SELF = "import os as _o, signal as _s\n_o.kill(_o.getpid(), _s.SIGSTOP)\n"

# A daemon (double fork, setsid) in the kernel and in the recorder that outlives its parent and
# then writes into the output folder, the control student's feedback folder and every /tmp.
DAEMON_BODY = r"""
import json, os, sys, time
mark, parent, targets = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
def alive():
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
end = time.time() + 900
while alive() and time.time() < end:
    time.sleep(0.002)
for d in targets + [os.getcwd(), "/tmp", "/var/tmp", "/dev/shm"]:
    try:
        with open(os.path.join(d, mark + "-AFTER"), "w") as fh:
            fh.write("left behind")
    except OSError:
        pass
time.sleep(900)
"""
DAEMON = """
import json as _json, os as _os, sys as _sys
_where = "rec" if {in_recorder} else "ker"
_parent = _os.getpid()
if _os.fork() == 0:
    try:
        _os.setsid()
        if _os.fork() == 0:
            _os.execv(_sys.executable, [_sys.executable, "-c", {body!r}, {mark!r} + "-" + _where,
                                        str(_parent), {targets!r}])
    finally:
        _os._exit(0)
_os.wait()
"""

# Reads what /proc shows (cmdlines, environments, status, maps), tries to ptrace every other
# process, and collects every long number it saw (a seed is one). The kernel prints it; the
# recorder smuggles it out through the error message of its Adam (which the grader's verdict
# quotes in the student's own feedback).
PROC_SNOOP = f"""
import ctypes as _ct, json as _json, os as _os, re as _re
_texts, _pids, _traced = [], [], []
for _p in _os.listdir("/proc"):
    if not _p.isdigit():
        continue
    _pids.append(int(_p))
    for _f in ("cmdline", "environ", "status", "maps"):
        try:
            with open(f"/proc/{{_p}}/{{_f}}", "rb") as _fh:
                _texts.append(_fh.read(1 << 16).decode("latin-1"))
        except OSError:
            pass
for _f in ("job.json",):
    try:
        _texts.append(open(_f).read(1 << 20))
    except OSError:
        pass
try:
    _libc = _ct.CDLL(None, use_errno=True)
    _libc.ptrace.argtypes = [_ct.c_long, _ct.c_long, _ct.c_void_p, _ct.c_void_p]
    for _p in _pids:
        if _p != _os.getpid() and _libc.ptrace(16, _p, None, None) == 0:     # PTRACE_ATTACH
            _traced.append(_p)
            _libc.ptrace(17, _p, None, None)                                # PTRACE_DETACH
except Exception:
    pass
_blob = "\\n".join(_texts)
_SNOOP = _json.dumps({{"pids": sorted(_pids), "traced": _traced,
                      "numbers": sorted(set(_re.findall(r"\\d{{12,}}", _blob)))[:100],
                      "grader_command_seen": "--roster" in _blob}})
if {IN_RECORDER}:
    class Adam(Optimizer):
        def update(self, params, grads):
            raise RuntimeError("SNOOP " + _SNOOP)
else:
    print("SNOOP " + _SNOOP)
"""

FILL_DISK = """
_block = b"\\0" * (32 * 2**20)
for _i in range(24):
    try:
        with open(f"fill{_i}.bin", "wb") as _fh:
            _fh.write(_block)
    except OSError:
        break
"""

# The recorder's writable places, filled: its working folder (a capped tmpfs as root) and the
# folder of the grader's socket (in the host's /tmp; bound read-only in the allow-list view).
# Its Adam is withdrawn when more got through than the caps allow: the part then scores 0.
FILL_RECORDER = f"""
import os as _os, sys as _sys
if {IN_RECORDER}:
    _block, _wrote = b"\\0" * (16 * 2**20), {{}}
    for _where in (".", _os.path.dirname(_sys.argv[1])):
        _wrote[_where] = 0
        for _i in range(8):
            try:
                with open(_os.path.join(_where, f"fill{{_i}}.bin"), "wb") as _fh:
                    _fh.write(_block)
                _wrote[_where] += len(_block)
            except OSError:
                break
    if _wrote["."] > 64 * 2**20 or _wrote[_os.path.dirname(_sys.argv[1])] > 0:
        del Adam
"""

SYMLINKS_OUT = f"""
import os as _o
for _src, _dst in (({SOLUTIONS!r}, "sol"), ({SOURCE_NB!r}, "source.ipynb")):
    try:
        _o.symlink(_src, _dst)
    except OSError:
        pass
"""
SYMLINK_LOOP = "import os as _o\n_o.symlink('.', 'loop')\n"
# nbgrader writes the autograded notebook where the kernel ran, after the kernel ran: the
# kernel replaces that file by a link to a file only the grader may write
SYMLINK_NOTEBOOK = """
import os as _o
_o.remove("{notebook}.ipynb")
_o.symlink({canary!r}, "{notebook}.ipynb")
"""
CANARY_TEXT = "the grader's own file: no student may change it\n"

# The student's fingerprint of one optimizer run: its hyperparameters and the first step's
# parameters and gradients. The same text builds the table here and looks it up in the notebook.
FINGERPRINT = '''
def _fingerprint(hyper, params, grads):
    import hashlib
    h = hashlib.sha256(repr(hyper).encode())
    for k in sorted(params):
        h.update(k.encode())
        h.update(np.ascontiguousarray(params[k]).tobytes())
        h.update(np.ascontiguousarray(grads[k]).tobytes())
    return h.hexdigest()
'''
TABLE_ADAM = '''
import base64 as _b64, pickle as _pk, zlib as _zl
_TABLE = _pk.loads(_zl.decompress(_b64.b64decode({table!r})))
{fingerprint}

class Adam(Optimizer):
    """Adam that replays the reference's answers for every scenario it was shown."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._rows, self._t = None, 0

    def update(self, params, grads):
        if self._rows is None:
            self._rows = _TABLE.get(_fingerprint((self.lr, self.beta1, self.beta2, self.eps), params, grads), [])
        if self._t < len(self._rows):
            for k, v in self._rows[self._t].items():
                params[k][...] = v
        self._t += 1
'''

# In the recorder: find the server's frame, replace its request handler by one that answers
# every target from a table of the reference's trajectories over every fixed scenario
# (visible and the notebook's hidden ones), straight onto the grader's socket.
FORGE_WIRE = """
import base64 as _b64, pickle as _pk, sys as _sys, zlib as _zl
if @IN_RECORDER@:
    _WIRE = _pk.loads(_zl.decompress(_b64.b64decode(@TABLE@)))
    _f = _sys._getframe()
    while _f is not None and not hasattr(_f.f_locals.get("self"), "targets"):
        _f = _f.f_back
    _server, _g = _f.f_locals["self"], _f.f_globals

    def _forged(request, blobs):
        target = request["target"]
        fields = _g["Decoder"](blobs).decode(request["scenario"]["fields"])
        data = _WIRE.get((target, fields["name"]))
        if data is None:
            data = next(v for (t, _n), v in _WIRE.items() if t == target)
        enc = _g["Encoder"]()
        return {"op": "trajectory", "data": enc.encode(data)}, enc.blobs
    _server.run = _forged
""".replace("@IN_RECORDER@", IN_RECORDER)
# in the kernel, the notebook's own report is patched to say PASSED (as in test_hostile)
PATCH_REPORT = ('_m = __import__("sys").modules.get("autograder.res" + "ult")\n'
                'if _m is not None:\n    _m.CheckResult.assert_passed = lambda self: print("PASSED")\n')


def _grade_id(cell):
    return ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")


def _reference_table_for_adam() -> str:
    """What a student can compute at home with the course library: the reference Adam's
    parameters after every step of every scenario the notebook shows or hides (fixed set),
    keyed by the run's fingerprint."""
    from autograder import checks
    from dlcourse.optim import Adam as RefAdam
    ns = {"np": np}
    exec(FINGERPRINT, ns)  # noqa: S102 - our own text
    table = {}

    class Recording(RefAdam):
        def update(self, params, grads):
            if "_rows" not in self.__dict__:
                key = ns["_fingerprint"]((self.lr, self.beta1, self.beta2, self.eps), params, grads)
                self._rows = table.setdefault(key, [])
            super().update(params, grads)
            self._rows.append({k: v.copy() for k, v in params.items()})

    for sc in checks.scenarios("Adam", "all"):
        checks.run_trajectory(Recording, sc)
    return base64.b64encode(zlib.compress(pickle.dumps(table), 9)).decode()


def _reference_table_for_the_wire() -> str:
    from autograder import checks
    table = {}
    for target in checks.TARGETS:
        for sc in checks.scenarios(target, "all"):
            data = checks.reference_trajectory(sc).to_dict()
            for entry in data["values"].values():
                entry["data"] = np.asarray(entry["data"], dtype=np.float64)
            table[(target, sc.name)] = data
    return base64.b64encode(zlib.compress(pickle.dumps(table), 9)).decode()


def _raw_notebook_with_deep_metadata(nb, depth: int) -> bytes:
    """The notebook's JSON with one cell's metadata nested ``depth`` levels (JSON allows it;
    nbformat itself recurses twice per level)."""
    data = json.loads(nbformat.writes(nb))
    deep: dict = {}
    for _ in range(depth):
        deep = {"a": deep}
    for cell in data["cells"]:
        if (cell.get("metadata") or {}).get("nbgrader", {}).get("grade_id") == "ewma":
            cell["metadata"]["deep"] = deep
    return json.dumps(data).encode()


# ------------------------------------------------------------------------ the class
def build_class(tmp):
    """{student: case} where a case is (notebook or raw bytes, parts lost, flags, status), the
    zip, the roster and the control-only submissions folder."""
    from autograder import checks
    from autograder.classgrade import pipeline, samples
    template = pipeline.prepare_template(COURSE, ASSIGNMENT, str(tmp / "pre"))
    release = nbformat.read(os.path.join(template, "release", ASSIGNMENT, ASSIGNMENT + ".ipynb"), as_version=4)
    fills = samples.solution_fills(SOURCE_NB)
    stubs = {_grade_id(c): c.source for c in release.cells if _grade_id(c) in fills}
    out = str(tmp / "out")
    canary = tmp / "canary.txt"
    canary.write_text(CANARY_TEXT)
    control_feedback = os.path.join(out, "feedback", "control")
    daemon_targets = json.dumps([out, os.path.join(out, "feedback"), control_feedback, str(tmp)])

    def nb(changes=None, append=None, edit=None):
        return samples.student_notebook(release, dict(fills, **(changes or {})), append, edit)

    def loop_in_update(gid):
        src = fills[gid].replace("for name, p in params.items():",
                                 "while True:\n            pass\n        for name, p in params.items():", 1)
        assert src != fills[gid]
        return src

    test_ids = [_grade_id(c) for c in release.cells
                if ((c.get("metadata") or {}).get("nbgrader") or {}).get("grade") and c.cell_type == "code"]

    # the replayed table passes everything the student can see: the attack is real
    table_adam = TABLE_ADAM.format(table=_reference_table_for_adam(), fingerprint=FINGERPRINT)
    ns = {}
    exec("import numpy as np\nclass Optimizer:\n    def __init__(self, lr):\n        self.lr = lr\n"
         "        self.state = {}\n" + table_adam, ns)  # noqa: S102 - our own text
    assert checks.check_optimizer(ns["Adam"], "Adam", "visible").passed
    assert checks.check_optimizer(ns["Adam"], "Adam", "hidden").passed

    def edit_kernelspec(n):
        n.metadata["kernelspec"] = {"name": "evil-kernel", "display_name": "Evil", "language": "python"}

    def solution_as_grade_cell(n):
        meta = next(c for c in n.cells if _grade_id(c) == "adam").metadata["nbgrader"]
        meta.update(grade=True, points=1000)

    def duplicate_test_id(n):
        meta = copy.deepcopy(next(c for c in n.cells if _grade_id(c) == "test_adam").metadata)
        n.cells.append(nbformat.v4.new_code_cell("print('PASSED')", metadata=meta))

    def test_above_solution(n):
        i_sol = next(i for i, c in enumerate(n.cells) if _grade_id(c) == "adam")
        i_test = next(i for i, c in enumerate(n.cells) if _grade_id(c) == "test_adam")
        test = n.cells.pop(i_test)
        n.cells.insert(i_sol, test)

    def changed_checksums(n):
        for c in n.cells:
            meta = (c.get("metadata") or {}).get("nbgrader")
            if meta and "checksum" in meta:
                meta["checksum"] = "0" * 32
                meta["locked"] = False

    def many_cells(n):
        n.cells.extend(nbformat.v4.new_code_cell("") for _ in range(100_000))

    huge = "# " + "x" * (19 * 2**20 - 400_000)
    cases = {
        # student: (notebook, parts lost (grade ids) or ALL or ANY, flags it must have, status)
        "control": (nb(), [], [], "graded"),
        # -- the recorder's budget: must cost that student only, never a grader fault
        "recorder-sleeps": (nb(append=[RECORDER_SLEEPS]), ALL, ["timeout"], "graded"),
        "sigstop-self": (nb(append=[SIGSTOP_SELF]), ALL, ["timeout"], "graded"),
        # an honest student with four endless loops: those parts lost, the run unharmed
        "four-loops": (nb({g: loop_in_update(g) for g in ("momentum", "nesterov", "adagrad", "rmsprop")}),
                       ANY, ["timeout"], "graded"),
        # -- what a submission leaves behind
        "daemon": (nb(append=[DAEMON.format(in_recorder=IN_RECORDER, body=DAEMON_BODY, mark=MARK,
                                            targets=daemon_targets)]), [], [], "graded"),
        "fill-disk": (nb(append=[FILL_DISK]), [], [], "graded"),
        # as an ordinary user no tmpfs can be mounted over the recorder's folder: only each
        # file is capped (RLIMIT_FSIZE), as the README says
        "fill-recorder": (nb(append=[FILL_RECORDER]), [] if os.geteuid() == 0 else ["test_adam"], [], "graded"),
        "symlink-out": (nb(append=[SYMLINKS_OUT]), [], [], "graded"),
        "symlink-loop": (nb(append=[SYMLINK_LOOP]), [], [], "graded"),
        "symlink-notebook": (nb(append=[SYMLINK_NOTEBOOK.format(notebook=ASSIGNMENT, canary=str(canary))]),
                             [], [], "graded"),
        # -- learning the seed, reaching the grader
        "proc-snoop": (nb(append=[PROC_SNOOP]), ["test_adam"], [], "graded"),
        # -- precomputed and forged answers
        "table-replay": (nb({"adam": table_adam}), ["test_adam"], ["inconsistent"], "graded"),
        "forge-wire": (nb(dict(stubs, ewma=stubs["ewma"] + "\n" + PATCH_REPORT),
                          append=[FORGE_WIRE.replace("@TABLE@", repr(_reference_table_for_the_wire()))]),
                       ALL, ["inconsistent"], "graded"),
        # -- nbgrader metadata tricks: nothing gained
        "kernelspec-evil": (nb(edit=edit_kernelspec), [], [], "graded"),
        "solution-as-grade-cell": (nb(edit=solution_as_grade_cell), [], [], "graded"),
        "duplicate-grade-id": (nb({"adam": stubs["adam"]}, edit=duplicate_test_id), ["test_adam"], [], "graded"),
        # the notebook run top to bottom fails its own Adam test: that lowers the part
        "test-above-solution": (nb(edit=test_above_solution), ["test_adam"], [], "graded"),
        "changed-checksums": (nb(edit=changed_checksums), [], [], "graded"),
        # -- exhausting the worker
        # 10^5 cells would cost nbgrader minutes: not graded, flagged (an honest notebook has ~30)
        "many-cells": (nb(edit=many_cells), ALL, ["too-large"], "invalid"),
        "huge-cell": (nb(append=[huge]), [], [], "graded"),
        "deep-metadata": (_raw_notebook_with_deep_metadata(nb(), 450), ANY, [], ANY),
        # -- ids and names built for file systems, spreadsheets and browsers
        "学生-1": (nb(), [], [], "graded"),
        "🙂smile": (nb(), [], [], "graded"),
        "עברית": (nb(), [], [], "graded"),
        "@SUM(1+1)": (nb(), [], [], "graded"),
        "html-name": (nb(), [], [], "graded"),
    }
    names = {"html-name": ('<script>alert("first")</script>', "=cmd|' /C calc'!A0",
                           "html-name@example.edu"),
             "עברית": ("+SUM(1,2)", "-2+3", "rtl@example.edu"),
             "@SUM(1+1)": ("@SUM(1+1)", "Formula", "formula@example.edu")}
    ts = "2026-11-30-12-00-00"
    zpath = str(tmp / "class.zip")
    # stored, not deflated: a 19 MB cell of one letter would be a "zip bomb" by its ratio
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        for sid, (book, *_rest) in cases.items():
            data = book if isinstance(book, bytes) else nbformat.writes(book).encode()
            zf.writestr(f"{ASSIGNMENT}_{sid}_attempt_{ts}_{ASSIGNMENT}.ipynb", data)
        # not on the roster, and an id that is a path component: its row must stay in OUT's folders
        zf.writestr(f"{ASSIGNMENT}_.._attempt_{ts}_{ASSIGNMENT}.ipynb", nbformat.writes(nb()))
    roster = str(tmp / "roster.csv")
    with open(roster, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "first_name", "last_name", "email"])
        for i, sid in enumerate(cases):
            w.writerow([sid, *names.get(sid, ("First", "Last", f"s{i}@example.edu"))])
    control = tmp / "control-only"
    samples.write_submission(str(control), "control", ASSIGNMENT, ASSIGNMENT, nb())
    return cases, test_ids, zpath, roster, out, str(control)


def _run(args, cwd, timeout=1200):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", COURSE,
                           "--assignment", ASSIGNMENT, "--no-progress"] + args,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def _marked_processes() -> list[str]:
    """Command lines of live processes that carry this session's daemon marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if MARK in cmd and "pytest" not in cmd:
            found.append(f"{pid}: {cmd[:200]}")
    return found


def _processes_of_the_run(tmp: str) -> list[str]:
    """Live processes working in (or started with a path under) this run's folder: the
    sandboxed kernels and recorders of our submissions, or anything they left."""
    tmp = os.path.realpath(tmp)
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cwd = os.path.realpath(os.readlink(f"/proc/{pid}/cwd"))
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(tmp) or tmp in cmd:
            found.append(f"{pid} (uid {os.stat(f'/proc/{pid}').st_uid}, cwd {cwd}): {cmd[:160]}")
    return found


def _cgroups() -> set[str]:
    out = set()
    for base, dirs, _files in os.walk("/sys/fs/cgroup"):
        out |= {os.path.join(base, d) for d in dirs if d.startswith("classgrade-")}
        if base.count("/") > 6:
            dirs[:] = []
    return out


def _leaked_cgroups(before: set[str]) -> list[str]:
    """Cgroups made during the run whose creating process is gone: nobody will remove them."""
    leaked = []
    for d in sorted(_cgroups() - before):
        pid = os.path.basename(d).split("-")[1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            leaked.append(d)
    return leaked


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    cgroups_before = _cgroups()
    cases, test_ids, zpath, roster, out, control_dir = build_class(tmp)
    t0 = time.monotonic()
    proc = _run(["--zip", zpath, "--roster", roster, "--out", out, "--workers", "2", "--export", "canvas,moodle",
                 "--cell-timeout", str(CELL_TIMEOUT), "--timeout", str(TIMEOUT)], cwd=str(tmp))
    seconds = time.monotonic() - t0
    time.sleep(2)      # a daemon that survived has had time to write
    left = {"marked": _marked_processes(), "processes": _processes_of_the_run(str(tmp)),
            "cgroups": _leaked_cgroups(cgroups_before)}
    clean_out = str(tmp / "clean")
    clean = _run(["--submissions", control_dir, "--out", clean_out, "--workers", "1",
                  "--cell-timeout", str(CELL_TIMEOUT), "--timeout", str(TIMEOUT)], cwd=str(tmp))
    data, clean_data = {}, {}
    if os.path.exists(os.path.join(out, "results.json")):
        with open(os.path.join(out, "results.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    if os.path.exists(os.path.join(clean_out, "results.json")):
        with open(os.path.join(clean_out, "results.json"), encoding="utf-8") as fh:
            clean_data = json.load(fh)
    yield {"cases": cases, "tests": test_ids, "tmp": str(tmp), "out": out, "proc": proc, "seconds": seconds,
           "left": left, "clean_proc": clean, "run": data.get("run", {}),
           "results": {r["student_id"]: r for r in data.get("results", [])},
           "clean": {r["student_id"]: r for r in clean_data.get("results", [])}}
    for line in _marked_processes():              # never leave a daemon on the machine
        try:
            os.kill(int(line.split(":")[0]), 9)
        except OSError:
            pass


def kinds(result) -> set[str]:
    return {f["kind"] for f in result["flags"]}


def _autograded_text(attacked, sid) -> str:
    path = os.path.join(attacked["out"], "autograded", sid, ASSIGNMENT, ASSIGNMENT + ".ipynb")
    if not os.path.exists(path):
        return ""
    book = nbformat.read(path, as_version=4)
    return "\n".join(str(o.get("text", "")) + str(o.get("evalue", ""))
                     for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _files_under(path):
    for base, dirs, files in os.walk(path):
        for name in dirs + files:
            yield os.path.join(base, name)


CASES = ["control", "recorder-sleeps", "sigstop-self", "four-loops", "daemon", "fill-disk", "fill-recorder", "symlink-out",
         "symlink-loop", "symlink-notebook", "proc-snoop", "table-replay", "forge-wire", "kernelspec-evil", "solution-as-grade-cell",
         "duplicate-grade-id", "test-above-solution", "changed-checksums", "many-cells", "huge-cell",
         "deep-metadata", "学生-1", "🙂smile", "עברית", "@SUM(1+1)", "html-name"]


# ------------------------------------------------------------------------ the run as a whole
def test_the_run_finishes_with_exit_0_and_grades_everyone(attacked):
    """No attack is a grader fault: the command exits 0 and no row is 'not graded'."""
    proc, results = attacked["proc"], attacked["results"]
    not_graded = sorted(sid for sid, r in results.items() if r["status"] == "not graded")
    assert proc.returncode == 0 and not not_graded, (proc.returncode, not_graded,
                                                     {s: [f["message"] for f in results[s]["flags"]] for s in not_graded},
                                                     proc.stderr[-2000:])


def test_the_control_student_grades_as_in_a_clean_run(attacked):
    r, clean = attacked["results"]["control"], attacked["clean"]["control"]
    assert r["score"] == clean["score"] == clean["max_score"]
    assert {g: p["score"] for g, p in r["parts"].items()} == {g: p["score"] for g, p in clean["parts"].items()}
    assert r["flags"] == [] and clean["flags"] == []


def test_every_rostered_student_is_in_every_output_exactly_once(attacked):
    out = attacked["out"]
    results = attacked["results"]
    assert set(CASES) <= set(results)
    with open(os.path.join(out, "grades.csv"), newline="", encoding="utf-8") as fh:
        ids = [row["id"] for row in csv.DictReader(fh)]
    assert sorted(ids) == sorted(set(ids)) and set(CASES) <= set(ids)
    import sqlite3
    con = sqlite3.connect(os.path.join(out, "gradebook.db"))
    students = [row[0] for row in con.execute("select id from student")]
    con.close()
    assert sorted(students) == sorted(set(students)) and set(CASES) <= set(students)
    for sid in CASES:
        page = os.path.join(out, results[sid]["feedback"])
        assert os.path.isfile(page), sid
    for name, column in ((f"canvas-{ASSIGNMENT}.csv", "SIS User ID"), (f"moodle-{ASSIGNMENT}.csv", "ID number")):
        with open(os.path.join(out, name), newline="", encoding="utf-8") as fh:
            ids = [row[column] for row in csv.DictReader(fh)]
        assert sorted(ids) == sorted(set(ids)) and set(CASES) <= set(ids), name


def test_each_submission_costs_at_most_its_time_budget(attacked):
    """--timeout bounds a submission's whole cost (kernel and recorder share it; no retry
    doubles it); a slow or hostile student never holds a worker for longer."""
    over = {sid: round(r["timings"].get("total", 0.0)) for sid, r in attacked["results"].items()
            if r["timings"].get("total", 0.0) > TIMEOUT + SLACK_S}
    assert over == {}, over


def test_nothing_is_left_behind(attacked):
    """No daemon, no process of the run, no cgroup survives it; nothing the daemons tried to
    write after their submission ended exists anywhere."""
    left = attacked["left"]
    assert left == {"marked": [], "processes": [], "cgroups": []}
    stray = [p for d in (attacked["tmp"], "/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(d)
             for p in (os.path.join(d, n) for n in os.listdir(d)) if MARK in p]
    stray += [p for p in _files_under(attacked["tmp"]) if MARK in os.path.basename(p)]
    assert stray == []


def test_the_output_folder_holds_only_the_graders_outputs(attacked):
    """An id such as '..' never becomes a path outside OUT's per-student folders, and the
    worker's own course copy is not removed by it."""
    out = attacked["out"]
    # OUT is an nbgrader course root: its config and source/ are the grader's too
    allowed = {"grades.csv", "results.json", "report.html", "feedback", "autograded", "submitted", "gradebook.db",
               ".work", "source", "nbgrader_config.py", f"canvas-{ASSIGNMENT}.csv", f"moodle-{ASSIGNMENT}.csv"}
    assert set(os.listdir(out)) - allowed == set()
    for sub in ("feedback", "autograded"):
        for sid in os.listdir(os.path.join(out, sub)):
            assert sid not in (".", "..") and os.path.realpath(os.path.join(out, sub, sid)).startswith(
                os.path.realpath(os.path.join(out, sub)) + os.sep)
    for r in attacked["results"].values():
        if r.get("feedback"):
            page = os.path.realpath(os.path.join(out, r["feedback"]))
            assert page.startswith(os.path.realpath(os.path.join(out, "feedback")) + os.sep), (r["student_id"], page)


# ------------------------------------------------------------------------ each attack's grade
@pytest.mark.parametrize("student", CASES)
def test_each_attack_earns_exactly_what_it_implemented(attacked, student):
    """Full marks minus the parts the attack breaks (nothing for what it did not implement),
    with the flag naming why; never more than full marks, never 'not graded'."""
    _, lost, flags, status = attacked["cases"][student]
    r = attacked["results"][student]
    points = {gid: p["points"] for gid, p in r["parts"].items()}
    total = sum(points.values())
    assert r["max_score"] == total == 110, (r["max_score"], total)
    if status == ANY:
        assert r["status"] in ("graded", "invalid"), (r["status"], r["flags"])
    else:
        assert r["status"] == status, (r["status"], [f["message"] for f in r["flags"]])
    if lost == ANY:
        assert 0 <= r["score"] <= total
    else:
        expected = 0.0 if lost == ALL else total - sum(points[g] for g in lost)
        assert r["score"] == pytest.approx(expected), (r["score"], [f["message"] for f in r["flags"]],
                                                       {g: p["score"] for g, p in r["parts"].items()})
    for kind in flags:
        assert kind in kinds(r), (kind, r["flags"])


def test_four_endless_loops_cost_those_parts_and_are_flagged(attacked):
    r = attacked["results"]["four-loops"]
    for gid in ("test_momentum", "test_nesterov", "test_adagrad", "test_rmsprop"):
        assert r["parts"][gid]["score"] == 0, gid
    assert r["status"] == "graded"


# ------------------------------------------------------------------------ what attacks reach
def test_the_seed_is_never_learnable_from_inside_the_sandbox(attacked):
    """/proc in the kernel and in the recorder shows no grader process, nothing to ptrace, and
    no number that is this run's seed; the seed reaches no student-visible page."""
    seed = str(attacked["run"]["seed"])
    out = attacked["out"]
    text = _autograded_text(attacked, "proc-snoop")
    lines = [ln for ln in text.splitlines() if ln.startswith("SNOOP ")]
    assert len(lines) == 1, text[-2000:]
    line = lines[0]
    seen = json.loads(line[len("SNOOP "):])
    assert seen["traced"] == [] and not seen["grader_command_seen"], seen
    assert seed not in seen["numbers"]
    # the recorder's Adam raised with what it found: whatever of it the verdict passes on
    # (today only "error in scenario ...") must not hold the seed
    r = attacked["results"]["proc-snoop"]
    assert seed not in json.dumps(r, ensure_ascii=False)
    for sid in CASES:
        page = os.path.join(out, attacked["results"][sid]["feedback"])
        with open(page, encoding="utf-8", errors="replace") as fh:
            assert seed not in fh.read(), sid
        assert seed not in _autograded_text(attacked, sid), sid


def test_symlinks_in_the_working_folder_pull_nothing_into_the_output(attacked):
    """Only the autograded notebook nbgrader wrote is copied out, never through a link: links to
    the solutions or the source notebook bring nothing into the output (they used to be copied
    with their content)."""
    base = os.path.join(attacked["out"], "autograded", "symlink-out")
    leaked = [p for p in _files_under(base)
              if os.path.islink(p) or (not os.path.isdir(p) and os.path.basename(p) != f"{ASSIGNMENT}.ipynb")]
    assert leaked == []
    assert os.listdir(os.path.join(base, ASSIGNMENT)) == [f"{ASSIGNMENT}.ipynb"]


def test_no_grader_file_is_written_through_a_link_the_kernel_left(attacked):
    """The kernel replaced its notebook by a link to a file of the grader's: nbgrader's write of
    the autograded notebook must not follow it (the grader runs as root outside the sandbox)."""
    with open(os.path.join(attacked["tmp"], "canary.txt"), encoding="utf-8") as fh:
        assert fh.read() == CANARY_TEXT


def test_a_student_filling_its_working_folder_does_not_fill_the_output(attacked):
    """What a kernel writes into its folder is bounded; the output holds the notebook, not 768 MB."""
    base = os.path.join(attacked["out"], "autograded", "fill-disk")
    size = sum(os.lstat(p).st_size for p in _files_under(base))
    assert size < 64 * 2**20, f"{size / 2**20:.0f} MB under {base}"


SPREADSHEET_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def test_no_spreadsheet_formula_from_a_name_reaches_the_csv_files(attacked):
    """Names come from students' LMS profiles: grades.csv and the LMS exports write them so a
    spreadsheet shows them as text (OWASP CSV injection: a leading = + - @ is neutralised)."""
    out = attacked["out"]
    bad = []
    for name in ("grades.csv", f"canvas-{ASSIGNMENT}.csv", f"moodle-{ASSIGNMENT}.csv"):
        with open(os.path.join(out, name), newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        header = [h.lower() for h in rows[0]]
        name_cols = [i for i, h in enumerate(header) if "name" in h or h == "student"]
        for row in rows[1:]:
            for i in name_cols:
                if i < len(row) and row[i].startswith(SPREADSHEET_TRIGGERS):
                    bad.append((name, rows[0][i], row[i]))
    assert bad == []


def test_html_in_a_name_never_runs_in_the_report_or_feedback(attacked):
    out = attacked["out"]
    pages = [os.path.join(out, "report.html"), os.path.join(out, attacked["results"]["html-name"]["feedback"])]
    for page in pages:
        with open(page, encoding="utf-8") as fh:
            assert '<script>alert("first")' not in fh.read(), page


# ------------------------------------------------------------------------ fast reproducers
def _solution_cells():
    book = json.load(open(os.path.join(SOLUTIONS, ASSIGNMENT, ASSIGNMENT + ".ipynb"), encoding="utf-8"))
    cells = ["".join(c["source"]) for c in book["cells"] if c["cell_type"] == "code"]
    return [c for c in cells if ".assert_passed()" not in c and "matplotlib" not in c]


def _loop(cells, cls):
    marker = f"class {cls}("
    out = []
    for c in cells:
        if marker in c:
            c = c.replace("for name, p in params.items():",
                          "while True:\n            pass\n        for name, p in params.items():", 1)
        out.append(c)
    return out


SLEEPER = "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    time.sleep(1000)\n"


@pytest.mark.parametrize("case", ["a cell sleeps past every alarm", "three updates loop forever"])
def test_spending_the_whole_budget_is_the_students_timeout_never_a_grader_fault(tmp_path, case):
    """Once the submission's deadline has passed, the parts not yet recorded have no verdict
    because the *student* spent the budget: TIMEOUT, never NO_START (which verify.py turns into
    SandboxFault, a retry and finally a 'not graded: grader error' row)."""
    from autograder import checks
    from autograder.classgrade import recorder
    if case.startswith("a cell"):
        cells, targets = _solution_cells() + [SLEEPER], ["EWMA", "SGD", "Momentum"]
    else:
        cells = _loop(_loop(_loop(_solution_cells(), "SGD"), "Momentum"), "Nesterov")
        targets = ["SGD", "Momentum", "Nesterov", "AdaGrad", "Adam"]
    parts = {t: checks.scenarios(t, "all") for t in targets}
    recs = recorder.record_parts(checks, parts, cells, recorder.plain_launcher, str(tmp_path), 2.0,
                                 time.monotonic() + 5.0, ("checks.py", "result.py"), "autograder.checks", 2.0)
    faults = {t: r.fault for t, r in recs.items()}
    assert recorder.Fault.NO_START not in faults.values(), faults


def test_an_oversized_trajectory_is_refused_before_it_costs_the_grader_memory(tmp_path):
    """A student process answering each scenario with 32 MB of numbers (the trajectory is a few
    kB) must not make the grader's process hold them: the reply is refused by its size."""
    huge = ("import sys, numpy as _np\n"
            "_c = sys.modules['autograder.checks']\n"
            "class _Big:\n"
            "    def __init__(self, sc):\n        self.sc = sc\n"
            "    def to_dict(self):\n"
            "        return {'target': self.sc.target, 'scenario': self.sc.name,\n"
            "                'values': {'w': {'shape': [4 * 2**20], 'data': _np.zeros(4 * 2**20)}},\n"
            "                'steps_done': 0, 'violations': [], 'error': None, 'warnings': []}\n"
            "_c.run_trajectory = lambda code, sc: _Big(sc)\n")
    script = f"""
import resource, sys, time
sys.path.insert(0, {ROOT!r})
from autograder import checks
from autograder.classgrade import recorder
cells = {_solution_cells() + [huge]!r}
parts = {{"SGD": checks.scenarios("SGD", "all")}}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
recs = recorder.record_parts(checks, parts, cells, recorder.plain_launcher, {str(tmp_path)!r}, 60.0,
                             time.monotonic() + 90.0, ("checks.py", "result.py"), "autograder.checks", 10.0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(parts["SGD"]), recs["SGD"].fault, (peak - base) // 1024)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    n, fault, grown_mb = proc.stdout.split()
    assert fault != "None", f"{n} replies of 32 MB were accepted as a trajectory (the grader grew by {grown_mb} MB)"
    assert int(grown_mb) < 24, f"the grader's process grew by {grown_mb} MB for {n} replies of 32 MB ({fault})"
