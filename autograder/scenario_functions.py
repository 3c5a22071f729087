r"""Pure-NumPy functions that the backprop checks hand to a student's code.

The class grader runs a student's code in a sandboxed process and talks to it through a
proxy that can send a function only *by name*, as an attribute of this module. So every
function a scenario passes (an activation and its derivative for the window model, a test
function for the gradient checker) lives here, at module level, and this module imports
nothing but NumPy: the sandbox imports it without the course library.

Activations take the pre-activation ``z`` and work element-wise; their derivatives take the
same ``z`` (not the output), as in ``dlcourse.layers`` (a test ties each pair to it):

=============  ==========================  ==========================================
name           f(z)                        f'(z)
=============  ==========================  ==========================================
tanh           tanh z                      1 − tanh² z
sigmoid        1 / (1 + e^{−z})            σ(z)(1 − σ(z))
relu           max(0, z)                   1[z > 0]
leaky_relu     z if z > 0 else 0.01·z      1 if z > 0 else 0.01
hard_tanh      clip(z, −1, 1)              1[−1 < z < 1]
=============  ==========================  ==========================================

Test functions for :func:`numerical_gradient` take one float array ``x`` (any shape) and
return a Python float; their exact gradients are given as ``<name>_grad`` for the tests.
Their constants are fixed formulas of the index, so they need no random state and are the
same in every process.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "tanh", "tanh_grad", "sigmoid", "sigmoid_grad", "relu", "relu_grad",
    "leaky_relu", "leaky_relu_grad", "hard_tanh", "hard_tanh_grad", "ACTIVATIONS",
    "quadratic", "quadratic_grad", "sin_product", "sin_product_grad",
    "log_sum_exp", "log_sum_exp_grad", "tanh_layer", "tanh_layer_grad",
    "cubic", "cubic_grad", "TEST_FUNCTIONS",
]


# ---------------------------------------------------------------------------- activations
def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    t = np.tanh(z)
    return 1.0 - t * t


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))                          # never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def relu(z):
    return np.maximum(z, 0.0)


def relu_grad(z):
    return (np.asarray(z) > 0).astype(np.float64)


def leaky_relu(z):
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, z, 0.01 * z)


def leaky_relu_grad(z):
    return np.where(np.asarray(z) > 0, 1.0, 0.01)


def hard_tanh(z):
    return np.clip(z, -1.0, 1.0)


def hard_tanh_grad(z):
    z = np.asarray(z)
    return ((z > -1.0) & (z < 1.0)).astype(np.float64)


#: name -> (f, f'), the names ``dlcourse.layers.ACTIVATIONS`` uses.
ACTIVATIONS = {
    "tanh": (tanh, tanh_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "hard_tanh": (hard_tanh, hard_tanh_grad),
}


# ---------------------------------------------------------------------------- test functions
def _weights(n, shift=0.0):
    """Fixed, non-trivial coefficients 0.5 + cos(1.3 k + shift) for k = 0..n-1."""
    return 0.5 + np.cos(1.3 * np.arange(n) + shift)


def quadratic(x):
    r"""½ Σ_k c_k x_k² + Σ_k d_k x_k (a separable quadratic; curvature c_k ≠ 0)."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    c, d = 1.0 + _weights(v.size) ** 2, _weights(v.size, 2.0)
    return float(0.5 * np.sum(c * v * v) + np.sum(d * v))


def quadratic_grad(x):
    v = np.asarray(x, dtype=np.float64)
    flat = v.reshape(-1)
    c, d = 1.0 + _weights(flat.size) ** 2, _weights(flat.size, 2.0)
    return (c * flat + d).reshape(v.shape)


def sin_product(x):
    r"""Σ_k sin(x_k)·x_{k+1} (cyclic): every entry's gradient depends on its neighbours."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    return float(np.sum(np.sin(v) * np.roll(v, -1)))


def sin_product_grad(x):
    v = np.asarray(x, dtype=np.float64)
    flat = v.reshape(-1)
    g = np.cos(flat) * np.roll(flat, -1) + np.roll(np.sin(flat), 1)
    return g.reshape(v.shape)


def log_sum_exp(x):
    r"""log Σ_k e^{x_k}, computed stably (its gradient is the softmax of x)."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    top = np.max(v)
    return float(top + np.log(np.sum(np.exp(v - top))))


def log_sum_exp_grad(x):
    v = np.asarray(x, dtype=np.float64)
    e = np.exp(v - np.max(v))
    return e / np.sum(e)


def tanh_layer(x):
    r"""Σ_i a_i tanh((x c)_i + 0.1 i) for a matrix x of shape (m, n): a tiny one-layer loss.

    ``c`` (n,) and ``a`` (m,) are fixed coefficients; x is a weight matrix as in the window model.
    """
    m = np.asarray(x, dtype=np.float64)
    m2 = m.reshape(m.shape[0], -1) if m.ndim > 1 else m.reshape(1, -1)
    c, a = _weights(m2.shape[1], 1.0), _weights(m2.shape[0], 0.5)
    return float(np.sum(a * np.tanh(m2 @ c + 0.1 * np.arange(m2.shape[0]))))


def tanh_layer_grad(x):
    m = np.asarray(x, dtype=np.float64)
    m2 = m.reshape(m.shape[0], -1) if m.ndim > 1 else m.reshape(1, -1)
    c, a = _weights(m2.shape[1], 1.0), _weights(m2.shape[0], 0.5)
    t = np.tanh(m2 @ c + 0.1 * np.arange(m2.shape[0]))
    return np.outer(a * (1 - t * t), c).reshape(m.shape)


def cubic(x):
    r"""Σ_k (x_k³/3 − x_k) · w_k: a large third derivative, so O(h) and O(h²) errors differ clearly."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    return float(np.sum((v ** 3 / 3.0 - v) * (1.0 + _weights(v.size, 0.7) ** 2)))


def cubic_grad(x):
    v = np.asarray(x, dtype=np.float64)
    flat = v.reshape(-1)
    return ((flat ** 2 - 1.0) * (1.0 + _weights(flat.size, 0.7) ** 2)).reshape(v.shape)


#: name -> (f, exact gradient)
TEST_FUNCTIONS = {
    "quadratic": (quadratic, quadratic_grad),
    "sin_product": (sin_product, sin_product_grad),
    "log_sum_exp": (log_sum_exp, log_sum_exp_grad),
    "tanh_layer": (tanh_layer, tanh_layer_grad),
    "cubic": (cubic, cubic_grad),
}
