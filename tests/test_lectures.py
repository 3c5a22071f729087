"""Every lecture notebook runs top to bottom in a fresh kernel, cleanly.

"Cleanly" is what a student sees: no error, nothing on stderr (a stray warning
is noise a beginner cannot judge), and at least one figure, since every lecture
is built around its plots.
"""
import json
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "lectures").glob("[0-9][0-9]_*.ipynb"))
EXPECTED_NUMBERS = ["01", "02", "03", "04", "05", "06"]


def test_the_six_lectures_are_there_in_order():
    assert [p.name[:2] for p in LECTURES] == EXPECTED_NUMBERS


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_lecture_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; strip them"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_lecture_executes_without_errors_or_stderr_and_draws_figures(path, kernel_sockets):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=180, config=kernel_sockets.config(),
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()

    errors, stderr, figures = [], [], 0
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                errors.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                stderr.append(f"cell {index}: {output.text.strip()[:300]}")
            elif "image/png" in output.get("data", {}):
                figures += 1
    assert not errors, "\n".join(errors)
    assert not stderr, "notebook wrote to stderr:\n" + "\n".join(stderr)
    assert figures >= 1, f"{path.name} drew no figure"
