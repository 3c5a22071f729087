"""The class report: numbers over graded rows only, flags in the CSV's words, links that resolve,
a table that sorts (checked in headless Chromium)."""
import csv
import html
import os
import re
import shutil
import tempfile
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from autograder.classgrade import record, report
from autograder.classgrade.outcome import Status

from classresults import make_class, place_worker_files, run_info, spec

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("out"))
    s = spec()
    results, unmatched = make_class(s)
    place_worker_files(out, results, s)
    run = run_info(template=None)
    record.write_grades_csv(os.path.join(out, "grades.csv"), s, results)
    path = report.write_class_report(os.path.join(out, "report.html"), s, results, unmatched, run)
    with open(path, encoding="utf-8") as fh:
        page = fh.read()
    return {"out": out, "spec": s, "results": results, "unmatched": unmatched, "run": run, "path": path,
            "page": page}


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def row_of(page: str, attr: str, value: str) -> str:
    m = re.search(rf"<tr {attr}='{re.escape(value)}'>(.*?)</tr>", page, re.S)
    assert m, f"no row {attr}={value}"
    return m.group(1)


def test_counts_and_means_leave_out_missing_invalid_and_not_graded(built):
    page, s = built["page"], built["spec"]
    counts = dict(re.findall(r"data-count='([^']+)'>(\d+)<", page))
    assert counts == {"students": "7", "rostered": "6", "submitted": "6", "graded": "4", "missing": "1",
                      "invalid": "1", "not graded": "1", "not on roster": "1", "needs review": "5"}
    graded = [r.score for r in built["results"] if r.status is Status.GRADED]
    assert f"over the 4 graded submissions: {sum(graded) / 4:.1f} / {s.max_score:g}" in page
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row_of(page, "data-part", "test_adam"))
    assert cells[2:5] == [f"{15 * 3 / 4:.1f}", "75%", "100%"]      # bob's Adam is wrong, not unattempted
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row_of(page, "data-part", "test_cosine"))
    assert cells[3:5] == ["75%", "75%"]                             # bob left cosine as released


def test_mistakes_are_named_counted_and_linked_to_a_real_lecture_heading(built):
    """Each diagnosed mistake shows its catalogue title and count and links to a heading that
    exists in the lecture notebook (the anchor made from that heading's text)."""
    page, out = built["page"], built["out"]
    adam = row_of(page, "data-part", "test_adam")
    assert "no bias correction" in adam and "adam-no-bias-correction" in adam and "× 1" in adam
    links = re.findall(r"<a class='lecture' href='([^']+)'>", page)
    assert len(links) == 2     # Adam's and SGD's mistakes
    for href in links:
        target, frag = html.unescape(href).split("#")
        nb_path = os.path.normpath(os.path.join(out, target))
        assert os.path.exists(nb_path), nb_path
        headings = [line.lstrip("#").strip() for c in nbformat.read(nb_path, as_version=4).cells
                    if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("#")]
        assert frag in {report.anchor(h) for h in headings}, (frag, nb_path)


def test_every_lecture_section_in_the_map_is_a_real_heading():
    for key, (notebook, heading) in report.LECTURE_SECTIONS.items():
        nb = nbformat.read(os.path.join(report.LECTURES_DIR, notebook), as_version=4)
        headings = {line.lstrip("#").strip() for c in nb.cells if c.cell_type == "markdown"
                    for line in c.source.splitlines() if line.startswith("#")}
        assert heading in headings, (key, notebook, heading)


def test_flags_use_the_csv_words_and_say_what_to_do(built):
    page = built["page"]
    lines = [text_of(x) for x in re.findall(r"<td class='flag-line'>(.*?)</td>", page)]
    with open(os.path.join(built["out"], "grades.csv"), newline="", encoding="utf-8") as fh:
        csv_lines = [line for row in csv.DictReader(fh) for line in row["reason"].split("\n") if line]
    assert sorted(lines) == sorted(csv_lines)
    for r in built["results"]:
        for f in r.flags:
            assert html.escape(f.kind.action) in page, f.kind


def test_run_details_and_unmatched_uploads_are_shown(built):
    page, run = built["page"], built["run"]
    assert html.escape(run.sandbox) in page and "memory_mb 3072" in page and "seed 1234" in page
    assert "optimizers_final.ipynb" in page and "Unmatched uploads (1)" in page


def test_the_page_is_self_contained(built):
    page = built["page"]
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)
    assert page.count("data:image/png;base64,") == 2


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    profile = tempfile.mkdtemp(prefix="report-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)


def test_in_chromium_feedback_links_resolve_and_the_table_sorts(built, browser):
    page = browser.new_page()
    requested = []
    page.on("request", lambda req: requested.append(req.url))
    page.goto("file://" + built["path"])
    hrefs = page.eval_on_selector_all("#students a.feedback", "els => els.map(a => a.href)")
    expected = {r.student_id for r in built["results"] if r.feedback}
    assert len(hrefs) == len(expected) == 7
    for href in hrefs:
        assert os.path.isfile(unquote(urlparse(href).path)), href
    page.click("#students a.feedback >> nth=0")
    assert page.locator("h1").inner_text().startswith("feedback for ")
    page.go_back()

    def column(i):
        return page.eval_on_selector_all(f"#students tbody tr td:nth-child({i})", "tds => tds.map(t => t.dataset.key)")

    page.click("#students th:has-text('score')")
    scores = column(4)
    numeric = [float(x) for x in scores if x != ""]
    assert scores[0] == "" and numeric == sorted(numeric)          # not graded first, then ascending
    page.click("#students th:has-text('score')")
    scores = column(4)
    assert [float(x) for x in scores if x != ""] == sorted(numeric, reverse=True) and scores[-1] == ""
    page.click("#students th:has-text('id')")
    ids = column(1)
    assert ids == sorted(ids, key=str.lower) or ids == sorted(ids)
    assert all(u.startswith(("file:", "data:")) for u in requested), requested
    page.close()


def test_the_readme_lists_every_flag_with_its_action():
    """The instructor guide's flag table says what flags.py says (one vocabulary everywhere)."""
    from autograder.classgrade.flags import Kind
    readme = open(os.path.join(os.path.dirname(report.LECTURES_DIR), "README.md"), encoding="utf-8").read()
    for kind in Kind:
        assert f"| `{kind.label}` | {kind.severity.name.lower()} | {kind.action} |" in readme, kind


def test_in_chromium_a_unicode_id_links_its_feedback_page(tmp_path, browser):
    """Ids are not only ASCII letters (a roster may hold "zoë #2"): the link is URL-quoted."""
    from autograder.classgrade.decide import Identity, decide
    s = spec()
    r = decide(Identity("zoë #2", "Zoë", "Ünïcode"), s.parts, collected=Status.MISSING)
    place_worker_files(str(tmp_path), [r], s)
    path = report.write_class_report(str(tmp_path / "report.html"), s, [r], [], run_info())
    page = browser.new_page()
    page.goto("file://" + path)
    href = page.eval_on_selector("#students a.feedback", "a => a.href")
    assert os.path.isfile(unquote(urlparse(href).path)), href
    page.close()
