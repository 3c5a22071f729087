r"""Exponentially weighted moving averages (EWMA), with and without bias correction.

An EWMA of a sequence :math:`\theta_1, \theta_2, \dots` with decay :math:`\beta`
(argument ``beta``, :math:`0 \le \beta < 1`) starts at :math:`v_0 = 0` and updates

.. math::

    v_t = \beta\, v_{t-1} + (1 - \beta)\, \theta_t .

Unrolled, :math:`v_t = (1-\beta)\sum_{i=1}^{t} \beta^{t-i}\theta_i`: the weights
decay geometrically, so :math:`v_t` averages roughly the last :math:`1/(1-\beta)`
values (β = 0.9: about 10; β = 0.98: about 50).

**Bias.** Because :math:`v_0 = 0`, the early averages are too small. If the
:math:`\theta_i` share one mean :math:`E[\theta]`, the weights sum to
:math:`1 - \beta^t`, so

.. math::

    E[v_t] = (1 - \beta^t)\, E[\theta],
    \qquad
    \hat v_t = \frac{v_t}{1 - \beta^t}

is unbiased. The correction matters for small :math:`t` and fades as
:math:`\beta^t \to 0`. The bias-corrected average of a constant sequence is that
constant from the very first step.

Sources: Andrew Ng, *Deep Learning Specialization*, course 2 ("Improving deep
neural networks"), lectures on exponentially weighted averages and bias
correction; Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015,
§3 ("Initialization bias correction").

This module is the one place the optimizers in :mod:`dlcourse.optim` take their
moment averages and bias corrections from.

**Form used in code.** :func:`ewma_update_` computes the algebraically equal
form :math:`v \leftarrow v + (1-\beta)(\theta - v)` (a linear interpolation, the
same as torch's ``lerp_``): it keeps full precision on the first step even for
β close to 1, where ``beta * v`` and ``value`` nearly cancel in other forms.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

__all__ = ["ewma_update_", "bias_correction", "EWMA", "ewma"]


def _check_beta(beta):
    """Return ``beta`` as a float after checking 0 <= beta < 1."""
    if isinstance(beta, bool) or not isinstance(beta, Real):
        raise TypeError(f"beta must be a real number in [0, 1), got {beta!r}")
    beta = float(beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    return beta


def ewma_update_(average, value, beta, *, scratch=None):
    r"""Update an EWMA in place: ``average`` ← β·``average`` + (1 − β)·``value``.

    The trailing underscore follows the torch convention for in-place operations.
    The update is computed as :math:`v \leftarrow v + (1-\beta)(\theta - v)`,
    equal to :math:`\beta v + (1-\beta)\theta` (see the module docstring).

    Parameters
    ----------
    average : ndarray of floats
        :math:`v_{t-1}`, overwritten with :math:`v_t`.
    value : array_like or float
        :math:`\theta_t`, broadcastable to ``average``. Never modified, unless it
        is also passed as ``scratch``.
    beta : float
        The decay β, 0 <= β < 1.
    scratch : ndarray, optional
        A work array shaped like ``average``. With it the update allocates no new
        array (what the optimizers use); it may be the same array as ``value``,
        which is then overwritten. Without it, one temporary is allocated.

    Returns
    -------
    ndarray
        ``average`` itself (the same object), for chaining.
    """
    if not isinstance(average, np.ndarray):
        raise TypeError(
            "ewma_update_ updates an ndarray in place; got "
            f"{type(average).__name__}. For plain numbers use EWMA or ewma()."
        )
    weight = 1.0 - _check_beta(beta)
    if scratch is None:
        average += weight * (value - average)
    else:
        np.subtract(value, average, out=scratch)   # θ − v
        scratch *= weight                            # (1 − β)(θ − v)
        average += scratch                           # v + (1 − β)(θ − v)
    return average


def bias_correction(beta, step):
    r"""The bias-correction factor :math:`1 - \beta^t` for step :math:`t \ge 1`.

    Divide the EWMA :math:`v_t` by it to get the unbiased :math:`\hat v_t`
    (Kingma & Ba 2015, §3). ``step`` may be an int or an integer array of steps.
    """
    beta = _check_beta(beta)
    steps = np.asarray(step)
    if not np.issubdtype(steps.dtype, np.integer):
        raise TypeError(f"step must be an integer (or integer array), got {step!r}")
    if np.any(steps < 1):
        raise ValueError(f"step counts from 1 (the first update), got {step!r}")
    if steps.ndim == 0:
        return 1.0 - beta ** int(steps)
    return 1.0 - beta ** steps.astype(float)


class EWMA:
    r"""A running exponentially weighted average of numbers or arrays.

    ``EWMA(beta)`` keeps :math:`v_t = \beta v_{t-1} + (1-\beta)\theta_t`, with
    :math:`v_0 = 0`. :meth:`update` feeds one :math:`\theta_t` and returns the
    current average: :math:`v_t/(1-\beta^t)` when ``bias_correction`` is true
    (the default), else :math:`v_t`.

    Attributes
    ----------
    beta : float
        The decay β (argument ``beta``).
    bias_correction : bool
        Whether :meth:`update` returns the corrected average.
    value : float or ndarray
        The uncorrected average :math:`v_t` (0.0 before the first update).
    step : int
        :math:`t`, the number of updates so far.

    Examples
    --------
    >>> avg = EWMA(beta=0.9)
    >>> avg.update(5.0)            # corrected: the constant from the first step
    5.0
    >>> round(avg.value, 12)       # uncorrected: (1 - 0.9) * 5
    0.5
    """

    def __init__(self, beta=0.9, bias_correction=True):
        self.beta = _check_beta(beta)
        self.bias_correction = bool(bias_correction)
        self.value = 0.0
        self.step = 0

    def update(self, x):
        """Feed one value (a number or an array) and return the current average."""
        x = np.asarray(x, dtype=float) if not isinstance(x, Real) else float(x)
        self.step += 1
        # v + (1 − β)(x − v): the same form as ewma_update_, without in-place so
        # that plain floats work too (and the caller may keep returned arrays).
        self.value = self.value + (1.0 - self.beta) * (x - self.value)
        return self.average

    @property
    def average(self):
        """The current average: corrected if ``bias_correction``, else ``value``."""
        if not self.bias_correction:
            return self.value
        if self.step == 0:
            raise ValueError("the bias-corrected average is undefined before the first update")
        return self.value / (1.0 - self.beta ** self.step)

    def __repr__(self):
        return (f"EWMA(beta={self.beta}, bias_correction={self.bias_correction}) "
                f"at step {self.step}")


def ewma(series, beta, bias_correction=False):
    r"""The EWMA of a whole series at once: ``out[t-1]`` is :math:`v_t` (or :math:`\hat v_t`).

    ``series`` has the time axis first (shape ``(T,)`` or ``(T, ...)``). With
    ``bias_correction=True`` each :math:`v_t` is divided by :math:`1 - \beta^t`.
    Returns a new float array with the shape of ``series``.

    >>> ewma([1.0, 1.0, 1.0], beta=0.5)
    array([0.5  , 0.75 , 0.875])
    >>> ewma([1.0, 1.0, 1.0], beta=0.5, bias_correction=True)
    array([1., 1., 1.])
    """
    beta = _check_beta(beta)
    series = np.asarray(series, dtype=float)
    if series.ndim == 0:
        raise ValueError("series must have a time axis (at least one dimension)")
    out = np.empty_like(series)
    average = np.zeros_like(series[0])
    for t, value in enumerate(series):
        ewma_update_(average, value, beta)
        out[t] = average
    if bias_correction and len(series):
        steps = np.arange(1, len(series) + 1)
        factors = 1.0 - beta ** steps.astype(float)
        out /= factors.reshape((-1,) + (1,) * (series.ndim - 1))
    return out
