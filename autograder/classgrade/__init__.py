"""Grade a whole class with nbgrader, in parallel, sandboxed, with a class report.

Entry point: ``python -m autograder grade ...`` (see :mod:`autograder.__main__`), or
:func:`autograder.classgrade.pipeline.grade_class` from Python. One module per stage: collect, read,
scan, execute, verify (with recorder and remote), decide, record, feedback, report, pool, worker.
"""
