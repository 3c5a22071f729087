"""LMS exports: Canvas's gradebook CSV and Moodle's grade import CSV, as their documentation describes."""
import csv

import pytest

from autograder.classgrade import export, record

from classresults import COURSE, make_class, place_worker_files, run_info, spec


def rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return record.make_template_gradebook(COURSE, "optimizers", str(tmp_path_factory.mktemp("t") / "gradebook.db"))


def test_canvas_file_has_canvas_columns_points_possible_and_rostered_students(tmp_path):
    """Header "Student","ID","SIS User ID","SIS Login ID","Section","<name> (<id>)"; then the
    "Points Possible" row; then one row per rostered student, "Last, First", the roster id as
    SIS User ID; a not-graded student's cell is empty (Canvas leaves the grade alone), never 0."""
    s = spec()
    results, _ = make_class(s)
    made = export.write_exports(str(tmp_path), "canvas", s, results, run_info(), assignment_id="4242")
    table = rows(made["canvas"])
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "optimizers (4242)"]
    assert table[1][0].strip() == "Points Possible" and float(table[1][5]) == s.max_score
    body = {r[2]: r for r in table[2:]}
    assert set(body) == {r.student_id for r in results if r.on_roster}
    assert "gus" not in body                      # not on the roster: the LMS does not know him
    assert body["ada"][:2] == ["Lovelace, Ada", ""] and float(body["ada"][5]) == s.max_score
    assert float(body["bob_jones"][5]) == s.max_score - 25
    assert body["dana"][5] == "0" and body["eve"][5] == "0"
    assert body["fay"][5] == ""


def test_canvas_without_assignment_id_names_the_column_and_can_key_on_login(tmp_path):
    s = spec()
    results, _ = make_class(s)
    path = export.write_canvas(str(tmp_path / "c.csv"), s, results, canvas_id="sis_login_id")
    table = rows(path)
    assert table[0][-1] == "optimizers"
    assert all(r[2] == "" and r[3] for r in table[2:])


def test_moodle_file_identifies_by_email_and_idnumber_with_grade_and_feedback(tmp_path):
    """Columns "First name","Last name","ID number","Email address","<assignment>","Feedback"
    (map Email address -> useremail, or ID number -> useridnumber, in Moodle's import)."""
    s = spec()
    results, _ = make_class(s)
    made = export.write_exports(str(tmp_path), ["moodle"], s, results, run_info())
    table = rows(made["moodle"])
    assert table[0] == ["First name", "Last name", "ID number", "Email address", "optimizers", "Feedback"]
    body = {r[2]: r for r in table[1:]}
    assert set(body) == {r.student_id for r in results if r.on_roster}
    assert body["ada"][:5] == ["Ada", "Lovelace", "ada", "ada@example.org", f"{s.max_score:g}"]
    assert body["fay"][4] == "" and "not graded" in body["fay"][5]
    assert "test_adam 0/15" in body["bob_jones"][5]
    assert body["chen"][5].split("flags: ")[1].startswith("crash")


@pytest.mark.parametrize("text, expected", [
    ("canvas,moodle", ["canvas", "moodle"]), ("Moodle", ["moodle"]), ("", []), (["canvas", "canvas"], ["canvas"]),
])
def test_formats_flag(text, expected):
    assert export.parse_formats(text) == expected


def test_unknown_format_is_named():
    with pytest.raises(ValueError, match="blackboard"):
        export.parse_formats("canvas,blackboard")


def test_reexport_carries_manual_grades_into_grades_csv_and_the_lms_files(tmp_path, template, capsys):
    """After grading by hand in the formgrader, the export command puts the manual scores into
    grades.csv, Canvas and Moodle; a not-graded row graded by hand gets its score."""
    from nbgrader.api import Gradebook
    s = spec()
    results, unmatched = make_class(s)
    place_worker_files(str(tmp_path), results, s)
    out = record.write_outputs(str(tmp_path), s, results, unmatched, run_info(template))
    with Gradebook(f"sqlite:///{out.gradebook}", record.COURSE_ID) as gb:
        gb.find_grade("test_adam", "optimizers", "optimizers", "bob_jones").manual_score = 7.5
        for p in s.parts:
            gb.find_grade(p.grade_id, "optimizers", "optimizers", "fay").manual_score = 1.0
        gb.db.commit()
    assert export.main(["--out", str(tmp_path), "--format", "canvas,moodle"]) == 0
    printed = capsys.readouterr().out
    assert "canvas:" in printed and "moodle:" in printed
    grades = {r["id"]: r for r in csv.DictReader(open(tmp_path / "grades.csv", encoding="utf-8"))}
    assert float(grades["bob_jones"]["score"]) == s.max_score - 25 + 7.5
    assert grades["bob_jones"]["test_adam"] == "7.5" and "manual-grade" in grades["bob_jones"]["flags"]
    assert grades["fay"]["status"] == "graded" and float(grades["fay"]["score"]) == len(s.parts)
    canvas = {r[2]: r for r in rows(tmp_path / "canvas-optimizers.csv")[2:]}
    assert float(canvas["bob_jones"][5]) == s.max_score - 17.5 and float(canvas["fay"][5]) == len(s.parts)


def test_export_command_names_a_folder_that_is_not_an_output(tmp_path, capsys):
    assert export.main(["--out", str(tmp_path)]) == 2
    assert "results.json" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1+1)", "\tx"])
def test_a_name_never_becomes_a_spreadsheet_formula(name):
    """CSV injection: a roster or LMS name starting a formula is written with a leading quote."""
    from autograder.classgrade.record import spreadsheet_safe
    assert spreadsheet_safe(name) == "'" + name and spreadsheet_safe("Ann") == "Ann"
