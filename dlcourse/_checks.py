"""Argument checks shared by the modules that take hyperparameters.

Each returns the value as a float, or raises an error that names the argument.
"""
import math
from numbers import Real


def check_real(name, value):
    """A real, finite number (bool is refused: ``lr=True`` is a bug, not 1.0)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_positive(name, value):
    value = check_real(name, value)
    if value <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def check_nonnegative(name, value):
    value = check_real(name, value)
    if value < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def check_decay(name, value):
    """A decay rate (beta1, beta2, rho, momentum) must lie in [0, 1)."""
    value = check_real(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value
