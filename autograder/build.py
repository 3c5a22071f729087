"""Regenerate assignments/release/ and solutions/ from assignments/source/ (``make release``).

    python -m autograder.build                 # into this repository
    python -m autograder.build --out DIR       # into DIR/assignments/release and DIR/solutions

For every assignment under ``assignments/source/`` this runs, in a scratch copy of
the course (so no gradebook or nbgrader output lands in the repository):

    nbgrader generate_assignment <a> --force   -> release/<a>/   (student version)
    nbgrader generate_solution   <a> --force   -> solution/<a>/  (executed, solved)

and copies the results to ``assignments/release/<a>/`` and ``solutions/<a>/``.
Generation is made deterministic so that a test can regenerate and compare bytes:
notebooks are rewritten with ``nbformat`` (sorted keys, one trailing newline), and the
solution notebooks are committed like every notebook of the course: without outputs,
execution counts, execution timestamps, or the Python version in ``language_info``.
Executing the solutions in ``generate_solution`` is still useful: it fails the build
if an instructor solution raises.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"


def assignments(course: pathlib.Path = COURSE) -> list[str]:
    """The assignment names: the folders of ``source/`` holding a notebook."""
    return sorted(p.name for p in (course / "source").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


def normalize(nb, strip_outputs: bool) -> str:
    """The notebook as deterministic text."""
    nb.metadata.pop("widgets", None)
    info = nb.metadata.get("language_info")
    if info is not None:
        nb.metadata["language_info"] = {"name": info.get("name", "python")}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        if cell.cell_type == "code" and strip_outputs:
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(nb) + "\n"


def _nbgrader(args, cwd):
    env = dict(os.environ)
    bindir = str(pathlib.Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")   # kernels run this python
    env.setdefault("MPLBACKEND", "Agg")
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def build(out: pathlib.Path = ROOT, course: pathlib.Path = COURSE, names=None,
          nbgrader_options=()) -> list[pathlib.Path]:
    """Generate release/ and solutions/ under ``out``; return the files written.

    ``nbgrader_options`` are added to the ``generate_solution`` command, which executes the
    notebook (the tests pass the unix-socket options of their kernels)."""
    out = pathlib.Path(out)
    names = names or assignments(course)
    written = []
    with tempfile.TemporaryDirectory(prefix="dlcourse-build-") as tmp:
        scratch = pathlib.Path(tmp) / "course"
        scratch.mkdir()
        shutil.copy2(course / "nbgrader_config.py", scratch / "nbgrader_config.py")
        shutil.copytree(course / "source", scratch / "source",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        for name in names:
            _nbgrader(["generate_assignment", name, "--force"], scratch)
            _nbgrader(["generate_solution", name, "--force", *nbgrader_options], scratch)
            for made, target, strip in [
                (scratch / "release" / name, out / "assignments" / "release" / name, False),
                (scratch / "solution" / name, out / "solutions" / name, True),
            ]:
                if target.exists():
                    shutil.rmtree(target)
                target.mkdir(parents=True)
                for path in sorted(made.rglob("*")):
                    if path.is_dir():
                        continue
                    dest = target / path.relative_to(made)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if path.suffix == ".ipynb":
                        text = normalize(nbformat.read(path, as_version=4), strip_outputs=strip)
                        dest.write_text(text, encoding="utf-8")
                    else:
                        shutil.copyfile(path, dest)
                    written.append(dest)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.build", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT,
                        help="where to write assignments/release/ and solutions/ (default: this repository)")
    parser.add_argument("assignment", nargs="*", help="assignment names (default: all in source/)")
    args = parser.parse_args(argv)
    for path in build(args.out, names=args.assignment or None):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
