"""Optimizer bodies real people wrote, graded with the verdict and the diagnosis they deserve.

The code is in ``tests/real_implementations/`` (one module per source, each naming its
repository and path). A correct one passes every scenario, visible, fixed hidden and drawn
from a seed; a wrong one fails, and when its deviation is known the report names it,
measured over every scenario (``mistake_certain``), already in the visible tests. One
(FER2's Adam, beta2 = 0.995) deviates in a way no measured variant explains: it fails with
the numbers only, and no diagnosis is made up for it.
"""
import importlib

import pytest

from autograder import check

PASS = None
REAL = [  # (module, class, target, expected diagnosis: None = passes, "" = fails undiagnosed)
    ("dlfs", "SGD", "SGD", PASS),
    ("dlfs", "Momentum", "Momentum", PASS),
    ("dlfs", "Nesterov", "Nesterov", "nesterov-dlfs"),
    ("dlfs", "AdaGrad", "AdaGrad", "adagrad-hard-coded(eps=1e-07)"),
    ("dlfs", "RMSprop", "RMSprop", "rmsprop-hard-coded(eps=1e-07)"),
    ("dlfs", "Adam", "Adam", "adam-hard-coded(eps=1e-07)"),         # on the efficient form
    ("cs231n_kaituoxu", "Momentum", "Momentum", PASS),
    ("cs231n_kaituoxu", "RMSprop", "RMSprop", "rmsprop-hard-coded(eps=1e-07)"),
    ("cs231n_kaituoxu", "Adam", "Adam", PASS),
    ("cs231n_fortileizhang", "Adam", "Adam", PASS),                # efficient form
    ("deeplearning_ai", "Momentum", "Momentum", "momentum-dampened"),
    ("deeplearning_ai", "Adam", "Adam", PASS),
    ("d2l", "Momentum", "Momentum", PASS),                          # b = mu*b + g form
    ("d2l", "AdaGrad", "AdaGrad", "adagrad-eps-inside-sqrt+hard-coded(eps=1e-06)"),
    ("d2l", "RMSprop", "RMSprop", "rmsprop-eps-inside-sqrt+hard-coded(eps=1e-06)"),
    ("d2l", "Adadelta", "Adadelta", "adadelta-hard-coded(lr=1,eps=1e-05)"),
    ("d2l", "Adam", "Adam", "adam-hard-coded(beta1=0.9,beta2=0.999,eps=1e-06)"),
    ("keras", "Momentum", "Momentum", PASS),
    ("keras", "Nesterov", "Nesterov", PASS),                        # theta += mu*v - lr*g
    ("keras", "AdaGrad", "AdaGrad", "adagrad-eps-inside-sqrt+adagrad-initial-accumulator"),
    ("keras", "RMSprop", "RMSprop", "rmsprop-eps-inside-sqrt"),
    ("keras", "Adam", "Adam", PASS),
    ("keras", "AdaMax", "AdaMax", "adamax-eps-outside-max"),
    ("numpy_ml", "Momentum", "Momentum", PASS),
    ("numpy_ml", "AdaGrad", "AdaGrad", PASS),
    ("numpy_ml", "RMSprop", "RMSprop", PASS),
    ("numpy_ml", "Adam", "Adam", PASS),
    ("skillup_tettei", "Adam", "Adam", "adam-hard-coded(eps=1e-08)"),
    ("fer2_matlab", "Adam", "Adam", ""),
]


def load(module, name):
    return getattr(importlib.import_module(f"tests.real_implementations.{module}"), name)


def flat(text):
    return " ".join(str(text).split())


@pytest.mark.parametrize("module, name, target, diagnosis", REAL, ids=lambda v: str(v))
def test_a_real_implementation_gets_its_verdict_and_diagnosis(module, name, target, diagnosis):
    cls = load(module, name)
    graded = check(cls, target, "all")
    visible = check(cls, target, "visible")
    if diagnosis is PASS:
        assert graded.passed and visible.passed, graded.report()
        assert check(cls, target, "hidden", seed=2027).passed
        return
    assert not graded.passed and not visible.passed
    if diagnosis == "":
        assert graded.mistake is None and visible.mistake is None, graded.report()
        return
    for result in (graded, visible):
        assert result.mistake == diagnosis and result.mistake_certain, result.report()
        assert f"[{diagnosis}]" in str(result) and flat(result.hint) in flat(result)


def test_the_collection_covers_what_the_issue_found_in_real_code():
    """Hard-coded eps (1e-7 DLFS/CS231n, 1e-6 d2l, 1e-8), fixed betas, other courses'
    conventions and two deviations at once are all represented, passes too."""
    diagnoses = [d for *_, d in REAL]
    assert sum(d is PASS for d in diagnoses) >= 10
    assert sum(bool(d) and "hard-coded" in d for d in diagnoses) >= 8
    assert {"momentum-dampened", "nesterov-dlfs", "rmsprop-eps-inside-sqrt", "adamax-eps-outside-max"} <= set(diagnoses)
    assert sum(bool(d) and "+" in d for d in diagnoses) >= 3
