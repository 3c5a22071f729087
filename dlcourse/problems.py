r"""Two-dimensional test functions for watching optimizers move, and ``run`` to trace a path.

Every :class:`Problem` has a function ``f(x, y)`` and its gradient ``grad(x, y)``,
both element-wise in NumPy so that ``f(X, Y)`` on a ``np.meshgrid`` gives a contour
grid, a start point, the point to mark (the minimum), and plotting bounds.

==============  ==========================  =============  ===================
name            f(x, y)                     start          marked point
==============  ==========================  =============  ===================
``ELLIPSE``     x²/20 + y²                  (−7, 2)        (0, 0)
``QUADRATIC``   0.1x² + 2y²                 (−5, −2)       (0, 0)
``ROSENBROCK``  (1 − x)² + 100(y − x²)²     (−1.5, 2)      (1, 1)
``SADDLE``      x² − y²                     (−1, 1e−3)     (0, 0) (saddle)
==============  ==========================  =============  ===================

Sources: ELLIPSE is the function of Saitou Koki, *Deep Learning from Scratch*
(O'Reilly Japan 2016), ch. 6.1, used there to compare SGD, Momentum, AdaGrad and
Adam; QUADRATIC is the ill-conditioned quadratic of *Dive into Deep Learning*
(Zhang et al.), ch. 12 (Optimization Algorithms); ROSENBROCK is Rosenbrock (1960),
"An automatic method for finding the greatest or least value of a function";
SADDLE shows why plain gradient descent stalls near a saddle point (Dauphin et
al. 2014, "Identifying and attacking the saddle point problem"): starting
almost on the ridge y = 0, it takes many steps before y grows enough to escape.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Problem", "ELLIPSE", "QUADRATIC", "ROSENBROCK", "SADDLE", "PROBLEMS", "run"]


@dataclass(frozen=True)
class Problem:
    """A 2-D objective for optimizer demonstrations.

    Attributes
    ----------
    name : str, short display name (also its key in :data:`PROBLEMS`).
    f : ``f(x, y)``, element-wise (scalars or same-shape arrays, e.g. a meshgrid).
    grad : ``grad(x, y) -> np.array([∂f/∂x, ∂f/∂y])``, shape ``(2,) + np.shape(x)``.
    start : (x0, y0), where :func:`run` starts.
    minimum : (x*, y*), the point to mark on a plot. For ``SADDLE`` this is the
        saddle point (0, 0): a stationary point, not a minimum (f is unbounded below).
    bounds : ((x_min, x_max), (y_min, y_max)), a good window for contour plots.
    formula : str, the function written out, for titles.
    """

    name: str
    f: Callable
    grad: Callable
    start: tuple
    minimum: tuple
    bounds: tuple
    formula: str = field(default="")

    def value(self, xy) -> float:
        """f at a point ``xy = (x, y)``."""
        x, y = np.asarray(xy, dtype=np.float64)
        return float(self.f(x, y))

    def gradient(self, xy) -> np.ndarray:
        """∇f at a point ``xy = (x, y)`` as a float64 array of shape (2,)."""
        x, y = np.asarray(xy, dtype=np.float64)
        return np.asarray(self.grad(x, y), dtype=np.float64)

    def grid(self, n: int = 200):
        """``(X, Y, Z)`` meshgrid over :attr:`bounds` with ``n`` points per axis, for contours."""
        (x0, x1), (y0, y1) = self.bounds
        X, Y = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
        return X, Y, self.f(X, Y)


# ----------------------------------------------------------------- the functions


def _ellipse(x, y):
    return x**2 / 20.0 + y**2


def _ellipse_grad(x, y):
    return np.array([x / 10.0, 2.0 * y])


def _quadratic(x, y):
    return 0.1 * x**2 + 2.0 * y**2


def _quadratic_grad(x, y):
    return np.array([0.2 * x, 4.0 * y])


_ROSEN_A, _ROSEN_B = 1.0, 100.0


def _rosenbrock(x, y):
    return (_ROSEN_A - x) ** 2 + _ROSEN_B * (y - x**2) ** 2


def _rosenbrock_grad(x, y):
    # ∂f/∂x = −2(a − x) − 4b·x(y − x²),  ∂f/∂y = 2b(y − x²)
    r = y - x**2
    return np.array([-2.0 * (_ROSEN_A - x) - 4.0 * _ROSEN_B * x * r, 2.0 * _ROSEN_B * r])


def _saddle(x, y):
    return x**2 - y**2


def _saddle_grad(x, y):
    return np.array([2.0 * x, -2.0 * y])


ELLIPSE = Problem(
    name="ellipse",
    f=_ellipse,
    grad=_ellipse_grad,
    start=(-7.0, 2.0),
    minimum=(0.0, 0.0),
    bounds=((-10.0, 10.0), (-5.0, 5.0)),
    formula="f(x, y) = x²/20 + y²",
)
"""x²/20 + y² from (−7, 2): steep in y, flat in x (Saitou, *Deep Learning from Scratch*, 6.1)."""

QUADRATIC = Problem(
    name="quadratic",
    f=_quadratic,
    grad=_quadratic_grad,
    start=(-5.0, -2.0),
    minimum=(0.0, 0.0),
    bounds=((-6.0, 2.0), (-3.0, 3.0)),
    formula="f(x, y) = 0.1x² + 2y²",
)
"""0.1x² + 2y² from (−5, −2), condition number 20 (d2l, ch. 12)."""

ROSENBROCK = Problem(
    name="rosenbrock",
    f=_rosenbrock,
    grad=_rosenbrock_grad,
    start=(-1.5, 2.0),
    minimum=(1.0, 1.0),
    bounds=((-2.0, 2.0), (-1.0, 3.0)),
    formula="f(x, y) = (1 − x)² + 100(y − x²)²",
)
"""Rosenbrock's banana valley, a = 1, b = 100, minimum f(1, 1) = 0."""

SADDLE = Problem(
    name="saddle",
    f=_saddle,
    grad=_saddle_grad,
    start=(-1.0, 1e-3),
    minimum=(0.0, 0.0),
    bounds=((-1.5, 1.5), (-1.5, 1.5)),
    formula="f(x, y) = x² − y²",
)
"""x² − y², started almost on the ridge: (0, 0) is a saddle point, not a minimum."""

PROBLEMS: dict = {p.name: p for p in (ELLIPSE, QUADRATIC, ROSENBROCK, SADDLE)}
"""Name -> :class:`Problem`: ``'ellipse'``, ``'quadratic'``, ``'rosenbrock'``, ``'saddle'``."""


def run(optimizer, problem, steps: int, start=None) -> np.ndarray:
    r"""Run ``optimizer`` on ``problem`` for ``steps`` steps and return the path.

    Each step computes g = ∇f(x, y) at the current point and calls
    ``optimizer.update({"xy": xy}, {"xy": g})`` with ``xy`` a float64 array of
    shape (2,). Any object with such an ``update`` works (every
    ``dlcourse.optim`` optimizer does; so does a student's). The point is read back
    from the params dict after every call, so an update that rebinds
    ``params["xy"]`` instead of changing it in place is traced too.

    Parameters
    ----------
    optimizer : object with ``update(params, grads)``; its state persists across calls.
    problem : :class:`Problem` or a key of :data:`PROBLEMS`.
    steps : int ≥ 0.
    start : optional (x0, y0), overrides ``problem.start``.

    Returns
    -------
    path : float64 array of shape (steps + 1, 2); ``path[0]`` is the start. A
    diverging run (lr too large) ends early: once the point or its gradient is no
    longer finite, the remaining rows are NaN (optimizers refuse non-finite
    gradients, and no later step would mean anything). Overflow warnings from the
    gradient are silenced inside ``run``; the optimizer's own arithmetic is not.
    """
    if isinstance(problem, str):
        try:
            problem = PROBLEMS[problem]
        except KeyError:
            raise KeyError(f"unknown problem {problem!r}; choose one of {sorted(PROBLEMS)}") from None
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a Problem or a name in PROBLEMS, got {type(problem).__name__}")
    if not callable(getattr(optimizer, "update", None)):
        raise TypeError(
            f"optimizer must have an update(params, grads) method; got {type(optimizer).__name__}"
        )
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    steps = int(steps)
    xy = np.array(problem.start if start is None else start, dtype=np.float64)
    if xy.shape != (2,):
        raise ValueError(f"start must be a point (x, y), got shape {xy.shape}")
    path = np.empty((steps + 1, 2), dtype=np.float64)
    path[0] = xy
    params = {"xy": xy}
    # A diverging run (lr too large) is a lesson, not an error: it shows up as
    # inf/nan in the path, without floating-point warnings from the gradient.
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            g = problem.gradient(params["xy"])
            if not np.isfinite(g).all():
                path[t + 1:] = np.nan
                break
            optimizer.update(params, {"xy": g})
            path[t + 1] = params["xy"]
    return path
