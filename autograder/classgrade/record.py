"""Record: every output file of a class run, written from the decided SubmissionResults alone.

:func:`write_outputs` turns the output folder ``OUT`` into an nbgrader course root that shows
exactly what ``grades.csv`` shows:

``OUT/nbgrader_config.py``
    ``course_id`` and ``db_url`` (``OUT/gradebook.db``), so ``nbgrader export`` and the
    formgrader run in ``OUT`` need no flags; ``nbgrader export`` writes
    ``OUT/nbgrader-grades.csv`` (its default, grades.csv, would overwrite ours).
``OUT/source/<assignment>/``
    a copy of the instructor's source, so the formgrader lists the assignment.
``OUT/autograded/<student>/<assignment>/``
    the autograded notebooks (written by the workers; the formgrader's manual grading shows
    them from there).
``OUT/submitted/<student>/<assignment>/timestamp.txt``
    only for students with an autograded notebook and a timestamp: nbgrader's formgrader
    counts a submission as autograded only when this timestamp equals the gradebook's.
``OUT/gradebook.db``
    made FRESH every run (re-running replaces, never accumulates): the assignment's notebook
    and cells from ``nbgrader generate_assignment``'s gradebook, every student (rostered or
    graded) with names and email, and one submission per student who handed in a gradable
    notebook, each grade cell's ``auto_score`` the decided part score. A previous gradebook
    holding manual grades is kept as ``gradebook-<time>.db`` (its path is in
    :attr:`Outputs.previous_gradebook`), never silently overwritten.
``OUT/grades.csv``
    one row per student (every rostered student exactly once).
``OUT/results.json``
    ``SubmissionResult.to_dict()`` of every row, the run information and unmatched uploads.

How each status appears (``nbgrader export`` in OUT prints the same score as grades.csv for
every row but one kind, by design):

* graded: a submission with the decided auto_scores; grades.csv and nbgrader show the score.
* missing, invalid: the student, no submission; both show 0 (grades.csv gives the reason).
* not graded: a submission whose grades are unscored and marked ``needs_manual_grade``;
  grades.csv leaves score and parts *blank* (reason ``grader-error: ...``), nbgrader's export
  shows 0 because it cannot store "no score", and its formgrader lists the row as "needs
  manual grading".

A grader fault is never a zero the grade files believe: grades.csv and the LMS exports leave
the score blank; in nbgrader's own export the row is 0 *and* flagged as needing manual
grading. Grading it by hand in the formgrader (or re-running after fixing the cause) gives it
a score; :func:`with_manual_grades` then carries the manual scores into grades.csv and the
LMS exports (``python -m autograder.classgrade.export --out OUT``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import sqlite3
from dataclasses import asdict, dataclass, field, replace

from .flags import Flag, Kind
from .outcome import PartScore, Status, SubmissionResult
from .protocol import AssignmentSpec

from .course import COURSE_ID, make_template_gradebook
#: Where a plain ``nbgrader export`` run in OUT writes (nbgrader's default, grades.csv, is ours).
NBGRADER_EXPORT = "nbgrader-grades.csv"


@dataclass
class RunInfo:
    """What one class run was: every output records it (results.json, the report).

    ``sandbox`` is the one-line description of the confinement the run used (as the command
    prints it); ``limits`` the per-submission limits (e.g. ``{"timeout_s": 300,
    "cell_timeout_s": 60, "memory_mb": 3072, "workers": 2}``); ``started``/``finished`` ISO 8601
    UTC. ``course`` is the instructor's nbgrader course root (its ``source/<assignment>`` is
    copied into OUT); ``template_gradebook`` a gradebook ``nbgrader generate_assignment`` made
    for the assignment (built from ``course`` when None).
    """

    assignment: str
    seed: int | None = None
    sandbox: str = ""
    limits: dict = field(default_factory=dict)
    started: str = ""
    finished: str = ""
    seconds: float = 0.0
    version: str = ""
    course: str | None = None
    template_gradebook: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunInfo":
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Outputs:
    """Where :func:`write_outputs` put things (absolute paths)."""

    out: str
    grades_csv: str
    results_json: str
    gradebook: str
    config: str
    previous_gradebook: str | None = None    # an earlier gradebook with manual grades, kept
    report: str | None = None                # OUT/report.html (write_all)
    exports: dict = field(default_factory=dict)   # {format: path} of the LMS files (write_all)


# ------------------------------------------------------------------------------ entry point
def write_outputs(out: str, spec: AssignmentSpec, results: list[SubmissionResult],
                  unmatched: list[tuple[str, str]], run: RunInfo) -> Outputs:
    """Write the gradebook, grades.csv, results.json and the course-root files into ``out``.

    ``results``: one SubmissionResult per student (rostered or not), as ``decide()`` made them;
    ``unmatched``: ``(upload name, reason)`` of files attributed to nobody.
    Raises ValueError naming the cause for results the outputs cannot represent (a student
    twice, a part the assignment does not have).
    """
    _check(spec, results)
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    config = write_course_root(out, spec, run)
    previous = fresh_gradebook(out, spec, results, run)
    write_submitted_timestamps(out, spec, results)
    grades = write_grades_csv(os.path.join(out, "grades.csv"), spec, results)
    rjson = write_results_json(os.path.join(out, "results.json"), results, unmatched, run)
    return Outputs(out, grades, rjson, os.path.join(out, "gradebook.db"), config, previous)


def write_all(out: str, spec: AssignmentSpec, results: list[SubmissionResult],
              unmatched: list[tuple[str, str]], run: RunInfo, exports=()) -> Outputs:
    """Every output of a run: :func:`write_outputs`, then ``OUT/report.html``
    (:func:`.report.write_class_report`) and the LMS files ``exports`` names ("canvas,moodle",
    :func:`.export.write_exports`)."""
    from .export import write_exports
    from .report import write_class_report
    outputs = write_outputs(out, spec, results, unmatched, run)
    outputs.report = write_class_report(os.path.join(outputs.out, "report.html"), spec, results, unmatched, run)
    outputs.exports = write_exports(outputs.out, exports, spec, results, run)
    return outputs


def _check(spec: AssignmentSpec, results: list[SubmissionResult]) -> None:
    seen, parts = set(), {p.grade_id for p in spec.parts}
    for r in results:
        if r.student_id in seen:
            raise ValueError(f"student {r.student_id!r} has two results; every student must appear once")
        seen.add(r.student_id)
        extra = set(r.parts) - parts
        if extra:
            raise ValueError(f"result of {r.student_id!r} scores part(s) {sorted(extra)} that "
                             f"{spec.name} does not have (its parts: {sorted(parts)})")


# ------------------------------------------------------------------------------ course root
def write_course_root(out: str, spec: AssignmentSpec, run: RunInfo) -> str:
    """``OUT/nbgrader_config.py`` and ``OUT/source/<assignment>/`` (a fresh copy)."""
    config = os.path.join(out, "nbgrader_config.py")
    with open(config, "w", encoding="utf-8") as fh:
        fh.write('"""nbgrader configuration of a class grading output folder (written by the autograder).\n\n'
                 'Run `nbgrader export` or the formgrader here: they read gradebook.db below, which\n'
                 'holds exactly the scores of grades.csv. Re-grading into this folder replaces it.\n"""\n'
                 "import os\n\n"
                 "c = get_config()  # noqa: F821 - provided by nbgrader\n"
                 f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
                 "c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))\n"
                 "c.CourseDirectory.db_url = 'sqlite:///' + os.path.join(c.CourseDirectory.root, 'gradebook.db')\n"
                 "# `nbgrader export` here must not overwrite the autograder's grades.csv (another format)\n"
                 f"c.ExportPlugin.to = {NBGRADER_EXPORT!r}\n")
    if run.course:
        src = os.path.join(run.course, "source", spec.name)
        dest = os.path.join(out, "source", spec.name)
        if os.path.abspath(src) != os.path.abspath(dest):
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return config


# ------------------------------------------------------------------------------ gradebook
def _has_manual_grades(db: str) -> bool:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute("select count(*) from grade where manual_score is not null "
                               "or extra_credit is not null").fetchone()[0] > 0
        finally:
            con.close()
    except sqlite3.Error:
        return False


def _utc_naive(timestamp: str | None) -> dt.datetime | None:
    """ISO 8601 -> naive UTC datetime (how nbgrader stores timestamps)."""
    if not timestamp:
        return None
    try:
        t = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None      # informational only: an unreadable timestamp never stops the outputs
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t


def has_autograded(out: str, spec: AssignmentSpec, sid: str) -> bool:
    return os.path.isfile(os.path.join(out, "autograded", sid, spec.name, spec.notebook + ".ipynb"))


def fresh_gradebook(out: str, spec: AssignmentSpec, results: list[SubmissionResult],
                    run: RunInfo) -> str | None:
    """``OUT/gradebook.db`` from scratch: template, students, submissions, decided scores.

    All rows go in through one SQLAlchemy session and one commit (nbgrader's per-call API
    commits per student: 300 students took minutes). Returns the path an earlier gradebook
    with manual grades was moved to, or None.
    """
    from nbgrader.api import Comment, Grade, Gradebook, Student, SubmittedAssignment, SubmittedNotebook
    dest = os.path.join(out, "gradebook.db")
    previous = None
    if os.path.exists(dest):
        if _has_manual_grades(dest):
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            previous = os.path.join(out, f"gradebook-{stamp}.db")
            os.replace(dest, previous)
        else:
            os.remove(dest)
    tmp = dest + ".new"
    if run.template_gradebook:
        shutil.copy(run.template_gradebook, tmp)
    elif run.course:
        make_template_gradebook(run.course, spec.name, tmp)
    else:
        raise ValueError("RunInfo needs template_gradebook or course: the gradebook's cells come from "
                         "the assignment's source notebook")
    _set_course_id(tmp)
    with Gradebook(f"sqlite:///{tmp}", COURSE_ID) as gb:
        assignment = gb.find_assignment(spec.name)
        notebook = [nb for nb in assignment.notebooks if nb.name == spec.notebook]
        if not notebook:
            raise ValueError(f"the template gradebook has no notebook {spec.notebook!r} in {spec.name}")
        notebook = notebook[0]
        grade_cells = list(notebook.grade_cells)
        task_cells = list(notebook.task_cells)
        comment_cells = list(notebook.solution_cells) + task_cells
        known = {c.name for c in grade_cells}
        missing_cells = [p.grade_id for p in spec.parts if p.grade_id not in known]
        if missing_cells:
            raise ValueError(f"the template gradebook lacks grade cell(s) {missing_cells} of {spec.name}: "
                             "is it made from the same source notebook?")
        rows = []
        for r in results:
            # empty strings, not NULL: the formgrader prints NULL names as "None, None"
            student = Student(id=r.student_id, first_name=r.first_name or "", last_name=r.last_name or "",
                              email=r.email or "")
            rows.append(student)
            if r.status not in (Status.GRADED, Status.NOT_GRADED):
                continue          # missing, invalid: a student with nothing gradable handed in
            sub = SubmittedAssignment(assignment=assignment, student=student, timestamp=_utc_naive(r.timestamp))
            snb = SubmittedNotebook(notebook=notebook, assignment=sub, flagged=r.needs_review,
                                    late_submission_penalty=0.0)
            for cell in grade_cells:
                part = r.parts.get(cell.name) if r.status is Status.GRADED else None
                Grade(cell_id=cell.id, notebook=snb, auto_score=None if part is None else float(part.score),
                      needs_manual_grade=part is None)
            for cell in comment_cells:
                Comment(cell_id=cell.id, notebook=snb)
            for cell in task_cells:
                Grade(cell_id=cell.id, notebook=snb, needs_manual_grade=True)
            rows.append(sub)
        gb.db.add_all(rows)
        gb.db.commit()
    os.replace(tmp, dest)
    return previous


def _set_course_id(db: str) -> None:
    """The template's course rows renamed to :data:`COURSE_ID` (workers' and OUT's config agree)."""
    con = sqlite3.connect(db)
    try:
        ids = [r[0] for r in con.execute("select id from course")]
        if ids and ids != [COURSE_ID]:
            con.execute("pragma foreign_keys=off")
            con.execute("insert or ignore into course (id) values (?)", (COURSE_ID,))
            for table in ("assignment", "student"):
                columns = [row[1] for row in con.execute(f"pragma table_info({table})")]
                if "course_id" in columns:
                    con.execute(f"update {table} set course_id=?", (COURSE_ID,))
            con.execute("delete from course where id != ?", (COURSE_ID,))
            con.commit()
    finally:
        con.close()


def write_submitted_timestamps(out: str, spec: AssignmentSpec, results: list[SubmissionResult]) -> None:
    """``OUT/submitted/<sid>/<a>/timestamp.txt`` where nbgrader's formgrader needs it.

    nbgrader counts a gradebook submission as *autograded* only when the submitted folder's
    timestamp equals the gradebook's; without it the student's page in the formgrader says
    "not submitted". Written only for rows with an autograded notebook and a timestamp; stale
    ones from an earlier run are removed.
    """
    base = os.path.join(out, "submitted")
    wanted = {}
    for r in results:
        ts = _utc_naive(r.timestamp)
        if ts is not None and r.status in (Status.GRADED, Status.NOT_GRADED) and has_autograded(out, spec, r.student_id):
            wanted[r.student_id] = ts
    if os.path.isdir(base):
        for sid in os.listdir(base):
            stale = os.path.join(base, sid, spec.name, "timestamp.txt")
            if sid not in wanted and os.path.isfile(stale):
                os.remove(stale)
    for sid, ts in wanted.items():
        d = os.path.join(base, sid, spec.name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "timestamp.txt"), "w", encoding="utf-8") as fh:
            fh.write(ts.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))


# ------------------------------------------------------------------------------ grades.csv
def _num(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


#: what a spreadsheet reads as a formula at the start of a cell (OWASP's CSV injection advice)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a cell no spreadsheet runs: a leading ``'`` when it would start a formula.
    Applied to the free text students or rosters supply (names, emails, reasons), not to ids,
    which an LMS import matches exactly."""
    return "'" + text if isinstance(text, str) and text.startswith(_FORMULA_START) else text


def grade_rows(spec: AssignmentSpec, results: list[SubmissionResult]) -> tuple[list[str], list[list[str]]]:
    """grades.csv's header and rows (also the source of the report's table)."""
    header = ["id", "first_name", "last_name", "email", "status", "score", "max_score"]
    header += [p.grade_id for p in spec.parts] + ["flags", "reason"]
    rows = []
    for r in sorted(results, key=lambda r: r.student_id):
        flags = r.sorted_flags()
        labels = list(dict.fromkeys(f.kind.label for f in flags))
        row = [r.student_id, r.first_name, r.last_name, r.email, r.status.value, _num(r.score), _num(r.max_score)]
        for p in spec.parts:
            part = r.parts.get(p.grade_id)
            row.append("" if r.status is Status.NOT_GRADED or part is None else _num(part.score))
        row += ["; ".join(labels), "\n".join(f.line() for f in flags)]
        rows.append(row)
    return header, rows


def write_grades_csv(path: str, spec: AssignmentSpec, results: list[SubmissionResult]) -> str:
    """One row per student: id, names, email, status, score (blank when not graded), max,
    one column per part, the flags' labels and one reason line per flag (``Flag.line()``)."""
    header, rows = grade_rows(spec, results)
    free_text = [header.index(c) for c in ("first_name", "last_name", "email", "reason")]
    rows = [[spreadsheet_safe(v) if i in free_text else v for i, v in enumerate(row)] for row in rows]
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------ results.json
def write_results_json(path: str, results: list[SubmissionResult], unmatched: list[tuple[str, str]],
                       run: RunInfo) -> str:
    data = {"run": run.to_dict(),
            "results": [r.to_dict() for r in sorted(results, key=lambda r: r.student_id)],
            "unmatched": [{"name": n, "reason": why} for n, why in unmatched]}
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, ensure_ascii=False)
    os.replace(tmp, path)
    return path


def result_from_dict(d: dict) -> SubmissionResult:
    """The inverse of ``SubmissionResult.to_dict()`` (results.json back to typed results)."""
    parts = {gid: PartScore(gid, float(p["points"]), float(p["score"]), attempted=bool(p.get("attempted", True)),
                            verdict=p.get("verdict"), in_kernel=p.get("in_kernel"), note=p.get("note", ""),
                            mistakes=tuple(p.get("mistakes", ())))
             for gid, p in (d.get("parts") or {}).items()}
    return SubmissionResult(d["student_id"], Status(d["status"]), parts=parts,
                            flags=[Flag.from_dict(f) for f in d.get("flags", [])],
                            max_score=float(d.get("max_score") or 0.0), first_name=d.get("first_name", ""),
                            last_name=d.get("last_name", ""), email=d.get("email", ""),
                            on_roster=bool(d.get("on_roster", True)), timestamp=d.get("timestamp"),
                            source=d.get("source", ""), feedback=d.get("feedback"),
                            timings=dict(d.get("timings") or {}))


def load_results(out: str) -> tuple[list[SubmissionResult], list[tuple[str, str]], RunInfo]:
    """``OUT/results.json`` as (results, unmatched, run)."""
    path = os.path.join(out, "results.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no {path}: is {out} the output folder of a grading run?")
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return ([result_from_dict(d) for d in data["results"]],
            [(u["name"], u["reason"]) for u in data.get("unmatched", [])], RunInfo.from_dict(data["run"]))


# ------------------------------------------------------------------------------ manual grades
def manual_scores(out: str, assignment: str) -> dict[str, dict[str, float]]:
    """``{student: {grade cell: manual score + extra credit}}`` set by hand in OUT's gradebook."""
    from nbgrader.api import Gradebook
    found: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{os.path.join(out, 'gradebook.db')}", COURSE_ID) as gb:
        for nb in gb.find_assignment(assignment).notebooks:
            for sub in nb.submissions:
                for g in sub.grades:
                    if g.manual_score is not None or g.extra_credit is not None:
                        base = g.manual_score if g.manual_score is not None else (g.auto_score or 0.0)
                        found.setdefault(sub.student.id, {})[g.name] = float(base) + float(g.extra_credit or 0.0)
    return found


def with_manual_grades(out: str, spec: AssignmentSpec,
                       results: list[SubmissionResult]) -> list[SubmissionResult]:
    """``results`` with every score an instructor set in the formgrader (OUT's gradebook).

    A manually scored part replaces the decided one and carries a ``manual-grade`` flag; a
    ``not graded`` row becomes ``graded`` once every part has a manual score (until then it
    stays not graded: no part of a grader fault is guessed).
    """
    manual = manual_scores(out, spec.name)
    merged = []
    for r in results:
        mine = manual.get(r.student_id)
        if not mine:
            merged.append(r)
            continue
        r = replace(r, parts=dict(r.parts), flags=list(r.flags))
        changed = []
        for p in spec.parts:
            if p.grade_id in mine:
                old = r.parts.get(p.grade_id)
                r.parts[p.grade_id] = PartScore(p.grade_id, p.points, mine[p.grade_id],
                                                attempted=old.attempted if old else True,
                                                verdict=old.verdict if old else None,
                                                in_kernel=old.in_kernel if old else None,
                                                note="set by hand in the formgrader",
                                                mistakes=old.mistakes if old else ())
                was = "none" if old is None or r.status is Status.NOT_GRADED else f"{old.score:g}"
                changed.append(f"{p.grade_id} {mine[p.grade_id]:g} (decided: {was})")
        if r.status is Status.NOT_GRADED and all(p.grade_id in mine for p in spec.parts):
            r.status = Status.GRADED
        r.flags.append(Flag(Kind.MANUAL_GRADE, "; ".join(changed)))
        merged.append(r)
    return merged
