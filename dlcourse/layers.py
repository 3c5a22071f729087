r"""Layers with their derivatives: activations, inverted dropout, softmax cross-entropy, L2.

Each forward function sits right beside its derivative so one can be checked
against the other without scrolling. Derivative functions take ``z``, the
*pre-activation* (the same input the forward function took), not the output.

Sources: cs231n notes ("Neural Networks Part 1: commonly used activation
functions"; "Part 2: Regularization / Dropout"; "Linear classification:
Softmax classifier"), the Stanford CS224n lecture on backpropagation, and
Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014), "Dropout:
A Simple Way to Prevent Neural Networks from Overfitting", JMLR 15.

All functions accept scalars or arrays of any shape (element-wise) unless
stated otherwise, and return float64 arrays.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "hard_tanh",
    "hard_tanh_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "identity",
    "identity_grad",
    "ACTIVATIONS",
    "get_activation",
    "dropout_forward",
    "dropout_backward",
    "softmax",
    "log_softmax",
    "softmax_cross_entropy",
    "l2_penalty",
]


def _as_float(z) -> np.ndarray:
    return np.asarray(z, dtype=np.float64)


# --------------------------------------------------------------------------- activations


def sigmoid(z):
    r"""Logistic sigmoid σ(z) = 1 / (1 + e^{−z}), computed without overflow.

    For z ≥ 0 use 1/(1 + e^{−z}); for z < 0 use e^{z}/(1 + e^{z}). Both only ever
    evaluate ``exp`` of a non-positive number, so σ(±1000) is exactly 1 / 0
    with no overflow warning.
    """
    z = _as_float(z)
    e = np.exp(-np.abs(z))  # in (0, 1]
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(z):
    r"""σ'(z) = σ(z)(1 − σ(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z):
    r"""Hyperbolic tangent, tanh(z) = 2σ(2z) − 1 (a rescaled, zero-centred sigmoid)."""
    return np.tanh(_as_float(z))


def tanh_grad(z):
    r"""tanh'(z) = 1 − tanh²(z)."""
    t = np.tanh(_as_float(z))
    return 1.0 - t * t


def hard_tanh(z):
    r"""Hard tanh: −1 for z < −1, z for −1 ≤ z ≤ 1, 1 for z > 1 (Collobert et al. 2011).

    A cheap piecewise-linear stand-in for tanh used in the CS224n window model.
    """
    return np.clip(_as_float(z), -1.0, 1.0)


def hard_tanh_grad(z):
    r"""hard_tanh'(z) = 1 for −1 < z < 1, else 0.

    Convention at the kinks z = ±1: 0 (any value in [0, 1] is a valid subgradient).
    """
    z = _as_float(z)
    return ((z > -1.0) & (z < 1.0)).astype(np.float64)


def relu(z):
    r"""Rectified linear unit, relu(z) = max(0, z)."""
    return np.maximum(_as_float(z), 0.0)


def relu_grad(z):
    r"""relu'(z) = 1 for z > 0, else 0 (convention at z = 0: 0, as in cs231n and torch)."""
    return (_as_float(z) > 0).astype(np.float64)


def _check_slope(slope) -> float:
    if isinstance(slope, bool) or not isinstance(slope, numbers.Real) or not np.isfinite(slope):
        raise ValueError(f"slope must be a finite real number, got {slope!r}")
    return float(slope)


def leaky_relu(z, slope: float = 0.01):
    r"""Leaky ReLU: z for z > 0, ``slope``·z otherwise (Maas, Hannun & Ng 2013).

    Parametric ReLU (PReLU, He et al. 2015) is the same function with ``slope``
    learned; its gradient with respect to the slope is min(z, 0) (times the
    upstream gradient), i.e. z where z ≤ 0 and 0 elsewhere.
    """
    slope = _check_slope(slope)
    z = _as_float(z)
    return np.where(z > 0, z, slope * z)


def leaky_relu_grad(z, slope: float = 0.01):
    r"""leaky_relu'(z) = 1 for z > 0, else ``slope`` (convention at z = 0: ``slope``)."""
    slope = _check_slope(slope)
    z = _as_float(z)
    return np.where(z > 0, 1.0, slope)


def identity(z):
    r"""The identity f(z) = z (a linear layer: no non-linearity)."""
    return _as_float(z).copy()


def identity_grad(z):
    r"""identity'(z) = 1."""
    return np.ones_like(_as_float(z))


ACTIVATIONS: dict = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "hard_tanh": (hard_tanh, hard_tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "identity": (identity, identity_grad),
}
"""Name -> ``(f, f_prime)``; ``f_prime`` takes the pre-activation ``z``."""


def get_activation(name: str):
    """Return ``(f, f_prime)`` for a name in :data:`ACTIVATIONS`, with a helpful KeyError."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise KeyError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


# --------------------------------------------------------------------------- dropout


def _check_keep_prob(keep_prob) -> float:
    if (
        isinstance(keep_prob, bool)
        or not isinstance(keep_prob, numbers.Real)
        or not (0.0 < keep_prob <= 1.0)
    ):
        raise ValueError(
            "keep_prob is the probability of KEEPING a unit and must lie in (0, 1]; "
            f"got {keep_prob!r} (to drop 20% of units pass keep_prob=0.8)"
        )
    return float(keep_prob)


def dropout_forward(x, keep_prob: float, rng: np.random.Generator | None, train: bool = True):
    r"""Inverted dropout, forward. **``keep_prob`` is the probability of KEEPING a unit.**

    Training (Srivastava et al. 2014, with the "inverted" rescaling of cs231n):

    .. math::  m_i = \frac{\mathbb{1}[u_i < p]}{p},\quad u_i \sim U(0, 1),\qquad
               \text{out} = x \odot m

    with p = ``keep_prob``. Each unit survives with probability p and survivors
    are scaled by 1/p, so E[out] = x and nothing has to change at test time.

    Test (``train=False``): the identity, ``out = x``; the returned mask is
    ``None`` and ``rng`` is not used (it may be ``None``).

    Parameters
    ----------
    x : array of any shape.
    keep_prob : float in (0, 1]. ``keep_prob=1`` keeps everything (mask of ones).
    rng : np.random.Generator, the only source of randomness.
    train : bool.

    Returns
    -------
    (out, mask) : ``out`` has the shape of ``x``; ``mask`` is the scaled mask
    (values 0 or 1/p, shape of ``x``) to hand to :func:`dropout_backward`.
    """
    p = _check_keep_prob(keep_prob)
    x = _as_float(x)
    if not train:
        return x.copy(), None
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (np.random.default_rng(seed)) in "
            f"training mode; got {type(rng).__name__}"
        )
    mask = (rng.random(x.shape) < p) / p
    return x * mask, mask


def dropout_backward(dout, mask):
    r"""Inverted dropout, backward: dx = dout ⊙ mask, with the *same* mask as forward.

    ``mask=None`` (what the test-mode forward returns) means the identity.
    """
    dout = _as_float(dout)
    if mask is None:
        return dout.copy()
    mask = np.asarray(mask)
    if mask.shape != dout.shape:
        raise ValueError(f"mask shape {mask.shape} does not match dout shape {dout.shape}")
    return dout * mask


# --------------------------------------------------------------------------- softmax


def softmax(z, axis: int = -1):
    r"""softmax(z)_j = e^{z_j − max z} / Σ_k e^{z_k − max z} along ``axis`` (default: last).

    Subtracting the max changes nothing mathematically and keeps ``exp`` from
    overflowing (cs231n, "Practical issues: Numeric stability").
    """
    z = _as_float(z)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis: int = -1):
    r"""log softmax(z)_j = z_j − logsumexp(z), computed stably."""
    z = _as_float(z)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_cross_entropy(logits, labels):
    r"""Mean softmax cross-entropy and its gradient with respect to the logits.

    For N examples with logits z ∈ ℝ^{N×C} and integer labels y ∈ {0..C−1}^N:

    .. math::  L = \frac1N \sum_n -\log \operatorname{softmax}(z_n)_{y_n},\qquad
               \frac{\partial L}{\partial z_n} = \frac{\operatorname{softmax}(z_n) - \text{onehot}(y_n)}{N}

    Computed with log-sum-exp, so huge logits give no overflow and no log(0).

    Parameters
    ----------
    logits : (N, C) array (a single example of shape (C,) is also accepted,
        with a scalar or length-1 ``labels``; then ``dlogits`` has shape (C,)).
    labels : (N,) integer array with values in [0, C).

    Returns
    -------
    (loss, dlogits) : float, array shaped like ``logits``.
    """
    z = _as_float(logits)
    single = z.ndim == 1
    if single:
        z = z[None, :]
    if z.ndim != 2:
        raise ValueError(f"logits must have shape (N, C) or (C,), got shape {np.shape(logits)}")
    n, c = z.shape
    y = np.asarray(labels)
    if single:
        y = y.reshape(-1)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match logits {z.shape}, got {y.shape}")
    if n == 0:
        raise ValueError("softmax_cross_entropy needs at least one example (N = 0)")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise TypeError(f"labels must be integer class indices, got dtype {y.dtype}")
    if np.any(y < 0) or np.any(y >= c):
        raise ValueError(f"labels must lie in [0, {c}) for {c} classes; got min {y.min()}, max {y.max()}")
    logp = log_softmax(z, axis=1)
    rows = np.arange(n)
    loss = float(-np.mean(logp[rows, y]))
    dlogits = np.exp(logp)
    dlogits[rows, y] -= 1.0
    dlogits /= n
    if single:
        dlogits = dlogits[0]
    return loss, dlogits


# --------------------------------------------------------------------------- L2


def l2_penalty(weights, lam: float):
    r"""L2 weight penalty ("weight decay" in the loss) and its gradients.

    Convention (cs231n, CS224n): the penalty carries a factor ½ so the gradient is clean,

    .. math::  R = \frac{\lambda}{2} \sum_k \lVert W_k \rVert_F^2,\qquad
               \frac{\partial R}{\partial W_k} = \lambda W_k .

    Biases are usually left out: pass only the weight matrices.

    Parameters
    ----------
    weights : dict name -> array, or a list/tuple of arrays.
    lam : float ≥ 0, λ.

    Returns
    -------
    (penalty, grads) : float, and grads of the same container type (dict with
    the same keys, or list in the same order), each ``lam * W`` (new arrays).
    """
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam (the L2 strength λ) must be a finite number >= 0, got {lam!r}")
    lam = float(lam)
    if isinstance(weights, Mapping):
        arrays = {k: _as_float(w) for k, w in weights.items()}
        penalty = 0.5 * lam * sum(float(np.sum(w * w)) for w in arrays.values())
        return penalty, {k: lam * w for k, w in arrays.items()}
    if isinstance(weights, np.ndarray):
        raise TypeError(
            "weights must be a dict name -> array or a list of arrays; "
            "wrap a single array as [W]"
        )
    if isinstance(weights, Sequence):
        arrays = [_as_float(w) for w in weights]
        penalty = 0.5 * lam * sum(float(np.sum(w * w)) for w in arrays)
        return penalty, [lam * w for w in arrays]
    raise TypeError(f"weights must be a dict or a list of arrays, got {type(weights).__name__}")
