r"""The window classifier: s = Uᵀ f(W x + b) over a window of word vectors, forward and backward.

Named-entity recognition as window classification (Collobert et al. 2011,
"Natural Language Processing (Almost) from Scratch"; Stanford CS224n, lecture
"Backpropagation and neural networks" / "Window classification"): to decide
whether the *center* word of a window is a location, concatenate the word
vectors of the window and score them with a one-hidden-layer network.

Shapes (V = vocabulary size, d = ``dim``, w = ``window``, H = ``hidden``)::

    word_ids  (w,)        integer ids, center = word_ids[w // 2]
    L         (V, d)      word vectors, one row per word
    x         (w·d,)      x = [L[id_0]; L[id_1]; ...; L[id_{w-1}]]   (concatenation)
    W         (H, w·d)    b (H,)     z = W x + b
    h         (H,)        h = f(z)
    U         (H,)        s = Uᵀ h   (a scalar score)

Backward, with upstream gradient ∂J/∂s = ``ds`` (1 for the raw score):

.. math::

    δ &= \frac{\partial J}{\partial z} = ds \cdot (U \circ f'(z)) \\
    \frac{\partial J}{\partial U} &= ds \cdot h,\qquad
    \frac{\partial J}{\partial b} = δ,\qquad
    \frac{\partial J}{\partial W} = δ\, x^{\top} \ (\text{outer product}) \\
    \nabla_x J &= W^{\top} δ \quad\text{split into } w \text{ pieces of length } d;\
    \text{piece } k \text{ is added to row } \text{id}_k \text{ of } \partial J/\partial L .

The last step uses ``np.add.at`` (unbuffered) rather than ``dL[ids] += ...``: if a word
occurs twice in a window, *both* slot gradients must be added to its row (fancy-index
``+=`` would keep only one). Only the rows of words in the window are non-zero.

For training, the score goes through a binary logistic loss for "center word is a
location" (y ∈ {0, 1}), averaged over a batch of N windows:

.. math::  J = \frac1N \sum_n \big[\log(1 + e^{s_n}) - y_n s_n\big],\qquad
           \frac{\partial J}{\partial s_n} = \frac{σ(s_n) - y_n}{N}.

The batched functions compute all N windows at once with matrix products; they
agree with a loop over :func:`forward` / :func:`backward` (tested), and are what
:func:`train` uses.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import init as _init
from .layers import get_activation, sigmoid

__all__ = [
    "PARAM_NAMES",
    "init_params",
    "forward",
    "backward",
    "score",
    "forward_batch",
    "backward_batch",
    "logistic_loss",
    "loss_and_grads",
    "predict_proba",
    "predict",
    "accuracy",
    "train",
    "WindowModel",
]

PARAM_NAMES = ("L", "W", "b", "U")


# ------------------------------------------------------------------ parameters & checks


def init_params(
    vocab_size: int,
    dim: int,
    window: int = 5,
    hidden: int = 8,
    rng: np.random.Generator | None = None,
    embeddings=None,
) -> dict:
    r"""Fresh parameters ``{'L', 'W', 'b', 'U'}`` (float64).

    ``L`` ~ U(−0.5, 0.5) (or a copy of ``embeddings``, shape (vocab_size, dim)),
    ``W`` Xavier-uniform (H, w·d), ``b`` zeros (H,), ``U`` ~ U(−r, r) with
    r = √(6/(H+1)) (Xavier for an H → 1 layer).
    """
    for name, value in (("vocab_size", vocab_size), ("dim", dim), ("window", window), ("hidden", hidden)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator, e.g. np.random.default_rng(0); "
            f"got {type(rng).__name__}"
        )
    if embeddings is None:
        L = _init.uniform((vocab_size, dim), 0.5, rng)
    else:
        L = np.array(embeddings, dtype=np.float64)  # a copy: training must not move the caller's array
        if L.shape != (vocab_size, dim):
            raise ValueError(f"embeddings must have shape (vocab_size, dim) = {(vocab_size, dim)}, got {L.shape}")
    W = _init.xavier_uniform(window * dim, hidden, rng)
    b = np.zeros(hidden)
    U = _init.uniform(hidden, np.sqrt(6.0 / (hidden + 1)), rng)
    return {"L": L, "W": W, "b": b, "U": U}


def _shapes(params):
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise KeyError(f"params is missing {missing}; a window model needs {list(PARAM_NAMES)}")
    L, W, b, U = (params[k] for k in PARAM_NAMES)
    if np.ndim(L) != 2:
        raise ValueError(f"params['L'] must be (vocab, dim), got shape {np.shape(L)}")
    V, d = L.shape
    if np.ndim(W) != 2 or W.shape[1] % d:
        raise ValueError(f"params['W'] must be (hidden, window*dim) with dim={d}, got shape {np.shape(W)}")
    H = W.shape[0]
    if np.shape(b) != (H,) or np.shape(U) != (H,):
        raise ValueError(
            f"params['b'] and params['U'] must have shape (hidden,) = ({H},), "
            f"got {np.shape(b)} and {np.shape(U)}"
        )
    return V, d, W.shape[1] // d, H


def _check_ids(ids, V, window, batched):
    ids = np.asarray(ids)
    want = "(N, window)" if batched else "(window,)"
    if ids.ndim != (2 if batched else 1) or ids.shape[-1] != window:
        raise ValueError(f"word ids must have shape {want} with window={window}, got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"word ids must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise IndexError(f"word ids must lie in [0, {V}) (vocabulary size), got range [{ids.min()}, {ids.max()}]")
    return ids.astype(np.intp, copy=False)


# ------------------------------------------------------------------ one window


def forward(params: dict, word_ids, activation: str = "tanh"):
    r"""Score one window: s = Uᵀ f(W x + b). Returns ``(s, cache)``, ``s`` a float."""
    V, d, w, H = _shapes(params)
    ids = _check_ids(word_ids, V, w, batched=False)
    f, _ = get_activation(activation)
    x = params["L"][ids].reshape(-1)          # (w·d,) concatenation
    z = params["W"] @ x + params["b"]         # (H,)
    h = f(z)                                  # (H,)
    s = float(params["U"] @ h)
    return s, {"ids": ids, "x": x, "z": z, "h": h, "activation": activation}


def backward(params: dict, cache: dict, ds: float = 1.0) -> dict:
    r"""Gradients of J with ∂J/∂s = ``ds`` for one window: dict with keys L, W, b, U.

    δ = ds·U∘f'(z); dU = ds·h; db = δ; dW = outer(δ, x); dx = Wᵀδ, split per word
    and accumulated into the rows of dL with ``np.add.at`` (repeated words add).
    """
    _, fprime = get_activation(cache["activation"])
    ds = float(ds)
    delta = ds * params["U"] * fprime(cache["z"])      # (H,)
    dx = params["W"].T @ delta                         # (w·d,)
    dL = np.zeros_like(params["L"], dtype=np.float64)
    d = dL.shape[1]
    np.add.at(dL, cache["ids"], dx.reshape(-1, d))     # row id_k += slot k's gradient
    return {"L": dL, "W": np.outer(delta, cache["x"]), "b": delta, "U": ds * cache["h"]}


def score(params: dict, word_ids, activation: str = "tanh") -> float:
    """The raw score s of one window (see :func:`forward`)."""
    return forward(params, word_ids, activation)[0]


# ------------------------------------------------------------------ many windows at once


def forward_batch(params: dict, windows, activation: str = "tanh"):
    r"""Scores of N windows at once: X (N, w·d), Z = X Wᵀ + b, S = f(Z) U. Returns ``(scores, cache)``."""
    V, d, w, H = _shapes(params)
    ids = _check_ids(windows, V, w, batched=True)
    f, _ = get_activation(activation)
    X = params["L"][ids].reshape(len(ids), w * d)     # (N, w·d)
    Z = X @ params["W"].T + params["b"]               # (N, H)
    Hid = f(Z)                                        # (N, H)
    scores = Hid @ params["U"]                        # (N,)
    return scores, {"ids": ids, "X": X, "Z": Z, "H": Hid, "activation": activation}


def backward_batch(params: dict, cache: dict, dscores) -> dict:
    r"""Gradients summed over the batch for upstream ``dscores`` = ∂J/∂s_n (shape (N,)).

    Δ = (dscores ⊗ U) ∘ f'(Z) (N, H); dU = Hᵀ dscores; db = Σ_n Δ_n; dW = Δᵀ X;
    dX = Δ W (N, w·d), reshaped to (N·w, d) and ``np.add.at`` into dL.
    """
    _, fprime = get_activation(cache["activation"])
    dscores = np.asarray(dscores, dtype=np.float64)
    n = len(cache["ids"])
    if dscores.shape != (n,):
        raise ValueError(f"dscores must have shape ({n},), got {dscores.shape}")
    Delta = np.outer(dscores, params["U"]) * fprime(cache["Z"])   # (N, H)
    dX = Delta @ params["W"]                                      # (N, w·d)
    dL = np.zeros_like(params["L"], dtype=np.float64)
    d = dL.shape[1]
    np.add.at(dL, cache["ids"].reshape(-1), dX.reshape(-1, d))
    return {"L": dL, "W": Delta.T @ cache["X"], "b": Delta.sum(axis=0), "U": cache["H"].T @ dscores}


def logistic_loss(scores, labels):
    r"""Mean binary logistic loss of scores for labels y ∈ {0, 1}, and ∂J/∂s.

    J = mean(log(1 + e^s) − y·s) computed as mean(softplus(s) − y·s) with a stable
    softplus; ∂J/∂s = (σ(s) − y)/N. Returns ``(loss, dscores)``.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"scores and labels must both have shape (N,), got {s.shape} and {y.shape}")
    if len(s) == 0:
        raise ValueError("logistic_loss needs at least one window")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 or 1 (1 = the center word is a location)")
    y = y.astype(np.float64)
    softplus = np.maximum(s, 0.0) + np.log1p(np.exp(-np.abs(s)))
    loss = float(np.mean(softplus - y * s))
    return loss, (sigmoid(s) - y) / len(s)


def loss_and_grads(params: dict, windows, labels, activation: str = "tanh", lam: float = 0.0):
    r"""Mean logistic loss over the windows (+ λ/2(‖W‖² + ‖U‖²) if ``lam``) and its gradients."""
    scores, cache = forward_batch(params, windows, activation)
    loss, dscores = logistic_loss(scores, labels)
    grads = backward_batch(params, cache, dscores)
    if lam:
        if not (np.isfinite(lam) and lam > 0):
            raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
        loss += 0.5 * lam * (float(np.sum(params["W"] ** 2)) + float(np.sum(params["U"] ** 2)))
        grads["W"] = grads["W"] + lam * params["W"]
        grads["U"] = grads["U"] + lam * params["U"]
    return loss, grads


def predict_proba(params: dict, windows, activation: str = "tanh") -> np.ndarray:
    """P(center word is a location) = σ(s) for each window, shape (N,)."""
    return sigmoid(forward_batch(params, windows, activation)[0])


def predict(params: dict, windows, activation: str = "tanh") -> np.ndarray:
    """0/1 predictions (s > 0, i.e. probability > ½), int64 shape (N,)."""
    return (forward_batch(params, windows, activation)[0] > 0).astype(np.int64)


def accuracy(params: dict, windows, labels, activation: str = "tanh") -> float:
    """Fraction of windows classified correctly."""
    labels = np.asarray(labels)
    pred = predict(params, windows, activation)
    if pred.shape != labels.shape:
        raise ValueError(f"labels must have shape {pred.shape}, got {labels.shape}")
    return float(np.mean(pred == labels))


class _PlainSGD:
    """θ ← θ − lr·g in place; the fallback optimizer of :func:`train`."""

    def __init__(self, lr):
        if not (isinstance(lr, numbers.Real) and np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
        self.lr = float(lr)

    def update(self, params, grads):
        for k, p in params.items():
            p -= self.lr * grads[k]


def train(
    params: dict,
    windows,
    labels,
    *,
    rng: np.random.Generator,
    optimizer=None,
    lr: float = 0.1,
    epochs: int = 20,
    batch_size: int = 32,
    activation: str = "tanh",
    train_embeddings: bool = True,
    lam: float = 0.0,
) -> list:
    r"""Minibatch training of the window classifier; changes ``params`` in place.

    Each epoch shuffles the windows with ``rng`` and, for every minibatch, calls
    ``optimizer.update(params, grads)`` (any ``dlcourse.optim`` optimizer, or a
    student's); without an optimizer, plain SGD with step ``lr``. With
    ``train_embeddings=False`` the word vectors ``L`` are frozen: only W, b, U are
    passed to the optimizer (the CS224n advice for small training sets).

    Returns the list of per-epoch mean training losses (length ``epochs``).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    opt = _PlainSGD(lr) if optimizer is None else optimizer
    if not callable(getattr(opt, "update", None)):
        raise TypeError(f"optimizer must have an update(params, grads) method, got {type(opt).__name__}")
    V, d, w, H = _shapes(params)
    windows = _check_ids(windows, V, w, batched=True)
    labels = np.asarray(labels)
    if labels.shape != (len(windows),):
        raise ValueError(f"labels must have shape ({len(windows)},), got {labels.shape}")
    names = PARAM_NAMES if train_embeddings else tuple(k for k in PARAM_NAMES if k != "L")
    history = []
    n = len(windows)
    for _ in range(int(epochs)):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, int(batch_size)):
            idx = order[start:start + int(batch_size)]
            loss, grads = loss_and_grads(params, windows[idx], labels[idx], activation, lam)
            total += loss * len(idx)
            opt.update({k: params[k] for k in names}, {k: grads[k] for k in names})
        history.append(total / n)
    return history


class WindowModel:
    r"""The window classifier with its parameters; methods wrap the module functions.

    ``WindowModel(vocab_size, dim, window=5, hidden=8, rng=..., activation='tanh',
    embeddings=None)``; ``rng`` (a ``np.random.Generator``) is required.
    ``model.params`` is the dict ``{'L', 'W', 'b', 'U'}`` (see :func:`init_params`).
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        window: int = 5,
        hidden: int = 8,
        rng: np.random.Generator | None = None,
        activation: str = "tanh",
        embeddings=None,
    ):
        get_activation(activation)  # KeyError naming the choices
        self.params = init_params(vocab_size, dim, window, hidden, rng, embeddings)
        self.activation = activation
        self.window = int(window)
        self._cache = None

    def score(self, word_ids) -> float:
        """Raw score s of one window."""
        return score(self.params, word_ids, self.activation)

    def forward(self, word_ids) -> float:
        """Score one window and remember the cache for :meth:`backward`."""
        s, self._cache = forward(self.params, word_ids, self.activation)
        return s

    def backward(self, ds: float = 1.0) -> dict:
        """Gradients (dict L, W, b, U) of the last :meth:`forward`, upstream ``ds``."""
        if self._cache is None:
            raise RuntimeError("call forward(word_ids) before backward()")
        return backward(self.params, self._cache, ds)

    def forward_batch(self, windows):
        """``(scores, cache)`` for N windows."""
        return forward_batch(self.params, windows, self.activation)

    def backward_batch(self, cache, dscores) -> dict:
        """Batch gradients (see :func:`backward_batch`)."""
        return backward_batch(self.params, cache, dscores)

    def loss(self, windows, labels, lam: float = 0.0):
        """``(mean logistic loss, grads)`` over the windows."""
        return loss_and_grads(self.params, windows, labels, self.activation, lam)

    def predict_proba(self, windows):
        return predict_proba(self.params, windows, self.activation)

    def predict(self, windows):
        return predict(self.params, windows, self.activation)

    def accuracy(self, windows, labels) -> float:
        return accuracy(self.params, windows, labels, self.activation)

    def train(self, windows, labels, **kwargs) -> list:
        """Train in place (see :func:`train`; pass ``rng=`` and optionally ``optimizer=``)."""
        kwargs.setdefault("activation", self.activation)
        return train(self.params, windows, labels, **kwargs)

    def __repr__(self) -> str:
        V, d = self.params["L"].shape
        return (
            f"WindowModel(vocab_size={V}, dim={d}, window={self.window}, "
            f"hidden={self.params['W'].shape[0]}, activation={self.activation!r})"
        )
