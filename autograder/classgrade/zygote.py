"""A pre-loaded process that forks sandboxed kernels and recorders: Python starts once per worker.

Starting an IPython kernel costs about 0.6 s of CPU, nearly all of it importing ipykernel,
IPython, numpy and matplotlib, and an out-of-kernel recorder pays the same for numpy; a class
of 300 pays it 600 times. The zygote imports those modules once, in a process that has
never seen a submission, and then serves ``python -m MODULE ARGS`` requests by forking a child
that calls :func:`.sandbox.run_confined` with the request's plan — exactly what the exec
launcher (``python -I -S sandbox.py --plan ...``) calls, so both paths build the same view::

    zygote ── A  setsid; joins the cgroup; new namespaces; supervises B
              └─ B  PID 1: allow-list view, reaper
                 └─ C  limits, unprivileged uid; drops preloaded modules it cannot see;
                       runs MODULE as __main__

Nothing secret is in the zygote's memory: it imports public libraries and the checks module
that the test cells import anyway; C also drops every preloaded module whose file is not in
its view (a recorder, whose view lacks ``autograder/``, keeps none of the grader's modules).

Protocol (JSON lines): the worker writes ``{"argv", "plan", "env", "stdout", "stderr"}`` and
reads ``{"pid": N}`` (or ``{"error": ...}``); whenever an A ends the zygote writes
``{"exit": N, "code": C}``. It writes ``{"ready": ...}`` once its imports are done and exits
when its stdin closes. The worker side is :class:`Zygote` (used through
:func:`.sandbox.spawn`); :class:`ForkedProcess` is the ``subprocess.Popen``-like handle on A.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time



# ----------------------------------------------------------------------------------------
# worker side


class ForkedProcess:
    """A ``Popen``-like handle on a process the zygote forked (its group leader A).

    The worker is not A's parent: the zygote reaps A, after which A's pid may belong to
    anyone. So the handle holds a pidfd, opened while A was certainly the zygote's child,
    and signals A's group only while that pidfd says A runs (a running A keeps its pid, and
    so its group's id, from being reused). Without it (A had already ended when ``spawn``
    returned) it never signals at all.
    """

    stdin = stdout = stderr = None

    def __init__(self, zygote: "Zygote", pid: int, pidfd: int | None):
        self._zygote = zygote
        self.pid = pid
        self._pidfd = pidfd
        self.returncode: int | None = None

    def _running(self) -> bool:
        if self._pidfd is None:
            return False
        watch = select.poll()                  # (poll, not select: any fd number)
        watch.register(self._pidfd, select.POLLIN)
        return not watch.poll(0)               # a pidfd turns readable once A has ended

    def _release(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def poll(self) -> int | None:
        if self.returncode is None:
            code = self._zygote._exit_code(self.pid)
            if code is None and self._zygote.dead and not self._running():
                code = -signal.SIGKILL       # it ended after the zygote died: nobody reports it
            if code is not None:
                self.returncode = code
                self._release()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            self._zygote._wait_exit(min(left, 1.0) if left is not None else 1.0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Signal A alone (through its pidfd: never a reused pid); A forwards it to the
        command, and a SIGKILL of A ends the whole sandboxed tree with it."""
        if self.poll() is not None or not self._running():
            return
        try:
            signal.pidfd_send_signal(self._pidfd, sig)
        except OSError:
            pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __del__(self):
        try:
            self._release()
        except (OSError, AttributeError):
            pass


class Zygote:
    """The worker's handle on one zygote process (started at once, ready when imports finish).

    ``spawn`` forks a sandboxed ``python -m MODULE ARGS``; if the zygote cannot serve a
    request (another interpreter, the zygote died) it returns None and the caller starts
    the process the ordinary way.
    """

    def __init__(self, workdir: str, preload: list[str], env: dict | None = None):
        from .sandbox import clean_env
        os.makedirs(workdir, exist_ok=True)
        self.workdir, self.env = workdir, env
        zenv = clean_env(dict(env or {}))
        zenv.update(HOME=workdir, MPLCONFIGDIR=os.path.join(workdir, "mpl"),
                    IPYTHONDIR=os.path.join(workdir, "ipython"))
        self._log = open(os.path.join(workdir, "zygote.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.classgrade.zygote", *preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=workdir, env=zenv,
            close_fds=True)
        self._lock = threading.Lock()          # one request at a time
        self._cond = threading.Condition()
        self._exits: dict[int, int] = {}
        self._replies: list[dict] = []
        self._ready = threading.Event()
        self._dead = False
        self.info: dict = {}
        self._reader = threading.Thread(target=self._read, daemon=True, name="zygote-reader")
        self._reader.start()

    # -- reading the zygote's messages -------------------------------------------------------
    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self._handle(json.loads(line))
            except (ValueError, TypeError, KeyError):
                continue
        with self._cond:
            self._dead = True
            self._ready.set()
            self._cond.notify_all()

    def _handle(self, msg: dict) -> None:
        with self._cond:
            if "exit" in msg:
                self._exits[int(msg["exit"])] = int(msg["code"])
            elif "ready" in msg:
                self.info = msg
                self._ready.set()
            else:
                # a pid is reused only after its exit was reported (the zygote reaps it
                # first), so an exit recorded for this pid belongs to an earlier child
                self._exits.pop(msg.get("pid"), None)
                self._replies.append(msg)
            self._cond.notify_all()

    def _exit_code(self, pid: int) -> int | None:
        with self._cond:
            return self._exits.pop(pid, None)     # ForkedProcess keeps it from here

    def _wait_exit(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait(timeout)

    @property
    def alive(self) -> bool:
        return not self._dead and self.proc.poll() is None

    @property
    def dead(self) -> bool:
        """Started, then died (a zygote still importing is not dead)."""
        return self._ready.is_set() and not self.alive

    def ready(self, timeout: float = 60.0) -> bool:
        return self._ready.wait(timeout) and self.alive

    # -- requests ----------------------------------------------------------------------------
    def spawn(self, argv: list[str], plan: dict, env: dict, stdout: str | None = None,
              stderr: str | None = None, timeout: float = 60.0) -> ForkedProcess | None:
        """Fork ``argv`` (``python -m MODULE ARGS`` of this interpreter) confined by ``plan``
        (built by :func:`.sandbox.spawn`, which callers use); None if it cannot serve."""
        if len(argv) < 3 or argv[1] != "-m" or os.path.abspath(argv[0]) != os.path.abspath(sys.executable):
            return None
        if not pidfd_supported() or not self.ready(timeout):
            return None
        req = {"argv": list(argv[2:]), "plan": plan, "env": dict(env),
               "stdout": stdout, "stderr": stderr}
        with self._lock:
            with self._cond:
                self._replies.clear()
            try:
                self.proc.stdin.write((json.dumps(req) + "\n").encode())
                self.proc.stdin.flush()
            except (OSError, ValueError):
                return None
            end = time.monotonic() + timeout
            with self._cond:
                while not self._replies and not self._dead and time.monotonic() < end:
                    self._cond.wait(0.5)
                reply = self._replies.pop(0) if self._replies else None
            if not reply or "pid" not in reply:
                return None
            # still under the lock: the zygote forks nothing else meanwhile
            return ForkedProcess(self, int(reply["pid"]), self._open_child(int(reply["pid"])))

    def _open_child(self, pid: int) -> int | None:
        """A pidfd on the zygote's child ``pid``; None if that child has already been reaped."""
        try:
            fd = os.pidfd_open(pid)
        except OSError:                  # reaped (its exit is on its way), pid not yet reused
            return None
        if _parent(pid) != self.proc.pid:    # reaped, and the pid already went to a stranger
            os.close(fd)
            return None
        return fd

    def check(self, sandbox, timeout: float = 60.0) -> str | None:
        """Fork a trivial child inside ``sandbox``: None if it ran, else why not.

        A zygote that cannot confine its children (a kernel without namespaces, a seccomp
        filter) must cost speed, never a grade: the worker checks once, before any student.
        """
        from .sandbox import last_line, spawn, SandboxError
        err = os.path.join(self.workdir, "check.stderr")
        try:
            # a standard-library module: every view holds the interpreter, not autograder
            proc = spawn([sys.executable, "-m", "platform"], sandbox, zygote=self, stderr=err)
        except SandboxError as exc:
            return str(exc)
        with proc:
            if not proc.forked:
                return "the zygote did not start"
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return "its test child did not finish"
        if code != 0:
            tail = last_line(err)
            return f"its test child exited with status {code}" + (f": {tail}" if tail else "")
        return None

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def pidfd_supported() -> bool:
    """Whether this kernel gives pidfds (Linux 5.3+): without them no zygote is used, since a
    forked process could then not be signalled safely."""
    global _PIDFD
    if _PIDFD is None:
        try:
            os.close(os.pidfd_open(os.getpid()))
            _PIDFD = True
        except (AttributeError, OSError):
            _PIDFD = False
    return _PIDFD


_PIDFD: bool | None = None


# ----------------------------------------------------------------------------------------
# zygote side


def _redirect(stdout: str | None, stderr: str | None) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    out = os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if stdout else devnull
    err = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if stderr else devnull
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096)


def _invisible_modules(plan: dict) -> list[str]:
    """Loaded modules whose file is outside the child's view (they must not stay usable)."""
    if not plan.get("view"):
        return []
    roots = tuple(e[1].rstrip("/") + "/" for e in plan["entries"] if e[2] in ("ro", "rw"))
    seen: dict[str, bool] = {}               # per directory: realpath costs a stat per part
    out = []
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if not path:
            continue
        folder = os.path.dirname(path)
        if folder not in seen:
            seen[folder] = (os.path.realpath(folder) + "/").startswith(roots)
        if not seen[folder]:
            out.append(name)
    return out


def _run_module(req: dict) -> None:
    """In C: become the student's ``python -m MODULE ARGS`` (never returns)."""
    import runpy
    code = 0
    try:
        module, args = req["argv"][0], list(req["argv"][1:])
        for name in _invisible_modules(req["plan"]):
            del sys.modules[name]
        os.environ.clear()
        os.environ.update(req.get("env") or {})
        os.environ.pop("JPY_PARENT_PID", None)
        sys.path[0] = os.getcwd()              # as for python -m started in this directory
        sys.argv = [module] + args
        try:                                   # a fresh kernel's global RNG is seeded from the OS
            import numpy
            numpy.random.seed()
        except ImportError:
            pass
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report like an interpreter would
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)


def _child(req: dict) -> None:
    """In A, just forked from the zygote (never returns)."""
    from . import sandbox as sb
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        _redirect(req.get("stdout"), req.get("stderr"))
    except BaseException as exc:  # noqa: BLE001 - never fall back into the zygote's loop
        try:
            os.write(2, f"zygote: cannot start {req.get('argv')}: {exc}\n".encode())
        finally:
            os._exit(sb.EXIT_SETUP_FAILED)
    sb.run_confined(req["plan"], lambda: _run_module(req))


def serve(preload: list[str]) -> None:
    """The zygote's loop: import ``preload`` (``module`` or ``module:function`` to call once,
    e.g. a cache warmer), then fork one child per request line."""
    t0 = time.monotonic()
    from . import sandbox  # noqa: F401 - every child uses it
    failed = []
    for name in preload:                      # "module" or "module:function" to call once
        try:
            module, _, func = name.partition(":")
            mod = importlib.import_module(module)
            if func:
                getattr(mod, func)()
        except Exception as exc:  # noqa: BLE001 - a missing optional module costs speed only
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    sandbox._libc()                          # load libc once, not in every child
    out = sys.stdout.buffer
    inp = sys.stdin.buffer.fileno()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda s, f: None)
    children: set[int] = set()

    def send(msg: dict) -> None:
        out.write((json.dumps(msg) + "\n").encode())
        out.flush()

    send({"ready": True, "seconds": round(time.monotonic() - t0, 3), "modules": len(sys.modules),
          "failed": failed, "threads": threading.active_count()})
    buf = b""
    while True:
        try:
            ready, _, _ = select.select([inp, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
        while children:                     # reap and report
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.discard(pid)
            send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})
        if inp not in ready:
            continue
        chunk = os.read(inp, 65536)
        if not chunk:
            return
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                req = json.loads(line)
            except ValueError as exc:
                send({"error": f"bad request: {exc}"})
                continue
            if threading.active_count() != 1:      # forking a threaded process is unsafe
                send({"error": "zygote has threads"})
                continue
            pid = os.fork()
            if pid == 0:
                os.close(wake_r)
                os.close(wake_w)
                _child(req)
            children.add(pid)
            send({"pid": pid})


if __name__ == "__main__":
    serve(sys.argv[1:])
