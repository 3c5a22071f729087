"""Find every student's submission: an nbgrader ``submitted/`` folder or an LMS zip, plus a roster.

Two input layouts are accepted.

* nbgrader's own: ``DIR/<student_id>/<assignment>/<notebook>.ipynb`` (what ``nbgrader collect``
  or ``nbgrader zip_collect`` leaves in ``submitted/``), with an optional ``timestamp.txt``.
* an LMS download zip, following ``nbgrader zip_collect``'s conventions: every file's *base name*
  is matched against a regular expression with the named groups ``student_id`` and
  ``file_id`` (and optionally ``timestamp``). The default, :data:`DEFAULT_ZIP_REGEXP`, is
  nbgrader's documented example shape::

      <anything>_<student_id>_attempt_<timestamp>_<file_id>
      e.g.  optimizers_bitdiddle_attempt_2026-11-30-15-00-00_optimizers.ipynb

  Folders inside the zip are ignored, nested zips are opened, and files that do not match are
  reported (never silently dropped). When a student has several files for one notebook, the
  latest timestamp wins and the others are flagged.

The roster is a CSV with an ``id`` column (nbgrader's ``nbgrader db student import`` format:
``id,first_name,last_name,email``); ``student_id`` is accepted too. Every rostered student gets a
row in grades.csv; submissions from students not on the roster are graded and flagged.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from dataclasses import dataclass, field

DEFAULT_ZIP_REGEXP = r"^.*_(?P<student_id>[A-Za-z0-9.\-]+)_attempt_(?P<timestamp>[0-9\-T:]+)_(?P<file_id>.+)$"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")


@dataclass
class Entry:
    """One student's input: the notebook to grade (if any) and what collection noticed."""

    student_id: str
    notebook: str | None = None          # path to the file to grade as <assignment notebook>.ipynb
    timestamp: str | None = None
    first_name: str = ""
    last_name: str = ""
    on_roster: bool = True
    status: str = "pending"              # pending | missing | invalid
    flags: list = field(default_factory=list)   # [(kind, reason)]

    def flag(self, kind: str, reason: str) -> None:
        self.flags.append((kind, reason))


def read_roster(path: str) -> list[dict]:
    """Rows of the roster CSV, each with ``id`` (required), ``first_name``, ``last_name``."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            raise ValueError(f"roster {path} is empty")
        fields = {f.strip().lower(): f for f in reader.fieldnames}
        key = fields.get("id") or fields.get("student_id")
        if key is None:
            raise ValueError(f"roster {path} needs an 'id' (or 'student_id') column, has {reader.fieldnames}")
        rows, seen = [], set()
        for row in reader:
            sid = (row.get(key) or "").strip()
            if not sid or sid in seen:
                continue
            seen.add(sid)
            rows.append({"id": sid,
                         "first_name": (row.get(fields.get("first_name", ""), "") or "").strip(),
                         "last_name": (row.get(fields.get("last_name", ""), "") or "").strip()})
    return rows


def _looks_like_notebook(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).lstrip()
        return head.startswith(b"{")
    except OSError:
        return False


def _pick(entry: Entry, candidates: list[tuple[str, str | None]], notebook: str, assignment: str) -> None:
    """Choose the file to grade among ``candidates`` [(path, timestamp)] for one student."""
    wanted = notebook + ".ipynb"
    named = [c for c in candidates if os.path.basename(c[0]) == wanted]
    ipynbs = [c for c in candidates if c[0].endswith(".ipynb")]
    others = [c for c in candidates if not c[0].endswith(".ipynb")]
    if named:
        named.sort(key=lambda c: c[1] or "")
        entry.notebook, entry.timestamp = named[-1]
        if len(named) > 1:
            entry.flag("duplicate", f"{len(named)} submissions of {wanted}; graded the latest "
                       f"({entry.timestamp or os.path.basename(entry.notebook)})")
        extra = [os.path.basename(c[0]) for c in ipynbs if c not in named]
        if extra:
            entry.flag("extra-files", "ignored extra notebook(s): " + ", ".join(sorted(extra)))
    elif ipynbs:
        names = ", ".join(sorted(os.path.basename(c[0]) for c in ipynbs))
        entry.status = "invalid"
        entry.flag("foreign-notebook", f"no {wanted} in the submission (found {names}); "
                   f"a notebook from another assignment or renamed")
    elif others:
        names = ", ".join(sorted(os.path.basename(c[0]) for c in others))
        entry.status = "invalid"
        entry.flag("not-a-notebook", f"no notebook submitted, only {names}")
    else:
        entry.status = "missing"
        entry.flag("missing", f"no submission for {assignment}")
    if entry.notebook and not _looks_like_notebook(entry.notebook):
        entry.status = "invalid"
        entry.flag("not-a-notebook", f"{os.path.basename(entry.notebook)} is not a Jupyter notebook (not JSON)")


def collect_dir(submitted: str, assignment: str, notebook: str) -> dict[str, Entry]:
    """Entries from an nbgrader ``submitted/`` folder: ``submitted/<student>/<assignment>/``."""
    if not os.path.isdir(submitted):
        raise FileNotFoundError(f"submissions folder {submitted} does not exist")
    found: dict[str, Entry] = {}
    for sid in sorted(os.listdir(submitted)):
        sdir = os.path.join(submitted, sid)
        if not os.path.isdir(sdir) or sid.startswith("."):
            continue
        entry = Entry(sid)
        if not STUDENT_ID.match(sid):
            entry.status = "invalid"
            entry.flag("bad-id", f"folder name {sid!r} is not a valid student id")
            found[sid] = entry
            continue
        adir = os.path.join(sdir, assignment)
        candidates = []
        ts = None
        if os.path.isdir(adir):
            tsfile = os.path.join(adir, "timestamp.txt")
            if os.path.isfile(tsfile):
                with open(tsfile, encoding="utf-8", errors="replace") as fh:
                    ts = fh.read().strip()[:64] or None
            for root, dirs, files in os.walk(adir):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    if name == "timestamp.txt" or name.startswith("."):
                        continue
                    candidates.append((os.path.join(root, name), ts))
        else:
            others = [d for d in os.listdir(sdir) if os.path.isdir(os.path.join(sdir, d))]
            if others:
                entry.flag("foreign-notebook", f"no {assignment}/ folder (found {', '.join(sorted(others))})")
        _pick(entry, candidates, notebook, assignment)
        found[sid] = entry
    return found


def collect_zip(path: str, assignment: str, notebook: str, extract_to: str,
                regexp: str = DEFAULT_ZIP_REGEXP) -> tuple[dict[str, Entry], list[str]]:
    """Entries from an LMS zip; returns (entries, names of files that matched nothing)."""
    pattern = re.compile(regexp)
    os.makedirs(extract_to, exist_ok=True)
    per_student: dict[str, list] = {}
    unmatched: list[str] = []
    counter = [0]

    def visit(zf: zipfile.ZipFile, depth: int) -> None:
        for info in zf.infolist():
            if info.is_dir():
                continue
            base = os.path.basename(info.filename.replace("\\", "/"))
            if not base or base.startswith(".") or "__MACOSX" in info.filename:
                continue
            if base.lower().endswith(".zip") and depth < 2:
                with zf.open(info) as fh:
                    data = fh.read()
                try:
                    visit(zipfile.ZipFile(io.BytesIO(data)), depth + 1)
                except zipfile.BadZipFile:
                    unmatched.append(base)
                continue
            m = pattern.match(base)
            if not m or not m.groupdict().get("student_id") or not m.groupdict().get("file_id"):
                unmatched.append(base)
                continue
            sid = m.group("student_id")
            ts = m.groupdict().get("timestamp")
            counter[0] += 1
            # never trust archive paths (zip-slip): store under a counter, keep the file_id name
            dest_dir = os.path.join(extract_to, f"{counter[0]:05d}")
            os.makedirs(dest_dir)
            dest = os.path.join(dest_dir, os.path.basename(m.group("file_id")))
            with zf.open(info) as src, open(dest, "wb") as dst:
                remaining = 200 * 1024 * 1024
                while chunk := src.read(1 << 20):
                    remaining -= len(chunk)
                    if remaining < 0:
                        raise ValueError(f"{base} is larger than 200 MB")
                    dst.write(chunk)
            per_student.setdefault(sid, []).append((dest, ts))

    with zipfile.ZipFile(path) as zf:
        visit(zf, 0)
    found = {}
    for sid, cands in sorted(per_student.items()):
        entry = Entry(sid)
        if not STUDENT_ID.match(sid):
            entry.status = "invalid"
            entry.flag("bad-id", f"{sid!r} is not a valid student id")
        else:
            _pick(entry, cands, notebook, assignment)
        found[sid] = entry
    return found, unmatched


def merge_roster(found: dict[str, Entry], roster: list[dict] | None) -> list[Entry]:
    """One entry per rostered student (missing ones included), then unrostered submitters."""
    if roster is None:
        return [found[k] for k in sorted(found)]
    out = []
    for row in roster:
        entry = found.pop(row["id"], None) or Entry(row["id"], status="missing",
                                                    flags=[("missing", "no submission")])
        entry.first_name, entry.last_name = row.get("first_name", ""), row.get("last_name", "")
        out.append(entry)
    for sid in sorted(found):
        entry = found[sid]
        entry.on_roster = False
        entry.flag("not-on-roster", f"{sid} is not on the roster")
        out.append(entry)
    return out
