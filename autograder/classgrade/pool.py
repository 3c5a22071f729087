"""Where the grading tasks run: a process pool on this machine, a Dask cluster, or (``thread``)
this very process, one submission at a time.

Each process keeps one long-lived :class:`~.worker.Worker` (its course copy, gradebook and
zygote) for the whole run. The process pool forks its workers from a forkserver that has
already imported nbgrader, NumPy and the checks, in the background while the main process
prepares the template. With Dask, the scheduler address must be reachable within a few
seconds, or the command says so instead of a traceback; run workers with one thread each
(``dask worker ADDR --nthreads 1``): nbgrader changes directory while it converts.
"""

from __future__ import annotations

import concurrent.futures as cf

DASK_CONNECT_SECONDS = 5


def forkserver(checks: str | None):
    """The forkserver context, its server started now (it pre-imports the grading stack and,
    when named, the checks; the first call's list is the one the server keeps)."""
    import multiprocessing as mp
    from multiprocessing import forkserver as fs
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["autograder.classgrade.worker", "nbgrader.apps", "nbgrader.converters",
                                "nbclient", "jupyter_client", "numpy"] + ([checks] if checks else []))
    try:
        fs.ensure_running()
    except Exception:  # noqa: BLE001 - started on first use instead
        pass
    return ctx


def make(kind: str, workers: int, scheduler: str | None, checks: str):
    """(executor, dask client or None)."""
    if kind == "dask":
        if not scheduler:
            raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("--executor dask needs Dask's distributed package, not installed in this "
                             "environment: .venv/bin/python -m pip install -e \".[dask]\" "
                             "(from the course's folder)") from None
        try:
            client = Client(scheduler, timeout=f"{DASK_CONNECT_SECONDS}s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler} within {DASK_CONNECT_SECONDS} s "
                             f"({type(exc).__name__}); is `dask scheduler` running there?") from None
        return client.get_executor(pure=False), client
    if kind == "thread":      # in this process (debugging, and tests that patch the worker)
        return cf.ThreadPoolExecutor(max_workers=1), None
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=forkserver(checks)), None


def shutdown(pool, client, out: str) -> None:
    from .worker import release_workers
    pool.shutdown(wait=True)
    if client is not None:
        try:
            client.run(release_workers, out)    # the dask workers live on: free their zygotes
        except Exception:  # noqa: BLE001 - a worker that is gone has nothing to free
            pass
        client.close()
