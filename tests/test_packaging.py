"""The repository's set-up promises: one environment, two commands, clean notebooks."""
import json
import pathlib
import re
import subprocess
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _requirement_name(spec):
    return re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0].lower()


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _conda_dependencies():
    """The conda and pip entries of environment.yml (a flat YAML list, parsed by hand
    so this test needs no YAML library)."""
    conda, pip, in_pip = [], [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if re.match(r"^  - pip:\s*$", stripped):
            in_pip = True
        elif m := re.match(r"^      - (.+)$", stripped):
            assert in_pip, f"nested entry outside the pip list: {line!r}"
            pip.append(m.group(1).strip())
        elif m := re.match(r"^  - (.+)$", stripped):
            in_pip = False
            conda.append(m.group(1).strip())
    return conda, pip


def test_environment_yml_matches_pyproject_runtime_dependencies():
    conda, pip = _conda_dependencies()
    conda_specs = {_requirement_name(s): s.replace(" ", "") for s in conda}
    assert conda_specs.get("python", "").startswith("python=3.11")
    assert "-e ." in pip, "environment.yml must install the course itself with pip"
    for spec in _pyproject()["project"]["dependencies"]:
        name = _requirement_name(spec)
        assert name in conda_specs, f"{name} is in pyproject.toml but not environment.yml"
        assert conda_specs[name] == spec.replace(" ", ""), (
            f"version bounds differ for {name}: {conda_specs[name]!r} vs {spec!r}")


def test_environment_yml_lists_the_course_packages():
    conda, _ = _conda_dependencies()
    names = {_requirement_name(s.split("=")[0]) for s in conda}
    for needed in ["python", "numpy", "matplotlib", "jupyterlab", "nbgrader", "pytest",
                   "ipywidgets", "tqdm"]:
        assert needed in names, f"environment.yml lacks {needed}"


def test_torch_is_never_a_runtime_dependency():
    project = _pyproject()["project"]
    runtime = [_requirement_name(s) for s in project["dependencies"]]
    assert "torch" not in runtime
    for path in (ROOT / "dlcourse").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+torch\b", path.read_text(), re.M), (
            f"{path.relative_to(ROOT)} imports torch; the course must run without it")


def test_makefile_offers_the_readme_commands_and_bootstraps_the_venv():
    makefile = (ROOT / "Makefile").read_text()
    for target in ["demo", "test", "lab", "release", "grade"]:
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile lacks `{target}`"
    assert "-m venv" in makefile and "torch==2.13.0" in makefile
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make demo") < readme.index("make test"), (
        "the README's first command is `make demo`, its second `make test`")
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_committed_notebooks_carry_no_outputs():
    listed = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT,
                            capture_output=True, text=True).stdout.split()
    dirty = []
    for name in listed:
        nb = json.loads((ROOT / name).read_text())
        if any(c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
               for c in nb["cells"]):
            dirty.append(name)
    assert not dirty, f"notebooks committed with outputs: {dirty}"
