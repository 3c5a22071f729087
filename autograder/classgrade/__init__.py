"""Grade a whole class with nbgrader, in parallel, sandboxed, with a class report.

Entry point: ``python -m autograder grade ...`` (see :mod:`autograder.__main__`), or
:func:`autograder.classgrade.runner.grade_class` from Python.
"""
