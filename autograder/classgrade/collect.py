"""Collection: from the instructor's uploads and roster to one :class:`Entry` per student.

This is the first stage of the class grader. It reads names and bytes the students control, so
it trusts neither: a file's *name* only says who uploaded it where the LMS wrote that part of the
name, and a file's *bytes* are read through byte caps into fresh files under ``workdir`` whose
paths are built from a safe slug of the id, never from an upload's name. One bad file never
stops the class: every per-file problem becomes a flagged row (:mod:`.flags`) or an
:class:`Unmatched` item. Only the instructor's own mistakes raise ``ValueError`` (a missing or
malformed roster, a missing input, a bad regular expression, impossible limits).

Accepted inputs
---------------

``submissions=DIR``, nbgrader's layout ``DIR/<student_id>/<assignment>/*`` (what
``nbgrader collect`` and ``zip_collect`` leave in ``submitted/``), with an optional
``timestamp.txt``. The folder name *is* the id: nbgrader itself wrote it. Symbolic links are
never followed, FIFOs and devices never opened.

``zip_path=FILE``, an LMS download. Every member name is matched against one of these shapes
(chosen per archive by majority, so one student's crafted file name cannot switch the parser):

* Blackboard, the shape ``nbgrader zip_collect`` documents::

      <assignment>_<student>_attempt_<YYYY-MM-DD-HH-MM-SS>_<original file name>

  The LMS writes everything up to the timestamp; the student controls only the trailing file
  name. So the parse is anchored at the FIRST ``_attempt_`` (an upload named
  ``x_<victim>_attempt_<later>_optimizers.ipynb`` stays its uploader's), and the student is the
  longest ``_``-suffix of ``<assignment>_<student>`` that is a roster id (ids such as
  ``jane_doe``); without a roster, the assignment-name prefix is stripped (else the last
  ``_``-separated word is the id). Files of one attempt share the timestamp. Blackboard's
  ``..._attempt_<time>.txt`` receipt is not a submission and is skipped.
* Moodle: ``<Full Name>_<id>_assignsubmission_file_/<file>`` (one folder per student), or the
  same prefix flat before the file name.
* Canvas: ``<name>_[LATE_]<user id>_<submission id>_<file>``; LATE becomes a flag.

``zip_regexp`` replaces these with the instructor's own expression (nbgrader's named groups
``student_id`` and ``file_id``, optionally ``timestamp``).

A zip member that is itself a zip is opened, up to ``Limits.depth`` levels: if the LMS named it
(a student uploaded ``optimizers.zip``) its content is that student's, whatever the names inside
say; if nothing named it (an instructor's bundle of several LMS downloads) its members are read
as LMS names. Folders, hidden files (``.ipynb_checkpoints``) and ``__MACOSX`` are skipped.

Choosing the notebook
---------------------

A student's latest attempt (by parsed time; ties broken by name, so the choice is repeatable)
is graded; earlier ones are listed in ``Entry.attempts`` and flagged DUPLICATE. Within it, among
the ``.ipynb`` files: the exact name ``<notebook>.ipynb`` first, then one holding this
assignment's nbgrader cells (``expected_ids``), then an LMS rename (``Optimizers.ipynb``,
``optimizers (1).ipynb``, ``optimizers-2.ipynb``, ``optimizers.ipynb.txt``), flagged RENAMED.
A notebook whose nbgrader cells all belong to other assignments is FOREIGN_NOTEBOOK (invalid);
without ``expected_ids`` a notebook of any other name is treated as foreign too (nothing shows
it is this assignment's). Everything else in the attempt is listed under EXTRA_FILES.

Timestamps are parsed here (:func:`parse_timestamp`), not by ``nbgrader.utils.parse_utc``,
which reads the LMS form ``2026-11-30-23-59-30`` as a time-zone offset. Naive times are in
``tz`` (UTC by default); an unparsable time is flagged BAD_TIMESTAMP and the row still graded.

Limits (:class:`Limits`) hold for bytes per member, per student and per archive, the member
count (of the LMS archive, and separately of each student's own zips, so one student cannot spend
the others' share), the nesting depth, the compression ratio (zip bombs) and the id length.
Oversized input is never read into memory: bytes are streamed to disk and the copy stops at the
cap. Only notebooks (and zips) are read at all; other files are listed by name. The notebook a
row points to is our copy, so later stages never open a student's upload again.

Not trusted, and what remains: the flat Moodle form (no folders) puts the student's profile name
before the id, so a student who may edit their own full name could forge the prefix (the folder
form is safe); in a one-student Blackboard zip an id with underscores is ambiguous without the
roster; Canvas ids are Canvas user ids, so the roster must use them.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import re
import shutil
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import BinaryIO, Callable, Iterable

from .flags import Flag, Kind

MB = 1024 * 1024
CHUNK = 1 << 20
RATIO_FLOOR = 1 * MB        # small members may compress extremely well (runs of spaces): ratio checked above this
DISPLAY_CHARS = 200         # names shown in flags and reports are cut to this length
TIMESTAMP_TXT_BYTES = 256   # nbgrader's timestamp.txt holds one line
LISTED = 10                 # at most this many names in one flag message

# The Blackboard shape nbgrader documents. It is here for reading: passing it (or nothing) as
# ``zip_regexp`` selects the built-in, roster-aware parser, not this expression,
# whose greedy groups cannot tell ``jane_doe`` from ``doe``.
DEFAULT_ZIP_REGEXP = r"^.*_(?P<student_id>[A-Za-z0-9.\-]+)_attempt_(?P<timestamp>[0-9\-T:]+)_(?P<file_id>.+)$"


# ---------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Limits:
    """Caps on what collection reads. Sizes in MB (2**20 bytes)."""

    member_mb: float = 20          # one file (a notebook or a nested zip)
    student_mb: float = 50         # everything extracted for one student
    zip_mb: float = 2048           # everything extracted from one LMS archive (or one submissions folder)
    members: int = 20000           # files in one archive, nested zips included
    depth: int = 2                 # levels of zips inside the archive that are opened
    ratio: float = 200             # uncompressed/compressed size above which a member is a zip bomb
    id_chars: int = 100            # longest student id taken from an upload

    def __post_init__(self):
        for name in ("member_mb", "student_mb", "zip_mb", "members", "ratio", "id_chars"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")
        if self.depth < 0:
            raise ValueError(f"Limits.depth must be 0 or more, got {self.depth!r}")

    def bytes(self, name: str) -> int:
        return int(getattr(self, name) * MB)


@dataclass(frozen=True)
class RosterRow:
    """One student of nbgrader's roster CSV (``nbgrader db student import`` format)."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""


@dataclass
class Entry:
    """One student's row: every rostered student exactly once, plus uploaders not on the roster.

    ``notebook`` is the chosen notebook copied into ``workdir`` (a path collection built), None
    when missing or invalid; ``timestamp`` the aware UTC time of the graded attempt; ``status``
    is "pending" (to grade), "missing" or "invalid"; ``source`` the upload name(s) the notebook
    came from (for display only); ``attempts`` every attempt seen, oldest first, the graded one
    last.
    """

    student_id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    on_roster: bool = True
    notebook: str | None = None
    timestamp: datetime | None = None
    status: str = "pending"
    flags: list[Flag] = field(default_factory=list)
    source: str = ""
    attempts: list[str] = field(default_factory=list)

    def flag(self, kind: Kind, message: str) -> None:
        self.flags.append(Flag(kind, message))


@dataclass(frozen=True)
class Unmatched:
    """An upload that belongs to no student, and why."""

    name: str
    reason: str


@dataclass
class Collection:
    entries: list[Entry]
    unmatched: list[Unmatched]


# ------------------------------------------------------------------------------- small pure helpers


def normalize_id(text: str) -> str:
    """The canonical form of an id: Unicode NFC (macOS writes file names in NFD), no outer spaces."""
    return unicodedata.normalize("NFC", text).strip()


def safe_slug(student_id: str) -> str:
    """A file-name-safe, collision-free folder name for an id: ASCII slug + 12 hex of its SHA-256."""
    ascii_ = unicodedata.normalize("NFKD", student_id).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:40] or "id"
    return f"{slug}-{hashlib.sha256(student_id.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def display(text: str, limit: int = DISPLAY_CHARS) -> str:
    """``text`` safe to print: control and format characters (newlines, bidi overrides) as ``?``, cut."""
    out = "".join("?" if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c
                  for c in text[:limit + 1])
    return out if len(out) <= limit else out[:limit - 1] + "…"


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in text)


def _listing(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


_LMS_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})")
_ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?|[A-Za-z][A-Za-z0-9_+\-/]{0,63})?")


def _zone(text: str | None, default: tzinfo) -> tzinfo | None:
    if not text:
        return default
    if text in ("Z", "z", "UTC", "GMT", "UT"):
        return timezone.utc
    if text[0] in "+-":
        digits = text[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        return timezone(-offset if text[0] == "-" else offset)
    try:
        from zoneinfo import ZoneInfo
        return ZoneInfo(text)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for odd keys: unknown zone
        return None


def parse_timestamp(text: str | None, tz: tzinfo = timezone.utc) -> datetime | None:
    """The aware UTC time ``text`` names, or None when it names none.

    Accepted: the LMS form ``2026-11-30-23-59-30``; ISO 8601 ``2026-11-30T23:59:30[.fff][zone]``
    (a space for the ``T`` too); nbgrader's ``timestamp.txt`` ``2026-11-30 23:59:30.123456 UTC``.
    A zone is ``Z``, ``UTC``/``GMT``, ``±HH[:MM]`` or an IANA name (``Europe/Berlin``); a time
    without one is in ``tz``. Unlike ``nbgrader.utils.parse_utc`` the trailing ``-30`` of the LMS
    form is seconds, not an offset.
    """
    if not text or len(text) > 100:
        return None
    text = text.strip()
    zone_text = None
    m = _LMS_TIME.fullmatch(text)
    if m:
        fields = [int(g) for g in m.groups()] + [0]
    else:
        m = _ISO_TIME.fullmatch(text)
        if not m:
            return None
        g = m.groups()
        fields = [int(x) for x in g[:5]] + [int(g[5] or 0), int((g[6] or "0")[:6].ljust(6, "0"))]
        zone_text = m.group("zone")
    zone = _zone(zone_text, tz)
    if zone is None:
        return None
    try:
        return datetime(*fields, tzinfo=zone).astimezone(timezone.utc)
    except (ValueError, OverflowError):    # month 13, second 60; year 9999 pushed past 9999 by its zone
        return None


# ---------------------------------------------------------------------------------- LMS file names


@dataclass(frozen=True)
class LmsName:
    """What the LMS's part of one file name says.

    ``who`` is the raw student part (for Blackboard ``<assignment>_<student>``, resolved by
    :func:`resolve_id`); ``attempt`` groups the files of one attempt; ``file`` is the student's
    original file name ("" for a Moodle folder, whose files are the next path level);
    ``anchor`` is where the LMS's part ends (the earliest anchor wins between shapes).
    """

    shape: str
    who: str
    attempt: str
    timestamp: str | None
    file: str
    anchor: int
    late: bool = False
    receipt: bool = False


_MOODLE = re.compile(r"(?P<name>.*?)_(?P<id>[^_]+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.*)", re.S)
_CANVAS = re.compile(r"(?P<name>[^_]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)", re.S)
SHAPES = ("blackboard", "moodle", "canvas")


def _blackboard(name: str) -> LmsName | None:
    i = name.find("_attempt_")
    if i <= 0:
        return None
    rest = name[i + len("_attempt_"):]
    stamp, sep, file = rest.partition("_")
    if not sep:
        if rest.lower().endswith(".txt"):       # Blackboard's receipt of the attempt
            return LmsName("blackboard", name[:i], rest[:-4], rest[:-4], "", i, receipt=True)
        return None
    if not stamp or not file:
        return None
    return LmsName("blackboard", name[:i], stamp, stamp, file, i)


def _moodle(name: str) -> LmsName | None:
    m = _MOODLE.fullmatch(name)
    if not m or not m.group("name"):
        return None
    return LmsName("moodle", m.group("id"), m.group("name") + "_" + m.group("id"), None, m.group("file"),
                   m.start("file"))


def _canvas(name: str) -> LmsName | None:
    m = _CANVAS.match(name)
    if not m:
        return None
    return LmsName("canvas", m.group("user"), m.group("sub"), None, m.group("file"), m.start("file"),
                   late=bool(m.group("late")))


_PARSERS = {"blackboard": _blackboard, "moodle": _moodle, "canvas": _canvas}


def parse_lms_name(name: str, shape: str | None = None) -> LmsName | None:
    """Parse one path component as an LMS name: of ``shape``, or of the shape whose part ends first.

    The student controls only what follows the LMS's part, so of several readings the one whose
    anchor comes first is the LMS's.
    """
    if shape is not None:
        return _PARSERS[shape](name)
    found = [p for p in (parse(name) for parse in _PARSERS.values()) if p is not None]
    return min(found, key=lambda p: p.anchor) if found else None


class Roster:
    """Roster lookups: exact id, then a case-insensitive match when it is unambiguous."""

    def __init__(self, rows: list[RosterRow] | None):
        self.rows = rows
        self.ids = {r.id: r for r in rows or []}
        folded: dict[str, list[str]] = {}
        for sid in self.ids:
            folded.setdefault(sid.casefold(), []).append(sid)
        self.folded = {k: v[0] for k, v in folded.items() if len(v) == 1}
        self.longest = max((len(s) for s in self.ids), default=0)

    def find(self, text: str) -> str | None:
        if text in self.ids:
            return text
        return self.folded.get(text.casefold())


def resolve_id(who: str, assignment: str, roster: Roster) -> str:
    """The student id in Blackboard's ``<assignment>_<student>`` part.

    The longest proper ``_``-suffix that is a roster id (so ``optimizers_jane_doe`` is ``jane_doe``,
    even when ``doe`` is also rostered), then the whole part if it is a roster id; otherwise
    the part without the assignment-name prefix, or its last ``_``-separated word. Only suffixes
    no longer than the longest roster id are tried, so the cost is bounded whatever the name.
    """
    who = normalize_id(who)
    if roster.ids:
        end = len(who)
        pos = who.rfind("_", 0, end)
        best = None
        while pos >= 0 and end - pos - 1 <= roster.longest:
            hit = roster.find(who[pos + 1:])
            if hit is not None:
                best = hit            # keep going: a longer suffix may also be rostered
            pos = who.rfind("_", 0, pos)
        if best is not None:
            return best
        hit = roster.find(who)
        if hit is not None:
            return hit
    prefix = assignment.casefold() + "_"
    if who.casefold().startswith(prefix) and len(who) > len(prefix):
        return who[len(prefix):]
    return who.rpartition("_")[2] or who


PREFIX_CANDIDATES = 50      # "_"-separated prefixes tried as an archive's assignment display name


def archive_prefix(heads: list[str], assignment: str, roster: Roster) -> str | None:
    """The assignment display name all Blackboard ``<assignment>_<student>`` parts of one archive share.

    One download is one assignment, so the LMS wrote the same prefix before every student: of the
    ``_``-prefixes common to all parts, the one after which the most parts are roster ids (ties:
    the shortest, i.e. the longest ids); with no roster hit, the nbgrader assignment name if all
    parts start with it, else the longest common prefix that leaves every id non-empty. None when
    the parts share no prefix. Learning it from the whole archive means one odd user name cannot
    shift where ids start, and ``jane_doe`` stays ``jane_doe`` when ``doe`` is rostered too.
    """
    heads = [normalize_id(h) for h in heads]
    if not heads:
        return None
    common = os.path.commonprefix(heads)
    shortest = min(heads, key=len)
    cuts = [i for i, c in enumerate(common) if c == "_"][:PREFIX_CANDIDATES]
    if len(common) == len(shortest):       # every head is the shortest's extension: its last "_" is no cut
        cuts = [i for i in cuts if i < len(shortest) - 1]
    candidates = [common[:i] for i in cuts]
    if not candidates:
        return None
    if roster.ids:
        hits = {d: sum(roster.find(h[len(d) + 1:]) is not None for h in heads) for d in candidates}
        best = max(candidates, key=lambda d: (hits[d], -len(d)))
        if hits[best]:
            return best
    for d in candidates:
        if d.casefold() == assignment.casefold():
            return d
    return candidates[-1]


def student_of(head: str, prefix: str | None, assignment: str, roster: Roster) -> str:
    """The id in one Blackboard ``<assignment>_<student>`` part, given the archive's prefix."""
    head = normalize_id(head)
    if prefix is not None and head.startswith(prefix + "_") and len(head) > len(prefix) + 1:
        rest = head[len(prefix) + 1:]
        return roster.find(rest) or rest
    return resolve_id(head, assignment, roster)


# ------------------------------------------------------------------------------------ the roster


def read_roster(path: str) -> list[RosterRow]:
    """The rows of nbgrader's roster CSV: an ``id`` column (``student_id`` accepted), optionally
    ``first_name``, ``last_name``, ``email``. Ids are NFC-normalised; a duplicate id, a row without
    an id, or a file that is not UTF-8 CSV is the instructor's error and raises ValueError."""
    if not os.path.isfile(path):
        raise ValueError(f"roster {path} does not exist (or is not a file)")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None:
                raise ValueError(f"roster {path} is empty: it needs a header line with an 'id' column")
            fields = {f.strip().lower(): f for f in reader.fieldnames if f is not None}
            key = fields.get("id") or fields.get("student_id")
            if key is None:
                raise ValueError(f"roster {path} needs an 'id' (or 'student_id') column; "
                                 f"its columns are {reader.fieldnames}")

            def col(row, name):
                value = row.get(fields[name]) if name in fields else ""
                return (value or "").strip() if isinstance(value, str) else ""

            rows, seen = [], {}
            for row in reader:
                line = reader.line_num
                if not any(isinstance(v, str) and v.strip() for v in row.values()):
                    continue                      # a blank line
                sid = normalize_id(row.get(key) or "")
                if not sid:
                    raise ValueError(f"roster {path}, line {line}: no id")
                if not is_path_safe(sid):
                    raise ValueError(f"roster {path}, line {line}: id {sid!r} cannot name a folder "
                                     "(no '.', '..', slashes or NUL)")
                if sid in seen:
                    raise ValueError(f"roster {path} lists id {sid!r} twice (lines {seen[sid]} and {line})")
                seen[sid] = line
                rows.append(RosterRow(sid, col(row, "first_name"), col(row, "last_name"), col(row, "email")))
    except UnicodeDecodeError as exc:
        raise ValueError(f"roster {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ValueError(f"roster {path} is not a readable CSV file: {exc}") from None
    return rows


# -------------------------------------------------------------------------- reading with byte caps


class _TooLarge(Exception):
    pass


def _copy_capped(src: BinaryIO, dest: str, cap: int) -> int:
    """Stream ``src`` into the new file ``dest``; at most ``cap`` bytes, else remove it and raise."""
    n = 0
    with open(dest, "xb") as out:
        while chunk := src.read(min(CHUNK, cap - n + 1)):
            n += len(chunk)
            if n > cap:
                break
            out.write(chunk)
    if n > cap:
        os.unlink(dest)
        raise _TooLarge
    return n


def _open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file, never through a symbolic link, never
    blocking on a FIFO (the check is on the opened descriptor, so a swap after a listing is caught)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{os.path.basename(path)} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def notebook_grade_ids(data: bytes) -> tuple[frozenset[str] | None, str]:
    """(nbgrader grade_ids of the notebook's cells, "") or (None, why it is not a notebook)."""
    if not data.strip():
        return None, "the file is empty"
    try:
        nb = json.loads(data)
    except RecursionError:
        return None, "the JSON is nested too deeply to be a notebook"
    except (ValueError, UnicodeDecodeError):
        return None, "not a Jupyter notebook (not JSON)"
    if not isinstance(nb, dict):
        return None, "not a Jupyter notebook (JSON, but not an object)"
    cells = nb.get("cells")
    if cells is None and isinstance(nb.get("worksheets"), list):   # nbformat 3
        cells = [c for ws in nb["worksheets"] if isinstance(ws, dict) for c in (ws.get("cells") or [])]
    if not isinstance(cells, list):
        return None, "not a Jupyter notebook (JSON without cells)"
    ids = set()
    for cell in cells:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
        if isinstance(gid, str):
            ids.add(gid)
    return frozenset(ids), ""


# ------------------------------------------------------------------------------ choosing the notebook

_NOTEBOOK_SUFFIXES = (".ipynb", ".ipynb.txt", ".ipynb.json")
# Each mark has exactly one reading (so matching cannot backtrack exponentially on a crafted name):
# " (2)", "-2"/"_2"/" 2", " - Copy"/"-copy", "_copy"/" copy".
_COPY_MARKS = re.compile(r"(?:\s*\(\d+\)|[-_ ]\d+|\s*-\s*copy|[_ ]copy)+", re.I)
_COPY_MARKS_CHARS = 64


def is_notebook_name(name: str) -> bool:
    return name.casefold().endswith(_NOTEBOOK_SUFFIXES)


def is_rename_of(name: str, notebook: str) -> bool:
    """Is ``name`` what an LMS, a browser or a student's file manager makes of ``<notebook>.ipynb``?

    Case changes (``Optimizers.ipynb``), copy marks (``optimizers (1).ipynb``,
    ``optimizers-2.ipynb``, ``optimizers_3.ipynb``, ``optimizers - Copy.ipynb``), a prefix
    ``Copy of``, and a browser's extra ``.txt``/``.json`` (``optimizers.ipynb.txt``).
    """
    folded = unicodedata.normalize("NFC", name).casefold()
    for suffix in _NOTEBOOK_SUFFIXES:
        if folded.endswith(suffix):
            stem = folded[:-len(suffix)].strip()
            break
    else:
        return False
    stem = re.sub(r"^copy of\s+", "", stem)
    want = notebook.casefold()
    if stem == want:
        return True
    rest = stem[len(want):]
    return (stem.startswith(want) and len(rest) <= _COPY_MARKS_CHARS
            and _COPY_MARKS.fullmatch(rest) is not None)


@dataclass
class Candidate:
    """One file of the graded attempt, read (or refused) for choosing the notebook.

    ``path`` is our copy (None when not read), ``problem`` why it cannot be graded,
    ``grade_ids`` its nbgrader cells (None when not a notebook).
    """

    name: str
    source: str
    path: str | None = None
    problem: Flag | None = None
    grade_ids: frozenset[str] | None = None


@dataclass
class Choice:
    chosen: Candidate | None
    status: str
    flags: list[Flag]


def choose_notebook(files: list[Candidate], notebook: str, expected_ids: set[str] | None) -> Choice:
    """Pick the file to grade from one attempt, and say what became of the others.

    A readable notebook is acceptable when it is not foreign (its nbgrader cells are not all
    another assignment's) and either has the exact name, holds this assignment's cells, or is a
    rename of the name. Among acceptable ones: exact name, then most of this assignment's cells,
    then a rename, then the name (so the choice is repeatable).
    """
    exact = notebook + ".ipynb"
    expected = frozenset(expected_ids or ())

    def ours(c: Candidate) -> int:
        return len(c.grade_ids & expected) if c.grade_ids is not None else 0

    def foreign(c: Candidate) -> bool:
        return bool(expected) and bool(c.grade_ids) and not ours(c)

    readable = [c for c in files if c.problem is None and c.grade_ids is not None]
    acceptable = [c for c in readable if not foreign(c)
                  and (c.name == exact or ours(c) or is_rename_of(c.name, notebook))]
    if acceptable:
        chosen = max(acceptable, key=lambda c: (c.name == exact, ours(c), is_rename_of(c.name, notebook),
                                               c.name, c.source))
        flags = []
        if chosen.name != exact:
            why = "it holds this assignment's cells" if ours(chosen) else "the name is a rename"
            flags.append(Flag(Kind.RENAMED, f"graded {display(chosen.name)} as {exact} ({why})"))
        others = [c for c in files if c is not chosen]
        if others:
            flags.append(Flag(Kind.EXTRA_FILES, "not graded: " + _listing(
                display(c.name) + (f" ({c.problem.message})" if c.problem else "") for c in others)))
        return Choice(chosen, "pending", flags)
    if not files:
        return Choice(None, "missing", [Flag(Kind.MISSING, "the attempt holds no files")])
    flags = []
    strangers = readable                   # nothing is acceptable: every readable notebook is a stranger
    problems = [c for c in files if c.problem is not None]
    for kind in dict.fromkeys(c.problem.kind for c in problems):     # one flag per kind, however many files
        flags.append(Flag(kind, _listing(f"{display(c.name)}: {c.problem.message}"
                                         for c in problems if c.problem.kind is kind)))
    if strangers:
        why = ("its nbgrader cells belong to another assignment" if any(foreign(c) for c in strangers)
               else "it does not hold this assignment's cells" if expected
               else "nothing shows it is this assignment's")
        flags.append(Flag(Kind.FOREIGN_NOTEBOOK, f"no {exact}; found {_listing(display(c.name) for c in strangers)}: "
                                                 f"{why}"))
    if not flags:
        flags.append(Flag(Kind.INVALID_FILE, f"no notebook submitted, only {_listing(display(c.name) for c in files)}"))
    return Choice(None, "invalid", flags)


# ------------------------------------------------------------------------------ indexing the inputs


@dataclass
class _Ref:
    """One file of an attempt, not read yet: its name, a way to open it, or a problem found already."""

    name: str
    source: str
    opener: Callable[[], BinaryIO] | None
    size: int = 0
    problem: Flag | None = None
    is_zip: bool = False
    depth: int = 0


@dataclass
class _Attempt:
    key: str
    stamp_text: str | None = None
    when: datetime | None = None
    refs: list[_Ref] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def order(self):
        natural = [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", self.key) if t]
        return (self.when is not None, self.when or datetime.min.replace(tzinfo=timezone.utc), natural,
                [r.source for r in self.refs])

    def describe(self) -> str:
        when = self.when.strftime("%Y-%m-%d %H:%M:%S UTC") if self.when else "time unknown"
        return f"{when}: {_listing(r.source for r in self.refs) or '(no files)'}"


@dataclass
class _Uploads:
    """Attempts per student id, as the inputs name them (ids resolved, not yet checked)."""

    by_student: dict[str, dict[str, _Attempt]] = field(default_factory=dict)
    bad_ids: dict[str, str] = field(default_factory=dict)      # row id -> why
    unmatched: list[Unmatched] = field(default_factory=list)

    def attempt(self, sid: str, key: str, stamp: str | None, tz: tzinfo) -> _Attempt:
        attempts = self.by_student.setdefault(sid, {})
        if key not in attempts:
            a = attempts[key] = _Attempt(key, stamp, parse_timestamp(stamp, tz))
            if stamp is not None and a.when is None:
                a.flags.append(Flag(Kind.BAD_TIMESTAMP, f"the time {display(stamp, 40)!r} cannot be read; "
                                                        f"graded, but lateness and 'latest attempt' could not use it"))
        return attempts[key]


def is_path_safe(student_id: str) -> bool:
    """Can ``student_id`` name a folder of its own (no ``.``/``..``, no slash, no NUL)?"""
    return student_id not in (".", "..") and not any(ch in student_id for ch in "/\\\0")


def _check_id(raw: str, limits: Limits, roster: Roster, uploads: _Uploads, name: str) -> str | None:
    """The id to file an upload under, or None (listed as unmatched) when it cannot be one."""
    sid = normalize_id(raw)
    if roster.find(sid) is not None:
        return roster.find(sid)
    if not sid:
        uploads.unmatched.append(Unmatched(display(name), "the student part of the name is empty"))
        return None
    if _has_control(sid):
        uploads.unmatched.append(Unmatched(display(name), "the student id holds control characters"))
        return None
    if not is_path_safe(sid):
        # ids name folders (nbgrader's submitted/<id>/, the feedback pages): "..", "." or a
        # slash would reach outside them
        uploads.unmatched.append(Unmatched(display(name), f"{display(sid)!r} cannot be a student id "
                                                          "(it cannot name a folder)"))
        return None
    if len(sid) > limits.id_chars:
        row = sid[:limits.id_chars] + "…" + hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        uploads.bad_ids[row] = (f"the student id in {display(name)} is {len(sid)} characters long "
                                f"(limit {limits.id_chars}): attribute it by hand")
        return None
    return sid


def _member_problem(info: zipfile.ZipInfo, limits: Limits) -> Flag | None:
    """What makes a zip member unreadable, seen from the archive's directory alone.

    Only stored and deflated members are read: Python's zipfile bounds the output of each deflate
    step, but decompresses a bzip2 or LZMA chunk whole, so one small chunk could fill the memory
    before the byte cap sees it (and no LMS or desktop zip tool writes them by default).
    """
    if info.flag_bits & 0x1:
        return Flag(Kind.INVALID_FILE, "encrypted in the zip (a password is needed)")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return Flag(Kind.INVALID_FILE, f"compressed with method {info.compress_type} (only stored and deflated "
                                       f"members are read)")
    if stat.S_ISLNK(info.external_attr >> 16):
        return Flag(Kind.INVALID_FILE, "a symbolic link in the zip, not a file")
    if info.file_size > RATIO_FLOOR and info.file_size > limits.ratio * max(info.compress_size, 1):
        return Flag(Kind.TOO_LARGE, f"compressed {info.file_size // max(info.compress_size, 1)}:1, over the "
                                    f"{limits.ratio:g}:1 limit (a zip bomb)")
    if info.file_size > limits.bytes("member_mb"):
        return Flag(Kind.TOO_LARGE, f"{info.file_size / MB:.1f} MB, over the {limits.member_mb:g} MB limit per file")
    return None


def _skipped(parts: list[str]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _parts(name: str) -> list[str]:
    """The components of a member name, ``..`` and empty ones dropped (never used as a path)."""
    return [p for p in re.split(r"[\\/]", name) if p not in ("", ".", "..")]


class _Reader:
    """Reads one collection's inputs into :class:`_Uploads`, inside the byte and member budgets."""

    def __init__(self, assignment: str, roster: Roster, limits: Limits, workdir: str, tz: tzinfo,
                 pattern: re.Pattern | None):
        self.assignment, self.roster, self.limits, self.tz, self.pattern = assignment, roster, limits, tz, pattern
        self.workdir = workdir
        self.uploads = _Uploads()
        self.members = 0
        self.archive_left = limits.bytes("zip_mb")
        self.open_zips: list[zipfile.ZipFile] = []
        self.counter = 0

    def tmp(self, suffix: str = "") -> str:
        self.counter += 1
        d = os.path.join(self.workdir, ".tmp")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, f"{self.counter}{suffix}")

    def close(self) -> None:
        for zf in self.open_zips:
            zf.close()
        shutil.rmtree(os.path.join(self.workdir, ".tmp"), ignore_errors=True)

    # -- the nbgrader folder -----------------------------------------------------------------------

    def read_folder(self, root: str) -> None:
        with os.scandir(root) as it:
            items = sorted(it, key=lambda e: e.name)
        for item in items:
            if item.name.startswith("."):
                continue
            if not item.is_dir(follow_symlinks=False):
                why = ("a symbolic link, not followed" if item.is_symlink()
                       else f"not a student folder (<student>/{self.assignment}/)")
                self.uploads.unmatched.append(Unmatched(display(item.name), why))
                continue
            sid = _check_id(item.name, self.limits, Roster(None), self.uploads, item.name)
            if sid is None:
                continue
            attempts = self.uploads.by_student.setdefault(sid, {})
            adir = os.path.join(item.path, self.assignment)
            try:
                mode = os.lstat(adir).st_mode
            except OSError:
                continue                 # no folder for this assignment: missing (see _settle)
            if not stat.S_ISDIR(mode):
                a = attempts.setdefault("folder", _Attempt("folder"))
                a.refs.append(_Ref(self.assignment, display(f"{item.name}/{self.assignment}"), None,
                                   problem=Flag(Kind.INVALID_FILE, "not a folder (a symbolic link or a file)")))
                continue
            stamp = self._timestamp_txt(os.path.join(adir, "timestamp.txt"))
            a = self.uploads.attempt(sid, "folder", stamp, self.tz)
            a.refs.extend(self._walk(adir, f"{item.name}/{self.assignment}"))

    def _timestamp_txt(self, path: str) -> str | None:
        try:
            with _open_regular(path) as fh:
                return fh.read(TIMESTAMP_TXT_BYTES).decode("utf-8", "replace").strip() or None
        except OSError:
            return None

    def _walk(self, top: str, shown: str) -> list[_Ref]:
        refs, stack, count = [], [(top, shown)], 0
        while stack:
            folder, label = stack.pop()
            try:
                with os.scandir(folder) as it:      # never more entries in memory than the limit allows
                    items = sorted(itertools.islice(it, self.limits.members - count + 1), key=lambda e: e.name)
            except OSError as exc:
                refs.append(_Ref(os.path.basename(folder), display(label), None,
                                 problem=Flag(Kind.INVALID_FILE, f"folder cannot be read ({exc.strerror})")))
                continue
            for item in items:
                if item.name.startswith(".") or item.name == "__MACOSX" or (folder == top and item.name == "timestamp.txt"):
                    continue
                source = display(f"{label}/{item.name}")
                count += 1
                if count > self.limits.members:     # refused whole: which files a cut keeps would be arbitrary
                    return [_Ref(os.path.basename(top), display(shown), None, problem=Flag(
                        Kind.TOO_LARGE, f"holds more than {self.limits.members} files"))]
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append((item.path, f"{label}/{item.name}"))
                elif stat.S_ISREG(st.st_mode):
                    refs.append(_Ref(item.name, source, (lambda p=item.path: _open_regular(p)), st.st_size,
                                     self._size_problem(st.st_size), item.name.casefold().endswith(".zip")))
                else:
                    kind = "a symbolic link, not followed" if stat.S_ISLNK(st.st_mode) else "not a regular file"
                    refs.append(_Ref(item.name, source, None, problem=Flag(Kind.INVALID_FILE, kind)))
        return refs

    def _size_problem(self, size: int) -> Flag | None:
        if size > self.limits.bytes("member_mb"):
            return Flag(Kind.TOO_LARGE, f"{size / MB:.1f} MB, over the {self.limits.member_mb:g} MB limit per file")
        return None

    # -- the LMS zip -------------------------------------------------------------------------------

    def read_zip(self, path: str) -> None:
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ValueError(f"{path} is not a readable zip file ({exc})") from None
        self.open_zips.append(zf)
        infos = zf.infolist()
        if len(infos) > self.limits.members:
            raise ValueError(f"{path} holds {len(infos)} files, over the limit of {self.limits.members} "
                             f"(raise Limits.members)")
        self._index(zf, infos, 0, os.path.basename(path))

    def _shape(self, infos: list[zipfile.ZipInfo]) -> str:
        """The archive's LMS: the shape most member names parse as (earliest anchor per name)."""
        votes = dict.fromkeys(SHAPES, 0)
        for info in infos:
            for part in _parts(info.filename):
                p = parse_lms_name(part)
                if p is not None:
                    votes[p.shape] += 1
                    break
        return max(SHAPES, key=lambda s: votes[s])       # ties: the order of SHAPES

    def _parse(self, part: str, shape: str) -> LmsName | None:
        if self.pattern is None:
            return parse_lms_name(part, shape)
        m = self.pattern.match(part)
        if not m or not m.group("student_id") or not m.group("file_id"):
            return None
        stamp = m.groupdict().get("timestamp")
        return LmsName("regexp", m.group("student_id"), stamp or "", stamp, m.group("file_id"), m.start("file_id"))

    def _index(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], depth: int, label: str) -> None:
        shape = self._shape(infos) if self.pattern is None else "regexp"
        named = []
        for info in infos:
            if info.is_dir():
                continue
            parts = _parts(info.filename)
            shown = display(info.filename if depth == 0 else f"{label} › {info.filename}")
            if not parts:
                self.uploads.unmatched.append(Unmatched(shown, "the member has no name"))
                continue
            if _skipped(parts):
                continue
            self.members += 1
            for level, part in enumerate(parts):
                lms = self._parse(part, shape)
                if lms is not None:
                    break
            else:
                if parts[-1].casefold().endswith(".zip"):
                    self._container(zf, info, depth, shown)
                else:
                    why = ("does not match the zip_regexp" if self.pattern is not None
                           else f"does not match the LMS naming ({shape})")
                    self.uploads.unmatched.append(Unmatched(shown, why))
                continue
            if not lms.receipt:
                named.append((info, parts, level, lms, shown))
        prefix = archive_prefix([lms.who for *_, lms, _ in named if lms.shape == "blackboard"],
                                self.assignment, self.roster)
        for info, parts, level, lms, shown in named:
            if lms.shape == "blackboard":
                raw = student_of(lms.who, prefix, self.assignment, self.roster)
            else:
                raw = lms.who
            sid = _check_id(raw, self.limits, self.roster, self.uploads, shown)
            if sid is None:
                continue
            name = parts[-1] if level < len(parts) - 1 else lms.file
            if not name:            # a Moodle folder with nothing after it
                continue
            a = self.uploads.attempt(sid, lms.attempt, lms.timestamp, self.tz)
            if lms.late and not any(f.kind is Kind.LATE for f in a.flags):
                a.flags.append(Flag(Kind.LATE, "the LMS marked this submission late"))
            a.refs.append(_Ref(name, shown, (lambda z=zf, i=info: z.open(i)), info.file_size,
                               _member_problem(info, self.limits), name.casefold().endswith(".zip"), depth))

    def _container(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, depth: int, shown: str) -> None:
        """A zip that no LMS name claims: a bundle of LMS downloads, whose members are LMS names."""
        problem = _member_problem(info, self.limits)
        if depth + 1 > self.limits.depth:
            problem = Flag(Kind.INVALID_FILE, f"a zip nested more than {self.limits.depth} levels deep")
        inner = None
        if problem is None:
            tmp = self.tmp(".zip")
            try:
                with zf.open(info) as src:
                    n = _copy_capped(src, tmp, min(self.limits.bytes("member_mb"), self.archive_left))
                self.archive_left -= n
                inner = zipfile.ZipFile(tmp)
            except _TooLarge:
                problem = Flag(Kind.TOO_LARGE, "over the size limit")
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
                problem = Flag(Kind.INVALID_FILE, f"a corrupt zip ({type(exc).__name__})")
        if inner is not None:
            infos = inner.infolist()
            if self.members + len(infos) > self.limits.members:
                inner.close()
                problem = Flag(Kind.TOO_LARGE, f"holds {len(infos)} files, over the limit of {self.limits.members}")
            else:
                self.open_zips.append(inner)
                self._index(inner, infos, depth + 1, shown)
                return
        self.uploads.unmatched.append(Unmatched(shown, f"a zip no student's name claims, not read: {problem.message}"))


# ------------------------------------------------------------------------ one student's graded attempt


class _Student:
    """Reads one student's graded attempt into candidates, inside the student's byte budget."""

    def __init__(self, reader: _Reader, folder: str, notebook: str):
        self.reader, self.folder, self.limits, self.notebook = reader, folder, reader.limits, notebook
        self.left = self.limits.bytes("student_mb")
        self.members_left = self.limits.members       # files in this student's own zips
        self.count = 0

    def candidates(self, refs: list[_Ref]) -> list[Candidate]:
        """Every file of ``refs`` as a candidate, the likeliest notebooks read first (so padding
        files cannot spend the student's byte budget before the real notebook is read)."""
        exact = self.notebook + ".ipynb"
        out: list[Candidate] = []
        for ref in sorted(refs, key=lambda r: (r.name != exact, not is_rename_of(r.name, self.notebook),
                                               not is_notebook_name(r.name), r.is_zip, r.source)):
            out.extend(self._read(ref))
        return out

    def _cap(self) -> tuple[int, str]:
        caps = [(self.limits.bytes("member_mb"), f"the {self.limits.member_mb:g} MB limit per file"),
                (self.left, f"the {self.limits.student_mb:g} MB limit per student"),
                (self.reader.archive_left, f"the {self.limits.zip_mb:g} MB limit per archive")]
        return min(caps, key=lambda c: c[0])

    def _copy(self, ref: _Ref, suffix: str) -> str:
        cap, _ = self._cap()
        self.count += 1
        dest = os.path.join(self.folder, f"{self.count}{suffix}")
        try:
            with ref.opener() as src:
                n = _copy_capped(src, dest, cap)
        except BaseException:
            if os.path.exists(dest):      # a member that fails its CRC half-way leaves nothing behind
                os.unlink(dest)
            raise
        self.left -= n
        self.reader.archive_left -= n
        return dest

    def _read(self, ref: _Ref) -> list[Candidate]:
        if ref.problem is not None or ref.opener is None:
            return [Candidate(ref.name, ref.source, problem=ref.problem)]
        if ref.is_zip:
            return self._unzip(ref)
        if not is_notebook_name(ref.name):
            return [Candidate(ref.name, ref.source)]        # listed, never read
        try:
            path = self._copy(ref, ".ipynb")
        except _TooLarge:
            return [Candidate(ref.name, ref.source, problem=Flag(Kind.TOO_LARGE, f"over {self._cap()[1]}"))]
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
            return [Candidate(ref.name, ref.source, problem=Flag(Kind.INVALID_FILE, f"cannot be read: corrupt "
                                                                                    f"({type(exc).__name__})"))]
        with open(path, "rb") as fh:
            ids, why = notebook_grade_ids(fh.read())
        if ids is None:
            os.unlink(path)
            return [Candidate(ref.name, ref.source, problem=Flag(Kind.INVALID_FILE, why))]
        return [Candidate(ref.name, ref.source, path, None, ids)]

    def _unzip(self, ref: _Ref) -> list[Candidate]:
        """A student's own zip: its files are the student's; the names inside only name files."""
        if ref.depth + 1 > self.limits.depth:
            return [Candidate(ref.name, ref.source, problem=Flag(
                Kind.INVALID_FILE, f"a zip nested more than {self.limits.depth} levels deep, not opened"))]
        try:
            path = self._copy(ref, ".zip")
            zf = zipfile.ZipFile(path)
        except _TooLarge:
            return [Candidate(ref.name, ref.source, problem=Flag(Kind.TOO_LARGE, f"over {self._cap()[1]}"))]
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
            return [Candidate(ref.name, ref.source, problem=Flag(Kind.INVALID_FILE,
                                                                 f"a corrupt zip ({type(exc).__name__})"))]
        with zf:
            infos = [i for i in zf.infolist() if not i.is_dir() and _parts(i.filename)
                     and not _skipped(_parts(i.filename))]
            if len(infos) > self.members_left:
                return [Candidate(ref.name, ref.source, problem=Flag(
                    Kind.TOO_LARGE, f"holds {len(infos)} files, over the limit of {self.limits.members}"))]
            self.members_left -= len(infos)
            inner = []
            for info in infos:
                name = _parts(info.filename)[-1]
                inner.append(_Ref(name, display(f"{ref.source} › {info.filename}"), (lambda i=info: zf.open(i)),
                                  info.file_size, _member_problem(info, self.limits),
                                  name.casefold().endswith(".zip"), ref.depth + 1))
            out = self.candidates(inner)
        os.unlink(path)
        return out


# ------------------------------------------------------------------------------------- the stage


def _compile(zip_regexp: str | None) -> re.Pattern | None:
    if zip_regexp is None or zip_regexp == DEFAULT_ZIP_REGEXP:
        return None
    try:
        pattern = re.compile(zip_regexp)
    except re.error as exc:
        raise ValueError(f"zip_regexp {zip_regexp!r} is not a valid regular expression: {exc}") from None
    missing = {"student_id", "file_id"} - set(pattern.groupindex)
    if missing:
        raise ValueError(f"zip_regexp {zip_regexp!r} needs the named groups (?P<student_id>...) and "
                         f"(?P<file_id>...); it lacks {', '.join(sorted(missing))}")
    return pattern


def collect(*, submissions: str | None = None, zip_path: str | None = None, roster: str | None,
            assignment: str, notebook: str, workdir: str, limits: Limits = Limits(),
            zip_regexp: str | None = None, expected_ids: set[str] | None = None,
            tz: tzinfo = timezone.utc) -> Collection:
    """Every student's entry from a submissions folder or an LMS zip (see the module docstring).

    ``expected_ids`` are the nbgrader grade_ids of the assignment's cells (to tell a renamed
    notebook of this assignment from another assignment's); ``tz`` is the zone of times written
    without one. Raises ValueError only for the instructor's errors.
    """
    entries, unmatched, _ = _collect(submissions, zip_path, roster, assignment, notebook, workdir, limits,
                                     zip_regexp, expected_ids, tz)
    return Collection(entries, unmatched)


def _collect(submissions, zip_path, roster, assignment, notebook, workdir, limits, zip_regexp, expected_ids, tz):
    if (submissions is None) == (zip_path is None):
        raise ValueError("give exactly one of submissions (a folder) or zip_path (an LMS zip)")
    if not assignment or not notebook:
        raise ValueError("assignment and notebook names are needed")
    notebook = notebook[:-len(".ipynb")] if notebook.endswith(".ipynb") else notebook
    if os.sep in notebook or notebook in (".", ".."):
        raise ValueError(f"notebook {notebook!r} must be a plain file name")
    if submissions is not None and not os.path.isdir(submissions):
        raise ValueError(f"submissions folder {submissions} does not exist (or is not a folder)")
    if zip_path is not None and not os.path.isfile(zip_path):
        raise ValueError(f"zip file {zip_path} does not exist (or is not a file)")
    pattern = _compile(zip_regexp)
    people = Roster(read_roster(roster) if roster else None)
    os.makedirs(workdir, exist_ok=True)
    reader = _Reader(assignment, people, limits, workdir, tz, pattern)
    stamps: dict[str, str | None] = {}
    try:
        if submissions is not None:
            reader.read_folder(submissions)
        else:
            reader.read_zip(zip_path)
        found = {sid: _settle(sid, attempts, reader, assignment, notebook, expected_ids, stamps)
                 for sid, attempts in reader.uploads.by_student.items()}
    finally:
        reader.close()
    for row_id, why in reader.uploads.bad_ids.items():
        found[row_id] = Entry(row_id, status="invalid", flags=[Flag(Kind.UNMATCHED_UPLOAD, why)])
    entries = []
    if people.rows is not None:
        for row in people.rows:
            e = found.pop(row.id, None) or Entry(row.id, status="missing",
                                                 flags=[Flag(Kind.MISSING, f"no submission for {assignment}")])
            e.first_name, e.last_name, e.email = row.first_name, row.last_name, row.email
            entries.append(e)
    for sid in sorted(found):
        e = found[sid]
        if people.rows is not None:
            e.on_roster = False
            e.flags.insert(0, Flag(Kind.NOT_ON_ROSTER, f"{display(sid)} is not on the roster"))
        entries.append(e)
    return entries, reader.uploads.unmatched, stamps


def _settle(sid: str, attempts: dict[str, _Attempt], reader: _Reader, assignment: str, notebook: str,
            expected_ids, stamps) -> Entry:
    """One student's entry: the latest attempt read, its notebook chosen and copied into workdir."""
    entry = Entry(sid)
    if not attempts:
        entry.status = "missing"
        entry.flag(Kind.MISSING, f"no {assignment}/ folder")
        return entry
    ordered = sorted(attempts.values(), key=_Attempt.order)
    graded = ordered[-1]
    entry.attempts = [a.describe() for a in ordered]
    entry.timestamp = graded.when
    stamps[sid] = graded.stamp_text
    entry.flags.extend(graded.flags)
    if len(ordered) > 1:
        entry.flag(Kind.DUPLICATE, f"{len(ordered)} attempts; graded the latest ({graded.describe()}); "
                                   f"not graded: {_listing(a.describe() for a in ordered[:-1])}")
    folder = os.path.join(reader.workdir, safe_slug(sid))
    shutil.rmtree(folder, ignore_errors=True)       # a re-run into the same workdir starts clean
    os.makedirs(folder)
    files = _Student(reader, folder, notebook).candidates(graded.refs)
    choice = choose_notebook(files, notebook, expected_ids)
    entry.flags.extend(choice.flags)
    entry.status = choice.status
    if choice.chosen is not None:
        final = os.path.join(folder, notebook + ".ipynb")
        os.replace(choice.chosen.path, final)
        entry.notebook = final
        entry.source = choice.chosen.source
    else:
        entry.source = _listing(c.source for c in files)
    for c in files:
        if c.path and c is not choice.chosen and os.path.exists(c.path):
            os.unlink(c.path)
    return entry
