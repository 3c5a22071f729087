"""Run untrusted student code (an IPython kernel, or the trajectory probe) in a restricted process.

nbgrader 0.9 has no sandbox: a student's kernel runs with the grader's rights. Every process
that executes student code is therefore either forked by a zygote (:mod:`.zygote`, the fast
path, which applies the same :func:`confine` / :func:`become_untrusted` / :func:`reap` steps
below without starting Python) or started through :func:`wrap`, which prefixes its argv with

    unshare --net --pid --fork --kill-child --mount --mount-proc --        (when available)
    python -m autograder.classgrade.sandbox --uid U --as BYTES ... -- ARGV

and this module's ``main`` then, inside the new namespaces:

1. hides paths the student must not see (the instructor's ``source/`` with solutions and hidden
   tests, ``solutions/``, gradebooks, the other submissions) under empty tmpfs / ``/dev/null``;
2. stays behind as a tiny PID-1 reaper, so that when the kernel ends, every process the
   student started ends with it (the PID namespace dies with its init);
3. in the child: sets resource limits (address space, CPU seconds, file size, number of
   processes, open files), drops to an unprivileged uid without groups (one uid per worker
   slot, so parallel kernels cannot touch each other's files), ``chdir``s to the directory
   holding only that one submission copy, and ``exec``s the real command.

Without root (or without ``unshare``), only the resource limits and the working directory
apply; :func:`capabilities` reports what this machine allows and the class report says so.

The kernel talks to the grader over IPC (unix-socket) transport in a private per-kernel
directory, because a kernel in its own network namespace cannot reach the grader's loopback.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field, asdict

# ----------------------------------------------------------------------------------------
# limits and capabilities


@dataclass
class Limits:
    """Resource limits for one untrusted process tree (``None`` leaves a limit alone)."""

    memory_mb: int | None = 3072      # RLIMIT_AS: numpy + ipykernel need ~1 GB of address space
    cpu_seconds: int | None = 600     # RLIMIT_CPU: the kernel is killed (SIGXCPU/SIGKILL) past this
    file_mb: int | None = 64          # RLIMIT_FSIZE: no file larger than this
    nproc: int | None = 256           # RLIMIT_NPROC, per uid: stops fork bombs (threads count too)
    nofile: int | None = 256          # RLIMIT_NOFILE


@dataclass
class Sandbox:
    """How to restrict one untrusted process; picklable, built by the worker."""

    limits: Limits = field(default_factory=Limits)
    uid: int | None = None            # run as this uid/gid (root only)
    hide: list[str] = field(default_factory=list)    # paths made invisible (root + mount ns)
    isolate: bool = False             # unshare net/pid/mount namespaces (root + unshare)
    cwd: str | None = None
    stage: str | None = None          # empty root-owned dir used while re-exposing paths
    expose: list = field(default_factory=list)   # [[masked_parent, [kept paths]]]
    keep: list = field(default_factory=list)     # extra paths the kernel must reach (PYTHONPATH)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@functools.lru_cache(maxsize=1)
def capabilities() -> dict:
    """What this machine lets the grader do: ``{'root', 'unshare', 'setuid'}`` booleans."""
    caps = {"root": hasattr(os, "geteuid") and os.geteuid() == 0, "unshare": False}
    if os.environ.get("CLASSGRADE_NO_ISOLATION"):      # limits only, as for a non-root grader
        return {"root": False, "unshare": False, "setuid": False}
    unshare = shutil.which("unshare")
    if caps["root"] and unshare:
        try:
            r = subprocess.run([unshare, "--net", "--pid", "--fork", "--kill-child", "--mount",
                                "--mount-proc", "--", "true"], capture_output=True, timeout=20)
            caps["unshare"] = r.returncode == 0
        except (OSError, subprocess.SubprocessError):
            caps["unshare"] = False
    caps["setuid"] = caps["root"]
    return caps


def describe(sandbox: Sandbox) -> str:
    parts = []
    lim = sandbox.limits
    parts.append(f"limits: address space {lim.memory_mb} MB, CPU {lim.cpu_seconds} s, "
                 f"files {lim.file_mb} MB, {lim.nproc} processes")
    parts.append("no network, private PID and mount namespaces" if sandbox.isolate
                 else "shares network and PID namespace with the grader (not root or no unshare)")
    parts.append(f"unprivileged uid {sandbox.uid}" if sandbox.uid is not None
                 else "runs as the grader's user")
    return "; ".join(parts)


def needed_paths() -> list[str]:
    """Directories the unprivileged user must reach to run this Python (the interpreter prefix)."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return sorted(paths)


def blocked_ancestor(path: str) -> str | None:
    """The highest ancestor of ``path`` that others cannot traverse, or None."""
    parts = os.path.realpath(path).split(os.sep)
    for i in range(2, len(parts) + 1):
        anc = os.sep.join(parts[:i]) or os.sep
        try:
            if not os.stat(anc).st_mode & 0o001:
                return anc
        except OSError:
            return None
    return None


def plan_expose(extra: list[str] | None = None) -> list:
    """[[masked_parent, [kept paths]]] so that an unprivileged uid reaches the interpreter
    and the ``extra`` paths (its working and kernel directories), and nothing else there."""
    plan: dict[str, list[str]] = {}
    paths = needed_paths() + [os.path.realpath(p) for p in (extra or []) if os.path.exists(p)]
    for p in dict.fromkeys(paths):
        anc = blocked_ancestor(p)
        if anc is not None and anc != p:
            plan.setdefault(anc, []).append(p)
    return [[k, v] for k, v in plan.items()]


def wrap(argv: list[str], sandbox: Sandbox) -> list[str]:
    """The argv that runs ``argv`` inside ``sandbox``."""
    # run this file by path, isolated (-I) and without site-packages (-S): it needs only the
    # standard library, and importing the autograder package here would cost ~0.1 s per start
    inner = [sys.executable, "-I", "-S", os.path.abspath(__file__), "--spec", sandbox.to_json(), "--"]
    inner += list(argv)
    if sandbox.isolate:
        return [shutil.which("unshare") or "unshare", "--net", "--pid", "--fork", "--kill-child",
                "--mount", "--mount-proc", "--"] + inner
    return inner


def last_line(path: str) -> str:
    """The last line a sandboxed process wrote to its log ``path`` (for an error message)."""
    try:
        with open(path, "rb") as fh:
            lines = fh.read()[-4000:].decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def clean_env(extra: dict | None = None) -> dict:
    """Environment for untrusted code: single-threaded BLAS, no grader secrets, a safe HOME."""
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "TZ", "TERM", "VIRTUAL_ENV",
                    "PYTHONHASHSEED", "MPLBACKEND")}
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "Agg",
                "HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1",
                "NBGRADER_EXECUTION": "autograde", "JUPYTER_PLATFORM_DIRS": "1"})
    if extra:
        env.update(extra)
    return env


def prepare_dir(path: str, sandbox: Sandbox) -> None:
    """Make ``path`` (and everything in it) owned by the sandbox uid, private to it."""
    if sandbox.uid is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, sandbox.uid, sandbox.uid)
        os.chmod(root, 0o700)
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chown(p, sandbox.uid, sandbox.uid)


def kill_uid(uid: int | None) -> None:
    """Kill every process still running as the sandbox ``uid`` (stragglers of a submission).

    Only used when PID namespaces are unavailable; the uid is one this grader reserved.
    """
    if uid is None or uid == 0:
        return
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


# ----------------------------------------------------------------------------------------
# the in-namespace launcher (python -m autograder.classgrade.sandbox --spec JSON -- ARGV)


_MS_RDONLY, _MS_REMOUNT, _MS_BIND, _MS_MOVE, _MNT_DETACH = 1, 32, 4096, 8192, 2
_LIBC = None


def _mount(*args: str) -> bool:
    """``mount ARGS`` through libc (no fork/exec); False when libc cannot do it."""
    global _LIBC
    try:
        import ctypes
        import ctypes.util
        if _LIBC is None:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        a = list(args)
        if a[:2] == ["-t", "tmpfs"]:          # -t tmpfs -o OPTS none TARGET
            rc = _LIBC.mount(b"none", a[5].encode(), b"tmpfs", 0, a[3].encode())
        elif a[0] == "--bind":                # --bind SRC TARGET
            rc = _LIBC.mount(a[1].encode(), a[2].encode(), None, _MS_BIND, None)
        elif a[0] == "--move":
            rc = _LIBC.mount(a[1].encode(), a[2].encode(), None, _MS_MOVE, None)
        elif a[:2] == ["-o", "remount,ro,bind"]:
            rc = _LIBC.mount(b"none", a[2].encode(), None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY, None)
        elif a[0] == "umount" and a[1] == "-l":
            rc = _LIBC.umount2(a[2].encode(), _MNT_DETACH)
        else:
            return False
        return rc == 0
    except Exception:  # noqa: BLE001 - fall back to the mount command
        return False


def _empty_file() -> str:
    """An empty, root-only, read-only regular file to mount over hidden files."""
    for d in ("/var/tmp/.classgrade-stage", "/tmp/.classgrade-stage"):
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
            path = os.path.join(d, "empty")
            if not os.path.exists(path):
                with open(path, "w"):
                    pass
            os.chmod(path, 0o400)
            if os.path.getsize(path) == 0:
                return path
        except OSError:
            continue
    return "/dev/null"


def _hide(paths: list[str]) -> None:
    for p in paths:
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                _run("mount", "-t", "tmpfs", "-o", "size=1m,mode=0555", "none", p)
            elif os.path.exists(p):
                _run("mount", "--bind", _empty_file(), p)
                _run("mount", "-o", "remount,ro,bind", p)
        except (OSError, subprocess.CalledProcessError) as exc:   # never run unhidden
            print(f"sandbox: cannot hide {p}: {exc}", file=sys.stderr)
            os._exit(70)


def _run(*args: str) -> None:
    if args[0] == "mount" and _mount(*args[1:]):
        return
    if args[0] == "umount" and _mount(*args):
        return
    r = subprocess.run(list(args), capture_output=True)
    if r.returncode != 0:
        print(f"sandbox: {' '.join(args)} failed: {r.stderr.decode(errors='replace')}", file=sys.stderr)
        os._exit(70)


def _expose(plan: list, stage: str | None) -> None:
    """Mask each blocked parent (e.g. /root) with a tmpfs, then put back only the kept paths."""
    if not plan:
        return
    parents = [os.path.realpath(pp) + os.sep for pp, _ in plan]
    candidates = ([stage] if stage else []) + ["/var/tmp/.classgrade-stage", "/tmp/.classgrade-stage"]
    stage = None
    for c in candidates:
        if any((os.path.realpath(os.path.dirname(c)) + os.sep).startswith(pp) for pp in parents):
            continue
        try:
            os.makedirs(c, mode=0o700, exist_ok=True)
        except OSError:
            continue
        if os.path.isdir(c) and not os.path.islink(c):
            stage = c
            break
    if stage is None:
        print("sandbox: no staging directory for re-exposing paths", file=sys.stderr)
        os._exit(70)
    _run("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "none", stage)
    moves = []
    for parent, keeps in plan:
        for keep in keeps:
            tmp = os.path.join(stage, str(len(moves)))
            os.mkdir(tmp)
            _run("mount", "--bind", keep, tmp)
            moves.append((tmp, keep))
        _run("mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "none", parent)
    for tmp, keep in moves:
        os.makedirs(keep, mode=0o755, exist_ok=True)
        _run("mount", "--move", tmp, keep)
    _run("umount", "-l", stage)


def _limit(lim: dict) -> None:
    mb = 1024 * 1024
    for key, res, scale in (("memory_mb", resource.RLIMIT_AS, mb),
                            ("cpu_seconds", resource.RLIMIT_CPU, 1),
                            ("file_mb", resource.RLIMIT_FSIZE, mb),
                            ("nproc", resource.RLIMIT_NPROC, 1),
                            ("nofile", resource.RLIMIT_NOFILE, 1)):
        if lim.get(key) is not None:
            value = int(lim[key]) * scale
            if res == resource.RLIMIT_CPU:
                resource.setrlimit(res, (value, value + 5))
            else:
                resource.setrlimit(res, (value, value))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drop(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() == 0 or os.geteuid() == 0:     # paranoia: never continue as root
        os._exit(71)


def confine(spec: dict) -> None:
    """Inside fresh mount (and PID) namespaces: hide and re-expose paths as ``spec`` says."""
    if spec.get("isolate"):
        _hide(spec.get("hide") or [])
        _expose(spec.get("expose") or [], spec.get("stage"))


def become_untrusted(spec: dict) -> None:
    """In the process about to run student code: limits, the unprivileged uid, the working dir."""
    if spec.get("cwd"):
        os.chdir(spec["cwd"])
    _limit(spec.get("limits") or {})
    if spec.get("uid") is not None:
        _drop(int(spec["uid"]))
    if spec.get("cwd"):
        os.chdir(spec["cwd"])


def reap(pid: int, forward=(signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)) -> None:
    """Stay behind as the reaper of ``pid``'s tree; exit with its status. Never returns.

    As PID 1 of a namespace this also collects orphans, and its death ends every process the
    student started. SIGINT is ignored unless forwarded: a grader that interrupts by signalling
    the whole process group already reaches the kernel."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in forward:
        signal.signal(sig, lambda s, f: os.kill(pid, s))
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if done == pid:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        raise SystemExit("usage: python -m autograder.classgrade.sandbox --spec JSON -- CMD ...")
    split = argv.index("--")
    ns = argparse.ArgumentParser()
    ns.add_argument("--spec", required=True)
    args = ns.parse_args(argv[:split])
    cmd = argv[split + 1:]
    spec = json.loads(args.spec)
    confine(spec)
    os.environ.pop("JPY_PARENT_PID", None)   # the grader is outside our PID namespace
    pid = os.fork()
    if pid == 0:
        try:
            become_untrusted(spec)
            os.execvp(cmd[0], cmd)
        except BaseException as exc:  # noqa: BLE001 - report and die, never fall through
            print(f"sandbox: cannot start {cmd[0]}: {exc}", file=sys.stderr)
            os._exit(72)
    reap(pid, forward=(signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT))


# ----------------------------------------------------------------------------------------
# kernel management for nbgrader's Execute preprocessor

_context = threading.local()


def set_kernel_sandbox(sandbox: Sandbox | None, kernel_dir: str | None, zygote=None) -> None:
    """Sandbox, private directory and (optionally) the :class:`~.zygote.Zygote` that forks
    the next kernel this thread starts."""
    _context.sandbox = sandbox
    _context.kernel_dir = kernel_dir
    _context.zygote = zygote
    _context.processes = []


def kernel_processes(live: bool = False) -> list:
    """Provisioners of the kernels this thread started since :func:`set_kernel_sandbox`.

    ``live=True`` returns the list object itself, which later starts append to (for a
    watchdog running in another thread)."""
    procs = getattr(_context, "processes", None)
    if procs is None:
        procs = _context.processes = []
    return procs if live else list(procs)


@functools.lru_cache(maxsize=None)
def _make_client_class():
    import asyncio
    import time
    from queue import Empty
    from jupyter_client.asynchronous import AsyncKernelClient

    class PromptClient(AsyncKernelClient):
        """An AsyncKernelClient that is ready as soon as the kernel answers.

        jupyter_client's ``wait_for_ready`` ends by draining IOPub until it has been quiet
        for 0.2 s: idle time on every kernel start. nbclient matches each message to its
        request by ``parent_header``, so messages still in flight cannot reach a cell; here
        the drain takes only what has already arrived.
        """

        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:
                self.kernel_info()
                try:
                    reply = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    reply = None
                if reply is not None and reply["msg_type"] == "kernel_info_reply":
                    try:       # IOPub is connected once it carries this request's status
                        await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(reply)
                        break
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
            while True:
                try:
                    await self.iopub_channel.get_msg(timeout=0.005)
                except Empty:
                    break
                await asyncio.sleep(0)

    return PromptClient


@functools.lru_cache(maxsize=None)
def _make_kernel_manager_class():
    import asyncio
    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        """An AsyncKernelManager that starts the kernel through :func:`wrap` over IPC transport."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.client_factory = _make_client_class()
            self._sandbox = getattr(_context, "sandbox", None)
            kdir = getattr(_context, "kernel_dir", None)
            if self._sandbox is not None and kdir:
                self.transport = "ipc"
                self.ip = os.path.join(kdir, "k")
                self.connection_file = os.path.join(kdir, "kernel.json")
            self._registry = getattr(_context, "processes", None)
            self._kdir = kdir
            self._zygote = getattr(_context, "zygote", None)
            self._plain_cmd, self._box = None, None

        async def _async_wait(self, pollinterval: float = 0.1) -> None:
            # jupyter_client checks every 0.1 s whether a stopped kernel is gone; it is gone
            # within milliseconds, and 0.1 s per kernel adds up over a class
            while await self._async_is_alive():
                await asyncio.sleep(min(pollinterval, 0.005))

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            if self._sandbox is None:
                return cmd
            box = copy.deepcopy(self._sandbox)
            cwd = (getattr(self, "_launch_args", None) or {}).get("cwd") or box.cwd
            box.cwd = cwd
            if box.uid is not None and os.path.exists(self.connection_file):
                os.chown(self.connection_file, box.uid, box.uid)
            if box.isolate and box.uid is not None:
                # the working directory exists only now (nbgrader makes it just before running)
                box.expose = plan_expose([self._kdir or "", cwd or ""] + box.keep)
            self._plain_cmd, self._box = cmd, box
            return wrap(cmd, box)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            extra = {k: v for k, v in (kw.get("env") or {}).items()
                     if (k.startswith("JPY_") and k != "JPY_PARENT_PID") or k == "PYTHONPATH"}
            kdir = getattr(self, "_kdir", None)
            if kdir:
                extra.update(HOME=kdir, IPYTHONDIR=os.path.join(kdir, "ipython"),
                             MPLCONFIGDIR=os.path.join(kdir, "mpl"))
            kw["env"] = clean_env(extra)
            if kdir and self._zygote is not None and self._box is not None:
                proc = self._zygote.spawn(self._plain_cmd, self._box, kw["env"],
                                          stderr=os.path.join(kdir, "kernel.log"))
                if proc is not None:       # forked, imports done: what LocalProvisioner.launch_kernel records
                    prov = self.provisioner
                    # no pgid: LocalProvisioner would signal it even after the kernel ended and
                    # the id was reused; without one it asks the process, which checks first
                    prov.process, prov.pid, prov.pgid = proc, proc.pid, None
                    prov.cwd = self._box.cwd
                    self._reconcile_connection_info(prov.connection_info)
                    if self._registry is not None:
                        self._registry.append(prov)
                    return
            if kdir:
                kw["stdout"] = subprocess.DEVNULL
                kw["stderr"] = open(os.path.join(kdir, "kernel.log"), "ab")  # noqa: SIM115
            await super()._async_launch_kernel(kernel_cmd, **kw)
            if self._registry is not None and self.provisioner is not None:
                self._registry.append(self.provisioner)

    return SandboxKernelManager


@functools.lru_cache(maxsize=None)
def _make_execute_class():
    from nbgrader.preprocessors import Execute

    from queue import Empty
    from nbclient.exceptions import CellExecutionComplete

    class SandboxExecute(Execute):
        """nbgrader's Execute, starting kernels through the sandbox."""

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("kernel_manager_class", _make_kernel_manager_class())
            super().__init__(*args, **kwargs)

        async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index, *args, **kwargs):
            """nbclient's loop over a cell's IOPub messages, which also stops when the kernel
            is dead. After a cell times out nbclient waits ``iopub_timeout`` for output that a
            hung (or, after the submission's time limit, killed) kernel never sends."""
            while True:
                try:
                    msg = await self.kc.iopub_channel.get_msg(timeout=1)
                except Empty:
                    if not await self.kc.is_alive():
                        return
                    continue
                if msg["parent_header"].get("msg_id") == parent_msg_id:
                    try:
                        self.process_message(msg, cell, cell_index)
                    except CellExecutionComplete:
                        return

    return SandboxExecute


if __name__ == "__main__":
    main()
