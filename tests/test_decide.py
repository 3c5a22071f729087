"""decide(): the grade as a pure function of what the stages found (a table of cases)."""
import pytest

from autograder.classgrade.decide import Identity, KernelRun, PartSpec, Verdict, decide
from autograder.classgrade.flags import Flag, Kind
from autograder.classgrade.outcome import Status
from autograder.classgrade.recorder import Fault

PARTS = [PartSpec("test_sgd", 5, ("SGD",)), PartSpec("test_adam", 15, ("Adam",))]
WHO = Identity("jane_doe", "Jane", "Doe", "jane@example.org")
OK = KernelRun(completed=True, scores={"test_sgd": 5.0, "test_adam": 15.0})
PASS = {"SGD": Verdict("SGD", True), "Adam": Verdict("Adam", True)}


def v(target, passed, **kw):
    return Verdict(target, passed, **kw)


# (case, kwargs for decide, expected status, expected per-part scores, flag kinds that must appear)
CASES = [
    ("both verdicts pass, kernel agrees", dict(verdicts=PASS, kernel=OK),
     Status.GRADED, {"test_sgd": 5, "test_adam": 15}, set()),
    ("a failed verdict is 0 even when the kernel said full marks",
     dict(verdicts={**PASS, "Adam": v("Adam", False, summary="values differ")}, kernel=OK),
     Status.GRADED, {"test_sgd": 5, "test_adam": 0}, {Kind.INCONSISTENT}),
    ("an unwritten part the kernel passed (a patched report) is 0 and flagged",
     dict(verdicts={**PASS, "SGD": v("SGD", False, attempted=False)}, kernel=OK),
     Status.GRADED, {"test_sgd": 0, "test_adam": 15}, {Kind.INCONSISTENT}),
    ("no verdict (timed out) is 0 and flagged, never the kernel's score",
     dict(verdicts={**PASS, "Adam": v("Adam", None, fault=Fault.TIMEOUT)}, kernel=OK),
     Status.GRADED, {"test_sgd": 5, "test_adam": 0}, {Kind.TIMEOUT}),
    ("no verdict (process died) is 0 with a crash flag",
     dict(verdicts={**PASS, "Adam": v("Adam", None, fault=Fault.DIED)}, kernel=OK),
     Status.GRADED, {"test_sgd": 5, "test_adam": 0}, {Kind.CRASH}),
    ("garbled recording is 0 with no-verdict",
     dict(verdicts={**PASS, "Adam": v("Adam", None, fault=Fault.GARBLED)}, kernel=OK),
     Status.GRADED, {"test_adam": 0}, {Kind.NO_VERDICT}),
    ("a target with no verdict at all is 0",
     dict(verdicts={"SGD": PASS["SGD"]}, kernel=OK),
     Status.GRADED, {"test_sgd": 5, "test_adam": 0}, {Kind.NO_VERDICT}),
    ("the kernel can only lower: its 0 caps a passing verdict",
     dict(verdicts=PASS, kernel=KernelRun(True, {"test_sgd": 0.0, "test_adam": 15.0})),
     Status.GRADED, {"test_sgd": 0, "test_adam": 15}, set()),
    ("the kernel's score never raises a part",
     dict(verdicts={**PASS, "SGD": v("SGD", False)}, kernel=KernelRun(True, {"test_sgd": 5.0})),
     Status.GRADED, {"test_sgd": 0}, set()),
    ("a kernel that died leaves the verdicts standing, flagged",
     dict(verdicts=PASS, kernel=KernelRun(False, {"test_sgd": 5.0}, died=True)),
     Status.GRADED, {"test_sgd": 5, "test_adam": 15}, {Kind.CRASH}),
    ("a kernel that ran out of time leaves the verdicts standing, flagged",
     dict(verdicts=PASS, kernel=KernelRun(False, {}, timed_out=True)),
     Status.GRADED, {"test_sgd": 5, "test_adam": 15}, {Kind.TIMEOUT}),
    ("copying the reference zeroes that part only",
     dict(verdicts=PASS, kernel=OK, findings=[Flag(Kind.COPYING, "imports dlcourse.optim.Adam", part="test_adam")]),
     Status.GRADED, {"test_sgd": 5, "test_adam": 0}, {Kind.COPYING}),
    ("tampering is flagged; the points still come from the verdicts only",
     dict(verdicts={**PASS, "Adam": v("Adam", False)}, kernel=OK,
          findings=[Flag(Kind.TAMPERING, "redefines check_optimizer")]),
     Status.GRADED, {"test_sgd": 5, "test_adam": 0}, {Kind.TAMPERING}),
    ("a grader fault is not graded, never 0",
     dict(verdicts=PASS, kernel=OK, faults=["the sandbox could not start: no /usr/bin/python"]),
     Status.NOT_GRADED, {}, {Kind.GRADER_ERROR}),
    ("missing: every part 0, not attempted",
     dict(collected=Status.MISSING, flags=[Flag(Kind.MISSING, "no upload")]),
     Status.MISSING, {"test_sgd": 0, "test_adam": 0}, {Kind.MISSING}),
    ("invalid: every part 0",
     dict(collected=Status.INVALID, flags=[Flag(Kind.INVALID_FILE, "not JSON")]),
     Status.INVALID, {"test_sgd": 0, "test_adam": 0}, {Kind.INVALID_FILE}),
]


@pytest.mark.parametrize("case, kwargs, status, scores, kinds", CASES, ids=[c[0] for c in CASES])
def test_decide_table(case, kwargs, status, scores, kinds):
    result = decide(WHO, PARTS, **kwargs)
    assert result.status is status
    for gid, points in scores.items():
        assert result.parts[gid].score == points, gid
    assert kinds <= {f.kind for f in result.flags}
    assert result.max_score == 20


def test_not_graded_has_no_score():
    """A grader fault gives no total at all (grades.csv says "not graded", not 0)."""
    assert decide(WHO, PARTS, faults=["checks unavailable"]).score is None


def test_not_attempted_is_told_from_wrong():
    """A part still raising NotImplementedError is "not attempted", a wrong one is attempted."""
    r = decide(WHO, PARTS, verdicts={"SGD": v("SGD", False, attempted=False), "Adam": v("Adam", False)}, kernel=OK)
    assert not r.parts["test_sgd"].attempted and r.parts["test_adam"].attempted


def test_a_part_without_targets_cannot_earn_points():
    r = decide(WHO, [PartSpec("manual", 3, ())], verdicts=PASS, kernel=KernelRun(True, {"manual": 3.0}))
    assert r.parts["manual"].score == 0 and r.flags[-1].kind is Kind.NO_VERDICT


def test_result_serialises_every_output_field():
    d = decide(WHO, PARTS, verdicts=PASS, kernel=OK).to_dict()
    assert d["score"] == 20 and d["status"] == "graded" and d["email"] == "jane@example.org"
    assert set(d["parts"]) == {"test_sgd", "test_adam"}

