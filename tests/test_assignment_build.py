"""The assignment: its source notebook is well formed, its generated files never drift.

release/ and solutions/ are committed but generated (``python -m autograder.build``,
i.e. ``make release``); regenerating them into a temporary directory must give
byte-identical files. The solution notebook runs top to bottom cleanly.
"""

import nbformat
from nbclient import NotebookClient

from autograder import build

ROOT = build.ROOT
SOURCE = ROOT / "assignments" / "source" / "optimizers" / "optimizers.ipynb"
RELEASE = ROOT / "assignments" / "release" / "optimizers" / "optimizers.ipynb"
SOLUTION = ROOT / "solutions" / "optimizers" / "optimizers.ipynb"
PARTS = ["ewma", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
         "adamax", "nadam", "step_decay", "cosine"]


def cells(path):
    return nbformat.read(path, as_version=4).cells


def test_the_course_has_the_standard_nbgrader_layout():
    assert (ROOT / "assignments" / "nbgrader_config.py").is_file()
    assert build.assignments() == ["backprop", "optimizers"]
    assert SOURCE.is_file() and RELEASE.is_file() and SOLUTION.is_file()


def test_config_sets_course_id_timeouts_and_stub():
    from traitlets.config import Config
    c = Config()
    namespace = {"get_config": lambda: c}
    exec((ROOT / "assignments" / "nbgrader_config.py").read_text(), namespace)
    assert c.CourseDirectory.course_id == "dlcourse-optimizers"
    assert c.ExecutePreprocessor.timeout > 0 and c.Execute.timeout > 0
    assert c.Execute.iopub_timeout > 4   # nbclient's default is 4 s
    assert c.ClearSolutions.code_stub["python"] == "# YOUR CODE HERE\nraise NotImplementedError()"


def test_every_part_has_math_a_solution_and_a_graded_test_with_hidden_tests():
    nb = cells(SOURCE)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): (i, c) for i, c in enumerate(nb)}
    for part in PARTS:
        i, solution = by_id[part]
        j, test = by_id["test_" + part]
        assert solution.metadata.nbgrader.solution and not solution.metadata.nbgrader.grade
        assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source
        assert test.metadata.nbgrader.grade and test.metadata.nbgrader.points > 0
        assert j > i
        assert "### BEGIN HIDDEN TESTS" in test.source and "### END HIDDEN TESTS" in test.source
        # the cell must not end with a value: nbgrader would read it as a partial score
        last = [line for line in test.source.splitlines() if line.strip() and not line.startswith("###")][-1]
        assert last.endswith(".assert_passed()")
    # the math comes before each part's solution
    for part in ["ewma", "momentum", "adam"]:
        i, _ = by_id[part]
        assert nb[i - 1].cell_type == "markdown" and "$$" in nb[i - 1].source


def test_the_parts_table_matches_the_notebook():
    from autograder.checks import PARTS
    nb = cells(SOURCE)
    graded = [(c.metadata.nbgrader.grade_id, c.metadata.nbgrader.points) for c in nb
              if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded == [(test, points) for test, _, _, _, points in PARTS]
    for test, solution, target, student_name, _ in PARTS:
        cell = next(c for c in nb if c.metadata.get("nbgrader", {}).get("grade_id") == solution)
        assert f"class {student_name}" in cell.source or f"def {student_name}(" in cell.source
        test_cell = next(c for c in nb if c.metadata.get("nbgrader", {}).get("grade_id") == test)
        assert f"({student_name}" in test_cell.source and (f'"{target}"' in test_cell.source
                                                           or target == "EWMA")
    assert sum(p for *_, p in PARTS) == 110


def test_students_subclass_the_notebooks_base_class_not_the_library():
    source = "\n".join(c.source for c in cells(SOURCE) if c.cell_type == "code")
    assert "class Optimizer:" in source
    assert "from dlcourse.optim" not in source and "optim.SGD" not in source
    for name in ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adadelta", "Adam", "AdaMax", "Nadam"]:
        assert f"class {name}(Optimizer):" in source


def test_the_release_has_stubs_and_no_solutions_or_hidden_tests():
    text = RELEASE.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert text.count("raise NotImplementedError()") >= len(PARTS)
    assert 'scenarios="hidden"' not in "".join(c.source for c in cells(RELEASE))


def test_notebooks_are_committed_without_outputs():
    for path in (SOURCE, RELEASE, SOLUTION):
        for cell in cells(path):
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path


def test_release_and_solutions_are_exactly_what_the_build_makes(tmp_path, kernel_sockets):
    build.build(out=tmp_path, nbgrader_options=kernel_sockets.nbgrader_options())
    for committed in (RELEASE, SOLUTION):
        made = tmp_path / committed.relative_to(ROOT)
        assert made.read_bytes() == committed.read_bytes(), (
            f"{committed.relative_to(ROOT)} is stale: run `python -m autograder.build` (make release)")
    made_files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(ROOT) for d in ("assignments/release", "solutions")
                             for p in (ROOT / d).rglob("*") if p.is_file())
    assert made_files == committed_files


def test_the_solution_notebook_runs_cleanly_and_draws_the_paths(kernel_sockets):
    nb = nbformat.read(SOLUTION, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=120, config=kernel_sockets.config(),
                   resources={"metadata": {"path": str(SOLUTION.parent)}}).execute()
    errors, stderr, figures, passed = [], [], 0, 0
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.output_type == "error":
                errors.append(f"cell {i}: {o.ename}: {o.evalue}")
            elif o.output_type == "stream" and o.name == "stderr":
                stderr.append(o.text)
            elif o.output_type == "stream":
                passed += o.text.count("PASSED")
            elif "image/png" in o.get("data", {}):
                figures += 1
    assert not errors and not stderr, errors + stderr
    assert figures == 1 and passed == 2 * len(PARTS)


def test_every_test_cell_carries_raises_exception_in_source_and_release():
    """JupyterLab's Run All asks the kernel not to abort the queue after a cell tagged
    ``raises-exception`` (``stop_on_error: false``), so a failing test does not stop the cells
    after it. nbgrader's generate_assignment keeps the tag; it is on test cells only, so an
    error in a student's own cell still stops Run All where the student must look."""
    for path in (SOURCE, RELEASE, SOLUTION):
        for cell in cells(path):
            tagged = "raises-exception" in cell.metadata.get("tags", [])
            assert tagged == bool(cell.metadata.get("nbgrader", {}).get("grade")), (path, cell.source[:60])


def run_release(kernel_sockets, **options):
    nb = nbformat.read(RELEASE, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=120, config=kernel_sockets.config(),
                   resources={"metadata": {"path": str(RELEASE.parent)}}, **options).execute()
    return nb


def test_the_untouched_release_runs_to_the_end_with_every_test_failing_as_not_implemented(kernel_sockets):
    # no allow_errors: nbclient stops at an error unless the cell is tagged raises-exception,
    # the same rule as JupyterLab's Run All (tests/test_browser_notebooks.py checks it there)
    nb = run_release(kernel_sockets)
    failures = [c for c in nb.cells if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert len(failures) == len(PARTS)
    assert all(c.metadata.nbgrader.grade for c in failures)
    for cell in failures:
        error = next(o for o in cell.outputs if o.output_type == "error")
        # CheckFailed is an AssertionError whose traceback is the report itself (no grader frames)
        assert error.ename in ("AssertionError", "CheckFailed") and "not implemented" in error.evalue, error.evalue


def test_the_final_figure_has_a_panel_per_optimizer_and_says_which_are_not_written(kernel_sockets):
    nb = run_release(kernel_sockets)
    demo = nb.cells[-1]
    assert not [o for o in demo.outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in demo.outputs)
    names = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adadelta", "Adam", "AdaMax", "Nadam"]
    assert text.splitlines() == [f"{name}: not written yet" for name in names]
    assert "skipped" not in text and "KeyError" not in text
    assert sum("image/png" in o.get("data", {}) for o in demo.outputs) == 1


def test_the_final_figure_explains_a_missing_class_and_a_crashing_one(kernel_sockets):
    """Cells not run (class undefined) or an update that raises: the panel says so; no crash."""
    import matplotlib.pyplot as plt
    demo = next(c for c in cells(RELEASE) if c.metadata.get("nbgrader", {}).get("grade_id") == "demo_plot")
    setup = "\n".join(c.source for c in cells(RELEASE)
                      if c.metadata.get("nbgrader", {}).get("grade_id") in ("setup", "base_class"))
    namespace = {}
    exec(setup, namespace)
    exec("class SGD(Optimizer):\n"
         "    def __init__(self, lr=0.01):\n        super().__init__(lr)\n"
         "    def update(self, params, grads):\n        raise ValueError('half written')\n", namespace)
    exec("class Adam(Optimizer):\n"
         "    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
         "        super().__init__(lr)\n        self.beta1, self.beta2, self.eps = beta1, beta2, eps\n"
         "    def update(self, params, grads):\n"
         "        for name, p in params.items():\n            p -= self.lr * np.sign(grads[name])\n",
         namespace)
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(demo.source, namespace)
    fig = plt.gcf()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    plt.close("all")
    lines = out.getvalue().splitlines()
    assert "SGD: your update() raised" in lines
    assert "Momentum: not written yet" in lines
    assert not any(line.startswith("Adam:") for line in lines)
    assert len(titles) == 9 and "Adam: differs" in titles
