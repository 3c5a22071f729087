"""Decide a submission's grade: one pure function of typed inputs.

``decide()`` is the only place that turns what the stages found into points; every output
(gradebook, grades.csv, results.json, report, feedback) is written from the
:class:`~.outcome.SubmissionResult` it returns. The rules, in the order they apply:

1. A grader fault (the sandbox could not start, the checks could not load) makes the row
   ``not graded``: no score at all, never a zero the student did not earn.
2. Nothing gradable was handed in (missing, or not a notebook of this assignment): every
   part 0, not attempted.
3. Otherwise each part's points come only from the grader's own verdicts on its targets
   (recorded out of the kernel, over visible and freshly drawn hidden scenarios): all
   passed → full points, any failed → 0, any without a verdict → 0 and a flag naming why
   (fail closed: never a fallback to the score the student's kernel reported).
4. The student's own kernel can only lower a part: its score for the cell, when it has one,
   caps the part. A kernel that passed a part the verdict failed is flagged for review.
5. A part whose code is the course's reference (imported, subclassed or copied) scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .flags import Flag, Kind
from .outcome import PartScore, Status, SubmissionResult
from .recorder import Fault


@dataclass(frozen=True)
class PartSpec:
    """One graded part: an autograded test cell, its points, the student targets it checks."""

    grade_id: str
    points: float
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    """The grader's own verdict on one target.

    ``passed`` None means no verdict (``fault`` says why). ``attempted`` is False when the
    student's code still raises ``NotImplementedError`` (the part is as released).
    ``summary`` is the check's one-line report; ``mistakes`` the diagnosed catalogue keys.
    """

    target: str
    passed: bool | None
    attempted: bool = True
    summary: str = ""
    mistakes: tuple[str, ...] = ()
    fault: Fault | None = None
    detail: str = ""


@dataclass(frozen=True)
class KernelRun:
    """What nbgrader's run of the notebook in the student's sandboxed kernel gave."""

    completed: bool                      # the run reached the end of the notebook
    scores: dict = field(default_factory=dict)   # grade_id -> in-kernel auto score
    timed_out: bool = False              # the submission's time budget ran out in the kernel
    died: bool = False                   # the kernel process died (exit, signal, memory)
    cell_timeouts: tuple[str, ...] = ()  # grade_ids (or cell labels) whose cell hit its limit


@dataclass(frozen=True)
class Identity:
    """Who the row is for, as collection found it."""

    student_id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    on_roster: bool = True
    timestamp: str | None = None
    source: str = ""


_NO_VERDICT_KIND = {Fault.TIMEOUT: Kind.TIMEOUT, Fault.DIED: Kind.CRASH, Fault.GARBLED: Kind.NO_VERDICT}


def decide(who: Identity, parts: list[PartSpec], *, collected: Status = Status.GRADED,
           verdicts: dict[str, Verdict] | None = None, kernel: KernelRun | None = None,
           findings: list[Flag] = (), faults: list[str] = (), flags: list[Flag] = (),
           timings: dict | None = None) -> SubmissionResult:
    """The grade of one submission (see the module docstring for the rules).

    ``collected`` is GRADED for a submission to grade, MISSING or INVALID from collection;
    ``findings`` are the static scan's flags (COPYING with a part zeroes that part);
    ``faults`` are grader-side failures (any makes the row NOT_GRADED); ``flags`` are
    collection's and reading's flags, passed through.
    """
    max_score = float(sum(p.points for p in parts))
    result = SubmissionResult(who.student_id, Status.GRADED, max_score=max_score,
                              first_name=who.first_name, last_name=who.last_name, email=who.email,
                              on_roster=who.on_roster, timestamp=who.timestamp, source=who.source,
                              flags=list(flags) + list(findings), timings=dict(timings or {}))
    if faults:
        result.status = Status.NOT_GRADED
        result.flags += [Flag(Kind.GRADER_ERROR, why) for why in faults]
        return result
    if collected is not Status.GRADED:
        result.status = collected
        result.parts = {p.grade_id: PartScore(p.grade_id, p.points, 0.0, attempted=False) for p in parts}
        return result
    verdicts = verdicts or {}
    kernel = kernel or KernelRun(completed=False)
    if kernel.timed_out:
        result.flags.append(Flag(Kind.TIMEOUT, "the notebook ran past the submission's time limit; "
                                               "its kernel was stopped"))
    elif kernel.died:
        result.flags.append(Flag(Kind.CRASH, "the notebook's kernel died while running it"))
    for label in kernel.cell_timeouts:
        result.flags.append(Flag(Kind.TIMEOUT, "the cell ran past its time limit", part=label))
    copied = {f.part for f in findings if f.kind is Kind.COPYING}
    for part in parts:
        result.parts[part.grade_id] = _score_part(part, verdicts, kernel, part.grade_id in copied,
                                                  result.flags)
    return result


def _score_part(part: PartSpec, verdicts: dict[str, Verdict], kernel: KernelRun, copied: bool,
                flags: list[Flag]) -> PartScore:
    gid = part.grade_id
    in_kernel = kernel.scores.get(gid)
    mine = [verdicts.get(t) for t in part.targets]
    if not part.targets or any(v is None or v.passed is None for v in mine):
        missing = [t for t, v in zip(part.targets, mine) if v is None or v.passed is None] or ["(no target)"]
        for t, v in zip(part.targets or ("",), mine or (None,)):
            if v is None or v.passed is None:
                kind = _NO_VERDICT_KIND.get(v.fault, Kind.NO_VERDICT) if v is not None else Kind.NO_VERDICT
                why = (v.fault.value + (f" ({v.detail})" if v.detail else "")) if v is not None and v.fault else \
                    "no out-of-kernel verdict"
                flags.append(Flag(kind, f"{t or gid}: {why}; scored 0", part=gid))
        return PartScore(gid, part.points, 0.0, attempted=True, verdict=None, in_kernel=in_kernel,
                         note="no verdict for " + ", ".join(missing))
    passed = all(v.passed for v in mine)
    attempted = any(v.attempted for v in mine)
    mistakes = tuple(m for v in mine for m in v.mistakes)
    score = part.points if passed else 0.0
    note = "" if passed else "; ".join(v.summary for v in mine if not v.passed and v.summary)
    if in_kernel is not None and in_kernel < score:
        score = float(in_kernel)
        note = "lowered to the notebook's own test score"
    elif in_kernel is not None and not passed and in_kernel >= part.points - 1e-9:
        flags.append(Flag(Kind.INCONSISTENT, "the notebook's own test passed, the grader's check on "
                                             "fresh scenarios did not; scored 0", part=gid))
    if copied and score > 0:
        score, note = 0.0, "uses the course's reference implementation"
    return PartScore(gid, part.points, float(score), attempted=attempted, verdict=passed,
                     in_kernel=in_kernel, note=note, mistakes=mistakes)
