r"""Learning-rate schedules: plain callables ``epoch -> lr``.

Each function here checks its arguments and returns a :class:`Schedule`, a
callable that maps an epoch :math:`t = 0, 1, 2, \dots` (fractional epochs are
allowed, negative ones are not) to a learning rate. Use it by setting the
optimizer's ``lr`` between epochs::

    schedule = step_decay(0.1, factor=0.5, every=10)
    for epoch in range(50):
        opt.lr = schedule(epoch)
        train_one_epoch(opt)

=================  =============================================================
``constant``       :math:`\eta_t = \eta_0`
``step_decay``     :math:`\eta_t = \eta_0 \cdot f^{\lfloor t / k \rfloor}` (staircase)
``exponential``    :math:`\eta_t = \eta_0\, e^{-k t}`
``power``          :math:`\eta_t = \eta_0 \cdot b^{t}` (e.g. :math:`0.95^t`)
``inverse_time``   :math:`\eta_t = \eta_0 / (1 + d\, t)`
``inverse_sqrt``   :math:`\eta_t = k / \sqrt{\max(t, 1)}`
``piecewise``      constant between boundaries
``cosine``         :math:`\eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})(1 + \cos(\pi t / T))`
``warmup``         linear warm-up, then any schedule
=================  =============================================================

Sources: Goodfellow, Bengio & Courville, *Deep Learning*, 2016, §8.3; Ng's *Deep
Learning Specialization*, course 2 (learning-rate decay); Loshchilov & Hutter,
*SGDR: Stochastic gradient descent with warm restarts*, ICLR 2017 (cosine);
Goyal et al., *Accurate, large minibatch SGD*, 2017 (linear warm-up).
"""

from __future__ import annotations

import math
from numbers import Integral

from dlcourse._checks import check_nonnegative, check_positive, check_real

__all__ = [
    "Schedule", "constant", "step_decay", "exponential", "power", "inverse_time",
    "inverse_sqrt", "piecewise", "cosine", "warmup",
]


class Schedule:
    """A learning-rate schedule: call it with an epoch (>= 0) to get the lr.

    ``Schedule(name, rule, **arguments)`` wraps ``rule(epoch) -> lr``; the name and
    arguments only serve ``repr`` (useful as a plot label).
    """

    def __init__(self, name, rule, **arguments):
        self.name = name
        self.rule = rule
        self.arguments = arguments

    def __call__(self, epoch):
        epoch = check_real("epoch", epoch)
        if epoch < 0:
            raise ValueError(f"epoch counts from 0, got {epoch!r}")
        return float(self.rule(epoch))

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.arguments.items())
        return f"{self.name}({args})"


def constant(lr0):
    r"""The same rate every epoch: :math:`\eta_t = \eta_0` (``lr0``)."""
    lr0 = check_positive("lr0", lr0)
    return Schedule("constant", lambda t: lr0, lr0=lr0)


def step_decay(lr0, factor=0.5, every=10):
    r"""Multiply by ``factor`` every ``every`` epochs (a staircase).

    :math:`\eta_t = \eta_0 \cdot f^{\lfloor t/k \rfloor}` with :math:`\eta_0` =
    ``lr0``, :math:`f` = ``factor`` (0.5: halve), :math:`k` = ``every``.
    Like ``torch.optim.lr_scheduler.StepLR(step_size=every, gamma=factor)``.
    """
    lr0 = check_positive("lr0", lr0)
    factor = check_positive("factor", factor)
    if isinstance(every, bool) or not isinstance(every, Integral) or every < 1:
        raise ValueError(f"every must be a whole number of epochs >= 1, got {every!r}")
    return Schedule("step_decay", lambda t: lr0 * factor ** (t // every),
                    lr0=lr0, factor=factor, every=every)


def exponential(lr0, k):
    r"""Exponential decay :math:`\eta_t = \eta_0\, e^{-k t}` (``lr0``, ``k`` >= 0)."""
    lr0 = check_positive("lr0", lr0)
    k = check_nonnegative("k", k)
    return Schedule("exponential", lambda t: lr0 * math.exp(-k * t), lr0=lr0, k=k)


def power(lr0, base=0.95):
    r"""Geometric decay :math:`\eta_t = \eta_0 \cdot b^t` (``lr0``, :math:`b` = ``base`` > 0).

    With ``base=0.95`` this is the "0.95^epoch · η₀" rule of Ng's course; it equals
    :func:`exponential` with :math:`k = -\ln b`. Like torch's ``ExponentialLR(gamma=base)``.
    """
    lr0 = check_positive("lr0", lr0)
    base = check_positive("base", base)
    return Schedule("power", lambda t: lr0 * base ** t, lr0=lr0, base=base)


def inverse_time(lr0, decay):
    r"""Inverse-time decay :math:`\eta_t = \eta_0 / (1 + d\, t)` (``lr0``, :math:`d` = ``decay`` >= 0)."""
    lr0 = check_positive("lr0", lr0)
    decay = check_nonnegative("decay", decay)
    return Schedule("inverse_time", lambda t: lr0 / (1.0 + decay * t), lr0=lr0, decay=decay)


def inverse_sqrt(k):
    r"""Inverse square-root decay :math:`\eta_t = k / \sqrt{t}` (``k`` > 0).

    Defined for :math:`t \ge 1`; epoch 0 uses :math:`t = 1` (so :math:`\eta_0 = k`)
    instead of dividing by zero.
    """
    k = check_positive("k", k)
    return Schedule("inverse_sqrt", lambda t: k / math.sqrt(max(t, 1.0)), k=k)


def piecewise(boundaries, values):
    r"""Piecewise constant: ``values[i]`` from epoch ``boundaries[i-1]`` up to ``boundaries[i]``.

    ``len(values) == len(boundaries) + 1``; boundaries strictly increase. At a
    boundary epoch the next value already applies:
    ``piecewise([10, 20], [0.1, 0.01, 0.001])`` gives 0.1 for t < 10, 0.01 for
    10 <= t < 20, 0.001 from 20 on (like torch's ``MultiStepLR``).
    """
    boundaries = [check_nonnegative("boundary", b) for b in boundaries]
    values = [check_positive("value", v) for v in values]
    if len(values) != len(boundaries) + 1:
        raise ValueError(
            f"piecewise needs one more value than boundaries, got {len(boundaries)} "
            f"boundaries and {len(values)} values"
        )
    if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
        raise ValueError(f"boundaries must strictly increase, got {boundaries}")

    def rule(t):
        return values[sum(t >= b for b in boundaries)]

    return Schedule("piecewise", rule, boundaries=boundaries, values=values)


def cosine(lr0, total, lr_min=0.0):
    r"""Cosine annealing from ``lr0`` to ``lr_min`` over ``total`` epochs.

    .. math:: \eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})\bigl(1 + \cos(\pi \min(t, T)/T)\bigr)

    with :math:`T` = ``total``; it stays at ``lr_min`` after :math:`T`.
    Loshchilov & Hutter 2017 (without restarts); like torch's ``CosineAnnealingLR``.
    """
    lr0 = check_positive("lr0", lr0)
    total = check_positive("total", total)
    lr_min = check_nonnegative("lr_min", lr_min)
    if lr_min > lr0:
        raise ValueError(f"lr_min ({lr_min}) must not exceed lr0 ({lr0})")

    def rule(t):
        return lr_min + 0.5 * (lr0 - lr_min) * (1.0 + math.cos(math.pi * min(t, total) / total))

    return Schedule("cosine", rule, lr0=lr0, total=total, lr_min=lr_min)


def warmup(schedule, warmup_epochs, start=0.0):
    r"""Linear warm-up from ``start`` to ``schedule(0)``, then ``schedule``.

    .. math::

        \eta_t = \begin{cases}
            s + (\text{schedule}(0) - s)\, t / W & t < W \\
            \text{schedule}(t - W) & t \ge W
        \end{cases}

    with :math:`W` = ``warmup_epochs`` and :math:`s` = ``start``. The wrapped
    schedule starts its own epoch 0 when the warm-up ends, so there is no jump.
    Goyal et al. 2017.
    """
    if not callable(schedule):
        raise TypeError(f"schedule must be a callable epoch -> lr, got {schedule!r}")
    warmup_epochs = check_nonnegative("warmup_epochs", warmup_epochs)
    start = check_nonnegative("start", start)
    peak = float(schedule(0))

    def rule(t):
        if t < warmup_epochs:
            return start + (peak - start) * t / warmup_epochs
        return schedule(t - warmup_epochs)

    return Schedule("warmup", rule, schedule=schedule, warmup_epochs=warmup_epochs, start=start)
