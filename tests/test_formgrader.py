"""The formgrader on a grading output folder sees what grades.csv says, and manual grades reach the exports.

A small class (graded, wrong, crashed, missing, invalid, not graded, not on the roster) of the
real optimizers assignment is recorded into OUT; a Jupyter server with nbgrader's formgrader
extension is started on OUT (loopback, token auth) as `make formgrader` starts it, and the test
reads students and scores through the formgrader's own REST API (the routes of
nbgrader/server_extensions/formgrader/apihandlers.py), sets a manual score through it, and
checks that `nbgrader export` and our export command include it.
"""
import csv
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from autograder.classgrade import export, record
from autograder.classgrade.outcome import Status

from classresults import COURSE, make_class, place_worker_files, run_info, spec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`jupyter server` in OUT, as the Makefile's formgrader target runs it (lab not needed here)."""

    def __init__(self, out: str, tmp: str):
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=os.path.join(tmp, "runtime"), HOME=tmp,
                   JUPYTER_CONFIG_DIR=os.path.join(tmp, "jupyter-config"))
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        argv = [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}", "--no-browser",
                f"--ServerApp.root_dir={out}"]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        self.log = open(os.path.join(tmp, "server.log"), "w")
        self.proc = subprocess.Popen(argv, cwd=out, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/formgrader/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("the formgrader server did not start:\n" + open(self.log.name).read()[-3000:])
                time.sleep(0.3)

    def request(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
        return text

    def get(self, path: str):
        return json.loads(self.request("GET", path))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("out"))
    s = spec()
    results, unmatched = make_class(s)
    place_worker_files(out, results, s)
    template = record.make_template_gradebook(COURSE, "optimizers", str(tmp_path_factory.mktemp("t") / "gb.db"))
    record.write_outputs(out, s, results, unmatched, run_info(template))
    server = Server(out, str(tmp_path_factory.mktemp("server")))
    try:
        yield {"out": out, "spec": s, "results": results, "server": server}
    finally:
        server.close()


def grades_csv(out):
    with open(os.path.join(out, "grades.csv"), newline="", encoding="utf-8") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


def test_formgrader_lists_every_student_with_names_and_the_csv_score(graded):
    rows = grades_csv(graded["out"])
    students = {x["id"]: x for x in graded["server"].get("/formgrader/api/students")}
    assert set(students) == set(rows)
    for sid, row in rows.items():
        x = students[sid]
        assert (x["first_name"] or "", x["last_name"] or "", x["email"] or "") == \
            (row["first_name"], row["last_name"], row["email"])
        expected = 0.0 if row["score"] == "" else float(row["score"])       # not graded: see record.py
        assert x["score"] == pytest.approx(expected), sid
        assert x["max_score"] == pytest.approx(float(row["max_score"]))


def test_formgrader_submissions_and_per_cell_grades_equal_grades_csv(graded):
    """Every submission's total, and every grade cell of every autograded notebook, as in grades.csv."""
    server, s, rows = graded["server"], graded["spec"], grades_csv(graded["out"])
    subs = {x["student"]: x for x in server.get("/formgrader/api/submissions/optimizers")}
    assert set(subs) == {sid for sid, r in rows.items() if r["status"] in ("graded", "not graded")}
    assert subs["fay"]["needs_manual_grade"] is True
    notebooks = server.get("/formgrader/api/submitted_notebooks/optimizers/optimizers")
    with_notebook = {nb["student"]: nb for nb in notebooks}
    assert set(with_notebook) == {sid for sid, r in rows.items() if r["status"] == "graded"}
    for sid, nb in with_notebook.items():
        assert nb["score"] == pytest.approx(float(rows[sid]["score"]))
        grades = {g["name"]: g for g in server.get(f"/formgrader/api/grades?submission_id={nb['id']}")}
        assert set(grades) == {p.grade_id for p in s.parts}
        for p in s.parts:
            assert grades[p.grade_id]["auto_score"] == pytest.approx(float(rows[sid][p.grade_id])), (sid, p.grade_id)
            assert grades[p.grade_id]["needs_manual_grade"] is False
    page = server.request("GET", f"/formgrader/submissions/{with_notebook['bob_jones']['id']}")
    assert "test_adam" in page and "Adam" in page      # the autograded notebook renders for manual grading


def test_a_manual_score_set_in_the_formgrader_reaches_nbgrader_export_and_ours(graded):
    server, out = graded["server"], graded["out"]
    nb = next(x for x in server.get("/formgrader/api/submitted_notebooks/optimizers/optimizers")
              if x["student"] == "bob_jones")
    grade = next(g for g in server.get(f"/formgrader/api/grades?submission_id={nb['id']}") if g["name"] == "test_adam")
    changed = json.loads(server.request("PUT", f"/formgrader/api/grade/{grade['id']}",
                                        {"manual_score": 11.0, "extra_credit": None}))
    assert changed["manual_score"] == 11.0
    before = float(grades_csv(out)["bob_jones"]["score"])
    dest = os.path.join(out, "nbgrader-export.csv")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", dest], cwd=out,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with open(dest, newline="", encoding="utf-8") as fh:
        exported = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert float(exported["bob_jones"]["score"]) == before + 11.0
    assert export.main(["--out", out, "--format", "canvas"]) == 0
    after = grades_csv(out)["bob_jones"]
    assert float(after["score"]) == before + 11.0 and after["test_adam"] == "11"
    assert "manual-grade" in after["flags"]
    students = {x["id"]: x for x in server.get("/formgrader/api/students")}
    assert students["bob_jones"]["score"] == pytest.approx(before + 11.0)
    assert [r for r in graded["results"] if r.student_id == "dana"][0].status is Status.MISSING
