"""The recorder, grader side: the grader's own record of what a student's code does.

For a submission the grader starts a sandboxed process running :mod:`.remote` with the
student's code cells and the assignment's recorder files only (see that module for why this
is safe), sends each graded part's scenarios — visible ones and hidden ones drawn at grading
time — and reads back trajectories as plain data, validated by the assignment's own
``Trajectory.from_dict``. Parts are recorded one after another in that process; a part that
stops it (the process dies, stops answering within the part's time budget, sends garbage)
gets no recording, the process is killed with its whole tree, and a fresh one serves the
remaining parts, so one part's endless loop or crash costs only that part. (This is
equivalent to a fresh process per part for the trust model: the student's process holds only
the student's code either way, and each part still starts from a clean process after any
fault; it saves a process start per part.)

A part without a complete recording has no verdict: :func:`.decide.decide` scores it 0 and
flags it. A process that never says hello — before any student code ran — is the *grader's*
fault (the sandbox could not start): :class:`Fault.NO_START`, never charged to the student.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import remote
from .remote import Decoder, Encoder, WireError

SERVER = os.path.abspath(remote.__file__)


class Fault(enum.Enum):
    """Why a part could not be recorded."""

    NO_START = "the sandboxed process did not start"          # grader side
    TIMEOUT = "did not answer within the time limit"
    DIED = "the student's process died"
    GARBLED = "sent a malformed answer"


class RecorderFault(BaseException):
    """The recording of a part stopped; ``kind`` says why (never the student's exception)."""

    def __init__(self, kind: Fault, detail: str = ""):
        super().__init__(f"{kind.value}{': ' + detail if detail else ''}")
        self.kind, self.detail = kind, detail


# ---------------------------------------------------------------------------- the process
@dataclass
class Launched:
    """What a launcher returns: something to poll and to kill (the whole tree) at the end."""

    poll: Callable[[], int | None]
    close: Callable[[], None]


#: (argv, workdir, lib, channel) -> Launched; ``channel`` is the folder holding the socket the
#: server connects to, which the sandbox must let it reach (read-write)
Launcher = Callable[[list[str], str, str, str], Launched]


def plain_launcher(argv: list[str], workdir: str, lib: str, channel: str) -> Launched:
    """Start the server as an ordinary child process (tests; the sandbox has its own launcher)."""
    import subprocess
    proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)

    def close():
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return Launched(proc.poll, close)


NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


def server_argv(lib: str, sock: str, job: str) -> list[str]:
    """How the server is started: the interpreter without ``site`` (so no editable-install
    finder maps ``autograder`` or ``dlcourse``), with ``lib`` and a folder holding NumPy alone
    on the path (``lib/site``: the sandbox binds NumPy there; see :func:`prepare_lib`)."""
    boot = (f"import sys; sys.path[:0] = [{os.path.join(lib, 'site')!r}, {lib!r}]; "
            f"sys.argv = {['remote.py', sock, job]!r}; "
            f"import runpy; runpy.run_path({os.path.join(lib, 'remote.py')!r}, run_name='__main__')")
    return [sys.executable, "-I", "-S", "-c", boot]


def prepare_lib(lib: str, recorder_files: tuple[str, ...]) -> None:
    """The server's files, alone: :mod:`.remote`, the assignment's recorder files (paths
    relative to the ``autograder`` package) and a stand-in ``autograder/__init__.py``; and
    ``lib/site/numpy``, a symbolic link to NumPy that the sandbox replaces by a bind mount
    (NumPy is the only package the student's process can import: not torch, not the course)."""
    package = os.path.join(lib, "autograder")
    os.makedirs(package, exist_ok=True)
    os.makedirs(os.path.join(lib, "site"), exist_ok=True)
    shutil.copy(SERVER, os.path.join(lib, "remote.py"))
    # the instructor's set-up cell imports the notebook's checks; while recording only the
    # recorder files are here, so everything else of the package gets a stand-in
    with open(os.path.join(package, "__init__.py"), "w", encoding="utf-8") as fh:
        fh.write(_STAND_IN)
    here = os.path.dirname(os.path.dirname(SERVER))
    for rel in recorder_files:
        dest = os.path.join(package, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(os.path.join(here, rel), dest)
    for name in ("numpy", "numpy.libs"):
        src = os.path.join(os.path.dirname(NUMPY_DIR), name)
        if os.path.exists(src) and not os.path.lexists(os.path.join(lib, "site", name)):
            os.symlink(src, os.path.join(lib, "site", name))


_STAND_IN = '''"""Stand-in for the course's checks while a part is being recorded: they are not here."""


def _unavailable(*args, **kwargs):
    raise RuntimeError("the notebook's checks are not available while the grader records a part")


def __getattr__(name):
    import importlib
    import os
    if name.startswith("__"):
        raise AttributeError(name)
    if os.path.exists(os.path.join(os.path.dirname(__file__), name + ".py")):
        return importlib.import_module(__name__ + "." + name)   # a recorder file: the real module
    return _unavailable
'''


#: how long a sandboxed server may take to start and greet (no student code runs before it)
GREETING_SECONDS = 30.0
#: the largest answer read from a student's process: a scenario's trajectory is a few kB to a few
#: MB; a larger reply is refused before it is read (a garbled part), never kept in the grader's memory
MAX_REPLY = 16 * 2**20


class StudentProcess:
    """One sandboxed server process for one part, and the connection to it."""

    def __init__(self, launcher: Launcher, workdir: str, cells: list[str], targets: dict[str, str],
                 deadline: float, recorder_files: tuple[str, ...], recorder_module: str,
                 cell_seconds: float = 60.0, start_deadline: float | None = None):
        self.deadline = deadline
        self.start_deadline = start_deadline or deadline
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        lib = os.path.join(workdir, "lib")
        prepare_lib(lib, recorder_files)
        job = os.path.join(workdir, "job.json")
        with open(job, "w", encoding="utf-8") as fh:
            json.dump({"cells": cells, "targets": targets, "recorder": recorder_module,
                       "cell_seconds": cell_seconds}, fh)
        self.lib = lib
        # a short folder of its own: a unix socket's path must fit in 107 bytes, and the
        # output folder (where workdir lives) may be anywhere
        self.channel = tempfile.mkdtemp(prefix="cg-r-")
        self.sock_path = os.path.join(self.channel, "s")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.sock_path)
        os.chmod(self.sock_path, 0o777)      # the sandboxed uid connects to it
        self.listener.listen(1)
        self.conn: socket.socket | None = None
        self.argv = server_argv(lib, self.sock_path, job)
        self.launcher = launcher
        self.proc: Launched | None = None
        self.reader: remote.Reader | None = None
        self.ready: dict = {}

    def _left(self) -> float:
        return self.deadline - time.monotonic()

    def start(self) -> None:
        """Launch the server, wait for its greeting, then for its cells to have run."""
        try:
            self.proc = self.launcher(self.argv, self.workdir, self.lib, self.channel)
        except Exception as exc:  # noqa: BLE001 - the sandbox could not start: the grader's fault
            raise RecorderFault(Fault.NO_START, f"{type(exc).__name__}: {exc}") from None
        # until the greeting nothing of the student's has run: this wait is the grader's alone,
        # with its own allowance, whatever is left of the student's budget
        self.listener.settimeout(GREETING_SECONDS)
        try:
            self.conn, _ = self.listener.accept()
            self.reader = remote.Reader(self.conn, MAX_REPLY)
        except (socket.timeout, OSError):
            code = self.proc.poll() if self.proc is not None else None
            raise RecorderFault(Fault.NO_START, "it never connected" +
                                (f" (exit status {code})" if code is not None else "")) from None
        try:
            hello, _ = self._recv(GREETING_SECONDS)
        except RecorderFault as exc:
            raise RecorderFault(Fault.NO_START, exc.detail) from None
        if hello.get("op") != "hello":
            raise RecorderFault(Fault.NO_START, "no greeting")
        # from here on the student's cells run (each within its own limit): what goes wrong is theirs
        ready, _ = self._recv(self.start_deadline - time.monotonic())
        if ready.get("op") != "ready" or not isinstance(ready.get("present"), dict):
            raise RecorderFault(Fault.GARBLED, "no ready message after running the cells")
        self.ready = ready

    def _recv(self, timeout: float) -> tuple[dict, list[bytes]]:
        if timeout <= 0:
            raise RecorderFault(Fault.TIMEOUT, "the part's time budget is spent")
        assert self.conn is not None
        self.conn.settimeout(timeout)
        try:
            return self.reader.frame()
        except socket.timeout:
            raise RecorderFault(Fault.TIMEOUT) from None
        except (EOFError, ConnectionError, OSError):
            raise RecorderFault(Fault.DIED) from None
        except WireError as exc:
            raise RecorderFault(Fault.GARBLED, str(exc)) from None

    def request(self, header: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        assert self.conn is not None
        try:
            self.conn.settimeout(max(0.05, self._left()))
            remote.send(self.conn, header, blobs)
        except socket.timeout:
            raise RecorderFault(Fault.TIMEOUT) from None
        except OSError:
            raise RecorderFault(Fault.DIED) from None
        reply = self._recv(self._left())
        if reply[0].get("op") == "error":
            raise RecorderFault(Fault.GARBLED, str(reply[0].get("message", ""))[:200])
        return reply

    def present(self, target: str) -> bool:
        return bool(self.ready.get("present", {}).get(target))

    def close(self) -> None:
        for s in (self.conn, self.listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        if self.proc is not None:
            self.proc.close()
        shutil.rmtree(self.channel, ignore_errors=True)


# ---------------------------------------------------------------------------- the parts
@dataclass
class PartRecording:
    """What the recorder got for one target: trajectories, or the fault that stopped it."""

    target: str
    trajectories: list = field(default_factory=list)
    fault: Fault | None = None
    detail: str = ""
    present: bool = True                 # the student's cells define the target
    cell_errors: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.fault is None


def _scenario_message(target: str, scenario) -> tuple[dict, list[bytes]]:
    enc = Encoder()
    fields = {f.name: getattr(scenario, f.name) for f in dataclasses.fields(scenario)}
    return {"op": "record", "target": target,
            "scenario": {"class": type(scenario).__name__, "fields": enc.encode(fields)}}, enc.blobs


def record_parts(checks, parts: dict[str, list], cells: list[str], launcher: Launcher, workdir: str,
                 part_seconds: float, deadline: float, recorder_files: tuple[str, ...],
                 recorder_module: str, cell_seconds: float = 60.0,
                 names: dict[str, str] | None = None) -> dict[str, PartRecording]:
    """Record every target of ``parts`` (target -> scenarios) from the student's ``cells``;
    ``names`` maps a target to the name the student defines (default: the target's own).

    Running the cells may take ``cell_seconds`` per cell (as in the notebook's own run), each
    part ``part_seconds``; nothing runs past ``deadline`` (the submission's whole budget).
    Never raises for the student's doing: faults are in the recordings.
    """
    out: dict[str, PartRecording] = {}
    process: StudentProcess | None = None
    runs = 0
    try:
        for target, scenarios in parts.items():
            t0 = time.monotonic()
            rec = out[target] = PartRecording(target)
            if t0 >= deadline:          # the student's code spent the submission's budget already
                rec.fault, rec.detail = Fault.TIMEOUT, "the submission's time budget was spent before this part"
                continue
            part_deadline = min(deadline, t0 + part_seconds)
            try:
                if process is None:
                    runs += 1
                    start_deadline = min(deadline, time.monotonic() + 10 + cell_seconds * len(cells))
                    process = StudentProcess(launcher, os.path.join(workdir, f"run{runs}"), cells,
                                             {t: (names or {}).get(t, t) for t in parts}, part_deadline,
                                             recorder_files, recorder_module, cell_seconds, start_deadline)
                    process.start()
                    t0 = time.monotonic()          # the part's own budget starts once the cells ran
                    part_deadline = min(deadline, t0 + part_seconds)
                process.deadline = part_deadline
                rec.present = process.present(target)
                rec.cell_errors = list(process.ready.get("cell_errors", []))[:20]
                for sc in scenarios:
                    reply, blobs = process.request(*_scenario_message(target, sc))
                    if reply.get("op") != "trajectory":
                        raise RecorderFault(Fault.GARBLED, "no trajectory in the answer")
                    try:
                        data = Decoder(blobs).decode(reply.get("data"))
                        for entry in (data.get("values") or {}).values():
                            if isinstance(entry, dict) and type(entry.get("data")) is np.ndarray:
                                entry["data"] = entry["data"].astype(np.float64).ravel().tolist()
                        rec.trajectories.append(checks.Trajectory.from_dict(data))
                    except (WireError, TypeError, ValueError, KeyError, AttributeError) as exc:
                        raise RecorderFault(Fault.GARBLED, f"malformed trajectory: {exc}"[:200]) from None
            except RecorderFault as fault:
                rec.fault, rec.detail, rec.trajectories = fault.kind, fault.detail, []
                if process is not None:
                    process.close()
                    process = None
                if fault.kind is Fault.NO_START:
                    # the sandbox itself failed: the remaining parts cannot be recorded either
                    for rest in list(parts)[list(parts).index(target) + 1:]:
                        out[rest] = PartRecording(rest, fault=Fault.NO_START, detail=fault.detail)
                    break
            finally:
                rec.seconds = time.monotonic() - t0
    finally:
        if process is not None:
            process.close()
    return out
