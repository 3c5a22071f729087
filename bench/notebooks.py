"""Execute every lecture notebook in a fresh kernel and print how long each one takes.

    .venv/bin/python bench/notebooks.py                 # all lectures/*.ipynb
    .venv/bin/python bench/notebooks.py lectures/05_optimizers.ipynb

Each notebook runs with nbclient in its own fresh ``python3`` kernel (the repo's
venv kernel), from the lectures/ directory, exactly as tests/test_lectures.py does.
The notebooks on disk are not modified. Prints per-notebook wall time, the number of
figures, any error or stderr output, and the total against the course's budget
(all six lectures within 3 minutes on a 2-core machine). Exit status 1 if a
notebook fails.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 180.0


def run(path: pathlib.Path, timeout: int = 300) -> dict:
    """Execute one notebook; return its time, figure count and problems found."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(path.parent)}})
    problems = []
    start = time.perf_counter()
    try:
        client.execute()
    except Exception as exc:  # noqa: BLE001 - report and carry on with the next notebook
        problems.append(f"execution failed: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:200]}")
    seconds = time.perf_counter() - start
    figures = 0
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {index} stderr: {output.text.strip()[:200]}")
            elif "image/png" in output.get("data", {}):
                figures += 1
    return {"seconds": seconds, "figures": figures, "problems": problems}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path,
                        help="notebooks to run (default: lectures/*.ipynb)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "lectures").glob("*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    total, failed = 0.0, 0
    width = max(len(p.name) for p in paths)
    print(f"{'notebook':<{width}}  {'seconds':>8}  figures  status")
    for path in paths:
        result = run(path.resolve())
        total += result["seconds"]
        status = "ok" if not result["problems"] else "FAILED"
        failed += bool(result["problems"])
        print(f"{path.name:<{width}}  {result['seconds']:8.1f}  {result['figures']:7d}  {status}", flush=True)
        for problem in result["problems"]:
            print(f"    {problem}")
    print(f"{'total':<{width}}  {total:8.1f}  (budget {BUDGET_SECONDS:.0f} s for all lectures: "
          f"{total / BUDGET_SECONDS:.2f} of it)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
