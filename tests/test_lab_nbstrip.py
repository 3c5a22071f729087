"""Working through a lecture or the assignment does not dirty the repository.

``.gitattributes`` sends every notebook through the ``nbstrip`` clean filter
(``.jupyter/nbstrip.py``), which ``make lab`` and ``make test`` register in ``.git/config``.
git then compares the *cleaned* text with what is committed: outputs, execution counts and
the kernel JupyterLab ran do not count as changes, what a person wrote does.

Why a filter and not a working copy: the notebooks stay where the README, the lectures' links
and nbgrader expect them, a student's own edits remain visible to ``git diff`` (and can be
committed or stashed before a ``git pull``), and nothing needs copying back. A notebook
JupyterLab really saved is checked against the filter in test_browser_notebooks.py.
"""
import copy
import importlib.util
import json
import pathlib
import shutil
import subprocess

import nbformat
import pytest

from test_lab import ROOT, VENV, copy_course

_spec = importlib.util.spec_from_file_location("nbstrip", ROOT / ".jupyter" / "nbstrip.py")
nbstrip = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbstrip)

COMMITTED = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("**/*.ipynb")
                   if ".venv" not in p.parts and ".ipynb_checkpoints" not in p.parts)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def as_jupyterlab_saves_it(text: str) -> str:
    """The notebook after Run All and save: outputs, counts, timings, the kernel that ran it."""
    nb = nbformat.reads(text, as_version=4)
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"cell {count}\n"),
                        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                        nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=count)]
        cell.metadata["execution"] = {"iopub.execute_input": "2026-12-03T09:00:00.000Z"}
        cell.metadata["scrolled"] = True
        cell.metadata["jupyter"] = {"outputs_hidden": False}
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                                    "mimetype": "text/x-python", "name": "python", "version": "3.11.2"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nbformat.writes(nb) + "\n"


@pytest.mark.parametrize("path", COMMITTED)
def test_the_filter_leaves_every_committed_notebook_byte_for_byte_unchanged(path):
    text = (ROOT / path).read_text()
    assert nbstrip.clean(text) == text


@pytest.mark.parametrize("path", ["lectures/05_optimizers.ipynb", "assignments/release/optimizers/optimizers.ipynb"])
def test_the_filter_removes_what_running_the_notebook_added_and_nothing_else(path):
    committed = (ROOT / path).read_text()
    run = as_jupyterlab_saves_it(committed)
    assert run != committed
    assert nbstrip.clean(run) == committed


def test_the_filter_keeps_sources_ids_tags_and_nbgrader_metadata():
    committed = (ROOT / "assignments/release/optimizers/optimizers.ipynb").read_text()
    nb = nbformat.reads(as_jupyterlab_saves_it(committed), as_version=4)
    nb.cells[5].source += "\n# my note"
    cleaned = nbformat.reads(nbstrip.clean(nbformat.writes(nb)), as_version=4)
    original = nbformat.reads(committed, as_version=4)
    assert cleaned.cells[5].source.endswith("# my note")
    assert [c.id for c in cleaned.cells] == [c.id for c in original.cells]
    assert [c.metadata for c in cleaned.cells] == [c.metadata for c in original.cells]
    assert any("raises-exception" in c.metadata.get("tags", []) for c in cleaned.cells)


def test_a_kernel_from_another_environment_is_recorded_as_the_courses_python3():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.metadata["kernelspec"] = {"display_name": "Python [conda env:dlcourse]", "language": "python",
                                 "name": "conda-env-dlcourse-py"}
    cleaned = json.loads(nbstrip.clean(nbformat.writes(nb)))
    assert cleaned["metadata"]["kernelspec"] == {"display_name": "Python 3", "language": "python", "name": "python3"}


@pytest.mark.parametrize("text", ["", "not json", '{"cells": [', "<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> x\n"])
def test_text_that_is_not_a_notebook_passes_through_unchanged(text, capsys):
    assert nbstrip.clean(text) == text
    assert "not a notebook" in capsys.readouterr().err


def git(repo, *args, cwd=None):
    done = subprocess.run(["git", "-c", "user.name=student", "-c", "user.email=s@example.org", *args],
                          cwd=cwd or repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def make_nbstrip(repo):
    """The Makefile's own target (the venv bootstrap it depends on is skipped)."""
    done = subprocess.run(["make", "-C", str(repo), "-o", f"{VENV}/bin/.installed", f"VENV={VENV}", "nbstrip"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def clone(tmp_path):
    """A student's git clone of the course with the filter set up by make."""
    repo = copy_course(tmp_path / "course")
    shutil.copy2(ROOT / ".gitattributes", repo / ".gitattributes")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the course")
    make_nbstrip(repo)
    return repo


def test_make_registers_the_filter_in_the_clones_git_config(clone):
    command = git(clone, "config", "filter.nbstrip.clean").strip()
    assert command.endswith(".jupyter/nbstrip.py") and str(VENV) in command
    assert git(clone, "check-attr", "filter", "lectures/01_backprop.ipynb").strip().endswith("filter: nbstrip")


def save_as_jupyterlab(repo, path, text=None):
    """Write the notebook as JupyterLab saves it, then run what make lab's post-save hook runs."""
    target = repo / path
    target.write_text(as_jupyterlab_saves_it(target.read_text() if text is None else text))
    return nbstrip.refresh_index(target)


def test_running_every_lecture_and_the_assignment_leaves_git_status_clean(clone):
    notebooks = [p for p in COMMITTED if not p.startswith("assignments/source/")]
    assert git(clone, "diff") == ""
    for path in notebooks:
        (clone / path).write_text(as_jupyterlab_saves_it((clone / path).read_text()))
    assert git(clone, "diff") == ""                    # the filter: no change in content ...
    assert all(nbstrip.refresh_index(clone / path) for path in notebooks)
    assert git(clone, "status", "--porcelain") == ""   # ... and the index knows it
    assert git(clone, "status", "--porcelain", cwd=clone / "lectures") == ""     # from a subfolder too
    assert '"output_type"' in (clone / notebooks[0]).read_text()                # the outputs stay on disk


def test_git_pull_of_a_newer_lecture_goes_through_after_running_it(clone, tmp_path):
    student = tmp_path / "student"
    subprocess.run(["git", "clone", "-q", str(clone), str(student)], check=True)
    make_nbstrip(student)
    path = "lectures/01_backprop.ipynb"
    assert save_as_jupyterlab(student, path)
    nb = nbformat.read(clone / path, as_version=4)           # the course updates that lecture
    nb.cells[0].source += "\n\nA new paragraph."
    (clone / path).write_text(nbformat.writes(nb) + "\n")
    git(clone, "commit", "-qam", "lecture 01: a new paragraph")
    git(student, "pull", "-q", "--no-rebase")
    assert "A new paragraph." in (student / path).read_text()
    assert git(student, "status", "--porcelain") == ""


def test_what_a_student_writes_shows_in_git_diff_without_outputs(clone):
    path = "assignments/release/optimizers/optimizers.ipynb"
    nb = nbformat.read(clone / path, as_version=4)
    sgd = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "sgd")
    sgd.source = sgd.source.replace("raise NotImplementedError()",
                                    "for name, p in params.items():\n            p -= self.lr * grads[name]")
    assert not save_as_jupyterlab(clone, path, nbformat.writes(nb))     # a real change stays one
    diff = git(clone, "diff", "--", path)
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("p -= self.lr * grads[name]" in line for line in added)
    assert not any(key in diff for key in ('"output_type"', '"execution_count": 1', "image/png", "3.11.2"))
    assert git(clone, "status", "--porcelain") == f" M {path}\n"


def test_outside_a_git_clone_the_make_target_and_the_index_refresh_do_nothing(tmp_path):
    course = copy_course(tmp_path / "course")       # e.g. unpacked from a zip
    make_nbstrip(course)
    assert not (course / ".git").exists()
    assert not save_as_jupyterlab(course, "lectures/01_backprop.ipynb")


def test_an_untracked_notebook_is_left_out_of_the_index(clone):
    (clone / "lectures" / "scratch.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    assert not nbstrip.refresh_index(clone / "lectures" / "scratch.ipynb")
    assert git(clone, "status", "--porcelain") == "?? lectures/scratch.ipynb\n"


def test_a_course_folder_inside_another_repository_leaves_that_repositorys_config_alone(tmp_path):
    outer = tmp_path / "my-notes"
    outer.mkdir()
    git(outer, "init", "-q")
    course = copy_course(outer / "dlcourse")
    make_nbstrip(course)
    assert subprocess.run(["git", "config", "filter.nbstrip.clean"], cwd=outer).returncode == 1   # not set
