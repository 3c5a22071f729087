"""Start nbgrader's kernels sandboxed, through jupyter_client's designed extension point.

:class:`SandboxProvisioner` is a ``LocalProvisioner`` (which jupyter_client says is "intended
to be subclassed") registered under the entry point ``classgrade-sandbox`` of the group
``jupyter_client.kernel_provisioners`` (pyproject.toml). It launches each kernel with
:func:`.sandbox.spawn` — forked from a zygote when one is given — over IPC transport (unix
sockets in a private per-kernel folder), since a kernel without a network cannot reach the
grader's loopback.

How nbgrader's ``Execute`` preprocessor comes to use it, with no private method overridden:
:func:`kernel_sandbox` writes a private kernelspec dir holding ``python3/kernel.json`` whose
``metadata.kernel_provisioner.provisioner_name`` is ``classgrade-sandbox``, and puts that dir
first on ``JUPYTER_PATH`` while it is active (``KernelSpecManager`` reads ``jupyter_path``
each time a ``KernelManager`` is created), and it makes ``classgrade-sandbox`` the
``KernelProvisionerFactory.default_provisioner_name``, so a kernelspec without a provisioner
stanza also lands here. The provisioner finds the box through a thread-local that
:func:`kernel_sandbox` sets; a kernel started in a thread with none active fails to start
(fail closed), it never runs unconfined. Set ``Execute.kernel_name = "python3"`` so a
notebook's metadata cannot name another installed kernelspec.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import replace

from jupyter_client.provisioning import LocalProvisioner

from . import sandbox as sb

PROVISIONER_NAME = "classgrade-sandbox"
_ENTRY_POINT = "autograder.classgrade.provisioner:SandboxProvisioner"

_active = threading.local()
_global_lock = threading.Lock()
_global_users = 0
_saved: dict = {}


class KernelSandbox:
    """What :func:`kernel_sandbox` yields: the kernels started under it, and a way to kill them."""

    def __init__(self, box: sb.Sandbox, zygote, runtime_dir: str):
        self.box, self.zygote, self.runtime_dir = box, zygote, runtime_dir
        self.processes: list[sb.SandboxedProcess] = []
        self._lock = threading.Lock()
        self._count = 0

    def _new_dir(self) -> str:
        with self._lock:
            self._count += 1
            path = os.path.join(self.runtime_dir, f"k{self._count}")
        os.mkdir(path, 0o700)
        return path

    def _register(self, proc: sb.SandboxedProcess) -> None:
        with self._lock:
            self.processes.append(proc)

    def kill_all(self) -> None:
        """Kill every kernel tree started under this sandbox (safe from a watchdog thread)."""
        with self._lock:
            procs = list(self.processes)
        for p in procs:
            p.kill()

    def close(self) -> None:
        with self._lock:
            procs = list(self.processes)
        for p in procs:
            p.close()


@contextlib.contextmanager
def kernel_sandbox(box: sb.Sandbox, zygote=None, runtime_dir: str | None = None):
    """Sandbox the kernels nbgrader starts in this thread; yields a :class:`KernelSandbox`.

    Each kernel gets ``box`` (its cwd is the notebook's folder, which must lie in the view:
    usually ``box.workdir``) plus a private read-write folder under ``runtime_dir`` for its
    connection file and sockets. On exit every kernel tree is killed and cleaned up.
    """
    own_dir = runtime_dir is None
    # short: unix socket paths are limited to 107 bytes
    rdir = tempfile.mkdtemp(prefix="cg-k-", dir="/tmp") if own_dir else runtime_dir
    ctx = KernelSandbox(box, zygote, rdir)
    previous = getattr(_active, "ctx", None)
    _enter_global()
    _active.ctx = ctx
    try:
        yield ctx
    finally:
        _active.ctx = previous
        ctx.close()
        _leave_global()
        if own_dir:
            shutil.rmtree(rdir, ignore_errors=True)


def _spec_dir() -> str:
    """A private kernelspec dir (per process) whose python3 kernel uses this provisioner."""
    d = _saved.get("spec_dir")
    if d and os.path.isdir(d):
        return d
    # removed by _leave_global when the last sandbox closes, not at exit: a pool worker
    # (multiprocessing) ends with os._exit and runs no atexit hooks
    d = tempfile.mkdtemp(prefix="classgrade-kernelspecs-")
    os.makedirs(os.path.join(d, "kernels", "python3"))
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (classgrade sandbox)", "language": "python",
            "interrupt_mode": "signal",
            "metadata": {"kernel_provisioner": {"provisioner_name": PROVISIONER_NAME}}}
    with open(os.path.join(d, "kernels", "python3", "kernel.json"), "w") as fh:
        json.dump(spec, fh)
    _saved["spec_dir"] = d
    return d


def _enter_global() -> None:
    global _global_users
    from jupyter_client.provisioning.factory import KernelProvisionerFactory
    with _global_lock:
        _global_users += 1
        if _global_users > 1:
            return
        factory = KernelProvisionerFactory.instance()
        if PROVISIONER_NAME not in factory.provisioners:
            # an install older than the entry point in pyproject.toml (pip install -e . adds
            # it): register the same entry point here, as jupyter_client does for its own
            # local-provisioner when metadata is stale
            from importlib.metadata import EntryPoint, entry_points
            found = entry_points(group="jupyter_client.kernel_provisioners", name=PROVISIONER_NAME)
            factory.provisioners[PROVISIONER_NAME] = next(iter(found), None) or EntryPoint(
                PROVISIONER_NAME, _ENTRY_POINT, "jupyter_client.kernel_provisioners")
        _saved["default"] = factory.default_provisioner_name
        factory.default_provisioner_name = PROVISIONER_NAME
        _saved["JUPYTER_PATH"] = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [_spec_dir()] + ([_saved["JUPYTER_PATH"]] if _saved["JUPYTER_PATH"] else []))


def _leave_global() -> None:
    global _global_users
    from jupyter_client.provisioning.factory import KernelProvisionerFactory
    with _global_lock:
        _global_users -= 1
        if _global_users > 0:
            return
        KernelProvisionerFactory.instance().default_provisioner_name = _saved.get("default") or "local-provisioner"
        if _saved.get("JUPYTER_PATH") is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = _saved["JUPYTER_PATH"]
        spec_dir = _saved.pop("spec_dir", None)
        if spec_dir:
            shutil.rmtree(spec_dir, ignore_errors=True)


class SandboxProvisioner(LocalProvisioner):
    """A LocalProvisioner that starts the kernel with :func:`.sandbox.spawn` (see module doc)."""

    ctx: KernelSandbox | None = None
    kernel_dir: str | None = None

    async def pre_launch(self, **kwargs):
        ctx = getattr(_active, "ctx", None)
        if ctx is None:
            raise RuntimeError("a classgrade-sandbox kernel was started outside kernel_sandbox(): "
                               "refusing to run it unconfined")
        self.ctx = ctx
        self.kernel_dir = ctx._new_dir()
        km = self.parent
        km.transport = "ipc"                   # no network inside: unix sockets in kernel_dir
        km.ip = os.path.join(self.kernel_dir, "k")
        km.cache_ports = False
        km.connection_file = os.path.join(self.kernel_dir, "kernel.json")
        kwargs = await super().pre_launch(**kwargs)
        return kwargs

    async def launch_kernel(self, cmd, **kwargs):
        ctx, kdir = self.ctx, self.kernel_dir
        cwd = os.path.realpath(kwargs.get("cwd") or ctx.box.workdir)
        box = ctx.box
        if not _inside(cwd, (box.workdir, *box.writable)):
            box = replace(box, workdir=cwd)       # the notebook's folder becomes the workdir
        box = replace(box, writable=(*box.writable, kdir))
        given = kwargs.get("env") or {}
        env = {k: v for k, v in given.items()
               if (k.startswith("JPY_") and k != "JPY_PARENT_PID") or k == "PYTHONPATH"}
        env.update(HOME=kdir, IPYTHONDIR=os.path.join(kdir, "ipython"),
                   MPLCONFIGDIR=os.path.join(kdir, "mpl"))
        proc = sb.spawn(list(cmd), box, env=env, zygote=ctx.zygote, cwd=cwd,
                        stderr=os.path.join(kdir, "kernel.log"))
        ctx._register(proc)
        self.process, self.pid, self.pgid, self.cwd = proc, proc.pid, None, cwd
        return self.connection_info

    async def wait(self):
        # jupyter_client polls every 0.1 s; a stopped kernel is gone within milliseconds
        ret = 0
        if self.process:
            while self.process.poll() is None:
                await asyncio.sleep(0.005)
            ret = self.process.returncode
            self.process.close()
            self.process = None
        return ret

    async def cleanup(self, restart: bool = False):
        await super().cleanup(restart=restart)
        if self.process is not None and not restart:
            self.process.close()

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return min(recommended, 2.0)


def _inside(path: str, roots) -> bool:
    return any(path == os.path.realpath(r) or path.startswith(os.path.realpath(r) + "/") for r in roots)


@functools.lru_cache(maxsize=None)
def _make_client_class():
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
def _make_execute_class():
    """nbgrader's Execute with the prompt client and a cell loop that notices a dead kernel."""
    from queue import Empty
    from traitlets import Type
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import CellExecutionComplete
    from nbgrader.preprocessors import Execute

    class PromptKernelManager(AsyncKernelManager):
        client_factory = Type(klass="jupyter_client.asynchronous.AsyncKernelClient",
                              default_value=_make_client_class())

    class SandboxExecute(Execute):
        """nbgrader's Execute; its kernels are sandboxed by :class:`SandboxProvisioner`
        (under :func:`kernel_sandbox`), always the python3 kernelspec."""

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("kernel_manager_class", PromptKernelManager)
            kwargs.setdefault("kernel_name", "python3")
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
