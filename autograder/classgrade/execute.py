"""Execute: nbgrader's autograde of one notebook, its kernel in the sandbox, its outputs capped.

The student's kernel run gives the student's feedback (what they will read) and the
in-kernel test scores, which can only *lower* a part (:mod:`.decide`). It is nbgrader's own
``autograde`` (Python API, in-process) with its standard preprocessors, the Execute step
replaced by :class:`CappedExecute`: kernels start through the sandbox, and outputs are
capped by *bytes* as they arrive (display data, images and tracebacks included, not only
lines as nbgrader's LimitOutput does), so a notebook printing 50 MB costs the grader
nothing and its feedback page stays small.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from dataclasses import dataclass

from .decide import KernelRun

#: bytes of output one cell may keep, and the whole notebook
CELL_OUTPUT_BYTES = 256 * 1024
NOTEBOOK_OUTPUT_BYTES = 2 * 1024 * 1024

_state = threading.local()


def _size(msg: dict) -> int:
    content = msg.get("content") or {}
    total = len(str(content.get("text", "")))
    for value in (content.get("data") or {}).values():
        total += len(value) if isinstance(value, (str, bytes)) else len(str(value))
    total += sum(len(str(line)) for line in content.get("traceback") or ())
    return total + 64


@functools.lru_cache(maxsize=None)
def capped_execute_class():
    """nbgrader's Execute (as the sandbox starts its kernels) with outputs capped by bytes."""
    from nbformat.v4 import new_output

    from .sandbox import _make_execute_class
    base = _make_execute_class()

    class CappedExecute(base):
        """Keeps at most CELL_OUTPUT_BYTES per cell and NOTEBOOK_OUTPUT_BYTES per notebook."""

        def preprocess(self, nb, resources=None, km=None):
            _state.truncated = False
            self._notebook_bytes, self._cell_bytes = 0, {}
            cwd = getattr(_state, "kernel_cwd", None)
            if cwd:
                # the kernel works in a scratch folder of its own, never in the folder nbgrader
                # (as root) writes the autograded notebook into: a link the kernel left there
                # would otherwise be followed by that write
                resources = dict(resources or {})
                resources["metadata"] = dict(resources.get("metadata") or {}, path=cwd)
            return super().preprocess(nb, resources, km)

        def output(self, outs, msg, display_id, cell_index):
            n = _size(msg)
            used = self._cell_bytes.get(cell_index, 0)
            if used + n > CELL_OUTPUT_BYTES or self._notebook_bytes + n > NOTEBOOK_OUTPUT_BYTES:
                if used >= 0:        # once per cell: say so, then keep nothing more
                    outs.append(new_output("stream", name="stdout",
                                           text=f"\n[output truncated by the grader: more than "
                                                f"{CELL_OUTPUT_BYTES // 1024} kB in this cell or "
                                                f"{NOTEBOOK_OUTPUT_BYTES // 1024 // 1024} MB in the notebook]\n"))
                    self._cell_bytes[cell_index] = -1
                    _state.truncated = True
                return None
            self._cell_bytes[cell_index] = used + n
            self._notebook_bytes += n
            return super().output(outs, msg, display_id, cell_index)

    return CappedExecute


class SchemaCheckedOnce:
    """``jsonschema.validate`` for nbgrader's cell-metadata validator, each schema checked once.

    ``jsonschema.validate(instance, schema)`` is ``check_schema(schema)``, then the first of
    ``best_match(cls(schema).iter_errors(instance))`` raised. nbgrader calls it for every nbgrader
    cell of every notebook it reads, writes or checks (57 times per submission here) with one of
    its three fixed schemas (nbgrader/nbgraderformat/v*.json); re-checking the schema against
    its metaschema was 90% of that cost, 0.1 s of CPU per submission. This does the same with
    the schema checked, and its validator built, once: same errors, raised the same way.
    """

    def __init__(self):
        self._validators: dict[str, object] = {}

    def validate(self, instance, schema) -> None:
        import json

        import jsonschema
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error


@functools.lru_cache(maxsize=None)
def check_nbgrader_schemas_once() -> None:
    """Give nbgrader's metadata validator (this process) a :class:`SchemaCheckedOnce`."""
    from nbgrader.nbgraderformat import common
    common.jsonschema = SchemaCheckedOnce()


@functools.lru_cache(maxsize=None)
def reuse_gradebook_engines() -> None:
    """One SQLAlchemy engine per gradebook URL in this process, for nbgrader's ``Gradebook``.

    nbgrader opens a ``Gradebook`` a dozen times per submission, and each made a new engine
    with an empty statement cache: every query was compiled again each time (measured: a
    worker's CPU per submission fell by a seventh). ``Gradebook.close`` still disposes the
    engine's connections; the next one opens them anew, on the same file, with the compiled
    statements kept.
    """
    import threading as _threading

    from nbgrader import api
    create, engines, lock = api.create_engine, {}, _threading.Lock()

    def create_engine(url, **kwargs):
        key = (str(url), tuple(sorted(kwargs.items())))
        with lock:
            if key not in engines:
                engines[key] = create(url, **kwargs)
            return engines[key]
    api.create_engine = create_engine


def set_kernel_cwd(path: str | None) -> None:
    """The folder the next kernels of this thread run in (None: nbgrader's own choice)."""
    _state.kernel_cwd = path


def outputs_truncated() -> bool:
    """Whether the last run in this thread cut outputs."""
    return bool(getattr(_state, "truncated", False))


@dataclass
class Execution:
    """The kernel run's outcome for the worker."""

    kernel: KernelRun
    autograded: str | None           # path of the autograded notebook, if nbgrader wrote one
    first_error: str = ""            # the first error output (for the pre-flight's diagnosis)
    seconds: float = 0.0


def read_kernel_outputs(path: str) -> tuple[tuple[str, ...], str]:
    """(labels of cells that hit their time limit, the first error output's last line)."""
    import nbformat
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - nbgrader wrote it; unreadable means nothing to report
        return (), ""
    timeouts, first = [], ""
    for i, cell in enumerate(nb.cells):
        gid = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id") or f"cell {i + 1}"
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.get("ename") in ("CellTimeoutError", "KeyboardInterrupt", "TimeoutError"):
                timeouts.append(gid)
            elif not first:
                first = f"{gid}: {out.get('ename')}: {str(out.get('evalue'))[:200]}"
    return tuple(dict.fromkeys(timeouts)), first


def kernel_run(api, assignment: str, student: str, autograded: str, deadline: float, on_timeout) -> Execution:
    """Run nbgrader's autograde for ``student``; ``on_timeout`` kills the kernels at ``deadline``."""
    t0 = time.monotonic()
    fired = threading.Event()

    def watchdog():
        fired.set()
        on_timeout()

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), watchdog)
    timer.daemon = True
    timer.start()
    try:
        out = api.autograde(assignment, student, force=True, create=True)
    except Exception as exc:  # noqa: BLE001 - nbgrader's failure on this notebook
        out = {"success": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        timer.cancel()
    written = os.path.exists(autograded)
    timeouts, first = read_kernel_outputs(autograded) if written else ((), "")
    completed = bool(out.get("success")) and written and not fired.is_set()
    run = KernelRun(completed=completed, scores={}, timed_out=fired.is_set(),
                    died=not completed and not fired.is_set(), cell_timeouts=timeouts)
    return Execution(run, autograded if written else None, first, time.monotonic() - t0)


_ANSI = __import__("re").compile(r"\x1b\[[0-9;]*m")


def grader_prefixes() -> tuple[str, ...]:
    """Paths of the grader's machine that a student's feedback must not show: the course's
    code (``autograder``, ``dlcourse``) and the interpreter's installation."""
    import sys
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return tuple(dict.fromkeys(os.path.realpath(p) for p in (here, sys.prefix, sys.base_prefix)))


def scrub_tracebacks(path: str, prefixes: tuple[str, ...]) -> None:
    """Drop the grader's frames from every error output of the notebook at ``path``.

    A failing check already shows only its report (``CheckFailed``); an interrupted or timed-out
    cell, or an error inside a library call, still gets IPython's full traceback, whose frames in
    the grader's files name the server's paths. The student's own frames (``Cell In[..]``) and the
    error line stay.
    """
    import nbformat
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            kept = [t for t in out.get("traceback", [])
                    if not any(p in _ANSI.sub("", t) for p in prefixes)]
            if len(kept) != len(out.get("traceback", [])):
                out["traceback"] = kept
                changed = True
    if changed:
        mode = os.stat(path).st_mode
        os.chmod(path, mode | 0o200)      # nbgrader leaves autograded notebooks read-only
        try:
            nbformat.write(nb, path)
        finally:
            os.chmod(path, mode)
