"""The course in the browser: JupyterLab (started by `make lab`) driven by headless Chromium.

What nbclient cannot show is checked here, where a student works: *Run → Run All Cells* in the
menu, the outputs JupyterLab renders, a wrong answer typed into a cell, and the notebook
JupyterLab saves. One JupyterLab server (a copy of the course, loopback only, kernels on unix
sockets) and one browser serve the whole module.

The browser is Debian's chromium (``/usr/bin/chromium``; ``make test`` installs it when it is
missing and we are root), driven by Playwright for Python. ``playwright install`` and its
downloaded browsers are never used. Without chromium these tests fail and say how to get it:
a skipped browser test would hide exactly the gap they exist to show.

What JupyterLab 4 does that the assignment relies on (checked by these tests): its Run All sends
every cell at once and asks the kernel to abort the queue at the first error
(``stop_on_error: true``), except for a cell tagged ``raises-exception``, for which it sends
``stop_on_error: false`` (``@jupyterlab/outputarea``'s ``OutputArea.execute``). The assignment's
test cells carry that tag, so an unwritten part's failing test does not stop the cells after it.
"""
from __future__ import annotations

import importlib.util
import json
import pathlib
import re
import shutil
import tempfile
import time

import pytest

from test_lab import ROOT, LabServer, copy_course
from test_lab_nbstrip import git, make_nbstrip

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RELEASE = "assignments/release/optimizers/optimizers.ipynb"
LECTURES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "lectures").glob("[0-9][0-9]_*.ipynb"))
PARTS = 12          # graded test cells in the assignment
OPTIMIZERS = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adadelta", "Adam", "AdaMax", "Nadam"]

_spec = importlib.util.spec_from_file_location("nbstrip", ROOT / ".jupyter" / "nbstrip.py")
nbstrip = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbstrip)

# A student's Adam with the classic mistake: eps inside the square root.
WRONG_ADAM = '''class Adam(Optimizer):
    """Adam: momentum divided by the root of an EWMA of squared gradients, bias-corrected."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps

    def update(self, params, grads):
        for name, p in params.items():
            g = grads[name]
            if name not in self.state:
                self.state[name] = {"step": 0, "m": np.zeros_like(p), "v": np.zeros_like(p)}
            s = self.state[name]
            s["step"] += 1
            s["m"] = self.beta1 * s["m"] + (1 - self.beta1) * g
            s["v"] = self.beta2 * s["v"] + (1 - self.beta2) * g * g
            m_hat = s["m"] / (1 - self.beta1 ** s["step"])
            v_hat = s["v"] / (1 - self.beta2 ** s["step"])
            p -= self.lr * m_hat / np.sqrt(v_hat + self.eps)'''

# The notebook as JupyterLab holds it: per code cell its prompt number, outputs and source.
CODE_CELLS_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = [];
    for (const cell of panel.content.widgets) {
        if (cell.model.type !== 'code') continue;
        cells.push({source: cell.model.sharedModel.getSource(),
                    count: cell.model.executionCount,
                    outputs: cell.model.outputs.toJSON(),
                    tags: cell.model.getMetadata('tags') || []});
    }
    return cells;
}"""

# Where Run All is: the kernel's status, whether a cell still waits ("[*]"), the cells not run.
RUN_STATE_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    const code = panel.content.widgets.filter(cell => cell.model.type === 'code');
    return {idle: !!kernel && kernel.status === 'idle',
            // queued or running: the model says so (JupyterLab >= 4.1); a rendered prompt shows [*]
            waiting: code.some(cell => cell.model.executionState === 'running'
                || (cell.promptNode !== null && cell.promptNode.textContent.trim() === '[*]:')),
            not_run: code.filter(cell => cell.model.executionCount === null).length};
}"""


def wait_until_run_finished(page, timeout_s):
    """Until every code cell has run, or nothing has moved for 2 s (Run All stopped early)."""
    deadline, quiet_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        state = page.evaluate(RUN_STATE_JS)
        if state["idle"] and not state["waiting"]:
            if state["not_run"] == 0:
                return
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 2:
                return
        else:
            quiet_since = None
        time.sleep(0.25)
    raise AssertionError(f"Run All did not finish within {timeout_s} s: {page.evaluate(RUN_STATE_JS)}")


@pytest.fixture(scope="module")
def lab():
    require_chromium()
    base = pathlib.Path(tempfile.mkdtemp(prefix="browser-"))
    course = copy_course(base / "course")      # a student's clone, with the filter make sets up
    shutil.copy2(ROOT / ".gitattributes", course / ".gitattributes")
    git(course, "init", "-q")
    git(course, "add", "-A")
    git(course, "commit", "-qm", "the course")
    make_nbstrip(course)
    (base / "home").mkdir()
    server = LabServer(course, base / "home", tcp=True, extra_args=["--LabApp.expose_app_in_browser=True"])
    with server:
        yield server
    shutil.rmtree(base, ignore_errors=True)


def require_chromium():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests drive Debian's chromium. Install it with "
                    "`apt-get install -y chromium` (`make test` does so when run as root).")


def launch_chromium(playwright, profile: pathlib.Path):
    """Debian's chromium, headless, with a fresh profile (``--user-data-dir``)."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 1000})


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, lab.home / "chromium-profile")
        yield context
        context.close()


@pytest.fixture
def page(browser, lab):
    page = browser.new_page()
    yield page
    page.close()
    for kernel in json.loads(lab.get("/api/kernels")[2]):      # one notebook's kernel at a time
        lab.request("DELETE", f"/api/kernels/{kernel['id']}")


def open_notebook(page, lab, path):
    # ?reset: a fresh workspace, so notebooks opened by earlier tests do not come back
    page.goto(f"{lab.url}/lab/tree/{path}?reset&token={lab.token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=60_000)


def run_all_from_the_menu(page, timeout_s=180):
    start = time.monotonic()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    wait_until_run_finished(page, timeout_s)
    return time.monotonic() - start


def save(page, lab, path):
    """Save as a student does; make lab's post-save hook then refreshes git's index entry."""
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    return (lab.course / path).read_text()


def error_outputs(cell):
    return [o for o in cell["outputs"] if o["output_type"] == "error"]


def text_of(cell):
    return "".join(o.get("text", "") for o in cell["outputs"] if o["output_type"] == "stream")


NBGRADER_COMMANDS = ["nbgrader:open-assignment-list", "nbgrader:open-formgrader",
                     "nbgrader:open-course-list", "nbgrader:open-create-assignment"]
# which of nbgrader's commands exist in the page (a disabled plugin registers none)
HAS_COMMANDS_JS = f"""() => Object.fromEntries({json.dumps(NBGRADER_COMMANDS)}
    .map(id => [id, window.jupyterapp.commands.hasCommand(id)]))"""


def menu_bar(page):
    return [t.strip() for t in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]


def test_the_lab_opens_on_the_rendered_readme_without_the_instructors_tools(page, lab):
    page.goto(f"{lab.url}/?reset&token={lab.token}")
    heading = page.locator(".jp-RenderedMarkdown h1").first
    heading.wait_for(timeout=60_000)
    assert heading.inner_text().startswith("dlcourse")
    assert "Nbgrader" not in menu_bar(page) and "Run" in menu_bar(page)
    assert page.locator("#nbgrader-create_assignemnt").count() == 0    # (sic) nbgrader's sidebar id
    assert page.evaluate(HAS_COMMANDS_JS) == dict.fromkeys(NBGRADER_COMMANDS, False)
    open_notebook(page, lab, RELEASE)
    page.get_by_role("button", name="Validate").first.wait_for(timeout=30_000)   # nbgrader's, for students


def test_run_all_reaches_the_end_of_the_untouched_release(page, lab):
    open_notebook(page, lab, RELEASE)
    run_all_from_the_menu(page)
    cells = page.evaluate(CODE_CELLS_JS)
    # every cell ran, in order, although every test failed
    assert [c["count"] for c in cells] == list(range(1, len(cells) + 1))
    failed = [c for c in cells if error_outputs(c)]
    assert len(failed) == PARTS and all("raises-exception" in c["tags"] for c in failed)
    for cell in failed:
        (error,) = error_outputs(cell)
        assert error["ename"] in ("AssertionError", "CheckFailed") and re.search(r"not (implemented|written)", error["evalue"])
    # the figure: a panel per optimizer, each unwritten one says so; no KeyError, no "skipped"
    demo = cells[-1]
    assert text_of(demo).splitlines() == [f"{name}: not written yet" for name in OPTIMIZERS]
    assert any("image/png" in o.get("data", {}) for o in demo["outputs"])
    page.locator(".jp-Cell").last.scroll_into_view_if_needed()
    assert page.locator(".jp-Cell").last.locator("img").count() == 1
    # what JupyterLab saved (outputs, its kernelspec, language_info) is cleaned back by nbstrip
    saved = save(page, lab, RELEASE)
    assert '"output_type"' in saved
    assert nbstrip.clean(saved) == (ROOT / RELEASE).read_text()
    assert git(lab.course, "status", "--porcelain", "--", RELEASE) == ""


def test_a_wrong_adam_typed_into_the_release_gets_its_diagnosis_on_the_page(page, lab):
    open_notebook(page, lab, RELEASE)
    run_all_from_the_menu(page)
    cells = page.locator(".jp-Notebook .jp-Cell")
    index = next(i for i in range(cells.count())
                 if "class Adam(Optimizer)" in cells.nth(i).locator(".jp-InputArea").text_content())
    editor = cells.nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(WRONG_ADAM)
    typed = page.evaluate(f"() => window.jupyterapp.shell.currentWidget.content.widgets[{index}]"
                          ".model.sharedModel.getSource()")
    assert typed == WRONG_ADAM
    page.keyboard.press("Shift+Enter")      # define the class, move to its test cell
    page.keyboard.press("Shift+Enter")      # run the test
    test_output = cells.nth(index + 1).locator(".jp-OutputArea")
    test_output.get_by_text("FAILED Adam", exact=False).first.wait_for(timeout=60_000)
    shown = test_output.text_content()
    assert "eps inside the square root" in shown and "adam-eps-inside-sqrt" in shown
    assert "hint:" in shown and "first difference" in shown
    assert "NotImplementedError" not in shown
    # the figure, run again, draws your Adam (dashed over the reference) instead of "not written yet"
    page.evaluate("""async () => {
        const notebook = window.jupyterapp.shell.currentWidget.content;
        notebook.activeCellIndex = notebook.widgets.length - 1;
        await window.jupyterapp.commands.execute('notebook:run-cell');
    }""")
    wait_until_run_finished(page, 60)
    lines = text_of(page.evaluate(CODE_CELLS_JS)[-1]).splitlines()
    assert lines == [f"{name}: not written yet" for name in OPTIMIZERS if name != "Adam"]


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: pathlib.Path(p).stem)
def test_lecture_runs_in_jupyterlab_and_saving_it_leaves_git_clean(page, lab, path):
    open_notebook(page, lab, path)
    seconds = run_all_from_the_menu(page, timeout_s=240)
    cells = page.evaluate(CODE_CELLS_JS)
    errors = [(i, o["ename"], o["evalue"]) for i, c in enumerate(cells) for o in error_outputs(c)]
    assert not errors, errors
    assert [c["count"] for c in cells] == list(range(1, len(cells) + 1)), f"not every cell ran ({seconds:.0f} s)"
    stderr = [o["text"] for c in cells for o in c["outputs"]
              if o["output_type"] == "stream" and o["name"] == "stderr"]
    assert not stderr, stderr
    assert any("image/png" in o.get("data", {}) for c in cells for o in c["outputs"])
    assert page.locator(".jp-OutputArea-output img").count() > 0
    saved = save(page, lab, path)
    assert '"output_type"' in saved                       # the file on disk keeps its outputs ...
    assert nbstrip.clean(saved) == (ROOT / path).read_text()  # ... and git sees the committed text
    assert git(lab.course, "status", "--porcelain", "--", path) == ""
