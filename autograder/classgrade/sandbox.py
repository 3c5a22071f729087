"""Confine untrusted student code: an allow-list view, namespaces, a cgroup, a uid of its own.

nbgrader 0.9 has no sandbox: a student's kernel runs with the grader's rights. Every process
that runs student code is started by :func:`spawn` (a kernel through the jupyter_client
provisioner of :mod:`.provisioner`, which calls it) and gets, as far as the machine allows
(:func:`capabilities` tests each piece once, :func:`describe` says what is in force)::

    A  supervisor, in the grader's PID namespace: joins the submission's cgroup, unshares
    │  PID/IPC/UTS/network (and, without root, user) namespaces, enforces the CPU budget
    └─ B  PID 1 of the new PID namespace: own mount namespace, builds the allow-list view
       │  (tmpfs root + bind mounts + pivot_root), reaps orphans; dies with A (PDEATHSIG),
       │  and every process in the namespace dies with it
       └─ C  rlimits, an unprivileged uid without groups (root) or no capabilities (user
             namespace), PR_SET_NO_NEW_PRIVS, cwd = its working folder; runs the command

The view holds only: the interpreter (``sys.base_prefix``, the venv's ``pyvenv.cfg``, ``bin``
and ``lib``), ``/usr`` and the ``/lib*``, ``/bin``, ``/sbin`` links, a minimal ``/etc``
(``ld.so.cache``, a synthetic ``passwd``/``group``/``hosts``), the ``readonly`` paths at their
real locations (for kernels the course's ``autograder/`` and ``dlcourse/`` package dirs, so the
editable install's finder works), the working folder (read-write), one private size-capped
tmpfs behind ``/tmp``, ``/var/tmp`` and ``/dev/shm``, a fresh ``/proc`` and a minimal ``/dev``.
Intermediate directories are synthesised, so a repository inside a ``mktemp -d`` folder (mode
700) or under ``/root`` is reachable by the sandbox uid. Everything else — ``.git``,
``solutions/``, ``source/``, other checkouts, the grader's output — is simply absent.

One mechanism serves both ways of starting: ``python -I -S sandbox.py --plan JSON -- ARGV``
(the exec path, standard library only) and the zygote's fork (:mod:`.zygote`, no interpreter
start) both call :func:`run_confined` with the same plan, so their views cannot drift apart.
bubblewrap is not used at run time (a forked child cannot exec it and keep its preloaded
modules); tests compare this view with bubblewrap's for the same allow-list.

The API the grading worker uses::

    box = Sandbox(workdir=..., readonly=package_dirs("autograder", "dlcourse"),
                  limits=Limits(memory_mb=..., pids=..., cpu_seconds=..., tmp_mb=..., file_mb=...),
                  uid=...)                       # a distinct uid per concurrent slot (root)
    with spawn(argv, box, env=..., zygote=None) as proc:   # forked when the zygote can
        proc.wait(timeout)                       # proc.pid / poll() / kill() (the whole tree)
    with kernel_sandbox(box, zygote) as kernels: # nbgrader's kernels in this thread, sandboxed
        ...                                      # kernels.kill_all() from a watchdog
    capabilities(), describe()                   # what is in force, for the command's output

Closing the handle (:meth:`SandboxedProcess.close`) kills the tree (the PID namespace dies with
B; the cgroup's processes are killed as a second line), removes the cgroup, and gives the
working folder back to the grader. The tmpfs and SysV IPC die with their namespaces.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

EXIT_SETUP_FAILED = 70      # the sandbox could not be built: a grader fault, never the student's
EXIT_CPU_BUDGET = 128 + signal.SIGXCPU    # A killed the tree: its CPU budget was spent
NAMESPACES = ("mount", "pid", "net", "ipc", "uts")


class SandboxError(RuntimeError):
    """The sandbox could not be set up (a grader-side fault, never the student's)."""


# ----------------------------------------------------------------------------------------
# what the caller asks for


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed process tree.

    With a cgroup, ``memory_mb``, ``pids`` and ``cpu_seconds`` hold for the whole tree; without
    one (no delegation) they fall back to per-process rlimits (RLIMIT_AS, RLIMIT_NPROC,
    RLIMIT_CPU). ``tmp_mb`` caps ``/tmp``, ``/var/tmp`` and ``/dev/shm`` together (one tmpfs,
    charged to the cgroup's memory too), ``file_mb`` any single file (RLIMIT_FSIZE).
    """

    memory_mb: int = 2048
    pids: int = 128
    cpu_seconds: int = 600
    tmp_mb: int = 64
    file_mb: int = 64
    nofile: int = 256
    cpus: float = 1.0           # CPU rate (cgroup quota), cores

    def __post_init__(self):
        for name in ("memory_mb", "pids", "cpu_seconds", "tmp_mb", "file_mb", "nofile"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive integer, got {value!r}")
        if not self.cpus > 0:
            raise ValueError(f"Limits.cpus must be positive, got {self.cpus!r}")

    @property
    def address_space_mb(self) -> int:
        """RLIMIT_AS per process: ``memory_mb`` itself. A single process's runaway allocation
        then fails with MemoryError (the student's cell errors, the kernel lives on: virtual
        size exceeds resident, so this trips before the tree's cgroup would OOM-kill it); the
        cgroup catches what several processes do together."""
        return self.memory_mb


@dataclass(frozen=True)
class Sandbox:
    """Where one untrusted process tree may look and what it may use.

    ``workdir`` is its read-write working folder (its cwd), ``readonly`` the extra paths it may
    read (bound read-only at their real paths), ``writable`` further read-write folders (a
    kernel's connection-file dir), ``sockets`` folders holding the unix sockets it connects to:
    given to its uid like ``writable`` but, in the allow-list view, bound read-only (connecting
    needs no write access to the mount, and nothing can be stored there; without the view they
    stay writable). ``uid`` is the unprivileged uid it runs as when the grader
    is root: give each concurrent slot its own (65534 when None). ``site_packages=False``
    leaves the venv's installed packages out of the view (the interpreter and its standard
    library stay): for the recorder's student process, which is then given exactly the
    packages it may import in ``readonly`` (e.g. NumPy's folder).
    """

    workdir: str
    readonly: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    uid: int | None = None
    writable: tuple[str, ...] = ()
    site_packages: bool = True
    sockets: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.workdir or not os.path.isdir(self.workdir):
            raise ValueError(f"Sandbox.workdir {self.workdir!r} is not a directory")
        if os.path.realpath(self.workdir) in ("/", "/usr", "/proc", "/dev", "/etc"):
            raise ValueError(f"Sandbox.workdir {self.workdir!r} is a system directory")
        for p in tuple(self.readonly) + tuple(self.writable) + tuple(self.sockets):
            if not os.path.exists(p):
                raise ValueError(f"sandbox path {p!r} does not exist")
        if self.uid is not None and (not isinstance(self.uid, int) or self.uid <= 0):
            raise ValueError(f"Sandbox.uid must be a positive integer (not root), got {self.uid!r}")
        object.__setattr__(self, "readonly", tuple(self.readonly))
        object.__setattr__(self, "writable", tuple(self.writable))
        object.__setattr__(self, "sockets", tuple(self.sockets))


def package_dirs(*names: str) -> tuple[str, ...]:
    """The real directories of the importable packages ``names`` (not imported), for
    ``Sandbox.readonly``: ``package_dirs("autograder", "dlcourse")`` for a kernel."""
    import importlib.util
    out = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"{name!r} is not an importable package")
        out.extend(os.path.realpath(p) for p in spec.submodule_search_locations)
    return tuple(dict.fromkeys(out))


def readonly_view(paths, exclude=()) -> tuple[str, ...]:
    """``paths`` for ``Sandbox.readonly`` minus everything under ``exclude``: a path inside an
    excluded one is dropped; a folder holding an excluded path is bound one entry at a time
    (recursively), so the excluded file or folder is simply absent from the view."""
    ex = {os.path.realpath(e).rstrip("/") for e in exclude}
    out: list[str] = []

    def add(p: str) -> None:
        if any(p == e or p.startswith(e + "/") for e in ex):
            return
        if any(e.startswith(p + "/") for e in ex) and os.path.isdir(p) and not os.path.islink(p):
            for name in sorted(os.listdir(p)):
                add(os.path.join(p, name))
        else:
            out.append(p)

    for p in paths:
        add(os.path.realpath(p))
    return tuple(dict.fromkeys(out))


# ----------------------------------------------------------------------------------------
# what the machine allows


@dataclass(frozen=True)
class Capabilities:
    """What confinement this machine gives, each piece self-tested (see :func:`capabilities`)."""

    root: bool
    userns: bool                      # unprivileged user namespaces work (the non-root path)
    mode: str                         # "root", "userns" or "none": how namespaces are entered
    namespaces: frozenset             # subset of NAMESPACES that passed the self-test
    view: bool                        # the allow-list root (pivot_root, fresh /proc) works
    cgroup_version: int | None        # 1, 2, or None when no cgroup is writable
    cgroup_controllers: frozenset     # writable controllers among memory, pids, cpu
    uid_switching: bool               # a distinct uid per slot (root)
    problems: tuple = ()              # self-test failures, human-readable

    @property
    def isolated(self) -> bool:
        return self.view and {"pid", "net", "mount"} <= self.namespaces


def _cgroup_mounts() -> dict:
    """{controller: (mountpoint, version)} of the mounted cgroup hierarchies."""
    out: dict = {}
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fstype, _src, opts = (right.split() + ["", "", ""])[:3]
                point = left.split()[4]
                if fstype == "cgroup":
                    for c in opts.split(","):
                        if c in ("memory", "pids", "cpu", "cpuacct"):
                            out.setdefault(c, (point, 1))
                elif fstype == "cgroup2":
                    out.setdefault("unified", (point, 2))
    except OSError:
        pass
    return out


def _own_cgroups() -> dict:
    """{controller or "": path} from /proc/self/cgroup ("" is the v2 entry)."""
    out = {}
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for c in (ctrls.split(",") if ctrls else [""]):
                    out[c] = path
    except OSError:
        pass
    return out


def _cgroup_bases() -> tuple[int | None, dict, list[str]]:
    """(version, {controller: parent dir for our children}, problems) of writable cgroups."""
    mounts, own, problems = _cgroup_mounts(), _own_cgroups(), []
    v1 = {}
    for ctrl in ("memory", "pids", "cpu", "cpuacct"):
        if ctrl in mounts and mounts[ctrl][1] == 1 and ctrl in own:
            base = os.path.join(mounts[ctrl][0], own[ctrl].lstrip("/"))
            if _can_make_child(base):
                v1[ctrl] = base
            elif ctrl != "cpuacct":
                problems.append(f"cgroup v1 {ctrl} at {base} not writable")
    if v1:
        return 1, v1, problems
    if "unified" in mounts and "" in own:
        base = os.path.join(mounts["unified"][0], own[""].lstrip("/"))
        try:
            with open(os.path.join(base, "cgroup.controllers")) as fh:
                avail = set(fh.read().split())
        except OSError:
            avail = set()
        want = {"memory", "pids", "cpu"} & avail
        if want and _can_make_child(base):
            try:        # children get controllers only if we enable them here
                with open(os.path.join(base, "cgroup.subtree_control"), "w") as fh:
                    fh.write(" ".join("+" + c for c in sorted(want)))
                return 2, {c: base for c in want}, problems
            except OSError as exc:
                problems.append(f"cgroup v2 at {base}: cannot enable {sorted(want)} for children "
                                f"({exc.strerror}; it holds processes or is not delegated)")
        elif want:
            problems.append(f"cgroup v2 at {base} not writable")
    return None, {}, problems


def _can_make_child(base: str) -> bool:
    probe = os.path.join(base, f"classgrade-probe-{os.getpid()}-{threading.get_ident() % 9973}")
    try:
        os.mkdir(probe)
    except OSError:
        return False
    for _ in range(50):
        try:
            os.rmdir(probe)
            break
        except OSError:
            time.sleep(0.01)
    return True


_SELFTEST = ("import os, sys\n"
             "names = set(os.listdir('/'))\n"
             "assert os.getpid() == {pid}, ('pid', os.getpid())\n"
             "assert {want!r} <= names, ('view', names)\n"
             "assert not os.path.exists({hidden!r}), 'hidden path visible'\n"
             "print('ok')\n")


@functools.lru_cache(maxsize=1)
def capabilities() -> Capabilities:
    """Self-test each piece of confinement once per process, strongest first.

    The namespaces and the view are tested by running a tiny sandboxed Python through the
    real exec path and checking, inside, that it is PID 2, sees the allow-list root and not a
    path outside it. A failing level is recorded in ``problems`` and the next weaker tried:
    full view, then namespaces with only private /tmp, /var/tmp, /dev/shm and /proc, then none.
    ``CLASSGRADE_NO_ISOLATION=1`` forces the weakest level (tests of the degraded path).
    """
    root = os.geteuid() == 0
    version, bases, problems = _cgroup_bases()
    forced = bool(os.environ.get("CLASSGRADE_NO_ISOLATION"))
    if forced:
        problems.append("isolation disabled by CLASSGRADE_NO_ISOLATION")
    mode, ns, view, userns = "none", frozenset(), False, False
    if not forced:
        candidates = (["root"] if root else []) + ["userns"]
        for m in candidates:
            for want_view in (True, False):
                why = _selftest(m, want_view)
                if why is None:
                    mode, ns, view = m, frozenset(NAMESPACES), want_view
                    break
                problems.append(f"{m} namespaces{' with the allow-list view' if want_view else ''}: {why}")
            if mode != "none":
                break
        userns = mode == "userns" or (root and _selftest("userns", False) is None)
    return Capabilities(root=root, userns=userns, mode=mode, namespaces=ns, view=view,
                        cgroup_version=version,
                        cgroup_controllers=frozenset(c for c in bases if c != "cpuacct"),
                        uid_switching=root, problems=tuple(problems))


def _selftest(mode: str, view: bool) -> str | None:
    """None if a sandboxed ``python -c`` runs in ``mode`` (with ``view``), else why not."""
    work = tempfile.mkdtemp(prefix="classgrade-selftest-")
    try:
        os.chmod(work, 0o755)
        hidden = os.path.realpath(__file__)
        code = _SELFTEST.format(pid=2, want={"usr", "proc", "tmp", "dev"} if view else {"proc"},
                                hidden=hidden if view else "/nonexistent-classgrade")
        plan = _make_plan(Sandbox(workdir=work), mode=mode, ns=NAMESPACES, view=view,
                          cgroups=None, cwd=None, caps_root=os.geteuid() == 0)
        argv = [sys.executable, "-I", "-S", "-c", code]
        r = subprocess.run(_launcher_argv(plan, argv), capture_output=True, timeout=30,
                           env=clean_env(), cwd="/")
        if r.returncode == 0 and r.stdout.strip() == b"ok":
            return None
        tail = (r.stderr.decode(errors="replace").strip().splitlines() or [""])[-1][:200]
        return f"exit status {r.returncode}" + (f": {tail}" if tail else "")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def describe(caps: Capabilities | None = None, limits: Limits | None = None) -> str:
    """One line: what confinement is in force and what is missing (for the command and report)."""
    caps = caps or capabilities()
    lim = limits or Limits()
    parts = []
    if caps.isolated:
        parts.append("allow-list view (interpreter, packages, own folder), private /tmp /var/tmp "
                     f"/dev/shm ({lim.tmp_mb} MB), own mount/PID/IPC/UTS/network namespaces")
        if caps.mode == "userns":
            parts.append("via an unprivileged user namespace")
    elif caps.namespaces:
        parts.append("own PID/IPC/UTS/network namespaces and private /tmp, but NO allow-list "
                     "view: the whole file system is readable")
    else:
        parts.append("NO namespaces: student code shares the file system, network and "
                     "process table with the grader")
    # the kernel's and the recorder's working folders are tmpfs mounts only root can make
    parts.append(f"working folders capped at {lim.tmp_mb} MB" if caps.mode == "root"
                 else f"working folders NOT size-capped (each file {lim.file_mb} MB at most)")
    ctrls = caps.cgroup_controllers
    if {"memory", "pids"} <= ctrls:
        parts.append(f"cgroup v{caps.cgroup_version} over the whole tree: {lim.memory_mb} MB, "
                     f"{lim.pids} tasks, {lim.cpu_seconds} s CPU"
                     + ("" if "cpu" in ctrls else " (counted, no rate cap)"))
    else:
        parts.append(f"no cgroup delegation: memory is limited per process only "
                     f"({lim.address_space_mb} MB address space), processes per "
                     f"{'uid' if caps.uid_switching else 'namespace'}")
    parts.append("a distinct uid per slot" if caps.uid_switching
                 else "no uid switching (runs as the grader's user, without capabilities)")
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------
# the plan: everything A, B and C need, as JSON (the zygote and the launcher read it)


def _interpreter_paths(site_packages: bool = True) -> list[tuple[str, str]]:
    """(path, kind) the interpreter needs: base prefix, the venv's marker and bin, and (with
    ``site_packages``) its lib."""
    out = [(os.path.realpath(sys.base_prefix), "ro")]
    prefix = os.path.realpath(sys.prefix)
    if prefix != out[0][0]:
        for name in ("pyvenv.cfg", "bin") + (("lib", "lib64") if site_packages else ()):
            p = os.path.join(prefix, name)
            if os.path.islink(p):
                out.append((p, "link"))
            elif os.path.exists(p):
                out.append((p, "ro"))
    exe = os.path.abspath(sys.executable)
    if not any(exe.startswith(p + os.sep) for p, _ in out):
        out.append((os.path.realpath(exe), "ro"))
    return out


def _system_entries() -> list[list]:
    """Binds and links of the system directories Python and a shell need."""
    out = [["/usr", "/usr", "ro"]]
    for name in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(name):
            out.append([os.readlink(name), name, "link"])
        elif os.path.isdir(name):
            out.append([name, name, "ro"])
    for name in ("/etc/ld.so.cache", "/etc/alternatives"):
        if os.path.exists(name):
            out.append([name, name, "ro"])
    if os.path.islink("/etc/localtime"):
        out.append([os.readlink("/etc/localtime"), "/etc/localtime", "link"])
    elif os.path.isfile("/etc/localtime"):
        out.append(["/etc/localtime", "/etc/localtime", "ro"])
    return out


def _etc_files(uid: int, gid: int) -> list[list[str]]:
    return [["/etc/passwd", f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
                            f"student:x:{uid}:{gid}:student:/nonexistent:/usr/sbin/nologin\n"
                            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"],
            ["/etc/group", f"root:x:0:\nstudent:x:{gid}:\nnogroup:x:65534:\n"],
            ["/etc/hosts", "127.0.0.1 localhost sandbox\n::1 localhost\n"],
            ["/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n"],
            ["/etc/hostname", "sandbox\n"]]


def _make_plan(box: Sandbox, mode: str, ns, view: bool, cgroups, cwd: str | None,
               caps_root: bool) -> dict:
    workdir = os.path.realpath(box.workdir)
    cwd = os.path.realpath(cwd) if cwd else workdir
    uid = gid = None
    if mode == "root" or (caps_root and mode == "none"):
        uid = gid = box.uid if box.uid is not None else 65534
    outer_uid, outer_gid = os.geteuid(), os.getegid()
    entries: list[list] = []
    entries.append([workdir, workdir, "rw"])
    entries += [[os.path.realpath(p)] * 2 + ["rw"] for p in box.writable]
    # (without the view, "rw" keeps a socket folder in /tmp out from under the private /tmp)
    entries += [[os.path.realpath(p)] * 2 + ["ro" if view else "rw"] for p in box.sockets]
    if view:
        entries += _system_entries()
        entries += [[p, p, kind] if kind != "link" else [os.readlink(p), p, "link"]
                    for p, kind in _interpreter_paths(box.site_packages)]
        entries += [[os.path.realpath(p)] * 2 + ["ro"] for p in box.readonly]
    inner = uid if uid is not None else outer_uid
    lim = box.limits
    plan = {
        "mode": mode, "ns": sorted(ns) if mode != "none" else [], "view": bool(view),
        "entries": entries, "files": _etc_files(inner, gid if gid is not None else outer_gid),
        "tmp_mb": lim.tmp_mb, "workdir": workdir, "cwd": cwd,
        "uid": uid, "gid": gid, "outer_uid": outer_uid, "outer_gid": outer_gid,
        "rlimits": {"AS": lim.address_space_mb * 1024 * 1024,
                    "CPU": lim.cpu_seconds, "FSIZE": lim.file_mb * 1024 * 1024,
                    "NOFILE": lim.nofile, "NPROC": lim.pids, "CORE": 0},
        "cgroup_procs": cgroups.procs_files() if cgroups else [],
        "cpu_usage": cgroups.usage_source() if cgroups else None,
        "cpu_seconds": lim.cpu_seconds,
    }
    return plan


def _launcher_argv(plan: dict, argv: list[str]) -> list[str]:
    # by path, isolated (-I) and without site (-S): the launcher needs only the standard
    # library, and importing the autograder package would cost ~0.1 s per start
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), "--plan", json.dumps(plan),
            "--", *argv]


# ----------------------------------------------------------------------------------------
# cgroups (grader side)


class _Cgroup:
    """One cgroup per sandboxed tree, a child of the grader's own (v1: one per controller)."""

    _counter = 0
    _lock = threading.Lock()

    def __init__(self, version: int, bases: dict, limits: Limits):
        with _Cgroup._lock:
            _Cgroup._counter += 1
            n = _Cgroup._counter
        name = f"classgrade-{os.getpid()}-{n}-{os.urandom(3).hex()}"
        self.version = version
        self.controllers = {c for c in bases if c != "cpuacct"}
        self.dirs: dict[str, str] = {}
        try:
            if version == 1:
                for ctrl, base in bases.items():
                    d = os.path.join(base, name)
                    if d not in self.dirs.values():
                        os.mkdir(d)
                    self.dirs[ctrl] = d
                self._v1_limits(limits)
            else:
                d = os.path.join(next(iter(bases.values())), name)
                os.mkdir(d)
                self.dirs = {c: d for c in bases}
                self._v2_limits(limits)
        except OSError as exc:
            self.remove()
            raise SandboxError(f"cannot create the submission's cgroup: {exc}") from exc

    def _write(self, ctrl: str, name: str, value, optional: bool = False) -> None:
        try:
            with open(os.path.join(self.dirs[ctrl], name), "w") as fh:
                fh.write(str(value))
        except OSError:
            if not optional:
                raise

    def _v1_limits(self, lim: Limits) -> None:
        mem = lim.memory_mb * 1024 * 1024
        if "memory" in self.dirs:
            self._write("memory", "memory.limit_in_bytes", mem)
            self._write("memory", "memory.memsw.limit_in_bytes", mem, optional=True)  # no swap
        if "pids" in self.dirs:
            self._write("pids", "pids.max", lim.pids)
        if "cpu" in self.dirs:
            self._write("cpu", "cpu.cfs_period_us", 100000)
            self._write("cpu", "cpu.cfs_quota_us", int(lim.cpus * 100000))

    def _v2_limits(self, lim: Limits) -> None:
        if "memory" in self.dirs:
            self._write("memory", "memory.max", lim.memory_mb * 1024 * 1024)
            self._write("memory", "memory.swap.max", 0, optional=True)
            self._write("memory", "memory.oom.group", 1, optional=True)  # OOM kills the tree
        if "pids" in self.dirs:
            self._write("pids", "pids.max", lim.pids)
        if "cpu" in self.dirs:
            self._write("cpu", "cpu.max", f"{int(lim.cpus * 100000)} 100000")

    def procs_files(self) -> list[str]:
        return sorted({os.path.join(d, "cgroup.procs") for d in self.dirs.values()})

    def usage_source(self) -> list | None:
        """[kind, path] A reads for the tree's CPU time."""
        if self.version == 1:
            for ctrl in ("cpuacct", "cpu"):
                p = os.path.join(self.dirs.get(ctrl, "/nonexistent"), "cpuacct.usage")
                if os.path.exists(p):
                    return ["ns", p]
            return None
        p = os.path.join(next(iter(self.dirs.values())), "cpu.stat")
        return ["usec", p] if os.path.exists(p) else None

    def cpu_seconds(self) -> float | None:
        src = self.usage_source()
        return _cpu_used(src) if src else None

    def pids(self) -> set[int]:
        out = set()
        for f in self.procs_files():
            try:
                with open(f) as fh:
                    out |= {int(x) for x in fh.read().split()}
            except OSError:
                pass
        return out

    def kill_all(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process in the cgroup until it is empty; True when empty."""
        if self.version == 2:
            self._write(next(iter(self.dirs)), "cgroup.kill", 1, optional=True)
        end = time.monotonic() + timeout
        while True:
            left = self.pids()
            if not left:
                return True
            if time.monotonic() > end:
                return False
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.005)

    def remove(self) -> bool:
        ok = True
        for d in sorted(set(self.dirs.values()), reverse=True):
            for _ in range(200):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
            else:
                ok = False
        return ok


def _cpu_used(src) -> float:
    kind, path = src
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        return 0.0
    if kind == "ns":
        return int(text.split()[0]) / 1e9
    for line in text.splitlines():
        if line.startswith("usage_usec"):
            return int(line.split()[1]) / 1e6
    return 0.0


# ----------------------------------------------------------------------------------------
# starting a sandboxed process (grader side)


class SandboxedProcess:
    """Handle on one sandboxed process tree (``subprocess.Popen``-like; a context manager).

    ``pid`` is the supervisor A's pid in the grader's namespace. ``kill()`` ends the whole
    tree; ``close()`` kills, removes the cgroup and gives the working folder back to the
    grader; it is idempotent. ``forked`` says whether the zygote forked it.
    """

    stdin = stdout = stderr = None

    def __init__(self, proc, box: Sandbox, plan: dict, cgroup: _Cgroup | None, forked: bool,
                 files: list | None = None):
        self._proc, self.box, self.plan, self._cgroup = proc, box, plan, cgroup
        self.forked = forked
        self.pid = proc.pid
        self._files = files or []
        self._closed = False

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def poll(self) -> int | None:
        return self._proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self._proc.wait(timeout)

    def send_signal(self, sig: int) -> None:
        """Signal the command (A forwards it to B, B to C); the tree is ``kill()``'s job."""
        if self._proc.poll() is None:
            try:
                self._proc.send_signal(sig)
            except OSError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the whole tree: A (B dies with it, and the PID namespace with B), then
        every process left in the cgroup, then (no namespaces, root) every process of the uid."""
        self.send_signal(signal.SIGKILL)
        if not self.plan["ns"]:
            try:
                os.killpg(self.pid, signal.SIGKILL)     # A is its session's and group's leader
            except OSError:
                pass
        if self._cgroup is not None:
            self._cgroup.kill_all()
        elif not self.plan["ns"] and self.plan.get("uid"):
            kill_uid(self.plan["uid"])

    def cpu_seconds(self) -> float | None:
        """CPU time used by the whole tree so far (None without a cgroup)."""
        return self._cgroup.cpu_seconds() if self._cgroup else None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.kill()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        if self._cgroup is not None:
            self._cgroup.kill_all()
            self._cgroup.remove()
        if self.plan.get("uid") is not None:
            for d in (self.box.workdir, *self.box.writable, *self.box.sockets):
                reclaim_dir(d)
        for fh in self._files:
            try:
                fh.close()
            except OSError:
                pass

    def __enter__(self) -> "SandboxedProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def spawn(argv: list[str], box: Sandbox, env: dict | None = None, zygote=None,
          cwd: str | None = None, stdout: str | None = None, stderr: str | None = None
          ) -> SandboxedProcess:
    """Start ``argv`` inside ``box``; forked from ``zygote`` when it can serve the request
    (``python -m MODULE ...`` of this interpreter), else through the exec launcher.

    ``env`` adds to :func:`clean_env`; ``cwd`` (default ``box.workdir``) must lie in the view;
    ``stdout``/``stderr`` are file paths (appended) or None for /dev/null. Raises
    :class:`SandboxError` when the sandbox cannot be set up (a grader fault).
    """
    caps = capabilities()
    cgroup = None
    if caps.cgroup_version is not None:
        _v, bases, _p = _cgroup_bases_cached()
        cgroup = _Cgroup(caps.cgroup_version, bases, box.limits)
    try:
        plan = _make_plan(box, caps.mode, caps.namespaces, caps.view, cgroup, cwd, caps.root)
        if plan.get("uid") is not None and not plan["view"]:
            # no synthesised intermediate dirs: the uid needs the real paths traversable
            for p in [p for p, _ in _interpreter_paths()] + list(box.readonly):
                blocked = blocked_ancestor(p)
                if blocked:
                    raise SandboxError(f"the sandbox uid cannot reach {p}: {blocked} is not "
                                       "traversable (no allow-list view on this machine)")
        if plan.get("uid") is not None:
            for d in (box.workdir, *box.writable, *box.sockets):
                prepare_dir(d, plan["uid"])
        full_env = clean_env(env)
        proc, forked = None, False
        if zygote is not None:
            proc = zygote.spawn(argv, plan, full_env, stdout=stdout, stderr=stderr)
            forked = proc is not None
        files = []
        if proc is None:
            out = open(stdout, "ab") if stdout else subprocess.DEVNULL   # noqa: SIM115
            err = open(stderr, "ab") if stderr else subprocess.DEVNULL   # noqa: SIM115
            files = [f for f in (out, err) if f is not subprocess.DEVNULL]
            proc = subprocess.Popen(_launcher_argv(plan, list(argv)), env=full_env, cwd="/",
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    close_fds=True, start_new_session=True)
    except BaseException:
        if cgroup is not None:
            cgroup.remove()
        raise
    return SandboxedProcess(proc, box, plan, cgroup, forked, files)


@functools.lru_cache(maxsize=1)
def _cgroup_bases_cached():
    found = _cgroup_bases()
    sweep_stale_cgroups(found[1].values())
    return found


def sweep_stale_cgroups(bases) -> list[str]:
    """Remove the cgroups a grader that died before closing its handles left (named
    ``classgrade-<creator pid>-...``, creator gone): kill what is left in them, rmdir."""
    removed = []
    for base in set(bases):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            parts = name.split("-")
            if parts[0] != "classgrade" or len(parts) < 3 or not parts[1].isdigit():
                continue
            if os.path.exists(f"/proc/{parts[1]}"):
                continue                        # its grader still runs: its own to close
            d = os.path.join(base, name)
            try:
                with open(os.path.join(d, "cgroup.procs")) as fh:
                    for pid in fh.read().split():
                        os.kill(int(pid), signal.SIGKILL)
                os.rmdir(d)
                removed.append(d)
            except OSError:
                pass
    return removed


def kernel_sandbox(box: Sandbox, zygote=None, runtime_dir: str | None = None):
    """Context manager: kernels nbgrader starts in this thread run in ``box`` (see
    :func:`.provisioner.kernel_sandbox`)."""
    from .provisioner import kernel_sandbox as ks
    return ks(box, zygote=zygote, runtime_dir=runtime_dir)


def _make_execute_class():
    """nbgrader's Execute for sandboxed kernels (see :mod:`.provisioner`)."""
    from .provisioner import _make_execute_class as make
    return make()


# ----------------------------------------------------------------------------------------
# small helpers the grader uses


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
                "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
                "NBGRADER_EXECUTION": "autograde", "JUPYTER_PLATFORM_DIRS": "1"})
    if extra:
        env.update(extra)
    return env


def prepare_dir(path: str, uid: int | None) -> None:
    """Give ``path`` (and everything in it) to the sandbox ``uid``, private to it (root only)."""
    if uid is None or os.geteuid() != 0:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, uid, follow_symlinks=False)
        os.chmod(root, 0o700)
        for name in files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def reclaim_dir(path: str) -> None:
    """Give ``path``'s tree back to the grader: owner, no setuid/setgid bits; never follows a
    symlink the student left (lchown, and links are not descended)."""
    if os.geteuid() != 0 or not os.path.isdir(path):
        return
    me, grp = os.geteuid(), os.getegid()
    for root, dirs, files in os.walk(path):
        for p in [root] + [os.path.join(root, n) for n in dirs + files]:
            try:
                os.chown(p, me, grp, follow_symlinks=False)
                if not os.path.islink(p):
                    mode = os.lstat(p).st_mode
                    if mode & 0o6000:
                        os.chmod(p, mode & 0o1777)
            except OSError:
                pass


def blocked_ancestor(path: str) -> str | None:
    """The first ancestor of ``path`` (itself included) that others cannot traverse, or None."""
    parts = os.path.realpath(path).split(os.sep)
    for i in range(2, len(parts) + 1):
        anc = os.sep.join(parts[:i])
        try:
            if os.path.isdir(anc) and not os.stat(anc).st_mode & 0o001:
                return anc
        except OSError:
            return anc
    return None


def kill_uid(uid: int | None) -> None:
    """Kill every process running as the sandbox ``uid`` (only without PID namespaces)."""
    if not uid:
        return
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


# ----------------------------------------------------------------------------------------
# inside: A, B and C (standard library + ctypes only; runs before any student code)

_CLONE = {"mount": 0x00020000, "uts": 0x04000000, "ipc": 0x08000000, "user": 0x10000000,
          "pid": 0x20000000, "net": 0x40000000}
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_ATTR_RDONLY, _ATTR_NOSUID, _ATTR_NODEV = 0x1, 0x2, 0x4
_AT_FDCWD, _AT_RECURSIVE = -100, 0x8000
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_NO_NEW_PRIVS = 1, 4, 38
_PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _LIBC


def _check(rc: int, what: str) -> None:
    if rc != 0:
        import ctypes
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None) -> None:
    enc = lambda s: s.encode() if isinstance(s, str) else s  # noqa: E731
    _check(_libc().mount(enc(src), enc(target), enc(fstype), flags, enc(data)),
           f"mount {src} on {target}")


def _setattr(path: str, attr_set: int, recursive: bool) -> None:
    """mount_setattr(2): set flags on a mount (and its submounts) without clearing the locked
    ones a user namespace inherited; falls back to a bind remount on old kernels."""
    import ctypes

    class MountAttr(ctypes.Structure):
        _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                    ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]

    attr = MountAttr(attr_set, 0, 0, 0)
    libc = _libc()
    rc = libc.syscall(442, _AT_FDCWD, path.encode(), _AT_RECURSIVE if recursive else 0,
                      ctypes.byref(attr), ctypes.sizeof(attr))
    if rc == 0:
        return
    flags = _MS_REMOUNT | _MS_BIND
    flags |= (_MS_RDONLY if attr_set & _ATTR_RDONLY else 0) | (_MS_NOSUID if attr_set & _ATTR_NOSUID else 0)
    flags |= _MS_NODEV if attr_set & _ATTR_NODEV else 0
    st = os.statvfs(path)                     # keep locked flags, or the remount is refused
    flags |= st.f_flag & (_MS_NOSUID | _MS_NODEV | _MS_NOEXEC | _MS_RDONLY)
    _mount("none", path, None, flags)


def _pivot_root(new: str, old: str) -> None:
    libc = _libc()
    if hasattr(libc, "pivot_root"):
        _check(libc.pivot_root(new.encode(), old.encode()), "pivot_root")
    else:
        import platform
        nr = {"x86_64": 155, "aarch64": 41}[platform.machine()]
        _check(libc.syscall(nr, new.encode(), old.encode()), "pivot_root")


def _makedirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _touch(path: str) -> None:
    _makedirs(os.path.dirname(path))
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _build_view(plan: dict) -> None:
    """In B (own mount namespace): make the allow-list root and pivot into it (as bubblewrap
    does: a tmpfs base, the host root at /oldroot, binds into /newroot, a second pivot)."""
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    base = "/tmp"
    _mount("tmpfs", base, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755")
    os.chdir(base)
    for d in ("newroot", "oldroot", "scratch"):
        os.mkdir(d, 0o755)
    _pivot_root(base, "oldroot")
    os.chdir("/")
    new = "/newroot"
    _mount("tmpfs", new, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=4m,mode=0755")
    _mount("tmpfs", "/scratch", "tmpfs", _MS_NOSUID | _MS_NODEV,
           f"size={int(plan['tmp_mb'])}m,mode=0755")
    for name in ("tmp", "var-tmp", "shm"):
        os.mkdir(f"/scratch/{name}")
        os.chmod(f"/scratch/{name}", 0o1777)
    # system dirs first, then the tmp dirs, then the rest by depth: a bound path under /tmp
    # (a mktemp -d checkout, a pytest tmp_path) lands on the private tmpfs, not under it
    dev = [["/dev/" + n, "/dev/" + n, "dev"] for n in ("null", "zero", "full", "random", "urandom")]
    tmps = [["/scratch/tmp", "/tmp", "scratch"], ["/scratch/var-tmp", "/var/tmp", "scratch"],
            ["/scratch/shm", "/dev/shm", "scratch"]]
    entries = sorted(plan["entries"] + dev + tmps,
                     key=lambda e: (e[1].count("/"), e[2] != "scratch", e[1]))
    done: list[str] = []
    mounted: dict[str, str] = {}              # target -> kind, of every bind made
    for src, dst, kind in entries:
        target = new + dst
        if kind == "link":
            if not os.path.lexists(target):
                _makedirs(os.path.dirname(target))
                os.symlink(src, target)
            continue
        if kind == "ro" and any(dst == d or dst.startswith(d.rstrip("/") + "/") for d in done):
            continue                          # already inside an earlier read-only bind
        source = src if kind == "scratch" else "/oldroot" + src
        if os.path.isdir(source):
            _makedirs(target)
        else:
            _touch(target)
        _mount(source, target, None, _MS_BIND | _MS_REC)
        mounted[target] = kind
        if kind == "ro":
            _setattr(target, _ATTR_RDONLY | _ATTR_NOSUID | _ATTR_NODEV, recursive=True)
            done.append(dst)
        elif kind in ("rw", "scratch"):
            _setattr(target, _ATTR_NOSUID | _ATTR_NODEV, recursive=True)
    for path, text in plan["files"]:
        _touch(new + path)
        with open(new + path, "w") as fh:
            fh.write(text)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{new}/dev/{name}")
    _seal_parents(new, mounted, [new + p for p, _ in plan["files"]])
    _makedirs(new + "/proc")
    # /proc of the new PID namespace, mounted while the host's is still attached (a user
    # namespace may only mount proc where a full proc is already visible)
    _mount("proc", new + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    _mount("none", "/oldroot", None, _MS_REC | _MS_PRIVATE)
    _check(_libc().umount2(b"/oldroot", _MNT_DETACH), "detaching the host root")
    os.chdir(new)
    _pivot_root(".", ".")
    _check(_libc().umount2(b".", _MNT_DETACH), "detaching the base")
    os.chdir("/")
    _setattr("/", _ATTR_RDONLY | _ATTR_NOSUID | _ATTR_NODEV, recursive=False)


def _seal_parents(new: str, mounted: dict[str, str], files: list[str]) -> None:
    """Make the directories the view made to hold its binds (``/tmp/<checkout>/...`` on the
    private /tmp, ``/usr`` on the base) read-only: a user-namespace sandbox owns them and could
    otherwise create files beside the grader's paths (they would only land in its own tmpfs,
    but a path that looks like the gradebook must not be writable at all). Directories inside
    a bind of a host folder are the host's and are left alone."""
    host = [t for t, kind in mounted.items() if kind not in ("scratch",)]
    sealed: set[str] = set()
    for path in list(mounted) + files:
        parent = os.path.dirname(path)
        while parent.startswith(new + "/") and parent not in sealed:
            if parent not in mounted and not any(parent.startswith(h + "/") for h in host):
                os.chmod(parent, 0o555)
            sealed.add(parent)
            parent = os.path.dirname(parent)


def _private_tmp(plan: dict) -> None:
    """Without the view (it failed its self-test): private tmpfs dirs and /proc only."""
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    own = [plan["workdir"], plan["cwd"]] + [e[1] for e in plan["entries"] if e[2] == "rw"]
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        # a tmpfs over the working folder's parent would hide it: that dir stays shared
        if os.path.isdir(d) and not any(p.startswith(d + "/") for p in own):
            _mount("tmpfs", d, "tmpfs", _MS_NOSUID | _MS_NODEV,
                   f"size={int(plan['tmp_mb'])}m,mode=1777")
    if "pid" in plan["ns"]:
        _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)


def _drop_capabilities() -> None:
    """Empty bounding, ambient, effective, permitted and inheritable capability sets."""
    import ctypes
    libc = _libc()
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            last = int(fh.read())
    except OSError:
        last = 63
    for cap in range(last + 1):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(libc.capset(header, data), "capset")


def _become_untrusted(plan: dict) -> None:
    """In C: rlimits, the unprivileged uid (or no capabilities), no new privileges, the cwd."""
    for name, value in plan["rlimits"].items():
        res = getattr(resource, "RLIMIT_" + name)
        soft = hard = int(value)
        if name == "CPU":
            hard = soft + 5                   # SIGXCPU first, SIGKILL 5 s later
        resource.setrlimit(res, (soft, hard))
    if plan.get("uid") is not None and os.geteuid() == 0 and plan["mode"] != "userns":
        uid, gid = int(plan["uid"]), int(plan["gid"])
        if plan["mode"] == "root":
            _drop_bounding()
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if 0 in os.getresuid() or 0 in os.getresgid():
            os._exit(EXIT_SETUP_FAILED)        # never continue as root
    elif plan["mode"] == "userns":
        _drop_capabilities()
    _check(_libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    os.chdir(plan["cwd"])


def _drop_bounding() -> None:
    libc = _libc()
    for cap in range(64):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)


_FORWARD = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _init_loop(child: int, blocked: set) -> None:
    """B as PID 1: reap every orphan; end (and so end the namespace) when ``child`` ends;
    forward only signals from outside the namespace (si_pid 0) to it. Never returns."""
    while True:
        info = signal.sigwaitinfo(blocked)
        if info.si_signo == signal.SIGCHLD:
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    os._exit(0)
                if pid == 0:
                    break
                if pid == child:
                    os._exit(_exit_code(status))
        elif info.si_pid == 0:
            try:
                os.kill(child, info.si_signo)
            except OSError:
                pass


def _supervise(child: int, plan: dict) -> None:
    """A: forward the grader's signals to B, enforce the tree's CPU budget, exit with B's
    status. Never returns."""
    for sig in _FORWARD:
        signal.signal(sig, lambda s, f: os.kill(child, s))
    fd = os.pidfd_open(child)
    watch = select.poll()
    watch.register(fd, select.POLLIN)
    src, budget, over = plan.get("cpu_usage"), plan.get("cpu_seconds"), False
    while not watch.poll(250 if src else None):
        if src and budget and _cpu_used(src) > budget:
            over = True
            os.kill(child, signal.SIGKILL)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    os._exit(EXIT_CPU_BUDGET if over else _exit_code(status))


def run_confined(plan: dict, start) -> None:
    """Become A, fork B (and C) as ``plan`` says, and call ``start()`` in C (it must exec or
    exit). Shared by the exec launcher and the zygote. Never returns."""
    libc = _libc()
    try:
        # A dies with whoever started it (the zygote, or the grader's thread that spawned it),
        # and the whole tree with A: a grader that is killed leaves no student code running
        parent = os.getppid()
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(EXIT_SETUP_FAILED)
        for path in plan["cgroup_procs"]:       # before any fork: the whole tree is inside
            with open(path, "w") as fh:
                fh.write(str(os.getpid()))
        ns = set(plan["ns"])
        flags = 0
        for name in ns - {"mount"}:
            flags |= _CLONE[name]
        if plan["mode"] == "userns":
            flags |= _CLONE["user"]
        if flags:
            _check(libc.unshare(flags), "unshare")
        if plan["mode"] == "userns":
            inner = plan["outer_uid"]
            for name, text in (("setgroups", "deny"), ("uid_map", f"{inner} {plan['outer_uid']} 1"),
                               ("gid_map", f"{plan['outer_gid']} {plan['outer_gid']} 1")):
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
        supervisor = os.getpid()
        blocked = {signal.SIGCHLD, *_FORWARD}
        pid = os.fork()
        if pid:
            _supervise(pid, plan)
        # B (or, without a PID namespace, C itself)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # A already gone? (its pid is invisible from a new PID namespace: 0 there)
        if os.getppid() != (0 if "pid" in ns else supervisor):
            os._exit(EXIT_SETUP_FAILED)
        if "mount" in ns:
            _check(libc.unshare(_CLONE["mount"]), "unshare(mount)")
            if plan["view"]:
                _build_view(plan)
            else:
                _private_tmp(plan)
        if "uts" in ns:
            libc.sethostname(b"sandbox", 7)
        if "pid" in ns:
            for sig in blocked:               # a PID 1 only receives signals it handles
                signal.signal(sig, lambda s, f: None)
            signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
            libc.prctl(_PR_SET_DUMPABLE, 0)   # C (same uid without root) cannot ptrace B
            pid = os.fork()
            if pid:
                _init_loop(pid, blocked)
        for sig in blocked:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _become_untrusted(plan)
    except BaseException as exc:  # noqa: BLE001 - never run the command half-confined
        try:
            os.write(2, f"sandbox: {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(EXIT_SETUP_FAILED)
    start()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        raise SystemExit("usage: python -I -S sandbox.py --plan JSON -- CMD ...")
    split = argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", required=True)
    args = parser.parse_args(argv[:split])
    cmd = argv[split + 1:]
    os.environ.pop("JPY_PARENT_PID", None)      # the grader is outside our PID namespace

    def start():
        try:
            os.execvp(cmd[0], cmd)
        except OSError as exc:
            os.write(2, f"sandbox: cannot start {cmd[0]}: {exc}\n".encode())
            os._exit(EXIT_SETUP_FAILED + 2)

    run_confined(json.loads(args.plan), start)


if __name__ == "__main__":
    main()
