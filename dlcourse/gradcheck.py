r"""Gradient checking with centered differences.

.. math::  \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

The centered formula has error O(h²) (the one-sided one O(h)); cs231n notes,
"Neural Networks Part 3: Gradient checks", and the CS224n backprop lecture.
Compare with a *relative* error, because a gradient of size 1e-8 and one of size
1e4 cannot share an absolute tolerance:

.. math::  \text{rel}(a, b) = \frac{\max_i |a_i - b_i|}{\max(\max_i(|a_i| + |b_i|),\ \text{tiny})}

Rules of thumb in float64 with h = 1e-4 (cs231n): below 1e-7 is right; 1e-4 to
1e-2 is suspicious; above 1e-2 the gradient is probably wrong. Kinks (ReLU at 0,
max) can produce larger errors legitimately.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "numerical_gradient",
    "relative_error",
    "check_gradient",
    "check_gradients",
    "compare",
    "GradCheckResult",
]

_TINY = 1e-300


def numerical_gradient(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    r"""Centered-difference gradient of a scalar function ``f`` at ``x``.

    ``f(x)`` must return a scalar. ``x`` is perturbed **in place**, one entry at
    a time, and every entry is restored to its exact original value (also if
    ``f`` raises). This
    in-place style is what lets you check a model whose loss closes over a dict of
    parameters: pass ``lambda _: loss(params)`` and ``x = params['W']``.

    Parameters
    ----------
    f : callable ``f(x) -> float``.
    x : float ndarray (any shape), modified during the call and then restored.
    h : step, > 0 (1e-4 suits float64; float32 needs ~1e-2 and loose tolerances).

    Returns
    -------
    grad : float64 array with the shape of ``x``.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"x must be a NumPy array (perturbed in place and restored), got {type(x).__name__}"
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must have a floating dtype to be perturbed, got {x.dtype}")
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a finite step > 0, got {h!r}")
    if not x.flags.writeable:
        raise ValueError("x must be writeable: it is perturbed in place (pass a copy)")
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx].copy()
        try:
            x[idx] = old + h
            f_plus = float(f(x))
            x[idx] = old - h
            f_minus = float(f(x))
        finally:
            x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * h)
    return grad


def relative_error(a, b) -> float:
    r"""max |a − b| / max(max(|a| + |b|), tiny): 0 when equal, ≤ 1 always, symmetric."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare gradients of shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    num = float(np.max(np.abs(a - b)))
    den = float(np.max(np.abs(a) + np.abs(b)))
    return num / max(den, _TINY)


@dataclass(frozen=True)
class GradCheckResult:
    """Outcome of :func:`check_gradient`.

    passed : bool, ``max_rel_error < tol``.
    max_rel_error : float, :func:`relative_error` of the whole arrays.
    worst_index : index tuple of the entry with the largest |analytic − numeric|.
    analytic, numeric : the two gradients compared.
    tol : the tolerance used.
    """

    passed: bool
    max_rel_error: float
    worst_index: tuple
    analytic: np.ndarray
    numeric: np.ndarray
    tol: float

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        idx = self.worst_index
        a = self.analytic[idx] if self.analytic.size else float("nan")
        n = self.numeric[idx] if self.numeric.size else float("nan")
        return (
            f"GradCheckResult({verdict}: max relative error {self.max_rel_error:.3e} "
            f"{'<' if self.passed else '>='} tol {self.tol:.0e}; worst entry {idx}: "
            f"analytic {a:.6g} vs numeric {n:.6g})"
        )

    __str__ = __repr__


def check_gradient(f, x: np.ndarray, analytic, h: float = 1e-4, tol: float = 1e-7) -> GradCheckResult:
    r"""Compare an analytic gradient with centered differences of ``f`` at ``x``.

    ``f(x) -> float`` as in :func:`numerical_gradient` (``x`` is perturbed in
    place and restored). ``analytic`` is either the gradient array (shape of
    ``x``) or a callable ``analytic(x) -> array`` evaluated at the unperturbed ``x``.

    Returns a :class:`GradCheckResult`; it is truthy when the check passed, and
    its repr reads e.g. ``GradCheckResult(PASSED: max relative error 2.1e-10 < tol 1e-07; ...)``.
    """
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    if callable(analytic):
        analytic = analytic(x)
    analytic = np.array(analytic, dtype=np.float64)
    if analytic.shape != np.shape(x):
        raise ValueError(
            f"analytic gradient has shape {analytic.shape}, but x has shape {np.shape(x)}"
        )
    numeric = numerical_gradient(f, x, h=h)
    err = relative_error(analytic, numeric)
    if analytic.size:
        worst = np.unravel_index(int(np.argmax(np.abs(analytic - numeric))), analytic.shape)
        worst = tuple(int(i) for i in worst)
    else:
        worst = ()
    return GradCheckResult(
        passed=bool(err < tol),
        max_rel_error=err,
        worst_index=worst,
        analytic=analytic,
        numeric=numeric,
        tol=float(tol),
    )


def check_gradients(f, params: dict, grads: dict, h: float = 1e-4, tol: float = 1e-7) -> dict:
    r"""Check every parameter of a model: ``{name: GradCheckResult}``.

    ``f()`` takes no argument and returns the scalar loss computed from ``params``
    (a dict of float arrays, perturbed in place one entry at a time and restored);
    ``grads`` maps the same names to the analytic gradients. Example::

        loss = lambda: window.loss_and_grads(params, X, y)[0]
        results = check_gradients(loss, params, grads)
        assert all(results.values())
    """
    missing = [k for k in params if k not in grads]
    if missing:
        raise KeyError(f"grads has no entry for parameters {missing}")
    return {
        name: check_gradient(lambda _: f(), params[name], grads[name], h=h, tol=tol)
        for name in params
    }


def compare(name: str, analytic, reference, rtol: float = 1e-7) -> str:
    r"""One line saying whether a hand-derived gradient is exact, close, and by how much.

    ``"dW         | exact: False | close: True  | max diff: 3.1e-12"`` (close means
    :func:`relative_error` < ``rtol``). Handy for printing a column of checks in a
    notebook, as in Karpathy's "makemore: becoming a backprop ninja".
    """
    a = np.asarray(analytic, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"{name}: shapes differ, {a.shape} vs {b.shape}")
    exact = bool(np.array_equal(a, b))
    close = relative_error(a, b) < rtol
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    return f"{name:<10} | exact: {exact!s:<5} | close: {close!s:<5} | max diff: {diff:.1e}"
