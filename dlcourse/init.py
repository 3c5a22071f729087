r"""Weight initialization: Xavier/Glorot and He (Kaiming), with an explicit ``rng``.

Shape convention: a weight matrix maps ``n_in`` inputs to ``n_out`` outputs, so it
has shape ``(n_out, n_in)`` and a layer computes ``z = W @ x + b`` for a column
``x`` of length ``n_in``. Every function takes ``rng``, a ``np.random.Generator``
(``np.random.default_rng(seed)``); nothing here touches NumPy's global state.

Why the variances (Glorot & Bengio 2010, section 4.2): for ``z = W x`` with
independent zero-mean entries, ``Var[z_i] = n_in · Var[W] · Var[x]``. Keeping the
forward variance constant asks for ``Var[W] = 1/n_in``, keeping the backward
variance constant asks for ``Var[W] = 1/n_out``; Xavier takes the compromise

.. math::  \operatorname{Var}[W] = \frac{2}{n_{in} + n_{out}}.

For ReLU half the units are zero, which halves the variance that flows forward;
He et al. (2015, "Delving Deep into Rectifiers", eq. 10) double it back:

.. math::  \operatorname{Var}[W] = \frac{2}{n_{in}}.

A uniform distribution ``U(-r, r)`` has variance ``r²/3``, hence the ``sqrt(6/…)``
and ``sqrt(6/n_in)`` radii below. See also the cs231n notes, "Neural Networks
Part 2: Setting up the Data and the Loss", section "Weight Initialization".
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "xavier_uniform",
    "xavier_normal",
    "he_normal",
    "he_uniform",
    "uniform",
    "xavier_variance",
    "he_variance",
]


def _check_rng(rng) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator, e.g. np.random.default_rng(0); "
            f"got {type(rng).__name__}"
        )


def _check_fan(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def xavier_variance(n_in: int, n_out: int) -> float:
    """Target variance of Xavier/Glorot initialization, ``2 / (n_in + n_out)``."""
    n_in, n_out = _check_fan("n_in", n_in), _check_fan("n_out", n_out)
    return 2.0 / (n_in + n_out)


def he_variance(n_in: int) -> float:
    """Target variance of He (Kaiming) initialization for ReLU, ``2 / n_in``."""
    return 2.0 / _check_fan("n_in", n_in)


def xavier_uniform(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    r"""Xavier/Glorot uniform: ``W ~ U(-r, r)`` with ``r = sqrt(6 / (n_in + n_out))``.

    Var[W] = r²/3 = 2/(n_in + n_out) (Glorot & Bengio 2010, eq. 16, "normalized
    initialization"). Returns a float64 array of shape ``(n_out, n_in)``.
    """
    _check_rng(rng)
    r = np.sqrt(3.0 * xavier_variance(n_in, n_out))
    return rng.uniform(-r, r, size=(n_out, n_in))


def xavier_normal(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    r"""Xavier/Glorot normal: ``W ~ N(0, σ²)`` with ``σ² = 2 / (n_in + n_out)``.

    Same variance as :func:`xavier_uniform` (Glorot & Bengio 2010), Gaussian shape.
    Returns a float64 array of shape ``(n_out, n_in)``.
    """
    _check_rng(rng)
    sigma = np.sqrt(xavier_variance(n_in, n_out))
    return rng.normal(0.0, sigma, size=(n_out, n_in))


def he_normal(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    r"""He (Kaiming) normal for ReLU layers: ``W ~ N(0, 2 / n_in)``.

    He, Zhang, Ren & Sun (2015), "Delving Deep into Rectifiers", eq. 10
    (fan-in mode). Returns a float64 array of shape ``(n_out, n_in)``.
    """
    _check_rng(rng)
    _check_fan("n_out", n_out)
    sigma = np.sqrt(he_variance(n_in))
    return rng.normal(0.0, sigma, size=(n_out, n_in))


def he_uniform(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    r"""He (Kaiming) uniform: ``W ~ U(-r, r)`` with ``r = sqrt(6 / n_in)``, so Var = 2/n_in.

    He et al. (2015), uniform variant (as ``torch.nn.init.kaiming_uniform_``
    with ReLU gain). Returns a float64 array of shape ``(n_out, n_in)``.
    """
    _check_rng(rng)
    _check_fan("n_out", n_out)
    r = np.sqrt(3.0 * he_variance(n_in))
    return rng.uniform(-r, r, size=(n_out, n_in))


def uniform(shape, r: float, rng: np.random.Generator) -> np.ndarray:
    r"""Plain ``U(-r, r)`` of the given ``shape`` (e.g. small word vectors).

    Variance ``r²/3``. ``shape`` is an int or a tuple of non-negative ints,
    ``r`` a finite number > 0.
    """
    _check_rng(rng)
    if isinstance(r, bool) or not isinstance(r, numbers.Real) or not np.isfinite(r) or r <= 0:
        raise ValueError(f"r must be a finite number > 0, got {r!r}")
    if isinstance(shape, numbers.Integral):
        shape = (int(shape),)
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must not contain negative sizes, got {shape!r}")
    return rng.uniform(-float(r), float(r), size=shape)
