"""The nbgrader course the grader works with: its configuration, gradebooks and a template.

Every stage that drives nbgrader gets these from here: the instructor's ``nbgrader_config.py``
without the paths the grader sets itself, an empty gradebook made in-process, and the
*template* course (``source/<assignment>``, its release and the gradebook
``nbgrader generate_assignment`` makes) that every worker copies and the record stage reads.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile

#: The nbgrader course id of the workers' course copies and of the output folder.
COURSE_ID = "course"


def instructor_config(course: str):
    """The course's nbgrader_config.py, without what the grader sets itself."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    path = os.path.join(course, "nbgrader_config.py")
    if not os.path.exists(path):
        return Config()
    c = copy.deepcopy(PyFileConfigLoader("nbgrader_config.py", path=course).load_config())
    for key in ("CourseDirectory", "Exchange"):
        c.pop(key, None)
    return c


def venv_on_path() -> None:
    """nbgrader runs ``alembic`` (a console script) when it creates a gradebook: find ours."""
    bindir = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path


def new_gradebook(path: str) -> None:
    """An empty nbgrader gradebook at ``path``: nbgrader's tables and alembic version stamp.

    nbgrader makes the same when it opens a missing gradebook, but learns the version by
    running ``alembic heads`` in a subprocess (about 2 s); alembic's API reads it in-process.
    """
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from nbgrader.dbutil import ALEMBIC_DIR
    from sqlalchemy import create_engine, text
    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    engine = create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(bind=engine)
        with engine.begin() as con:
            con.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            con.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
    finally:
        engine.dispose()


def prepare_template(course: str, assignment: str, work: str) -> str:
    """A course copy with ``source/<assignment>``, its release and a gradebook from
    ``generate_assignment`` (nbgrader's Python API, in-process)."""
    from nbgrader.apps import NbGraderAPI
    venv_on_path()
    template = os.path.join(work, "template")
    shutil.rmtree(template, ignore_errors=True)
    os.makedirs(os.path.join(template, "source"))
    shutil.copytree(os.path.join(course, "source", assignment), os.path.join(template, "source", assignment),
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    c = instructor_config(course)
    c.CourseDirectory.root = template
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.db_url = f"sqlite:///{os.path.join(template, 'gradebook.db')}"
    c.Application.log_level = "WARN"
    new_gradebook(os.path.join(template, "gradebook.db"))
    r = NbGraderAPI(config=c).generate_assignment(assignment, force=True)
    if not r.get("success"):
        raise RuntimeError(f"nbgrader generate_assignment failed for {assignment}:\n{r.get('error') or r.get('log')}")
    return template


def make_template_gradebook(course: str, assignment: str, dest: str) -> str:
    """``dest``: the gradebook ``nbgrader generate_assignment`` makes for ``assignment``
    (its notebook, grade, solution and source cells with their checksums), nothing else."""
    with tempfile.TemporaryDirectory(prefix="template-") as work:
        template = prepare_template(course, assignment, work)
        shutil.copy(os.path.join(template, "gradebook.db"), dest)
    return dest
