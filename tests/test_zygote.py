"""The zygote: processes forked from it behave like new sandboxed Pythons, only faster.

Each test forks ``python -m childinfo`` (a module written to the test's working directory)
from a real zygote and reads what the child reports about itself.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
import subprocess
import sys
import time

import pytest

from dataclasses import replace

from autograder.classgrade import sandbox as sb
from autograder.classgrade.sandbox import Limits, Sandbox, capabilities, spawn
from autograder.classgrade.zygote import ForkedProcess, Zygote

CHILD = '''
import json, os, resource, socket, sys
import numpy
info = {"uid": os.getuid(), "ppid": os.getppid(), "cwd": os.getcwd(), "argv": sys.argv[1:],
        "rand": float(numpy.random.rand()), "as": resource.getrlimit(resource.RLIMIT_AS)[0],
        "secret_loaded": "zsecret" in sys.modules, "env_home": os.environ.get("HOME"),
        "pgid_is_group": os.getpgid(0) != os.getpid()}
try:
    import zsecret
    info["secret_value"] = getattr(zsecret, "VALUE", None)
except ImportError:
    info["secret_value"] = None
try:
    socket.create_connection(("8.8.8.8", 53), timeout=1)
    info["net"] = True
except OSError:
    info["net"] = False
print(json.dumps(info), flush=True)
mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode == "exit3":
    sys.exit(3)
if mode == "raise":
    raise RuntimeError("boom")
if mode == "sleep":
    import time
    time.sleep(120)
'''

needs_sandbox = pytest.mark.skipif(not capabilities().isolated, reason="no namespaces here")
UID = 299990 if capabilities().root else None


@pytest.fixture
def no_namespaces(monkeypatch):
    """As on a machine where the namespaces failed their self-test."""
    weak = replace(capabilities(), mode="none", namespaces=frozenset(), view=False)
    monkeypatch.setattr(sb, "capabilities", lambda: weak)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    """A zygote that pre-loads numpy and a 'secret' module the sandbox will hide."""
    root = tmp_path_factory.mktemp("zygote")
    os.chmod(root, 0o755)
    lib = root / "lib"
    lib.mkdir()
    (lib / "zsecret.py").write_text("VALUE = 42\n")
    path = os.pathsep.join(filter(None, [str(lib), os.environ.get("PYTHONPATH")]))
    z = Zygote(str(root / "z"), ["numpy", "zsecret"], env={"PYTHONPATH": path})
    assert z.ready(60), open(root / "z" / "zygote.log").read()
    assert z.info["threads"] == 1 and not z.info["failed"]
    yield {"z": z, "root": root, "lib": str(lib)}
    z.close()


def _box(root, name):
    work = root / name
    work.mkdir()
    (work / "childinfo.py").write_text(CHILD)
    return Sandbox(workdir=str(work), limits=Limits(memory_mb=2048), uid=UID), work


def _spawn(zyg, box, work, *args):
    out = str(work.parent / (work.name + ".out"))
    proc = spawn([sys.executable, "-m", "childinfo", *args], box, env={"HOME": str(work)},
                 zygote=zyg["z"], stdout=out, stderr=out + ".err")
    assert proc.forked
    return proc, out


def _info(out):
    with open(out) as fh:
        return json.loads(fh.readline())


@needs_sandbox
def test_a_forked_child_gets_the_whole_sandbox_and_loses_what_its_view_lacks(zygote):
    box, work = _box(zygote["root"], "iso")
    with _spawn(zygote, box, work, "hello")[0] as proc:
        out = str(work.parent / "iso.out")
        assert proc.wait(60) == 0, open(out + ".err").read()
    info = _info(out)
    if UID is not None:
        assert info["uid"] == UID                      # unprivileged
    assert info["ppid"] == 1                           # its parent is PID 1 of a new namespace
    assert info["cwd"] == str(work) and info["argv"] == ["hello"] and info["env_home"] == str(work)
    assert info["as"] == 2048 * 1024 * 1024            # address-space limit
    assert info["net"] is False                        # no network
    # the zygote had imported zsecret, whose folder is not in the view: the child neither
    # keeps it nor can re-import it
    assert info["secret_loaded"] is False and info["secret_value"] is None


def test_without_namespaces_a_child_still_gets_limits_cwd_and_its_own_process_group(
        zygote, no_namespaces, tmp_path_factory):
    # without the view the uid must reach its folder through the real, traversable path
    open_dir = Path(tempfile.mkdtemp(prefix="cg-plain-"))
    open_dir.chmod(0o755)
    box, work = _box(open_dir, "plain")
    blocked = sb.blocked_ancestor(sys.base_prefix) if UID is not None else None
    if blocked:       # the interpreter under /root (pyenv): refused with the cause, never run
        with pytest.raises(sb.SandboxError, match=f"{blocked} is not traversable"):
            _spawn(zygote, box, work)
        shutil.rmtree(open_dir)
        return
    proc, out = _spawn(zygote, box, work)
    assert proc.wait(60) == 0, open(out + ".err").read()
    proc.close()
    info = _info(out)
    assert info["cwd"] == str(work) and info["as"] == 2048 * 1024 * 1024
    assert info["pgid_is_group"]                       # signals to the group reach the child
    assert info["secret_loaded"] is True               # nothing hidden: nothing dropped
    shutil.rmtree(open_dir)


def test_children_exit_codes_are_reported_like_a_python_process(zygote):
    codes = {}
    for mode in ("ok", "exit3", "raise"):
        box, work = _box(zygote["root"], f"code-{mode}")
        proc, out = _spawn(zygote, box, work, mode)
        codes[mode] = proc.wait(60)
        proc.close()
    assert codes == {"ok": 0, "exit3": 3, "raise": 1}
    assert "RuntimeError: boom" in open(out + ".err").read()


def test_each_child_seeds_numpys_global_generator_afresh(zygote):
    values = []
    for k in range(3):
        box, work = _box(zygote["root"], f"seed-{k}")
        with _spawn(zygote, box, work)[0] as proc:
            assert proc.wait(60) == 0
        out = str(work.parent / f"seed-{k}.out")
        values.append(_info(out)["rand"])
    assert len(set(values)) == 3


def test_kill_ends_a_running_child_and_wait_honours_its_timeout(zygote):
    box, work = _box(zygote["root"], "sleeper")
    proc, out = _spawn(zygote, box, work, "sleep")
    deadline = time.monotonic() + 30
    while not os.path.exists(out) or not open(out).read():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert proc.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=0.2)
    proc.kill()
    assert proc.wait(10) == -9
    proc.close()


def test_the_zygote_serves_only_python_dash_m_of_its_own_interpreter(zygote):
    """Anything else is started through the exec launcher instead, in the same sandbox."""
    box, work = _box(zygote["root"], "foreign")
    for argv in (["/usr/bin/env", "-m", "childinfo"], [sys.executable, "childinfo.py"]):
        with spawn(argv, box, zygote=zygote["z"]) as proc:
            assert not proc.forked
            proc.wait(30)


def _dead_zygote(tmp_path):
    """A zygote that started, then died (its handle has noticed)."""
    os.chmod(tmp_path, 0o755)
    z = Zygote(str(tmp_path / "z"), ["json"])
    assert z.ready(60)
    z.proc.kill()
    z.proc.wait()
    deadline = time.monotonic() + 10
    while not z.dead:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return z


def test_a_dead_zygote_declines_so_the_caller_starts_the_process_itself(tmp_path):
    z = _dead_zygote(tmp_path)
    box, work = _box(tmp_path, "late")
    with spawn([sys.executable, "-m", "childinfo"], box, zygote=z) as proc:
        assert not proc.forked and proc.wait(60) == 0
    z.close()


def test_check_reports_a_zygote_whose_children_cannot_start(zygote):
    box, work = _box(zygote["root"], "check-ok")
    assert zygote["z"].check(box) is None
    gone, gwork = _box(zygote["root"], "vanished")
    (gwork / "childinfo.py").unlink()
    gwork.rmdir()                                  # its working folder cannot be bound
    why = zygote["z"].check(gone)
    assert why is not None and f"status {sb.EXIT_SETUP_FAILED}" in why and "vanished" in why


def test_a_reused_pid_is_not_mistaken_for_the_earlier_child_that_exited(zygote):
    z = zygote["z"]
    pid = 4_000_000          # beyond any real pid: only these messages speak of it
    z._handle({"exit": pid, "code": 0})              # an earlier child with this pid ended
    z._handle({"pid": pid})                          # the zygote forked a new one with the same pid
    z._replies.remove({"pid": pid})
    assert z._exit_code(pid) is None                 # the new child is running
    z._handle({"exit": pid, "code": -9})
    assert z._exit_code(pid) == -9


def _stranger():
    """A process group leader of someone else's, standing in for whoever gets a reaped pid."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)


def test_a_pid_the_child_no_longer_holds_is_never_signalled(zygote, tmp_path):
    z = zygote["z"]
    stranger = _stranger()
    try:
        assert z._open_child(stranger.pid) is None        # not the zygote's child: no handle on it
        late = ForkedProcess(z, stranger.pid, None)       # spawn found its child already reaped
        late.send_signal(2)
        late.kill()
        assert late.poll() is None                        # its exit is still to be reported ...
        gone = _dead_zygote(tmp_path)                     # ... and once the zygote is gone
        orphan = ForkedProcess(gone, stranger.pid, None)
        assert orphan.poll() == -9                        # it is over, whoever has the pid now
        orphan.kill()
        time.sleep(0.2)
        assert stranger.poll() is None                    # the stranger never got a signal
        gone.close()
    finally:
        stranger.kill()
        stranger.wait()


def test_a_forked_kernel_that_ended_is_never_signalled_again(zygote, monkeypatch):
    """jupyter_client interrupts the kernel of a timed-out cell even if the submission's
    watchdog has killed it meanwhile; once the zygote reaped it, its pid may be anyone's, so
    the interrupt must go nowhere."""
    import asyncio
    import signal
    from jupyter_client.manager import AsyncKernelManager
    box, work = _box(zygote["root"], "kernel")
    sent = []

    async def start_kill_interrupt():
        km = AsyncKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(work))
        proc = km.provisioner.process
        assert isinstance(proc, sb.SandboxedProcess) and proc.forked   # through the provisioner
        proc.kill()                                       # the watchdog
        assert proc.wait(30) == -9
        monkeypatch.setattr(os, "killpg", lambda *args: sent.append(args))
        monkeypatch.setattr(os, "kill", lambda *args: sent.append(args))
        monkeypatch.setattr(signal, "pidfd_send_signal", lambda *args: sent.append(args))
        await km.interrupt_kernel()                       # the timed-out cell
        await km.shutdown_kernel(now=True)

    with sb.kernel_sandbox(box, zygote=zygote["z"]):
        asyncio.run(start_kill_interrupt())
    assert sent == []
