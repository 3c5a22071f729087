"""The class-grading command end to end, on a small class of the real ``optimizers`` assignment.

ann hands in the model solution, bob a wrong Adam, cy every stub as released with the notebook's
own report patched to say PASSED; dee is on the roster and hands in nothing. The command is run
as an instructor runs it (``python -m autograder grade``), and its results.json read back.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import nbformat
import pytest

from autograder.classgrade import course, pipeline, samples
from autograder.classgrade.outcome import Status

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join(ROOT, "assignments")
ASSIGNMENT = "optimizers"
PATCH = ('_m = __import__("sys").modules["autograder.res" + "ult"]\n'
         '_m.CheckResult.assert_passed = lambda self: print("PASSED")\n')
EXPECTED = {"ann": 110.0, "bob": 95.0, "cy": 0.0, "dee": 0.0}


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    template = course.prepare_template(COURSE, ASSIGNMENT, str(root / "pre"))
    release = nbformat.read(os.path.join(template, "release", ASSIGNMENT, ASSIGNMENT + ".ipynb"), as_version=4)
    fills = samples.solution_fills(os.path.join(COURSE, "source", ASSIGNMENT, ASSIGNMENT + ".ipynb"))
    stubs = {samples.grade_id(c): c.source for c in release.cells if samples.grade_id(c) in fills}
    sub = str(root / "submitted")
    wrong = dict(fills, adam=fills["adam"].replace("np.sqrt(v_hat) + self.eps", "np.sqrt(v_hat + self.eps)"))
    samples.write_submission(sub, "ann", ASSIGNMENT, ASSIGNMENT, samples.student_notebook(release, fills))
    samples.write_submission(sub, "bob", ASSIGNMENT, ASSIGNMENT, samples.student_notebook(release, wrong))
    samples.write_submission(sub, "cy", ASSIGNMENT, ASSIGNMENT,
                             samples.student_notebook(release, dict(stubs, ewma=stubs["ewma"] + "\n" + PATCH)))
    roster = root / "roster.csv"
    roster.write_text("id,first_name,last_name,email\nann,Ann,A,ann@example.edu\nbob,Bob,B,bob@example.edu\n"
                      "cy,Cy,C,cy@example.edu\ndee,Dee,D,dee@example.edu\n")
    return {"root": root, "sub": sub, "roster": str(roster), "release": release, "fills": fills}


def grade(klass, out, *extra, env=None):
    cmd = [sys.executable, "-m", "autograder", "grade", "--course", COURSE, "--assignment", ASSIGNMENT,
           "--submissions", klass["sub"], "--roster", klass["roster"], "--out", str(out),
           "--cell-timeout", "20", "--timeout", "90", "--no-progress"] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=str(klass["root"]),
                          env=dict(os.environ, **(env or {})))


def results(out):
    with open(os.path.join(out, "results.json"), encoding="utf-8") as fh:
        return {r["student_id"]: r for r in json.load(fh)["results"]}


@pytest.fixture(scope="module")
def graded(klass):
    out = klass["root"] / "out"
    tmp = klass["root"] / "tmp"       # the command's own temp dir, to see what it leaves there
    tmp.mkdir()
    proc = grade(klass, out, "--workers", "2", env={"TMPDIR": str(tmp)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out, proc


def test_the_command_leaves_nothing_in_the_temp_dir(graded, klass):
    """Pool workers end with os._exit (no atexit hooks): their kernelspec dirs, sandbox
    folders and sockets must still be gone when the command returns."""
    assert sorted(os.listdir(klass["root"] / "tmp")) == []


def test_each_student_gets_the_points_the_graders_own_check_gives(graded):
    out, proc = graded
    r = results(out)
    assert {sid: x["score"] for sid, x in r.items()} == EXPECTED
    assert r["bob"]["parts"]["test_adam"]["mistakes"] == ["adam-eps-inside-sqrt"]
    assert r["dee"]["status"] == "missing"
    assert "sandbox:" in proc.stdout


def test_a_patched_report_over_unwritten_stubs_earns_nothing_and_is_flagged(graded):
    """The notebook's own tests all say PASSED; the grader's verdicts say what was written: nothing."""
    r = results(graded[0])["cy"]
    assert r["score"] == 0
    assert any(p["in_kernel"] for p in r["parts"].values())
    assert all(not p["attempted"] for gid, p in r["parts"].items())
    assert any(f["kind"] == "inconsistent" for f in r["flags"])


def test_every_student_has_a_feedback_page(graded):
    out = graded[0]
    for sid, r in results(out).items():
        assert r["feedback"] and os.path.exists(os.path.join(out, r["feedback"])), sid


def test_the_seed_of_the_hidden_scenarios_is_recorded_and_fresh_each_run(graded, klass):
    out = graded[0]
    with open(os.path.join(out, "results.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    seed = data.get("seed", (data.get("run") or {}).get("seed"))
    assert isinstance(seed, int)


def test_rerunning_into_the_same_folder_replaces_and_never_accumulates(graded, klass):
    out = graded[0]
    import sqlite3
    before = sqlite3.connect(os.path.join(out, "gradebook.db")).execute("select count(*) from grade").fetchone()
    proc = grade(klass, out, "--workers", "1", "--seed", "7")
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = sqlite3.connect(os.path.join(out, "gradebook.db")).execute("select count(*) from grade").fetchone()
    assert before == after
    assert {sid: x["score"] for sid, x in results(out).items()} == EXPECTED


def test_the_preflight_stops_the_run_when_the_sandboxed_kernel_cannot_import_the_checks(klass, tmp_path):
    """A grader-side fault must never become every student's zero: nothing is graded, and the
    command names the cause."""
    out = tmp_path / "out"
    proc = grade(klass, out, "--workers", "1", "--hide", os.path.join(ROOT, "autograder"))
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "pre-flight" in proc.stderr and "autograder" in proc.stderr
    assert not os.path.exists(out / "grades.csv") and not os.path.exists(out / "results.json")


def test_a_grader_fault_during_the_run_is_not_graded_never_a_zero(klass, tmp_path, monkeypatch):
    """If the recorder's sandbox cannot start for one student (twice), that row says "not
    graded" with the cause, the others are graded, and the run reports it."""
    from autograder.classgrade import worker
    real = worker.Worker.launcher

    def launcher(self, argv, workdir, lib, channel):
        if os.path.basename(os.path.dirname(workdir)) == "recorder" and self._current == "bob":
            raise OSError("sandbox exploded")
        return real(self, argv, workdir, lib, channel)
    real_grade = worker.Worker.grade

    def grade_one(self, task):
        self._current = task.who.student_id
        return real_grade(self, task)
    monkeypatch.setattr(worker.Worker, "launcher", launcher)
    monkeypatch.setattr(worker.Worker, "grade", grade_one)
    summary = pipeline.grade_class(COURSE, ASSIGNMENT, str(tmp_path / "out"), submissions=klass["sub"],
                                   roster=klass["roster"], executor="thread", timeout=90, cell_timeout=20,
                                   progress=False)
    by = {r.student_id: r for r in summary.results}
    assert by["bob"].status is Status.NOT_GRADED and by["bob"].score is None
    assert any("sandbox exploded" in f.message for f in by["bob"].flags)
    assert by["ann"].score == 110 and summary.not_graded == ["bob"]


def test_grade_command_runs_on_a_dask_cluster(klass):
    import distributed  # test extra: the Dask path must really run
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        out = klass["root"] / "out-dask"
        proc = grade(klass, out, "--executor", "dask", "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {sid: x["score"] for sid, x in results(out).items()} == EXPECTED


def test_an_unreachable_scheduler_is_named_within_seconds(klass, tmp_path):
    t0 = time.monotonic()
    proc = grade(klass, tmp_path / "out", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert proc.returncode == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in proc.stderr
    assert time.monotonic() - t0 < 60
    assert "Traceback" not in proc.stderr


def _snapshot(out):
    return {os.path.relpath(os.path.join(root, f), out): open(os.path.join(root, f), "rb").read()
            for root, _, files in os.walk(out) if ".work" not in root for f in files}


def test_a_run_that_stops_before_grading_leaves_the_previous_outputs_whole(graded, klass, tmp_path):
    """Grading again into the same folder with an unreachable scheduler, or with a pre-flight that
    fails, must not cost the instructor the last run's grades.csv, report and feedback."""
    out = tmp_path / "out"
    shutil.copytree(graded[0], out)
    before = _snapshot(out)
    assert "grades.csv" in before and any(k.startswith("feedback") for k in before)
    proc = grade(klass, out, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert _snapshot(out) == before
    proc = grade(klass, out, "--workers", "1", "--hide", os.path.join(ROOT, "autograder"))
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert _snapshot(out) == before


def test_dask_not_installed_is_named_with_how_to_install_it(klass, tmp_path):
    """`make demo` installs no Dask: --executor dask then says what to install, no traceback."""
    blocker = tmp_path / "no-dask" / "distributed"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("no Dask in this environment (test)")\n')
    proc = grade(klass, tmp_path / "out", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:8786",
                 env={"PYTHONPATH": str(blocker.parent)})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "--executor dask needs Dask's distributed package" in proc.stderr
    assert 'pip install -e ".[dask]"' in proc.stderr and "Traceback" not in proc.stderr


def test_grade_command_reports_a_missing_course_clearly(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--course", str(tmp_path),
                           "--submissions", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "source" in proc.stderr and "Traceback" not in proc.stderr


def test_grades_are_the_same_with_and_without_the_zygote(klass, graded):
    out = klass["root"] / "out-no-preload"
    proc = grade(klass, out, "--workers", "1", "--no-preload")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {sid: x["score"] for sid, x in results(out).items()} == EXPECTED


def test_a_new_gradebook_matches_the_one_nbgrader_creates(tmp_path):
    import sqlite3

    from nbgrader.api import Gradebook
    course.venv_on_path()
    course.new_gradebook(str(tmp_path / "ours.db"))
    Gradebook(f"sqlite:///{tmp_path / 'theirs.db'}").close()

    def schema(path):
        con = sqlite3.connect(path)
        try:
            return (sorted(con.execute("select type, name, tbl_name, sql from sqlite_master")),
                    list(con.execute("select version_num from alembic_version")))
        finally:
            con.close()
    assert schema(tmp_path / "ours.db") == schema(tmp_path / "theirs.db")


def _exporters():
    from nbconvert import HTMLExporter

    from autograder.classgrade.feedback import lean_html_exporter
    return HTMLExporter(template_name="classic"), lean_html_exporter(HTMLExporter)(template_name="classic")


def test_feedback_pages_without_images_skip_only_a_reserialisation():
    from bs4 import BeautifulSoup
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Adam\n\n*bias* & <b>correction</b>"),
                                         nbformat.v4.new_code_cell("x = 1 < 2\nprint(x)", outputs=[
                                             nbformat.v4.new_output("stream", text="True\n")])])
    full, lean = (e.from_notebook_node(nb)[0] for e in _exporters())
    assert "<img" not in lean
    assert str(BeautifulSoup(lean, features="html.parser")) == full


def test_feedback_pages_with_images_still_get_alt_text():
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": png})])])
    full, lean = (e.from_notebook_node(nb)[0] for e in _exporters())
    assert lean == full and 'alt="No description has been provided for this image"' in lean


def test_one_lean_exporter_renders_every_page_as_a_fresh_exporter_would():
    """The feedback exporter remembers highlighted code and rendered markdown between students:
    each page must still be exactly what nbconvert renders for that notebook alone (its own
    lexer, its own cells, attachments never remembered)."""
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    from autograder.classgrade.feedback import lean_html_exporter
    shared = nbformat.v4.new_markdown_cell("## Adam\n\n$\\hat m_t = m_t / (1 - \\beta_1^t)$")
    attached = nbformat.v4.new_markdown_cell("![x](attachment:x.png)", attachments={"x.png": {
        "image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="}})

    def notebook(code, lexer="ipython3", *extra):
        return nbformat.v4.new_notebook(cells=[shared, nbformat.v4.new_code_cell(code), *extra],
                                        metadata={"language_info": {"name": "python", "pygments_lexer": lexer}})
    pages = [notebook("m = beta1 * m + (1 - beta1) * g"), notebook("m = beta1 * m"),
             notebook("m = beta1 * m + (1 - beta1) * g", "python"), notebook("x = 1", "ipython3", attached),
             notebook("m = beta1 * m + (1 - beta1) * g")]
    lean = lean_html_exporter(HTMLExporter)(template_name="classic")
    for nb in pages:
        page = lean.from_notebook_node(nb)[0]
        fresh = HTMLExporter(template_name="classic").from_notebook_node(nb)[0]
        assert str(BeautifulSoup(page, features="html.parser")) == str(BeautifulSoup(fresh, features="html.parser"))
