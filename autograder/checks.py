r"""Check a student's optimizer, EWMA or schedule against the ``dlcourse`` reference.

Three pieces, usable separately (the class-grading command runs (b) in a sandboxed
subprocess and (a), (c) in the parent):

(a) :func:`scenarios` ``(name, which, seed=None)`` -> list of :class:`Scenario`: scripted,
    deterministic inputs (plain data: numbers, strings, NumPy arrays; picklable); the
    hidden ones drawn from ``seed`` at grading time when it is given.
(b) :func:`run_trajectory` ``(cls_or_fn, scenario)`` -> :class:`Trajectory`: runs
    code over a scenario and records float64 copies of what it produced, plus every
    contract violation, exception and warning, as plain data
    (:meth:`Trajectory.to_dict` / :meth:`Trajectory.from_dict` for JSON).
(c) :func:`compare` ``(name, scenario, student_traj)`` -> :class:`CheckResult` for one
    scenario, and :func:`compare_all` ``(name, scenarios, student_trajs)`` for a whole
    check, with the mistake diagnosis (:mod:`autograder.mistakes`, imported only here:
    (a) and (b) never load the catalogue).

:func:`check_optimizer`, :func:`check_ewma` and :func:`check_schedule` are (a)+(b)+(c)
in-process; they are what the notebook's test cells call.

What a scenario checks. Optimizers: a vector, a matrix and a (1,)-shaped parameter,
float64 and float32, 30 to 150 steps, non-default hyperparameters, zero and tiny
gradients, two parameters in one dict, two optimizer instances at once, lr changed
between steps. After every ``update`` call: the arrays in ``params`` are the same
objects (updated in place), exact ``np.ndarray`` with dtype and shape kept, and the
gradients are untouched. Values are compared as displacements θₜ − θ₀ with
``|got − expected| <= rtol·|expected| + atol``, atol scaled to the trajectory (see
:class:`Scenario`), so round-off from a correct but different-looking form passes.

Trust nothing the student hands back: values are recorded only from exact
``np.ndarray`` objects (or exact Python/NumPy scalars), copied as float64; anything
else (a list, an ndarray subclass, an object whose ``__eq__`` always says True) is
recorded as NaN with a violation.

Warnings raised by student code are caught (``warnings.catch_warnings`` with
``np.errstate(all="warn")``) and reported in the result on stdout: nbgrader gives a
graded cell zero when anything reaches stderr.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import io
import linecache
import os
import traceback
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from autograder.result import CheckResult


def _catalogue():
    """The mistake catalogue, imported only where a verdict is computed.

    It is grader-side knowledge (DESIGN.md): generating scenarios and recording a
    trajectory (what a sandboxed recorder imports) must not load it, since a catalogue
    variant with its flag off is a correct implementation.
    """
    from autograder import mistakes
    return mistakes

__all__ = [
    "Scenario", "Trajectory", "OPTIMIZER_NAMES", "SCHEDULE_NAMES", "TARGETS", "PARTS",
    "scenarios", "run_trajectory", "reference", "reference_trajectory",
    "compare", "compare_all", "check_optimizer", "check_ewma", "check_schedule", "check",
]

OPTIMIZER_NAMES = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adadelta",
                   "Adam", "AdaMax", "Nadam")
SCHEDULE_NAMES = ("step_decay", "cosine")
TARGETS = ("EWMA",) + OPTIMIZER_NAMES + SCHEDULE_NAMES

#: The graded parts of the ``optimizers`` assignment, in notebook order:
#: (test cell grade_id, solution cell grade_id, target, the student's class/function name, points).
#: AdaMax and Nadam are the bonus parts. A test checks this against the source notebook.
PARTS = (
    ("test_ewma", "ewma", "EWMA", "EWMA", 10),
    ("test_sgd", "sgd", "SGD", "SGD", 5),
    ("test_momentum", "momentum", "Momentum", "Momentum", 10),
    ("test_nesterov", "nesterov", "Nesterov", "Nesterov", 10),
    ("test_adagrad", "adagrad", "AdaGrad", "AdaGrad", 10),
    ("test_rmsprop", "rmsprop", "RMSprop", "RMSprop", 10),
    ("test_adadelta", "adadelta", "Adadelta", "Adadelta", 10),
    ("test_adam", "adam", "Adam", "Adam", 15),
    ("test_adamax", "adamax", "AdaMax", "AdaMax", 5),
    ("test_nadam", "nadam", "Nadam", "Nadam", 5),
    ("test_step_decay", "step_decay", "step_decay", "step_decay", 10),
    ("test_cosine", "cosine", "cosine", "cosine", 10),
)

#: Hyperparameters every scenario passes explicitly (the notebook's constructors take them).
#: Written out rather than read from dlcourse.optim's signatures: the out-of-kernel check
#: runs scenarios where the reference library is hidden. A test ties the two together.
DEFAULTS = {
    "SGD": dict(lr=0.01),
    "Momentum": dict(lr=0.01, momentum=0.9),
    "Nesterov": dict(lr=0.01, momentum=0.9),
    "AdaGrad": dict(lr=0.01, eps=1e-8),
    "RMSprop": dict(lr=0.01, rho=0.99, eps=1e-8),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6),
    "Adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
    "AdaMax": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8),
    "Nadam": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3),
}
#: Non-default settings (kept moderate so that every mistake still shows).
OTHER = {
    "SGD": dict(lr=0.05),
    "Momentum": dict(lr=0.03, momentum=0.8),
    "Nesterov": dict(lr=0.03, momentum=0.8),
    "AdaGrad": dict(lr=0.1, eps=1e-7),
    "RMSprop": dict(lr=0.02, rho=0.9, eps=1e-7),
    "Adadelta": dict(lr=0.5, rho=0.8, eps=1e-5),
    "Adam": dict(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-7),
    "AdaMax": dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-7),
    "Nadam": dict(lr=0.01, beta1=0.85, beta2=0.99, eps=1e-7, momentum_decay=6e-3),
}
_WHICH = ("visible", "hidden", "all")

#: Values public code commonly writes as literals where a hyperparameter belongs: the
#: assignment's defaults and those of torch.optim, Keras, Deep Learning from Scratch
#: (DLFS), d2l, CS231n and numpy-ml. The "hard-coded hyperparameter" diagnosis
#: (:mod:`autograder.mistakes`) measures exactly these constants, and hidden scenarios drawn
#: from a seed keep their hyperparameters away from them, so a constant always shows.
COMMON_DEFAULTS = {
    "EWMA": {"beta": (0.9,)},                                   # Ng's lectures, the assignment
    "SGD": {"lr": (0.01, 1e-3)},                                # assignment, Keras SGD; Keras Adam-style 1e-3
    "Momentum": {"lr": (0.01,), "momentum": (0.9,)},            # DLFS, CS231n, torch docs
    "Nesterov": {"lr": (0.01,), "momentum": (0.9,)},
    "AdaGrad": {"lr": (0.01, 1e-3),                             # torch / Keras
                "eps": (1e-10, 1e-8, 1e-7, 1e-6)},              # torch, assignment, Keras/DLFS/numpy-ml, d2l
    "RMSprop": {"lr": (0.01, 1e-3),
                "rho": (0.99, 0.9),                             # torch/DLFS/CS231n; Keras/d2l/numpy-ml
                "eps": (1e-8, 1e-7, 1e-6)},                     # torch/CS231n; Keras/DLFS; d2l
    "Adadelta": {"lr": (1.0, 1e-3),                             # torch (d2l has no lr); Keras
                 "rho": (0.9, 0.95),                            # torch/d2l; Keras/Zeiler 2012
                 "eps": (1e-6, 1e-7, 1e-5)},                    # torch; Keras; d2l
    "Adam": {"lr": (1e-3,), "beta1": (0.9,), "beta2": (0.999,),
             "eps": (1e-8, 1e-7, 1e-6)},                        # torch/CS231n/Kingma & Ba; Keras/DLFS; d2l
    "AdaMax": {"lr": (2e-3, 1e-3), "beta1": (0.9,), "beta2": (0.999,), "eps": (1e-8, 1e-7)},
    "Nadam": {"lr": (2e-3, 1e-3), "beta1": (0.9,), "beta2": (0.999,), "eps": (1e-8, 1e-7),
              "momentum_decay": (4e-3,)},                       # torch NAdam; Keras 1e-3, 1e-7
}


# ============================================================================ (a) scenarios
@dataclass(frozen=True)
class Scenario:
    """Scripted input for one run. Plain data: picklable, no callables.

    target : "Adam", "EWMA", "step_decay", ...
    kind : "optimizer", "ewma" or "schedule".
    name : short title shown in results; unique within a target.
    visibility : "visible" (students run it) or "hidden" (grading only).
    hyper : keyword arguments for the constructor (optimizer, EWMA) or the function (schedule).
    instances : how many optimizer instances run side by side.
    params : optimizer: ((instance, name, initial array), ...).
    steps : optimizer: ((lr or None, ((instance, name, grad array), ...)), ...), lr set on
        every instance before the step when not None; ewma: (x, ...); schedule: (epoch, ...).
    rtol : relative tolerance on each value.
    atol : absolute tolerance, as a fraction of the largest |expected value| of that
        parameter over the run (displacement for optimizers).
    atol_param : extra absolute tolerance, as a fraction of the largest |parameter| (round-off in θ).
    description : one line, for messages.
    seed : None for the fixed scenarios; for hidden scenarios drawn at grading time, the
        seed they were drawn from (never printed: the student does not see it).
    """

    target: str
    kind: str
    name: str
    visibility: str
    hyper: dict
    instances: int = 1
    params: tuple = ()
    steps: tuple = ()
    rtol: float = 1e-6
    atol: float = 1e-9
    atol_param: float = 1e-13
    description: str = ""
    seed: int | None = None

    @property
    def key(self):
        return (self.target, self.seed, self.name)

    @property
    def lr_changes(self) -> bool:
        """True when the scenario sets a new lr between steps."""
        return self.kind == "optimizer" and any(lr is not None for lr, _ in self.steps)

    def keys(self):
        """Trajectory keys, in order: "w" (one instance) or "#2 w" (several)."""
        return [_key(self, i, n) for i, n, _ in self.params]


def _key(scenario, instance, name):
    return name if scenario.instances == 1 else f"#{instance + 1} {name}"


def _grads(rng, shape, n, scale, drift=0.5, dtype=np.float64):
    mean = drift * rng.standard_normal(shape)
    return [((mean + rng.standard_normal(shape)) * scale).astype(dtype) for _ in range(n)]


def _optimizer_scenarios(name, drawn_from=None):
    """The fixed scenarios of one optimizer, or (``drawn_from`` = (seed, rng)) the hidden ones drawn."""
    D, O = DEFAULTS[name], OTHER[name]
    out = []

    def add(title, vis, hyper, shapes, n_steps, seed, instances=1, dtype=np.float64,
            scale=1.0, lrs=None, zero_steps=0, rtol=1e-6, atol=1e-9, atol_param=1e-13,
            zero_columns=False):
        rng = np.random.default_rng(seed) if drawn_from is None else drawn_from[1]
        params, per_step = [], [[] for _ in range(n_steps)]
        for i in range(instances):
            for pname, shape in shapes:
                params.append((i, pname, rng.standard_normal(shape).astype(dtype)))
                gs = _grads(rng, shape, n_steps, scale, dtype=dtype)
                for t in range(n_steps):
                    g = gs[t]
                    if t < zero_steps:
                        g = np.zeros_like(g)
                    if zero_columns and g.ndim:
                        g = g.copy()
                        g.reshape(-1)[::3] = 0.0
                    per_step[t].append((i, pname, g))
        lrs = lrs or [None] * n_steps
        steps = tuple((lrs[t], tuple(per_step[t])) for t in range(n_steps))
        args = ", ".join(f"{k}={v!r}" for k, v in hyper.items())
        shapes_txt = ", ".join(f"{p} {tuple(s)}" for p, s in shapes)
        who = f"{instances} optimizers {name}({args}) side by side" if instances > 1 else f"{name}({args})"
        desc = (f"{who}; params {shapes_txt} {np.dtype(dtype).name}; {n_steps} steps"
                + (f"; gradients ×{scale:g}" if scale != 1.0 else ""))
        out.append(Scenario(name, "optimizer", title, vis, dict(hyper), instances,
                            tuple(params), steps, rtol, atol, atol_param, desc,
                            None if drawn_from is None else drawn_from[0]))

    if drawn_from is not None:
        _drawn_optimizer_cases(name, drawn_from[1], add)
        return out
    base = sum(map(ord, name))
    add("one vector", "visible", D, [("w", (6,))], 40, base)
    add("two parameters in one dict", "visible", O, [("W", (3, 4)), ("V", (3, 4))], 30, base + 1)
    add("two optimizers at once", "visible", O, [("w", (5,))], 30, base + 2, instances=2)
    add("zero, then tiny gradients", "visible", D, [("w", (6,))], 40, base + 3,
        scale=1e-5, zero_steps=3, zero_columns=True)
    # hidden
    add("matrix and (1,)-shaped parameters", "hidden", O, [("W", (4, 3)), ("b", (1,))], 50, base + 4)
    add("float32", "hidden", O, [("w", (8,))], 40, base + 5, dtype=np.float32,
        rtol=2e-3, atol=2e-4, atol_param=2e-5)
    lrs = [None] * 45
    lrs[15], lrs[30] = O["lr"] * 0.5, O["lr"] * 0.2
    add("lr changed between steps", "hidden", O, [("w", (5,)), ("b", (1,))], 45, base + 6, lrs=lrs)
    add("many steps, tiny gradients, two parameters", "hidden", O, [("W", (2, 3)), ("c", (2, 3))],
        150, base + 7, scale=3e-6, zero_steps=5)
    add("two optimizers, matrix, zero gradients first", "hidden", D, [("W", (3, 2)), ("b", (1,))],
        60, base + 8, instances=2, zero_steps=4, zero_columns=True)
    return out


def _away_from(rng, draw, avoid, decay=False, factor=1.5, digits=3):
    """``draw(rng)`` rounded to ``digits`` significant digits, redrawn until no value in
    ``avoid`` is within ``factor`` of it (for decay rates: of 1 − value)."""
    for _ in range(200):
        value = float(f"{draw(rng):.{digits}g}")
        gap = (lambda a: abs(np.log((1 - value) / (1 - a)))) if decay else (lambda a: abs(np.log(value / a)))
        if all(gap(a) > np.log(factor) for a in avoid):
            return value
    raise RuntimeError("could not draw a hyperparameter away from the common constants")


_DECAYS = ("momentum", "rho", "beta1", "beta2", "beta")


def _drawn_hyper(rng, name):
    """Non-default hyperparameters within sane ranges, away from every common constant."""
    common = COMMON_DEFAULTS.get(name, {})
    defaults = DEFAULTS.get(name, {"beta": 0.9})
    # log10 ranges: of the value, or of 1 - value for decay rates
    ranges = {"lr": None, "momentum": (-1.3, -0.4), "beta1": (-1.5, -0.5), "beta2": (-3.3, -1.5),
              "eps": (-8.5, -5.5), "momentum_decay": (-2.7, -1.9), "beta": (-2.5, -0.3),
              "rho": (-1.5, -0.7) if name == "Adadelta" else (-2.3, -0.7)}
    out = {}
    for h, default in defaults.items():
        avoid = set(common.get(h, ())) | {default}
        if h == "lr":
            def draw(r, d=default):
                return d * 10 ** r.uniform(-0.6, 0.6)
        elif h in _DECAYS:
            def draw(r, lo_hi=ranges[h]):
                return 1 - 10 ** r.uniform(*lo_hi)
        else:
            def draw(r, lo_hi=ranges[h]):
                return 10 ** r.uniform(*lo_hi)
        out[h] = _away_from(rng, draw, avoid, decay=h in _DECAYS)
    return out


def _drawn_shape(rng, kind):
    if kind == "vector":
        return (int(rng.integers(3, 10)),)
    return (int(rng.integers(2, 6)), int(rng.integers(2, 6)))


def _drawn_optimizer_cases(name, rng, add):
    """Hidden scenarios drawn from ``rng``: the structure of the fixed hidden set (so every
    catalogued mistake still shows), with drawn shapes, step counts, hyperparameters,
    gradient scales, lr changes and zero-gradient runs (so precomputed answers cannot pass)."""
    D = DEFAULTS[name]

    def steps(lo, hi):
        return int(rng.integers(lo, hi + 1))

    def scale():
        return float(f"{10 ** rng.uniform(-1, 1):.3g}")

    salt = int(rng.integers(0, 2**31))
    add("matrix and (1,)-shaped parameters (drawn)", "hidden", _drawn_hyper(rng, name),
        [("W", _drawn_shape(rng, "matrix")), ("b", (1,))], steps(30, 60), salt, scale=scale())
    add("float32 (drawn)", "hidden", _drawn_hyper(rng, name), [("w", _drawn_shape(rng, "vector"))],
        steps(30, 50), salt + 1, dtype=np.float32, rtol=2e-3, atol=2e-4, atol_param=2e-5)
    n = steps(40, 60)
    hyper = _drawn_hyper(rng, name)
    lrs = [None] * n
    for t in sorted(rng.choice(np.arange(5, n - 5), size=2, replace=False)):
        lrs[int(t)] = float(f"{hyper['lr'] * 10 ** rng.uniform(-1, -0.1):.3g}")
    add("lr changed between steps (drawn)", "hidden", hyper,
        [("w", _drawn_shape(rng, "vector")), ("b", (1,))], n, salt + 2, lrs=lrs)
    add("many steps, tiny gradients, two parameters (drawn)", "hidden", _drawn_hyper(rng, name),
        [("W", _drawn_shape(rng, "matrix")), ("c", _drawn_shape(rng, "vector"))], steps(100, 160),
        salt + 3, scale=float(f"{10 ** rng.uniform(-6.3, -5.3):.3g}"), zero_steps=steps(2, 6))
    # at the defaults: mistakes that only show there (eps in the bias correction) still show
    add("two optimizers, matrix, zero gradients first (drawn)", "hidden", dict(D),
        [("W", _drawn_shape(rng, "matrix")), ("b", (1,))], steps(40, 70), salt + 4, instances=2,
        zero_steps=steps(2, 5), zero_columns=True)
    add("two optimizers, two parameters (drawn)", "hidden", _drawn_hyper(rng, name),
        [("W", _drawn_shape(rng, "matrix")), ("V", _drawn_shape(rng, "vector"))], steps(30, 50),
        salt + 5, instances=2, scale=scale())


def _drawn_ewma_scenarios(seed, rng):
    def beta():
        return _drawn_hyper(rng, "EWMA")["beta"]
    n = int(rng.integers(20, 61))
    b1 = beta()
    temps = tuple(float(x) for x in 10 + 5 * np.sin(np.arange(n) / rng.uniform(3, 9))
                  + rng.standard_normal(n))
    ints = tuple(int(v) for v in rng.integers(-9, 10, int(rng.integers(20, 50))))
    b2 = beta()
    shape = _drawn_shape(rng, "matrix")
    slow = float(f"{1 - 10 ** rng.uniform(-3, -2):.4g}")
    arrays = tuple(rng.standard_normal(shape) + rng.uniform(-3, 3) for _ in range(int(rng.integers(40, 80))))
    level, b3 = float(f"{rng.uniform(-5, 5):.3g}"), beta()
    cases = [("numbers (drawn)", b1, temps, f"{len(temps)} numbers (Python floats)"),
             ("integers (drawn)", b2, ints, f"{len(ints)} Python ints"),
             ("arrays, slow average (drawn)", slow, arrays, f"{len(arrays)} arrays of shape {shape}"),
             ("constant input (drawn)", b3, (level,) * int(rng.integers(20, 40)),
              f"copies of {level} (the average must be {level})")]
    return [Scenario("EWMA", "ewma", title, "hidden", dict(beta=b), steps=xs,
                     description=f"EWMA(beta={b!r}) over {what}", seed=seed)
            for title, b, xs, what in cases]


def _drawn_schedule_scenarios(name, seed, rng):
    lr0 = float(f"{10 ** rng.uniform(-2, 0):.3g}")
    if name == "step_decay":
        every = int(rng.integers(2, 13))
        factor = float(f"{rng.uniform(0.1, 0.9):.3g}")
        short = int(rng.integers(1, 4))
        cases = [("staircase (drawn)", dict(lr0=lr0, factor=factor, every=every),
                  range(0, every * int(rng.integers(3, 6)) + 1)),
                 ("short period (drawn)", dict(lr0=lr0, factor=float(f"{rng.uniform(0.3, 0.95):.3g}"),
                                               every=short), range(0, short * 6 + 1))]
    else:
        total = int(rng.integers(5, 61))
        lr_min = float(f"{lr0 * rng.uniform(0.01, 0.2):.3g}") if rng.random() < 0.5 else 0.0
        few = int(rng.integers(1, 4))
        cases = [("annealing (drawn)", dict(lr0=lr0, total=total, lr_min=lr_min),
                  range(0, total + int(rng.integers(3, 16)))),
                 ("a few epochs (drawn)", dict(lr0=lr0, total=few, lr_min=0.0), range(0, few + 3))]
    return [_schedule_scenario(name, title, "hidden", hyper, epochs, seed) for title, hyper, epochs in cases]


def _schedule_scenario(name, title, vis, hyper, epochs, seed=None):
    args = ", ".join(f"{k}={v!r}" for k, v in hyper.items())
    return Scenario(name, "schedule", title, vis, hyper, steps=tuple(epochs), rtol=1e-9, atol=1e-12,
                    description=f"{name}(epoch, {args}) for epochs {epochs.start}..{epochs.stop - 1}",
                    seed=seed)


def _ewma_scenarios():
    out = []
    rng = np.random.default_rng(17)
    temps = tuple(float(x) for x in 10 + 5 * np.sin(np.arange(40) / 6) + rng.standard_normal(40))
    out.append(Scenario("EWMA", "ewma", "numbers", "visible", dict(beta=0.9), steps=temps,
                        description="EWMA(beta=0.9) over 40 temperatures (Python floats)"))
    vecs = tuple(rng.standard_normal(3) + 2.0 for _ in range(35))
    out.append(Scenario("EWMA", "ewma", "arrays", "visible", dict(beta=0.98), steps=vecs,
                        description="EWMA(beta=0.98) over 35 arrays of shape (3,)"))
    out.append(Scenario("EWMA", "ewma", "beta 0.5, integers", "hidden", dict(beta=0.5),
                        steps=tuple(int(v) for v in rng.integers(-5, 6, 30)),
                        description="EWMA(beta=0.5) over 30 Python ints"))
    out.append(Scenario("EWMA", "ewma", "matrices, beta 0.999", "hidden", dict(beta=0.999),
                        steps=tuple(rng.standard_normal((2, 2)) for _ in range(60)),
                        description="EWMA(beta=0.999) over 60 arrays of shape (2, 2)"))
    out.append(Scenario("EWMA", "ewma", "constant input", "hidden", dict(beta=0.9),
                        steps=(3.0,) * 30,
                        description="EWMA(beta=0.9) over 30 copies of 3.0 (the average must be 3.0)"))
    return out


def _schedule_scenarios(name):
    if name == "step_decay":
        cases = [("halve every 10", "visible", dict(lr0=0.1, factor=0.5, every=10), range(0, 45)),
                 ("factor 0.1 every 3", "hidden", dict(lr0=1.0, factor=0.1, every=3), range(0, 13)),
                 ("every 1", "hidden", dict(lr0=0.5, factor=0.9, every=1), range(0, 31))]
    else:
        cases = [("to zero over 20 epochs", "visible", dict(lr0=0.1, total=20, lr_min=0.0), range(0, 31)),
                 ("to lr_min 0.01 over 50", "hidden", dict(lr0=0.5, total=50, lr_min=0.01), range(0, 61)),
                 ("one epoch", "hidden", dict(lr0=1.0, total=1, lr_min=0.0), range(0, 4))]
    return [_schedule_scenario(name, title, vis, hyper, epochs) for title, vis, hyper, epochs in cases]


@lru_cache(maxsize=None)
def _all_scenarios(name):
    if name in OPTIMIZER_NAMES:
        return tuple(_optimizer_scenarios(name))
    if name == "EWMA":
        return tuple(_ewma_scenarios())
    if name in SCHEDULE_NAMES:
        return tuple(_schedule_scenarios(name))
    raise KeyError(f"unknown target {name!r}; choose one of {list(TARGETS)}")


@lru_cache(maxsize=64)
def _drawn_scenarios(name, seed):
    """The hidden scenarios of ``name`` drawn from ``seed`` (cached: drawing is deterministic)."""
    _all_scenarios(name)    # refuses unknown names
    # one stream per target, all from the grading seed
    rng = np.random.default_rng([seed, TARGETS.index(name)])
    if name in OPTIMIZER_NAMES:
        return tuple(_optimizer_scenarios(name, drawn_from=(seed, rng)))
    if name == "EWMA":
        return tuple(_drawn_ewma_scenarios(seed, rng))
    return tuple(_drawn_schedule_scenarios(name, seed, rng))


def _pool(name, seed):
    """Every scenario of ``name`` for a seed: the visible ones, then the hidden ones."""
    fixed = _all_scenarios(name)
    if seed is None:
        return fixed
    return tuple(s for s in fixed if s.visibility == "visible") + _drawn_scenarios(name, seed)


def scenarios(name: str, which: str = "visible", seed: int | None = None) -> list[Scenario]:
    """The scenarios of one target: "visible", "hidden" or "all" (visible first).

    Visible scenarios are fixed (the notebook's feedback is reproducible). Hidden ones are
    the fixed set the notebook's hidden test cells use when ``seed`` is None; with an int
    ``seed`` they are *drawn* at grading time from ``np.random.default_rng([seed, k])`` (k the
    target's index in :data:`TARGETS`): shapes, step counts, non-default hyperparameters
    (kept away from :data:`COMMON_DEFAULTS`), gradient scales, float32 and float64, lr
    changes mid-run, zero and tiny gradients, two instances. So a table of precomputed
    answers cannot pass, while every catalogued mistake still shows (tested over seeds).
    """
    if which not in _WHICH:
        raise ValueError(f"which must be one of {_WHICH}, got {which!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be None or a non-negative int, got {seed!r}")
    pool = _pool(name, None if seed is None else int(seed))
    return [s for s in pool if which == "all" or s.visibility == which]


# ============================================================================ (b) trajectories
@dataclass
class Trajectory:
    """What one piece of code did over one scenario, as plain data.

    values : key -> float64 array; optimizers: (steps + 1, *shape), row 0 the start;
        ewma: (steps, *shape) returned averages; schedule: (epochs,) returned rates.
        Rows after a crash, and values that could not be trusted, are NaN.
    steps_done : how many steps completed.
    violations : [{"step", "key", "kind", "detail"}], kind one of "not in place",
        "wrong type", "wrong dtype", "wrong shape", "grads modified", "input modified",
        "uses the reference" (the class is, or subclasses, a ``dlcourse`` class).
    error : None or {"step", "type", "message", "where"}; "where" is the traceback
        filtered to the student's frames; step 0 is the constructor.
    warnings : distinct warnings the code raised, as text.
    """

    target: str
    scenario: str
    values: dict = field(default_factory=dict)
    steps_done: int = 0
    violations: list = field(default_factory=list)
    error: dict | None = None
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready plain data (NaN/inf kept as floats; ``json`` writes them)."""
        return {"target": self.target, "scenario": self.scenario,
                "values": {k: {"shape": list(v.shape), "data": v.ravel().tolist()}
                           for k, v in self.values.items()},
                "steps_done": int(self.steps_done), "violations": list(self.violations),
                "error": self.error, "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, data) -> "Trajectory":
        """Rebuild from :meth:`to_dict` output, accepting only plain, well-formed data."""
        if not isinstance(data, dict):
            raise TypeError("trajectory data must be a dict")
        values = {}
        for key, entry in dict(data.get("values", {})).items():
            shape = tuple(int(n) for n in entry["shape"])
            flat = [float(x) for x in entry["data"] if type(x) in (float, int)]
            if len(flat) != len(entry["data"]) or len(flat) != int(np.prod(shape, dtype=np.int64)):
                raise ValueError(f"malformed values for {key!r}")
            values[str(key)] = np.array(flat, dtype=np.float64).reshape(shape)
        error = data.get("error")
        if error is not None:
            error = {"step": int(error.get("step", 0)), "type": str(error.get("type", "")),
                     "message": str(error.get("message", "")), "where": str(error.get("where", ""))}
        violations = [{"step": int(v.get("step", 0)), "key": str(v.get("key", "")),
                       "kind": str(v.get("kind", "")), "detail": str(v.get("detail", ""))}
                      for v in data.get("violations", [])]
        return cls(str(data.get("target", "")), str(data.get("scenario", "")), values,
                   int(data.get("steps_done", 0)), violations, error,
                   [str(w) for w in data.get("warnings", [])])


_HERE = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


def _student_frames(exc):
    """The traceback of ``exc`` restricted to frames outside the grader and NumPy."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames
           if not os.path.abspath(f.filename).startswith((_HERE, _NUMPY_DIR))
           and "importlib" not in f.filename]
    lines = []
    for f in own:
        text = f.line or linecache.getline(f.filename, f.lineno).strip()
        lines.append(f"in {f.name}, line {f.lineno}: {text}")
    return "\n".join(lines)


def _describe_error(exc, step):
    return {"step": step, "type": type(exc).__name__, "message": str(exc)[:500],
            "where": _student_frames(exc)}


def _format_warning(w):
    text = linecache.getline(w.filename, w.lineno).strip() if w.filename else ""
    where = f" (line {w.lineno}: {text})" if text else ""
    return f"{w.category.__name__}: {w.message}{where}"


_SCALARS = (float, int, np.float64, np.float32, np.float16, np.int64, np.int32)


def _trusted_copy(obj, shape=None):
    """float64 copy of an exact ndarray or exact real scalar; None for anything else."""
    if type(obj) is np.ndarray:
        if obj.dtype.kind not in "fiu":
            return None
        if shape is not None and obj.shape != shape:
            return None
        return np.array(obj, dtype=np.float64, copy=True)
    if type(obj) in _SCALARS and (shape is None or shape == ()):
        return np.array(float(obj), dtype=np.float64)
    return None


def _isolated(cls):
    """A subclass of ``cls`` with fresh copies of class-level mutable attributes.

    Makes every scenario start clean even when a class keeps state at class level
    (that mistake still shows within a scenario: its two instances share state).
    """
    if not inspect.isclass(cls):
        return cls
    namespace = {}
    for klass in reversed(cls.__mro__[:-1]):
        for key, value in vars(klass).items():
            if key.startswith("__"):
                continue
            if isinstance(value, (dict, list, set, np.ndarray)):
                try:
                    namespace[key] = copy.deepcopy(value)
                except Exception:   # noqa: BLE001 - not copyable: leave it shared
                    pass
    if not namespace:
        return cls
    try:
        return type(cls)(cls.__name__, (cls,), namespace)
    except Exception:   # noqa: BLE001 - exotic metaclass: run it as it is
        return cls


def run_trajectory(code, scenario: Scenario) -> Trajectory:
    """Run ``code`` (a class, or a function for schedules) over ``scenario``.

    Never raises for anything the code does: exceptions, warnings and contract
    violations are recorded in the returned :class:`Trajectory`.
    """
    runner = {"optimizer": _run_optimizer, "ewma": _run_ewma, "schedule": _run_schedule}[scenario.kind]
    traj = Trajectory(scenario.target, scenario.name)
    borrowed = _from_reference(code)
    if borrowed:
        traj.violations.append({"step": 0, "key": "", "kind": "uses the reference",
                                "detail": f"the code comes from the course library ({borrowed}); "
                                          "write the class yourself (subclass the notebook's Optimizer)"})
    stderr = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
        warnings.simplefilter("always")
        with np.errstate(all="warn"):
            runner(code, scenario, traj)
    seen = []
    if stderr.getvalue().strip():
        seen.append("your code wrote to stderr: " + stderr.getvalue().strip()[:300])
    for w in caught:
        text = _format_warning(w)
        if text not in seen:
            seen.append(text)
    traj.warnings = seen
    return traj


def _from_reference(code):
    """The dlcourse module ``code`` (or a base class of it) comes from, or "".

    ``code`` may be any callable, e.g. a proxy that forwards calls to another process:
    only a real class is asked for its bases, and no attribute read may raise.
    """
    def module_of(obj):
        try:
            return getattr(obj, "__module__", None)
        except Exception:   # noqa: BLE001 - a proxy's attribute access
            return None
    mro = code.__mro__ if inspect.isclass(code) else ()
    modules = [module_of(k) for k in mro]
    modules += [module_of(code), type(code).__module__]
    for module in modules:
        if isinstance(module, str) and (module == "dlcourse" or module.startswith("dlcourse.")):
            return module
    return ""


def _run_optimizer(cls, sc, traj):
    keys = sc.keys()
    n = len(sc.steps)
    shapes = {_key(sc, i, p): a.shape for i, p, a in sc.params}
    dtypes = {_key(sc, i, p): a.dtype for i, p, a in sc.params}
    traj.values = {k: np.full((n + 1,) + shapes[k], np.nan) for k in keys}
    params = [dict() for _ in range(sc.instances)]
    originals = {}
    for i, p, a in sc.params:
        params[i][p] = a.copy()
        originals[_key(sc, i, p)] = params[i][p]
        traj.values[_key(sc, i, p)][0] = a
    try:
        cls = _isolated(cls)
        opts = [cls(**sc.hyper) for _ in range(sc.instances)]
    except Exception as exc:   # noqa: BLE001 - the student's constructor
        traj.error = _describe_error(exc, 0)
        return
    flagged = set()

    def violate(step, key, kind, detail):
        if (key, kind) not in flagged:
            flagged.add((key, kind))
            traj.violations.append({"step": step, "key": key, "kind": kind, "detail": detail})

    for t, (lr, grads) in enumerate(sc.steps, start=1):
        for i, opt in enumerate(opts):
            mine = [(p, g) for (j, p, g) in grads if j == i]
            given = {p: g.copy() for p, g in mine}
            given_objects = dict(given)
            try:
                if lr is not None:
                    opt.lr = lr
                opt.update(params[i], given)
            except Exception as exc:   # noqa: BLE001 - the student's update
                traj.error = _describe_error(exc, t)
                traj.steps_done = t - 1
                return
            for p, g in mine:
                key = _key(sc, i, p)
                if given.get(p) is not given_objects[p]:
                    violate(t, key, "grads modified", f"grads[{p!r}] was replaced")
                elif not np.array_equal(given_objects[p], g):
                    violate(t, key, "grads modified", f"grads[{p!r}] was changed")
        for i in range(sc.instances):
            for p in list(params[i]):
                key = _key(sc, i, p)
                if key not in originals:
                    continue
                obj = params[i].get(p, None)
                if obj is None:
                    violate(t, key, "not in place", f"params[{p!r}] was removed or set to None")
                    continue
                if obj is not originals[key]:
                    violate(t, key, "not in place",
                            f"params[{p!r}] was replaced by a new object instead of being changed in place")
                if type(obj) is not np.ndarray:
                    violate(t, key, "wrong type", f"params[{p!r}] is a {type(obj).__name__}, not a numpy.ndarray")
                    continue
                if obj.shape != shapes[key]:
                    violate(t, key, "wrong shape", f"params[{p!r}] has shape {obj.shape}, expected {shapes[key]}")
                    continue
                if obj.dtype != dtypes[key]:
                    violate(t, key, "wrong dtype", f"params[{p!r}] has dtype {obj.dtype}, expected {dtypes[key]}")
                value = _trusted_copy(obj, shapes[key])
                if value is not None:
                    traj.values[key][t] = value
        traj.steps_done = t


def _run_ewma(cls, sc, traj):
    n = len(sc.steps)
    shape = np.shape(sc.steps[0])
    traj.values = {"average": np.full((n,) + shape, np.nan)}
    try:
        avg = _isolated(cls)(**sc.hyper)
    except Exception as exc:   # noqa: BLE001
        traj.error = _describe_error(exc, 0)
        return
    flagged = set()
    for t, x in enumerate(sc.steps, start=1):
        given = x.copy() if isinstance(x, np.ndarray) else x
        try:
            out = avg.update(given)
        except Exception as exc:   # noqa: BLE001
            traj.error = _describe_error(exc, t)
            traj.steps_done = t - 1
            return
        if isinstance(x, np.ndarray) and (type(given) is not np.ndarray or not np.array_equal(given, x)):
            if "input" not in flagged:
                flagged.add("input")
                traj.violations.append({"step": t, "key": "x", "kind": "input modified",
                                        "detail": "update(x) changed the array x it was given"})
        value = _trusted_copy(out, shape)
        if value is None:
            if "type" not in flagged:
                flagged.add("type")
                traj.violations.append({"step": t, "key": "average", "kind": "wrong type",
                                        "detail": f"update() returned {type(out).__name__}"
                                                  f"{' of shape ' + str(np.shape(out)) if type(out) is np.ndarray else ''}"
                                                  f"; expected a number or an array shaped like x {shape}"})
            continue
        traj.values["average"][t - 1] = value
        traj.steps_done = t
    traj.steps_done = n


def _run_schedule(fn, sc, traj):
    n = len(sc.steps)
    traj.values = {"lr": np.full((n,), np.nan)}
    flagged = False
    for t, epoch in enumerate(sc.steps):
        try:
            out = fn(epoch, **sc.hyper)
        except Exception as exc:   # noqa: BLE001
            traj.error = _describe_error(exc, epoch)
            traj.steps_done = t
            return
        if type(out) is np.ndarray and out.shape == ():
            out = out[()]
        value = _trusted_copy(out, ())
        if value is None:
            if not flagged:
                flagged = True
                traj.violations.append({"step": epoch, "key": "lr", "kind": "wrong type",
                                        "detail": f"returned {type(out).__name__}; expected a number"})
            continue
        traj.values["lr"][t] = value
    traj.steps_done = n


# ============================================================================ the reference
def reference(name):
    """The reference code for a target, in the student's calling convention."""
    if name in OPTIMIZER_NAMES:
        from dlcourse import optim
        return optim.OPTIMIZERS[name]
    if name == "EWMA":
        from dlcourse.ewma import EWMA
        return EWMA
    if name in SCHEDULE_NAMES:
        from dlcourse import schedules
        factory = getattr(schedules, name)

        def fn(epoch, **hyper):
            return factory(**hyper)(epoch)
        fn.__name__ = name
        return fn
    raise KeyError(f"unknown target {name!r}; choose one of {list(TARGETS)}")


def _trusted_code(kind, target, vid):
    if kind == "reference":
        return reference(target)
    if kind == "alternative":
        return _catalogue().alternatives_for(target)[vid][1]()
    return _catalogue().resolve(vid).make()


@lru_cache(maxsize=None)
def _cached_run(kind, target, seed, scenario_name, vid):
    """Trajectories of trusted code (reference, alternatives, mistakes), computed once per
    scenario, keyed on (target, seed, scenario name): seeded scenarios are cached too."""
    sc = next(s for s in _pool(target, seed) if s.name == scenario_name)
    with np.errstate(all="ignore"):
        return run_trajectory(_trusted_code(kind, target, vid), sc)


def warm_cache(diagnosis: bool = True, seed: int | None = None) -> None:
    """Compute every trusted trajectory now: the reference's, and with ``diagnosis`` the
    correct alternatives' and each catalogued mistake's, over the scenarios of ``seed``.

    A check computes them on first use and caches them. The class grader calls this once in
    the process it forks the students' kernels from, so no kernel computes them again.
    """
    for name in TARGETS:
        for sc in _pool(name, seed):
            _cached_run("reference", name, sc.seed, sc.name, None)
            if not diagnosis:
                continue
            for index, _ in enumerate(_catalogue().alternatives_for(name)):
                _cached_run("alternative", name, sc.seed, sc.name, index)
            for mistake in _catalogue().catalogued_for(name):
                _trusted_variant(sc, mistake)


def reference_trajectory(scenario: Scenario) -> Trajectory:
    """The reference's trajectory over a scenario (cached for the fixed and the drawn ones)."""
    return _trusted(scenario, "reference")


def _same_scenario(a, b):
    """Structural equality (arrays compared by value), e.g. after a pickle round trip."""
    def same(x, y):
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            return (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
                    and x.dtype == y.dtype and np.array_equal(x, y))
        if isinstance(x, (tuple, list)):
            return isinstance(y, (tuple, list)) and len(x) == len(y) and all(map(same, x, y))
        if isinstance(x, dict):
            return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        return type(x) is type(y) and x == y
    return all(same(getattr(a, f), getattr(b, f)) for f in
               ("target", "kind", "name", "visibility", "hyper", "instances", "params", "steps",
                "rtol", "atol", "atol_param", "seed"))


def _known(scenario):
    """The catalogued (fixed or drawn) scenario equal to ``scenario``, or None."""
    if scenario.target not in TARGETS:
        return None
    seed = getattr(scenario, "seed", None)
    if seed is not None and not isinstance(seed, (int, np.integer)):
        return None
    pool = _pool(scenario.target, None if seed is None else int(seed))
    for s in pool:
        if s is scenario:
            return s
    for s in pool:
        if s.name == scenario.name and _same_scenario(s, scenario):
            return s
    return None


def _trusted(scenario, kind, vid=None):
    known = _known(scenario)
    if known is not None:
        return _cached_run(kind, known.target, known.seed, known.name, vid)
    with np.errstate(all="ignore"):
        return run_trajectory(_trusted_code(kind, scenario.target, vid), scenario)


def _trusted_variant(scenario, mistake):
    """The trajectory of ``mistake``'s variant over ``scenario``; constants that change
    nothing in this scenario are dropped first, so equal runs are computed once."""
    reduced = _catalogue().base_run(mistake, scenario.hyper, scenario.lr_changes)
    if reduced is None:
        return _trusted(scenario, "reference")
    return _trusted(scenario, "mistake", reduced.vid)


# ============================================================================ (c) comparison
def _first_difference(sc, got_traj, exp_traj):
    """None if ``got`` matches ``exp`` within the scenario's tolerance, else details.

    Values compared: optimizers' displacements θₜ − θ₀ (θ₀ the reference's start), the
    EWMA's returned averages, the schedule's rates; element-wise
    ``|got − expected| <= rtol·|expected| + atol`` with ``atol`` scaled to the trajectory.
    Details: the first failing element (earliest row, then key order) with its error and
    tolerance, and the worst one (largest error / tolerance).
    """
    if exp_traj.error is not None or got_traj.error is not None:
        same = (exp_traj.error is not None and got_traj.error is not None
                and exp_traj.error["step"] == got_traj.error["step"]
                and exp_traj.error["type"] == got_traj.error["type"])
        return None if same else {"kind": "error"}
    worst_rel = 0.0
    first = worst = None
    for key in exp_traj.values:
        exp = exp_traj.values[key]
        got = got_traj.values.get(key)
        if got is None or got.shape != exp.shape:
            return {"kind": "malformed", "key": key}
        if sc.kind == "optimizer":
            start = exp[0]
            exp, got = exp - start, got - start
            param_scale = float(np.nanmax(np.abs(exp_traj.values[key][np.isfinite(exp_traj.values[key])]),
                                          initial=0.0))
        else:
            param_scale = 0.0
        finite = np.isfinite(exp)
        scale = float(np.max(np.abs(exp[finite]), initial=0.0))
        atol = sc.atol * scale + sc.atol_param * param_scale + 1e-300
        with np.errstate(all="ignore"):
            diff = np.abs(got - exp)
            tol = sc.rtol * np.abs(exp) + atol
            ok = diff <= tol
            ok |= (got == exp)                       # equal infinities
            ok |= np.isnan(got) & np.isnan(exp)
            rel = diff / np.maximum(np.abs(exp), atol / max(sc.rtol, 1e-300))
            ratio = np.where(ok, 0.0, np.where(np.isnan(diff), np.inf, diff / tol))
        rel = np.where(np.isnan(rel), np.inf, rel)
        rel = np.where(ok, 0.0, rel)
        worst_rel = max(worst_rel, float(np.max(rel, initial=0.0)))
        if not ok.all():
            flat_ok = ok.reshape(ok.shape[0], -1)
            bad = np.argwhere(~flat_ok)
            row, col = int(bad[0][0]), int(bad[0][1])
            flat_diff, flat_tol = diff.reshape(flat_ok.shape), np.broadcast_to(tol, diff.shape).reshape(flat_ok.shape)
            if first is None or row < first["row"]:
                first = {"row": row, "col": col, "key": key, "abs_error": float(flat_diff[row, col]),
                         "tolerance": float(flat_tol[row, col]), "atol": float(atol)}
            flat_ratio = ratio.reshape(flat_ok.shape)
            w_row, w_col = (int(i) for i in np.unravel_index(int(np.argmax(flat_ratio)), flat_ratio.shape))
            if worst is None or flat_ratio[w_row, w_col] > worst["ratio"]:
                worst = {"row": w_row, "col": w_col, "key": key, "ratio": float(flat_ratio[w_row, w_col]),
                         "abs_error": float(flat_diff[w_row, w_col]),
                         "tolerance": float(flat_tol[w_row, w_col])}
    if first is None:
        return None
    first["kind"] = "values"
    first["max_rel_error"] = worst_rel
    first["worst"] = worst
    return first


def _matches(sc, got, exp):
    return _first_difference(sc, got, exp) is None


def _diagnose(name, scs, trajs, failing):
    """(mistake, certain) for the known mistake whose variant matches the student.

    Measured, never guessed: a variant is run over the same scenarios and compared with
    the student's trajectory at the check's own tolerance. First the catalogue (a match in
    the failing scenario only is reported as such); then, only when one matches *every*
    scenario, the measured combinations of :func:`autograder.mistakes.measured_candidates`:
    hard-coded hyperparameters (the reference with eps, a beta, rho, momentum or lr fixed
    to a common constant), two catalogued mistakes at once, or a mistake plus constants.
    A variant counts only where it differs from the reference and from every accepted
    alternative form, so a correct trajectory is never diagnosed.
    """
    cat = _catalogue()
    sc, traj = scs[failing], trajs[failing]
    # what correct code does here: the reference and every accepted alternative form
    correct_runs = [_trusted(sc, "reference")] + [
        _trusted(sc, "alternative", index) for index, _ in enumerate(cat.alternatives_for(name))]

    def shows_here(m):
        run = _trusted_variant(sc, m)
        return _matches(sc, traj, run) and not any(_matches(sc, run, c) for c in correct_runs)

    def everywhere(m):
        return all(_matches(s, t, _trusted_variant(s, m)) for s, t in zip(scs, trajs))

    local = [m for m in cat.catalogued_for(name) if shows_here(m)]
    for m in local:
        if everywhere(m):
            return m, True
    for m in cat.measured_candidates(name):
        if shows_here(m) and everywhere(m):
            return m, True
    # a match in the failing scenario alone is reported (as such) only for a single
    # mistake: a constant or a combination is named only when it explains every scenario
    local = [m for m in local if not (m.fixed or m.parts)]
    return (local[0], False) if local else (None, False)


_QUANTITY = {"optimizer": "θ − θ₀, the change since the start",
             "ewma": "the average update() returned",
             "schedule": "the learning rate returned"}


def _row_step(sc, row):
    if sc.kind == "schedule":
        return int(sc.steps[row])
    return row if sc.kind == "optimizer" else row + 1


def _label(key, shape, col):
    if not shape:
        return key
    return f"{key}[{', '.join(str(int(i)) for i in np.unravel_index(col, shape))}]"


def _scenario_verdict(name, sc, traj):
    """(ok, fields) for one scenario: fields feed a CheckResult."""
    exp = _trusted(sc, "reference")
    fields = {"scenario": sc.name, "setup": sc.description + f" [{sc.visibility}]",
              "step_label": "epoch" if sc.kind == "schedule" else "step"}
    if traj.error is not None:
        err = traj.error
        fields.update(step=err["step"] if err["step"] else None,
                      problem="not implemented" if err["type"] == "NotImplementedError" else "error")
        where = f"\n{err['where']}" if err["where"] else ""
        label = "the constructor" if (err["step"] == 0 and sc.kind != "schedule") else f"{fields['step_label']} {err['step']}"
        fields["error"] = f"{err['type']}: {err['message']} (at {label}){where}"
        if err["type"] == "NotImplementedError":
            fields["details"] = ["fill in the body between the markers (delete the `raise NotImplementedError()` line)."]
        return False, fields
    if set(traj.values) != set(exp.values):
        fields.update(problem="malformed", details=["the trajectory does not have the expected entries"])
        return False, fields
    diff = _first_difference(sc, traj, exp)
    if diff is not None and diff["kind"] == "values":
        for index, _ in enumerate(_catalogue().alternatives_for(name)):
            if _matches(sc, traj, _trusted(sc, "alternative", index)):
                diff = None
                break
    details = []
    problem = None
    if traj.violations:
        v = traj.violations[0]
        problem = v["kind"]
        if v["key"]:
            details.append(f"{fields['step_label']} {v['step']}, {v['key']}: {v['detail']}")
            fields.setdefault("step", v["step"])
            fields.setdefault("param", v["key"])
        else:
            details.append(v["detail"] + ".")
        if v["kind"] == "not in place":
            details.append("update the arrays in place (p -= ..., p[...] = ..., np.subtract(p, x, out=p)); "
                           "the caller keeps references to them.")
    if diff is not None:
        if diff["kind"] == "malformed":
            problem = problem or "malformed"
            details.append(f"the values of {diff['key']} have the wrong shape")
        else:
            fields.update(_difference_fields(sc, exp, traj, diff))
            problem = problem or "values"
    if problem is None:
        return True, {}
    fields["problem"] = problem
    fields["details"] = details
    return False, fields


def _difference_fields(sc, exp, traj, diff, width=3):
    """The CheckResult fields that show a value difference: the compared numbers around the
    first wrong element (displacements for optimizers), their labels, the error measure."""
    key, row, col = diff["key"], diff["row"], diff["col"]
    ev, gv = exp.values[key], traj.values[key]
    if sc.kind == "optimizer":
        ev, gv = ev - ev[0], gv - ev[0]
    shape = ev.shape[1:]
    flat_e, flat_g = ev[row].reshape(-1), gv[row].reshape(-1)
    lo = max(0, min(col - 1, flat_e.size - width))
    cols = range(lo, min(lo + width, flat_e.size))
    fields = dict(step=_row_step(sc, row), param=key,
                  index=tuple(int(i) for i in np.unravel_index(col, shape)) if shape else None,
                  expected=[float(flat_e[c]) for c in cols], got=[float(flat_g[c]) for c in cols],
                  labels=[_label(key, shape, c) for c in cols], marked=col - lo,
                  quantity=_QUANTITY[sc.kind], abs_error=diff["abs_error"], tolerance=diff["tolerance"],
                  rtol=sc.rtol, atol=diff["atol"], max_rel_error=diff["max_rel_error"])
    w = diff.get("worst")
    if w is not None:
        fields["worst"] = {"step": _row_step(sc, w["row"]),
                           "label": _label(w["key"], exp.values[w["key"]].shape[1:], w["col"]),
                           "abs_error": w["abs_error"], "tolerance": w["tolerance"]}
    return fields


def _hard_coded_sentences(name, mistake, scs, oks):
    """What a hard-coded-hyperparameter diagnosis measured, in the scenarios' own values."""
    if not mistake.fixed:
        return []
    assign = ", ".join(f"{h} = {v:g}" for h, v in mistake.fixed)
    if mistake.parts:
        titles = " and ".join(f'"{_catalogue().MISTAKES[k].title}"' for k in mistake.parts)
        run = f"the known mistake {titles} run"
    else:
        run = "the reference run"
    out = [f"measured: {run} with {assign} fixed reproduces your trajectory in all "
           f"{len(scs)} scenarios."]
    defaults = DEFAULTS.get(name, {"beta": 0.9})

    def values(vs):
        words = [f"{v:g}" + (" (the default)" if v == defaults.get(h) else "") for v in vs]
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]

    for h, c in mistake.fixed:
        failing = sorted({s.hyper[h] for s, ok in zip(scs, oks) if not ok and h in s.hyper})
        passing = sorted({s.hyper[h] for s, ok in zip(scs, oks) if ok and h in s.hyper} - set(failing))
        also = " (also when the learning rate is changed between steps)" if h == "lr" else ""
        if passing and failing:
            out.append(f"your code passes at {h} = {values(passing)} but not at {h} = {values(failing)}: "
                       f"it ignores self.{h}{also} and uses {c:g}.")
        elif failing:
            out.append(f"your code fails at {h} = {values(failing)}: it ignores self.{h}{also} "
                       f"and uses {c:g}.")
        else:
            out.append(f"it ignores self.{h}{also} and uses {c:g}.")
    return out


def compare(name: str, scenario: Scenario, student_traj: Trajectory) -> CheckResult:
    """Compare one student trajectory with the reference over one scenario."""
    return compare_all(name, [scenario], [student_traj])


def compare_all(name: str, scenario_list, student_trajs) -> CheckResult:
    """The verdict over several scenarios (in order): passed, or the first failure, diagnosed.

    Works for the fixed scenarios and for hidden ones drawn from a seed (the trusted
    trajectories of both are cached), and for scenarios built elsewhere (computed afresh).
    """
    scs, trajs = list(scenario_list), list(student_trajs)
    if len(scs) != len(trajs):
        raise ValueError(f"{len(scs)} scenarios but {len(trajs)} trajectories")
    warns = []
    for t in trajs:
        warns.extend(w for w in t.warnings if w not in warns)
    passed, failing, fields, oks = 0, None, {}, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            for i, (sc, traj) in enumerate(zip(scs, trajs)):
                ok, f = _scenario_verdict(name, sc, traj)
                oks.append(ok)
                if ok:
                    passed += 1
                elif failing is None:
                    failing, fields = i, f
            if failing is None:
                return CheckResult(name, True, len(scs), passed, warnings=warns)
            mistake, certain = _diagnose(name, scs, trajs, failing)
    result = CheckResult(name, False, len(scs), passed, warnings=warns, **fields)
    if mistake is not None:
        result.mistake, result.mistake_title = mistake.key, mistake.title
        result.hint, result.mistake_certain = mistake.hint, certain
        if certain:
            result.details = list(result.details) + _hard_coded_sentences(name, mistake, scs, oks)
    return result


# ============================================================================ the checks
def _check(code, name, which, seed=None):
    scs = scenarios(name, which, seed)
    return compare_all(name, scs, [run_trajectory(code, sc) for sc in scs])


def check_optimizer(student_cls, name: str, scenarios: str = "visible",  # noqa: A002
                    seed: int | None = None) -> CheckResult:
    """Run ``student_cls`` and the reference ``dlcourse.optim.<name>`` side by side.

    ``scenarios`` is "visible" (the notebook's tests), "hidden" (grading) or "all";
    ``seed`` draws the hidden scenarios (see :func:`scenarios`).
    Returns a :class:`CheckResult`; call ``.assert_passed()`` on it in a test cell.
    """
    if name not in OPTIMIZER_NAMES:
        raise KeyError(f"unknown optimizer {name!r}; choose one of {list(OPTIMIZER_NAMES)}")
    return _check(student_cls, name, scenarios, seed)


def check_ewma(student_cls, scenarios: str = "visible", seed: int | None = None) -> CheckResult:  # noqa: A002
    """Check an EWMA class (``EWMA(beta)``, ``update(x)`` -> bias-corrected average)."""
    return _check(student_cls, "EWMA", scenarios, seed)


def check_schedule(student_fn, name: str, scenarios: str = "visible",  # noqa: A002
                   seed: int | None = None) -> CheckResult:
    """Check a schedule function ``fn(epoch, **hyperparameters) -> lr`` against the reference."""
    if name not in SCHEDULE_NAMES:
        raise KeyError(f"unknown schedule {name!r}; choose one of {list(SCHEDULE_NAMES)}")
    return _check(student_fn, name, scenarios, seed)


def check(code, name: str, scenarios: str = "visible", seed: int | None = None) -> CheckResult:  # noqa: A002
    """Dispatch on ``name``: any target in :data:`TARGETS`."""
    if name == "EWMA":
        return check_ewma(code, scenarios, seed)
    if name in SCHEDULE_NAMES:
        return check_schedule(code, name, scenarios, seed)
    return check_optimizer(code, name, scenarios, seed)
