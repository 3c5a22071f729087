"""The recorder: trajectories recorded in the student's own process, verdicts decided outside it.

These run the real server (:mod:`autograder.classgrade.remote`) as a plain child process
(the sandbox around it has tests of its own) with the real optimizer checks.
"""
import json
import os
import socket
import struct
import time

import numpy as np
import pytest

from autograder import checks
from autograder.classgrade import recorder, remote
from autograder.classgrade.recorder import Fault

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTION = os.path.join(ROOT, "solutions", "optimizers", "optimizers.ipynb")


def solution_cells():
    nb = json.load(open(SOLUTION, encoding="utf-8"))
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return [c for c in cells if ".assert_passed()" not in c and "matplotlib" not in c]


def record(cells, targets, tmp_path, part_seconds=20.0, total=60.0, cell_seconds=10.0):
    parts = {t: checks.scenarios(t, "all") for t in targets}
    recs = recorder.record_parts(checks, parts, cells, recorder.plain_launcher, str(tmp_path), part_seconds,
                                 time.monotonic() + total, ("checks.py", "result.py"), "autograder.checks",
                                 cell_seconds)
    verdicts = {}
    for t, r in recs.items():
        verdicts[t] = checks.compare_all(t, parts[t], r.trajectories).passed if r.complete else r.fault
    return recs, verdicts


def replace(cells, old, new):
    out = [c.replace(old, new) for c in cells]
    assert out != cells, f"{old!r} is not in the solution"
    return out


def test_the_model_solution_passes_every_part_out_of_the_kernel(tmp_path):
    recs, verdicts = record(solution_cells(), checks.TARGETS, tmp_path)
    assert verdicts == {t: True for t in checks.TARGETS}
    assert all(r.present for r in recs.values())


def test_a_wrong_part_fails_and_is_diagnosed_outside_the_student_process(tmp_path):
    cells = replace(solution_cells(), "np.sqrt(v_hat) + self.eps", "np.sqrt(v_hat + self.eps)")
    recs, verdicts = record(cells, ["Adam", "SGD"], tmp_path)
    assert verdicts == {"Adam": False, "SGD": True}
    result = checks.compare_all("Adam", checks.scenarios("Adam", "all"), recs["Adam"].trajectories)
    assert result.mistake == "adam-eps-inside-sqrt"


def test_an_endless_loop_costs_its_part_only(tmp_path):
    cells = replace(solution_cells(), "m_hat = m / (1 - self.beta1 ** t)", "while True: pass")
    t0 = time.monotonic()
    _, verdicts = record(cells, ["SGD", "Adam", "Nadam"], tmp_path, part_seconds=2.0)
    assert verdicts == {"SGD": True, "Adam": Fault.TIMEOUT, "Nadam": True}
    assert time.monotonic() - t0 < 15


def test_a_process_that_exits_costs_its_part_only(tmp_path):
    cells = replace(solution_cells(), "m_hat = m / (1 - self.beta1 ** t)", "import os; os._exit(3)")
    _, verdicts = record(cells, ["SGD", "Adam", "Nadam"], tmp_path)
    assert verdicts == {"SGD": True, "Adam": Fault.DIED, "Nadam": True}


def test_a_slow_scratch_cell_costs_that_cell_only(tmp_path):
    """An honest scratch cell that runs long (or forever) is stopped like nbgrader stops it."""
    cells = solution_cells() + ["import time\nwhile True:\n    time.sleep(0.1)\n", "raise SystemExit(1)\n"]
    recs, verdicts = record(cells, ["SGD", "Adam"], tmp_path, cell_seconds=1.0)
    assert verdicts == {"SGD": True, "Adam": True}
    assert [e["type"] for e in recs["SGD"].cell_errors][-2:] == ["CellTimeout", "SystemExit"]


def test_no_correct_implementation_is_reachable_from_the_student_process(tmp_path):
    """The reference, the catalogue and other packages (torch) cannot be imported there."""
    probe = ("import importlib\nfound = []\n"
             "for name in ('dlcourse', 'dlcourse.optim', 'autograder.mistakes', 'torch', 'scipy', 'nbgrader'):\n"
             "    try:\n        m = importlib.import_module(name)\n"
             "        if getattr(m, '__file__', None) or hasattr(m, 'MISTAKES'):\n            found.append(name)\n"
             "    except Exception:\n        pass\n"
             "assert not found, found\n"
             "class SGD:\n    def __init__(self, lr=0.01):\n        self.lr = lr\n"
             "    def update(self, params, grads):\n        for k in params:\n            params[k] -= self.lr * grads[k]\n")
    recs, verdicts = record([solution_cells()[0], probe], ["SGD"], tmp_path)
    assert recs["SGD"].cell_errors == [] or all(e["cell"] == 1 for e in recs["SGD"].cell_errors)
    assert verdicts == {"SGD": True}


def test_patching_the_recorder_inside_the_student_process_earns_nothing(tmp_path):
    """The student's copy of the recorder may be rewritten: it still has to produce the right
    numbers for scenarios drawn at grading time, without a correct implementation."""
    cheat = ("import autograder.checks as C\n"
             "_real = C.run_trajectory\n"
             "def run_trajectory(code, scenario):\n"
             "    t = _real(code, scenario)\n"
             "    t.error = None; t.violations = []\n"
             "    return t\n"
             "C.run_trajectory = run_trajectory\n")
    stub = "class Adam:\n    def __init__(self, **kw):\n        pass\n    def update(self, params, grads):\n        pass\n"
    _, verdicts = record([solution_cells()[0], stub, cheat], ["Adam"], tmp_path)
    assert verdicts == {"Adam": False}


def test_a_launcher_that_cannot_start_is_the_graders_fault(tmp_path):
    def broken(argv, workdir, lib, channel):
        raise OSError("no such sandbox")
    parts = {"SGD": checks.scenarios("SGD", "all"), "Adam": checks.scenarios("Adam", "all")}
    recs = recorder.record_parts(checks, parts, solution_cells(), broken, str(tmp_path), 5.0,
                                 time.monotonic() + 10, ("checks.py", "result.py"), "autograder.checks")
    assert {t: r.fault for t, r in recs.items()} == {"SGD": Fault.NO_START, "Adam": Fault.NO_START}


def test_a_process_that_never_greets_is_the_graders_fault(tmp_path):
    def silent(argv, workdir, lib, channel):
        return recorder.plain_launcher(["sleep", "30"], workdir, lib, channel)
    parts = {"SGD": checks.scenarios("SGD", "all")}
    recs = recorder.record_parts(checks, parts, solution_cells(), silent, str(tmp_path), 5.0,
                                 time.monotonic() + 3, ("checks.py", "result.py"), "autograder.checks")
    assert recs["SGD"].fault is Fault.NO_START


# -- the wire format trusts nothing ---------------------------------------------------------
def roundtrip(value):
    enc = remote.Encoder()
    header = {"v": enc.encode(value)}
    body = remote.pack(header, enc.blobs)[4:]
    h, blobs = remote.unpack(body)
    return remote.Decoder(blobs).decode(h["v"])


def test_plain_data_round_trips_with_dtypes_and_shapes():
    value = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "t": (1, 2.5, "x", None, True),
             "s": np.float64(0.25), "l": [np.zeros((0, 4))]}
    back = roundtrip(value)
    np.testing.assert_array_equal(back["w"], value["w"])
    assert back["w"].dtype == np.float32 and back["w"].flags.writeable
    assert back["t"] == value["t"] and back["s"] == 0.25 and back["l"][0].shape == (0, 4)


@pytest.mark.parametrize("value", [np.array([object()], dtype=object), {1: 2}, {"f": print},
                                   np.zeros(2).view([("a", "f4"), ("b", "f4")])])
def test_the_encoder_refuses_anything_but_plain_data(value):
    with pytest.raises(remote.WireError):
        remote.Encoder().encode(value)


@pytest.mark.parametrize("header, blobs", [
    ({"v": {"$a": [0, "|O", [1]]}}, [b"x" * 8]),            # object dtype
    ({"v": {"$a": [0, "<f8", [3]]}}, [b"x" * 8]),           # size mismatch
    ({"v": {"$a": [5, "<f8", [1]]}}, [b"x" * 8]),           # no such blob
    ({"v": {"$x": 1}}, []),                                  # unknown tag
    ({"v": {"$d": [[1, 2]]}}, []),                           # non-str key
    ({"v": {"$a": [0, "V8", [1]]}}, [b"x" * 8]),            # raw void
])
def test_the_decoder_refuses_malformed_data(header, blobs):
    body = remote.pack(header, blobs)[4:]
    h, b = remote.unpack(body)
    with pytest.raises(remote.WireError):
        remote.Decoder(b).decode(h["v"])


def test_deeply_nested_and_huge_messages_are_refused():
    deep = [[]]
    for _ in range(100):
        deep = [deep]
    with pytest.raises(remote.WireError):
        remote.Encoder().encode(deep)
    a, b = socket.socketpair()
    a.sendall(struct.pack(">I", remote.MAX_FRAME + 1))
    with pytest.raises(remote.WireError):
        remote.Reader(b).frame()
    a.close(), b.close()


def test_a_student_process_sending_garbage_gets_no_verdict(tmp_path):
    """Writing to the recorder's socket from student code garbles only its own answer."""
    cheat = ("import os, socket\n"
             "for fd in range(3, 64):\n"
             "    try:\n        s = socket.socket(fileno=os.dup(fd))\n"
             "        s.sendall(b'\\x00\\x00\\x00\\x05hello')\n    except Exception:\n        pass\n")
    _, verdicts = record(solution_cells() + [cheat], ["SGD"], tmp_path)
    assert verdicts["SGD"] is Fault.GARBLED


def test_a_deep_output_folder_does_not_break_the_channel(tmp_path):
    """The socket lives in a short folder of its own: a unix socket path must fit in 107 bytes,
    and the output folder can be anywhere (this failed with "AF_UNIX path too long")."""
    deep = tmp_path / ("d" * 100) / ("e" * 100)
    deep.mkdir(parents=True)
    _, verdicts = record(solution_cells(), ["SGD"], deep)
    assert verdicts == {"SGD": True}


def test_a_spent_budget_is_the_students_timeout_never_a_grader_fault(tmp_path):
    """After a part spends the submission's whole budget, the remaining parts time out; they
    are never 'the sandbox did not start' (a grader fault that would make the row not graded)."""
    cells = replace(solution_cells(), "m_hat = m / (1 - self.beta1 ** t)", "while True: pass")
    _, verdicts = record(cells, ["Adam", "SGD", "Nadam"], tmp_path, part_seconds=30.0, total=2.0)
    assert verdicts == {"Adam": Fault.TIMEOUT, "SGD": Fault.TIMEOUT, "Nadam": Fault.TIMEOUT}


def test_an_oversized_reply_is_refused_before_it_is_read(tmp_path):
    """A student's process answering with 32 MB per scenario gets no verdict, and the grader
    never holds those bytes."""
    cheat = ("import autograder.checks as C\n_real = C.run_trajectory\n"
             "def run_trajectory(code, scenario):\n    t = _real(code, scenario)\n"
             "    import numpy as np\n    t.values['junk'] = np.zeros(4 * 2**20)\n    return t\n"
             "C.run_trajectory = run_trajectory\n")
    _, verdicts = record(solution_cells() + [cheat], ["SGD"], tmp_path)
    assert verdicts["SGD"] is Fault.GARBLED
