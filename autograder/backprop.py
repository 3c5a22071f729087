r"""Checks of the ``backprop`` assignment: gates, the window model, gradient checking, init, dropout, L2.

The module satisfies the protocol through which the class grader loads every assignment's
checks (``NAME``, ``NOTEBOOK``, ``PARTS``, ``TARGETS``, :func:`scenarios`,
:func:`run_trajectory`, :func:`compare_all`, :func:`reference`); the notebook's test cells call
:func:`check` (or its aliases ``check_gate``, ``check_window``, ...) in-process.

(a) :func:`scenarios` ``(target, which, seed)`` -> plain, picklable :class:`Scenario` data.
    Visible scenarios are fixed (the notebook's feedback is reproducible); hidden ones are a
    few hand-picked edge cases plus scenarios *drawn* from ``np.random.default_rng((seed, k))``
    (k the target's index) over shapes, dtypes, activations and random seeds. ``seed=None``
    gives the fixed hidden set that the notebook's hidden tests run.
(b) :func:`run_trajectory` ``(code, scenario)`` -> :class:`Trajectory`: calls the student's code
    and records float64 copies of what it returned. It may only *call* ``code`` (a function,
    or a class -> an instance whose methods it calls) and pass numbers, arrays, str, bool,
    None, tuples/lists/dicts of these, ``np.random.Generator`` objects and functions of
    :mod:`autograder.scenario_functions`: in the class grader ``code`` is a proxy for an
    object in a sandboxed process. It never reads an attribute of ``code``, never relies on
    a Generator it passed being advanced, and trusts nothing returned (values are copied only
    from exact ndarrays and real scalars). It never raises for anything the code does.
(c) :func:`compare_all` ``(target, scenarios, trajectories)`` -> :class:`CheckResult`, against
    the trajectories of :func:`reference` (``dlcourse``), with the diagnosis of
    :mod:`autograder.backprop_mistakes` (imported only here, on the grader's side).

Deterministic parts are compared value by value, ``|got − expected| ≤ rtol·|expected| +
atol·max|expected|`` per recorded array. The random parts (initialisation, dropout) are
compared by statistical tests of the student's own draws against the distribution the
reference draws from (the student may draw in any order, so the numbers themselves need not
agree). Each test statistic T is, under the hypothesis that the code is correct,
approximately normal with a known mean μ and standard deviation σ; a test fails when
``|T − μ| > Z·σ`` with ``Z = 5.33``, the two-sided normal quantile of 1e-7:

* mean of the N entries of W: μ = 0, σ² = Var/N (exact for the normal; for the uniform the
  CLT over N ≥ 4000 bounded terms);
* mean of the squares S = ΣW²/N: μ = Var, σ² = (κ − 1)Var²/N with κ = E[w⁴]/Var² = 3 (normal)
  or 9/5 (uniform); N·S/Var is χ²_N for the normal;
* the fraction of |W| beyond r = √(3·Var): 0 exactly for the uniform (a hard bound, checked
  with round-off slack), p₀ = 2(1 − Φ(√3)) = 0.0833 for the normal, binomial σ² = p₀(1 − p₀)/N;
* dropout's fraction of kept units: binomial, μ = p, σ² = p(1 − p)/N.

The normal approximation's error at 5.33σ is a skewness term: by the Cornish–Fisher
expansion the exact quantile differs by about γ(Z² − 1)/6 ≤ 0.2σ for the smallest samples used
(8000 weights: χ²'s skewness √(8/N) = 0.032, the tail count's 0.034; 4000 dropout units: the
binomial's |1 − 2p|/√(Np(1 − p)) ≤ 0.042 for p ∈ [0.2, 0.9]), so each test's false-alarm rate
stays below 1e-6 (the two-sided normal tail at Z − 0.2 = 5.13 is 2.9e-7). A part runs at most 4 such tests in each of
at most 8 scenarios, so a correct submission fails a part by chance with probability below
3.2e-5, and visible scenarios use fixed seeds, so they cannot flap at all. The mistakes
tested against are far outside these bands (a variance off by a factor of 1.5 or more, keep
rates 1 − p instead of p with p ≠ ½, scales p instead of 1/p).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import linecache
import math
import os
import pickle
import traceback
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from autograder import checks
from autograder import scenario_functions as sf
from autograder.result import CheckResult

#: What the class grader's recorder copies into the student's sandboxed process (paths relative
#: to the ``autograder`` package): this module runs there, without dlcourse and the catalogue.
RECORDER_FILES = ("backprop.py", "checks.py", "result.py", "scenario_functions.py")

__all__ = [
    "NAME", "NOTEBOOK", "PARTS", "TARGETS", "Scenario", "Trajectory", "scenarios",
    "run_trajectory", "compare_all", "compare", "reference", "reference_trajectory", "warm_cache", "check",
    "check_gate", "check_window", "check_gradcheck", "check_init", "check_dropout", "check_l2",
]

NAME = "backprop"
NOTEBOOK = "backprop"

#: The graded parts, in notebook order:
#: (test cell grade_id, solution cell grade_id, target, the student's class/function name, points).
#: Both dropout parts check the one ``Dropout`` class (forward, then backward).
PARTS = (
    ("test_add_gate", "add_gate", "AddGate", "AddGate", 4),
    ("test_multiply_gate", "multiply_gate", "MultiplyGate", "MultiplyGate", 4),
    ("test_max_gate", "max_gate", "MaxGate", "MaxGate", 4),
    ("test_copy_gate", "copy_gate", "CopyGate", "CopyGate", 4),
    ("test_window_forward", "window_forward", "window_forward", "window_forward", 10),
    ("test_window_backward", "window_backward", "window_backward", "window_backward", 20),
    ("test_embedding_grad", "embedding_grad", "embedding_grad", "embedding_grad", 10),
    ("test_numerical_gradient", "numerical_gradient", "numerical_gradient", "numerical_gradient", 10),
    ("test_relative_error", "relative_error", "relative_error", "relative_error", 6),
    ("test_xavier_uniform", "xavier_uniform", "xavier_uniform", "xavier_uniform", 4),
    ("test_xavier_normal", "xavier_normal", "xavier_normal", "xavier_normal", 4),
    ("test_he_normal", "he_normal", "he_normal", "he_normal", 4),
    ("test_dropout_forward", "dropout", "dropout_forward", "Dropout", 6),
    ("test_dropout_backward", "dropout", "dropout_backward", "Dropout", 4),
    ("test_l2_penalty", "l2_penalty", "l2_penalty", "l2_penalty", 6),
)
TARGETS = tuple(p[2] for p in PARTS)
GATES = ("AddGate", "MultiplyGate", "MaxGate", "CopyGate")
INITS = ("xavier_uniform", "xavier_normal", "he_normal")
_KIND = {**{g: "gate" for g in GATES}, **{i: "init" for i in INITS},
         "window_forward": "window_forward", "window_backward": "window_backward",
         "embedding_grad": "embedding", "numerical_gradient": "numgrad",
         "relative_error": "relerr", "dropout_forward": "dropout", "dropout_backward": "dropout",
         "l2_penalty": "l2"}
_WHICH = ("visible", "hidden", "all")
Z = 5.33                     # two-sided normal quantile of 1e-7 (see the module docstring)
#: The fraction of a N(0, σ²) sample beyond √3·σ: 2(1 − Φ(√3)).
NORMAL_BEYOND_SQRT3 = math.erfc(math.sqrt(3.0) / math.sqrt(2.0))


def _check_target(target):
    if target not in TARGETS:
        raise KeyError(f"unknown target {target!r}; choose one of {list(TARGETS)}")


# ============================================================================ (a) scenarios
@dataclass(frozen=True)
class Scenario:
    """Scripted input for one run. Plain data (numbers, strings, arrays, tuples, dicts): picklable.

    target : one of :data:`TARGETS`.   kind : the runner ("gate", "window_forward", ...).
    name : short title, unique within a target and seed.   visibility : "visible" or "hidden".
    data : the inputs, a dict whose layout depends on ``kind`` (see the ``_run_*`` functions).
    rtol, atol : value tolerances (atol as a fraction of the largest |expected| of each array).
    description : one line for messages.   seed : the grading seed a drawn scenario came from.
    """

    target: str
    kind: str
    name: str
    visibility: str
    data: dict
    rtol: float = 1e-9
    atol: float = 1e-12
    description: str = ""
    seed: int | None = None

    @property
    def key(self):
        return (self.target, self.name, self.seed)


def _tol(dtype):
    return (2e-4, 2e-5) if np.dtype(dtype) == np.float32 else (1e-9, 1e-12)


def _rand(rng, shape, dtype=np.float64, low=0.3, high=2.0):
    """Random entries with |v| in [low, high] and random signs: never 0, never tied."""
    mag = rng.uniform(low, high, size=shape)
    return (mag * rng.choice([-1.0, 1.0], size=shape)).astype(dtype)


# -- gates
def _gate_scenarios(target, rng, vis, prefix, n_random):
    out = []
    if vis == "visible":
        circuits = [(1.0, 2.0, 0.0, 1.0), (1.0, 2.0, 3.0, 1.0), (-2.0, 0.5, -1.0, 1.0)]
        out.append(Scenario(target, "gate", "worked example (x + y)·max(y, z)", vis,
                            {"circuits": tuple(circuits), "direct": (), "n": 2},
                            description=f"f(x, y, z) = (x + y)·max(y, z) with your {target} in its node, "
                                        "at (1, 2, 0) [gradient (2, 5, 0)], (1, 2, 3) and (−2, 0.5, −1)"))
    for k in range(n_random):
        dtype = np.float32 if (vis == "hidden" and k % 2 == 1) else np.float64
        shape = [(4,), (2, 3), (5,), (3, 2, 2)][int(rng.integers(4))] if vis == "hidden" else [(4,), (2, 3)][k % 2]
        n = int(rng.integers(2, 5)) if (vis == "hidden" and target == "CopyGate") else 2
        arrays = [_rand(rng, shape, dtype) for _ in range(4)]
        circuits = (tuple(arrays),)
        n_in = 1 if target == "CopyGate" else 2
        direct = []
        for _ in range(2):
            inputs = tuple(_rand(rng, shape, dtype) for _ in range(n_in))
            ups = tuple(_rand(rng, shape, dtype) for _ in range(n)) if target == "CopyGate" else _rand(rng, shape, dtype)
            direct.append((inputs, ups))
        rtol, atol = _tol(dtype)
        name = f"{prefix}{'' if vis == 'visible' else 'hidden '}random arrays {k + 1}, {np.dtype(dtype).name} {shape}"
        desc = (f"the circuit on arrays of shape {shape} (element-wise) with a random upstream gradient, "
                f"then forward/backward of one {target}"
                + (f"(n={n})" if target == "CopyGate" else "") + f" on random inputs; {np.dtype(dtype).name}")
        out.append(Scenario(target, "gate", name, vis, {"circuits": circuits, "direct": tuple(direct), "n": n},
                            rtol, atol, desc))
    return out


# -- window model
def _window_params(rng, V, d, w, H, dtype):
    L = rng.uniform(-1, 1, (V, d)).astype(dtype)
    W = (rng.standard_normal((H, w * d)) / np.sqrt(w * d)).astype(dtype)
    b = (0.1 * rng.standard_normal(H)).astype(dtype)
    u = rng.standard_normal(H).astype(dtype)
    return L, W, b, u


def _windows(rng, V, w, count, repeat=True):
    out = []
    for k in range(count):
        ids = rng.integers(0, V, w)
        if repeat and k == 0 and w >= 3:
            ids[w - 1] = ids[0]                      # a repeated word in the first window
        out.append(ids.astype(np.int64))
    return out


def _window_scenarios(target, rng, vis, prefix, specs):
    """``specs``: (title, V, d, w, H, activation, dtype, ds) tuples."""
    out = []
    for title, V, d, w, H, act, dtype, ds in specs:
        L, W, b, u = _window_params(rng, V, d, w, H, dtype)
        wins = _windows(rng, V, w, 3)
        rtol, atol = _tol(dtype)
        dtype_name = np.dtype(dtype).name
        shapes = f"V={V}, d={d}, window={w}, H={H}, f={act}, {dtype_name}"
        if target == "window_forward":
            data = {"L": L, "W": W, "b": b, "u": u, "windows": tuple(wins), "act": act}
            desc = f"window_forward on 3 windows; L {L.shape}, W {W.shape}; {shapes}"
        elif target == "window_backward":
            f = sf.ACTIVATIONS[act][0]
            items = []
            for k, ids in enumerate(wins):
                x = L[ids].reshape(-1)
                z = (W @ x + b).astype(dtype)
                h = np.asarray(f(z)).astype(dtype)
                items.append((float(ds) * (1.0 if k == 0 else 0.5 + k), {"x": x, "z": z, "h": h}))
            data = {"W": W, "u": u, "items": tuple(items), "act": act}
            desc = (f"window_backward on 3 windows' caches with upstream ds = {items[0][0]:g}, "
                    f"{items[1][0]:g}, {items[2][0]:g}; W {W.shape}; {shapes}")
        else:   # embedding_grad
            items = []
            for ids in wins:
                items.append(((rng.standard_normal(w * d)).astype(dtype), ids, V))
            data = {"items": tuple(items)}
            rep = [int(np.max(np.unique(ids, return_counts=True)[1])) for ids in wins]
            desc = (f"embedding_grad for 3 windows of {w} words, d={d}, V={V} (most repeated word: "
                    f"{rep} times); {dtype_name}")
        out.append(Scenario(target, _KIND[target], prefix + title, vis, data, rtol, atol, desc))
    return out


def _drawn_window_specs(rng, n):
    specs = []
    for k in range(n):
        act = str(rng.choice(["tanh", "sigmoid", "relu", "leaky_relu", "hard_tanh"]))
        dtype = np.float32 if rng.random() < 0.3 else np.float64
        V, d, w = int(rng.integers(6, 30)), int(rng.integers(2, 7)), int(rng.choice([3, 5, 7]))
        H = int(rng.integers(2, 12))
        if H == w * d:
            H += 1
        specs.append((f"drawn {k + 1}: {act}, {np.dtype(dtype).name}", V, d, w, H, act, dtype,
                      float(rng.choice([1.0, -0.7, 2.5]))))
    return specs


def _embedding_specials(vis):
    """Windows with repeated words, written out: the np.add.at pitfall."""
    rng = np.random.default_rng(501 if vis == "visible" else 502)
    if vis == "visible":
        cases = [("'the museums in the city'", [5, 0, 1, 5, 6], 7, 4),
                 ("no repeated word", [0, 1, 2, 3, 4], 7, 4)]
    else:
        cases = [("one word three times", [2, 9, 2, 4, 2], 10, 3),
                 ("the same word in every slot", [3, 3, 3, 3, 3], 5, 2),
                 ("window of 3, vocabulary of 3", [0, 2, 0], 3, 5)]
    out = []
    for title, ids, V, d in cases:
        dx = rng.standard_normal(len(ids) * d)
        out.append(Scenario("embedding_grad", "embedding", title, vis,
                            {"items": ((dx, np.array(ids, dtype=np.int64), V),)},
                            description=f"embedding_grad(dx, word_ids={ids}, vocab_size={V}), d={d}"))
    return out


# -- gradient checking
def _numgrad_scenarios(rng, vis, prefix, n_drawn):
    out = []
    if vis == "visible":
        fixed = [("quadratic and cubic", [("quadratic", (3,), 1e-4), ("cubic", (4,), 1e-4)], np.float64),
                 ("a matrix argument", [("tanh_layer", (2, 3), 1e-4), ("sin_product", (5,), 1e-4)], np.float64)]
    else:
        fixed = [("log-sum-exp, a larger step", [("log_sum_exp", (6,), 1e-3), ("cubic", (2, 2), 1e-3)], np.float64),
                 ("float32, step 1e-2", [("quadratic", (4,), 1e-2), ("log_sum_exp", (3, 2), 1e-2)], np.float32)]
        names = list(sf.TEST_FUNCTIONS)
        for k in range(n_drawn):
            shape = [(int(rng.integers(1, 6)),), (int(rng.integers(1, 4)), int(rng.integers(1, 4)))][k % 2]
            fixed.append((f"drawn {k + 1}", [(str(rng.choice(names)), shape, float(rng.choice([1e-3, 1e-4, 1e-5]))),
                                             (str(rng.choice(names)), (int(rng.integers(2, 5)),), 1e-4)],
                          np.float64))
    for title, cases, dtype in fixed:
        items = tuple((fname, rng.uniform(-1.5, 1.5, shape).astype(dtype), h) for fname, shape, h in cases)
        # O(h²) differences between correct centered forms (x ± h/2 over h, as in some CS224n
        # checkers) stay well inside; the one-sided O(h) error and a factor 2 do not
        rtol, atol = (1e-3, 1e-4) if dtype == np.float32 else (1e-5, 2e-6)
        desc = "; ".join(f"numerical_gradient({f}, x {x.shape} {x.dtype.name}, h={h:g})" for f, x, h in items)
        out.append(Scenario("numerical_gradient", "numgrad", prefix + title, vis, {"items": items},
                            rtol, atol, desc))
    return out


def _relerr_scenarios(rng, vis, prefix, n_drawn):
    a = rng.standard_normal(6)
    if vis == "visible":
        pairs = [("close arrays", a, a + 1e-7 * rng.standard_normal(6)),
                 ("equal arrays", a, a.copy()),
                 ("both zero", np.zeros(4), np.zeros(4)),
                 ("one of them zero", np.zeros(3), rng.standard_normal(3)),
                 ("opposite signs", a, -a),
                 ("tiny gradients", 1e-10 * a, 1e-10 * (a + 1e-3 * rng.standard_normal(6)))]
        groups = [("close, equal, zero, opposite, tiny", pairs)]
    else:
        m = rng.standard_normal((3, 4))
        pairs = [("matrices", m, m * (1 + 1e-5)),
                 ("mixed scales", np.array([1e-8, 3e4, -2.0]), np.array([2e-8, 3e4 + 1, -2.0])),
                 ("tiny values", np.full(3, 1e-12), np.full(3, 2e-12)),
                 ("0-d arrays", np.array(3.0), np.array(-1.0)),
                 ("a ≈ −b, not opposite", np.array([1.0, 2.0]), np.array([-1.0 + 1e-9, -2.0]))]
        groups = [("matrices, scales, zeros, 0-d", pairs)]
        for k in range(n_drawn):
            shape = (int(rng.integers(1, 8)),)
            x = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 4)
            groups.append((f"drawn {k + 1}", [("perturbed", x, x + rng.standard_normal(shape) * 10.0 ** rng.integers(-9, 0)),
                                              ("independent", x, rng.standard_normal(shape))]))
    out = []
    for title, ps in groups:
        out.append(Scenario("relative_error", "relerr", prefix + title, vis,
                            {"items": tuple((a_, b_) for _, a_, b_ in ps)}, 1e-9, 1e-15,
                            "relative_error(a, b) for: " + ", ".join(t for t, _, _ in ps)))
    return out


# -- initialisation
def init_variance(target, n_in, n_out):
    """The variance the reference draws from: Xavier 2/(n_in + n_out), He 2/n_in."""
    return 2.0 / n_in if target == "he_normal" else 2.0 / (n_in + n_out)


def init_family(target):
    return "uniform" if target == "xavier_uniform" else "normal"


def _init_scenarios(target, rng, vis, prefix, n_drawn):
    if vis == "visible":
        specs = [(100, 300, 11), (256, 64, 12)]
    else:
        specs = [(400, 30, 13)]
        while len(specs) < 1 + n_drawn:
            n_in, n_out = int(rng.integers(30, 420)), int(rng.integers(30, 420))
            ratio = max(n_in, n_out) / min(n_in, n_out)
            if n_in * n_out >= 8000 and ratio >= 2.0:
                specs.append((n_in, n_out, int(rng.integers(2 ** 31))))
    out = []
    for k, (n_in, n_out, seed) in enumerate(specs):
        title = f"{prefix}n_in={n_in}, n_out={n_out}" if vis == "visible" or k == 0 else f"{prefix}drawn {k}: n_in={n_in}, n_out={n_out}"
        out.append(Scenario(target, "init", title, vis,
                            {"n_in": n_in, "n_out": n_out, "seed": seed, "other_seed": seed + 1000},
                            description=f"{target}({n_in}, {n_out}, rng) three times: twice with "
                                        f"default_rng({seed}), once with default_rng({seed + 1000}); "
                                        f"the matrix must be ({n_out}, {n_in}) with variance "
                                        f"{init_variance(target, n_in, n_out):.4g}"))
    return out


# -- dropout
def _dropout_scenarios(target, rng, vis, prefix, n_drawn):
    if vis == "visible":
        specs = [((40, 100), 0.8, np.float64, 21), ((50, 80), 0.3, np.float64, 22)]
    else:
        specs = [((100, 50), 0.9, np.float32, 23)]
        for _ in range(n_drawn):
            p = float(rng.choice([0.2, 0.35, 0.65, 0.75, 0.9]))
            specs.append(((int(rng.integers(50, 120)), int(rng.integers(80, 150))), p,
                          np.float32 if rng.random() < 0.3 else np.float64, int(rng.integers(2 ** 31))))
    out = []
    for k, (shape, p, dtype, seed) in enumerate(specs):
        x = _rand(rng, shape, dtype, 0.1, 3.0)
        dout = _rand(rng, shape, dtype, 0.1, 3.0)
        title = f"{prefix}keep_prob={p}, x {shape}" + ("" if k == 0 or vis == "visible" else f" (drawn {k})")
        out.append(Scenario(target, "dropout", title, vis,
                            {"x": x, "dout": dout, "keep_prob": p, "seed": seed, "other_seed": seed + 1000},
                            description=f"Dropout(keep_prob={p}, rng=default_rng({seed})): forward(x, True), "
                                        f"backward(dout), forward(x, False), backward(dout); x {shape} "
                                        f"{np.dtype(dtype).name}, nowhere 0; again with the same seed and "
                                        f"with seed {seed + 1000}"))
    return out


# -- L2
def _l2_scenarios(rng, vis, prefix, n_drawn):
    if vis == "visible":
        groups = [("one matrix", [[(3, 4)]], [0.1], np.float64),
                  ("two matrices", [[(2, 3), (3, 5)]], [0.05], np.float64)]
    else:
        groups = [("lam = 0", [[(2, 2)]], [0.0], np.float64), ("float32", [[(4, 3), (3,)]], [1e-3], np.float32)]
        for k in range(n_drawn):
            shapes = [(int(rng.integers(1, 6)), int(rng.integers(1, 6))) for _ in range(int(rng.integers(1, 4)))]
            groups.append((f"drawn {k + 1}", [shapes], [float(rng.choice([1e-4, 0.01, 0.3, 2.0]))], np.float64))
    out = []
    for title, shape_sets, lams, dtype in groups:
        items = tuple((tuple(rng.standard_normal(s).astype(dtype) for s in shapes), lam)
                      for shapes, lam in zip(shape_sets, lams))
        rtol, atol = _tol(dtype)
        desc = "; ".join(f"l2_penalty([{', '.join(str(w.shape) for w in ws)}], lam={lam:g})" for ws, lam in items)
        out.append(Scenario("l2_penalty", "l2", prefix + title, vis, {"items": items}, rtol, atol, desc))
    return out


_VISIBLE_WINDOW = [("tanh, V=7, d=4, window 5, H=3", 7, 4, 5, 3, "tanh", np.float64, 1.0),
                   ("sigmoid, upstream 0.3", 12, 3, 5, 6, "sigmoid", np.float64, 0.3)]
_HIDDEN_WINDOW = [("relu, float32", 9, 3, 5, 4, "relu", np.float32, -1.5),
                  ("hard tanh, window 3", 6, 5, 3, 7, "hard_tanh", np.float64, 2.0)]


def _make(target, vis, rng, prefix=""):
    kind = _KIND[target]
    drawn = 3
    if kind == "gate":
        return _gate_scenarios(target, rng, vis, prefix, 2 if vis == "visible" else drawn)
    if kind in ("window_forward", "window_backward", "embedding"):
        specs = _VISIBLE_WINDOW if vis == "visible" else _HIDDEN_WINDOW + _drawn_window_specs(rng, drawn)
        extra = _embedding_specials(vis) if (kind == "embedding" and not prefix) else []
        return extra + _window_scenarios(target, rng, vis, prefix, specs)
    if kind == "numgrad":
        return _numgrad_scenarios(rng, vis, prefix, drawn)
    if kind == "relerr":
        return _relerr_scenarios(rng, vis, prefix, drawn)
    if kind == "init":
        return _init_scenarios(target, rng, vis, prefix, drawn)
    if kind == "dropout":
        return _dropout_scenarios(target, rng, vis, prefix, drawn)
    return _l2_scenarios(rng, vis, prefix, drawn)


@lru_cache(maxsize=None)
def _fixed(target, vis):
    base = 1000 + 17 * TARGETS.index(target)
    return tuple(_make(target, vis, np.random.default_rng(base + (0 if vis == "visible" else 1))))


@lru_cache(maxsize=64)
def _drawn(target, seed):
    rng = np.random.default_rng((int(seed), TARGETS.index(target)))
    made = _make(target, "hidden", rng)
    return tuple(Scenario(s.target, s.kind, s.name, s.visibility, s.data, s.rtol, s.atol,
                          s.description, int(seed)) for s in made)


def scenarios(target: str, which: str = "visible", seed: int | None = None) -> list[Scenario]:
    """The scenarios of one target: "visible", "hidden" or "all" (visible first).

    Hidden scenarios with ``seed=None`` are the fixed set of the notebook's hidden tests;
    with an integer ``seed`` they are drawn from ``np.random.default_rng((seed, k))``.
    """
    _check_target(target)
    if which not in _WHICH:
        raise ValueError(f"which must be one of {_WHICH}, got {which!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
    out = []
    if which in ("visible", "all"):
        out += list(_fixed(target, "visible"))
    if which in ("hidden", "all"):
        out += list(_fixed(target, "hidden") if seed is None else _drawn(target, seed))
    return out


# ============================================================================ (b) trajectories
@dataclass
class Trajectory(checks.Trajectory):
    """What one piece of code did over one scenario, as plain data: the optimizers' record
    (:class:`autograder.checks.Trajectory`, whose ``to_dict``/``from_dict`` it shares) plus
    the call each value came from.

    values : key -> float64 array (each recorded result, in the shape the code returned it).
    steps_done : how many calls completed.
    violations : [{"step", "key", "kind", "detail"}]; kind one of "wrong type", "wrong shape",
        "input modified", "not reproducible", "ignores rng".
    error : None or {"step", "type", "message", "where"}: the exception the code raised at
        call ``step`` (1-based), "where" its traceback restricted to the student's frames.
    warnings : distinct warnings the code raised, as text.
    calls : key -> the number of the call that produced the value (for messages).
    """

    calls: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(super().to_dict(), calls=dict(self.calls))

    @classmethod
    def from_dict(cls, data) -> "Trajectory":
        """Rebuild from :meth:`to_dict` output, accepting only plain, well-formed data."""
        traj = super().from_dict(data)
        traj.calls = {str(k): int(v) for k, v in dict(data.get("calls", {})).items()}
        return traj


_HERE = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))
_SCALARS = (float, int, np.float64, np.float32, np.float16, np.int64, np.int32)


def _student_frames(exc):
    lines = []
    for f in traceback.extract_tb(exc.__traceback__):
        path = os.path.abspath(f.filename)
        if path.startswith((_HERE, _NUMPY_DIR)) or "importlib" in f.filename:
            continue
        text = f.line or linecache.getline(f.filename, f.lineno).strip()
        lines.append(f"in {f.name}, line {f.lineno}: {text}")
    return "\n".join(lines)


def _trusted(obj):
    """float64 copy of an exact numeric ndarray or exact real scalar; None for anything else."""
    if type(obj) is np.ndarray:
        if obj.dtype.kind not in "fiub":
            return None
        return np.array(obj, dtype=np.float64, copy=True)
    if type(obj) in _SCALARS or type(obj) is bool or type(obj) is np.bool_:
        return np.array(float(obj), dtype=np.float64)
    return None


class _Stop(Exception):
    """Ends a run: the code raised, or returned something the next step cannot use."""


class _Recorder:
    def __init__(self, traj):
        self.traj = traj
        self.step = 0
        self._flagged = set()

    def call(self, label, fn, *args):
        """Call the student's code (the only way a runner touches it)."""
        self.step += 1
        try:
            result = fn(*args)
        except (Exception, SystemExit) as exc:   # noqa: BLE001 - anything the student's code does
            self.traj.error = {"step": self.step, "type": type(exc).__name__,
                               "message": f"{label}: {str(exc)[:400]}", "where": _student_frames(exc)}
            raise _Stop from None
        self.traj.steps_done = self.step
        return result

    def violate(self, key, kind, detail):
        if (key, kind) not in self._flagged:
            self._flagged.add((key, kind))
            self.traj.violations.append({"step": self.step, "key": key, "kind": kind, "detail": detail})

    def take(self, key, obj, shape, what=None):
        """Record ``obj`` under ``key``; a wrong shape is recorded too (for the diagnosis)."""
        value = _trusted(obj)
        if value is None:
            self.violate(key, "wrong type", f"{what or key} is a {type(obj).__name__}; expected "
                                            + ("a number" if shape == () else f"a numpy array of shape {shape}"))
            raise _Stop
        if shape is not None and value.shape != tuple(shape):
            if value.size > 20 * max(1, int(np.prod(shape))) + 1000:
                value = None
            self.violate(key, "wrong shape", f"{what or key} has shape {None if value is None else value.shape}, "
                                             f"expected {tuple(shape)}")
            if value is None:
                raise _Stop
        self.traj.values[key] = value
        self.traj.calls[key] = self.step
        return value

    def sequence(self, key, obj, length, what):
        if not isinstance(obj, (tuple, list)) or len(obj) != length:
            got = type(obj).__name__ + (f" of length {len(obj)}" if isinstance(obj, (tuple, list)) else "")
            self.violate(key, "wrong type", f"{what} must be a tuple of {length}, got a {got}")
            raise _Stop
        return list(obj)

    def unchanged(self, key, given, original, what):
        if type(given) is not np.ndarray or given.shape != original.shape or not np.array_equal(given, original):
            self.violate(key, "input modified", f"{what} changed an input array it was given ({key})")


def run_trajectory(code, scenario: Scenario) -> Trajectory:
    """Run ``code`` over ``scenario``; never raises for anything the code does."""
    runner = _RUNNERS[scenario.kind]
    traj = Trajectory(scenario.target, scenario.name)
    rec = _Recorder(traj)
    stderr = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
        warnings.simplefilter("always")
        with np.errstate(all="warn"):
            try:
                runner(code, scenario, rec)
            except _Stop:
                pass
    seen = []
    if stderr.getvalue().strip():
        seen.append("your code wrote to stderr: " + stderr.getvalue().strip()[:300])
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        line = linecache.getline(w.filename, w.lineno).strip() if w.filename else ""
        text += f" (line {w.lineno}: {line})" if line else ""
        if text not in seen:
            seen.append(text)
    traj.warnings = seen
    return traj


# -- the runners: each calls only code(...) and methods of what code(...) returned
def _run_gate(code, sc, rec):
    target, n = sc.target, sc.data["n"]
    for i, (x, y, z, up) in enumerate(sc.data["circuits"], start=1):
        x, y, z, up = (v.copy() if isinstance(v, np.ndarray) else v for v in (x, y, z, up))
        shape = np.shape(x)
        gate = rec.call(f"{target}()", code, *((2,) if target == "CopyGate" else ()))
        pre = f"circuit {i}: "
        # forward in topological order, your gate in its node, plain NumPy in the others
        if target == "CopyGate":
            outs = rec.sequence(pre + "copies", rec.call("CopyGate.forward(y)", gate.forward, y), 2,
                                "CopyGate(2).forward(y)")
            y1 = rec.take(pre + "y copy 1", outs[0], shape)
            y2 = rec.take(pre + "y copy 2", outs[1], shape)
        else:
            y1 = y2 = np.asarray(y, dtype=np.float64)
        if target == "AddGate":
            q = rec.take(pre + "q = x + y", rec.call("AddGate.forward(x, y)", gate.forward, x, y), shape)
        else:
            q = np.asarray(x, dtype=np.float64) + y1
        if target == "MaxGate":
            m = rec.take(pre + "m = max(y, z)", rec.call("MaxGate.forward(y, z)", gate.forward, y, z), shape)
        else:
            m = np.maximum(y2, z)
        if target == "MultiplyGate":
            f = rec.take(pre + "f", rec.call("MultiplyGate.forward(q, m)", gate.forward, q, m), shape)
        else:
            f = q * m
            rec.traj.values[pre + "f"] = np.array(f, dtype=np.float64)
        # backward in reverse order
        up64 = np.asarray(up, dtype=np.float64)
        if target == "MultiplyGate":
            dq, dm = rec.sequence(pre + "df/dq, df/dm", rec.call("MultiplyGate.backward(1)", gate.backward, up), 2,
                                  "MultiplyGate.backward(upstream)")
            dq, dm = rec.take(pre + "df/dq", dq, shape), rec.take(pre + "df/dm", dm, shape)
        else:
            dq, dm = up64 * m, up64 * q
        if target == "MaxGate":
            dy2, dz = rec.sequence(pre + "max grads", rec.call("MaxGate.backward(df/dm)", gate.backward, dm), 2,
                                   "MaxGate.backward(upstream)")
            dy2, dz = rec.take(pre + "df/dy via max", dy2, shape), rec.take(pre + "df/dz", dz, shape)
        else:
            y_wins = np.asarray(y2) >= np.asarray(z)
            dy2, dz = np.where(y_wins, dm, 0.0), np.where(y_wins, 0.0, dm)
        if target == "AddGate":
            dx, dy1 = rec.sequence(pre + "add grads", rec.call("AddGate.backward(df/dq)", gate.backward, dq), 2,
                                   "AddGate.backward(upstream)")
            dx, dy1 = rec.take(pre + "df/dx", dx, shape), rec.take(pre + "df/dy via add", dy1, shape)
        else:
            dx, dy1 = dq, dq
        if target == "CopyGate":
            (dy,) = rec.sequence(pre + "copy grads", rec.call("CopyGate.backward((g1, g2))", gate.backward,
                                                              (dy1, dy2)), 1, "CopyGate.backward(upstreams)")
            dy = rec.take(pre + "df/dy", dy, shape)
        else:
            dy = dy1 + dy2
        for key, value in ((pre + "df/dx", dx), (pre + "df/dy", dy), (pre + "df/dz", dz)):
            rec.traj.values[key] = np.array(value, dtype=np.float64)
    for i, (inputs, ups) in enumerate(sc.data["direct"], start=1):
        pre = f"gate {i}: "
        shape = inputs[0].shape
        gate = rec.call(f"{target}({n if target == 'CopyGate' else ''})", code, *((n,) if target == "CopyGate" else ()))
        given = [a.copy() for a in inputs]
        out = rec.call(f"{target}.forward", gate.forward, *given)
        if target == "CopyGate":
            outs = rec.sequence(pre + "copies", out, n, f"CopyGate({n}).forward(a)")
            for k, o in enumerate(outs, start=1):
                rec.take(pre + f"copy {k}", o, shape)
            grads = rec.sequence(pre + "grads", rec.call("CopyGate.backward", gate.backward,
                                                         tuple(g.copy() for g in ups)), 1, "CopyGate.backward(upstreams)")
            rec.take(pre + "da", grads[0], shape)
        else:
            rec.take(pre + "out", out, shape)
            grads = rec.sequence(pre + "grads", rec.call(f"{target}.backward", gate.backward, ups.copy()), 2,
                                 f"{target}.backward(upstream)")
            rec.take(pre + "da", grads[0], shape)
            rec.take(pre + "db", grads[1], shape)
        for a, original in zip(given, inputs):
            rec.unchanged(pre + "inputs", a, original, f"{target}.forward")


def _run_window_forward(code, sc, rec):
    d = sc.data
    f = sf.ACTIVATIONS[d["act"]][0]
    H, wd = d["W"].shape
    for i, ids in enumerate(d["windows"], start=1):
        args = [d["L"].copy(), d["W"].copy(), d["b"].copy(), d["u"].copy(), ids.copy()]
        out = rec.call("window_forward(L, W, b, u, word_ids, f)", code, *args, f)
        s, cache = rec.sequence(f"window {i}", out, 2, "window_forward(...)'s result (s, cache)")
        pre = f"window {i}: "
        rec.take(pre + "s", s, ())
        if type(cache) is not dict:
            rec.violate(pre + "cache", "wrong type", f"the cache must be a dict with keys 'x', 'z', 'h'; "
                                                     f"got a {type(cache).__name__}")
            raise _Stop
        for key, shape in (("x", (wd,)), ("z", (H,)), ("h", (H,))):
            if key not in cache:
                rec.violate(pre + "cache", "wrong type", f"the cache has no key {key!r}")
                raise _Stop
            rec.take(pre + f"cache['{key}']", cache[key], shape)
        for name, given, original in zip("LWbu", args, (d["L"], d["W"], d["b"], d["u"])):
            rec.unchanged(name, given, original, "window_forward")


def _run_window_backward(code, sc, rec):
    d = sc.data
    fprime = sf.ACTIVATIONS[d["act"]][1]
    W, u = d["W"], d["u"]
    H, wd = W.shape
    for i, (ds, cache) in enumerate(d["items"], start=1):
        given = {k: v.copy() for k, v in cache.items()}
        Wc, uc = W.copy(), u.copy()
        out = rec.call("window_backward(ds, cache, W, u, f_prime)", code, ds, given, Wc, uc, fprime)
        pre = f"window {i}: "
        if type(out) is not dict:
            rec.violate(pre + "grads", "wrong type", f"window_backward must return a dict with keys "
                                                     f"'u', 'b', 'W', 'x'; got a {type(out).__name__}")
            raise _Stop
        for key, shape in (("u", (H,)), ("b", (H,)), ("W", (H, wd)), ("x", (wd,))):
            if key not in out:
                rec.violate(pre + "grads", "wrong type", f"the result has no key {key!r} (keys 'u', 'b', 'W', 'x')")
                raise _Stop
            rec.take(pre + f"d{key}", out[key], shape, f"grads[{key!r}]")
        rec.unchanged("W", Wc, W, "window_backward")
        rec.unchanged("u", uc, u, "window_backward")
        for k in cache:
            rec.unchanged(f"cache['{k}']", given.get(k), cache[k], "window_backward")


def _run_embedding(code, sc, rec):
    for i, (dx, ids, V) in enumerate(sc.data["items"], start=1):
        given = dx.copy()
        out = rec.call("embedding_grad(dx, word_ids, vocab_size)", code, given, ids.copy(), V)
        rec.take(f"window {i}: dL", out, (V, dx.size // len(ids)))
        rec.unchanged("dx", given, dx, "embedding_grad")


def _run_numgrad(code, sc, rec):
    for i, (fname, x, h) in enumerate(sc.data["items"], start=1):
        given = x.copy()
        out = rec.call(f"numerical_gradient({fname}, x, h={h:g})", code, getattr(sf, fname), given, h)
        rec.take(f"case {i} ({fname}): gradient", out, x.shape)
        rec.take(f"case {i} ({fname}): x after the call", given, x.shape)


def _run_relerr(code, sc, rec):
    for i, (a, b) in enumerate(sc.data["items"], start=1):
        ga, gb = a.copy(), b.copy()
        out = rec.call("relative_error(a, b)", code, ga, gb)
        if type(out) is np.ndarray and out.shape == ():
            out = out[()]
        rec.take(f"pair {i}", out, ())
        rec.unchanged(f"pair {i}: a, b", ga, a, "relative_error")
        rec.unchanged(f"pair {i}: a, b", gb, b, "relative_error")


def _run_init(code, sc, rec):
    d = sc.data
    shape = (d["n_out"], d["n_in"])
    label = f"{sc.target}({d['n_in']}, {d['n_out']}, rng)"
    for key, seed in (("W", d["seed"]), ("W again, same seed", d["seed"]), ("W, other seed", d["other_seed"])):
        rec.take(key, rec.call(label, code, d["n_in"], d["n_out"], np.random.default_rng(seed)), shape,
                 f"the result of {label}")


def _run_dropout(code, sc, rec):
    d = sc.data
    x, dout, p = d["x"], d["dout"], d["keep_prob"]
    shape = x.shape
    layer = rec.call(f"Dropout(keep_prob={p}, rng)", code, p, np.random.default_rng(d["seed"]))
    given = x.copy()
    rec.take("out (train)", rec.call("forward(x, True)", layer.forward, given, True), shape, "forward(x, True)")
    rec.unchanged("x", given, x, "forward")
    rec.take("dx (train)", rec.call("backward(dout)", layer.backward, dout.copy()), shape, "backward(dout)")
    rec.take("out (test)", rec.call("forward(x, False)", layer.forward, x.copy(), False), shape, "forward(x, False)")
    rec.take("dx (test)", rec.call("backward(dout) after forward(x, False)", layer.backward, dout.copy()), shape,
             "backward(dout) in test mode")
    for key, seed in (("out (train), same seed", d["seed"]), ("out (train), other seed", d["other_seed"])):
        again = rec.call(f"Dropout(keep_prob={p}, rng)", code, p, np.random.default_rng(seed))
        rec.take(key, rec.call("forward(x, True)", again.forward, x.copy(), True), shape, "forward(x, True)")


def _run_l2(code, sc, rec):
    for i, (weights, lam) in enumerate(sc.data["items"], start=1):
        given = [w.copy() for w in weights]
        out = rec.call("l2_penalty(weights, lam)", code, given, lam)
        penalty, grads = rec.sequence(f"case {i}", out, 2, "l2_penalty(...)'s result (penalty, grads)")
        rec.take(f"case {i}: penalty", penalty, ())
        grads = rec.sequence(f"case {i}: grads", grads, len(weights), "grads (one per weight array)")
        for k, (g, w) in enumerate(zip(grads, weights), start=1):
            rec.take(f"case {i}: grad {k}", g, w.shape)
        for g, w in zip(given, weights):
            rec.unchanged(f"case {i}: weights", g, w, "l2_penalty")


_RUNNERS = {"gate": _run_gate, "window_forward": _run_window_forward, "window_backward": _run_window_backward,
            "embedding": _run_embedding, "numgrad": _run_numgrad, "relerr": _run_relerr, "init": _run_init,
            "dropout": _run_dropout, "l2": _run_l2}


# ============================================================================ the reference
def _window_forward_reference(L, W, b, u, word_ids, f):
    from dlcourse import window
    name = _activation_name(f)
    params = {"L": L, "W": W, "b": b, "U": u}
    s, cache = window.forward(params, word_ids, activation=name)
    return s, {"x": cache["x"], "z": cache["z"], "h": cache["h"]}


def _window_backward_reference(ds, cache, W, u, f_prime):
    from dlcourse import window
    name = _activation_name(f_prime)
    d = max(1, len(cache["x"]))
    params = {"L": np.zeros((1, d)), "W": W, "b": np.zeros(W.shape[0]), "U": u}
    full = dict(cache, ids=np.zeros(1, dtype=np.intp), activation=name)
    # window.backward also scatters Wᵀδ into dL; a one-word "vocabulary" of width w·d keeps it whole
    grads = window.backward(params, full, ds)
    return {"u": grads["U"], "b": grads["b"], "W": grads["W"], "x": grads["L"][0]}


def _embedding_grad_reference(dx, word_ids, vocab_size):
    from dlcourse import window
    # window.backward's last step scatters Wᵀδ into the rows of dL with np.add.at. With W = I,
    # the identity activation and U = dx, δ = dx and Wᵀδ = dx: exactly that step, on dx.
    n = len(dx)
    d = n // len(word_ids)
    params = {"L": np.zeros((vocab_size, d)), "W": np.eye(n), "b": np.zeros(n), "U": np.asarray(dx, dtype=np.float64)}
    cache = {"ids": np.asarray(word_ids, dtype=np.intp), "x": np.zeros(n), "z": np.zeros(n),
             "h": np.zeros(n), "activation": "identity"}
    return window.backward(params, cache, 1.0)["L"]


class _DropoutReference:
    """``dlcourse.layers`` inverted dropout as the notebook's ``Dropout`` class."""

    def __init__(self, keep_prob, rng):
        self.keep_prob, self.rng, self.mask = keep_prob, rng, None

    def forward(self, x, train=True):
        from dlcourse import layers
        out, self.mask = layers.dropout_forward(x, self.keep_prob, self.rng, train)
        return out

    def backward(self, dout):
        from dlcourse import layers
        return layers.dropout_backward(dout, self.mask)


def _activation_name(fn):
    for name, pair in sf.ACTIVATIONS.items():
        if fn is pair[0] or fn is pair[1]:
            return name
    raise ValueError(f"{fn!r} is not an activation of autograder.scenario_functions")


def reference(target):
    """The ``dlcourse`` reference for ``target``, in the student's calling convention."""
    _check_target(target)
    from dlcourse import gradcheck, graph, init, layers
    refs = {"AddGate": graph.AddGate, "MultiplyGate": graph.MultiplyGate, "MaxGate": graph.MaxGate,
            "CopyGate": graph.CopyGate, "window_forward": _window_forward_reference,
            "window_backward": _window_backward_reference, "embedding_grad": _embedding_grad_reference,
            "numerical_gradient": gradcheck.numerical_gradient, "relative_error": gradcheck.relative_error,
            "xavier_uniform": init.xavier_uniform, "xavier_normal": init.xavier_normal,
            "he_normal": init.he_normal, "dropout_forward": _DropoutReference,
            "dropout_backward": _DropoutReference, "l2_penalty": layers.l2_penalty}
    return refs[target]


def _fingerprint(sc):
    return hashlib.sha256(pickle.dumps(sc, protocol=4)).hexdigest()


_TRUSTED_CACHE: dict = {}
_CACHE_BYTES = 512 * 2 ** 20


def _nbytes(traj):
    return sum(v.nbytes for v in traj.values.values())


def _trusted_run(kind, sc, key=None):
    """Trajectories of trusted code (the reference, a catalogued mistake), computed once."""
    cache_key = (kind, key, _fingerprint(sc))
    if cache_key not in _TRUSTED_CACHE:
        if kind == "reference":
            code = reference(sc.target)
        else:
            from autograder import backprop_mistakes
            code = backprop_mistakes.MISTAKES[key].make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                _TRUSTED_CACHE[cache_key] = run_trajectory(code, sc)
        # bounded by size: a trajectory of the random parts holds ~0.7 MB of draws
        while len(_TRUSTED_CACHE) > 1 and sum(_nbytes(t) for t in _TRUSTED_CACHE.values()) > _CACHE_BYTES:
            _TRUSTED_CACHE.pop(next(iter(_TRUSTED_CACHE)))
    return _TRUSTED_CACHE[cache_key]


def reference_trajectory(sc: Scenario) -> Trajectory:
    return _trusted_run("reference", sc)


def warm_cache(diagnosis: bool = True, seed: int | None = None) -> None:
    """Compute the trusted trajectories (the reference's, and with ``diagnosis`` every catalogued
    mistake's) of every scenario now, e.g. once in the process the grader forks its workers from."""
    from autograder import backprop_mistakes
    for target in TARGETS:
        for sc in scenarios(target, "all", seed):
            _trusted_run("reference", sc)
            if diagnosis:
                for m in backprop_mistakes.for_target(target):
                    _trusted_run("mistake", sc, m.key)


# ============================================================================ (c) comparison
def _value_difference(sc, got, exp):
    """None when every value of ``exp`` is matched by ``got``, else the first difference."""
    worst, first = 0.0, None
    for key, ev in exp.values.items():
        gv = got.values.get(key)
        if gv is None or gv.shape != ev.shape:
            if first is None:
                first = {"kind": "shape", "key": key, "got_shape": None if gv is None else gv.shape,
                         "shape": ev.shape}
            worst = math.inf
            continue
        finite = np.isfinite(ev)
        scale = float(np.max(np.abs(ev[finite]), initial=0.0))
        atol = sc.atol * scale + 1e-300
        with np.errstate(all="ignore"):
            diff = np.abs(gv - ev)
            ok = (diff <= sc.rtol * np.abs(ev) + atol) | (gv == ev) | (np.isnan(gv) & np.isnan(ev))
            # symmetric, so an expected 0 gives 1, not 1e300
            rel = np.where(ok, 0.0, diff / np.maximum(np.maximum(np.abs(ev), np.abs(gv)), 1e-300))
        rel = np.where(np.isnan(rel), np.inf, rel)
        worst = max(worst, float(np.max(rel, initial=0.0)))
        if not ok.all() and first is None:
            flat = int(np.flatnonzero(~ok.reshape(-1))[0])
            first = {"kind": "values", "key": key, "flat": flat}
    if first is not None:
        first["max_rel_error"] = worst
    return first


def _near(a, b, rtol=1e-9):
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * np.abs(b) + 1e-300))


def _stat_failures(sc, traj):
    """The statistical and contract tests of a random part: [(key, problem, sentence)]."""
    v = traj.values
    fails = []
    if sc.kind == "init":
        d = sc.data
        n_in, n_out = d["n_in"], d["n_out"]
        shape = (n_out, n_in)
        W = v.get("W")
        if W is None:
            return [("W", "malformed", "no matrix was recorded")]
        if W.shape != shape:
            extra = " (transposed: W maps n_in inputs to n_out outputs, so it is (n_out, n_in))" \
                if W.shape == shape[::-1] else ""
            return [("W", "wrong shape", f"W has shape {W.shape}, expected {shape}{extra}")]
        if not np.all(np.isfinite(W)):
            return [("W", "values", "W has non-finite entries")]
        var, fam = init_variance(sc.target, n_in, n_out), init_family(sc.target)
        N = W.size
        kappa = 1.8 if fam == "uniform" else 3.0
        mean, msq = float(W.mean()), float(np.mean(W * W))
        if abs(mean) > Z * math.sqrt(var / N):
            fails.append(("W", "values", f"the entries' mean is {mean:.4g}; a zero-mean draw gives |mean| ≤ "
                                         f"{Z * math.sqrt(var / N):.2g} (Z = {Z}, N = {N})"))
        band = Z * var * math.sqrt((kappa - 1) / N)
        if abs(msq - var) > band:
            fails.append(("W", "values", f"the variance is {msq:.5g} (mean of W²), expected {var:.5g} ± {band:.2g} "
                                         f"= 2/({n_in} + {n_out})" if sc.target != "he_normal" else
                          f"the variance is {msq:.5g} (mean of W²), expected {var:.5g} ± {band:.2g} = 2/{n_in}"))
        r = math.sqrt(3 * var)
        beyond = float(np.mean(np.abs(W) > r * (1 + 1e-9)))
        if fam == "uniform" and beyond > 0:
            fails.append(("W", "values", f"{beyond:.2%} of the entries lie outside ±√(6/(n_in + n_out)) = ±{r:.4g}; "
                                         "a uniform draw stays inside"))
        if fam == "normal":
            p0 = NORMAL_BEYOND_SQRT3
            band_p = Z * math.sqrt(p0 * (1 - p0) / N)
            if abs(beyond - p0) > band_p:
                fails.append(("W", "values", f"{beyond:.2%} of the entries lie beyond √3·σ = {r:.4g}; a normal draw "
                                             f"puts {p0:.2%} ± {band_p:.2%} there (is it drawn from a normal?)"))
        again, other = v.get("W again, same seed"), v.get("W, other seed")
        if again is not None and not np.array_equal(again, W):
            fails.append(("W again, same seed", "not reproducible",
                          "two calls with Generators in the same state gave different matrices: draw every number "
                          "from the rng argument (rng.uniform, rng.normal), never from np.random.*"))
        if other is not None and other.shape == W.shape and np.array_equal(other, W):
            fails.append(("W, other seed", "ignores rng", "a Generator with another seed gave the same matrix: "
                                                          "use the rng you are given, do not make your own"))
        return fails
    # dropout
    d = sc.data
    x, dout, p = d["x"].astype(np.float64), d["dout"].astype(np.float64), d["keep_prob"]
    out, dx = v.get("out (train)"), v.get("dx (train)")
    out_t, dx_t = v.get("out (test)"), v.get("dx (test)")
    if any(a is None or a.shape != x.shape for a in (out, dx, out_t, dx_t)):
        return [("out (train)", "wrong shape", f"the outputs must have the shape of x, {x.shape}")]
    if sc.target == "dropout_forward":
        kept = out != 0
        N = x.size
        rate = float(kept.mean())
        band = Z * math.sqrt(p * (1 - p) / N)
        if abs(rate - p) > band:
            fails.append(("out (train)", "values", f"{rate:.2%} of the units were kept; with keep_prob = {p} "
                                                   f"expect {p:.0%} ± {band:.2%} (keep_prob is the probability of "
                                                   "KEEPING a unit)"))
        if kept.any():
            ratio = out[kept] / x[kept]
            if not _near(ratio, np.full_like(ratio, 1 / p), 2e-6):
                fails.append(("out (train)", "values", f"kept units are multiplied by {np.median(ratio):.6g}; "
                                                       f"inverted dropout multiplies them by 1/keep_prob = {1 / p:.6g}"))
        if not _near(out_t, x, 1e-6):
            fails.append(("out (test)", "values", "forward(x, train=False) must return x unchanged (the identity); "
                                                  f"it returned x times {np.median(out_t / x):.6g}"))
        same, other = v.get("out (train), same seed"), v.get("out (train), other seed")
        if same is not None and not np.array_equal(same, out):
            fails.append(("out (train), same seed", "not reproducible",
                          "two layers with Generators in the same state dropped different units: draw the mask "
                          "from self.rng (the rng given to the constructor), never from np.random.*"))
        if other is not None and np.array_equal(other, out):
            fails.append(("out (train), other seed", "ignores rng",
                          "a Generator with another seed dropped the same units: use the rng you are given"))
        return fails
    # dropout_backward: the gradient must use the forward pass's own mask (scale included)
    mask = out / x
    if not _near(dx, dout * mask, 2e-6):
        agree = float(np.mean(np.abs(dx - dout * mask) <= 2e-6 * np.abs(dout * mask) + 1e-12))
        fails.append(("dx (train)", "values", "backward(dout) must return dout times the mask forward used "
                                              f"(out / x, scale included); it agrees on {agree:.1%} of the units"))
    # after a test-mode forward: dout unchanged, or (when forward wrongly masks at test time, a forward
    # mistake graded in the forward part) dout times what that forward did
    if not (_near(dx_t, dout, 1e-6) or _near(dx_t, dout * (out_t / x), 2e-6)):
        fails.append(("dx (test)", "values", "after forward(x, train=False), backward(dout) must match that "
                                             "forward pass: dout unchanged (no mask at test time)"))
    return fails


def signature(sc, traj):
    """Summary statistics of a random part's trajectory: name -> (value, standard error or 0).

    Two trajectories match (:func:`_signatures_match`) when their signatures agree: exactly
    (relative 1e-6) where the standard error is 0, within Z combined standard errors otherwise.
    Used to recognise a catalogued mistake in a student's draws, which need not equal the
    variant's draws number for number.
    """
    v = traj.values
    if sc.kind == "init":
        W = v.get("W")
        if W is None:
            return None
        N = W.size
        msq = float(np.mean(W * W))
        kurt = float(np.mean(W ** 4)) / max(msq * msq, 1e-300)
        bounded = float(np.max(np.abs(W))) / math.sqrt(3 * msq) < 1.2 if msq > 0 else True
        return {"shape": (W.shape, 0.0), "log variance": (math.log(max(msq, 1e-300)), math.sqrt(max(kurt - 1, 0.1) / N)),
                "uniform-like": (bounded, 0.0)}
    d = sc.data
    x, dout, p = d["x"].astype(np.float64), d["dout"].astype(np.float64), d["keep_prob"]
    out, dx, out_t, dx_t = (v.get(k) for k in ("out (train)", "dx (train)", "out (test)", "dx (test)"))
    if any(a is None or a.shape != x.shape for a in (out, dx, out_t, dx_t)):
        return None
    kept = out != 0
    N = x.size
    rate = float(kept.mean())
    if sc.target == "dropout_forward":
        scale = float(np.median(out[kept] / x[kept])) if kept.any() else 0.0
        return {"keep rate": (rate, math.sqrt(max(rate * (1 - rate), 1 / N) / N)),
                "kept scale": (round(scale, 6), 0.0), "test ratio": (round(float(np.median(out_t / x)), 6), 0.0)}
    mask = out / x
    agree = np.abs(dx - dout * mask) <= 2e-6 * np.abs(dout * mask) + 1e-12
    a = float(agree.mean())
    with np.errstate(all="ignore"):
        ratio = dx[kept] / (dout[kept] * mask[kept])
    return {"agreement": (a, math.sqrt(max(a * (1 - a), 1 / N) / N)),
            "kept ratio": (round(float(np.median(ratio)), 6) if kept.any() else 0.0, 0.0),
            "dropped value": (round(float(np.max(np.abs(dx[~kept]) / np.abs(dout[~kept]), initial=0.0)), 6), 0.0),
            "test ratio": (round(float(np.median(dx_t / dout)), 6), 0.0)}


def _signatures_match(a, b):
    if a is None or b is None or a.keys() != b.keys():
        return False
    for key in a:
        (va, sa), (vb, sb) = a[key], b[key]
        if sa == 0 and sb == 0:
            if isinstance(va, float) and isinstance(vb, float):
                if not abs(va - vb) <= 1e-6 * max(abs(va), abs(vb)) + 1e-12:
                    return False
            elif va != vb:
                return False
        elif abs(va - vb) > Z * math.hypot(sa, sb):
            return False
    return True


def _statistical(sc):
    return sc.kind in ("init", "dropout")


def _matches(sc, got, exp):
    """Does trajectory ``got`` match ``exp`` (the reference's or a variant's) over ``sc``?"""
    if got.error is not None or exp.error is not None:
        return (got.error is not None and exp.error is not None and got.error["step"] == exp.error["step"]
                and got.error["type"] == exp.error["type"])
    if _statistical(sc):
        return _signatures_match(signature(sc, got), signature(sc, exp))
    return _value_difference(sc, got, exp) is None


def _around(arr, flat, width=3):
    values = arr.reshape(-1)
    lo = max(0, flat - 1)
    return [float(x) for x in values[lo:lo + width]]


def _scenario_verdict(sc, traj):
    """(ok, fields for a CheckResult) for one scenario."""
    fields = {"scenario": sc.name, "setup": sc.description + f" [{sc.visibility}]", "step_label": "call"}
    # values are numbered by the call of the student's code that returned them
    if traj.error is not None:
        err = traj.error
        not_impl = err["type"] == "NotImplementedError"
        where = f"\n{err['where']}" if err["where"] else ""
        fields.update(step=err["step"], problem="not implemented" if not_impl else "error",
                      error=f"{err['type']}: {err['message']} (at call {err['step']}){where}")
        if not_impl:
            fields["details"] = ["fill in the body between the markers (delete the `raise NotImplementedError()` line)."]
        return False, fields
    details, problem = [], None
    if _statistical(sc):
        fails = _stat_failures(sc, traj)
        if fails:
            key, problem, _ = fails[0]
            fields.update(param=key)
            details = [f for _, _, f in fails]
    else:
        exp = _trusted_run("reference", sc)
        diff = _value_difference(sc, traj, exp)
        if diff is not None:
            key = diff["key"]
            fields.update(param=key, max_rel_error=diff["max_rel_error"], step=traj.calls.get(key))
            if diff["kind"] == "shape":
                problem = "wrong shape"
                got_shape = diff["got_shape"]
                fields["max_rel_error"] = None
                if not traj.violations:
                    details.append(f"{key}: got {'nothing' if got_shape is None else 'shape ' + str(got_shape)}, "
                                   f"expected shape {diff['shape']}")
            else:
                ev, gv = exp.values[key], traj.values[key]
                idx = np.unravel_index(diff["flat"], ev.shape) if ev.shape else ()
                fields.update(index=tuple(int(i) for i in idx) or None, expected=_around(ev, diff["flat"]),
                              got=_around(gv, diff["flat"]))
                problem = "values"
                if "x after the call" in key:
                    details.append("x must be exactly as it was when your function returns: restore every entry "
                                   "you perturbed.")
    if traj.violations:
        problem = traj.violations[0]["kind"]       # the contract broken first explains the rest
        details = [f"call {v['step']}, {v['key']}: {v['detail']}" for v in traj.violations[:3]] + details
    if problem is None:
        return True, {}
    fields["problem"] = problem
    fields["details"] = details
    return False, fields


def _diagnose(target, scs, trajs, failing):
    from autograder import backprop_mistakes
    sc, traj = scs[failing], trajs[failing]
    if traj.error is not None:
        return None, False
    ref = _trusted_run("reference", sc)
    local = [m for m in backprop_mistakes.for_target(target)
             if _matches(sc, traj, _trusted_run("mistake", sc, m.key))
             and not _matches(sc, _trusted_run("mistake", sc, m.key), ref)]
    for m in local:
        if all(t.error is None and _matches(s, t, _trusted_run("mistake", s, m.key)) for s, t in zip(scs, trajs)):
            return m, True
    return (local[0], False) if local else (None, False)


def compare(target: str, scenario: Scenario, trajectory: Trajectory) -> CheckResult:
    return compare_all(target, [scenario], [trajectory])


def compare_all(target: str, scenario_list, trajectories) -> CheckResult:
    """The verdict over several scenarios: passed, or the first failure, with the diagnosis."""
    _check_target(target)
    scs, trajs = list(scenario_list), list(trajectories)
    if len(scs) != len(trajs):
        raise ValueError(f"{len(scs)} scenarios but {len(trajs)} trajectories")
    warns = []
    for t in trajs:
        warns.extend(w for w in t.warnings if w not in warns)
    passed, failing, fields = 0, None, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            for i, (sc, traj) in enumerate(zip(scs, trajs)):
                if sc.target != target:
                    raise ValueError(f"scenario {sc.name!r} belongs to {sc.target!r}, not {target!r}")
                ok, f = _scenario_verdict(sc, traj)
                if ok:
                    passed += 1
                elif failing is None:
                    failing, fields = i, f
            if failing is None:
                return CheckResult(target, True, len(scs), passed, warnings=warns)
            mistake, certain = _diagnose(target, scs, trajs, failing)
    result = CheckResult(target, False, len(scs), passed, warnings=warns, **fields)
    if mistake is not None:
        result.mistake, result.mistake_title = mistake.key, mistake.title
        result.hint, result.mistake_certain = mistake.hint, certain
    return result


# ============================================================================ the checks
def _borrowed(code):
    """The dlcourse module ``code`` comes from, or "" (in-process only: reads attributes)."""
    for obj in (code, *getattr(code, "__mro__", ())):
        module = getattr(obj, "__module__", None)
        if isinstance(module, str) and (module == "dlcourse" or module.startswith("dlcourse.")):
            return module
    return ""


def check(code, target: str, scenarios: str = "visible", seed: int | None = None) -> CheckResult:  # noqa: A002
    """Check ``code`` (the student's class or function) for ``target`` in this process.

    ``scenarios``: "visible" (the notebook's tests), "hidden" or "all". Returns a
    :class:`CheckResult`; call ``.assert_passed()`` on it in a test cell.
    """
    _check_target(target)
    scs = globals()["scenarios"](target, scenarios, seed)
    borrowed = _borrowed(code)
    if borrowed:
        return CheckResult(target, False, len(scs), 0, problem="uses the reference", scenario=scs[0].name,
                           details=[f"the code comes from the course library ({borrowed}); write it yourself"])
    return compare_all(target, scs, [run_trajectory(code, sc) for sc in scs])


def check_gate(cls, target, scenarios="visible"):  # noqa: A002
    """A gate class: ``AddGate``, ``MultiplyGate``, ``MaxGate`` or ``CopyGate``."""
    if target not in GATES:
        raise KeyError(f"unknown gate {target!r}; choose one of {list(GATES)}")
    return check(cls, target, scenarios)


def check_window(fn, target, scenarios="visible"):  # noqa: A002
    """``window_forward``, ``window_backward`` or ``embedding_grad``."""
    if target not in ("window_forward", "window_backward", "embedding_grad"):
        raise KeyError(f"unknown window part {target!r}")
    return check(fn, target, scenarios)


def check_gradcheck(fn, target, scenarios="visible"):  # noqa: A002
    if target not in ("numerical_gradient", "relative_error"):
        raise KeyError(f"unknown gradient-check part {target!r}")
    return check(fn, target, scenarios)


def check_init(fn, target, scenarios="visible"):  # noqa: A002
    if target not in INITS:
        raise KeyError(f"unknown initialisation {target!r}; choose one of {list(INITS)}")
    return check(fn, target, scenarios)


def check_dropout(cls, target="dropout_forward", scenarios="visible"):  # noqa: A002
    if target not in ("dropout_forward", "dropout_backward"):
        raise KeyError(f"unknown dropout part {target!r}")
    return check(cls, target, scenarios)


def check_l2(fn, scenarios="visible"):  # noqa: A002
    return check(fn, "l2_penalty", scenarios)
