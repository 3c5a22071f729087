"""The one vocabulary of flags: what the grader noticed about a submission, and what to do.

Every stage reports what it noticed as a :class:`Flag` (a :class:`Kind` and a message
naming the concrete cause). grades.csv, results.json, the class report and the feedback
pages all print flags through :func:`Flag.line`, so an instructor reads the same words
everywhere; control flow looks at ``flag.kind`` (a typed value), never at the message.

Each kind has a severity (:class:`Severity`), a short label (the CSV's ``flags`` column),
and the instructor's action: what to do about it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    """How much a flag asks of the instructor (higher sorts first)."""

    INFO = 0        # nothing to do; recorded for completeness
    REVIEW = 1      # look at the submission: the grade may need a manual decision
    CHEATING = 2    # the submission tried to game the grader: the part scored 0
    GRADER = 3      # the grader failed, not the student: the row is not graded


@dataclass(frozen=True)
class _Spec:
    label: str
    severity: Severity
    action: str


class Kind(enum.Enum):
    """Every cause a flag can have. ``kind.label`` is the stable name used in files."""

    # -- collection: what was (not) handed in
    MISSING = _Spec("missing", Severity.INFO,
                    "no submission was found for this rostered student; nothing to do unless they say they submitted")
    NOT_ON_ROSTER = _Spec("not-on-roster", Severity.REVIEW,
                          "graded, but the id is not on the roster: add the student or check for a typo in the upload name")
    DUPLICATE = _Spec("duplicate", Severity.INFO,
                      "several attempts were found; the latest one was graded (the others are listed)")
    RENAMED = _Spec("renamed", Severity.INFO,
                    "the notebook file had another name (an LMS rename such as 'optimizers (1).ipynb'); it was graded")
    INVALID_FILE = _Spec("invalid-file", Severity.REVIEW,
                         "the upload is not a readable notebook (not JSON, empty, encrypted or corrupt): "
                         "ask the student to resubmit")
    TOO_LARGE = _Spec("too-large", Severity.REVIEW,
                      "the upload exceeds the size limit and was not graded: ask the student to clear outputs and resubmit")
    FOREIGN_NOTEBOOK = _Spec("foreign-notebook", Severity.REVIEW,
                             "the notebook belongs to another assignment: ask the student for the right file")
    UNMATCHED_UPLOAD = _Spec("unmatched-upload", Severity.REVIEW,
                             "a file in the upload matched no student: look at its name and attribute it by hand")
    EXTRA_FILES = _Spec("extra-files", Severity.INFO,
                        "the upload held other files besides the notebook; they were not graded")
    BAD_TIMESTAMP = _Spec("bad-timestamp", Severity.REVIEW,
                          "the submission time could not be read: graded, but lateness and the choice of the "
                          "latest attempt could not use it; check the time in the LMS")
    LATE = _Spec("late", Severity.INFO,
                 "the LMS marked the upload late (its names carry no time): apply the late policy by hand")
    # -- reading and scanning the notebook
    EDITED_TEST = _Spec("edited-test", Severity.INFO,
                        "a test or read-only cell was changed or deleted; the original was restored before grading")
    SYNTAX_ERROR = _Spec("syntax-error", Severity.INFO,
                         "a code cell does not parse; the parts it defines score 0 (the feedback shows the error)")
    SUSPICIOUS = _Spec("suspicious", Severity.REVIEW,
                       "the code reaches outside the notebook (processes, files, the grader's internals): read the cell")
    # -- running
    TIMEOUT = _Spec("timeout", Severity.REVIEW,
                    "the code ran past its time limit (an endless loop, or very slow code): the parts not finished "
                    "score 0; if the code is right but slow, raise --timeout / --cell-timeout and grade again")
    CRASH = _Spec("crash", Severity.REVIEW,
                  "the student's process died (os._exit, a signal, the memory limit): the parts not checked score 0; "
                  "if honest code hit the limit, raise --memory and grade again")
    OUTPUT_TRUNCATED = _Spec("output-truncated", Severity.INFO,
                             "the notebook printed more than the output limit; the stored outputs were cut")
    NO_FEEDBACK = _Spec("no-feedback", Severity.INFO,
                        "the feedback page could not be rendered (the grade stands); send the student the "
                        "autograded notebook instead")
    NO_VERDICT = _Spec("no-verdict", Severity.REVIEW,
                       "the out-of-kernel check could not record this part (no answer, garbled, timed out): "
                       "it scored 0; look at the part by hand")
    INCONSISTENT = _Spec("inconsistent", Severity.REVIEW,
                         "the notebook's own test passed but the grader's check on freshly drawn scenarios "
                         "failed: the code may handle only the scenarios it was shown, or may have changed "
                         "the tests; read the part")
    # -- cheating
    TAMPERING = _Spec("tampering", Severity.CHEATING,
                      "the code tries to change how it is graded (patches the tests, NumPy or the grader, "
                      "exits or signals processes, opens grader files): nothing it does reaches the grader's "
                      "own check, so its points are what that check gave; read the cell and decide")
    COPYING = _Spec("copying", Severity.CHEATING,
                    "the part uses or copies the course's reference implementation: it scored 0")
    # -- after grading
    MANUAL_GRADE = _Spec("manual-grade", Severity.INFO,
                         "an instructor set this part's score by hand in the formgrader; the exports use it")
    # -- the grader's own faults: never a student's zero
    GRADER_ERROR = _Spec("grader-error", Severity.GRADER,
                         "the grader failed on this submission (not the student's fault): it is not graded; "
                         "fix the cause named here and grade again")

    @property
    def label(self) -> str:
        return self.value.label

    @property
    def severity(self) -> Severity:
        return self.value.severity

    @property
    def action(self) -> str:
        return self.value.action

    @classmethod
    def from_label(cls, label: str) -> "Kind":
        for kind in cls:
            if kind.label == label:
                return kind
        raise ValueError(f"unknown flag kind {label!r}")


@dataclass(frozen=True)
class Flag:
    """One thing noticed about one submission: a kind and a message naming its cause.

    ``part`` is the graded part (test cell grade_id) the flag concerns, or None for the whole
    submission. The message says what was seen ("cell 7 calls os.system"), never the kind again.
    """

    kind: Kind
    message: str
    part: str | None = None

    def line(self) -> str:
        """``label: message`` (with the part when there is one): the form every output prints."""
        where = f" [{self.part}]" if self.part else ""
        return f"{self.kind.label}{where}: {self.message}"

    def to_dict(self) -> dict:
        return {"kind": self.kind.label, "message": self.message, "part": self.part,
                "severity": self.kind.severity.name.lower()}

    @classmethod
    def from_dict(cls, data: dict) -> "Flag":
        return cls(Kind.from_label(data["kind"]), str(data["message"]), data.get("part"))


def ordered(flags) -> list[Flag]:
    """Most serious first, then in the order they were raised; exact repeats dropped."""
    seen, out = set(), []
    for f in flags:
        key = (f.kind, f.message, f.part)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return sorted(out, key=lambda f: -f.kind.severity)
