"""Grade files an LMS imports as they are: Canvas's gradebook CSV and Moodle's grade import CSV.

Both are written from the SubmissionResults (with any manual grades from the formgrader
merged in, :func:`.record.with_manual_grades`), for rostered students only (an LMS rejects
or ignores people it does not know; students not on the roster stay in grades.csv and the
report). A ``not graded`` row (a grader fault) has an EMPTY grade cell, never 0: both LMSs
leave a grade they are given blank unchanged, so a fault of ours cannot overwrite a grade.

Canvas (``OUT/canvas-<assignment>.csv``)
    Canvas imports the layout of its own gradebook export: the columns ``Student`` (as
    "Last, First"), ``ID`` (Canvas's user id), ``SIS User ID``, ``SIS Login ID``, ``Section``,
    then one column per assignment named ``<name> (<Canvas assignment id>)``; its export's
    second row is ``Points Possible`` with each assignment's maximum. Canvas matches a row to a
    student by ID, SIS User ID or SIS Login ID, so one of them is enough; we write the roster id
    as ``SIS User ID`` (or as ``SIS Login ID`` with ``canvas_id="sis_login_id"``) and leave
    Canvas's internal ``ID`` empty. Without an assignment id the column is ``<name>`` and
    Canvas creates a new assignment on import.
    Sources: Canvas Guides, "How do I import grades in the Gradebook?" and "How do I export
    grades in the Gradebook?" (the export's columns and read-only columns), as summarised by
    Ohio State's "Import a CSV File into Carmen Grades"
    (https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades:
    "Student Name (last name, first name) OR Student ID OR Student SIS User ID ... SIS Login
    ID ... Section ... Assignment Name") and the nemogb notes on the export
    (https://nemogb-dev.github.io/nemogb-r/articles/detailed-canvas-export-info.html: columns
    "Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignments as
    "Quiz 1 (87568490)").

Moodle (``OUT/moodle-<assignment>.csv``)
    Moodle's "Import from CSV" takes any header row and asks which column identifies the user
    ("Map from" a column "to" ``useremail`` / ``useridnumber`` / ``username``) and which column
    feeds which grade item (and its feedback). We write the fields of Moodle's own grade
    export that identify a user, ``First name``, ``Last name``, ``ID number``, ``Email
    address``, then the grade column ``<assignment>`` and ``Feedback`` (the flags' labels and
    the per-part scores, one line). Map "Email address" to useremail (or "ID number" to
    useridnumber), "<assignment>" to the grade item and "Feedback" to its feedback.
    Source: MoodleDocs, "Grade import" (https://docs.moodle.org/311/en/Grade_import: "Change both
    dropdowns to: 'Email Address' to 'useremail', or to 'Id Number' to 'useridnumber'"; "Importing
    feedback will also overwrite any grades ... include both feedback and grades"; email
    addresses are case sensitive).

Run ``python -m autograder.classgrade.export --out OUT [--format canvas,moodle]`` after
grading by hand in the formgrader: it rewrites grades.csv and the LMS files from
results.json and the gradebook's manual scores.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

from .outcome import Status, SubmissionResult
from .protocol import AssignmentSpec
from .record import RunInfo, spreadsheet_safe

FORMATS = ("canvas", "moodle")

CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_HEADER = ("First name", "Last name", "ID number", "Email address")


def parse_formats(text: str | list | tuple | None) -> list[str]:
    """``"canvas,moodle"`` -> ["canvas", "moodle"]; an unknown name is an error naming it."""
    if not text:
        return []
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [n.strip().lower() for n in names if n.strip()]
    bad = [n for n in names if n not in FORMATS]
    if bad:
        raise ValueError(f"unknown export format(s) {', '.join(bad)}: choose from {', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def _grade(r: SubmissionResult) -> str:
    return "" if r.score is None else f"{r.score:g}"


def _rostered(results: list[SubmissionResult]) -> list[SubmissionResult]:
    return sorted((r for r in results if r.on_roster), key=lambda r: r.student_id)


def write_canvas(path: str, spec: AssignmentSpec, results: list[SubmissionResult], *,
                 assignment_id: str | None = None, canvas_id: str = "sis_user_id", section: str = "") -> str:
    """Canvas's gradebook import CSV (see the module docstring)."""
    if canvas_id not in ("sis_user_id", "sis_login_id"):
        raise ValueError(f"canvas_id must be sis_user_id or sis_login_id, not {canvas_id!r}")
    column = f"{spec.name} ({assignment_id})" if assignment_id else spec.name
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CANVAS_HEADER + (column,))
        w.writerow(("    Points Possible", "", "", "", "", f"{spec.max_score:g}"))
        for r in _rostered(results):
            name = ", ".join(x for x in (r.last_name, r.first_name) if x) or r.student_id
            sis_user, sis_login = (r.student_id, "") if canvas_id == "sis_user_id" else ("", r.student_id)
            w.writerow((spreadsheet_safe(name), "", sis_user, sis_login, section, _grade(r)))
    return path


def _feedback(spec: AssignmentSpec, r: SubmissionResult) -> str:
    if r.status is Status.NOT_GRADED:
        head = "not graded (a grader fault, not yours): your instructor will grade it"
    else:
        head = f"{r.status.value}: {r.score:g}/{r.max_score:g}"
        if r.parts:
            head += " (" + ", ".join(f"{gid} {p.score:g}/{p.points:g}" for gid, p in r.parts.items()) + ")"
    labels = list(dict.fromkeys(f.kind.label for f in r.sorted_flags()))
    return head + (("; flags: " + ", ".join(labels)) if labels else "")


def write_moodle(path: str, spec: AssignmentSpec, results: list[SubmissionResult]) -> str:
    """Moodle's grade import CSV (see the module docstring)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(MOODLE_HEADER + (spec.name, "Feedback"))
        for r in _rostered(results):
            w.writerow((spreadsheet_safe(r.first_name), spreadsheet_safe(r.last_name), r.student_id,
                        spreadsheet_safe(r.email), _grade(r), _feedback(spec, r)))
    return path


def write_exports(out: str, formats, spec: AssignmentSpec, results: list[SubmissionResult], run: RunInfo,
                  **options) -> dict[str, str]:
    """Write each requested LMS file into ``out``: ``{format: path}``.

    ``formats``: "canvas,moodle" or a list. ``options`` go to the writer: for Canvas
    ``assignment_id`` (its assignment id, for the column name), ``canvas_id``, ``section``.
    """
    made = {}
    for name in parse_formats(formats):
        path = os.path.join(out, f"{name}-{spec.name}.csv")
        if name == "canvas":
            keys = ("assignment_id", "canvas_id", "section")
            made[name] = write_canvas(path, spec, results, **{k: v for k, v in options.items() if k in keys})
        else:
            made[name] = write_moodle(path, spec, results)
    return made


def reexport(out: str, formats, spec: AssignmentSpec | None = None, **options) -> dict[str, str]:
    """grades.csv and the LMS files again, with the formgrader's manual scores merged in."""
    from . import protocol, record
    results, unmatched, run = record.load_results(out)
    spec = spec or protocol.load_spec(out, run.assignment)
    results = record.with_manual_grades(out, spec, results)
    made = {"grades.csv": record.write_grades_csv(os.path.join(out, "grades.csv"), spec, results)}
    made.update(write_exports(out, formats, spec, results, run, **options))
    return made


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m autograder.classgrade.export",
                                 description="Rewrite grades.csv and LMS grade files of a grading output folder, "
                                             "with the scores set by hand in its formgrader.")
    ap.add_argument("--out", required=True, help="the grading output folder (holds results.json, gradebook.db)")
    ap.add_argument("--format", default="canvas,moodle", help="comma-separated: canvas, moodle (default both)")
    ap.add_argument("--canvas-assignment-id", help="Canvas's id of the assignment (the column '<name> (<id>)')")
    ap.add_argument("--canvas-id", default="sis_user_id", choices=("sis_user_id", "sis_login_id"),
                    help="which Canvas column holds the roster id")
    args = ap.parse_args(argv)
    try:
        made = reexport(args.out, args.format, assignment_id=args.canvas_assignment_id, canvas_id=args.canvas_id)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, path in made.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
