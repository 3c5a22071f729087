"""Grade a whole class: collect, pre-flight, grade in parallel, write every output from one result.

:func:`grade_class` is the orchestrator (cf. otter's ``grade.main``): it validates, launches,
merges and writes. Its steps:

1. read the assignment (:func:`.protocol.load_spec`) and collect the uploads (:mod:`.collect`):
   every rostered student becomes exactly one row, every bad file a flagged row or an
   unmatched upload; nothing here stops the class for one file;
2. prepare a template course (the instructor's ``source/`` and a gradebook made by nbgrader's
   ``generate_assignment``) and draw this run's seed for the hidden scenarios (fresh unless
   the instructor fixes it, recorded in results.json);
3. **pre-flight**: grade the instructor's solution and the untouched release through exactly
   the same workers; the solution must earn full marks and the release 0, else the run stops
   naming the cause (:class:`PreflightError`), before any student is graded and before
   anything of an earlier run in ``out`` is removed;
4. grade every submission (:mod:`.worker`) on the executor (:mod:`.pool`) with a progress bar;
   a worker process that dies is replaced and its submissions retried once, then ``not graded``;
5. write the gradebook, grades.csv, results.json, exports and the class report from the
   :class:`~.outcome.SubmissionResult` list (:mod:`.record`, :mod:`.export`, :mod:`.report`).
"""

from __future__ import annotations

from . import lean  # noqa: F401 - first: before anything imports jsonschema

import concurrent.futures as cf
import os
import secrets
import shutil
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from . import collect as col
from .decide import Identity, decide
from .outcome import Status, SubmissionResult
from .protocol import CHECKS_MODULES, AssignmentSpec, load_spec
from .course import prepare_template
from .worker import GradeConfig, Task, grade_submission

PREFLIGHT_SOLUTION = "__preflight_solution__"
PREFLIGHT_RELEASE = "__preflight_release__"
#: what a previous run wrote into OUT (removed first: a re-run replaces, never accumulates; the
#: gradebook is replaced by the record stage, which keeps one holding manual grades aside)
OUTPUTS = ("grades.csv", "results.json", "report.html", "feedback", "autograded", "submitted", ".work")


class PreflightError(RuntimeError):
    """The grading path itself is broken: it does not give the solution full marks or the release 0."""


@dataclass
class Summary:
    results: list[SubmissionResult]
    out: str
    spec: AssignmentSpec
    seconds: float
    sandbox: str
    seed: int
    paths: dict = field(default_factory=dict)
    unmatched: list = field(default_factory=list)
    limits: dict = field(default_factory=dict)

    @property
    def not_graded(self) -> list[str]:
        return [r.student_id for r in self.results if r.status is Status.NOT_GRADED]


def _tasks(collection, spec: AssignmentSpec) -> list[Task]:
    out = []
    for e in collection.entries:
        who = Identity(e.student_id, e.first_name, e.last_name, getattr(e, "email", ""), e.on_roster,
                       e.timestamp.isoformat() if e.timestamp else None, getattr(e, "source", "") or "")
        status = {"pending": Status.GRADED, "missing": Status.MISSING}.get(e.status, Status.INVALID)
        out.append(Task(who, status, e.notebook, list(e.flags),
                        e.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC") if e.timestamp else None))
    return out


def _preflight(pool, cfg: GradeConfig, template: str) -> None:
    spec = cfg.spec
    solution = os.path.join(template, "source", spec.name, spec.notebook + ".ipynb")
    release = os.path.join(template, "release", spec.name, spec.notebook + ".ipynb")
    futures = {pool.submit(grade_submission, cfg, Task(Identity(sid), Status.GRADED, path)): (sid, want)
               for sid, path, want in ((PREFLIGHT_SOLUTION, solution, spec.max_score),
                                       (PREFLIGHT_RELEASE, release, 0.0))}
    try:
        _judge_preflight(futures, spec)
    finally:                        # its pages are nobody's: never left among a run's outputs
        for sid in (PREFLIGHT_SOLUTION, PREFLIGHT_RELEASE):
            for sub in ("feedback", "autograded"):
                shutil.rmtree(os.path.join(cfg.out, sub, sid), ignore_errors=True)


def _judge_preflight(futures: dict, spec: AssignmentSpec) -> None:
    problems = []
    for fut in cf.as_completed(futures):
        sid, want = futures[fut]
        try:
            r = fut.result()
        except BrokenProcessPool as exc:
            raise PreflightError(f"pre-flight: the grading worker died ({exc})") from None
        if r.status is Status.GRADED and abs((r.score or 0.0) - want) < 1e-9:
            continue
        what = "the instructor's solution" if sid == PREFLIGHT_SOLUTION else "the untouched release"
        got = "not graded" if r.score is None else f"{r.score:g}/{r.max_score:g}"
        causes = [f.line() for f in r.sorted_flags() if f.kind.severity >= 1][:4]
        if r.first_error:
            causes.insert(0, f"the sandboxed kernel reported: {r.first_error}")
        wrong = [f"{gid}: {p.note or ('verdict ' + str(p.verdict))}" for gid, p in r.parts.items()
                 if (p.score < p.points - 1e-9) == (want > 0)][:4]
        problems.append(f"{what} scored {got} through the grading path (it must score {want:g}): "
                        + "; ".join(causes + wrong))
    if problems:
        raise PreflightError("pre-flight failed, no student was graded:\n  " + "\n  ".join(problems))


def grade_class(course: str, assignment: str, out: str, *, submissions: str | None = None,
                zip_path: str | None = None, roster: str | None = None, workers: int | None = None,
                timeout: int = 300, cell_timeout: int = 60, executor: str = "process",
                scheduler: str | None = None, checks: str | None = None, zip_regexp: str | None = None,
                progress: bool = True, memory_mb: int = 3072, preload: bool = True,
                seed: int | None = None, exports: tuple[str, ...] = (), preflight: bool = True,
                hide: tuple[str, ...] = ()) -> Summary:
    """Grade every submission and write grades.csv, feedback, gradebook and report into ``out``."""
    from tqdm import tqdm

    from . import pool as pools
    from .sandbox import Limits, capabilities, describe
    import datetime as dt

    from .export import parse_formats
    t0 = time.monotonic()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    course, out = os.path.abspath(course), os.path.abspath(out)
    if executor == "process":
        # the workers' imports (nbgrader, NumPy, the checks) warm up in the forkserver while
        # this process reads the assignment and prepares the template
        pools.forkserver(checks or CHECKS_MODULES.get(assignment))
    spec = load_spec(course, assignment, checks)
    exports = tuple(parse_formats(",".join(exports))) if exports else ()
    if not submissions and not zip_path:
        raise ValueError("give --submissions DIR or --zip FILE")
    os.makedirs(out, exist_ok=True)
    work = os.path.join(out, ".work")      # scratch: an earlier run's is of no use
    shutil.rmtree(work, ignore_errors=True)
    for path in (work, os.path.join(out, "feedback"), os.path.join(out, "autograded")):
        os.makedirs(path, exist_ok=True)      # (existing: an earlier run's, kept until grading)
        os.chmod(path, 0o700)
    collection = col.collect(submissions=os.path.abspath(submissions) if submissions else None,
                             zip_path=os.path.abspath(zip_path) if zip_path else None,
                             roster=os.path.abspath(roster) if roster else None, assignment=assignment,
                             notebook=spec.notebook, workdir=os.path.join(work, "uploads"),
                             zip_regexp=zip_regexp, expected_ids=spec.expected_ids)
    os.environ.setdefault("MPLBACKEND", "Agg")
    template = prepare_template(course, assignment, work)
    seed = secrets.randbits(63) if seed is None else int(seed)
    inputs = [os.path.abspath(p) for p in (submissions, zip_path, roster) if p]
    hide = [os.path.join(course, "source"), os.path.join(os.path.dirname(course), "solutions"),
            os.path.join(course, "gradebook.db"), os.path.join(course, "submitted"),
            os.path.join(course, "autograded"), os.path.join(course, "feedback"),
            os.path.join(out, "feedback"), os.path.join(out, "autograded"), template, *inputs,
            *[os.path.abspath(h) for h in hide]]
    hide = [h for h in dict.fromkeys(hide) if os.path.exists(h)]
    pp = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    cfg = GradeConfig(spec=spec, course=course, out=out, template=template, seed=seed,
                      cell_timeout=int(cell_timeout), timeout=int(timeout), memory_mb=memory_mb, hide=hide,
                      extra_pythonpath=pp, preload=preload)
    sandbox_text = describe(capabilities(), Limits(memory_mb=int(memory_mb), cpu_seconds=max(60, int(timeout) + 30)))
    print(f"sandbox: {sandbox_text}", file=sys.stderr)
    tasks = _tasks(collection, spec)
    workers = workers or os.cpu_count() or 1
    pool, client = pools.make(executor, workers, scheduler, spec.checks)
    results: dict[str, SubmissionResult] = {}
    try:
        if preflight:
            _preflight(pool, cfg, template)
        # only now: a run that stops before grading (the pre-flight, the scheduler, an input)
        # leaves the previous run's outputs as they were
        _clear_outputs(out)
        todo = [t for t in tasks if t.status is Status.GRADED]
        for t in tasks:
            if t.status is not Status.GRADED:
                results[t.who.student_id] = decide(t.who, spec.parts, collected=t.status, flags=t.flags)
        bar = tqdm(total=len(todo), desc=f"grading {assignment}", unit="sub", disable=not progress,
                   file=sys.stderr)
        pending = {pool.submit(grade_submission, cfg, t): t for t in todo}
        retried: set[str] = set()
        while pending:
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                t = pending.pop(fut)
                try:
                    r = fut.result()
                except BrokenProcessPool:
                    # a worker process died (student code runs in the sandbox, so the grader's
                    # fault): replace the pool, retry each lost submission once
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool, _ = pools.make(executor, workers, scheduler, spec.checks)
                    lost = [t] + list(pending.values())
                    pending.clear()
                    for lt in lost:
                        if lt.who.student_id in retried:
                            results[lt.who.student_id] = decide(lt.who, spec.parts, flags=lt.flags,
                                                                faults=["a grading worker died twice on it"])
                            bar.update(1)
                        else:
                            retried.add(lt.who.student_id)
                            pending[pool.submit(grade_submission, cfg, lt)] = lt
                    break
                results[t.who.student_id] = r
                bar.update(1)
                shown = "not graded" if r.score is None else f"{r.score:g}/{r.max_score:g}"
                bar.set_postfix_str(f"{t.who.student_id}: {shown}")
        bar.close()
    finally:
        pools.shutdown(pool, client, out)
    final = [results[t.who.student_id] for t in tasks]
    summary = Summary(final, out, spec, time.monotonic() - t0, sandbox_text, seed,
                      unmatched=[(u.name, u.reason) for u in collection.unmatched],
                      limits={"timeout_s": int(timeout), "cell_timeout_s": int(cell_timeout),
                              "memory_mb": int(memory_mb), "workers": workers})
    summary.paths = _write_outputs(summary, template, exports, started)
    shutil.rmtree(os.path.join(work, "uploads"), ignore_errors=True)
    summary.seconds = time.monotonic() - t0
    return summary


def _clear_outputs(out: str) -> None:
    """Remove an earlier run's outputs (not its gradebook: :mod:`.record` keeps one holding
    manual grades) and make the folders the workers write into, private."""
    for name in OUTPUTS:
        if name == ".work":
            continue
        path = os.path.join(out, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
    for sub in ("feedback", "autograded"):
        os.makedirs(os.path.join(out, sub))
        os.chmod(os.path.join(out, sub), 0o700)


def _write_outputs(summary: Summary, template: str, exports: tuple[str, ...], started: str) -> dict:
    """Every output from the one result list (the record, export and report stages)."""
    import datetime as dt

    from . import record
    from .feedback import standalone_page
    spec, out = summary.spec, summary.out
    for r in summary.results:
        if r.feedback is None:
            rel = os.path.join("feedback", r.student_id, spec.name, spec.notebook + ".html")
            os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
            with open(os.path.join(out, rel), "w", encoding="utf-8") as fh:
                fh.write(standalone_page(r, spec.name, spec.notebook))
            r.feedback = rel
    run = record.RunInfo(assignment=spec.name, seed=summary.seed, sandbox=summary.sandbox,
                         seconds=summary.seconds, template_gradebook=os.path.join(template, "gradebook.db"),
                         limits=dict(summary.limits), started=started, course=spec.course,
                         finished=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    written = record.write_all(out, spec, summary.results, summary.unmatched, run, exports=exports)
    paths = {"grades": written.grades_csv, "results": written.results_json, "gradebook": written.gradebook,
             "report": written.report}
    if written.previous_gradebook:
        paths["previous gradebook"] = written.previous_gradebook
    paths.update({f"{fmt} export": path for fmt, path in (written.exports or {}).items()})
    return paths


def print_summary(summary, file=sys.stdout) -> None:
    rows = summary.results
    width = max([len(r.student_id) for r in rows] + [7])
    print(f"{'student':<{width}}  {'score':>9}  {'status':<10}  flags", file=file)
    for r in rows:
        flags = ",".join(dict.fromkeys(f.kind.label for f in r.sorted_flags()))
        score = "-" if r.score is None else f"{r.score:g}"
        print(f"{r.student_id:<{width}}  {score:>4}/{r.max_score:<4g}  {r.status.value:<10}  {flags}", file=file)
    graded = [r for r in rows if r.status is Status.GRADED]
    submitted = sum(1 for r in rows if r.status.submitted)
    mean = sum(r.score for r in graded) / len(graded) if graded else 0.0
    print(f"\n{len(rows)} students, {submitted} submitted, mean over the {len(graded)} graded {mean:.2f}, "
          f"{sum(1 for r in rows if r.needs_review)} to review, {summary.seconds:.1f} s", file=file)
    print(f"sandbox:   {summary.sandbox}", file=file)
    for name, path in summary.paths.items():
        if name != "results":
            print(f"{name + ':':<10} {path}", file=file)
    print(f"feedback:  {os.path.join(summary.out, 'feedback')}", file=file)
    if summary.not_graded:
        print(f"\nNOT GRADED (grader errors, see grades.csv; fix the cause and grade again): "
              f"{', '.join(summary.not_graded)}", file=file)
