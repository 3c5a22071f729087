"""Collection (:mod:`autograder.classgrade.collect`): who handed in what, read without trusting a name.

First the small pure functions, each with a table of cases (timestamps, LMS names, ids, renames,
the choice of the notebook); then whole collections: the honest edge cases a real class has
(graded, "pending", with the right notebook), and attacks (hostile names, bombs, huge and
encrypted members, symbolic links, FIFOs), each ending in a flagged row or an unmatched item,
never an exception, never a file outside the work folder, and the control student untouched.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import zipfile
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import nbformat
import pytest
from hypothesis import given, settings, strategies as st

from autograder.classgrade import collect as col
from autograder.classgrade.collect import (Candidate, Limits, Roster, RosterRow, choose_notebook, collect,
                                           display, is_rename_of, notebook_grade_ids, parse_lms_name,
                                           parse_timestamp, read_roster, resolve_id, safe_slug)
from autograder.classgrade.flags import Flag, Kind

UTC = timezone.utc
A = "optimizers"
EXPECTED = {"sgd", "test_sgd", "adam", "test_adam"}
T = "2026-11-30-12-00-00"


def nb_bytes(marker: str = "x = 1", grade_ids=("sgd", "test_sgd")) -> bytes:
    """A notebook whose first cell prints ``marker`` and whose cells carry nbgrader ``grade_ids``."""
    cells = [nbformat.v4.new_code_cell(f"print({marker!r})")]
    for gid in grade_ids:
        cell = nbformat.v4.new_code_cell("pass")
        cell.metadata["nbgrader"] = {"grade_id": gid, "grade": gid.startswith("test"), "solution": True,
                                     "locked": False, "schema_version": 3}
        cells.append(cell)
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells)).encode()


def bb(student: str, file: str = A + ".ipynb", ts: str = T, assignment: str = A) -> str:
    """A Blackboard / nbgrader zip_collect member name."""
    return f"{assignment}_{student}_attempt_{ts}_{file}"


def write_zip(path, members) -> str:
    """Write ``members`` ([(name or ZipInfo, bytes)] or {name: bytes}) into a zip at ``path``."""
    items = members.items() if isinstance(members, dict) else members
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in items:
            zf.writestr(name, data)
    return str(path)


def zip_bytes(members) -> bytes:
    buf = io.BytesIO()
    write_zip(buf, members)
    return buf.getvalue()


def write_roster(path, ids) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("id,first_name,last_name,email\n")
        for sid in ids:
            fh.write(f"{sid},F,L,{sid}@example.edu\n")
    return str(path)


def run_zip(tmp_path, members, roster_ids=None, **kw):
    zpath = write_zip(tmp_path / "download.zip", members)
    roster = write_roster(tmp_path / "roster.csv", roster_ids) if roster_ids is not None else None
    kw.setdefault("expected_ids", EXPECTED)
    return collect(zip_path=zpath, roster=roster, assignment=A, notebook=A, workdir=str(tmp_path / "work"), **kw)


def by_id(collection):
    ids = [e.student_id for e in collection.entries]
    assert len(ids) == len(set(ids)), f"a student appears twice: {ids}"
    return {e.student_id: e for e in collection.entries}


def kinds(entry):
    return [f.kind for f in entry.flags]


def graded_text(entry) -> str:
    """The sources of the graded notebook's cells (our copy of it)."""
    with open(entry.notebook, encoding="utf-8") as fh:
        cells = json.load(fh)["cells"]
    return "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"]) for c in cells)


def files_outside(tmp_path, *allowed):
    """Every file under ``tmp_path`` that is not under one of the ``allowed`` sub-folders or files."""
    allowed = [os.path.join(str(tmp_path), a) for a in allowed]
    out = []
    for root, _, names in os.walk(tmp_path):
        for n in names:
            p = os.path.join(root, n)
            if not any(p == a or p.startswith(a + os.sep) for a in allowed):
                out.append(p)
    return out


# ------------------------------------------------------------------------------------ timestamps

TIMESTAMPS = [
    # (text, the UTC time it names) -- the LMS forms nbgrader's parse_utc gets wrong come first
    ("2026-11-30-23-59-30", datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)),   # parse_utc: offset -59:30, raises
    ("2026-11-30-23-59-23", datetime(2026, 11, 30, 23, 59, 23, tzinfo=UTC)),   # parse_utc: shifted a day
    ("2026-11-30-00-00-00", datetime(2026, 11, 30, 0, 0, 0, tzinfo=UTC)),
    ("2026-11-30T23:59:30Z", datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)),
    ("2026-11-30T23:59:30+01:00", datetime(2026, 11, 30, 22, 59, 30, tzinfo=UTC)),
    ("2026-11-30T23:59:30-0530", datetime(2026, 12, 1, 5, 29, 30, tzinfo=UTC)),
    ("2026-11-30T23:59", datetime(2026, 11, 30, 23, 59, tzinfo=UTC)),
    ("2026-11-30 23:59:30", datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)),     # naive: UTC
    ("2026-11-30 23:59:30.123456 UTC", datetime(2026, 11, 30, 23, 59, 30, 123456, tzinfo=UTC)),  # nbgrader's file
    ("2026-11-30 23:59:30.5", datetime(2026, 11, 30, 23, 59, 30, 500000, tzinfo=UTC)),
    ("2026-11-30 23:59:30 America/New_York", datetime(2026, 12, 1, 4, 59, 30, tzinfo=UTC)),
    ("  2026-11-30 10:00:00  ", datetime(2026, 11, 30, 10, tzinfo=UTC)),
]
NOT_TIMESTAMPS = ["", None, "garbage", "2026-11-31-10-00-00", "2026-13-01-00-00-00", "2026-11-30-24-00-00",
                  "2026-11-30-10-60-00", "2026-11-30", "2026-11-30 10:00:00 Mars/Olympus_Mons",
                  "2026-11-30T10:00:00+25:00", "2026-11-30T10:00:00 ../../etc/passwd", "9" * 5000,
                  "2026-11-30-10-00-00-00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:00",
                  "0000-01-01-00-00-00"]


@pytest.mark.parametrize("text, when", TIMESTAMPS)
def test_parse_timestamp_reads_the_lms_form_iso_and_nbgrader_timestamp_txt(text, when):
    got = parse_timestamp(text)
    assert got == when and got.tzinfo is UTC


@pytest.mark.parametrize("text", NOT_TIMESTAMPS)
def test_parse_timestamp_returns_none_for_what_names_no_time(text):
    assert parse_timestamp(text) is None


def test_naive_times_are_in_the_given_zone():
    assert parse_timestamp("2026-07-01-12-00-00", ZoneInfo("Europe/Berlin")) == datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert parse_timestamp("2026-07-01T12:00:00Z", ZoneInfo("Europe/Berlin")) == datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_nbgrader_parse_utc_is_why_collection_parses_times_itself():
    from nbgrader.utils import parse_utc
    with pytest.raises(Exception):
        parse_utc("2026-11-30-23-59-30")
    assert parse_utc("2026-11-30-23-59-23").date() != datetime(2026, 11, 30).date()


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)))
def test_every_time_written_in_lms_or_iso_form_reads_back(naive):
    when = naive.replace(tzinfo=UTC)
    assert parse_timestamp(when.strftime("%Y-%m-%d-%H-%M-%S")) == when.replace(microsecond=0)
    assert parse_timestamp(when.isoformat()) == when
    assert parse_timestamp(naive.isoformat(sep=" ")) == when


# ------------------------------------------------------------------------------------- LMS names

LMS_NAMES = [
    # (name, shape, who, attempt, file)
    (bb("ann"), "blackboard", "optimizers_ann", T, "optimizers.ipynb"),
    (bb("jane_doe"), "blackboard", "optimizers_jane_doe", T, "optimizers.ipynb"),
    # the student's own file name copies the LMS shape: the FIRST _attempt_ is the LMS's
    (bb("mallory", "x_victim_attempt_2027-01-01-00-00-00_optimizers.ipynb"), "blackboard", "optimizers_mallory", T,
     "x_victim_attempt_2027-01-01-00-00-00_optimizers.ipynb"),
    (bb("ann", "doe_1_2_x.ipynb"), "blackboard", "optimizers_ann", T, "doe_1_2_x.ipynb"),
    ("Homework 3_bob_attempt_garbage_optimizers.ipynb", "blackboard", "Homework 3_bob", "garbage", "optimizers.ipynb"),
    ("Jane Doe_4242_assignsubmission_file_", "moodle", "4242", "Jane Doe_4242", ""),
    ("Jane Doe_4242_assignsubmission_file_optimizers.ipynb", "moodle", "4242", "Jane Doe_4242", "optimizers.ipynb"),
    ("Mal_1_assignsubmission_file_x_99_assignsubmission_file_y.ipynb", "moodle", "1", "Mal_1",
     "x_99_assignsubmission_file_y.ipynb"),
    ("doejane_12345_67890_optimizers.ipynb", "canvas", "12345", "67890", "optimizers.ipynb"),
    ("doejane_LATE_12345_67890_optimizers-1.ipynb", "canvas", "12345", "67890", "optimizers-1.ipynb"),
    # a Canvas upload whose file name looks like Blackboard's: Canvas's part ends first
    ("doemal_5_6_optimizers_victim_attempt_2026-11-30-10-00-00_optimizers.ipynb", "canvas", "5", "6",
     "optimizers_victim_attempt_2026-11-30-10-00-00_optimizers.ipynb"),
]


@pytest.mark.parametrize("name, shape, who, attempt, file", LMS_NAMES)
def test_parse_lms_name_takes_the_student_from_the_lms_part_only(name, shape, who, attempt, file):
    p = parse_lms_name(name)
    assert (p.shape, p.who, p.attempt, p.file) == (shape, who, attempt, file)


@pytest.mark.parametrize("name", ["notes.txt", "_attempt_2026-11-30-10-00-00_x.ipynb", "optimizers.ipynb",
                                  "a_attempt_", "a_attempt_2026-11-30-10-00-00_", "x" * 10000])
def test_names_of_no_lms_shape_do_not_parse(name):
    assert parse_lms_name(name) is None


def test_blackboard_receipt_and_canvas_late_marker_are_recognised():
    assert parse_lms_name(f"optimizers_ann_attempt_{T}.txt").receipt
    assert parse_lms_name("doejane_LATE_1_2_optimizers.ipynb").late
    assert not parse_lms_name("doejane_1_2_optimizers.ipynb").late


ROSTER = Roster([RosterRow(s) for s in ("ann", "jane_doe", "doe", "zoë", "Bob", "o'neil")])
RESOLVE = [
    # (student part of the name, roster, expected id)
    ("optimizers_jane_doe", ROSTER, "jane_doe"),         # the longest rostered suffix, not "doe"
    ("optimizers_doe", ROSTER, "doe"),
    ("HW_3_jane_doe", ROSTER, "jane_doe"),
    ("optimizers_bob", ROSTER, "Bob"),                   # case-insensitive when unambiguous
    ("optimizers_zoe\u0308", ROSTER, "zoë"),             # NFD in the upload, NFC on the roster
    ("optimizers_o'neil", ROSTER, "o'neil"),
    ("optimizers_stranger", ROSTER, "stranger"),         # not rostered: the assignment prefix stripped
    ("optimizers_jane_doe", Roster(None), "jane_doe"),   # no roster: the assignment prefix stripped
    ("Optimizers_jane_doe", Roster(None), "jane_doe"),
    ("Homework 3_jane", Roster(None), "jane"),           # another display name: the last word
    ("ann", ROSTER, "ann"),                              # no prefix at all, but rostered
]


@pytest.mark.parametrize("who, roster, expected", RESOLVE)
def test_resolve_id_against_the_roster(who, roster, expected):
    assert resolve_id(who, A, roster) == expected


def test_resolve_id_costs_are_bounded_by_the_longest_roster_id():
    # 200 000 underscores: trying every suffix would be quadratic; only suffixes up to 8 chars are tried
    who = "optimizers" + "_a" * 100_000 + "_jane_doe"
    assert resolve_id(who, A, ROSTER) == "jane_doe"


PREFIXES = [
    # (the student parts of one archive, roster ids, the assignment display name learnt)
    (["optimizers_ann", "optimizers_jane_doe", "optimizers_doe"], {"ann", "jane_doe", "doe"}, "optimizers"),
    (["optimizers_ann", "optimizers_jane_doe"], {"ann", "doe"}, "optimizers"),   # jane_doe unrostered, not doe
    (["HW_3_ann", "HW_3_bob"], {"ann", "bob"}, "HW_3"),
    (["HW_3_ann", "HW_3_bob"], set(), "HW_3"),
    (["Optimizers HW_jane_doe", "Optimizers HW_bob"], set(), "Optimizers HW"),
    (["optimizers_s1_a", "optimizers_s1_b"], set(), "optimizers"),             # the nbgrader name when it fits
    (["optimizers_jane_doe"], set(), "optimizers"),
    (["optimizers_jane_doe"], {"doe"}, "optimizers_jane"),   # one upload: the longest rostered suffix, as documented
    (["optimizers_ann", "ewma_bob"], {"ann", "bob"}, None),   # no common prefix: each part on its own
    ([], set(), None),
]


@pytest.mark.parametrize("heads, ids, prefix", PREFIXES)
def test_archive_prefix_is_learnt_from_the_whole_archive(heads, ids, prefix):
    assert col.archive_prefix(heads, A, Roster([RosterRow(i) for i in ids])) == prefix


ID_ALPHABET = "abcxyzAB019_.-éßøЖ日"
IDS = st.text(ID_ALPHABET, min_size=1, max_size=12).filter(lambda s: "_attempt_" not in s)


@settings(max_examples=300, deadline=None)
@given(st.lists(IDS, min_size=1, max_size=6, unique_by=lambda s: col.normalize_id(s)), st.data())
def test_property_every_rostered_uploader_is_resolved_to_their_own_id(ids, data):
    import unicodedata
    roster = Roster([RosterRow(col.normalize_id(i)) for i in ids])
    uploaders = data.draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
    heads = [f"{A}_{unicodedata.normalize('NFD', u)}" for u in uploaders]     # as macOS would write them
    prefix = col.archive_prefix(heads, A, roster)
    assert [col.student_of(h, prefix, A, roster) for h in heads] == [col.normalize_id(u) for u in uploaders]


def test_safe_slug_is_a_plain_bounded_folder_name_distinct_per_id():
    ids = ["ann", "Ann", "../../etc", "zoë", "zoe\u0308", "a" * 5000, "日本語", "", "con", "x/y\\z\x00"]
    slugs = [safe_slug(s) for s in ids]
    assert len(set(slugs)) == len(ids)
    for s in slugs:
        assert len(s) <= 53 and s.replace("-", "").isalnum() and s.isascii() and s == s.lower()


def test_display_hides_control_and_bidi_characters_and_cuts_long_names():
    assert display("evil\n\u202etxt.ipynb") == "evil??txt.ipynb"
    assert len(display("x" * 10_000)) == col.DISPLAY_CHARS


# --------------------------------------------------------------------------------------- renames

RENAMES = ["optimizers.ipynb", "Optimizers.ipynb", "optimizers (1).ipynb", "optimizers(2).ipynb",
           "optimizers-2.ipynb", "optimizers_3.ipynb", "optimizers - Copy.ipynb", "optimizers - Copy (2).ipynb",
           "Copy of optimizers.ipynb", "optimizers.ipynb.txt", "OPTIMIZERS (1) (2).IPYNB", "optimizers-copy.ipynb"]
NOT_RENAMES = ["ewma.ipynb", "optimizers.py", "optimizersX.ipynb", "my optimizers.ipynb", "optimizers_v2.ipynb",
               "optimizers.ipynb.zip", "optimizers" + "-copy" * 40 + "!.ipynb"]


@pytest.mark.parametrize("name", RENAMES)
def test_lms_and_file_manager_renames_are_recognised(name):
    assert is_rename_of(name, A)


@pytest.mark.parametrize("name", NOT_RENAMES)
def test_other_names_are_not_renames(name):
    assert not is_rename_of(name, A)


# ----------------------------------------------------------------------------- choosing the notebook

OURS = frozenset({"sgd", "test_sgd"})
THEIRS = frozenset({"ewma_basics", "test_ewma_basics"})
NONE = frozenset()
BAD = Flag(Kind.INVALID_FILE, "not JSON")
HUGE = Flag(Kind.TOO_LARGE, "over the limit")


def cand(name, ids=OURS, problem=None):
    return Candidate(name, f"upload/{name}", None if problem else f"/w/{name}", problem,
                     None if problem or ids is None else ids)


CHOICES = [
    # (files, expected_ids, chosen name or None, status, flag kinds)
    ([cand("optimizers.ipynb")], EXPECTED, "optimizers.ipynb", "pending", []),
    ([cand("optimizers.ipynb", NONE)], EXPECTED, "optimizers.ipynb", "pending", []),   # no nbgrader metadata
    ([cand("optimizers (1).ipynb"), cand("optimizers.ipynb")], EXPECTED, "optimizers.ipynb", "pending",
     [Kind.EXTRA_FILES]),
    ([cand("optimizers (1).ipynb", NONE)], EXPECTED, "optimizers (1).ipynb", "pending", [Kind.RENAMED]),
    ([cand("scratch.ipynb")], EXPECTED, "scratch.ipynb", "pending", [Kind.RENAMED]),
    ([cand("scratch.ipynb", NONE)], EXPECTED, None, "invalid", [Kind.FOREIGN_NOTEBOOK]),
    ([cand("scratch.ipynb")], None, None, "invalid", [Kind.FOREIGN_NOTEBOOK]),     # nothing shows it is ours
    ([cand("Optimizers.ipynb")], None, "Optimizers.ipynb", "pending", [Kind.RENAMED]),
    ([cand("optimizers.ipynb", THEIRS)], EXPECTED, None, "invalid", [Kind.FOREIGN_NOTEBOOK]),
    ([cand("optimizers.ipynb", THEIRS), cand("work.ipynb")], EXPECTED, "work.ipynb", "pending",
     [Kind.RENAMED, Kind.EXTRA_FILES]),
    ([cand("a.ipynb", frozenset({"sgd"})), cand("b.ipynb", EXPECTED)], EXPECTED, "b.ipynb", "pending",
     [Kind.RENAMED, Kind.EXTRA_FILES]),
    ([cand("work.ipynb"), cand("optimizers.ipynb", NONE)], EXPECTED, "optimizers.ipynb", "pending",
     [Kind.EXTRA_FILES]),
    ([cand("optimizers.ipynb", problem=BAD), cand("optimizers (1).ipynb")], EXPECTED, "optimizers (1).ipynb",
     "pending", [Kind.RENAMED, Kind.EXTRA_FILES]),
    ([cand("optimizers.ipynb", problem=BAD)], EXPECTED, None, "invalid", [Kind.INVALID_FILE]),
    ([cand("optimizers.ipynb", problem=HUGE)], EXPECTED, None, "invalid", [Kind.TOO_LARGE]),
    ([cand("submission.zip", None, HUGE)], EXPECTED, None, "invalid", [Kind.TOO_LARGE]),
    ([cand("optimizers.pdf", None)], EXPECTED, None, "invalid", [Kind.INVALID_FILE]),
    ([], EXPECTED, None, "missing", [Kind.MISSING]),
]


@pytest.mark.parametrize("files, expected, chosen, status, flag_kinds", CHOICES)
def test_choose_notebook(files, expected, chosen, status, flag_kinds):
    choice = choose_notebook(files, A, expected)
    assert (choice.chosen.name if choice.chosen else None, choice.status) == (chosen, status)
    assert [f.kind for f in choice.flags] == flag_kinds


@settings(max_examples=100, deadline=None)
@given(st.permutations([cand("b.ipynb"), cand("a.ipynb", NONE), cand("optimizers (2).ipynb", NONE),
                        cand("optimizers (1).ipynb", NONE), cand("x.pdf", None), cand("optimizers.ipynb", THEIRS)]))
def test_property_the_choice_does_not_depend_on_the_order_of_the_files(files):
    choice = choose_notebook(files, A, EXPECTED)
    assert choice.chosen.name == "b.ipynb" and [f.kind for f in choice.flags] == [Kind.RENAMED, Kind.EXTRA_FILES]


NOT_NOTEBOOKS = [b"", b"   \n", b"\x00\x01 not json", b"[1, 2]", b'{"nbformat": 4}', b"\xff\xfe\x00garbage",
                 b"[" * 200_000 + b"]" * 200_000, b'{"cells": "no"}']


@pytest.mark.parametrize("data", NOT_NOTEBOOKS, ids=range(len(NOT_NOTEBOOKS)))
def test_notebook_grade_ids_refuses_what_is_not_a_notebook(data):
    ids, why = notebook_grade_ids(data)
    assert ids is None and why


def test_notebook_grade_ids_reads_the_nbgrader_cells():
    assert notebook_grade_ids(nb_bytes(grade_ids=("sgd", "test_sgd")))[0] == {"sgd", "test_sgd"}
    assert notebook_grade_ids(nb_bytes(grade_ids=()))[0] == frozenset()


# ------------------------------------------------------------------------------------------ roster


def test_read_roster_reads_nbgrader_csv(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("\ufeffStudent_ID , first_name,last_name,email\nann,Ann,A,a@x\n\n  zoe\u0308 ,Zoë,Z,\n",
                    encoding="utf-8")
    assert read_roster(str(path)) == [RosterRow("ann", "Ann", "A", "a@x"), RosterRow("zoë", "Zoë", "Z", "")]


BAD_ROSTERS = [
    (b"", "empty"),
    (b"name,email\nann,a@x\n", "'id'"),
    (b"id,first_name\nann,A\nann,B\n", "twice"),
    (b"id,first_name\n,A\n", "line 2: no id"),
    (b"id,first_name\n\xff\xfeann,A\n", "UTF-8"),
]


@pytest.mark.parametrize("data, message", BAD_ROSTERS)
def test_a_malformed_roster_is_the_instructors_error_and_says_why(tmp_path, data, message):
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        read_roster(str(path))


def test_a_missing_roster_stops_collection(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        collect(zip_path=write_zip(tmp_path / "d.zip", {bb("ann"): nb_bytes()}), roster=str(tmp_path / "nope.csv"),
                assignment=A, notebook=A, workdir=str(tmp_path / "w"))


# ------------------------------------------------------------------------------ honest LMS uploads


HONEST = [
    # (student id on the roster, member name(s) -> bytes, expected flag kinds); every one is graded
    ("ann", {bb("ann", ts="2026-11-30-23-59-30"): nb_bytes("ann")}, []),
    ("jane_doe", {bb("jane_doe", ts="2026-11-30-23-59-23"): nb_bytes("jane_doe")}, []),
    ("doe", {bb("doe"): nb_bytes("doe")}, []),
    ("zoë", {bb("zoe\u0308", "optimizers (1).ipynb"): nb_bytes("zoë")}, [Kind.RENAMED]),
    ("Bob", {bb("bob", "Optimizers.ipynb", assignment="Optimizers HW"): nb_bytes("Bob")}, [Kind.RENAMED]),
    ("cy", {bb("cy", "optimizers-2.ipynb"): nb_bytes("cy")}, [Kind.RENAMED]),
    ("dee", {bb("dee", "my work.ipynb"): nb_bytes("dee")}, [Kind.RENAMED]),
    ("eve", {bb("eve"): nb_bytes("eve"), bb("eve", "data.csv"): b"1,2\n"}, [Kind.EXTRA_FILES]),
    ("fay", {bb("fay", "submission.zip"): zip_bytes({"optimizers/optimizers.ipynb": nb_bytes("fay"),
                                                     "__MACOSX/optimizers/._optimizers.ipynb": b"\x00\x05\x16\x07",
                                                     "optimizers/.ipynb_checkpoints/x.ipynb": b"{}"})}, []),
    ("gus", {bb("gus", ts="2026-11-31-10-00-00"): nb_bytes("gus")}, [Kind.BAD_TIMESTAMP]),
    ("hal", {bb("hal", "optimizers.ipynb.txt"): nb_bytes("hal")}, [Kind.RENAMED]),
    ("ida", {bb("ida", ts="2026-11-29-10-00-00"): nb_bytes("old"), bb("ida"): nb_bytes("ida")}, [Kind.DUPLICATE]),
    ("o'neil", {bb("o'neil"): nb_bytes("o'neil")}, []),
]


@pytest.mark.parametrize("sid, members, flag_kinds", HONEST, ids=[h[0] for h in HONEST])
def test_honest_uploads_are_collected_for_grading_with_the_right_notebook(tmp_path, sid, members, flag_kinds):
    roster = ["ann", "jane_doe", "doe", "zoë", "Bob", "cy", "dee", "eve", "fay", "gus", "hal", "ida", "o'neil"]
    members = dict(members)
    members[bb("control")] = nb_bytes("control")
    got = by_id(run_zip(tmp_path, members, roster + ["control"]))
    e = got[sid]
    assert (e.status, kinds(e)) == ("pending", flag_kinds), e.flags
    assert f"print({sid!r})" in graded_text(e)
    # the copy lives in the work folder under a name collection chose, not the upload's
    assert os.path.dirname(e.notebook) == str(tmp_path / "work" / safe_slug(sid))
    assert os.path.basename(e.notebook) == "optimizers.ipynb"
    assert got["control"].status == "pending" and "control" in graded_text(got["control"])
    assert [x.student_id for x in got.values() if x.status == "missing"] == [s for s in roster if s != sid]
    assert files_outside(tmp_path, "download.zip", "roster.csv", "work") == []
    assert not os.path.exists(tmp_path / "work" / ".tmp")


def test_an_unrostered_jane_doe_does_not_become_the_rostered_doe(tmp_path):
    got = by_id(run_zip(tmp_path, {bb("doe"): nb_bytes("doe"), bb("jane_doe"): nb_bytes("jane_doe"),
                                   bb("ann"): nb_bytes("ann")}, ["ann", "doe"]))
    assert "doe" in graded_text(got["doe"]) and kinds(got["doe"]) == []
    assert kinds(got["jane_doe"]) == [Kind.NOT_ON_ROSTER] and "jane_doe" in graded_text(got["jane_doe"])


def test_the_graded_time_is_the_lms_time_in_utc(tmp_path):
    got = by_id(run_zip(tmp_path, {bb("ann", ts="2026-11-30-23-59-30"): nb_bytes()}, ["ann"]))
    assert got["ann"].timestamp == datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)
    assert got["ann"].source == bb("ann", ts="2026-11-30-23-59-30")


def test_the_latest_attempt_by_time_is_graded_and_the_others_listed(tmp_path):
    # nbgrader's parse_utc moves 23-59-23 to the next day, after 00-30-00: the wrong attempt would win
    early, late = "2026-11-30-23-59-23", "2026-12-01-00-30-00"
    got = by_id(run_zip(tmp_path, {bb("ann", ts=late): nb_bytes("late"), bb("ann", ts=early): nb_bytes("early"),
                                   bb("ann", "notes.pdf", ts=early): b"%PDF"}, ["ann"]))
    e = got["ann"]
    assert "late" in graded_text(e) and kinds(e) == [Kind.DUPLICATE]
    assert len(e.attempts) == 2 and e.attempts[-1].startswith("2026-12-01 00:30:00 UTC")
    assert "notes.pdf" in e.attempts[0]


def test_an_attempt_with_a_time_beats_one_without(tmp_path):
    got = by_id(run_zip(tmp_path, {bb("ann", ts="2026-11-30-10-00-00"): nb_bytes("timed"),
                                   bb("ann", ts="zzzz"): nb_bytes("untimed")}, ["ann"]))
    assert "timed" in graded_text(got["ann"])
    assert set(kinds(got["ann"])) == {Kind.DUPLICATE}


@pytest.mark.parametrize("reverse", [False, True])
def test_attempts_at_the_same_instant_are_ordered_by_name_whatever_the_zip_order(tmp_path, reverse):
    regexp = r"^(?P<student_id>[a-z]+)__(?P<timestamp>[^_]+)__(?P<file_id>.+)$"
    members = [("ann__2026-11-30T10:00:00Z__optimizers.ipynb", nb_bytes("zulu")),
               ("ann__2026-11-30T11:00:00+01:00__optimizers.ipynb", nb_bytes("plus-one")),
               ("ann__2026-11-30T10:30:00+01:00__optimizers.ipynb", nb_bytes("earlier"))]
    got = by_id(run_zip(tmp_path, members[::-1] if reverse else members, ["ann"], zip_regexp=regexp))
    assert "plus-one" in graded_text(got["ann"])    # "2026-11-30T11..." > "2026-11-30T10..." at the same instant
    assert got["ann"].timestamp == datetime(2026, 11, 30, 10, tzinfo=UTC)


def test_moodle_folders_and_canvas_names_are_collected(tmp_path):
    os.makedirs(tmp_path / "m")
    moodle = by_id(run_zip(tmp_path / "m", {"Jane Doe_4242_assignsubmission_file_/optimizers.ipynb": nb_bytes("jane"),
                                            "Jane Doe_4242_assignsubmission_file_/notes.txt": b"hi",
                                            "Max Mu_77_assignsubmission_file_Optimizers.ipynb": nb_bytes("max")},
                           ["4242", "77"]))
    assert "jane" in graded_text(moodle["4242"]) and kinds(moodle["4242"]) == [Kind.EXTRA_FILES]
    assert "max" in graded_text(moodle["77"]) and kinds(moodle["77"]) == [Kind.RENAMED]
    os.makedirs(tmp_path / "c")
    canvas = by_id(run_zip(tmp_path / "c", {"doejane_LATE_12345_67890_optimizers-1.ipynb": nb_bytes("jane"),
                                            "mumax_222_333_optimizers.ipynb": nb_bytes("max")}, ["12345", "222"]))
    assert "jane" in graded_text(canvas["12345"]) and kinds(canvas["12345"]) == [Kind.LATE, Kind.RENAMED]
    assert canvas["222"].status == "pending" and kinds(canvas["222"]) == []


def test_a_bundle_of_lms_downloads_is_read_as_one(tmp_path):
    # Blackboard splits big downloads into parts; an instructor zips them together
    got = by_id(run_zip(tmp_path, {"part1.zip": zip_bytes({bb("ann"): nb_bytes("ann")}),
                                   "part2.zip": zip_bytes({bb("bob"): nb_bytes("bob")})}, ["ann", "bob"]))
    assert "ann" in graded_text(got["ann"]) and "bob" in graded_text(got["bob"])


def test_every_rostered_student_once_in_roster_order_then_strangers_sorted(tmp_path):
    coll = run_zip(tmp_path, {bb("zed"): nb_bytes(), bb("bob"): nb_bytes(), bb("amy"): nb_bytes(),
                              "README.txt": b"hello", f"optimizers_ann_attempt_{T}.txt": b"receipt",
                              f"__MACOSX/._{bb('ann')}": b"\x00\x05", f".hidden/{bb('ann')}": b"{}"},
                   ["cy", "bob", "ann"])
    assert [(e.student_id, e.status, e.on_roster) for e in coll.entries] == [
        ("cy", "missing", True), ("bob", "pending", True), ("ann", "missing", True),
        ("amy", "pending", False), ("zed", "pending", False)]
    assert kinds(coll.entries[0]) == [Kind.MISSING] and kinds(coll.entries[3]) == [Kind.NOT_ON_ROSTER]
    assert [u.name for u in coll.unmatched] == ["README.txt"]       # the receipt is not a submission


@settings(max_examples=25, deadline=None)
@given(st.sets(st.sampled_from(["ann", "bob", "cy", "jane_doe"])),
       st.sets(st.sampled_from(["ann", "bob", "cy", "jane_doe", "eve", "x_y"])))
def test_property_each_rostered_student_exactly_once_and_each_uploader_once(tmp_path_factory, rostered, uploaders):
    tmp = tmp_path_factory.mktemp("prop")
    coll = run_zip(tmp, {bb(s): nb_bytes(s) for s in uploaders}, sorted(rostered))
    ids = [e.student_id for e in coll.entries]
    assert ids[:len(rostered)] == sorted(rostered) and len(ids) == len(set(ids))
    assert set(ids) == set(rostered) | {s for s in uploaders}
    for e in coll.entries:
        assert (e.status == "pending") == (e.student_id in uploaders)
        if e.status == "pending":
            assert f"print({e.student_id!r})" in graded_text(e)


def test_without_roster_rows_are_the_uploaders_sorted_and_unflagged(tmp_path):
    coll = run_zip(tmp_path, {bb("bob"): nb_bytes(), bb("jane_doe"): nb_bytes()})
    assert [(e.student_id, kinds(e)) for e in coll.entries] == [("bob", []), ("jane_doe", [])]


def test_collecting_again_into_the_same_workdir_gives_the_same_result(tmp_path):
    members = {bb("ann"): nb_bytes("ann"), bb("bob", "x.pdf"): b"%PDF"}
    first = run_zip(tmp_path, members, ["ann", "bob"])
    second = run_zip(tmp_path, members, ["ann", "bob"])
    assert [(e.student_id, e.status, e.notebook, kinds(e)) for e in first.entries] == \
           [(e.student_id, e.status, e.notebook, kinds(e)) for e in second.entries]
    assert sorted(os.listdir(tmp_path / "work" / safe_slug("ann"))) == ["optimizers.ipynb"]


# ------------------------------------------------------------------------------------- attacks


def test_an_upload_named_after_the_victim_stays_the_uploaders(tmp_path):
    later = "2027-01-01-00-00-00"
    got = by_id(run_zip(tmp_path, {bb("victim"): nb_bytes("victim's own"),
                                   bb("mallory", f"x_victim_attempt_{later}_optimizers.ipynb"): nb_bytes("mallory")},
                        ["victim", "mallory"]))
    assert "victim's own" in graded_text(got["victim"]) and kinds(got["victim"]) == []
    assert got["victim"].timestamp == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert "mallory" in graded_text(got["mallory"]) and kinds(got["mallory"]) == [Kind.RENAMED]


def test_names_inside_a_students_zip_are_never_trusted(tmp_path):
    inner = zip_bytes({bb("victim", ts="2099-01-01-00-00-00"): nb_bytes("mallory"),
                       "../../../../pwned.ipynb": b"{}", "/etc/cron.d/x.ipynb": b"{}"})
    got = by_id(run_zip(tmp_path, {bb("victim"): nb_bytes("victim's own"), bb("mallory", "work.zip"): inner},
                        ["victim", "mallory"]))
    assert "victim's own" in graded_text(got["victim"]) and kinds(got["victim"]) == []
    assert "mallory" in graded_text(got["mallory"]) and got["mallory"].status == "pending"
    assert files_outside(tmp_path, "download.zip", "roster.csv", "work") == []


def test_two_files_of_the_exact_name_in_a_students_zip_give_the_same_choice_whatever_their_order(tmp_path):
    a = [("b/optimizers.ipynb", nb_bytes("from b")), ("a/optimizers.ipynb", nb_bytes("from a"))]
    chosen = set()
    for i, order in enumerate((a, a[::-1])):
        os.makedirs(tmp_path / str(i))
        got = by_id(run_zip(tmp_path / str(i), {bb("ann", "work.zip"): zip_bytes(order)}, ["ann"]))
        chosen.add(graded_text(got["ann"]))
        assert kinds(got["ann"]) == [Kind.EXTRA_FILES]
    assert len(chosen) == 1


def test_crafted_names_cannot_switch_the_archive_to_another_lms_shape(tmp_path):
    # a Canvas download in which one student's file name reads as Blackboard's for the victim
    got = by_id(run_zip(tmp_path, {"doevic_1_10_optimizers.ipynb": nb_bytes("victim's own"),
                                   "doeann_2_20_optimizers.ipynb": nb_bytes("ann"),
                                   "doemal_3_30_optimizers_1_attempt_2099-01-01-00-00-00_optimizers.ipynb":
                                       nb_bytes("mallory")}, ["1", "2", "3"]))
    assert "victim's own" in graded_text(got["1"]) and kinds(got["1"]) == []
    assert "mallory" in graded_text(got["3"])


def forge(data: bytes, name: str, **patch) -> bytes:
    """A one-member zip whose headers say what ``patch`` says (``flag_bits``, ``file_size``,
    ``external_attr``): a forged encryption bit, a lie about the size, a symbolic link."""
    raw = bytearray(zip_bytes({name: data}))
    local, central = 0, raw.index(b"PK\x01\x02")
    if "flag_bits" in patch:
        struct.pack_into("<H", raw, local + 6, patch["flag_bits"])
        struct.pack_into("<H", raw, central + 8, patch["flag_bits"])
    if "file_size" in patch:
        struct.pack_into("<I", raw, local + 22, patch["file_size"])
        struct.pack_into("<I", raw, central + 24, patch["file_size"])
    if "external_attr" in patch:
        struct.pack_into("<I", raw, central + 38, patch["external_attr"])
    return bytes(raw)


def crc_broken(data: bytes, name: str) -> bytes:
    raw = bytearray(zip_bytes([(zipfile.ZipInfo(name), data)]))   # stored: the data is in the clear
    at = raw.index(data[:20]) + 10
    raw[at] ^= 0xFF
    return bytes(raw)


SMALL = Limits(member_mb=1, student_mb=1.5, zip_mb=100, members=200, depth=2, ratio=200, id_chars=40)
RANDOM_1_2MB = os.urandom(int(1.2 * col.MB))


def deep_zip(levels: int) -> bytes:
    data = zip_bytes({"optimizers.ipynb": nb_bytes("deep")})
    for _ in range(levels - 1):
        data = zip_bytes({"inner.zip": data})
    return data


ATTACKS = [
    # (name, mallory's member(s) -> bytes (or a whole zip to nest as hers), status, flag kinds, where in the text)
    ("oversized notebook", {bb("mallory"): RANDOM_1_2MB}, "invalid", [Kind.TOO_LARGE], "limit per file"),
    ("zip bomb", {bb("mallory"): b" " * (20 * col.MB)}, "invalid", [Kind.TOO_LARGE], "zip bomb"),
    ("per-student budget", {bb("mallory"): b'{"cells": []' + b" " * int(0.9 * col.MB) + b"}",
                            bb("mallory", "optimizers (1).ipynb"): b'{"cells": []' + b" " * int(0.9 * col.MB) + b"}"},
     "pending", [Kind.EXTRA_FILES], "limit per student"),
    ("empty file", {bb("mallory"): b""}, "invalid", [Kind.INVALID_FILE], "empty"),
    ("not json", {bb("mallory"): b"\x00\x01 not json"}, "invalid", [Kind.INVALID_FILE], "not JSON"),
    ("deep json", {bb("mallory"): b"[" * 100_000 + b"]" * 100_000}, "invalid", [Kind.INVALID_FILE], "nested"),
    ("corrupt nested zip", {bb("mallory", "work.zip"): b"PK\x03\x04 garbage"}, "invalid", [Kind.INVALID_FILE],
     "corrupt zip"),
    ("zip too deep", {bb("mallory", "work.zip"): deep_zip(3)}, "invalid", [Kind.INVALID_FILE], "levels deep"),
    ("zip of many files", {bb("mallory", "work.zip"): zip_bytes({f"f{i}.txt": b"" for i in range(300)})},
     "invalid", [Kind.TOO_LARGE], "limit of 200"),
    ("only a pdf", {bb("mallory", "optimizers.pdf"): b"%PDF-1.4"}, "invalid", [Kind.INVALID_FILE], "only"),
    ("another assignment", {bb("mallory", "ewma.ipynb"): nb_bytes(grade_ids=("ewma_basics",))}, "invalid",
     [Kind.FOREIGN_NOTEBOOK], "another assignment"),
    ("foreign at the exact name", {bb("mallory"): nb_bytes(grade_ids=("ewma_basics",))}, "invalid",
     [Kind.FOREIGN_NOTEBOOK], "another assignment"),
]


@pytest.mark.parametrize("case, members, status, flag_kinds, text", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attacks_become_flagged_rows_and_leave_the_control_student_alone(tmp_path, case, members, status,
                                                                         flag_kinds, text):
    members = dict(members)
    members[bb("control")] = nb_bytes("control")
    coll = run_zip(tmp_path, members, ["control", "mallory"], limits=SMALL)
    got = by_id(coll)
    m = got["mallory"]
    assert (m.status, kinds(m)) == (status, flag_kinds), m.flags
    assert text in " ".join(f.message for f in m.flags)
    assert (m.notebook is None) == (status != "pending")
    assert got["control"].status == "pending" and kinds(got["control"]) == [] and "control" in graded_text(got["control"])
    assert files_outside(tmp_path, "download.zip", "roster.csv", "work") == []


def bzip2_member(data: bytes, name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_BZIP2) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


FORGED = [
    ("bzip2", bzip2_member(nb_bytes(), bb("mallory")), "method 12"),
    ("encrypted", forge(nb_bytes(), bb("mallory"), flag_bits=0x1), "encrypted"),
    ("size lie", forge(nb_bytes("x" * 1000), bb("mallory"), file_size=100), "corrupt"),
    ("bad crc", crc_broken(nb_bytes("y" * 1000), bb("mallory")), "corrupt"),
    ("symlink", forge(b"/etc/passwd", bb("mallory"), external_attr=(stat.S_IFLNK | 0o777) << 16), "symbolic link"),
]


@pytest.mark.parametrize("case, mallory_zip, text", FORGED, ids=[f[0] for f in FORGED])
def test_forged_members_are_flagged_invalid(tmp_path, case, mallory_zip, text):
    zpath = tmp_path / "download.zip"
    with zipfile.ZipFile(zpath, "w") as out:
        out.writestr(bb("control"), nb_bytes("control"))
    # append mallory's forged member, headers as forged, by copying raw bytes into a new archive
    raw_control = zpath.read_bytes()
    combined = _concat_zips(raw_control, mallory_zip)
    zpath.write_bytes(combined)
    coll = collect(zip_path=str(zpath), roster=write_roster(tmp_path / "r.csv", ["control", "mallory"]),
                   assignment=A, notebook=A, workdir=str(tmp_path / "work"), expected_ids=EXPECTED)
    got = by_id(coll)
    assert got["mallory"].status == "invalid" and kinds(got["mallory"]) == [Kind.INVALID_FILE]
    assert text in got["mallory"].flags[0].message
    assert got["control"].status == "pending"
    assert files_outside(tmp_path, "download.zip", "r.csv", "work") == []


def _concat_zips(a: bytes, b: bytes) -> bytes:
    """One zip holding the members of ``a`` and ``b`` with their headers byte for byte (zipfile would
    rewrite a forged header)."""
    def split(z):
        end = z.rindex(b"PK\x05\x06")
        count, size, offset = struct.unpack_from("<HIi", z, end + 10)
        return z[:offset], z[offset:offset + size], count
    la, ca, na = split(a)
    lb, cb, nb = split(b)
    cb = bytearray(cb)
    at = 0
    while at < len(cb):                                 # shift b's local header offsets past a's
        struct.pack_into("<I", cb, at + 42, struct.unpack_from("<I", cb, at + 42)[0] + len(la))
        n, m, k = struct.unpack_from("<HHH", cb, at + 28)
        at += 46 + n + m + k
    central = ca + bytes(cb)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, na + nb, na + nb, len(central), len(la) + len(lb), 0)
    return la + lb + central + end


def test_one_students_zip_of_many_files_does_not_spend_the_member_limit_of_the_others(tmp_path):
    many = zip_bytes({f"f{i}.txt": b"" for i in range(150)})
    members = [(bb("mallory", "a.zip"), many), (bb("mallory", "b.zip"), many),
               (bb("control", "work.zip"), zip_bytes({f"f{i}.txt": b"" for i in range(100)} |
                                                      {"optimizers.ipynb": nb_bytes("control")}))]
    got = by_id(run_zip(tmp_path, members, ["mallory", "control"], limits=SMALL))
    assert got["control"].status == "pending" and "control" in graded_text(got["control"])
    assert got["mallory"].status == "invalid" and Kind.TOO_LARGE in kinds(got["mallory"])


def test_an_archive_over_its_byte_budget_flags_the_rest_and_grades_what_fit(tmp_path):
    blob = b'{"cells": []' + b" " * int(0.7 * col.MB) + b"}"
    members = {bb(s): blob for s in ("a1", "a2", "a3")}
    got = by_id(run_zip(tmp_path, members, ["a1", "a2", "a3"],
                        limits=Limits(member_mb=1, student_mb=1, zip_mb=1.5), expected_ids=None))
    assert [got[s].status for s in ("a1", "a2", "a3")] == ["pending", "pending", "invalid"]
    assert kinds(got["a3"]) == [Kind.TOO_LARGE] and "per archive" in got["a3"].flags[0].message


def test_hostile_ids_become_flagged_rows_or_unmatched_items(tmp_path):
    long_id = "a" * 5000
    coll = run_zip(tmp_path, {bb(long_id): nb_bytes(), bb("ev\u202eil"): nb_bytes(), bb("new\nline"): nb_bytes(),
                              "/etc/passwd": b"root", "../../../x.txt": b"x", bb("control"): nb_bytes("control")},
                   ["control"])
    got = by_id(coll)
    (row,) = [e for e in coll.entries if e.student_id.startswith("aaa")]
    assert row.status == "invalid" and kinds(row) == [Kind.NOT_ON_ROSTER, Kind.UNMATCHED_UPLOAD]
    assert len(row.student_id) < 120 and "5000 characters" in row.flags[1].message
    assert got["control"].status == "pending"
    reasons = {u.name: u.reason for u in coll.unmatched}
    assert set(reasons) == {display(bb("ev\u202eil")), display(bb("new\nline")), "/etc/passwd", "../../../x.txt"}
    assert all("\n" not in n and "\u202e" not in n for n in reasons)
    assert files_outside(tmp_path, "download.zip", "roster.csv", "work") == []


def test_an_unreadable_or_oversized_lms_archive_is_the_instructors_error(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a readable zip"):
        collect(zip_path=str(tmp_path / "bad.zip"), roster=None, assignment=A, notebook=A, workdir=str(tmp_path / "w"))
    write_zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(30)})
    with pytest.raises(ValueError, match="over the limit of 20"):
        collect(zip_path=str(tmp_path / "many.zip"), roster=None, assignment=A, notebook=A,
                workdir=str(tmp_path / "w"), limits=Limits(members=20))


INSTRUCTOR_ERRORS = [
    (dict(), "exactly one"),
    (dict(submissions="x", zip_path="y"), "exactly one"),
    (dict(zip_path="/nonexistent/download.zip"), "does not exist"),
    (dict(submissions="/nonexistent/submitted"), "does not exist"),
    (dict(zip_path="{zip}", zip_regexp="(?P<student_id>"), "not a valid regular expression"),
    (dict(zip_path="{zip}", zip_regexp="(?P<student_id>.+)"), "file_id"),
]


@pytest.mark.parametrize("kw, message", INSTRUCTOR_ERRORS)
def test_instructor_errors_raise_a_clear_value_error(tmp_path, kw, message):
    zpath = write_zip(tmp_path / "d.zip", {bb("ann"): nb_bytes()})
    kw = {k: v.format(zip=zpath) for k, v in kw.items()}
    with pytest.raises(ValueError, match=message):
        collect(roster=None, assignment=A, notebook=A, workdir=str(tmp_path / "w"), **kw)


def test_impossible_limits_are_refused():
    with pytest.raises(ValueError, match="member_mb"):
        Limits(member_mb=0)


def test_many_members_are_collected_in_one_linear_pass(tmp_path):
    # 3000 students x 2 attempts: a quadratic step would show here as minutes, not a second
    members = {}
    for i in range(3000):
        members[bb(f"s{i}", ts="2026-11-29-10-00-00")] = b"{}"
        members[bb(f"s{i}")] = b'{"cells": []}'
    coll = run_zip(tmp_path, members, limits=Limits(members=10_000))
    assert len(coll.entries) == 3000 and all(e.status == "pending" for e in coll.entries)
    assert all(kinds(e) == [Kind.DUPLICATE] for e in coll.entries)


# --------------------------------------------------------------------------------- nbgrader folder


def folder_collect(tmp_path, roster_ids=None, **kw):
    roster = write_roster(tmp_path / "roster.csv", roster_ids) if roster_ids is not None else None
    kw.setdefault("expected_ids", EXPECTED)
    return collect(submissions=str(tmp_path / "submitted"), roster=roster, assignment=A, notebook=A,
                   workdir=str(tmp_path / "work"), **kw)


def put(tmp_path, rel: str, data: bytes = b"") -> str:
    path = tmp_path / "submitted" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_nbgrader_folder_honest_cases(tmp_path):
    put(tmp_path, "ann/optimizers/optimizers.ipynb", nb_bytes("ann"))
    put(tmp_path, "ann/optimizers/timestamp.txt", b"2026-11-30 23:59:30.123456 UTC\n")
    put(tmp_path, "jane_doe/optimizers/Optimizers (1).ipynb", nb_bytes("jane_doe"))
    put(tmp_path, "jane_doe/optimizers/data/train.csv", b"1,2\n")
    put(tmp_path, "zoe\u0308/optimizers/optimizers.ipynb", nb_bytes("zoë"))
    put(tmp_path, "zoe\u0308/optimizers/.ipynb_checkpoints/optimizers-checkpoint.ipynb", b"garbage")
    put(tmp_path, "cy/optimizers/optimizers.ipynb", nb_bytes("cy"))
    put(tmp_path, "cy/optimizers/timestamp.txt", b"yesterday-ish")
    put(tmp_path, "dee/ewma/ewma.ipynb", nb_bytes("dee", grade_ids=("ewma_basics",)))
    put(tmp_path, "kim/optimizers/submission.zip", zip_bytes({"work/optimizers.ipynb": nb_bytes("kim")}))
    got = by_id(folder_collect(tmp_path, ["ann", "jane_doe", "zoë", "cy", "dee", "eve", "kim"]))
    assert got["ann"].timestamp == datetime(2026, 11, 30, 23, 59, 30, 123456, tzinfo=UTC)
    for sid, flag_kinds in [("ann", []), ("jane_doe", [Kind.RENAMED, Kind.EXTRA_FILES]), ("zoë", []),
                            ("cy", [Kind.BAD_TIMESTAMP]), ("kim", [])]:
        e = got[sid]
        assert (e.status, kinds(e)) == ("pending", flag_kinds), (sid, e.flags)
        assert f"print({sid!r})" in graded_text(e)
        assert e.notebook.startswith(str(tmp_path / "work"))      # a copy: later stages never touch the upload
    assert got["ann"].source == "ann/optimizers/optimizers.ipynb"
    assert (got["dee"].status, kinds(got["dee"])) == ("missing", [Kind.MISSING])   # only another assignment's folder
    assert (got["eve"].status, kinds(got["eve"])) == ("missing", [Kind.MISSING])


def test_nbgrader_folder_attacks(tmp_path):
    secret = tmp_path / "secret.ipynb"
    secret.write_bytes(nb_bytes("SECRET"))
    put(tmp_path, "control/optimizers/optimizers.ipynb", nb_bytes("control"))
    put(tmp_path, "linker/optimizers/x")
    os.unlink(tmp_path / "submitted/linker/optimizers/x")
    os.symlink(secret, tmp_path / "submitted/linker/optimizers/optimizers.ipynb")
    os.symlink(tmp_path, tmp_path / "submitted/linker/optimizers/up")            # a loop out of the folder
    (tmp_path / "submitted" / "ghost").symlink_to(tmp_path / "submitted" / "control")
    (tmp_path / "submitted" / "alias").mkdir()
    (tmp_path / "submitted" / "alias" / "optimizers").symlink_to(tmp_path / "submitted" / "control" / "optimizers")
    put(tmp_path, "fifo/optimizers/x")
    os.unlink(tmp_path / "submitted/fifo/optimizers/x")
    os.mkfifo(tmp_path / "submitted/fifo/optimizers/optimizers.ipynb")           # opening it would block
    put(tmp_path, "big/optimizers/optimizers.ipynb", b'{"cells": []' + b" " * (2 * col.MB) + b"}")
    put(tmp_path, "empty/optimizers/optimizers.ipynb", b"")
    os.truncate(put(tmp_path, "huge/optimizers/optimizers.ipynb"), 64 * 1024 ** 3)   # sparse: never read
    put(tmp_path, "stamp/optimizers/optimizers.ipynb", nb_bytes("stamp"))
    put(tmp_path, "stamp/optimizers/timestamp.txt", b"2026-11-30 10:00:00" + b"0" * (5 * col.MB))
    put(tmp_path, "x" * 60 + "/optimizers/optimizers.ipynb", nb_bytes())
    put(tmp_path, "stray.ipynb", nb_bytes())
    for i in range(SMALL.members + 50):                                          # a folder of too many files
        put(tmp_path, f"many/optimizers/f{i:04}.txt")
    put(tmp_path, "many/optimizers/0000.ipynb", nb_bytes("many"))
    coll = folder_collect(tmp_path, ["control", "linker", "fifo", "big", "empty", "stamp", "huge", "alias",
                                     "many"],
                          limits=SMALL)
    got = by_id(coll)
    assert got["control"].status == "pending" and kinds(got["control"]) == []
    for sid, flag in [("linker", Kind.INVALID_FILE), ("fifo", Kind.INVALID_FILE), ("big", Kind.TOO_LARGE),
                      ("empty", Kind.INVALID_FILE), ("huge", Kind.TOO_LARGE), ("alias", Kind.INVALID_FILE)]:
        assert (got[sid].status, set(kinds(got[sid]))) == ("invalid", {flag}), (sid, got[sid].flags)
    assert "symbolic link" in got["linker"].flags[0].message and "regular file" in got["fifo"].flags[0].message
    assert (got["stamp"].status, kinds(got["stamp"])) == ("pending", [Kind.BAD_TIMESTAMP])
    assert (got["many"].status, kinds(got["many"])) == ("invalid", [Kind.TOO_LARGE])
    assert "more than 200 files" in got["many"].flags[0].message
    (long_row,) = [e for e in coll.entries if e.student_id.startswith("xxx")]
    assert long_row.status == "invalid" and Kind.UNMATCHED_UPLOAD in kinds(long_row)
    assert {u.name: u.reason for u in coll.unmatched} == {
        "ghost": "a symbolic link, not followed", "stray.ipynb": "not a student folder (<student>/optimizers/)"}
    for root, _, names in os.walk(tmp_path / "work"):
        for n in names:
            assert b"SECRET" not in open(os.path.join(root, n), "rb").read()


@pytest.mark.parametrize("sid", ["..", "."])
def test_an_id_that_cannot_name_a_folder_is_never_a_student(tmp_path, sid):
    """Ids become folder names (submitted/<id>/, feedback/<id>/): '..' would reach outside them."""
    z = tmp_path / "c.zip"
    nb = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"optimizers_{sid}_attempt_2026-11-30-10-00-00_optimizers.ipynb", nb)
        zf.writestr("optimizers_ann_attempt_2026-11-30-10-00-00_optimizers.ipynb", nb)
    c = collect(zip_path=str(z), roster=None, assignment="optimizers", notebook="optimizers",
                workdir=str(tmp_path / "w"))
    assert [e.student_id for e in c.entries] == ["ann"]
    assert any("cannot be a student id" in u.reason for u in c.unmatched)


def test_a_roster_id_that_cannot_name_a_folder_is_refused(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name\n..,Dot\n")
    with pytest.raises(ValueError, match="cannot name a folder"):
        col.read_roster(str(roster))
