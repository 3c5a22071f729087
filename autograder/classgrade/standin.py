"""A tiny stand-in nbgrader course ("toy": SGD and Momentum) for testing the class grader fast.

``make_course(root)`` writes ``root/course/source/toy/toy.ipynb`` and ``root/lib/toychecks.py``
(a checks module with the same protocol as :mod:`autograder.checks`: ``REFERENCES``,
``scenarios(name, which)``, ``run_trajectory(cls, scenario)``, and ``check(cls, name)`` for the
notebook's test cells). Put ``root/lib`` on ``PYTHONPATH`` and grade with ``--checks toychecks``.
"""

from __future__ import annotations

import os

import nbformat

TOYCHECKS = '''"""Checks for the toy assignment (stand-in for autograder.checks)."""
import numpy as np


class SGD:
    def __init__(self, lr=0.1):
        self.lr = lr

    def update(self, params, grads):
        for k in params:
            params[k] -= self.lr * grads[k]


class Momentum:
    def __init__(self, lr=0.1, momentum=0.9):
        self.lr, self.momentum, self.state = lr, momentum, {}

    def update(self, params, grads):
        for k in params:
            v = self.state.setdefault(k, np.zeros_like(params[k]))
            v *= self.momentum
            v -= self.lr * grads[k]
            params[k] += v


REFERENCES = {"SGD": SGD, "Momentum": Momentum}


def scenarios(name, which="all"):
    seeds = [0, 1] if which == "visible" else [0, 1, 2]
    return [{"seed": s, "steps": 15} for s in seeds]


def run_trajectory(cls, scenario):
    rng = np.random.default_rng(scenario["seed"])
    opt = cls(lr=0.05)
    params = {"w": rng.normal(size=3)}
    out = [params["w"].copy()]
    for _ in range(scenario["steps"]):
        opt.update(params, {"w": 2 * params["w"] + 0.1})
        out.append(np.array(params["w"], dtype=np.float64))
    return np.array(out)


def check(cls, name):
    for sc in scenarios(name, "visible"):
        got = run_trajectory(cls, sc)
        want = run_trajectory(REFERENCES[name], sc)
        assert np.allclose(got, want), f"{name} diverged"
    print(f"{name}: ok")
'''

SGD_SOLUTION = '''class SGD:
    def __init__(self, lr=0.1):
        self.lr = lr

    def update(self, params, grads):
        ### BEGIN SOLUTION
        for name, p in params.items():
            p -= self.lr * grads[name]
        ### END SOLUTION
'''

MOMENTUM_SOLUTION = '''class Momentum:
    def __init__(self, lr=0.1, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.velocity = {}

    def update(self, params, grads):
        ### BEGIN SOLUTION
        for name, p in params.items():
            if name not in self.velocity:
                self.velocity[name] = np.zeros_like(p)
            self.velocity[name] = self.momentum * self.velocity[name] - self.lr * grads[name]
            p += self.velocity[name]
        ### END SOLUTION
'''


def _cell(kind, source, **nbg):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    meta = {"schema_version": 3, "grade": False, "solution": False, "locked": False}
    meta.update(nbg)
    cell.metadata["nbgrader"] = meta
    return cell


def make_course(root: str) -> tuple[str, str]:
    """Write the toy course; returns (course dir, lib dir for PYTHONPATH)."""
    course = os.path.join(root, "course")
    lib = os.path.join(root, "lib")
    os.makedirs(os.path.join(course, "source", "toy"), exist_ok=True)
    os.makedirs(lib, exist_ok=True)
    with open(os.path.join(lib, "toychecks.py"), "w") as fh:
        fh.write(TOYCHECKS)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        _cell("markdown", "# Toy assignment\nWrite `SGD` and `Momentum`.", grade_id="intro", locked=True),
        _cell("code", "import numpy as np\nfrom toychecks import check", grade_id="setup", locked=True),
        _cell("code", SGD_SOLUTION, grade_id="sgd", solution=True),
        _cell("code", 'check(SGD, "SGD")', grade_id="test_sgd", grade=True, locked=True, points=2),
        _cell("code", MOMENTUM_SOLUTION, grade_id="momentum", solution=True),
        _cell("code", 'check(Momentum, "Momentum")\n### BEGIN HIDDEN TESTS\nassert Momentum().momentum == 0.9\n'
              '### END HIDDEN TESTS', grade_id="test_momentum", grade=True, locked=True, points=3),
    ]
    nbformat.write(nb, os.path.join(course, "source", "toy", "toy.ipynb"))
    with open(os.path.join(course, "nbgrader_config.py"), "w") as fh:
        fh.write("c = get_config()\nc.CourseDirectory.course_id = 'toy'\n")
    return course, lib
