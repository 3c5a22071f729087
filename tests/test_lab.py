"""`make lab`: JupyterLab as a student gets it, for root and for an ordinary user.

Each test starts the Makefile's own ``lab`` recipe (``make -o ...`` only skips the venv
bootstrap and the git filter set-up, which other tests cover) on a copy of the course, with a
fresh HOME and Jupyter config dir, listening on a unix socket, and reads what it serves: the
HTTP API, the page config JupyterLab's front end starts from, and nbgrader's own endpoints.
The browser tests (test_browser_notebooks.py) drive the same server in Chromium.

Evidence of what nbgrader 0.9 and JupyterLab 4 support, which the configuration relies on:

- nbgrader enables four server extensions in ``etc/jupyter/jupyter_server_config.d/nbgrader.json``
  (formgrader, course_list, assignment_list, validate_assignment); ``ServerApp.jpserver_extensions``
  from a config file later on the config path switches them off again.
- its labextension ``@jupyter/nbgrader`` has one plugin per tool (``:formgrader``, ``:course-list``,
  ``:create-assignment``, ``:assignment-list``, ``:validate-assignment``, ``:menu``); JupyterLab
  disables plugins listed under ``disabledExtensions`` in ``labconfig/page_config.json`` of any
  directory on the config path (what ``jupyter labextension disable --level=...`` writes).
"""
from __future__ import annotations

import http.client
import json
import os
import pathlib
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV = pathlib.Path(sys.prefix)
NOBODY = 65534
# What a student's copy of the course holds (the tests never serve, and so never save into,
# the repository itself).
COURSE_FILES = ["Makefile", "pyproject.toml", "README.md", ".jupyter", "lectures",
                "assignments/nbgrader_config.py", "assignments/release", "solutions"]
INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                      "@jupyter/nbgrader:create-assignment"}
ASSIGNMENT_LIST_PLUGINS = {"@jupyter/nbgrader:menu", "@jupyter/nbgrader:assignment-list"}


def copy_course(dest: pathlib.Path) -> pathlib.Path:
    for name in COURSE_FILES:
        source, target = ROOT / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        else:
            shutil.copy2(source, target)
    return dest


def _as_user(uid: int) -> list[str]:
    """A command prefix running as ``uid`` (no supplementary groups, no capabilities).

    The repository and its venv may sit in a folder only root can enter (/root/...): then the
    user also gets CAP_DAC_READ_SEARCH, which lets it read and traverse files it does not own
    and nothing else, so the server still runs as an ordinary uid."""
    base = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    python = VENV / "bin" / "python"
    if subprocess.run([*base, "test", "-x", str(python)]).returncode == 0 \
            and subprocess.run([*base, "test", "-r", str(ROOT / "Makefile")]).returncode == 0:
        return base
    return [*base, "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]


class LabServer:
    """``make lab`` in ``course``, as ``uid`` (None: this process's user), on a unix socket or
    on a free loopback port; kernels talk over unix sockets too (see conftest.py)."""

    def __init__(self, course: pathlib.Path, home: pathlib.Path, uid: int | None = None,
                 tcp: bool = False, extra_args=(), wrapper=()):
        self.course, self.home, self.uid, self.tcp = course, home, uid, tcp
        self.token = secrets.token_hex(16)
        self.runtime = home / "rt"
        self.socket = home / "lab.sock"
        self.port = None
        self.log = home / "lab.log"
        args = ["--no-browser", f"--IdentityProvider.token={self.token}", "--KernelManager.transport=ipc",
                *extra_args]
        args += ["--ip=127.0.0.1", "--port=0"] if tcp else [f"--ServerApp.sock={self.socket}"]
        self.command = ["make", "-C", str(course), "-o", f"{VENV}/bin/.installed", "-o", "nbstrip",
                        f"VENV={VENV}", "lab", f"LAB_ARGS={shlex.join(args)}"]
        if uid is not None:
            self.command = [*_as_user(uid), *self.command]
        self.command = [*wrapper, *self.command]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        self.env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
                        JUPYTER_RUNTIME_DIR=str(self.runtime), JUPYTER_DATA_DIR=str(home / "data"),
                        MPLCONFIGDIR=str(home / "mpl"), USER="student" if uid else "root")
        self.env.pop("MPLBACKEND", None)    # kernels keep the inline backend: figures are outputs
        self.process = None

    def start(self, timeout: float = 90) -> "LabServer":
        for d in (self.home / ".jupyter", self.runtime):
            d.mkdir(parents=True, exist_ok=True)
        if self.uid is not None:
            for path in [self.home, *self.home.rglob("*")]:
                os.chown(path, self.uid, self.uid)
        self._log = open(self.log, "wb")
        self.process = subprocess.Popen(self.command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"make lab exited with {self.process.returncode}:\n{self.log_text()}")
            if self.tcp and self.port is None:
                match = re.search(r"http://127\.0\.0\.1:(\d+)/", self.log_text())
                self.port = int(match.group(1)) if match else None
            if (self.port if self.tcp else self.socket.exists()):
                try:
                    if self.get("/api/status")[0] == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"make lab did not answer within {timeout} s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _connection(self, timeout: float):
        if self.tcp:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        connection = http.client.HTTPConnection("localhost", timeout=timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(str(self.socket))
        connection.sock = sock
        return connection

    def request(self, method: str, path: str, body=None, timeout: float = 30):
        """(status, headers, body text) of an authenticated request."""
        connection = self._connection(timeout)
        headers = {"Authorization": f"token {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode()
        finally:
            connection.close()

    def get(self, path: str):
        return self.request("GET", path)

    def page_config(self) -> dict:
        """The page config JupyterLab's front end starts from (embedded in /lab)."""
        status, _, html = self.get("/lab")
        assert status == 200, html[:500]
        match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)
        return json.loads(match.group(1))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)   # make and the jupyter it started
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture
def shared_tmp():
    """A temporary folder every user may enter (pytest's own tmp_path is private to root)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="lab-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def lab_for(shared_tmp, uid=None, **kwargs) -> LabServer:
    course = copy_course(shared_tmp / "course")
    home = shared_tmp / "home"
    home.mkdir()
    return LabServer(course, home, uid=uid, **kwargs)


def assert_serves_the_course_for_students(lab: LabServer):
    status, headers, _ = lab.get("/")
    assert status in (301, 302) and headers["Location"].startswith("/lab/tree/README.md"), (status, headers)
    status, _, body = lab.get("/api/contents/README.md?content=0")
    assert status == 200 and json.loads(body)["type"] == "file"
    status, _, body = lab.get("/api/contents/assignments/release/optimizers")
    assert status == 200 and "optimizers.ipynb" in body
    # the README opens rendered, not as Markdown source
    status, _, body = lab.get("/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    schema = json.loads(body)["schema"]["properties"]["defaultViewers"]
    assert schema["default"]["markdown"] == "Markdown Preview"

    config = lab.page_config()
    disabled = set(config["disabledExtensions"])
    assert INSTRUCTOR_PLUGINS <= disabled
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    assert config["news"] == {"disabled": True}
    # the formgrader ("The course id has not been set") and the course list are not served
    for path in ("/formgrader", "/formgrader/manage_assignments", "/formgraders"):
        assert lab.get(path)[0] == 404, path
    # Validate is: its version handler answers for the labextension's version
    from nbgrader import __version__
    status, _, body = lab.get(f"/nbgrader_version?version={__version__}")
    assert status == 200 and json.loads(body)["success"] is True
    assert "Running as root is not recommended" not in lab.log_text()
    return config


def test_make_lab_as_root_serves_students_tools_and_not_the_instructors(shared_tmp):
    # An ordinary user running the suite becomes root the way a rootless container does: in a
    # user namespace of its own (jupyter_server's check is the same: euid 0).
    wrapper = [] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user"]
    with lab_for(shared_tmp, wrapper=wrapper) as lab:
        config = assert_serves_the_course_for_students(lab)
        # no exchange here: no assignment list either (it could only show an error)
        assert ASSIGNMENT_LIST_PLUGINS <= set(config["disabledExtensions"])
        assert lab.get("/assignments")[0] == 404


def test_make_lab_as_an_ordinary_user(shared_tmp):
    if os.geteuid() != 0:
        lab = lab_for(shared_tmp)           # we are an ordinary user already
    else:
        lab = lab_for(shared_tmp, uid=NOBODY)
    with lab:
        assert_serves_the_course_for_students(lab)
        server_files = list(lab.runtime.glob("jpserver-*.json"))
        assert server_files and all(p.stat().st_uid == (os.geteuid() or NOBODY) for p in server_files)


def test_with_an_exchange_students_get_the_assignment_list_but_still_no_formgrader(shared_tmp):
    exchange = shared_tmp / "exchange"
    (exchange / "dlcourse-optimizers" / "outbound" / "optimizers").mkdir(parents=True)
    lab = lab_for(shared_tmp)
    (lab.home / ".jupyter").mkdir(parents=True)
    (lab.home / ".jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n")
    with lab:
        config = assert_serves_the_course_for_students(lab)
        disabled = set(config["disabledExtensions"])
        assert not ASSIGNMENT_LIST_PLUGINS & disabled and INSTRUCTOR_PLUGINS <= disabled
        status, _, body = lab.get("/assignments?course_id=dlcourse-optimizers")
        listing = json.loads(body)
        assert status == 200 and listing["success"], body
        assert [a["assignment_id"] for a in listing["value"]] == ["optimizers"]


def test_validate_still_reports_the_failing_tests_of_an_untouched_release(shared_tmp):
    """The raises-exception tags let Run All go on; nbgrader's Validate ignores tags and still
    lists every failing test (nbgrader's Validator looks at error outputs only)."""
    lab = lab_for(shared_tmp)
    (lab.home / ".jupyter").mkdir(parents=True)
    (lab.home / ".jupyter" / "nbgrader_config.py").write_text(   # its kernel on unix sockets too
        'c = get_config()\nc.KernelManager.transport = "ipc"\n')
    with lab:
        status, _, body = lab.request("POST", "/assignments/validate",
                                      {"path": "assignments/release/optimizers/optimizers.ipynb"},
                                      timeout=300)
    result = json.loads(body)
    assert status == 200 and result["success"], body
    value = json.loads(result["value"]) if isinstance(result["value"], str) else result["value"]
    failed = value.get("failed", [])
    assert len(failed) == 12, value.keys()
    assert all(re.search(r"not (implemented|written)", f["raw_error"]) for f in failed), failed[0]["raw_error"]
