"""The sandbox under attack: each test is something a hostile submission tries, run for real,
with the outcome it must get. Most run through both ways of starting (the exec launcher and
the zygote's fork), which share one mechanism and must give the same result.

As root these exercise the full confinement (uid per slot, cgroup, namespaces, allow-list
view); the non-root path is exercised by a test that drops to ``nobody`` with ``setpriv``
and runs the launcher under the system Python through an unprivileged user namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import autograder
from autograder.classgrade import sandbox as sb
from autograder.classgrade.zygote import Zygote

REPO = Path(autograder.__file__).resolve().parents[1]
CAPS = sb.capabilities()
isolated = pytest.mark.skipif(not CAPS.isolated, reason=f"no isolation here: {sb.describe()}")
as_root = pytest.mark.skipif(not (CAPS.root and CAPS.isolated), reason="needs root")
with_cgroup = pytest.mark.skipif(not {"memory", "pids"} <= CAPS.cgroup_controllers,
                                 reason="no cgroup delegation")
_UID = 231000 + (os.getpid() % 500) * 4


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    d = tmp_path_factory.mktemp("zygote")
    z = Zygote(str(d), ["numpy"])
    assert z.ready(120), "the zygote did not start"
    yield z
    z.close()


@pytest.fixture(params=["exec", "forked"])
def start(request, zygote):
    """How the sandboxed process starts: through the launcher, or forked by the zygote."""
    return None if request.param == "exec" else zygote


@pytest.fixture
def work(tmp_path):
    tmp_path.chmod(0o755)
    d = tmp_path / "work"
    d.mkdir()
    return d


def run(code: str, box: sb.Sandbox, zygote=None, timeout: float = 60, close: bool = True):
    """Run ``code`` as ``python -m attack`` in ``box``; (exit code, parsed last stdout line,
    handle). The handle is closed unless ``close=False``."""
    Path(box.workdir, "attack.py").write_text(textwrap.dedent(code))
    out = Path(box.workdir).parent / f"out-{time.monotonic_ns()}"
    proc = sb.spawn([sys.executable, "-m", "attack"], box, zygote=zygote,
                    stdout=str(out), stderr=str(out) + ".err")
    try:
        code = proc.wait(timeout)
    finally:
        if close:
            proc.close()
    lines = out.read_text().strip().splitlines() if out.exists() else []
    try:
        result = json.loads(lines[-1]) if lines else None
    except ValueError:
        result = lines[-1]
    if result is None and code != 0:
        result = sb.last_line(str(out) + ".err")
    return code, result, proc


# ----------------------------------------------------------------------------------------
# what the student can see


@isolated
def test_the_repository_solutions_and_other_folders_are_simply_absent(work, start, tmp_path_factory):
    """.git, solutions/, assignments/source/, the grader's output, another slot's folder and
    /root do not exist in the view, even though the course packages are importable."""
    other_slot = tmp_path_factory.mktemp("other-slot")
    output = tmp_path_factory.mktemp("grading-output")
    (other_slot / "notebook.ipynb").write_text("{}")
    secrets = [REPO / ".git", REPO / "solutions", REPO / "assignments" / "source", output,
               other_slot, "/root/.bash_history", "/etc/shadow", "/home", "/work/main/.git"]
    box = sb.Sandbox(workdir=str(work), readonly=sb.package_dirs("autograder", "dlcourse"), uid=_UID)
    code, seen, _ = run(f"""
        import json, os, autograder, dlcourse
        print(json.dumps({{p: os.path.exists(p) for p in {[str(s) for s in secrets]!r}}}))
    """, box, start)
    assert code == 0, seen
    assert seen == {str(s): False for s in secrets}


@isolated
def test_the_view_is_the_allow_list_and_nothing_else(work, start):
    box = sb.Sandbox(workdir=str(work), uid=_UID)
    code, top, _ = run("import json, os; print(json.dumps(sorted(os.listdir('/'))))", box, start)
    assert code == 0, top
    allowed = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr",
               "var"} | {Path(p).parts[1] for p in (sys.base_prefix, sys.prefix, str(work))}
    assert set(top) <= allowed
    code, etc, _ = run("import json, os; print(json.dumps(sorted(os.listdir('/etc'))))", box, start)
    assert set(etc) <= {"passwd", "group", "hosts", "nsswitch.conf", "hostname", "ld.so.cache",
                        "localtime", "alternatives"}


@isolated
def test_the_course_packages_are_read_only(work, start):
    box = sb.Sandbox(workdir=str(work), readonly=sb.package_dirs("autograder"), uid=_UID)
    code, res, _ = run(f"""
        import json, os
        try:
            open({str(REPO / 'autograder' / 'planted.py')!r}, 'w').write('x')
            print(json.dumps('written'))
        except OSError as exc:
            print(json.dumps(exc.strerror))
    """, box, start)
    assert res in ("Read-only file system", "Permission denied")
    assert not (REPO / "autograder" / "planted.py").exists()


# ----------------------------------------------------------------------------------------
# processes and network


@isolated
def test_grader_processes_cannot_be_seen_signalled_or_traced(work, start):
    """/proc lists only the sandbox's own processes; the grader's pid names nothing; PID 1
    (the sandbox's reaper) ignores the student's SIGKILL and cannot be ptraced."""
    box = sb.Sandbox(workdir=str(work), uid=_UID)
    code, res, _ = run(f"""
        import ctypes, json, os, signal
        pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
        try:
            os.kill({os.getpid()}, signal.SIGKILL); grader = 'signalled'
        except ProcessLookupError:
            grader = 'no such process'
        except PermissionError:
            grader = 'permission denied'
        try:
            os.kill(1, signal.SIGKILL)          # root-owned B: EPERM; same-uid B: ignored
        except PermissionError:
            pass
        libc = ctypes.CDLL(None, use_errno=True)
        traced = libc.ptrace(16, 1, 0, 0)     # PTRACE_ATTACH to the reaper
        print(json.dumps({{'pids': pids, 'grader': grader, 'ptrace': traced,
                          'errno': ctypes.get_errno(), 'me': os.getpid()}}))
    """, box, start)
    assert code == 0, res                  # still alive: killing PID 1 did nothing
    assert res["pids"] == [1, 2] and res["me"] == 2
    assert res["grader"] == "no such process"
    assert res["ptrace"] == -1 and res["errno"] == 1      # EPERM


@isolated
def test_no_network_not_even_the_hosts_loopback(work, start):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    box = sb.Sandbox(workdir=str(work), uid=_UID)
    code, res, _ = run(f"""
        import json, socket
        s = socket.socket(); s.settimeout(2)
        try:
            s.connect(('127.0.0.1', {port})); print(json.dumps('connected'))
        except OSError as exc:
            print(json.dumps(type(exc).__name__))
    """, box, start)
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()
    assert code == 0 and res != "connected"


# ----------------------------------------------------------------------------------------
# nothing survives


def _alive_markers(path: Path, wait: float = 0.5) -> bool:
    """Whether something still appends to ``path``."""
    before = path.stat().st_size if path.exists() else -1
    time.sleep(wait)
    return (path.stat().st_size if path.exists() else -1) != before


@isolated
def test_daemons_setsid_children_and_sigterm_ignorers_die_with_close(work, start):
    box = sb.Sandbox(workdir=str(work), uid=_UID)
    proc = None
    try:
        Path(work, "attack.py").write_text(textwrap.dedent("""
            import os, signal, time
            def beat(name):
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
                while True:
                    with open(name, 'a') as fh:
                        fh.write('.')
                    time.sleep(0.05)
            if os.fork() == 0:                  # a classic double-forked daemon
                os.setsid()
                if os.fork() == 0:
                    beat('daemon')
                os._exit(0)
            if os.fork() == 0:                  # a setsid child
                os.setsid(); beat('setsid')
            beat('main')
        """))
        proc = sb.spawn([sys.executable, "-m", "attack"], box, zygote=start)
        time.sleep(1.0)
        for name in ("daemon", "setsid", "main"):
            assert _alive_markers(work / name, 0.3), f"{name} never ran"
        cgroup_dirs = list(proc._cgroup.dirs.values()) if proc._cgroup else []
        proc.close()
        for name in ("daemon", "setsid", "main"):
            assert not _alive_markers(work / name), f"{name} survived close()"
        assert not any(os.path.exists(d) for d in cgroup_dirs), "cgroup left behind"
        if CAPS.root:
            owners = {os.stat(f"/proc/{p}").st_uid for p in os.listdir("/proc") if p.isdigit()
                      and os.path.exists(f"/proc/{p}")}
            assert _UID not in owners
            assert {(work / n).stat().st_uid for n in ("daemon", "setsid", "main")} == {os.geteuid()}
    finally:
        if proc is not None:
            proc.close()


@isolated
@with_cgroup
def test_cgroups_a_dead_grader_left_behind_are_swept():
    """A grader killed before closing its handles leaves empty cgroups; the next one removes
    those whose creator is gone (and never another live grader's)."""
    dead = subprocess.Popen(["true"])
    dead.wait()                                  # a pid no process holds now
    base = next(iter(sb._cgroup_bases()[1].values()))
    stale = os.path.join(base, f"classgrade-{dead.pid}-1-test")
    live = os.path.join(base, f"classgrade-{os.getpid()}-999999-test")
    os.mkdir(stale)
    os.mkdir(live)
    try:
        removed = sb.sweep_stale_cgroups([base])
        assert stale in removed and not os.path.exists(stale)
        assert os.path.exists(live)
    finally:
        for d in (stale, live):
            if os.path.exists(d):
                os.rmdir(d)


@isolated
def test_a_grader_killed_mid_submission_leaves_no_student_code_running(work, tmp_path):
    """The grader dies without closing its handle (SIGKILL): the tree dies with it."""
    Path(work, "attack.py").write_text("import time\nwhile True:\n    open('beat', 'a').write('.'); time.sleep(0.05)\n")
    grader = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from autograder.classgrade import sandbox as sb
        box = sb.Sandbox(workdir={str(work)!r}, uid={_UID})
        proc = sb.spawn([sys.executable, "-m", "attack"], box)
        time.sleep(60)
    """)])
    try:
        deadline = time.monotonic() + 30
        while not (work / "beat").exists():
            assert time.monotonic() < deadline and grader.poll() is None
            time.sleep(0.05)
        assert _alive_markers(work / "beat", 0.3)
        grader.kill()
        grader.wait()
        time.sleep(0.3)
        assert not _alive_markers(work / "beat")
    finally:
        grader.kill()
        grader.wait()


@isolated
def test_tmp_files_and_sysv_shared_memory_do_not_outlive_the_submission(work, start):
    box = sb.Sandbox(workdir=str(work), uid=_UID)
    name = f"classgrade-leak-{os.getpid()}"
    code, res, _ = run(f"""
        import ctypes, json
        for d in ('/tmp', '/var/tmp', '/dev/shm'):
            open(d + '/{name}', 'w').write('left behind')
        libc = ctypes.CDLL(None, use_errno=True)
        shmid = libc.shmget(0x5eed, 4096, 0o1666)     # IPC_CREAT | 0666
        print(json.dumps(shmid))
    """, box, start)
    assert code == 0 and isinstance(res, int) and res >= 0
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not os.path.exists(f"{d}/{name}")       # never on the host
    code, res, _ = run(f"""
        import ctypes, json, os
        libc = ctypes.CDLL(None, use_errno=True)
        print(json.dumps([os.path.exists(d + '/{name}') for d in ('/tmp', '/var/tmp', '/dev/shm')]
                         + [libc.shmget(0x5eed, 0, 0)]))
    """, box, start)
    assert res == [False, False, False, -1]


# ----------------------------------------------------------------------------------------
# limits over the whole tree


@isolated
@with_cgroup
def test_several_processes_together_cannot_exceed_the_memory_limit(work, start):
    """Four processes of 120 MB each under a 300 MB limit (each alone within its 300 MB of
    address space): some allocation fails or the tree is killed; never do all four hold it."""
    box = sb.Sandbox(workdir=str(work), uid=_UID, limits=sb.Limits(memory_mb=300, tmp_mb=8))
    code, res, _ = run("""
        import json, os, time
        kids = []
        for i in range(4):
            pid = os.fork()
            if pid == 0:
                try:
                    block = bytearray(120 * 1024 * 1024)
                    for j in range(0, len(block), 4096):
                        block[j] = 1
                    open(f'held-{i}', 'w').write('1')
                    time.sleep(3)
                    os._exit(0)
                except MemoryError:
                    os._exit(3)
            kids.append(pid)
        print(json.dumps([os.waitpid(k, 0)[1] for k in kids]))
    """, box, start)
    # a child that got its memory may still be OOM-killed once another one grows: only the
    # children that held it to the end (status 0) count
    if isinstance(res, list):
        kept = sum(1 for status in res if status == 0)
        assert kept * 120 <= 300, f"{kept} processes held 120 MB each to the end"
        assert kept < 4
    else:
        assert code != 0                 # the whole tree was killed


@isolated
def test_a_fork_bomb_is_capped_by_the_pids_limit(work, start):
    box = sb.Sandbox(workdir=str(work), uid=_UID, limits=sb.Limits(pids=24))
    code, res, _ = run("""
        import json, os, sys, time
        n = 0
        try:
            while n < 1000:
                if os.fork() == 0:
                    time.sleep(30); os._exit(0)
                n += 1
        except OSError as exc:
            print(json.dumps([n, exc.errno]), flush=True); os._exit(0)
        print(json.dumps([n, 0]))
    """, box, start, timeout=30)
    n, errno = res
    assert n < 24 and errno == 11         # EAGAIN


@isolated
def test_one_process_allocating_past_the_limit_gets_memory_error_and_lives(work, start):
    """A single runaway allocation fails inside the process (a student's cell errors, its
    kernel survives) rather than the cgroup killing the tree."""
    box = sb.Sandbox(workdir=str(work), uid=_UID, limits=sb.Limits(memory_mb=400))
    code, res, _ = run("""
        import json
        hog = []
        try:
            while True:
                hog.append(bytearray(50_000_000))
        except MemoryError:
            print(json.dumps(len(hog)))
    """, box, start)
    assert code == 0 and isinstance(res, int) and res * 50_000_000 < 400 * 2**20


@isolated
def test_a_huge_file_is_capped(work, start):
    box = sb.Sandbox(workdir=str(work), uid=_UID, limits=sb.Limits(file_mb=4))
    code, res, _ = run("""
        import json, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG instead of dying
        try:
            with open('huge', 'wb') as fh:
                fh.write(b'x' * (12 * 1024 * 1024))
            print(json.dumps('written'))
        except OSError as exc:
            print(json.dumps(exc.errno))
    """, box, start)
    assert res == 27                                 # EFBIG
    assert (work / "huge").stat().st_size <= 4 * 1024 * 1024


@isolated
def test_tmp_var_tmp_and_dev_shm_share_one_size_cap(work, start):
    box = sb.Sandbox(workdir=str(work), uid=_UID, limits=sb.Limits(tmp_mb=8))
    code, res, _ = run("""
        import json
        written = 0
        for d in ('/tmp', '/var/tmp', '/dev/shm'):
            try:
                with open(d + '/fill', 'wb') as fh:
                    for _ in range(6):
                        fh.write(b'x' * 1024 * 1024); fh.flush(); written += 1
            except OSError as exc:
                err = exc.errno
        print(json.dumps([written, err]))
    """, box, start)
    written, err = res
    assert written <= 8 and err == 28                  # ENOSPC


@isolated
@with_cgroup
def test_the_cpu_budget_holds_for_the_whole_tree(work, start):
    """Two busy processes with a 1 s budget: the supervisor kills the tree (RLIMIT_CPU alone,
    per process, would let each of them run its full second)."""
    box = sb.Sandbox(workdir=str(work), uid=_UID, limits=sb.Limits(cpu_seconds=1))
    t0 = time.monotonic()
    code, res, _ = run("""
        import os
        os.fork()
        while True:
            pass
    """, box, start, timeout=30)
    assert code == sb.EXIT_CPU_BUDGET
    assert time.monotonic() - t0 < 10


# ----------------------------------------------------------------------------------------
# it works for the honest case


@isolated
def test_a_kernel_from_a_clone_inside_a_private_mktemp_dir_imports_the_course(tmp_path, start):
    """The measured failure of issue 9: a clone inside ``mktemp -d`` (mode 700, root only).
    The sandbox uid still imports numpy, autograder and dlcourse — from the clone."""
    private = Path(tempfile.mkdtemp())
    try:
        assert private.stat().st_mode & 0o777 == 0o700
        clone = private / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, capture_output=True)
        for pkg in ("autograder", "dlcourse"):          # this worktree's code, not main's
            shutil.rmtree(clone / pkg)
            shutil.copytree(REPO / pkg, clone / pkg)
        work = clone / "grading" / "slot"
        work.mkdir(parents=True)
        box = sb.Sandbox(workdir=str(work), readonly=(str(clone / "autograder"), str(clone / "dlcourse")),
                         uid=_UID)
        Path(work, "attack.py").write_text(textwrap.dedent(f"""
            import json, os, sys
            sys.path.insert(0, {str(clone)!r})
            for m in [m for m in sys.modules if m.split('.')[0] in ('autograder', 'dlcourse')]:
                del sys.modules[m]            # (the zygote had them from the worktree)
            import numpy, autograder, dlcourse, autograder.classgrade
            print(json.dumps([autograder.__file__, dlcourse.__file__,
                              os.path.exists({str(clone / '.git')!r}),
                              os.path.exists({str(clone / 'solutions')!r})]))
        """))
        out = tmp_path / "out"
        with sb.spawn([sys.executable, "-m", "attack"], box, zygote=start, stdout=str(out),
                      stderr=str(tmp_path / "err")) as proc:
            assert proc.wait(60) == 0, sb.last_line(str(tmp_path / "err"))
        ag, dl, git, sols = json.loads(out.read_text())
        assert ag.startswith(str(clone)) and dl.startswith(str(clone))
        assert not git and not sols
    finally:
        shutil.rmtree(private, ignore_errors=True)


@isolated
def test_the_working_folder_is_the_graders_again_after_close(work, start):
    box = sb.Sandbox(workdir=str(work), uid=_UID)
    code, res, _ = run("""
        import json, os
        os.mkdir('made'); open('made/f', 'w').write('x'); os.symlink('/etc/shadow', 'link')
        os.chmod('made/f', 0o6755)
        print(json.dumps(os.getuid()))
    """, box, start)
    if CAPS.root:
        assert res == _UID
        for p in (work / "made", work / "made" / "f"):
            st = p.lstat()
            assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
        assert not (work / "made" / "f").stat().st_mode & 0o6000
        assert Path("/etc/shadow").stat().st_uid == 0          # the link was not followed


@isolated
def test_a_recorder_view_without_site_packages_imports_numpy_and_nothing_else(work, start):
    """The recorder's student process: the interpreter, NumPy's folder, its own folder. The
    course, nbgrader, IPython and the editable install's finder are not importable."""
    import numpy
    numpy_dir = os.path.dirname(os.path.realpath(numpy.__file__))
    extra = [p for p in (numpy_dir, numpy_dir + ".libs", os.path.join(os.path.dirname(numpy_dir), "numpy.libs"))
             if os.path.isdir(p)]
    box = sb.Sandbox(workdir=str(work), readonly=tuple(extra), uid=_UID, site_packages=False)
    argv = [sys.executable, "-I", "-S", "-c",
            f"import json, sys; sys.path.insert(0, {os.path.dirname(numpy_dir)!r})\n"
            "import numpy\n"
            "found = {}\n"
            "for name in ('autograder', 'dlcourse', 'nbgrader', 'IPython', 'torch'):\n"
            "    try:\n        __import__(name); found[name] = True\n"
            "    except ImportError:\n        found[name] = False\n"
            "print(json.dumps([float(numpy.ones(3).sum()), found]))"]
    out = work.parent / "recorder-out"
    with sb.spawn(argv, box, zygote=start, stdout=str(out), stderr=str(out) + ".err") as proc:
        assert proc.wait(60) == 0, sb.last_line(str(out) + ".err")
    total, found = json.loads(out.read_text())
    assert total == 3.0
    assert found == {"autograder": False, "dlcourse": False, "nbgrader": False, "IPython": False,
                     "torch": False}


# ----------------------------------------------------------------------------------------
# capabilities, degrading, and the non-root path


def test_capabilities_is_a_typed_record_and_describe_names_what_is_missing():
    assert isinstance(CAPS, sb.Capabilities)
    assert CAPS.mode in ("root", "userns", "none")
    text = sb.describe(sb.Capabilities(root=False, userns=True, mode="userns",
                                       namespaces=frozenset(sb.NAMESPACES), view=True,
                                       cgroup_version=None, cgroup_controllers=frozenset(),
                                       uid_switching=False))
    assert "no cgroup delegation: memory is limited per process only" in text
    assert "no uid switching" in text and "allow-list view" in text
    assert "working folders NOT size-capped (each file 64 MB at most)" in text
    assert "working folders capped at 64 MB" in sb.describe(sb.Capabilities(
        True, False, "root", frozenset(sb.NAMESPACES), True, 2, frozenset({"memory", "pids", "cpu"}), True))
    weak = sb.describe(sb.Capabilities(False, False, "none", frozenset(), False, None, frozenset(), False))
    assert "NO namespaces" in weak


def test_without_isolation_the_record_says_so(tmp_path):
    r = subprocess.run([sys.executable, "-c", "from autograder.classgrade import sandbox as sb; "
                        "c = sb.capabilities(); print(c.mode, c.isolated); print(sb.describe(c))"],
                       env={**os.environ, "CLASSGRADE_NO_ISOLATION": "1"}, capture_output=True, text=True)
    mode, isolated_flag = r.stdout.splitlines()[0].split()
    assert (mode, isolated_flag) == ("none", "False")
    assert "NO namespaces" in r.stdout


def test_readonly_view_leaves_out_exactly_the_excluded_paths(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for f in ("a.py", "reference.py", "sub/b.py", "sub/secret.py"):
        (pkg / f).write_text("")
    view = sb.readonly_view([pkg, tmp_path / "pkg" / "sub"], exclude=[pkg / "reference.py", pkg / "sub" / "secret.py"])
    assert set(view) == {str(pkg / "a.py"), str(pkg / "sub" / "b.py")}
    assert sb.readonly_view([pkg], exclude=[tmp_path]) == ()
    assert sb.readonly_view([pkg], exclude=[tmp_path / "elsewhere"]) == (str(pkg),)


def test_bad_limits_and_boxes_are_refused_with_the_cause(tmp_path):
    with pytest.raises(ValueError, match="memory_mb"):
        sb.Limits(memory_mb=0)
    with pytest.raises(ValueError, match="workdir"):
        sb.Sandbox(workdir=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="does not exist"):
        sb.Sandbox(workdir=str(tmp_path), readonly=(str(tmp_path / "nope"),))
    with pytest.raises(ValueError, match="uid"):
        sb.Sandbox(workdir=str(tmp_path), uid=0)


_NONROOT = """
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location('sbx', {path!r})
sb = importlib.util.module_from_spec(spec); sys.modules['sbx'] = sb; spec.loader.exec_module(sb)
caps = sb.capabilities()
box = sb.Sandbox(workdir={work!r})
attack = ("import json, os, socket\\n"
          "s = socket.socket()\\n"
          "try:\\n    s.connect(('127.0.0.1', 9)); net = 'connected'\\n"
          "except OSError as e:\\n    net = type(e).__name__\\n"
          "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1]\\n"
          "print(json.dumps([os.path.exists({git!r}), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()), net, caps]))")
with sb.spawn([sys.executable, '-I', '-c', attack], box, stdout={out!r}, stderr={out!r} + '.err') as p:
    code = p.wait(30)
print(json.dumps([caps.mode, caps.isolated, code, sb.describe(caps)]))
"""


@pytest.mark.skipif(not CAPS.root or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"),
                    reason="needs root to become nobody, setpriv and a system python3")
def test_as_an_ordinary_user_the_user_namespace_gives_the_same_isolation(tmp_path):
    """Dropped to nobody (no root, no cgroup delegation), with the system Python: the
    launcher enters an unprivileged user namespace and still hides the repository, the
    grader's processes and the network, and the command has no capabilities."""
    tmp_path = Path(tempfile.mkdtemp(prefix="cg-nonroot-"))    # (pytest's tmp is root-only)
    tmp_path.chmod(0o755)
    try:
        _as_nobody(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _as_nobody(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, 65534, 65534)
    out = str(tmp_path / "out")
    Path(out).touch()
    Path(out + ".err").touch()
    os.chown(out, 65534, 65534)
    os.chown(out + ".err", 65534, 65534)
    # the launcher is one standard-library file: a copy nobody can read, wherever the clone is
    # (a clone inside a folder only root can enter is out of nobody's reach)
    launcher = tmp_path / "sandbox.py"
    shutil.copy(Path(sb.__file__).resolve(), launcher)
    launcher.chmod(0o644)
    script = _NONROOT.format(path=str(launcher), work=str(work), out=out, git=str(REPO / ".git"))
    assert os.access(REPO, os.R_OK)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "/usr/bin/python3", "-I", "-c", script], capture_output=True, text=True,
                       timeout=120, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    mode, isolated_flag, code, text = json.loads(r.stdout.strip().splitlines()[-1])
    assert mode == "userns" and isolated_flag, text
    assert "no uid switching" in text
    assert code == 0, Path(out + ".err").read_text()
    git_visible, pids, net, capeff = json.loads(Path(out).read_text().strip().splitlines()[-1])
    # nobody could read REPO/.git outside; inside it does not exist
    assert os.stat(REPO).st_mode & 0o005
    assert git_visible is False and pids == [1, 2] and net != "connected"
    assert int(capeff, 16) == 0


@isolated
@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap not installed")
def test_the_view_matches_bubblewraps_for_the_same_allow_list(work):
    """An independent implementation of the same allow-list (bubblewrap, the well-kept tool
    Flatpak uses) shows the same file tree, two levels down from / (except /proc's pids)."""
    box = sb.Sandbox(workdir=str(work))
    plan = sb._make_plan(box, CAPS.mode, CAPS.namespaces, True, None, None, CAPS.root)
    lister = ("import json, os\n"
              "out = []\n"
              "for top in sorted(os.listdir('/')):\n"
              "    p = '/' + top\n"
              "    out.append(p)\n"
              "    if top != 'proc' and os.path.isdir(p) and not os.path.islink(p):\n"
              "        out += sorted(p + '/' + n for n in os.listdir(p))\n"
              "print(json.dumps(out))\n")
    with sb.spawn([sys.executable, "-I", "-S", "-c", lister], box,
                  stdout=str(work.parent / "mine")) as proc:
        assert proc.wait(30) == 0
    mine = json.loads((work.parent / "mine").read_text())
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
    for src, dst, kind in sorted(plan["entries"], key=lambda e: e[1].count("/")):
        if kind == "link":
            args += ["--symlink", src, dst]
        else:
            args += ["--ro-bind" if kind == "ro" else "--bind", src, dst]
    r = subprocess.run(args + [sys.executable, "-I", "-S", "-c", lister], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    theirs = json.loads(r.stdout)
    # bwrap's /dev has more nodes (tty, ptmx, pts) and no synthetic /etc files: compare the rest
    strip = lambda xs: {x for x in xs if not x.startswith(("/dev/", "/etc/"))}  # noqa: E731
    assert strip(mine) == strip(theirs)
    assert {x for x in mine if x.startswith("/dev/")} <= {x for x in theirs if x.startswith("/dev/")}


# ----------------------------------------------------------------------------------------
# kernels through the provisioner


@isolated
@pytest.mark.parametrize("forked", [False, True])
def test_nbgraders_execute_runs_its_kernel_in_the_sandbox(work, zygote, forked):
    """The Execute preprocessor, under kernel_sandbox(), gets a kernel through the
    classgrade-sandbox provisioner: PID 2 of its own namespace, the course importable, the
    repository absent, even when the notebook names a kernelspec of its own."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "some-other-kernel", "display_name": "x"}
    nb.cells = [nbformat.v4.new_code_cell(
        "import json, os, autograder, dlcourse\n"
        f"print(json.dumps([os.getpid(), os.path.exists({str(REPO / '.git')!r}), os.getcwd()]))")]
    box = sb.Sandbox(workdir=str(work), readonly=sb.package_dirs("autograder", "dlcourse"), uid=_UID)
    execute = sb._make_execute_class()
    with sb.kernel_sandbox(box, zygote=zygote if forked else None) as kernels:
        execute(timeout=60).preprocess(nb, {"metadata": {"path": str(work)}})
        assert [p.forked for p in kernels.processes] == [forked]
    pid, git, cwd = json.loads(nb.cells[0].outputs[0]["text"])
    assert (pid, git, cwd) == (2, False, str(work))
    assert "JUPYTER_PATH" not in os.environ or "classgrade" not in os.environ["JUPYTER_PATH"]


def test_the_provisioner_refuses_to_start_a_kernel_outside_kernel_sandbox():
    import asyncio
    from autograder.classgrade.provisioner import SandboxProvisioner
    prov = SandboxProvisioner(kernel_id="k", kernel_spec=None, parent=None)
    with pytest.raises(RuntimeError, match="outside kernel_sandbox"):
        asyncio.run(prov.pre_launch())
