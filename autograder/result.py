"""What a check returns: :class:`CheckResult`, readable in a notebook and in nbgrader feedback.

A result says whether the student's code passed and, when it did not, *where* and
*why*: the scenario, the first step and parameter that diverged, a small table of
expected and obtained numbers (printed with enough digits that the named element's
two values differ, with their difference beside them, the named element marked), the
error measure exactly as the check applies it (``|got − expected|`` against
``rtol·|expected| + atol``), the known mistake the trajectory matches (with a one-line
hint), or the exception the student's code raised, shown at the student's own line.

In an nbgrader test cell call :meth:`CheckResult.assert_passed`: it prints a
one-line summary on success (stdout, so nbgrader keeps the points) and raises
:class:`CheckFailed` otherwise. ``CheckFailed`` is an ``AssertionError`` (nbgrader
scores the cell 0 and Validate lists it) whose ``_render_traceback_`` is the report
itself: IPython and ipykernel show an exception's ``_render_traceback_()`` lines
*instead of* the traceback (IPython.core.interactiveshell, ``showtraceback``), so the
cell's error output, nbgrader's Validate dialog and the feedback page start with the
report, with no grader frame before it. (``__tracebackhide__`` alone does not do
this: IPython's ultratb never hides the innermost frame, the one that raised.)
Never leave a result as the last expression of a graded cell: nbgrader would read
its printed form as a partial-credit score.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import asdict, dataclass, field

__all__ = ["CheckResult", "CheckFailed", "WIDTH"]

#: Report lines are wrapped (at word boundaries) to this width. nbgrader's Validate
#: dialog cuts lines at 87 characters after a 4-space indent; 80 leaves room.
WIDTH = 80


class CheckFailed(AssertionError):
    """A failed check: an ``AssertionError`` that IPython renders as its report alone.

    ``str(exc)`` and ``exc.report`` are the report; ``_render_traceback_()`` returns its
    lines, which IPython/ipykernel put in the cell's error output in place of a traceback.
    """

    def __init__(self, report: str):
        super().__init__(report)
        self.report = report

    def _render_traceback_(self):
        return self.report.splitlines()


@dataclass
class CheckResult:
    """The verdict of one check (one target over one or more scenarios).

    Attributes (all plain data, so a result can cross a process boundary as a dict):

    target : the optimizer / schedule name checked ("Adam", "EWMA", "step_decay").
    passed : True when every scenario matched the reference.
    scenarios_run, scenarios_passed : counts.
    problem : None when passed, else one of "values", "error", "not implemented",
        "not in place", "wrong type", "wrong dtype", "wrong shape",
        "grads modified", "input modified", "uses the reference", "malformed".
    scenario : the name of the first failing scenario; ``setup`` describes it.
    step : the first step (1-based; epoch for schedules, 0-based) that went wrong.
    param : the parameter (display name) that went wrong first.
    index : the first wrong element's index in that parameter, as a tuple.
    expected, got : a few numbers around that element (reference vs student), in the
        quantity the check compares (``quantity``: for optimizers the displacement
        θₜ − θ₀, not θₜ itself).
    labels : the element names of those numbers ("w[2]"); ``marked`` is the position of
        the named (first wrong) element among them.
    abs_error, tolerance : |got − expected| at the named element and the tolerance it
        exceeds, ``rtol·|expected| + atol`` with the scenario's ``rtol`` and ``atol``.
    worst : where |got − expected| exceeds its tolerance most over the failing scenario:
        {"step", "label", "abs_error", "tolerance"}.
    max_rel_error : the largest relative error over the failing scenario,
        |got − expected| / max(|expected|, atol/rtol).
    mistake, mistake_title, hint : the diagnosed known mistake, if any
        (``mistake`` is the catalogue key, see :mod:`autograder.mistakes`).
    mistake_certain : True when the mistake's variant matches the student on every
        scenario run, False when it matches only the failing one.
    error : the student's exception, formatted with the student's own line.
    warnings : warnings the student's code raised (caught; reported here, not on stderr).
    details : further sentences (e.g. a second, different problem, or what a
        hard-coded hyperparameter diagnosis measured).
    """

    target: str
    passed: bool
    scenarios_run: int = 0
    scenarios_passed: int = 0
    problem: str | None = None
    scenario: str | None = None
    setup: str = ""
    step: int | None = None
    param: str | None = None
    index: tuple | None = None
    expected: list = field(default_factory=list)
    got: list = field(default_factory=list)
    max_rel_error: float | None = None
    mistake: str | None = None
    mistake_title: str | None = None
    hint: str | None = None
    mistake_certain: bool = False
    error: str | None = None
    warnings: list = field(default_factory=list)
    details: list = field(default_factory=list)
    step_label: str = "step"
    quantity: str = ""
    labels: list = field(default_factory=list)
    marked: int | None = None
    abs_error: float | None = None
    tolerance: float | None = None
    rtol: float | None = None
    atol: float | None = None
    worst: dict | None = None

    # -- reading it ----------------------------------------------------------------------
    def __bool__(self):
        return bool(self.passed)

    def summary(self) -> str:
        """One line: passed, or what went wrong first."""
        if self.passed:
            return (f"PASSED {self.target}: {self.scenarios_passed} of {self.scenarios_run} "
                    f"scenarios match the reference.")
        where = ""
        if self.step is not None:
            where = f" at {self.step_label} {self.step}"
            if self.param:
                where += f", parameter {self.param}"
        line = f"FAILED {self.target}: {self.problem}{where} in scenario \"{self.scenario}\"."
        if self.mistake:
            line += f" Looks like: {self.mistake_title}."
        return line

    def report(self) -> str:
        """The full, multi-line report (what ``str(result)`` gives), wrapped at :data:`WIDTH`."""
        out = []

        def prose(text, indent=0):
            out.extend(_wrap(text, indent))

        prose(self.summary())
        if not self.passed:
            if self.setup:
                prose(f"scenario: {self.setup}", 2)
            if self.error:
                prose("your code raised an exception:", 2)
                out.extend("    " + line for line in self.error.splitlines())
            if self.expected or self.got:
                out.extend(self._difference_lines())
            elif self.max_rel_error is not None:
                prose(f"largest relative error: {self.max_rel_error:.3g}", 2)
            for sentence in self.details:
                prose(sentence, 2)
            if self.mistake:
                how = ("matches" if self.mistake_certain
                       else "matches (in this scenario)")
                prose(f"diagnosis: your trajectory {how} the known mistake "
                      f"\"{self.mistake_title}\" [{self.mistake}].", 2)
                prose(f"hint: {self.hint}", 2)
            prose(f"scenarios passed: {self.scenarios_passed} of {self.scenarios_run}", 2)
        if self.warnings:
            prose("warnings raised by your code (caught, not counted against you):", 2)
            for w in self.warnings[:5]:
                prose(str(w), 4)
            if len(self.warnings) > 5:
                prose(f"... and {len(self.warnings) - 5} more", 4)
        return "\n".join(out)

    def _difference_lines(self):
        """The first-difference block: where, what is compared, a table, the error measure."""
        lines = []
        named = self._named_label()
        compared = f"; compared: {self.quantity}" if self.quantity else ""
        lines.extend(_wrap(f"first difference: {self.step_label} {self.step}, {named} (the row marked >)"
                           f"{compared}", 2))
        lines.extend(_table(self.labels or [""] * len(self.expected), self.expected, self.got,
                            self.marked))
        finite = self.abs_error is not None and math.isfinite(self.abs_error)
        if self.abs_error is not None and not finite and self.marked is not None:
            lines.extend(_wrap(
                f"{named}: got {_fixed(_number(self.got[self.marked]), 6)} where "
                f"{_fixed(_number(self.expected[self.marked]), 6)} was expected: a NaN or an infinity "
                "never matches a finite value.", 2))
        elif self.abs_error is not None and self.tolerance is not None:
            lines.extend(_wrap(
                f"{named}: |got − expected| = {_short(self.abs_error)} > tolerance "
                f"{_short(self.tolerance)} (rtol·|expected| + atol = {_short(self.rtol)}·"
                f"{_short(abs(_number(self.expected[self.marked])))} + {_short(self.atol)})", 2))
        w = self.worst
        if w and w.get("tolerance") and finite and math.isfinite(w["abs_error"]):
            ratio = w["abs_error"] / w["tolerance"] if w["tolerance"] > 0 else math.inf
            lines.extend(_wrap(
                f"largest over the scenario: {w['label']} at {self.step_label} {w['step']}, "
                f"|got − expected| = {_short(w['abs_error'])}, {_times(ratio)} the tolerance "
                f"{_short(w['tolerance'])}", 2))
        return lines

    def _named_label(self):
        if self.labels and self.marked is not None and self.marked < len(self.labels):
            return self.labels[self.marked]
        idx = "" if not self.index else "[" + ", ".join(map(str, self.index)) + "]"
        return f"{self.param}{idx}"

    __str__ = report

    def __repr__(self):
        return self.report()

    def _repr_pretty_(self, printer, cycle):   # IPython's plain-text display
        printer.text(self.report())

    def _repr_html_(self):
        import html
        colour = "#1a7f37" if self.passed else "#cf222e"
        return (f'<pre style="border-left: 4px solid {colour}; padding-left: 8px">'
                f"{html.escape(self.report())}</pre>")

    # -- using it in a test cell -----------------------------------------------------------
    def assert_passed(self) -> None:
        """Print the report and return when passed; raise :class:`CheckFailed` otherwise.

        Returns None on purpose: a graded cell must not end in a value.
        """
        __tracebackhide__ = True   # pytest shows the report, not this frame
        if not self.passed:
            raise CheckFailed(self.report())
        print(self.report())

    def to_dict(self) -> dict:
        """Plain data (JSON-ready) for reports and for crossing process boundaries."""
        data = asdict(self)
        data["index"] = list(self.index) if self.index is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CheckResult":
        data = dict(data)
        if data.get("index") is not None:
            data["index"] = tuple(data["index"])
        return cls(**data)


# ============================================================================ formatting
def _wrap(text: str, indent: int = 0) -> list[str]:
    """``text`` wrapped at word boundaries to :data:`WIDTH`, continuation lines indented 2 more."""
    return textwrap.wrap(text, width=WIDTH, initial_indent=" " * indent,
                         subsequent_indent=" " * (indent + 2),
                         break_long_words=False, break_on_hyphens=False) or [" " * indent]


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def digits_to_differ(expected, got, least: int = 6, most: int = 17) -> int:
    """The fewest significant digits (at least ``least``) at which ``expected`` and ``got`` print differently.

    ``most`` (17, enough for any two distinct float64 values) when they never differ.
    """
    a, b = _number(expected), _number(got)
    for digits in range(least, most + 1):
        if f"{a:.{digits}g}" != f"{b:.{digits}g}":
            return digits
    return most


def _table(labels, expected, got, marked, indent=4):
    """Rows "label  expected  got  got − expected", the marked row flagged with '>'.

    Every number is printed with the digits needed to tell the marked element's expected
    and obtained values apart, so a small difference is visible in the digits as well as
    in the last column.
    """
    digits = 6
    if marked is not None and marked < min(len(expected), len(got)):
        digits = digits_to_differ(expected[marked], got[marked])
    rows = []
    for i, (lab, e, g) in enumerate(zip(labels, expected, got)):
        e, g = _number(e), _number(g)
        diff = g - e if math.isfinite(e) and math.isfinite(g) else math.nan
        rows.append(("> " if i == marked else "  ", str(lab), _fixed(e, digits), _fixed(g, digits),
                     _short(diff, signed=True) if not (diff == 0) else "0"))
    if not rows:
        return []
    wl = max(len(r[1]) for r in rows)
    we = max(len("expected"), max(len(r[2]) for r in rows))
    wg = max(len("got"), max(len(r[3]) for r in rows))
    pad = " " * indent
    head = f"{pad}  {'':<{wl}}  {'expected':>{we}}  {'got':>{wg}}  got − expected"
    body = [f"{pad}{m}{lab:<{wl}}  {e:>{we}}  {g:>{wg}}  {d}" for m, lab, e, g, d in rows]
    return [head] + body


def _fixed(value, digits):
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value + 0.0:.{digits}g}"        # + 0.0: -0.0 prints as 0, like the 0.0 it equals


def _short(value, signed=False):
    """A compact number for error measures: 3 significant digits."""
    value = _number(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return ("+" if signed and value > 0 else "") + ("inf" if value > 0 else "-inf")
    text = f"{value:+.3g}" if signed else f"{value:.3g}"
    return text


def _times(ratio):
    if not math.isfinite(ratio):
        return "infinitely many times"
    if ratio >= 100:
        return f"{ratio:.3g}×".replace("e+0", "e").replace("e+", "e")
    return f"{ratio:.3g}×"
