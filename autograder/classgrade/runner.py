"""Grade a whole class: one long-lived grading worker per core, each with its own course copy.

Pipeline (main process, :func:`grade_class`):

1. collect the submissions (:mod:`.collect`) and merge them with the roster;
2. build a *template* course once: the instructor's ``source/<assignment>`` plus a gradebook made
   by ``nbgrader generate_assignment`` (nbgrader's Python API, in-process; the empty gradebook
   by :func:`new_gradebook`);
3. hand each submission to :func:`grade_submission`, a plain top-level function, through a
   ``concurrent.futures`` executor (``ProcessPoolExecutor``, or a dask.distributed client's
   executor) with a tqdm progress bar;
4. merge the workers' gradebooks into ``OUT/gradebook.db``, then write ``grades.csv``, the
   feedback pages and the class report (:mod:`.report`).

Each worker process (or dask worker thread) lazily builds a :class:`Worker` the first time it
gets a task and keeps it: one copy of the template course with ONE private gradebook (SQLite
"database is locked" never happens), nbgrader imported once and driven through
``NbGraderAPI.autograde`` / ``generate_feedback``, and two zygotes (:mod:`.zygote`) that fork
kernels and probes with their imports done. Per submission it

* scans the student's code statically (:mod:`.scan`),
* runs nbgrader's autograde with kernels forked from the kernel zygote inside the sandbox
  (:mod:`.sandbox`), ``Execute.timeout`` per cell, a watchdog for the whole submission, and
  a raised ``iopub_timeout``,
* re-runs the student's code out of the kernel (forked from the probe zygote) and compares
  trajectories (:mod:`.verify`); that verdict wins over the in-kernel score,
* writes the decided scores back to its gradebook as ``manual_score`` overrides (so nbgrader's
  own ``export`` and feedback agree), generates feedback, and moves the student's files out.
"""

from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import copy
import importlib
import json
import os
import shutil
import socket
import sqlite3
import sys
import threading
import warnings
import time
import traceback
from dataclasses import dataclass, field, asdict

from . import collect as col

COURSE_ID = "course"


@dataclass
class GradeConfig:
    """Everything a worker needs; plain data so it pickles to any executor."""

    course: str                 # instructor's nbgrader course root
    assignment: str
    notebook: str               # the assignment's notebook name (without .ipynb)
    out: str                    # output folder (shared with the workers)
    template: str               # prepared template course (source + gradebook)
    cell_timeout: int = 30
    timeout: int = 300          # wall-clock limit for one submission (kernel run)
    checks: str = "autograder.checks"
    memory_mb: int = 3072
    hide: list = field(default_factory=list)
    sandbox: bool = True        # use uid/namespaces when the machine allows
    tests: list = field(default_factory=list)   # [{grade_id, points, source, names}]
    solution_ids: list = field(default_factory=list)
    locked: dict = field(default_factory=dict)  # grade_id -> instructor source of locked code cells
    targets: list = field(default_factory=list)
    extra_pythonpath: list = field(default_factory=list)
    exempt_copy: list = field(default_factory=list)     # classes the model solution writes like the reference
    allowed_imports: list = field(default_factory=list)  # what the instructor's cells import
    aliases: dict = field(default_factory=dict)          # instructor's import aliases (np -> numpy)
    probe_hide: list = field(default_factory=list)       # reference sources hidden from the probe
    preload: bool = True        # fork kernels and probes from a zygote (:mod:`.zygote`)


# ----------------------------------------------------------------------------------------
# worker side


_WORKERS: dict = {}
_WORKERS_LOCK = threading.Lock()


def _nbgrader_config(cfg: GradeConfig, root: str):
    from traitlets.config import Config
    from .sandbox import _make_execute_class
    from nbgrader.preprocessors import (IgnorePattern, LimitOutput, SaveAutoGrades,
                                        AssignLatePenalties, CheckCellMetadata)
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    c = _instructor_config(cfg.course)
    c.CourseDirectory.root = root
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.db_url = f"sqlite:///{os.path.join(root, 'gradebook.db')}"
    c.Execute.timeout = int(cfg.cell_timeout)
    c.Execute.interrupt_on_timeout = True
    c.Execute.iopub_timeout = 60          # the default 4 s flakes under load
    c.Execute.startup_timeout = 120
    c.Execute.raise_on_iopub_timeout = False
    c.OverwriteCells.add_missing_cells = True
    c.LimitOutput.max_lines = 200
    c.LimitOutput.max_traceback = 60
    c.Autograde.autograde_preprocessors = [
        _make_execute_class(), IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    c.Application.log_level = "WARN"
    return c


def _instructor_config(course: str):
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    path = os.path.join(course, "nbgrader_config.py")
    if os.path.exists(path):
        try:
            c = PyFileConfigLoader("nbgrader_config.py", path=course).load_config()
            c = copy.deepcopy(c)
            for key in ("CourseDirectory", "Exchange"):
                c.pop(key, None)
            return c
        except Exception:  # noqa: BLE001 - a broken instructor config falls back to defaults
            pass
    return Config()


class Worker:
    """One grading slot: a course copy, a gradebook, nbgrader loaded, a sandbox uid."""

    def __init__(self, cfg: GradeConfig):
        from nbgrader.apps import NbGraderAPI
        from .sandbox import Sandbox, Limits, capabilities
        from .verify import Checks
        self.cfg = cfg
        tid = threading.get_ident() % 997
        host = "".join(ch for ch in socket.gethostname() if ch.isalnum() or ch in "-.")[:40] or "host"
        self.name = f"w-{host}-{os.getpid()}-{tid}"     # unique across the machines of a cluster
        base = os.path.join(cfg.out, ".work")
        self.dir = os.path.join(base, self.name)
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        self.course = os.path.join(self.dir, "course")
        os.makedirs(self.course)
        # two zygotes (they import while this worker sets up): kernels may import the
        # reference (the notebook's plot does), the probe must not find it even in memory
        self.zygotes, self._zygotes_checked, self._zygote_restarts = {}, set(), 0
        if cfg.preload:
            from .zygote import Zygote
            env = {"PYTHONPATH": os.pathsep.join(cfg.extra_pythonpath)} if cfg.extra_pythonpath else None
            for kind in ("kernel", "probe"):
                self.zygotes[kind] = Zygote(os.path.join(self.dir, f"zygote-{kind}"),
                                            preload_modules(cfg.checks, kind), env=env)
        shutil.copytree(os.path.join(cfg.template, "source"), os.path.join(self.course, "source"))
        shutil.copy(os.path.join(cfg.template, "gradebook.db"), os.path.join(self.course, "gradebook.db"))
        for sub in ("submitted", "autograded", "feedback"):
            os.makedirs(os.path.join(self.course, sub), exist_ok=True)
        os.chmod(self.dir, 0o700)
        os.chmod(os.path.join(self.course, "gradebook.db"), 0o600)
        caps = capabilities() if cfg.sandbox else {"root": False, "unshare": False}
        self.isolate = bool(caps.get("unshare"))
        uid = None
        if caps.get("root") and self.isolate:
            uid = 200000 + (os.getpid() % 100000) * 8 + (tid % 8)
        cpu = max(60, int(cfg.timeout) + 30)
        self.sandbox = Sandbox(limits=Limits(memory_mb=cfg.memory_mb, cpu_seconds=cpu),
                               uid=uid, isolate=self.isolate, hide=list(cfg.hide),
                               stage=None)
        self.api = NbGraderAPI(config=_nbgrader_config(cfg, self.course))
        self.checks = None
        self.checks_error = ""
        try:
            self.checks = Checks(cfg.checks)
        except Exception as exc:  # noqa: BLE001
            self.checks_error = f"{type(exc).__name__}: {exc}"

    # -- helpers -------------------------------------------------------------------------
    def _box(self, cwd: str, private: list[str]):
        from .sandbox import plan_expose
        box = copy.deepcopy(self.sandbox)
        box.cwd = cwd
        box.keep = list(self.cfg.extra_pythonpath)
        if box.isolate and box.uid is not None:
            box.expose = plan_expose(private + [cwd] + list(self.cfg.extra_pythonpath))
        return box

    def _live_zygote(self, kind: str):
        """The ``kind`` zygote, checked before its first use and restarted if it died (a
        fault there costs speed, never a grade: without it processes start the ordinary way)."""
        z = self.zygotes.get(kind)
        if z is not None and kind not in self._zygotes_checked:
            self._zygotes_checked.add(kind)
            cdir = self._reset(os.path.join(self.dir, f"check-{kind}"))
            why = z.check(self._box(cdir, [cdir]), cdir)
            if why is not None:
                print(f"warning: worker {self.name}: {kind} zygote unusable ({why}); starting "
                      f"{kind}s the ordinary way", file=sys.stderr)
                z.close()
                self.zygotes.pop(kind)
                return None
        if z is not None and z.dead:
            z.close()
            self._zygote_restarts += 1
            if self._zygote_restarts > 3:       # keeps dying: start processes the ordinary way
                self.zygotes.pop(kind)
                return None
            from .zygote import Zygote
            z = self.zygotes[kind] = Zygote(z.workdir, preload_modules(self.cfg.checks, kind), env=z.env)
        return z

    def close(self) -> None:
        """Stop the zygotes (a long-lived dask worker outlives one grading run)."""
        for z in self.zygotes.values():
            z.close()
        self.zygotes.clear()

    def _reset(self, path: str) -> str:
        if os.path.exists(path):
            shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path

    # -- the task ------------------------------------------------------------------------
    def grade(self, entry: dict) -> dict:
        from . import sandbox as sb
        cfg = self.cfg
        sid = entry["student_id"]
        t0 = time.monotonic()
        res = {"student_id": sid, "status": "graded", "flags": list(entry.get("flags", [])),
               "cells": {}, "mistakes": [], "feedback": None, "timings": {}, "kernel_ok": False}
        nb, cells = _read_notebook(entry["notebook"], res)
        if nb is None:
            res["status"] = "invalid"
            return _finish(res, cfg)
        editable, probe_cells = self._split_cells(nb, res)
        if any(f[0] == "foreign-notebook" for f in res["flags"]):
            res["status"] = "invalid"
            return _finish(res, cfg)
        findings = self._scan(editable, res)
        # -- nbgrader autograde, sandboxed -------------------------------------------------
        sub_dir = os.path.join(self.course, "submitted", sid, cfg.assignment)
        os.makedirs(sub_dir, exist_ok=True)
        shutil.copy(entry["notebook"], os.path.join(sub_dir, cfg.notebook + ".ipynb"))
        if entry.get("timestamp"):
            with open(os.path.join(sub_dir, "timestamp.txt"), "w") as fh:
                fh.write(str(entry["timestamp"]))
        kdir = self._reset(os.path.join(self.dir, "kern"))
        auto_dir = os.path.join(self.course, "autograded", sid, cfg.assignment)
        box = self._box(auto_dir, [kdir])
        sb.prepare_dir(kdir, box)
        sb.set_kernel_sandbox(box, kdir, self._live_zygote("kernel"))
        started = sb.kernel_processes(live=True)    # this thread's list, filled as kernels start
        timed_out = threading.Event()

        def watchdog():   # runs in the timer's thread: use the list captured above
            timed_out.set()
            for prov in list(started):
                try:
                    prov.process.kill()
                except Exception:  # noqa: BLE001
                    pass

        timer = threading.Timer(cfg.timeout, watchdog)
        timer.daemon = True
        timer.start()
        t1 = time.monotonic()
        try:
            out = self.api.autograde(cfg.assignment, sid, force=True, create=True)
        except Exception as exc:  # noqa: BLE001
            out = {"success": False, "error": f"{type(exc).__name__}: {exc}", "log": ""}
        finally:
            timer.cancel()
            sb.set_kernel_sandbox(None, None)
            if not box.isolate:
                sb.kill_uid(box.uid)
        res["timings"]["autograde"] = time.monotonic() - t1
        auto_nb = os.path.join(auto_dir, cfg.notebook + ".ipynb")
        kernel_ok = bool(out.get("success")) and os.path.exists(auto_nb) and not timed_out.is_set()
        res["kernel_ok"] = kernel_ok
        if timed_out.is_set():
            res["flags"].append(("timeout", f"submission exceeded the {cfg.timeout} s limit; kernel stopped"))
        elif not kernel_ok:
            text = f"{out.get('error') or ''}\n{out.get('log') or ''}"
            if "DeadKernel" in text or "Kernel died" in text or "kernel died" in text:
                why = "the kernel died while running the notebook (os._exit, a signal or the memory limit)"
            else:
                why = _last_line(out.get("error") or out.get("log") or "autograde failed")
            res["flags"].append(("crash", f"kernel died or autograde failed: {why}"))
        in_kernel = self._read_scores(sid) if out.get("success") or os.path.exists(auto_nb) else {}
        if os.path.exists(auto_nb):
            self._cell_errors(auto_nb, res)
        # -- out-of-kernel verification ---------------------------------------------------
        verdicts = {}
        # every part: the probe verifies what the kernel scored and diagnoses what failed
        names = sorted({n for t in cfg.tests for n in t["names"]})
        if names and self.checks is not None:
            t2 = time.monotonic()
            pdir = self._reset(os.path.join(self.dir, "probe"))
            pbox = self._box(pdir, [pdir])
            # the probe cannot forge trajectories from the reference: it is not there
            pbox.hide = list(pbox.hide) + list(cfg.probe_hide)
            probe = __import__("autograder.classgrade.verify", fromlist=["run_probe"]).run_probe(
                self.checks, probe_cells, names, pdir, pbox, timeout=float(cfg.timeout),
                cell_timeout=float(cfg.cell_timeout), zygote=self._live_zygote("probe"))
            verdicts = probe.verdicts
            res["timings"]["probe"] = time.monotonic() - t2
            for idx, why in probe.skipped.items():
                res["flags"].append(("crash" if "killed" in why else "timeout",
                                     f"out-of-kernel check: code cell {idx + 1} {why}; skipped"))
            if not probe.ok:
                res["flags"].append(("crash" if "status" in probe.error else "timeout",
                                     f"out-of-kernel check: {probe.error}"))
        elif names:
            res["flags"].append(("grader", f"out-of-kernel check unavailable: {self.checks_error}"))
        for v in verdicts.values():
            if v.mistake and not v.passed:
                res["mistakes"].append([v.name, v.mistake])
            if v.copied:
                findings.append(("copying", v.name, v.copied))
        # -- decide ----------------------------------------------------------------------
        self._decide(res, in_kernel, verdicts, findings, kernel_ok)
        if out.get("success") or os.path.exists(auto_nb):
            self._write_overrides(sid, res)
        # -- feedback and clean-up --------------------------------------------------------
        t3 = time.monotonic()
        if os.path.exists(auto_nb):
            self._feedback(sid, res)
            dest = os.path.join(cfg.out, "autograded", sid, cfg.assignment)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(auto_dir, dest)
        res["timings"]["feedback"] = time.monotonic() - t3
        for sub in ("submitted", "autograded", "feedback"):
            shutil.rmtree(os.path.join(self.course, sub, sid), ignore_errors=True)
        if not kernel_ok:
            res["status"] = "timeout" if timed_out.is_set() else "crashed"
        res["timings"]["total"] = time.monotonic() - t0
        return _finish(res, cfg)

    def _split_cells(self, nb, res) -> tuple[list, list]:
        """(student-editable cells [(id, src)], code cells for the probe in order)."""
        cfg = self.cfg
        test_ids = {t["grade_id"] for t in cfg.tests}
        tests_src = {t["grade_id"]: t["source"] for t in cfg.tests}
        tests_pts = {t["grade_id"]: t["points"] for t in cfg.tests}
        sol_ids = set(cfg.solution_ids)
        editable, probe = [], []
        seen = set()
        last_sol = max([i for i, c in enumerate(nb.cells)
                        if ((c.get("metadata") or {}).get("nbgrader") or {}).get("grade_id") in sol_ids] or [-1])
        for i, cell in enumerate(nb.cells):
            if cell.get("cell_type") != "code":
                continue
            meta = (cell.get("metadata") or {}).get("nbgrader") or {}
            gid = meta.get("grade_id")
            src = cell.get("source") or ""
            if gid in test_ids:
                seen.add(gid)
                if src.strip() != tests_src[gid].strip():
                    res["flags"].append(("edited-test", f"test cell {gid} was edited (restored from source)"))
                if meta.get("points") is not None and float(meta.get("points") or 0) != float(tests_pts[gid]):
                    res["flags"].append(("edited-test", f"points of {gid} changed to {meta.get('points')} "
                                         f"(restored to {tests_pts[gid]})"))
                continue
            if gid in cfg.locked:
                if src.strip() != cfg.locked[gid].strip():
                    res["flags"].append(("edited-test", f"locked cell {gid} was edited (restored from source)"))
                if i < last_sol:      # set-up cells; locked cells after the answers only plot
                    probe.append(cfg.locked[gid])
                continue
            cid = gid if gid in sol_ids else f"cell-{i}"
            editable.append((cid, src))
            probe.append(src)
        present = {((c.get("metadata") or {}).get("nbgrader") or {}).get("grade_id") for c in nb.cells}
        if sol_ids and not (sol_ids & present) and not (test_ids & present):
            res["flags"].append(("foreign-notebook", "none of the assignment's answer or test cells are in "
                                 "the notebook (a notebook from another assignment?)"))
        missing = sorted(test_ids - seen)
        if missing:
            res["flags"].append(("edited-test", "test cell(s) deleted (added back from source): " + ", ".join(missing)))
        return editable, probe

    def _scan(self, editable, res) -> list:
        from .scan import scan_cells
        cfg = self.cfg
        refsrc = {}
        if self.checks is not None:
            try:
                refsrc = self._refsrc
            except AttributeError:
                refsrc = self._refsrc = self.checks.reference_sources()
        test_names = set()
        for t in cfg.tests:
            test_names |= set(t.get("used", []))
        findings = scan_cells(editable, set(cfg.targets), test_names,
                              set(self.checks.references) if self.checks else set(cfg.targets),
                              refsrc, exempt_copy=set(cfg.exempt_copy), allowed_imports=set(cfg.allowed_imports),
                              aliases=dict(cfg.aliases))
        out = []
        for f in findings:
            res["flags"].append((f.kind, f.text()))
            out.append((f.kind, f.part, f.reason))
        return out

    def _read_scores(self, sid: str) -> dict:
        from nbgrader.api import Gradebook, MissingEntry
        scores = {}
        try:
            with Gradebook(self.api.coursedir.db_url, COURSE_ID) as gb:
                nb = gb.find_submission_notebook(self.cfg.notebook, self.cfg.assignment, sid)
                for g in nb.grades:
                    scores[g.name] = g.auto_score
        except (MissingEntry, Exception):  # noqa: BLE001
            return {}
        return scores

    def _cell_errors(self, path: str, res) -> None:
        import nbformat
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001
            return
        for cell in nb.cells:
            for o in cell.get("outputs", []):
                if o.get("output_type") == "error" and o.get("ename") in ("CellTimeoutError", "KeyboardInterrupt"):
                    gid = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id", "a cell")
                    res["flags"].append(("timeout", f"cell {gid} timed out after {self.cfg.cell_timeout} s"))

    def _decide(self, res, in_kernel: dict, verdicts: dict, findings: list, kernel_ok: bool) -> None:
        for t in self.cfg.tests:
            gid, pts, names = t["grade_id"], float(t["points"]), t["names"]
            k = in_kernel.get(gid)
            score = float(k) if k is not None and kernel_ok else 0.0
            note = ""
            bad = [f for f in findings if f[0] in ("tampering", "copying") and (f[1] is None or f[1] in names)]
            if names and all(n in verdicts and verdicts[n].known for n in names):
                ok = all(verdicts[n].passed for n in names)
                if kernel_ok and score > 0 and not ok:
                    why = "; ".join(f"{n}: {verdicts[n].reason}" for n in names if not verdicts[n].passed)
                    res["flags"].append(("tampering", f"{gid}: in-kernel tests passed but the out-of-kernel "
                                         f"check failed ({why[:200]}); scored 0"))
                    score, note = 0.0, "in-kernel pass not reproduced out of the kernel"
                elif not kernel_ok:
                    score = pts if ok else 0.0
                    note = "scored by the out-of-kernel check (the kernel run failed)"
            if bad and score > 0:
                kinds = sorted({f[0] for f in bad})
                note = f"{'/'.join(kinds)}: " + "; ".join(f[2] for f in bad)[:200]
                score = 0.0
            res["cells"][gid] = {"score": score, "max": pts, "in_kernel": k, "note": note}

    def _write_overrides(self, sid: str, res) -> None:
        from nbgrader.api import Gradebook
        try:
            with Gradebook(self.api.coursedir.db_url, COURSE_ID) as gb:
                for gid, c in res["cells"].items():
                    try:
                        g = gb.find_grade(gid, self.cfg.notebook, self.cfg.assignment, sid)
                    except Exception:  # noqa: BLE001
                        continue
                    if g.auto_score is None or abs(float(g.auto_score) - c["score"]) > 1e-9:
                        g.manual_score = c["score"]
                    g.needs_manual_grade = False
                gb.db.commit()
        except Exception as exc:  # noqa: BLE001
            res["flags"].append(("grader", f"could not record overrides: {exc}"))

    def _feedback(self, sid: str, res) -> None:
        from .report import feedback_banner
        from nbgrader.utils import capture_log, temp_attrs
        try:
            if getattr(self, "_fb", None) is None:
                self._fb = _cached_feedback_class()(coursedir=self.api.coursedir, parent=self.api)
                self._fb.force = True
            with temp_attrs(self.api.coursedir, assignment_id=self.cfg.assignment, student_id=sid):
                out = capture_log(self._fb)
        except Exception as exc:  # noqa: BLE001
            out = {"success": False, "error": str(exc)}
        src = os.path.join(self.course, "feedback", sid, self.cfg.assignment, self.cfg.notebook + ".html")
        dest_dir = os.path.join(self.cfg.out, "feedback", sid, self.cfg.assignment)
        os.makedirs(dest_dir, exist_ok=True)
        dest = os.path.join(dest_dir, self.cfg.notebook + ".html")
        if out.get("success") and os.path.exists(src):
            with open(src, encoding="utf-8") as fh:
                html = fh.read()
            with open(dest, "w", encoding="utf-8") as fh:
                fh.write(feedback_banner(html, res))
            res["feedback"] = dest
        else:
            res["flags"].append(("grader", "feedback generation failed: " + _last_line(out.get("error") or "")))


_FB_CLASS = None


def _cached_feedback_class():
    """nbgrader's GenerateFeedback, keeping its HTML exporter (templates, CSS) between students.

    ``BaseConverter.start`` builds a new exporter every call; loading the feedback templates
    is most of the cost of one student's feedback page.
    """
    global _FB_CLASS
    if _FB_CLASS is None:
        from nbconvert.writers import FilesWriter
        from nbgrader.converters import GenerateFeedback

        class CachedFeedback(GenerateFeedback):
            _exporter_cache = None

            def start(self):
                self.init_notebooks()
                self.writer = FilesWriter(parent=self, config=self.config)
                if self._exporter_cache is None:
                    self._exporter_cache = _lean_html_exporter(self.exporter_class)(parent=self, config=self.config)
                    for pp in self.preprocessors:
                        self._exporter_cache.register_preprocessor(pp)
                self.exporter = self._exporter_cache
                here = os.getcwd()
                os.chdir(self.coursedir.root)
                try:
                    self.convert_notebooks()
                finally:
                    os.chdir(here)

        _FB_CLASS = CachedFeedback
    return _FB_CLASS


def _lean_html_exporter(base):
    """``base`` (nbconvert's HTMLExporter), without its BeautifulSoup pass where it changes nothing.

    HTMLExporter re-parses every page it renders to give images alt text and JupyterLab cells
    a tabindex. nbgrader's feedback template has no JupyterLab cells, and a feedback page has
    no image unless the notebook printed one: then parsing the whole page (230 kB, most of it
    CSS) only re-serialises it, and costs more than rendering it. Pages that do contain an
    image or a JupyterLab cell still get the pass.
    """
    import nbconvert.exporters.html as html_module

    soup = getattr(html_module, "BeautifulSoup", None)
    if soup is None:             # another nbconvert: leave its exporter as it is
        return base

    class Verbatim:
        """What the pass sees when it has nothing to change: no elements, the same text."""

        def __init__(self, text):
            self.text = text

        def select(self, selector):
            return []

        def __str__(self):
            return self.text

    def soup_when_needed(text, *args, **kwargs):
        if "<img" in text or "jp-Notebook" in text:
            return soup(text, *args, **kwargs)
        return Verbatim(text)

    class LeanHTMLExporter(base):
        def from_notebook_node(self, nb, resources=None, **kw):
            html_module.BeautifulSoup = soup_when_needed
            try:
                return super().from_notebook_node(nb, resources, **kw)
            finally:
                html_module.BeautifulSoup = soup

    return LeanHTMLExporter


# nbgrader's converters chdir into the course root: one grading at a time per process
# (dask workers should run one thread each; see the README)
_NBGRADER_LOCK = threading.Lock()


def _read_notebook(path: str, res):
    import nbformat
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001
        res["flags"].append(("not-a-notebook", f"cannot read the notebook: {type(exc).__name__}: {str(exc)[:120]}"))
        return None, None
    code = [c for c in nb.cells if c.get("cell_type") == "code"]
    if not nb.cells or not any((c.get("source") or "").strip() for c in nb.cells):
        res["flags"].append(("empty", "the notebook is empty"))
        return None, None
    return nb, code


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def _finish(res: dict, cfg: GradeConfig) -> dict:
    for t in cfg.tests:
        res["cells"].setdefault(t["grade_id"], {"score": 0.0, "max": float(t["points"]), "in_kernel": None, "note": ""})
    res["score"] = round(sum(c["score"] for c in res["cells"].values()), 6)
    res["max_score"] = round(sum(c["max"] for c in res["cells"].values()), 6)
    seen, flags = set(), []
    for f in res["flags"]:
        f = tuple(f)
        if f not in seen:
            seen.add(f)
            flags.append(list(f))
    res["flags"] = flags
    return res


def preload_modules(checks: str, kind: str = "kernel") -> list[str]:
    """What a kernel (or a probe) imports anyway, for its zygote to import once.

    The kernel zygote also fills the checks' trajectory cache (``warm_cache``, when the
    checks module has one); it may import the reference, which the kernel can import
    anyway. The probe zygote imports only numpy and the checks module, never the reference.
    """
    if kind == "probe":
        return ["numpy", "numpy.random", checks]
    warm = [f"{checks}:warm_cache"] if _has_attr(checks, "warm_cache") else []
    return ["numpy", "numpy.random", "matplotlib.pyplot", checks, *warm,
            # what an IPython kernel imports while it starts (found by diffing sys.modules)
            "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
            "IPython.core.debugger", "IPython.core.completerlib", "IPython.core.oinspect",
            "IPython.core.logger", "IPython.extensions.storemagic", "sqlite3", "tornado.queues",
            "tornado.platform.asyncio", "faulthandler"]


def _has_attr(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except Exception:  # noqa: BLE001 - the zygote reports import errors itself
        return False


def _get_worker(cfg: GradeConfig) -> Worker:
    key = (os.getpid(), threading.get_ident(), cfg.out)
    with _WORKERS_LOCK:
        w = _WORKERS.get(key)
    if w is None:
        # nbgrader's gradebook code emits SQLAlchemy autoflush SAWarnings for every
        # submission; they are about nbgrader's internals, not the class, and would
        # drown the progress bar.
        warnings.filterwarnings("ignore", message=r".*not in session.*")
        w = Worker(cfg)
        with _WORKERS_LOCK:
            _WORKERS[key] = w
    return w


def release_workers(out: str) -> int:
    """Close this process's workers of the run writing to ``out``; how many there were."""
    with _WORKERS_LOCK:
        mine = [k for k in _WORKERS if k[2] == out]
        workers = [_WORKERS.pop(k) for k in mine]
    for w in workers:
        w.close()
    return len(workers)


def grade_submission(cfg: GradeConfig, entry: dict) -> dict:
    """Grade one student's submission (the task handed to the executor). Never raises."""
    try:
        with _NBGRADER_LOCK:
            return _get_worker(cfg).grade(entry)
    except BaseException as exc:  # noqa: BLE001 - one submission never stops the class
        res = {"student_id": entry["student_id"], "status": "error",
               "flags": list(entry.get("flags", [])) + [["grader", f"grader error: {type(exc).__name__}: {exc}"]],
               "cells": {}, "mistakes": [], "feedback": None, "timings": {},
               "traceback": traceback.format_exc()[-2000:]}
        return _finish(res, cfg)


# ----------------------------------------------------------------------------------------
# main side


def _find_notebook(course: str, assignment: str) -> str:
    src = os.path.join(course, "source", assignment)
    if not os.path.isdir(src):
        raise FileNotFoundError(f"no source folder {src}: is --course the nbgrader course root?")
    nbs = sorted(f for f in os.listdir(src) if f.endswith(".ipynb") and not f.startswith("."))
    if len(nbs) != 1:
        raise ValueError(f"{src} must hold exactly one notebook, found {nbs}")
    return nbs[0][:-len(".ipynb")]


def venv_on_path() -> None:
    """nbgrader runs ``alembic`` (a console script) when it creates a gradebook: find ours."""
    bindir = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path


def prepare_template(course: str, assignment: str, out: str) -> str:
    """A course copy with ``source/<assignment>`` and a gradebook from ``generate_assignment``."""
    from nbgrader.apps import NbGraderAPI
    venv_on_path()
    template = os.path.join(out, ".work", "template")
    if os.path.exists(template):
        shutil.rmtree(template)
    os.makedirs(os.path.join(template, "source"))
    shutil.copytree(os.path.join(course, "source", assignment), os.path.join(template, "source", assignment),
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    cfg = GradeConfig(course=course, assignment=assignment, notebook="", out=out, template=template)
    c = _instructor_config(course)
    c.CourseDirectory.root = template
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.db_url = f"sqlite:///{os.path.join(template, 'gradebook.db')}"
    c.Application.log_level = "WARN"
    new_gradebook(os.path.join(template, "gradebook.db"))
    api = NbGraderAPI(config=c)
    r = api.generate_assignment(assignment, force=True)
    if not r.get("success"):
        raise RuntimeError(f"nbgrader generate_assignment failed for {assignment}:\n{r.get('error') or r.get('log')}")
    del cfg
    return template


def new_gradebook(path: str) -> None:
    """An empty nbgrader gradebook at ``path``: nbgrader's tables and alembic version stamp.

    nbgrader makes the same when it opens a missing gradebook, but learns the version by
    running ``alembic heads`` in a subprocess (about 2 s); alembic's API reads it in-process.
    """
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from nbgrader.dbutil import ALEMBIC_DIR
    from sqlalchemy import create_engine, text
    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    engine = create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(bind=engine)
        with engine.begin() as con:
            con.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            con.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
    finally:
        engine.dispose()


def describe_tests(template: str, assignment: str, notebook: str, targets: list[str]) -> tuple[list, list, dict]:
    """Autograded test cells [{grade_id, points, source, names, used}], solution ids, locked code cells."""
    import nbformat
    from .scan import names_used
    nb = nbformat.read(os.path.join(template, "source", assignment, notebook + ".ipynb"), as_version=4)
    rel_path = os.path.join(template, "release", assignment, notebook + ".ipynb")
    released = {}
    if os.path.exists(rel_path):
        for cell in nbformat.read(rel_path, as_version=4).cells:
            gid = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")
            if gid:
                released[gid] = cell.source
    tests, sols, locked = [], [], {}
    for cell in nb.cells:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        gid = meta.get("grade_id")
        if not gid:
            continue
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            used = names_used([cell.source])
            tests.append({"grade_id": gid, "points": float(meta.get("points") or 0),
                          "source": released.get(gid, cell.source),
                          "names": sorted(n for n in targets if n in used), "used": sorted(used)})
        elif meta.get("solution"):
            sols.append(gid)
        elif meta.get("locked") and cell.cell_type == "code":
            locked[gid] = cell.source
    return tests, sols, locked


def merge_gradebooks(out: str, template: str) -> str:
    """OUT/gradebook.db: the template plus every worker's students, submissions and grades."""
    dest = os.path.join(out, "gradebook.db")
    shutil.copy(os.path.join(template, "gradebook.db"), dest)
    work = os.path.join(out, ".work")
    con = sqlite3.connect(dest)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        order = [t for t in ("student", "submitted_assignment", "submitted_notebook", "grade", "comment")
                 if t in tables]
        for name in sorted(os.listdir(work)):
            db = os.path.join(work, name, "course", "gradebook.db")
            if not name.startswith("w") or not os.path.exists(db):
                continue
            con.execute("attach database ? as w", (db,))
            for t in order:
                con.execute(f"insert or ignore into main.{t} select * from w.{t}")
            con.commit()
            con.execute("detach database w")
    finally:
        con.close()
    os.chmod(dest, 0o600)
    return dest


@dataclass
class Summary:
    results: list
    entries: list
    out: str
    grades_csv: str
    report: str
    gradebook: str
    seconds: float
    sandbox: str


def _executor(kind: str, workers: int, scheduler: str | None):
    if kind == "dask":
        from distributed import Client
        if not scheduler:
            raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
        client = Client(scheduler, timeout="30s")
        return client.get_executor(pure=False), client
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=_forkserver()), None


def _forkserver():
    """The forkserver context, its server started now: workers fork from a process that has
    already imported nbgrader, numpy and the checks (in the background, while the main
    process prepares the template)."""
    import multiprocessing as mp
    from multiprocessing import forkserver
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["autograder.classgrade.runner", "nbgrader.apps", "nbgrader.converters",
                                "nbclient", "jupyter_client", "numpy", "autograder.checks"])
    try:
        forkserver.ensure_running()
    except Exception:  # noqa: BLE001 - started on first use instead
        pass
    return ctx


def grade_class(course: str, assignment: str, out: str, submissions: str | None = None,
                zip_path: str | None = None, roster: str | None = None, workers: int | None = None,
                timeout: int = 300, cell_timeout: int = 60, executor: str = "process",
                scheduler: str | None = None, checks: str = "autograder.checks",
                zip_regexp: str = col.DEFAULT_ZIP_REGEXP, progress: bool = True,
                memory_mb: int = 3072, sandbox: bool = True, preload: bool = True) -> Summary:
    """Grade every submission and write grades.csv, feedback and the class report into ``out``."""
    from tqdm import tqdm
    from . import report
    from .sandbox import Sandbox, capabilities, describe
    t0 = time.monotonic()
    course, out = os.path.abspath(course), os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    for sub in ("feedback", "autograded", ".work"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        os.chmod(os.path.join(out, sub), 0o700)
    notebook = _find_notebook(course, assignment)
    if submissions:
        found = col.collect_dir(os.path.abspath(submissions), assignment, notebook)
        inputs = [os.path.abspath(submissions)]
    elif zip_path:
        found, unmatched = col.collect_zip(os.path.abspath(zip_path), assignment, notebook,
                                           os.path.join(out, ".work", "zip"), zip_regexp)
        inputs = [os.path.abspath(zip_path)]
        if unmatched:
            print(f"warning: {len(unmatched)} file(s) in the zip match no student: "
                  f"{', '.join(unmatched[:5])}{' ...' if len(unmatched) > 5 else ''}", file=sys.stderr)
    else:
        raise ValueError("give --submissions DIR or --zip FILE")
    rows = col.read_roster(roster) if roster else None
    entries = col.merge_roster(found, rows)
    if executor == "process":
        _forkserver()       # warm the workers' imports in parallel with the template
    os.environ.setdefault("MPLBACKEND", "Agg")
    threading.Thread(target=_import_quietly, args=("matplotlib.pyplot",), daemon=True).start()
    template = prepare_template(course, assignment, out)
    try:
        from .verify import Checks
        ck = Checks(checks)
        refs = list(ck.references)
        refsrc = ck.reference_sources()
    except Exception as exc:  # noqa: BLE001
        print(f"warning: checks module {checks!r} unavailable ({exc}); no out-of-kernel check", file=sys.stderr)
        refs, refsrc = [], {}
    tests, sols, locked = describe_tests(template, assignment, notebook, refs)
    targets = sorted({n for t in tests for n in t["names"]})
    # classes the instructor's own solution writes like the reference: copy detection off for them
    from .scan import class_sources, similarity, COPY_THRESHOLD, imported_names, import_aliases
    import nbformat
    snb = nbformat.read(os.path.join(template, "source", assignment, notebook + ".ipynb"), as_version=4)
    solsrc = {}
    for cell in snb.cells:
        if cell.cell_type == "code":
            solsrc.update(class_sources(cell.source))
    exempt = sorted(n for n in targets if n in solsrc and n in refsrc and similarity(solsrc[n], refsrc[n]) >= COPY_THRESHOLD)
    instructor_imports = imported_names([c.source for c in snb.cells if c.cell_type == "code"
                                         and not ((c.metadata.get("nbgrader") or {}).get("solution"))])
    hide = [os.path.join(course, "source"), os.path.join(os.path.dirname(course), "solutions"),
            os.path.join(course, "gradebook.db"), os.path.join(course, "submitted"),
            os.path.join(course, "autograded"), os.path.join(course, "feedback"),
            os.path.join(out, "feedback"), os.path.join(out, "autograded")]
    hide += inputs + ([os.path.abspath(roster)] if roster else [])
    hide = [h for h in dict.fromkeys(hide) if os.path.exists(h)]
    pp = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    cfg = GradeConfig(course=course, assignment=assignment, notebook=notebook, out=out, template=template,
                      cell_timeout=int(cell_timeout), timeout=int(timeout), checks=checks, memory_mb=memory_mb,
                      hide=hide, sandbox=sandbox, tests=tests, solution_ids=sols, locked=locked,
                      targets=targets, extra_pythonpath=pp, preload=preload)
    cfg.exempt_copy = exempt
    cfg.probe_hide = reference_files()
    cfg.allowed_imports = sorted(instructor_imports)
    cfg.aliases = import_aliases([c.source for c in snb.cells if c.cell_type == "code"
                                  and not ((c.metadata.get("nbgrader") or {}).get("solution"))])
    caps = capabilities() if sandbox else {}
    box = Sandbox(uid=1 if caps.get("root") and caps.get("unshare") else None, isolate=bool(caps.get("unshare")))
    sandbox_text = describe(box).replace("uid 1", "uid per worker")
    todo = [e for e in entries if e.status == "pending"]
    results: dict[str, dict] = {}
    workers = workers or os.cpu_count() or 1
    pool, client = _executor(executor, workers, scheduler)
    try:
        bar = tqdm(total=len(todo), desc=f"grading {assignment}", unit="sub", disable=not progress,
                   file=sys.stderr)
        pending = {pool.submit(grade_submission, cfg, _entry_dict(e)): e for e in todo}
        retried: set = set()
        while pending:
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                e = pending.pop(fut)
                try:
                    r = fut.result()
                except BrokenProcessPool:
                    # a worker process died (should not happen: student code runs in the sandbox);
                    # rebuild the pool and retry each lost submission once
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool, _ = _executor(executor, workers, scheduler)
                    lost = [e] + list(pending.values())
                    pending.clear()
                    for le in lost:
                        if le.student_id in retried:
                            results[le.student_id] = _error_result(cfg, le, "grading worker died twice")
                            bar.update(1)
                        else:
                            retried.add(le.student_id)
                            pending[pool.submit(grade_submission, cfg, _entry_dict(le))] = le
                    break
                except Exception as exc:  # noqa: BLE001
                    r = _error_result(cfg, e, f"{type(exc).__name__}: {exc}")
                results[e.student_id] = r
                bar.update(1)
                bar.set_postfix_str(f"{e.student_id}: {r['score']:g}/{r['max_score']:g}")
        bar.close()
    finally:
        pool.shutdown(wait=True)
        if client is not None:
            try:
                client.run(release_workers, cfg.out)     # the dask workers live on: free their zygotes
            except Exception:  # noqa: BLE001 - a worker that is gone has nothing to free
                pass
            client.close()
    gradebook = merge_gradebooks(out, template)
    final = []
    for e in entries:
        r = results.get(e.student_id)
        if r is None:
            r = _finish({"student_id": e.student_id, "status": e.status if e.status != "pending" else "error",
                         "flags": [list(f) for f in e.flags], "cells": {}, "mistakes": [], "feedback": None,
                         "timings": {}}, cfg)
        r["first_name"], r["last_name"], r["on_roster"] = e.first_name, e.last_name, e.on_roster
        if not r.get("feedback"):
            r["feedback"] = report.write_missing_feedback(out, assignment, notebook, r)
        final.append(r)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as fh:
        json.dump({"assignment": assignment, "tests": [{k: t[k] for k in ("grade_id", "points", "names")} for t in tests],
                   "results": final}, fh, indent=1, default=str)
    grades_csv = report.write_grades_csv(os.path.join(out, "grades.csv"), final, tests)
    report_path = report.write_class_report(os.path.join(out, "report.html"), final, tests, assignment,
                                            sandbox_text, time.monotonic() - t0)
    shutil.rmtree(os.path.join(out, ".work", "zip"), ignore_errors=True)
    return Summary(final, entries, out, grades_csv, report_path, gradebook, time.monotonic() - t0, sandbox_text)


def reference_files() -> list[str]:
    """Source files of the reference implementations (``dlcourse.optim`` ...), if installed."""
    import importlib.util
    out = []
    for mod in ("dlcourse.optim", "dlcourse.ewma", "dlcourse.schedules"):
        try:
            spec = importlib.util.find_spec(mod)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin and os.path.isfile(spec.origin):
            out.append(spec.origin)
    return out


def _import_quietly(name: str) -> None:
    try:
        __import__(name)
    except Exception:  # noqa: BLE001 - the report imports it again and says why
        pass


def _entry_dict(e: col.Entry) -> dict:
    return {"student_id": e.student_id, "notebook": e.notebook, "timestamp": e.timestamp,
            "flags": [list(f) for f in e.flags]}


def _error_result(cfg: GradeConfig, e: col.Entry, why: str) -> dict:
    return _finish({"student_id": e.student_id, "status": "error",
                    "flags": [list(f) for f in e.flags] + [["grader", why]], "cells": {}, "mistakes": [],
                    "feedback": None, "timings": {}}, cfg)
