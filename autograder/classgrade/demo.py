"""``make demo``: a bundled sample class of synthetic students, graded with the class command.

``build_class`` makes, from the instructor's solution notebook, a class of students:

* perfect submissions;
* one per catalogued mistake (:data:`autograder.mistakes.EXAMPLES`: the mistake's text edits
  applied to the matching solution cell), so the class report's mistake chart is populated;
* students with two mistakes, and partial attempts (some answers left as the release stub);
* a few broken or hostile ones: a syntax error, an endless loop, a class copied from the
  reference library, a notebook that patches the checks, an empty notebook, a PDF instead
  of a notebook, and a rostered student who submitted nothing.

``python -m autograder demo`` builds it under ``demo-output/`` and grades it.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import sys
import time

import nbformat

from . import synth


def _apply(source: str, edits) -> str | None:
    for old, new in edits:
        if old not in source:
            return None
        source = source.replace(old, new)
    return source


def mistake_fills(fills: dict[str, str]) -> dict[str, tuple[str, str, str]]:
    """mistake key -> (grade_id, mistaken source, target) for every applicable catalogue entry."""
    from autograder import mistakes
    out = {}
    for key, (gid, edits) in getattr(mistakes, "EXAMPLES", {}).items():
        if gid in fills:
            src = _apply(fills[gid], edits)
            if src is not None:
                out[key] = (gid, src, mistakes.MISTAKES[key].target if key in mistakes.MISTAKES else gid)
    return out


HOSTILE_DEMO = {
    "syntax-error": ("sgd", "class SGD(Optimizer):\n    def update(self, params, grads)\n        pass\n"),
    "endless-loop": ("momentum", "class Momentum(Optimizer):\n    def __init__(self, lr=0.01, momentum=0.9):\n"
                     "        super().__init__(lr)\n        self.momentum = momentum\n\n"
                     "    def update(self, params, grads):\n        while True:\n            pass\n"),
    "copies-reference": ("adam", "from dlcourse.optim import Adam as _A\n\n\nclass Adam(_A):\n    pass\n"),
    "patches-checks": (None, "import autograder.result\n"
                       "autograder.result.CheckResult.assert_passed = lambda self: print('PASSED')\n"),
}


def build_class(course: str, assignment: str, dest: str, students: int = 40, seed: int = 0,
                hostile: bool = True) -> tuple[str, str, dict[str, str]]:
    """Write ``dest/submitted/<student>/<assignment>/`` and ``dest/roster.csv``.

    Returns (submitted dir, roster path, {student: what was done to the submission}).
    """
    from .runner import prepare_template, _find_notebook
    rng = random.Random(seed)
    notebook = _find_notebook(course, assignment)
    tmp = os.path.join(dest, ".release")
    template = prepare_template(course, assignment, tmp)
    release = nbformat.read(os.path.join(template, "release", assignment, notebook + ".ipynb"), as_version=4)
    fills = synth.solution_fills(os.path.join(course, "source", assignment, notebook + ".ipynb"))
    submitted = os.path.join(dest, "submitted")
    shutil.rmtree(submitted, ignore_errors=True)
    os.makedirs(submitted)
    plan: dict[str, str] = {}
    subs: list[tuple[str, dict, list]] = []

    def add(desc: str, changes: dict, append=None):
        sid = f"s{len(plan) + 1:03d}"
        plan[sid] = desc
        subs.append((sid, changes, append or []))

    mist = mistake_fills(fills)
    add("perfect", {})
    for key, (gid, src, _) in mist.items():
        add(f"mistake {key}", {gid: src})
    reserved = 3 + (len(HOSTILE_DEMO) + 3 if hostile else 0)   # perfect ones, hostile, empty, pdf, missing
    keys = list(mist)
    while len(plan) < max(students - reserved, 1):
        kind = rng.random()
        if kind < 0.4 and len(keys) >= 2:
            a, b = rng.sample(keys, 2)
            if mist[a][0] != mist[b][0]:
                add(f"mistakes {a} + {b}", {mist[a][0]: mist[a][1], mist[b][0]: mist[b][1]})
        else:
            parts = rng.sample(sorted(fills), k=max(1, len(fills) // 3))
            add("partial: left " + ", ".join(parts) + " as released",
                {gid: c.source for c in release.cells if (gid := synth.grade_id(c)) in parts})
    while len(plan) < students - (len(HOSTILE_DEMO) + 3 if hostile else 0):
        add("perfect", {})
    for sid, changes, append in subs:
        merged = dict(fills)
        merged.update(changes)
        synth.write_submission(submitted, sid, assignment, notebook, synth.student_notebook(release, merged, append))
    if hostile:
        for name, (gid, src) in HOSTILE_DEMO.items():
            sid = f"s{len(plan) + 1:03d}"
            plan[sid] = f"hostile: {name}"
            merged = dict(fills)
            append = []
            if gid:
                merged[gid] = src
            else:
                merged["ewma"] = merged["ewma"] + "\n\n" + src
            synth.write_submission(submitted, sid, assignment, notebook, synth.student_notebook(release, merged, append))
        sid = f"s{len(plan) + 1:03d}"
        plan[sid] = "broken: empty notebook"
        synth.write_submission(submitted, sid, assignment, notebook, nbformat.v4.new_notebook())
        sid = f"s{len(plan) + 1:03d}"
        plan[sid] = "broken: a PDF instead of the notebook"
        synth.write_submission(submitted, sid, assignment, notebook, raw=b"%PDF-1.4 not a notebook\n",
                               filename=notebook + ".pdf")
        sid = f"s{len(plan) + 1:03d}"
        plan[sid] = "missing: on the roster, no submission"
    roster = os.path.join(dest, "roster.csv")
    with open(roster, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "first_name", "last_name", "email"])
        for sid in plan:
            w.writerow([sid, "Student", sid.upper(), f"{sid}@example.edu"])
    shutil.rmtree(tmp, ignore_errors=True)
    return submitted, roster, plan


def main(out: str = "demo-output", students: int = 40, workers: int | None = None,
         course: str = "assignments", assignment: str = "optimizers") -> int:
    from .runner import grade_class
    from autograder.__main__ import print_summary
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
