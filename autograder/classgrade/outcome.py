"""The one typed result of grading one student: :class:`SubmissionResult`.

``decide()`` (:mod:`.decide`) is the only place that builds one; the gradebook, grades.csv,
results.json, the class report and the feedback pages are all written from it, so they
cannot disagree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .flags import Flag, Severity, ordered


class Status(enum.Enum):
    """Where a student's row stands."""

    GRADED = "graded"            # every part has a score the grader computed
    MISSING = "missing"          # rostered, nothing submitted: 0, nothing to grade
    INVALID = "invalid"          # something was submitted but it is not a gradable notebook: 0
    NOT_GRADED = "not graded"    # the grader failed (never the student's fault): no score

    @property
    def submitted(self) -> bool:
        return self in (Status.GRADED, Status.INVALID)


@dataclass(frozen=True)
class PartScore:
    """The score of one graded part (one autograded test cell).

    ``attempted`` is False when the student left the part as released (the stub still raises
    ``NotImplementedError``): "not attempted" and "wrong" are different things to a teacher.
    ``verdict`` is the grader's own out-of-kernel verdict (True passed, False failed, None none);
    ``in_kernel`` is what the student's kernel scored (it can only lower ``score``).
    ``mistakes`` are the catalogue keys diagnosed for this part.
    """

    grade_id: str
    points: float
    score: float
    attempted: bool = True
    verdict: bool | None = None
    in_kernel: float | None = None
    note: str = ""
    mistakes: tuple[str, ...] = ()

    @property
    def full(self) -> bool:
        return self.score >= self.points - 1e-9


@dataclass
class SubmissionResult:
    """Everything the outputs need about one student (rostered or not)."""

    student_id: str
    status: Status
    parts: dict[str, PartScore] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    max_score: float = 0.0
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    on_roster: bool = True
    timestamp: str | None = None            # ISO 8601, UTC, of the graded attempt
    source: str = ""                         # the upload the graded notebook came from
    feedback: str | None = None              # path of the feedback page, relative to the output folder
    timings: dict[str, float] = field(default_factory=dict)
    first_error: str = ""                    # the kernel's first error output (the pre-flight names it)

    @property
    def score(self) -> float | None:
        """Total points; None when the row is not graded (a grader fault is not a zero)."""
        if self.status is Status.NOT_GRADED:
            return None
        return float(sum(p.score for p in self.parts.values()))

    @property
    def needs_review(self) -> bool:
        return any(f.kind.severity >= Severity.REVIEW for f in self.flags)

    def sorted_flags(self) -> list[Flag]:
        return ordered(self.flags)

    def to_dict(self) -> dict:
        return {
            "student_id": self.student_id, "first_name": self.first_name, "last_name": self.last_name,
            "email": self.email, "on_roster": self.on_roster, "status": self.status.value,
            "score": self.score, "max_score": self.max_score, "timestamp": self.timestamp,
            "source": self.source, "feedback": self.feedback,
            "parts": {gid: {"points": p.points, "score": p.score, "attempted": p.attempted,
                            "verdict": p.verdict, "in_kernel": p.in_kernel, "note": p.note,
                            "mistakes": list(p.mistakes)} for gid, p in self.parts.items()},
            "flags": [f.to_dict() for f in self.sorted_flags()],
            "timings": dict(self.timings),
        }
