"""Benchmark: grade one sample class with plain ``nbgrader autograde`` and with the class command.

    .venv/bin/python bench/grading.py [--students 40] [--workers N] [--keep DIR] [--endless]

``--students 300 --endless`` makes one of the students an endless loop in an ``update()`` (its
kernel's cell times out and its recorder part too: the submission's budget bounds it) to show
what one such student costs at the tail of a large class.

Builds the demo class without its hostile members (perfect answers, every catalogued mistake,
partial attempts), then, in one run:

1. plain nbgrader: a course copy, ``nbgrader generate_assignment`` (set-up, not timed), then
   ``nbgrader autograde optimizers --force`` over all students: one sequential CLI process;
2. ``python -m autograder grade --workers N`` on the same submissions: parallel, sandboxed,
   pre-flight, the out-of-kernel recorder, feedback for every student, every output;
3. the same command with ``--no-preload`` (every kernel a new Python, no zygote);
4. a bare kernel start (start a python3 kernel, run ``pass``, shut down), the floor per submission.

Prints the wall times, the ratios, the per-submission time and its overhead beyond a bare
kernel start, where the command's time goes (from its results.json), and whether the grades
with and without the zygotes are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def bare_kernel_start(repeat: int = 3) -> float:
    import nbformat
    from nbclient import NotebookClient
    times = []
    for _ in range(repeat):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")])
        t = time.perf_counter()
        NotebookClient(nb, kernel_name="python3").execute()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _same_grades(a: str, b: str) -> bool:
    def grades(path):
        with open(path) as fh:
            return {r["student_id"]: (r["score"], {g: c["score"] for g, c in r["parts"].items()})
                    for r in json.load(fh)["results"]}
    return grades(a) == grades(b)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--course", default=os.path.join(ROOT, "assignments"))
    ap.add_argument("--assignment", default="optimizers")
    ap.add_argument("--keep", help="work in this folder and keep it")
    ap.add_argument("--endless", action="store_true", help="one student loops forever in Momentum.update")
    ap.add_argument("--no-compare-preload", action="store_true", help="skip the --no-preload run")
    args = ap.parse_args()
    from autograder.classgrade import course, samples
    course.venv_on_path()
    work = args.keep or tempfile.mkdtemp(prefix="bench-grading-")
    os.makedirs(work, exist_ok=True)
    print(f"building a class of {args.students} students (no hostile ones) in {work} ...", flush=True)
    submitted, roster, plan = samples.build_class(args.course, args.assignment, os.path.join(work, "class"),
                                                  args.students, hostile=False)
    if args.endless:
        import nbformat
        last = sorted(os.listdir(submitted))[-1]
        path = os.path.join(submitted, last, args.assignment, args.assignment + ".ipynb")
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if "class Momentum(" in cell.source and "def update(self, params, grads):" in cell.source:
                cell.source = cell.source.replace("def update(self, params, grads):",
                                                  "def update(self, params, grads):\n        while True:\n"
                                                  "            pass", 1)
        nbformat.write(nb, path)
        print(f"student {last} loops forever in Momentum.update", flush=True)
    n = len([d for d in os.listdir(submitted)])

    # -- 1. plain nbgrader -------------------------------------------------------------------
    plain = os.path.join(work, "plain")
    shutil.rmtree(plain, ignore_errors=True)
    os.makedirs(os.path.join(plain, "source"))
    shutil.copytree(os.path.join(args.course, "source", args.assignment),
                    os.path.join(plain, "source", args.assignment))
    if os.path.exists(os.path.join(args.course, "nbgrader_config.py")):
        shutil.copy(os.path.join(args.course, "nbgrader_config.py"), plain)
    shutil.copytree(submitted, os.path.join(plain, "submitted"))
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run(nbgrader + ["generate_assignment", args.assignment, "--force"], cwd=plain, check=True,
                   capture_output=True)
    print(f"plain nbgrader autograde, {n} students, sequential ...", flush=True)
    t = time.perf_counter()
    p = subprocess.run(nbgrader + ["autograde", args.assignment, "--force"], cwd=plain, capture_output=True, text=True)
    t_plain = time.perf_counter() - t
    if p.returncode != 0:
        print("plain nbgrader failed:", p.stderr[-2000:])

    def grade(out: str, *extra: str) -> float | None:
        """Wall time of the class command writing to ``out`` (None if it failed)."""
        print(f"python -m autograder grade --workers {args.workers} {' '.join(extra)}...", flush=True)
        t = time.perf_counter()
        c = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", args.course,
                            "--assignment", args.assignment, "--submissions", submitted, "--roster", roster,
                            "--out", out, "--workers", str(args.workers), "--no-progress",
                            "--timeout", "120", "--cell-timeout", "30", *extra],
                           cwd=ROOT, capture_output=True, text=True)
        if c.returncode not in (0, 1):
            print("command failed:", c.stderr[-2000:])
            return None
        return time.perf_counter() - t

    # -- 2. the class command ----------------------------------------------------------------
    out = os.path.join(work, "command")
    t_cmd = grade(out)
    # -- 3. the command without the zygotes: every kernel and probe a new Python ------------------
    out_np = os.path.join(work, "command-no-preload")
    t_np = None if args.no_compare_preload else grade(out_np, "--no-preload")
    if t_cmd is None or (t_np is None and not args.no_compare_preload):
        return 1

    # -- 4. the floor ------------------------------------------------------------------------
    bare = bare_kernel_start()

    with open(os.path.join(out, "results.json")) as fh:
        results = json.load(fh)["results"]
    timings = [r["timings"] for r in results if r.get("timings")]

    def mean(key):
        vals = [tm[key] for tm in timings if key in tm]
        return statistics.mean(vals) if vals else 0.0

    print()
    print(f"students                          {n}")
    print(f"cores / workers                   {os.cpu_count()} / {args.workers}")
    print(f"plain nbgrader autograde          {t_plain:7.1f} s   ({t_plain / n:.2f} s per submission)")
    print(f"python -m autograder grade        {t_cmd:7.1f} s   ({t_cmd / n:.2f} s per submission, wall)")
    print(f"speed-up                          {t_plain / t_cmd:7.2f} x")
    if t_np is not None:
        print(f"  same command, --no-preload      {t_np:7.1f} s   ({t_plain / t_np:.2f} x plain; the zygotes save "
              f"{(t_np - t_cmd) * args.workers / n:.2f} s of worker time per submission)")
    print(f"bare kernel start                 {bare:7.2f} s")
    print(f"overhead beyond a kernel start    plain {t_plain / n - bare:.2f} s/submission (sequential);"
          f" command {t_cmd * args.workers / n - bare:.2f} s/submission of worker time")
    print("command, mean per submission inside a worker:")
    print(f"  nbgrader autograde (sandboxed kernel)   {mean('kernel'):.2f} s")
    print(f"  recorder + verdicts (concurrently)      {mean('recorder'):.2f} s")
    print(f"  total                                   {mean('total'):.2f} s")
    slowest = max(results, key=lambda r: r.get("timings", {}).get("total", 0))
    print(f"  slowest submission                      {slowest['student_id']}: "
          f"{slowest.get('timings', {}).get('total', 0):.1f} s")
    print(f"  fixed cost (template, workers, report)  {t_cmd - mean('total') * n / args.workers:.1f} s")
    if t_np is not None:
        same = _same_grades(os.path.join(out, "results.json"), os.path.join(out_np, "results.json"))
        print(f"grades with and without the zygotes   {'identical' if same else 'DIFFER'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
