"""One grading worker: a course copy, a gradebook, nbgrader loaded, and the per-submission stages.

:func:`grade_submission` is the task the executor runs (a plain top-level function, so any
``concurrent.futures`` executor or Dask can run it). The first task in a process (or Dask
thread) builds a :class:`Worker` and keeps it. Per submission the worker

1. reads the notebook (:mod:`.read`) and scans it (:mod:`.scan`);
2. runs nbgrader's autograde with the kernel in the sandbox (:mod:`.execute`) and, at the
   same time in a second thread, records every part out of the kernel (:mod:`.verify`):
   the two share the submission's time budget, so an endless loop costs that budget once,
   not the kernel's timeouts plus the recorder's in series;
3. decides (:func:`.decide.decide`), writes the decided scores into its gradebook, and has
   nbgrader render the feedback page from them (:mod:`.feedback`).

A fault on the grader's side (the recorder's sandbox never started, nbgrader raised) is
retried once; if it happens again the row is ``not graded`` with the cause, never a zero.
"""

from __future__ import annotations

from . import lean  # noqa: F401 - first: before anything imports jsonschema

import contextlib
import os
import shutil
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field

from .decide import Identity, KernelRun, decide
from .flags import Flag, Kind
from .outcome import Status, SubmissionResult
from .protocol import AssignmentSpec

from .course import COURSE_ID, instructor_config


@dataclass
class GradeConfig:
    """Everything a worker needs; plain data so it pickles to any executor."""

    spec: AssignmentSpec
    course: str                 # instructor's nbgrader course root
    out: str                    # output folder
    template: str               # prepared template course (source + gradebook)
    seed: int                   # hidden scenarios are drawn from it (never shown to students)
    cell_timeout: int = 60
    timeout: int = 300          # wall-clock budget of one submission (kernel run and recorder)
    memory_mb: int = 3072
    hide: list = field(default_factory=list)
    extra_pythonpath: list = field(default_factory=list)
    preload: bool = True


@dataclass
class Task:
    """One row to grade, as collection found it (plain data)."""

    who: Identity
    status: Status                      # GRADED (to grade), MISSING or INVALID
    notebook: str | None = None
    flags: list = field(default_factory=list)
    timestamp: str | None = None


def nbgrader_config(cfg: GradeConfig, root: str):
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                        SaveAutoGrades)

    from .execute import capped_execute_class, check_nbgrader_schemas_once, reuse_gradebook_engines
    check_nbgrader_schemas_once()
    reuse_gradebook_engines()
    c = instructor_config(cfg.course)
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
    c.HTMLExporter.sanitize_html = True   # no student HTML or JavaScript in feedback pages
    # nbgrader's own list (converters/autograde.py), Execute replaced by the capped, sandboxed one
    c.Autograde.autograde_preprocessors = [
        capped_execute_class(), IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    c.Application.log_level = "WARN"
    return c


class Worker:
    """One grading slot: a course copy, a gradebook, nbgrader loaded, a sandbox uid."""

    def __init__(self, cfg: GradeConfig):
        import importlib

        from nbgrader.apps import NbGraderAPI

        from .sandbox import capabilities
        self.cfg = cfg
        tid = threading.get_ident() % 997
        host = "".join(ch for ch in socket.gethostname() if ch.isalnum() or ch in "-.")[:40] or "host"
        self.name = f"w-{host}-{os.getpid()}-{tid}"     # unique across the machines of a cluster
        self.dir = os.path.join(cfg.out, ".work", self.name)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.course = os.path.join(self.dir, "course")
        os.makedirs(self.course)
        self.zygote = None
        if cfg.preload:
            from .zygote import Zygote
            env = {"PYTHONPATH": os.pathsep.join(cfg.extra_pythonpath)} if cfg.extra_pythonpath else None
            self.zygote = Zygote(os.path.join(self.dir, "zygote-kernel"), preload_modules(cfg.spec.checks), env=env)
            self._zygote_checked = False
        shutil.copytree(os.path.join(cfg.template, "source"), os.path.join(self.course, "source"))
        shutil.copy(os.path.join(cfg.template, "gradebook.db"), os.path.join(self.course, "gradebook.db"))
        for sub in ("submitted", "autograded", "feedback"):
            os.makedirs(os.path.join(self.course, sub), exist_ok=True)
        os.chmod(self.dir, 0o700)         # the sandbox's view binds what it needs: nothing here is reachable
        os.chmod(os.path.join(self.course, "gradebook.db"), 0o600)
        caps = capabilities()
        # a distinct unprivileged uid per concurrent slot (root only)
        self.uid = 200000 + (os.getpid() % 100000) * 8 + (tid % 8) if caps.uid_switching else None
        self.api = NbGraderAPI(config=nbgrader_config(cfg, self.course))
        self.checks = importlib.import_module(cfg.spec.checks)
        self._fb = None
        self._scan = None
        self._kernel_view = None

    # -- sandboxes ---------------------------------------------------------------------
    def limits(self):
        from .sandbox import Limits
        return Limits(memory_mb=int(self.cfg.memory_mb), cpu_seconds=max(60, int(self.cfg.timeout) + 30))

    def kernel_view(self) -> tuple[str, ...]:
        """What a kernel may read besides the interpreter: the course's two packages (so the
        notebook imports its checks and the reference, as on a student's machine), and the
        instructor's extra PYTHONPATH; minus everything --hide names."""
        if self._kernel_view is None:
            from .sandbox import package_dirs, readonly_view
            paths = list(package_dirs("autograder", "dlcourse")) + [p for p in self.cfg.extra_pythonpath
                                                                    if os.path.exists(p)]
            self._kernel_view = readonly_view(paths, exclude=self.cfg.hide)
        return self._kernel_view

    def _kernel_zygote(self):
        """The kernel zygote, checked before first use (a fault there costs speed, not a grade)."""
        z = self.zygote
        if z is None:
            return None
        if not self._zygote_checked:
            from .sandbox import Sandbox
            self._zygote_checked = True
            cdir = self._reset(os.path.join(self.dir, "check-kernel"))
            why = z.check(Sandbox(workdir=cdir, readonly=self.kernel_view(), limits=self.limits(), uid=self.uid))
            if why is not None:
                print(f"warning: worker {self.name}: kernel zygote unusable ({why}); starting kernels "
                      "the ordinary way", file=sys.stderr)
                z.close()
                self.zygote = None
                return None
        if z.dead:
            z.close()
            self.zygote = None
            return None
        return z

    def launcher(self, argv: list[str], workdir: str, lib: str, channel: str):
        """Start the recorder's server in the sandbox: its own folder, the interpreter's standard
        library and NumPy, nothing of the course or of the grader."""
        from . import sandbox as sb
        from .recorder import NUMPY_DIR, Launched
        numpy = [p for p in (NUMPY_DIR, os.path.join(os.path.dirname(NUMPY_DIR), "numpy.libs")) if os.path.exists(p)]
        # the channel (the grader's socket, in the host's /tmp): nothing can be stored there
        box = sb.Sandbox(workdir=workdir, readonly=tuple(numpy), sockets=(channel,), limits=self.limits(),
                         uid=self.uid, site_packages=False)
        proc = sb.spawn(argv, box, env={"HOME": workdir})
        return Launched(proc.poll, proc.close)

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None

    def _reset(self, path: str) -> str:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path

    # -- the task ----------------------------------------------------------------------
    def grade(self, task: Task) -> SubmissionResult:
        from . import read, scan
        cfg, spec = self.cfg, self.cfg.spec
        t0 = time.monotonic()
        if task.status is not Status.GRADED:
            return decide(task.who, spec.parts, collected=task.status, flags=task.flags)
        sub = read.read_submission(task.notebook, spec)
        if not sub.readable:
            return decide(task.who, spec.parts, collected=Status.INVALID, flags=task.flags + sub.flags)
        if self._scan is None:
            self._scan = scan.ScanContext(spec, self.checks)
        findings = scan.scan_submission(sub, self._scan)
        deadline = t0 + cfg.timeout
        faults: list[str] = []
        verdicts = self._verify_in_background(sub.recorder_cells, deadline)
        execution = self._execute(task, deadline)
        verdicts.join()
        if verdicts.fault is not None:       # the recorder's sandbox did not start: once more
            verdicts = self._verify_in_background(sub.recorder_cells, time.monotonic() + cfg.timeout)
            verdicts.join()
            if verdicts.fault is not None:
                faults.append(str(verdicts.fault))
        kernel = execution.kernel
        flags = list(task.flags) + list(sub.flags)
        from .execute import outputs_truncated
        if outputs_truncated():
            flags.append(Flag(Kind.OUTPUT_TRUNCATED, "the notebook's outputs were cut to the size limit"))
        timings = {"kernel": execution.seconds, "recorder": verdicts.seconds}
        result = decide(task.who, spec.parts, verdicts=verdicts.value, kernel=kernel, findings=findings,
                        faults=faults, flags=flags, timings=timings)
        result.first_error = execution.first_error
        if execution.autograded:
            from .execute import grader_prefixes, scrub_tracebacks
            scrub_tracebacks(execution.autograded, grader_prefixes())
            self._write_scores(task.who.student_id, result)
            self._feedback(task.who.student_id, result)
            dest = os.path.join(cfg.out, "autograded", task.who.student_id, spec.name)
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)
            if os.path.isfile(execution.autograded) and not os.path.islink(execution.autograded):
                shutil.copyfile(execution.autograded, os.path.join(dest, spec.notebook + ".ipynb"))
        for sub_dir in ("submitted", "autograded", "feedback"):
            shutil.rmtree(os.path.join(self.course, sub_dir, task.who.student_id), ignore_errors=True)
        result.timings["total"] = time.monotonic() - t0
        return result

    def _verify_in_background(self, cells: list[str], deadline: float):
        from .verify import SandboxFault, part_budget, verify
        box = _Background()
        workdir = self._reset(os.path.join(self.dir, "recorder"))

        def run():
            t = time.monotonic()
            try:
                # its working folder, like the kernel's, a capped tmpfs (as root): code filling it
                # fills at most tmp_mb, never the output's disk
                with capped_folder(workdir, self.limits().tmp_mb):
                    box.value, _ = verify(self.checks, self.cfg.spec.targets, cells, self.launcher, workdir,
                                          seed=self.cfg.seed, part_seconds=part_budget(self.cfg.cell_timeout),
                                          deadline=deadline, recorder_files=self.cfg.spec.recorder_files,
                                          recorder_module=self.cfg.spec.recorder_module,
                                          cell_seconds=float(self.cfg.cell_timeout), names=self.cfg.spec.names)
            except SandboxFault as exc:
                box.fault = exc
            except Exception as exc:  # noqa: BLE001 - the grader's own bug: not graded, with the cause
                box.fault = RuntimeError(f"the recorder failed: {type(exc).__name__}: {exc}")
            finally:
                box.seconds = time.monotonic() - t
        box.thread = threading.Thread(target=run, daemon=True)
        box.thread.start()
        return box

    def _execute(self, task: Task, deadline: float):
        from . import sandbox as sb
        from .execute import kernel_run, set_kernel_cwd
        spec = self.cfg.spec
        sid = task.who.student_id
        sub_dir = os.path.join(self.course, "submitted", sid, spec.name)
        os.makedirs(sub_dir, exist_ok=True)
        shutil.copy(task.notebook, os.path.join(sub_dir, spec.notebook + ".ipynb"))
        if task.timestamp:
            with open(os.path.join(sub_dir, "timestamp.txt"), "w") as fh:
                fh.write(task.timestamp)
        auto_dir = os.path.join(self.course, "autograded", sid, spec.name)
        # the kernel's own folder, outside everything nbgrader reads or writes afterwards
        scratch = self._reset(os.path.join(self.dir, "kernel-cwd"))
        with capped_folder(scratch, self.limits().tmp_mb):
            box = sb.Sandbox(workdir=scratch, readonly=self.kernel_view(), limits=self.limits(), uid=self.uid)
            set_kernel_cwd(scratch)
            try:
                with sb.kernel_sandbox(box, self._kernel_zygote()) as kernels:
                    execution = kernel_run(self.api, spec.name, sid,
                                           os.path.join(auto_dir, spec.notebook + ".ipynb"), deadline,
                                           kernels.kill_all)
            finally:
                set_kernel_cwd(None)
        shutil.rmtree(scratch, ignore_errors=True)
        scores = self._read_scores(sid) if execution.autograded else {}
        k = execution.kernel
        execution.kernel = KernelRun(k.completed, scores, k.timed_out, k.died, k.cell_timeouts)
        return execution

    def _read_scores(self, sid: str) -> dict:
        from nbgrader.api import Gradebook
        try:
            with Gradebook(self.api.coursedir.db_url, COURSE_ID) as gb:
                nb = gb.find_submission_notebook(self.cfg.spec.notebook, self.cfg.spec.name, sid)
                return {g.name: (float(g.auto_score) if g.auto_score is not None else None) for g in nb.grades}
        except Exception:  # noqa: BLE001 - no in-kernel scores: they can only lower, so none is fine
            return {}

    def _write_scores(self, sid: str, result: SubmissionResult) -> None:
        """The decided scores into this worker's gradebook, for nbgrader's feedback page."""
        from nbgrader.api import Gradebook
        with Gradebook(self.api.coursedir.db_url, COURSE_ID) as gb:
            for gid, part in result.parts.items():
                try:
                    g = gb.find_grade(gid, self.cfg.spec.notebook, self.cfg.spec.name, sid)
                except Exception:  # noqa: BLE001 - a cell nbgrader did not grade
                    continue
                g.auto_score = part.score
                g.manual_score = None
                g.needs_manual_grade = False
            gb.db.commit()

    def _feedback(self, sid: str, result: SubmissionResult) -> None:
        from nbgrader.utils import capture_log, temp_attrs

        from .feedback import feedback_converter_class, with_banner
        spec = self.cfg.spec
        if self._fb is None:
            self._fb = feedback_converter_class()(coursedir=self.api.coursedir, parent=self.api)
            self._fb.force = True
        with temp_attrs(self.api.coursedir, assignment_id=spec.name, student_id=sid):
            out = capture_log(self._fb)
        src = os.path.join(self.course, "feedback", sid, spec.name, spec.notebook + ".html")
        if not (out.get("success") and os.path.exists(src)):
            result.flags.append(Flag(Kind.NO_FEEDBACK, "nbgrader could not render the feedback page: "
                                                       + str(out.get("error") or "")[-200:]))
            return
        rel = os.path.join("feedback", sid, spec.name, spec.notebook + ".html")
        os.makedirs(os.path.dirname(os.path.join(self.cfg.out, rel)), exist_ok=True)
        with open(src, encoding="utf-8") as fh:
            page = fh.read()
        with open(os.path.join(self.cfg.out, rel), "w", encoding="utf-8") as fh:
            fh.write(with_banner(page, result, self.cfg.spec))
        result.feedback = rel


@contextlib.contextmanager
def capped_folder(path: str, mb: int):
    """``path`` as a size-capped tmpfs while the block runs (root only; elsewhere the folder is
    left as it is and RLIMIT_FSIZE caps each file): a kernel or recorder filling its working
    folder fills at most ``mb`` MB, charged to its own cgroup, gone when the block ends."""
    import subprocess
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={int(mb)}m,mode=700,nosuid,nodev", "tmpfs", path],
        capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", path], capture_output=True)


class _Background:
    """The recorder thread's outcome."""

    def __init__(self):
        self.value: dict = {}
        self.fault: BaseException | None = None
        self.seconds = 0.0
        self.thread: threading.Thread | None = None

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


def preload_modules(checks: str) -> list[str]:
    """What a kernel imports anyway, for its zygote to import once (and the checks' cache)."""
    import importlib
    try:
        warm = [f"{checks}:warm_cache"] if hasattr(importlib.import_module(checks), "warm_cache") else []
    except Exception:  # noqa: BLE001 - the zygote reports import errors itself
        warm = []
    return ["numpy", "numpy.random", "matplotlib.pyplot", checks, *warm,
            # what an IPython kernel imports while it starts (found by diffing sys.modules)
            "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
            "IPython.core.debugger", "IPython.core.completerlib", "IPython.core.oinspect",
            "IPython.core.logger", "IPython.extensions.storemagic", "sqlite3", "tornado.queues",
            "tornado.platform.asyncio", "faulthandler"]


_WORKERS: dict = {}
_WORKERS_LOCK = threading.Lock()
# nbgrader's converters chdir into the course root: one grading at a time per process
_NBGRADER_LOCK = threading.Lock()


def _get_worker(cfg: GradeConfig) -> Worker:
    key = (os.getpid(), threading.get_ident(), cfg.out)
    with _WORKERS_LOCK:
        w = _WORKERS.get(key)
    if w is None:
        # nbgrader's gradebook code emits SQLAlchemy autoflush SAWarnings for every submission
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


def grade_submission(cfg: GradeConfig, task: Task) -> SubmissionResult:
    """Grade one row (the executor's task). Never raises: a grader fault is a not-graded row."""
    try:
        with _NBGRADER_LOCK:
            return _get_worker(cfg).grade(task)
    except BaseException as exc:  # noqa: BLE001 - one submission never stops the class
        why = f"{type(exc).__name__}: {exc}"
        return decide(task.who, cfg.spec.parts, faults=[f"the grader failed: {why}"[:300]], flags=task.flags)
