"""``make demo``: the bundled sample class (:func:`.samples.build_class`), graded with the class command."""

from __future__ import annotations

import csv
import os
import sys
import time


def main(out: str = "demo-output", students: int = 40, workers: int | None = None,
         course: str = "assignments", assignment: str = "optimizers") -> int:
    from .pipeline import grade_class, print_summary
    from .samples import build_class
    t0 = time.monotonic()
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    print(f"building a sample class of {students} students in {out} ...", flush=True)
    submitted, roster, plan = build_class(course, assignment, out, students)
    def short(p):
        rel = os.path.relpath(p)
        return p if rel.startswith("..") else rel
    # shorter limits than the command's defaults (300 s, 60 s): the demo's endless loop
    # should not keep a first-time user waiting
    timeout, cell_timeout = 120, 10
    print(f"built in {time.monotonic() - t0:.1f} s; grading with "
          f"`python -m autograder grade --course {course} --assignment {assignment} "
          f"--submissions {short(submitted)} --roster {short(roster)} "
          f"--out {short(os.path.join(out, 'grading'))} --timeout {timeout} --cell-timeout {cell_timeout}`",
          flush=True)
    summary = grade_class(course, assignment, os.path.join(out, "grading"), submissions=submitted,
                          roster=roster, workers=workers, timeout=timeout, cell_timeout=cell_timeout)
    print()
    print_summary(summary)
    with open(os.path.join(out, "class.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student_id", "what the demo did"])
        w.writerows(plan.items())
    print(f"what each synthetic student did: {os.path.join(out, 'class.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
