"""Grade optimizer, EWMA and schedule code against the ``dlcourse`` reference.

The notebook's test cells call :func:`check_optimizer`, :func:`check_ewma` and
:func:`check_schedule`, which return a :class:`CheckResult`; its ``assert_passed()``
prints the verdict or raises ``AssertionError`` with the diagnosis. The pieces they
are built from (:func:`scenarios`, :func:`run_trajectory`, :func:`compare_all`) are
public for the class-grading command, which runs student code in a sandbox.
"""
from autograder.checks import (OPTIMIZER_NAMES, PARTS, SCHEDULE_NAMES, TARGETS, Scenario, Trajectory,
                               check, check_ewma, check_optimizer, check_schedule, compare,
                               compare_all, reference, reference_trajectory, run_trajectory,
                               scenarios)
from autograder.result import CheckFailed, CheckResult

__all__ = [
    "check_optimizer", "check_ewma", "check_schedule", "check", "CheckResult", "CheckFailed",
    "Scenario", "Trajectory", "scenarios", "run_trajectory", "compare", "compare_all",
    "reference", "reference_trajectory", "MISTAKES", "Mistake",
    "OPTIMIZER_NAMES", "SCHEDULE_NAMES", "TARGETS", "PARTS",
]


def __getattr__(name):
    """``MISTAKES`` and ``Mistake`` load the catalogue on first use only: it is grader-side
    knowledge, and importing :mod:`autograder` (as the notebook and the sandboxed recorder
    do) must not load it."""
    if name in ("MISTAKES", "Mistake"):
        from autograder import mistakes
        return getattr(mistakes, name)
    raise AttributeError(f"module 'autograder' has no attribute {name!r}")
