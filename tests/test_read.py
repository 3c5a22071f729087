"""Reading a submission: what the student wrote, what is restored, what is foreign."""
import os

import nbformat
import pytest

from autograder.classgrade.flags import Kind
from autograder.classgrade.protocol import load_spec
from autograder.classgrade.read import read_submission

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join(ROOT, "assignments")


@pytest.fixture(scope="module")
def spec():
    return load_spec(COURSE, "optimizers")


def test_the_other_assignments_notebook_is_foreign_though_both_have_a_setup_cell(spec):
    """Read-only cells such as 'setup' may share ids across assignments: only answer and test
    cells tell whose notebook it is (the backprop notebook was graded as optimizers before)."""
    sub = read_submission(os.path.join(COURSE, "release", "backprop", "backprop.ipynb"), spec)
    assert not sub.readable and [f.kind for f in sub.flags] == [Kind.FOREIGN_NOTEBOOK]


def test_the_release_and_the_solution_are_read_without_flags(spec):
    for path in (os.path.join(COURSE, "release", "optimizers", "optimizers.ipynb"),
                 os.path.join(ROOT, "solutions", "optimizers", "optimizers.ipynb")):
        sub = read_submission(path, spec)
        assert sub.readable and sub.flags == []
        assert len(sub.recorder_cells) == len(spec.setup_before) + len(spec.solution_ids)


def test_changed_points_of_a_test_cell_count_as_an_edit(spec, tmp_path):
    nb = nbformat.read(os.path.join(COURSE, "release", "optimizers", "optimizers.ipynb"), as_version=4)
    for cell in nb.cells:
        if (cell.metadata.get("nbgrader") or {}).get("grade_id") == "test_ewma":
            cell.metadata["nbgrader"]["points"] = 1000
    nbformat.write(nb, tmp_path / "nb.ipynb")
    sub = read_submission(str(tmp_path / "nb.ipynb"), spec)
    assert [f.kind for f in sub.flags] == [Kind.EDITED_TEST] and "test_ewma" in sub.flags[0].message


def test_magics_and_shell_escapes_never_reach_the_recorder(spec, tmp_path):
    nb = nbformat.read(os.path.join(COURSE, "release", "optimizers", "optimizers.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("!cat /etc/passwd\n%time x = 1\ny = 2"))
    nbformat.write(nb, tmp_path / "nb.ipynb")
    cells = read_submission(str(tmp_path / "nb.ipynb"), spec).recorder_cells
    assert cells[-1].splitlines() == ["pass", "pass", "y = 2"]


def test_an_unreadable_file_is_invalid_not_an_exception(spec, tmp_path):
    (tmp_path / "x.ipynb").write_bytes(b"\x00\x01 not json")
    sub = read_submission(str(tmp_path / "x.ipynb"), spec)
    assert not sub.readable and sub.flags[0].kind is Kind.INVALID_FILE


def test_a_notebook_of_a_hundred_thousand_cells_is_not_graded(spec, tmp_path):
    """It would cost nbgrader minutes and its feedback page tens of MB (it took 198 s of a 60 s budget)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("") for _ in range(100_000)])
    nbformat.write(nb, tmp_path / "big.ipynb")
    sub = read_submission(str(tmp_path / "big.ipynb"), spec)
    assert not sub.readable and sub.flags[0].kind is Kind.TOO_LARGE


def test_tracebacks_are_scrubbed_in_a_read_only_autograded_notebook(tmp_path):
    """nbgrader leaves autograded notebooks read-only: as a non-root grader, scrubbing them
    raised PermissionError and made the row 'not graded' (seen in a non-root make demo)."""
    from autograder.classgrade.execute import scrub_tracebacks
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
        "error", ename="KeyboardInterrupt", evalue="", traceback=["Cell In[1], line 1", "File /grader/checks.py:3"])])])
    import pathlib
    import tempfile
    folder = pathlib.Path(tempfile.mkdtemp())    # /tmp/...: reachable by an ordinary user
    path = folder / "nb.ipynb"
    nbformat.write(nb, path)
    os.chmod(path, 0o444)
    if os.geteuid() == 0:        # root ignores the mode: scrub as an ordinary user, as a non-root grader would
        os.chown(folder, 65534, 65534)
        os.chown(path, 65534, 65534)
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(65534)
                os.setuid(65534)
                scrub_tracebacks(str(path), ("/grader",))
                os._exit(0)
            except BaseException:
                os._exit(1)
        assert os.waitpid(pid, 0)[1] == 0, "scrubbing failed as an ordinary user"
    else:
        scrub_tracebacks(str(path), ("/grader",))
    tb = nbformat.read(path, as_version=4).cells[0].outputs[0].traceback
    assert tb == ["Cell In[1], line 1"] and oct(os.stat(path).st_mode & 0o777) == "0o444"
