"""``make demo``: sample classes (:func:`.samples.build_class`), graded with the class command.

``python -m autograder demo --assignment A`` grades one assignment's sample class;
``python -m autograder.classgrade.demo`` (what ``make demo`` runs) grades several in turn, by
default every assignment of the course (``optimizers``, then ``backprop``), each into
``OUT/<assignment>/``, and ends with one line per assignment saying where its report is.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

#: The course's assignments, in the order the course teaches them (and the demo grades them).
ASSIGNMENTS = ("optimizers", "backprop")


def main(out: str = "demo-output", students: int = 40, workers: int | None = None,
         course: str = "assignments", assignment: str = "optimizers") -> int:
    """Build a sample class of ``students`` for ``assignment`` in ``out`` and grade it."""
    from .pipeline import PreflightError, grade_class, print_summary
    from .samples import build_class
    t0 = time.monotonic()
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    print(f"[{assignment}] building a sample class of {students} students in {out} ...", flush=True)
    submitted, roster, plan = build_class(course, assignment, out, students)
    def short(p):
        rel = os.path.relpath(p)
        return p if rel.startswith("..") else rel
    # shorter limits than the command's defaults (300 s, 60 s): the demo's endless loop
    # should not keep a first-time user waiting
    timeout, cell_timeout = 120, 10
    print(f"[{assignment}] built in {time.monotonic() - t0:.1f} s; grading with "
          f"`python -m autograder grade --course {course} --assignment {assignment} "
          f"--submissions {short(submitted)} --roster {short(roster)} "
          f"--out {short(os.path.join(out, 'grading'))} --timeout {timeout} --cell-timeout {cell_timeout}`",
          flush=True)
    try:
        summary = grade_class(course, assignment, os.path.join(out, "grading"), submissions=submitted,
                              roster=roster, workers=workers, timeout=timeout, cell_timeout=cell_timeout)
    except PreflightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print()
    print_summary(summary)
    with open(os.path.join(out, "class.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student_id", "what the demo did"])
        w.writerows(plan.items())
    print(f"what each synthetic student did: {os.path.join(out, 'class.csv')}")
    return 1 if summary.not_graded else 0


def main_many(assignments=ASSIGNMENTS, out: str = "demo-output", students: int = 20, workers: int | None = None,
              course: str = "assignments") -> int:
    """Grade a sample class of each assignment in turn, into ``out/<assignment>/``."""
    t0 = time.monotonic()
    done = []
    for i, assignment in enumerate(assignments):
        if i:
            print("\n" + "=" * 100 + "\n", flush=True)
        start = time.monotonic()
        status = main(out=os.path.join(out, assignment), students=students, workers=workers, course=course,
                      assignment=assignment)
        if status:
            return status
        done.append((assignment, time.monotonic() - start))
    print("\n" + "=" * 100)
    for assignment, seconds in done:
        report = os.path.join(os.path.abspath(out), assignment, "grading", "report.html")
        print(f"{assignment:<12} {students} students in {seconds:5.1f} s   class report: {report}")
    print(f"{'total':<12} {time.monotonic() - t0:.1f} s")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m autograder.classgrade.demo",
                                description="build sample classes of synthetic students and grade each")
    p.add_argument("--assignment", action="append", choices=ASSIGNMENTS, default=None,
                   help="an assignment to grade (repeatable; default: all of them, in course order)")
    p.add_argument("--students", type=int, default=20, help="students per sample class (default: 20)")
    p.add_argument("--out", default="demo-output", help="output folder; each assignment in OUT/<assignment>/")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--course", default="assignments")
    return p


if __name__ == "__main__":
    args = _parser().parse_args()
    sys.exit(main_many(tuple(args.assignment or ASSIGNMENTS), out=args.out, students=args.students,
                       workers=args.workers, course=args.course))
