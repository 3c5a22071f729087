"""`make lab` where the instructor has set up an nbgrader exchange, in headless Chromium.

Students then get nbgrader's *Nbgrader → Assignment List* (fetch, submit), and nothing else of
nbgrader's menu: with the formgrader and course-list plugins disabled their commands do not
exist, and JupyterLab hides menu items whose commands do not exist. (Without an exchange the
menu is not there at all: test_browser_notebooks.py.)
"""
import pathlib
import shutil
import tempfile

import pytest

from test_browser_notebooks import HAS_COMMANDS_JS, RELEASE, ROOT, launch_chromium, menu_bar, require_chromium
from test_lab import LabServer, copy_course

COURSE_ID = "dlcourse-optimizers"


@pytest.fixture(scope="module")
def lab_with_exchange():
    require_chromium()
    base = pathlib.Path(tempfile.mkdtemp(prefix="browser-exchange-"))
    outbound = base / "exchange" / COURSE_ID / "outbound" / "optimizers"   # as release_assignment leaves it
    outbound.mkdir(parents=True)
    shutil.copy2(ROOT / RELEASE, outbound / "optimizers.ipynb")
    course = copy_course(base / "course")
    home = base / "home"
    (home / ".jupyter").mkdir(parents=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(base / 'exchange')!r}\n")
    with LabServer(course, home, tcp=True, extra_args=["--LabApp.expose_app_in_browser=True"]) as server:
        yield server
    shutil.rmtree(base, ignore_errors=True)


def test_students_get_the_assignment_list_and_only_it(lab_with_exchange):
    from playwright.sync_api import sync_playwright
    lab = lab_with_exchange
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, lab.home / "chromium-profile")
        try:
            page = context.new_page()
            page.goto(f"{lab.url}/?token={lab.token}")
            page.locator(".jp-RenderedMarkdown h1").first.wait_for(timeout=60_000)
            assert "Nbgrader" in menu_bar(page)
            page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
            items = page.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel").all_inner_texts()
            assert items == ["Assignment List"]
            page.get_by_role("menuitem", name="Assignment List").click()
            listing = page.locator("#nbgrader-assignment-list")
            listing.get_by_role("button", name="Fetch").first.wait_for(timeout=60_000)
            text = listing.inner_text()
            assert "Released assignments" in text and "optimizers" in text and COURSE_ID in text
            assert page.locator("#nbgrader-create_assignemnt").count() == 0    # (sic) nbgrader's sidebar id
            assert page.evaluate(HAS_COMMANDS_JS) == {"nbgrader:open-assignment-list": True,
                                                      "nbgrader:open-formgrader": False,
                                                      "nbgrader:open-course-list": False,
                                                      "nbgrader:open-create-assignment": False}
        finally:
            context.close()
