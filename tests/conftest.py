"""Suite-wide set-up.

Figures drawn by the tests themselves go to the non-interactive Agg backend. It is
chosen here, in the test process, and not through MPLBACKEND: notebooks executed
by the tests run in their own kernels, which must keep the inline backend so that
their figures become outputs.

Kernels the tests start talk to them over unix sockets (``kernel_sockets``), not TCP.
jupyter_client picks five free loopback ports, frees them and lets the kernel bind them
a moment later; a process binding a port in between kills that kernel at its start
("Address already in use", nteract/papermill#511), and nbgrader then drops that
student's autograded notebook. The two test workers start kernels all the time, so over
TCP a run of the suite can fail on a race that has nothing to do with the course.
The class grader's own kernels already use unix sockets in private directories.
"""
import itertools
import os
import shutil
import tempfile

import matplotlib
import pytest

matplotlib.use("Agg")


class KernelSockets:
    """Unix-socket addresses for kernels, each new one under its own prefix in ``root``."""

    def __init__(self, root: str):
        self.root = root
        self._count = itertools.count()

    def _prefix(self) -> str:
        return os.path.join(self.root, f"k{next(self._count)}")

    def config(self):
        """traitlets config for a NotebookClient (it passes it on to its kernel manager)."""
        from traitlets.config import Config
        return Config({"KernelManager": {"transport": "ipc", "ip": self._prefix()}})

    def nbgrader_options(self) -> list[str]:
        """Command-line options for an nbgrader process (its kernels run one after another)."""
        return ["--KernelManager.transport=ipc", f"--KernelManager.ip={self._prefix()}"]


@pytest.fixture(scope="session")
def kernel_sockets():
    # a socket's path must fit in 107 bytes: a short directory of its own under /tmp
    root = tempfile.mkdtemp(prefix="kern")
    yield KernelSockets(root)
    shutil.rmtree(root, ignore_errors=True)
