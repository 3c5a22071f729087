r"""Reference optimizers: SGD, momentum, Nesterov, AdaGrad, RMSprop, Adadelta, Adam, AdaMax, Nadam, AdamW.

Every optimizer has the same shape::

    opt = Adam(lr=1e-3)
    for batch in batches:
        grads = backward(params, batch)      # dict[str, ndarray], same keys as params
        opt.update(params, grads)            # changes the arrays in params in place

and each one follows exactly the same trajectory (to float64 round-off) as its
``torch.optim`` twin named in its docstring; the tests check this against stored
torch trajectories and, where torch is installed, against torch live.

**Settings and state are separate.** Hyperparameters are plain attributes
(``opt.lr``, ``opt.beta1`` ...). Everything the optimizer remembers between steps
lives in ``opt.state[name]``, one dict per parameter name, created on the first
update of that parameter (arrays there have the parameter's shape and dtype; the
Adam family also keeps its step counter ``state[name]['step']`` there, like torch).
``opt.lr`` is read on every call, so a learning-rate schedule may change it
between steps. Two optimizer instances share nothing.

**The contract of** :meth:`Optimizer.update`: the arrays in ``params`` are updated
in place (the same objects, their dtype kept: float32 stays float32), ``grads``
are never modified, and one step allocates no new array of parameter size. Speed
comes from in-place NumPy (``out=`` and operators like ``*=``) plus one or two
preallocated *scratch* arrays per parameter (``opt._scratch``): work space, not
state, they carry nothing from one step to the next.

**Bad input fails before anything changes.** :meth:`Optimizer.update` checks all
parameters and gradients first: both must be dicts with the same keys (a missing
gradient is a ``KeyError`` naming it), each parameter a writeable float ndarray
(``TypeError``), each gradient of the parameter's shape (``ValueError`` naming the
parameter and both shapes), and each gradient finite. A NaN or infinite gradient
raises ``ValueError`` naming the parameter *before* any state or parameter is
touched, so one bad batch cannot silently poison the moment estimates (torch
would propagate the NaN; we prefer a loud error in a course). The finiteness
check is cheap: ``grad.sum()`` is finite for almost every finite gradient, and
only when it is not (a NaN/inf, or an overflow of huge finite values) do we run
the full element-wise ``np.isfinite`` test. Hyperparameters are checked in the
constructor: ``lr > 0`` and finite, ``beta1``/``beta2``/``rho``/``momentum`` in
[0, 1), ``eps > 0``, ``weight_decay >= 0``. During training ``update`` accepts any
finite ``lr >= 0``, since a schedule may legitimately reach 0 (warm-up from 0,
cosine annealing to 0).

Conventions, where implementations differ (all as in torch):

- eps is added *outside* the square root (√v̂ + eps) in AdaGrad, RMSprop, Adam,
  Nadam and AdamW; Adadelta takes both RMS values as √(· + eps), as Zeiler (2012).
- Momentum is written v ← μv − lr·g, θ ← θ + v (CS231n / Sutskever et al.);
  torch keeps b ← μb + g, θ ← θ − lr·b. With constant lr, v = −lr·b exactly, so
  the trajectories agree; they differ only if lr changes during training.
- Nesterov uses the variable-transformed form of Sutskever et al. (2013), which
  needs the gradient at the current parameters only.
- Nadam is torch's form: momentum schedule μₜ = β₁(1 − ½·0.96^(t·ψ)) in the
  step's two weights, the first moment averaged with the constant β₁.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real

import numpy as np

from dlcourse._checks import check_decay, check_nonnegative, check_positive
from dlcourse.ewma import bias_correction, ewma_update_

__all__ = [
    "Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adadelta",
    "Adam", "AdaMax", "Nadam", "AdamW", "OPTIMIZERS",
]


# --------------------------------------------------------------------------- checks
def _is_finite(grad):
    """True if every entry of ``grad`` is finite; one cheap pass in the common case."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = grad.sum()
    if math.isfinite(float(total)):
        return True
    # The sum is NaN/inf: either an entry is, or huge finite entries overflowed.
    return bool(np.isfinite(grad).all())


# --------------------------------------------------------------------------- shared pieces
def _descend(param, direction, denom, step_size, scratch):
    r"""θ ← θ − step_size · direction / denom, in place, through ``scratch``.

    The one place where the sign of a step is flipped for descent; ``scratch`` may
    be the same array as ``denom`` (it is then overwritten).
    """
    np.divide(direction, denom, out=scratch)
    scratch *= step_size
    param -= scratch


def _sqrt_plus_eps(average, eps, scratch, scale=1.0):
    r"""scratch ← √average / √scale + eps: the denominator of the adaptive methods.

    ``average`` is a sum or average of squared gradients (AdaGrad's h, RMSprop's h,
    Adam's v with ``scale`` its bias correction 1 − β₂ᵗ). eps sits outside the
    square root, as in torch and the Adam paper. ``scratch`` may be ``average``.
    """
    np.sqrt(average, out=scratch)
    if scale != 1.0:
        scratch /= math.sqrt(scale)
    scratch += eps
    return scratch


# --------------------------------------------------------------------------- base class
class Optimizer:
    r"""Base class: validation, lazy per-parameter state, and the update loop.

    A subclass sets its hyperparameters in ``__init__`` and implements two hooks:

    - ``_init_state(param) -> dict``: the state of one parameter before its first
      step (arrays shaped like ``param``, same dtype);
    - ``_update_parameter(param, grad, state, lr, *scratch)``: one step for one
      parameter, changing ``param`` and ``state`` in place. ``scratch`` holds
      ``n_scratch`` work arrays shaped like ``param``.

    Parameters
    ----------
    lr : float
        The learning rate, > 0. Stored as ``self.lr`` and re-read on every
        :meth:`update`, so it may be changed between steps (a schedule).
    """

    #: How many parameter-sized work arrays ``_update_parameter`` needs.
    n_scratch = 1

    def __init__(self, lr):
        self.lr = check_positive("lr", lr)
        self.state = {}       # name -> dict of this parameter's state
        self._scratch = {}    # name -> tuple of work arrays (not state: no memory)

    # -- the public step ---------------------------------------------------------------
    def update(self, params, grads):
        """Take one optimization step: update every array in ``params`` in place.

        Parameters
        ----------
        params : dict[str, ndarray]
            The parameters, float arrays changed in place.
        grads : dict[str, array_like]
            The gradient of the loss for each parameter: the same keys, the same
            shapes. Never modified.

        Raises
        ------
        TypeError, KeyError, ValueError
            On bad input (see the module docstring); nothing is changed then.
        """
        lr = self._current_lr()
        checked = self._check_inputs(params, grads)
        for name, param, grad in checked:
            state = self.state.get(name)
            if state is None:
                state = self.state[name] = self._init_state(param)
            self._update_parameter(param, grad, state, lr, *self._work_arrays(name, param))

    # -- hooks for subclasses --------------------------------------------------------------
    def _init_state(self, param):
        return {}

    def _update_parameter(self, param, grad, state, lr, *scratch):
        raise NotImplementedError(f"{type(self).__name__} must implement _update_parameter")

    # -- helpers -----------------------------------------------------------------------------
    def _current_lr(self):
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, Real) or not math.isfinite(lr) or lr < 0:
            raise ValueError(
                f"{type(self).__name__}.lr must be a finite number >= 0 when update() "
                f"is called, got {lr!r} (was it set by a schedule?)"
            )
        return float(lr)

    def _work_arrays(self, name, param):
        work = self._scratch.get(name)
        if work is None or work[0].shape != param.shape or work[0].dtype != param.dtype:
            work = tuple(np.empty_like(param) for _ in range(self.n_scratch))
            self._scratch[name] = work
        return work

    def _check_inputs(self, params, grads):
        """Validate everything before any change; return [(name, param, grad)]."""
        if not isinstance(params, Mapping):
            raise TypeError(
                f"params must be a dict mapping names to arrays, got {type(params).__name__}"
            )
        if not isinstance(grads, Mapping):
            raise TypeError(
                f"grads must be a dict mapping names to arrays, got {type(grads).__name__}"
            )
        extra = [key for key in grads if key not in params]
        if extra:
            raise KeyError(
                f"grads has entries for unknown parameters {extra}; params has {list(params)}"
            )
        checked = []
        for name, param in params.items():
            if name not in grads:
                raise KeyError(f"no gradient for parameter {name!r}: grads has {list(grads)}")
            if not isinstance(param, np.ndarray):
                raise TypeError(
                    f"parameter {name!r} must be a NumPy array (updated in place), "
                    f"got {type(param).__name__}"
                )
            if not np.issubdtype(param.dtype, np.floating):
                raise TypeError(
                    f"parameter {name!r} must have a float dtype to be updated in place, "
                    f"got {param.dtype}"
                )
            if not param.flags.writeable:
                raise ValueError(f"parameter {name!r} is read-only and cannot be updated in place")
            grad = np.asarray(grads[name])
            if grad.shape != param.shape:
                raise ValueError(
                    f"gradient for parameter {name!r} has shape {grad.shape}, "
                    f"but the parameter has shape {param.shape}"
                )
            if not (np.issubdtype(grad.dtype, np.floating) or np.issubdtype(grad.dtype, np.integer)):
                raise TypeError(
                    f"gradient for parameter {name!r} must be real numbers, got dtype {grad.dtype}"
                )
            state = self.state.get(name)
            if state is not None:
                for key, value in state.items():
                    if isinstance(value, np.ndarray) and value.shape != param.shape:
                        raise ValueError(
                            f"parameter {name!r} has shape {param.shape}, but this optimizer's "
                            f"state for it has shape {value.shape}: a name must keep its shape "
                            "(use a new optimizer for a new model)"
                        )
            if not _is_finite(grad):
                raise ValueError(
                    f"gradient for parameter {name!r} contains NaN or infinity; "
                    "nothing was updated"
                )
            checked.append((name, param, grad))
        return checked

    def _hyperparameters(self):
        return {key: value for key, value in vars(self).items()
                if not key.startswith("_") and key != "state"}

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self._hyperparameters().items())
        return f"{type(self).__name__}({args})"


def _zeros(param, *keys):
    """State arrays of zeros, shaped and typed like ``param``."""
    return {key: np.zeros_like(param) for key in keys}


# --------------------------------------------------------------------------- SGD family
class SGD(Optimizer):
    r"""Plain (stochastic) gradient descent.

    .. math:: \theta \leftarrow \theta - \eta\, g

    with :math:`\eta` = ``lr`` and :math:`g` the gradient. No state.
    Equals ``torch.optim.SGD(params, lr)``.

    Robbins & Monro, *A stochastic approximation method*, 1951.
    """

    def __init__(self, lr=0.01):
        super().__init__(lr)

    def _update_parameter(self, param, grad, state, lr, scratch):
        np.multiply(grad, lr, out=scratch)   # lr·g, without allocating
        param -= scratch


class Momentum(Optimizer):
    r"""Gradient descent with (heavy-ball) momentum.

    .. math::

        v \leftarrow \mu v - \eta\, g, \qquad \theta \leftarrow \theta + v

    with :math:`\mu` = ``momentum``, :math:`\eta` = ``lr``, and the velocity
    :math:`v` = ``state['velocity']`` starting at 0.

    Polyak, *Some methods of speeding up the convergence of iteration methods*, 1964.

    Convention: torch.optim.SGD(momentum=μ) keeps :math:`b \leftarrow \mu b + g`,
    :math:`\theta \leftarrow \theta - \eta b`. At constant lr, :math:`v = -\eta b`
    and the two are the same algorithm; if lr changes mid-run, ours scales only
    new gradients by the new lr, torch rescales the whole buffer. Equals
    ``torch.optim.SGD(params, lr, momentum=momentum)`` at constant lr.
    """

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr)
        self.momentum = check_decay("momentum", momentum)

    def _init_state(self, param):
        return _zeros(param, "velocity")

    def _update_parameter(self, param, grad, state, lr, scratch):
        velocity = state["velocity"]
        velocity *= self.momentum            # μv
        np.multiply(grad, lr, out=scratch)
        velocity -= scratch                  # μv − lr·g
        param += velocity


class Nesterov(Optimizer):
    r"""Gradient descent with Nesterov's accelerated momentum.

    .. math::

        v_{\text{prev}} \leftarrow v, \quad
        v \leftarrow \mu v - \eta\, g, \quad
        \theta \leftarrow \theta - \mu\, v_{\text{prev}} + (1 + \mu)\, v

    with :math:`\mu` = ``momentum``, :math:`\eta` = ``lr``, :math:`v` =
    ``state['velocity']`` starting at 0, and :math:`g` the gradient at the
    current :math:`\theta`.

    Nesterov, *A method for solving the convex programming problem with
    convergence rate O(1/k²)*, 1983; in the deep-learning form of Sutskever,
    Martens, Dahl & Hinton, *On the importance of initialization and momentum in
    deep learning*, ICML 2013.

    Convention: this is the variable-transformed form (CS231n): the stored
    :math:`\theta` is the look-ahead point, so only the gradient at the current
    parameters is needed. It equals
    ``torch.optim.SGD(params, lr, momentum=momentum, nesterov=True)``, whose
    update :math:`b \leftarrow \mu b + g,\ \theta \leftarrow \theta - \eta(g + \mu b)`
    is the same at constant lr (:math:`v = -\eta b`).
    """

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr)
        self.momentum = check_decay("momentum", momentum)

    def _init_state(self, param):
        return _zeros(param, "velocity")

    def _update_parameter(self, param, grad, state, lr, scratch):
        mu, velocity = self.momentum, state["velocity"]
        np.multiply(velocity, mu, out=scratch)    # μ·v_prev, kept in scratch
        param -= scratch                           # θ − μ·v_prev
        np.multiply(grad, -lr, out=velocity)
        velocity += scratch                        # v = μ·v_prev − lr·g
        np.multiply(velocity, 1.0 + mu, out=scratch)
        param += scratch                           # θ − μ·v_prev + (1 + μ)·v


# --------------------------------------------------------------------------- adaptive
class AdaGrad(Optimizer):
    r"""AdaGrad: per-coordinate step sizes from the sum of squared gradients.

    .. math::

        h \leftarrow h + g^2, \qquad
        \theta \leftarrow \theta - \eta\, \frac{g}{\sqrt{h} + \epsilon}

    with :math:`\eta` = ``lr``, :math:`\epsilon` = ``eps`` and
    :math:`h` = ``state['sum_squares']`` starting at 0 (all operations element-wise).

    Duchi, Hazan & Singer, *Adaptive subgradient methods for online learning and
    stochastic optimization*, JMLR 2011.

    Equals ``torch.optim.Adagrad(params, lr, eps=eps)`` (torch's default eps is
    1e-10; ours is 1e-8, and eps sits outside the square root in both).
    """

    def __init__(self, lr=0.01, eps=1e-8):
        super().__init__(lr)
        self.eps = check_positive("eps", eps)

    def _init_state(self, param):
        return _zeros(param, "sum_squares")

    def _update_parameter(self, param, grad, state, lr, scratch):
        sum_squares = state["sum_squares"]
        np.multiply(grad, grad, out=scratch)
        sum_squares += scratch                                  # h + g²
        _sqrt_plus_eps(sum_squares, self.eps, scratch)          # √h + eps
        _descend(param, grad, scratch, lr, scratch)


class RMSprop(Optimizer):
    r"""RMSprop: divide the step by an EWMA of squared gradients.

    .. math::

        h \leftarrow \rho h + (1 - \rho)\, g^2, \qquad
        \theta \leftarrow \theta - \eta\, \frac{g}{\sqrt{h} + \epsilon}

    with :math:`\eta` = ``lr``, :math:`\rho` = ``rho``, :math:`\epsilon` = ``eps``
    and :math:`h` = ``state['square_avg']`` starting at 0. No bias correction (with
    it, and β₁ = 0, this would be Adam).

    Hinton, Srivastava & Swersky, *Neural Networks for Machine Learning*,
    lecture 6e, 2012 (unpublished; the usual citation).

    Equals ``torch.optim.RMSprop(params, lr, alpha=rho, eps=eps)``.
    """

    def __init__(self, lr=0.01, rho=0.99, eps=1e-8):
        super().__init__(lr)
        self.rho = check_decay("rho", rho)
        self.eps = check_positive("eps", eps)

    def _init_state(self, param):
        return _zeros(param, "square_avg")

    def _update_parameter(self, param, grad, state, lr, scratch):
        square_avg = state["square_avg"]
        np.multiply(grad, grad, out=scratch)
        ewma_update_(square_avg, scratch, self.rho, scratch=scratch)   # ρh + (1−ρ)g²
        _sqrt_plus_eps(square_avg, self.eps, scratch)                  # √h + eps
        _descend(param, grad, scratch, lr, scratch)


class Adadelta(Optimizer):
    r"""Adadelta: RMSprop whose step is rescaled by an EWMA of past steps.

    .. math::

        h &\leftarrow \rho h + (1 - \rho)\, g^2 \\
        \Delta &\leftarrow -\frac{\sqrt{d + \epsilon}}{\sqrt{h + \epsilon}}\, g \\
        d &\leftarrow \rho d + (1 - \rho)\, \Delta^2 \\
        \theta &\leftarrow \theta + \eta\, \Delta

    with :math:`\eta` = ``lr`` (1.0 in the paper), :math:`\rho` = ``rho``,
    :math:`\epsilon` = ``eps``, :math:`h` = ``state['square_avg']`` and
    :math:`d` = ``state['delta_avg']`` starting at 0.

    Zeiler, *ADADELTA: An adaptive learning rate method*, arXiv 2012.

    Convention: eps inside both square roots, as in the paper and torch. Equals
    ``torch.optim.Adadelta(params, lr, rho=rho, eps=eps)``.
    """

    n_scratch = 2

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6):
        super().__init__(lr)
        self.rho = check_decay("rho", rho)
        self.eps = check_positive("eps", eps)

    def _init_state(self, param):
        return _zeros(param, "square_avg", "delta_avg")

    def _update_parameter(self, param, grad, state, lr, scratch, step):
        rho, eps = self.rho, self.eps
        square_avg, delta_avg = state["square_avg"], state["delta_avg"]
        np.multiply(grad, grad, out=scratch)
        ewma_update_(square_avg, scratch, rho, scratch=scratch)   # h ← ρh + (1−ρ)g²
        np.add(square_avg, eps, out=scratch)
        np.sqrt(scratch, out=scratch)                             # √(h + eps)
        np.add(delta_avg, eps, out=step)
        np.sqrt(step, out=step)                                   # √(d + eps)
        step /= scratch
        step *= grad                                              # −Δ = √(d+eps)/√(h+eps)·g
        np.multiply(step, step, out=scratch)
        ewma_update_(delta_avg, scratch, rho, scratch=scratch)    # d ← ρd + (1−ρ)Δ²
        step *= lr
        param -= step                                             # θ + lr·Δ


class Adam(Optimizer):
    r"""Adam: momentum on the gradient, divided by the RMS of recent gradients.

    .. math::

        t &\leftarrow t + 1 \\
        m &\leftarrow \beta_1 m + (1 - \beta_1)\, g \\
        v &\leftarrow \beta_2 v + (1 - \beta_2)\, g^2 \\
        \hat m &= m / (1 - \beta_1^t), \qquad \hat v = v / (1 - \beta_2^t) \\
        \theta &\leftarrow \theta - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}

    with :math:`\eta` = ``lr``, :math:`\beta_1` = ``beta1``, :math:`\beta_2` =
    ``beta2``, :math:`\epsilon` = ``eps``; state :math:`t` = ``state['step']``,
    :math:`m` = ``state['first_moment']``, :math:`v` = ``state['second_moment']``,
    all starting at 0. The moments are EWMAs with bias correction
    (:mod:`dlcourse.ewma`).

    Kingma & Ba, *Adam: A method for stochastic optimization*, ICLR 2015,
    Algorithm 1.

    Convention: eps outside the square root, added to :math:`\sqrt{\hat v}` (paper
    and torch). The paper's "efficient" form, which folds both corrections into the
    step size, differs only in where eps is scaled. Equals
    ``torch.optim.Adam(params, lr, betas=(beta1, beta2), eps=eps)``.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1 = check_decay("beta1", beta1)
        self.beta2 = check_decay("beta2", beta2)
        self.eps = check_positive("eps", eps)

    def _init_state(self, param):
        return {"step": 0, **_zeros(param, "first_moment", "second_moment")}

    def _update_parameter(self, param, grad, state, lr, scratch):
        state["step"] += 1
        t, m, v = state["step"], state["first_moment"], state["second_moment"]
        ewma_update_(m, grad, self.beta1, scratch=scratch)          # m ← β1·m + (1−β1)·g
        np.multiply(grad, grad, out=scratch)
        ewma_update_(v, scratch, self.beta2, scratch=scratch)       # v ← β2·v + (1−β2)·g²
        # √v̂ + eps = √v / √(1−β2ᵗ) + eps, then θ ← θ − lr/(1−β1ᵗ) · m / (√v̂ + eps)
        _sqrt_plus_eps(v, self.eps, scratch, scale=bias_correction(self.beta2, t))
        _descend(param, m, scratch, lr / bias_correction(self.beta1, t), scratch)


class AdaMax(Optimizer):
    r"""AdaMax: Adam with the infinity norm in place of the RMS.

    .. math::

        t &\leftarrow t + 1 \\
        m &\leftarrow \beta_1 m + (1 - \beta_1)\, g \\
        u &\leftarrow \max(\beta_2 u,\ |g| + \epsilon) \\
        \theta &\leftarrow \theta - \frac{\eta}{1 - \beta_1^t}\, \frac{m}{u}

    with :math:`\eta` = ``lr``, :math:`\beta_1` = ``beta1``, :math:`\beta_2` =
    ``beta2``, :math:`\epsilon` = ``eps``; state :math:`t` = ``state['step']``,
    :math:`m` = ``state['first_moment']``, :math:`u` = ``state['inf_norm']``, all
    starting at 0. :math:`u` needs no bias correction.

    Kingma & Ba, *Adam: A method for stochastic optimization*, ICLR 2015,
    §7.1 (Algorithm 2).

    Convention: eps inside the max (so u > 0 even for zero gradients), as in torch;
    the paper has no eps. Equals
    ``torch.optim.Adamax(params, lr, betas=(beta1, beta2), eps=eps)``.
    """

    def __init__(self, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1 = check_decay("beta1", beta1)
        self.beta2 = check_decay("beta2", beta2)
        self.eps = check_positive("eps", eps)

    def _init_state(self, param):
        return {"step": 0, **_zeros(param, "first_moment", "inf_norm")}

    def _update_parameter(self, param, grad, state, lr, scratch):
        state["step"] += 1
        t, m, u = state["step"], state["first_moment"], state["inf_norm"]
        ewma_update_(m, grad, self.beta1, scratch=scratch)    # m ← β1·m + (1−β1)·g
        u *= self.beta2
        np.abs(grad, out=scratch)
        scratch += self.eps
        np.maximum(u, scratch, out=u)                         # u ← max(β2·u, |g| + eps)
        _descend(param, m, u, lr / bias_correction(self.beta1, t), scratch)


class Nadam(Optimizer):
    r"""Nadam: Adam with Nesterov momentum (Dozat's schedule, as in torch).

    .. math::

        t &\leftarrow t + 1 \\
        \mu_t &= \beta_1 \bigl(1 - \tfrac12\, 0.96^{t\psi}\bigr), \quad
        \mu_{t+1} = \beta_1 \bigl(1 - \tfrac12\, 0.96^{(t+1)\psi}\bigr) \\
        P &\leftarrow P\, \mu_t \\
        m &\leftarrow \beta_1 m + (1 - \beta_1)\, g \\
        v &\leftarrow \beta_2 v + (1 - \beta_2)\, g^2, \qquad
        \hat v = v / (1 - \beta_2^t) \\
        \theta &\leftarrow \theta
            - \eta\, \frac{1 - \mu_t}{1 - P}\, \frac{g}{\sqrt{\hat v} + \epsilon}
            - \eta\, \frac{\mu_{t+1}}{1 - P\,\mu_{t+1}}\, \frac{m}{\sqrt{\hat v} + \epsilon}

    with :math:`\eta` = ``lr``, :math:`\beta_1` = ``beta1``, :math:`\beta_2` =
    ``beta2``, :math:`\epsilon` = ``eps``, :math:`\psi` = ``momentum_decay``;
    state :math:`t` = ``state['step']``, :math:`m` = ``state['first_moment']``,
    :math:`v` = ``state['second_moment']`` (starting at 0) and the running product
    :math:`P = \prod_{i \le t} \mu_i` = ``state['mu_product']`` (starting at 1).

    Dozat, *Incorporating Nesterov momentum into Adam*, ICLR workshop 2016
    (Algorithm 2).

    Convention: this is torch's form, not Dozat's Algorithm 2 line for line.
    Dozat averages the first moment with the scheduled momentum,
    :math:`m \leftarrow \mu_t m + (1 - \mu_t)\, g`; torch (and Keras) average it
    with the constant :math:`\beta_1` and use :math:`\mu_t` only in the two
    weights of the step. The two agree when :math:`\mu_t` is constant and
    equal to :math:`\beta_1`, which here is the limit ψ → ∞ (0.96^(tψ) → 0; a
    ψ of 1e4 already gives :math:`\mu_t = \beta_1` to float64). torch's default
    ψ = 0.004 = 1/250 warms up slowly: :math:`\mu_1 \approx 0.45`,
    :math:`\mu_{1000} \approx 0.52`, :math:`\mu_{10^4} \approx 0.81` with
    β₁ = 0.9. ψ = 0 freezes :math:`\mu_t` at :math:`\beta_1/2` while m still
    averages with :math:`\beta_1`, so it is not a constant-momentum
    Nesterov-Adam. Keras 3's ``keras.optimizers.Nadam`` has no ψ: it uses
    :math:`\mu_t = \beta_1(1 - \tfrac12\, 0.96^{t})`, i.e. ψ = 1 here (the
    older tf.keras optimizer had ``schedule_decay=0.004``). eps outside the
    square root. Equals ``torch.optim.NAdam(params, lr, betas=(beta1, beta2),
    eps=eps, momentum_decay=momentum_decay)``.
    """

    n_scratch = 2

    def __init__(self, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3):
        super().__init__(lr)
        self.beta1 = check_decay("beta1", beta1)
        self.beta2 = check_decay("beta2", beta2)
        self.eps = check_positive("eps", eps)
        self.momentum_decay = check_nonnegative("momentum_decay", momentum_decay)

    def _init_state(self, param):
        return {"step": 0, **_zeros(param, "first_moment", "second_moment"), "mu_product": 1.0}

    def _momentum(self, t):
        """μ_t = β1·(1 − ½·0.96^(t·ψ))."""
        return self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def _update_parameter(self, param, grad, state, lr, scratch, denom):
        state["step"] += 1
        t, m, v = state["step"], state["first_moment"], state["second_moment"]
        mu, mu_next = self._momentum(t), self._momentum(t + 1)
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        ewma_update_(m, grad, self.beta1, scratch=scratch)          # m ← β1·m + (1−β1)·g
        np.multiply(grad, grad, out=scratch)
        ewma_update_(v, scratch, self.beta2, scratch=scratch)       # v ← β2·v + (1−β2)·g²
        np.divide(v, bias_correction(self.beta2, t), out=denom)     # v̂  (torch: sqrt(v/bc2))
        _sqrt_plus_eps(denom, self.eps, denom)                      # √v̂ + eps
        # The Nesterov look-ahead: part of the step from the current gradient,
        # part from the momentum that the next step will apply.
        _descend(param, grad, denom, lr * (1.0 - mu) / (1.0 - mu_product), scratch)
        _descend(param, m, denom, lr * mu_next / (1.0 - mu_product * mu_next), scratch)


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay.

    .. math::

        \theta \leftarrow \theta\, (1 - \eta \lambda), \quad
        \text{then the Adam step on } \theta

    with :math:`\eta` = ``lr``, :math:`\lambda` = ``weight_decay`` and the other
    arguments and state as in :class:`Adam`. The decay is applied to the
    parameters directly, not added to the gradient, so it is not rescaled by
    the adaptive denominator (that is what "decoupled" means).

    Loshchilov & Hutter, *Decoupled weight decay regularization*, ICLR 2019.

    Convention: the decay is multiplied by lr, as in torch. Loshchilov & Hutter's
    Algorithm 2 multiplies λ by the schedule multiplier :math:`\eta_t` only
    (their step is :math:`\theta \leftarrow \theta - \eta_t(\alpha\,\hat m/(\sqrt{\hat v}
    + \epsilon) + \lambda\theta)`), so torch's λ is the paper's λ divided by α. Equals ``torch.optim.AdamW(params, lr, betas=(beta1, beta2),
    eps=eps, weight_decay=weight_decay)``.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)

    def _update_parameter(self, param, grad, state, lr, scratch):
        param *= 1.0 - lr * self.weight_decay       # decoupled decay first ...
        super()._update_parameter(param, grad, state, lr, scratch)   # ... then Adam


OPTIMIZERS = {
    cls.__name__: cls
    for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adadelta, Adam, AdaMax, Nadam, AdamW)
}
