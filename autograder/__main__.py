"""Command line: ``python -m autograder grade ...``, ``python -m autograder demo`` and
``python -m autograder export --out OUT [--format canvas,moodle]`` (after manual grading).

    python -m autograder grade [--course assignments] [--assignment optimizers]
        (--submissions DIR | --zip FILE) [--roster roster.csv] [--out grading]
        [--workers N] [--timeout S] [--cell-timeout S]
        [--executor process|dask --scheduler ADDR] [--no-preload]

writes OUT/grades.csv (one row per rostered student, always), OUT/feedback/<student>/<assignment>/
<notebook>.html, OUT/report.html (class report), OUT/gradebook.db (an nbgrader gradebook: OUT is
an nbgrader course root) and OUT/results.json. Exit status: 0 all graded, 1 some rows not graded
(grader errors, listed), 2 bad arguments or input, 3 the pre-flight failed (nothing graded).
"""

from __future__ import annotations

import argparse
import sys


def _grade_parser(sub) -> None:
    p = sub.add_parser("grade", help="grade a class of submissions")
    p.add_argument("--course", default="assignments", help="nbgrader course root (default: assignments)")
    p.add_argument("--assignment", default="optimizers", help="assignment name: optimizers or backprop "
                                                                    "(default: optimizers)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--submissions", metavar="DIR", help="nbgrader layout: DIR/<student>/<assignment>/*.ipynb")
    src.add_argument("--zip", metavar="FILE", help="LMS download zip (nbgrader zip_collect file naming)")
    p.add_argument("--zip-regexp", default=None,
                   help="regular expression for zip member names, with (?P<student_id>...) and "
                        "(?P<file_id>...), optionally (?P<timestamp>...)")
    p.add_argument("--roster", metavar="CSV", help="roster CSV with an 'id' column (nbgrader format)")
    p.add_argument("--out", default="grading", help="output folder (default: grading)")
    p.add_argument("--workers", type=int, default=None, help="parallel grading workers (default: cpu count)")
    p.add_argument("--timeout", type=int, default=300, help="wall-clock limit per submission, seconds")
    p.add_argument("--cell-timeout", type=int, default=60, help="limit per notebook cell, seconds")
    p.add_argument("--memory", type=int, default=3072, help="memory limit of one submission's processes, MB")
    p.add_argument("--executor", choices=("process", "dask", "thread"), default="process",
                   help="process pool (default), a Dask cluster (--scheduler), or this process (debugging)")
    p.add_argument("--hide", action="append", default=[], metavar="PATH",
                   help="also keep PATH out of the submissions' sandbox (repeatable)")
    p.add_argument("--scheduler", metavar="ADDR", help="dask scheduler address, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--checks", default=None, help="the assignment's checks module (default: the course's own)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the hidden scenarios (default: a fresh one each run, recorded in results.json); "
                        "fix it only to reproduce a run")
    p.add_argument("--export", default=None, metavar="FORMATS",
                   help="also write LMS import files: canvas, moodle (comma-separated)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-preload", action="store_true",
                   help="start every kernel and probe as a new Python instead of forking it from a "
                        "pre-loaded zygote (slower; for comparison or if forking misbehaves)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _grade_parser(sub)
    d = sub.add_parser("demo", help="build a sample class of synthetic students and grade it")
    d.add_argument("--out", default="demo-output")
    d.add_argument("--students", type=int, default=40)
    d.add_argument("--workers", type=int, default=None)
    d.add_argument("--course", default="assignments")
    d.add_argument("--assignment", default="optimizers", choices=("optimizers", "backprop"))
    sub.add_parser("export", add_help=False,
                   help="rewrite grades.csv and LMS files of a grading folder with the formgrader's manual "
                        "scores (see python -m autograder export --help)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["export"]:          # its own parser: python -m autograder.classgrade.export
        from autograder.classgrade import export
        return export.main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "demo":
        from autograder.classgrade import demo
        return demo.main(out=args.out, students=args.students, workers=args.workers,
                         course=args.course, assignment=args.assignment)
    from autograder.classgrade.pipeline import PreflightError, grade_class, print_summary
    try:
        summary = grade_class(
            args.course, args.assignment, args.out, submissions=args.submissions, zip_path=args.zip,
            roster=args.roster, workers=args.workers, timeout=args.timeout, cell_timeout=args.cell_timeout,
            executor=args.executor, scheduler=args.scheduler, checks=args.checks, zip_regexp=args.zip_regexp,
            progress=not args.no_progress, memory_mb=args.memory, preload=not args.no_preload, seed=args.seed,
            exports=tuple(x for x in (args.export or "").split(",") if x), hide=tuple(args.hide))
    except PreflightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 1 if summary.not_graded else 0


if __name__ == "__main__":
    sys.exit(main())
