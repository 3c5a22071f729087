"""Verify: the grader's own verdicts, from trajectories recorded out of the student's kernel.

For every target of the assignment, the recorder (:mod:`.recorder`) runs the student's code
over the visible scenarios and the hidden ones drawn for this run from ``seed`` (the student
never sees it), in a sandboxed process holding nothing else; this module compares what came
back with the reference, here in the grader's process, through the assignment's own
``compare_all`` (which also names the mistake when a catalogued variant matches).

A target whose recording did not complete gets a verdict of ``None`` (no verdict, scored 0
by :func:`.decide.decide`). If the sandboxed process could not even start, that is a grader
fault: :class:`SandboxFault` is raised for the worker to retry, then to mark the row not graded.
"""

from __future__ import annotations

import functools

from .decide import Verdict
from .recorder import Fault, Launcher, record_parts


class SandboxFault(RuntimeError):
    """The recorder's sandboxed process could not start: the grader's fault, not the student's."""


@functools.lru_cache(maxsize=64)
def _scenarios(checks_module, target: str, seed: int | None) -> tuple:
    return tuple(checks_module.scenarios(target, "all", seed=seed))


def scenarios_for(checks_module, targets: list[str], seed: int | None) -> dict[str, list]:
    """Visible + hidden scenarios of each target for this run's ``seed`` (computed once per worker)."""
    return {t: list(_scenarios(checks_module, t, seed)) for t in targets}


def verify(checks_module, targets: list[str], cells: list[str], launcher: Launcher, workdir: str, *,
           seed: int | None, part_seconds: float, deadline: float, recorder_files: tuple[str, ...],
           recorder_module: str, cell_seconds: float = 60.0,
           names: dict[str, str] | None = None) -> tuple[dict[str, Verdict], dict[str, float]]:
    """Verdicts for ``targets`` from the student's ``cells``, and the seconds each part took."""
    scenarios = scenarios_for(checks_module, targets, seed)
    recordings = record_parts(checks_module, scenarios, cells, launcher, workdir, part_seconds, deadline,
                              recorder_files, recorder_module, cell_seconds, names)
    starts = [r for r in recordings.values() if r.fault is Fault.NO_START]
    if starts:
        raise SandboxFault(f"the recorder's sandboxed process did not start ({starts[0].detail or 'no greeting'})")
    verdicts = {}
    for target, rec in recordings.items():
        if not rec.complete:
            verdicts[target] = Verdict(target, None, fault=rec.fault, detail=rec.detail)
            continue
        result = checks_module.compare_all(target, scenarios[target], rec.trajectories)
        problem = getattr(result, "problem", None)
        mistake = getattr(result, "mistake", None)
        extra = tuple(getattr(result, "mistakes", ()) or ())
        verdicts[target] = Verdict(
            target, bool(result.passed), attempted=rec.present and problem != "not implemented",
            summary=result.summary() if not result.passed else "",
            mistakes=tuple(dict.fromkeys(([mistake] if mistake else []) + list(extra))))
    return verdicts, {t: r.seconds for t, r in recordings.items()}


def part_budget(cell_timeout: float) -> float:
    """Seconds one part may take in the recorder: it runs every scenario, visible and hidden,
    so twice what one test cell may take in the notebook (slow but correct code passes)."""
    return max(10.0, 2.0 * float(cell_timeout))
