"""A small class of decided results for the output-stage tests (record, export, report, formgrader).

Every row is built by ``decide()`` from typed inputs, as the pipeline builds them: a full-marks
student, one with a diagnosed mistake and a part not attempted, one whose kernel crashed, one
missing, one invalid upload, one not graded (grader fault), one graded but not on the roster.
Autograded notebooks (copies of the solution) and feedback pages are put where the workers put
them, so links and the formgrader's notebook views have something to show.
"""
from __future__ import annotations

import os
import shutil

from autograder.classgrade import protocol
from autograder.classgrade.decide import Identity, KernelRun, Verdict, decide
from autograder.classgrade.flags import Flag, Kind
from autograder.classgrade.outcome import Status
from autograder.classgrade.record import RunInfo
from autograder.classgrade.recorder import Fault

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join(REPO, "assignments")
SOLUTION = os.path.join(REPO, "solutions", "optimizers", "optimizers.ipynb")

_SPEC = None


def spec():
    global _SPEC
    if _SPEC is None:
        _SPEC = protocol.load_spec(COURSE, "optimizers")
    return _SPEC


def full_kernel(s):
    return KernelRun(completed=True, scores={p.grade_id: p.points for p in s.parts})


def passing(s):
    return {t: Verdict(t, True) for p in s.parts for t in p.targets}


def make_class(s=None) -> tuple[list, list]:
    """(results, unmatched) of a seven-student class."""
    s = s or spec()
    parts = s.parts
    ok = passing(s)
    results = [
        decide(Identity("ada", "Ada", "Lovelace", "ada@example.org", timestamp="2026-11-30T15:00:00+00:00"),
               parts, verdicts=ok, kernel=full_kernel(s)),
        decide(Identity("bob_jones", "Bob", "Jones", "bob@example.org", timestamp="2026-11-30T16:00:00+00:00"),
               parts, verdicts={**ok,
                                "Adam": Verdict("Adam", False, summary="step 1 differs",
                                                mistakes=("adam-no-bias-correction",)),
                                "cosine": Verdict("cosine", False, attempted=False)},
               kernel=full_kernel(s)),
        decide(Identity("chen", "Chen", "Li", "chen@example.org", timestamp="2026-11-30T17:00:00+00:00"),
               parts, verdicts={**ok, "Nadam": Verdict("Nadam", None, fault=Fault.DIED)},
               kernel=KernelRun(completed=False, scores={"test_ewma": 10.0}, died=True)),
        decide(Identity("dana", "Dana", "Scully", "dana@example.org"), parts, collected=Status.MISSING,
               flags=[Flag(Kind.MISSING, "no upload for optimizers")]),
        decide(Identity("eve", "Eve", "Moneypenny", "eve@example.org"), parts, collected=Status.INVALID,
               flags=[Flag(Kind.INVALID_FILE, "optimizers.ipynb is not JSON (starts with 'PK')")]),
        decide(Identity("fay", "Fay", "Wray", "fay@example.org", timestamp="2026-11-30T18:00:00+00:00"),
               parts, faults=["the sandboxed kernel could not start: /usr/bin/python3 not executable"]),
        decide(Identity("gus", "Gus", "Grissom", "", on_roster=False, timestamp="2026-11-30T19:00:00+00:00"),
               parts, verdicts={**ok, "SGD": Verdict("SGD", False, mistakes=("sgd-ascent",))},
               kernel=KernelRun(True, {**full_kernel(s).scores, "test_sgd": 0.0}),
               flags=[Flag(Kind.NOT_ON_ROSTER, "gus is not on the roster")]),
    ]
    unmatched = [("optimizers_final.ipynb", "the name does not look like <x>_<id>_attempt_<time>_<file>")]
    return results, unmatched


def place_worker_files(out: str, results, s=None) -> None:
    """What the workers leave in OUT: autograded notebooks and feedback pages (graded rows)."""
    s = s or spec()
    for r in results:
        if r.status is Status.GRADED:
            d = os.path.join(out, "autograded", r.student_id, s.name)
            os.makedirs(d, exist_ok=True)
            shutil.copy(SOLUTION, os.path.join(d, s.notebook + ".ipynb"))
        rel = os.path.join("feedback", r.student_id, s.name, s.notebook + ".html")
        os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
        with open(os.path.join(out, rel), "w", encoding="utf-8") as fh:
            fh.write(f"<!doctype html><title>{r.student_id}</title><h1>feedback for {r.student_id}</h1>")
        r.feedback = rel


def run_info(template: str | None = None, **kw) -> RunInfo:
    base = dict(assignment="optimizers", seed=1234, sandbox="sandbox: user namespaces (uid 200000+), cgroup v1 "
                "memory+pids, no network", limits={"timeout_s": 300, "cell_timeout_s": 60, "memory_mb": 3072,
                                                   "workers": 2},
                started="2026-12-01T10:00:00+00:00", finished="2026-12-01T10:01:30+00:00", seconds=90.0,
                version="test", course=COURSE, template_gradebook=template)
    base.update(kw)
    return RunInfo(**base)
