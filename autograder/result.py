"""What a check returns: :class:`CheckResult`, readable in a notebook and in nbgrader feedback.

A result says whether the student's code passed and, when it did not, *where* and
*why*: the scenario, the first step and parameter that diverged, a few expected
and obtained numbers, the largest relative error, the known mistake the
trajectory matches (with a one-line hint), or the exception the student's code
raised, shown at the student's own line.

In an nbgrader test cell call :meth:`CheckResult.assert_passed`: it prints a
one-line summary on success (stdout, so nbgrader keeps the points) and raises
``AssertionError`` with the whole report otherwise, so the feedback shows it.
Never leave a result as the last expression of a graded cell: nbgrader would read
its printed form as a partial-credit score.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["CheckResult"]


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
    expected, got : a few numbers around that element (reference vs student).
    max_rel_error : the largest relative error over the failing scenario.
    mistake, mistake_title, hint : the diagnosed known mistake, if any
        (``mistake`` is the catalogue key, see :mod:`autograder.mistakes`).
    mistake_certain : True when the mistake's variant matches the student on every
        scenario run, False when it matches only the failing one.
    error : the student's exception, formatted with the student's own line.
    warnings : warnings the student's code raised (caught; reported here, not on stderr).
    details : further sentences (e.g. a second, different problem).
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
        """The full, multi-line report (what ``str(result)`` gives)."""
        lines = [self.summary()]
        if not self.passed:
            if self.setup:
                lines.append(f"  scenario: {self.setup}")
            if self.error:
                lines.append("  your code raised an exception:")
                lines.extend("    " + line for line in self.error.splitlines())
            if self.expected or self.got:
                idx = "" if not self.index else "[" + ", ".join(map(str, self.index)) + "]"
                lines.append(f"  first difference: {self.step_label} {self.step}, "
                             f"parameter {self.param}{idx}")
                lines.append(f"    expected: {_numbers(self.expected)}")
                lines.append(f"    got:      {_numbers(self.got)}")
            if self.max_rel_error is not None:
                lines.append(f"  largest relative error: {self.max_rel_error:.3g}")
            for sentence in self.details:
                lines.append(f"  {sentence}")
            if self.mistake:
                how = ("matches" if self.mistake_certain
                       else "matches (in this scenario)")
                lines.append(f"  diagnosis: your trajectory {how} the known mistake "
                             f"\"{self.mistake_title}\" [{self.mistake}].")
                lines.append(f"  hint: {self.hint}")
            lines.append(f"  scenarios passed: {self.scenarios_passed} of {self.scenarios_run}")
        if self.warnings:
            lines.append("  warnings raised by your code (caught, not counted against you):")
            lines.extend(f"    {w}" for w in self.warnings[:5])
            if len(self.warnings) > 5:
                lines.append(f"    ... and {len(self.warnings) - 5} more")
        return "\n".join(lines)

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
        """Print the report and return when passed; raise ``AssertionError`` with it otherwise.

        Returns None on purpose: a graded cell must not end in a value.
        """
        __tracebackhide__ = True   # IPython and pytest show the report, not this frame
        if not self.passed:
            raise AssertionError("\n" + self.report())
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


def _numbers(values) -> str:
    return "[" + ", ".join(_fmt(v) for v in values) + "]"


def _fmt(value) -> str:
    try:
        return f"{float(value):.8g}"
    except (TypeError, ValueError):
        return repr(value)
