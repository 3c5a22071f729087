"""The record stage: OUT as an nbgrader course root whose gradebook says what grades.csv says."""
import csv
import os
import subprocess
import sys

import pytest

from autograder.classgrade import record
from autograder.classgrade.flags import Kind
from autograder.classgrade.outcome import Status

from classresults import COURSE, make_class, place_worker_files, run_info, spec


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The gradebook ``nbgrader generate_assignment`` makes for optimizers (built once)."""
    path = str(tmp_path_factory.mktemp("template") / "gradebook.db")
    return record.make_template_gradebook(COURSE, "optimizers", path)


def graded_class(out, template):
    s = spec()
    results, unmatched = make_class(s)
    place_worker_files(str(out), results, s)
    outputs = record.write_outputs(str(out), s, results, unmatched, run_info(template))
    return s, results, unmatched, outputs


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def nbgrader_export(out) -> dict[str, dict]:
    """``nbgrader export`` run in OUT, as an instructor runs it: {student_id: row}."""
    dest = os.path.join(str(out), "nbgrader-export.csv")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", dest], cwd=str(out),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(dest)
    ids = [r["student_id"] for r in rows]
    assert len(ids) == len(set(ids)), f"nbgrader export lists a student twice: {ids}"
    return {r["student_id"]: r for r in rows}


def test_nbgrader_export_equals_grades_csv_for_every_student(tmp_path, template):
    """Every student of grades.csv (graded, crashed, missing, invalid, not on the roster) has the
    same score, names and email in ``nbgrader export``; a not-graded row is blank in grades.csv
    and 0 in nbgrader's export (nbgrader cannot store "no score": see record's docstring)."""
    s, results, _, outputs = graded_class(tmp_path, template)
    ours = {r["id"]: r for r in read_csv(outputs.grades_csv)}
    theirs = nbgrader_export(tmp_path)
    assert set(ours) == set(theirs) == {r.student_id for r in results}
    for sid, row in ours.items():
        exported = theirs[sid]
        assert (exported["first_name"], exported["last_name"], exported["email"]) == \
            (row["first_name"], row["last_name"], row["email"]), sid
        assert float(exported["max_score"]) == float(row["max_score"]) == s.max_score
        if row["status"] == "not graded":
            assert row["score"] == "" and float(exported["score"]) == 0.0
        else:
            assert float(exported["score"]) == pytest.approx(float(row["score"]), abs=1e-9), sid
    assert float(ours["ada"]["score"]) == s.max_score
    assert float(ours["bob_jones"]["score"]) == s.max_score - 15 - 10
    assert float(ours["dana"]["score"]) == 0 and ours["dana"]["status"] == "missing"
    assert ours["chen"]["status"] == "graded" and float(ours["chen"]["test_nadam"]) == 0


def test_grades_csv_columns_and_reasons(tmp_path, template):
    """id, names, email, status, score, max, one column per part, flags (labels), reason (one
    ``Flag.line()`` per cause); rostered students exactly once; not graded leaves scores blank."""
    s, results, _, outputs = graded_class(tmp_path, template)
    with open(outputs.grades_csv, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == (["id", "first_name", "last_name", "email", "status", "score", "max_score"]
                      + [p.grade_id for p in s.parts] + ["flags", "reason"])
    rows = {r["id"]: r for r in read_csv(outputs.grades_csv)}
    by_id = {r.student_id: r for r in results}
    for sid, row in rows.items():
        flags = by_id[sid].sorted_flags()
        assert row["reason"].split("\n") == ([f.line() for f in flags] if flags else [""])
        assert row["flags"].split("; ") == (list(dict.fromkeys(f.kind.label for f in flags)) or [""])
    fay = rows["fay"]
    assert fay["status"] == "not graded" and fay["score"] == "" and all(fay[p.grade_id] == "" for p in s.parts)
    assert fay["flags"] == "grader-error" and "could not start" in fay["reason"]
    assert rows["chen"]["flags"].startswith("crash")
    assert rows["gus"]["flags"].split("; ") == ["not-on-roster"]


def test_rerun_into_the_same_folder_replaces(tmp_path, template):
    """A second run into OUT gives the same gradebook, not twice the rows (formgrader showed 220/110)."""
    graded_class(tmp_path, template)
    first = nbgrader_export(tmp_path)
    s, results, unmatched, _ = graded_class(tmp_path, template)
    import sqlite3
    con = sqlite3.connect(os.path.join(str(tmp_path), "gradebook.db"))
    try:
        n_students = con.execute("select count(*) from student").fetchone()[0]
        n_subs = con.execute("select count(*) from submitted_assignment").fetchone()[0]
        n_grades = con.execute("select count(*) from grade").fetchone()[0]
    finally:
        con.close()
    with_submission = [r for r in results if r.status in (Status.GRADED, Status.NOT_GRADED)]
    assert n_students == len(results)
    assert n_subs == len(with_submission)
    assert n_grades == len(with_submission) * len(s.parts)
    assert nbgrader_export(tmp_path) == first


def test_formgrader_counts_the_submissions_as_autograded(tmp_path, template):
    """nbgrader's own API in OUT sees every submission with a notebook as autograded (the
    submitted timestamp equals the gradebook's), so its pages show them, not "not submitted"."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    graded_class(tmp_path, template)
    c = Config()
    c.CourseDirectory.root = str(tmp_path)
    c.CourseDirectory.db_url = f"sqlite:///{tmp_path}/gradebook.db"
    c.CourseDirectory.course_id = record.COURSE_ID
    api = NbGraderAPI(config=c)
    assert api.get_autograded_students("optimizers") == {"ada", "bob_jones", "chen", "gus"}
    subs = {x["student"]: x for x in api.get_submissions("optimizers")}
    assert set(subs) == {"ada", "bob_jones", "chen", "fay", "gus"}
    assert subs["ada"]["score"] == spec().max_score and subs["fay"]["needs_manual_grade"] is True
    students = {x["id"]: x for x in api.get_students()}
    assert set(students) == {"ada", "bob_jones", "chen", "dana", "eve", "fay", "gus"}
    assert (students["dana"]["first_name"], students["dana"]["last_name"]) == ("Dana", "Scully")
    assert api.get_submission("optimizers", "dana")["submitted"] is False


def test_manual_grades_reach_the_exports_and_survive_a_rerun(tmp_path, template):
    """A score set by hand in the gradebook replaces the decided one in grades.csv (flagged
    manual-grade); re-grading into OUT keeps the earlier gradebook instead of destroying it."""
    from nbgrader.api import Gradebook
    s, results, _, outputs = graded_class(tmp_path, template)
    with Gradebook(f"sqlite:///{outputs.gradebook}", record.COURSE_ID) as gb:
        gb.find_grade("test_adam", "optimizers", "optimizers", "bob_jones").manual_score = 12.0
        for p in s.parts:
            gb.find_grade(p.grade_id, "optimizers", "optimizers", "fay").manual_score = p.points
        gb.db.commit()
    merged = {r.student_id: r for r in record.with_manual_grades(str(tmp_path), s, results)}
    assert merged["bob_jones"].parts["test_adam"].score == 12.0
    assert merged["bob_jones"].score == s.max_score - 15 - 10 + 12
    assert Kind.MANUAL_GRADE in {f.kind for f in merged["bob_jones"].flags}
    assert merged["fay"].status is Status.GRADED and merged["fay"].score == s.max_score
    assert merged["ada"] is next(r for r in results if r.student_id == "ada")
    exported = nbgrader_export(tmp_path)
    assert float(exported["bob_jones"]["score"]) == merged["bob_jones"].score
    again = record.write_outputs(str(tmp_path), s, results, [], run_info(template))
    assert again.previous_gradebook and os.path.exists(again.previous_gradebook)
    assert float(nbgrader_export(tmp_path)["bob_jones"]["score"]) == s.max_score - 25


def test_results_json_round_trips(tmp_path, template):
    s, results, unmatched, outputs = graded_class(tmp_path, template)
    back, un, run = record.load_results(str(tmp_path))
    assert [r.to_dict() for r in back] == [r.to_dict() for r in sorted(results, key=lambda r: r.student_id)]
    assert un == unmatched and run.seed == 1234 and run.sandbox.startswith("sandbox:")


@pytest.mark.parametrize("mutate, message", [
    (lambda rs: rs.append(rs[0]), "two results"),
    (lambda rs: rs[0].parts.__setitem__("test_bogus", rs[0].parts["test_sgd"]), "does not have"),
])
def test_results_the_outputs_cannot_represent_are_refused(tmp_path, template, mutate, message):
    results, unmatched = make_class()
    mutate(results)
    with pytest.raises(ValueError, match=message):
        record.write_outputs(str(tmp_path), spec(), results, unmatched, run_info(template))


def test_three_hundred_students_all_reach_the_gradebook(tmp_path, template):
    """The bulk insert writes every row (its speed is measured by bench, not asserted here)."""
    from dataclasses import replace
    s = spec()
    base, _ = make_class(s)
    results = [replace(base[i % len(base)], student_id=f"s{i:03d}") for i in range(300)]
    record.write_outputs(str(tmp_path), s, results, [], run_info(template))
    exported = nbgrader_export(tmp_path)
    assert len(exported) == 300
    for r in results:
        assert float(exported[r.student_id]["score"]) == (r.score or 0.0)


def test_plain_nbgrader_export_in_out_does_not_overwrite_grades_csv(tmp_path, template):
    """nbgrader's default target is grades.csv: in OUT it writes nbgrader-grades.csv instead."""
    _, _, _, outputs = graded_class(tmp_path, template)
    before = open(outputs.grades_csv, encoding="utf-8").read()
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "export"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert open(outputs.grades_csv, encoding="utf-8").read() == before
    exported = read_csv(os.path.join(str(tmp_path), record.NBGRADER_EXPORT))
    assert {r["student_id"] for r in exported} == {r["id"] for r in read_csv(outputs.grades_csv)}


def test_an_unreadable_timestamp_never_stops_the_outputs(tmp_path, template):
    s = spec()
    results, unmatched = make_class(s)
    results[0].timestamp = "2026-11-30-23-59-30"       # the LMS's form, which nbgrader's parse_utc misreads
    record.write_outputs(str(tmp_path), s, results, unmatched, run_info(template))
    assert float(nbgrader_export(tmp_path)["ada"]["score"]) == s.max_score


def test_write_all_writes_every_output(tmp_path, template):
    s = spec()
    results, unmatched = make_class(s)
    place_worker_files(str(tmp_path), results, s)
    outputs = record.write_all(str(tmp_path), s, results, unmatched, run_info(template), exports="canvas,moodle")
    for path in (outputs.grades_csv, outputs.results_json, outputs.gradebook, outputs.config, outputs.report,
                 *outputs.exports.values()):
        assert os.path.isfile(path), path
    assert set(outputs.exports) == {"canvas", "moodle"}
