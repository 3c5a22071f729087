r"""A catalogue of known mistakes, each a runnable variant of the reference.

A diagnosis is *measured*, not guessed: :mod:`autograder.checks` runs the variant
of every catalogued mistake for the checked target over the same scenarios as the
student, and names the mistake whose trajectory matches the student's.

Each :class:`Mistake` has a ``key`` (stable, used in reports), the ``target`` it
belongs to (an optimizer name, ``"EWMA"``, ``"step_decay"`` or ``"cosine"``), a
``title`` and a one-line ``hint``, and ``make()``, which returns a fresh class
(or, for schedules, a function with the student's signature) that commits the
mistake and is otherwise correct.

The variants are small, self-contained classes written the way a student writes
them (a loop over the parameters, per-parameter state in ``self.state``), with
flags for the mistake. Alongside them, :data:`ALTERNATIVES` lists *correct* forms
that look different from the reference (Adam's "efficient" step size, momentum as
b ← μb + g, θ ← θ − lr·b, torch's Nesterov): a student matching one of them passes.

What real students write (``tests/real_implementations``) added three kinds:

* other courses' conventions as named variants: deeplearning.ai's dampened momentum,
  Deep Learning from Scratch's Nesterov, eps inside RMSprop's square root (d2l, Keras),
  Keras's AdaGrad accumulator started at 0.1 and its AdaMax with eps after the max;
* hard-coded hyperparameters (:func:`hard_coded`): the correct form (or an alternative)
  with eps, a beta, rho, momentum or lr replaced by a constant, the candidates being the
  common libraries' and the assignment's defaults (``checks.COMMON_DEFAULTS``);
* two deviations at once (:func:`combined`, or a mistake plus constants), named both.

:func:`measured_candidates` enumerates the combinations the diagnosis runs after the
catalogue; the ones seen in real code are also catalogued by name (:data:`MISTAKES`), with
an example in the assignment's own code (:data:`EXAMPLES`).

Scenarios are designed so that every mistake is distinguishable from the correct
answer (tested in ``tests/test_autograder_mistakes.py``): "shared between
instances" needs two optimizers at once, "per parameter" mistakes need two
parameters in one dict, eps mistakes need tiny gradients.

This module is grader-side knowledge: a variant with its flag off is a correct
implementation, so what student code and the sandboxed recorder import
(:mod:`autograder`, ``autograder.checks.scenarios`` / ``run_trajectory``) never loads it.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Mistake", "MISTAKES", "ALTERNATIVES", "CORRECT", "for_target", "catalogued_for",
           "alternatives_for", "hard_coded", "combined", "measured_candidates", "resolve"]


# ============================================================================ plain variants
class _Plain:
    """A student-style optimizer: hyperparameters as attributes, state per parameter name."""

    shared_state_between_parameters = False

    def __init__(self, **hyper):
        for key, value in hyper.items():
            setattr(self, key, value)
        self.state = {}
        self.t = 0

    def update(self, params, grads):
        self._before_loop()
        for name in params:
            if self.shared_state_between_parameters:
                state = self.state.setdefault("all", {})
            else:
                state = self.state.setdefault(name, {})
            self._step(params[name], grads[name], state)

    def _before_loop(self):
        pass

    def _step(self, p, g, state):
        raise NotImplementedError


def _zeros(state, p, *keys):
    for key in keys:
        if key not in state:
            state[key] = np.zeros_like(p)
    return [state[key] for key in keys]


class SGD(_Plain):
    sign = 1.0

    def _step(self, p, g, state):
        p -= self.sign * self.lr * g


class Momentum(_Plain):
    flip = False
    dampened = False       # deeplearning.ai: b = beta*b + (1-beta)*g; theta -= lr*b

    def _step(self, p, g, state):
        if self.dampened:
            (b,) = _zeros(state, p, "b")
            b *= self.momentum
            b += (1 - self.momentum) * g
            p -= self.lr * b
            return
        (v,) = _zeros(state, p, "v")
        v *= self.momentum
        v -= self.lr * g
        if self.flip:
            p -= v
        else:
            p += v


class MomentumSharedBetweenInstances(Momentum):
    velocity = {}          # class level: one dict for every instance

    def update(self, params, grads):
        for name in params:
            p, g = params[name], grads[name]
            if name not in self.velocity:
                self.velocity[name] = np.zeros_like(p)
            v = self.velocity[name]
            v *= self.momentum
            v -= self.lr * g
            p += v


class MomentumBuffer(_Plain):
    """Correct alternative: b ← μb + g, θ ← θ − lr·b (torch's form)."""

    def _step(self, p, g, state):
        (b,) = _zeros(state, p, "b")
        b *= self.momentum
        b += g
        p -= self.lr * b


class Nesterov(_Plain):
    as_momentum = False
    dlfs = False           # Deep Learning from Scratch: theta += mu**2 * v_new - (1+mu)*lr*g

    def _step(self, p, g, state):
        (v,) = _zeros(state, p, "v")
        mu = self.momentum
        v_prev = v.copy()
        v *= mu
        v -= self.lr * g
        if self.dlfs:
            p += mu * mu * v
            p -= (1 + mu) * self.lr * g
        elif self.as_momentum:
            p += v
        else:
            p += -mu * v_prev + (1 + mu) * v


class NesterovBuffer(_Plain):
    """Correct alternative: torch's b ← μb + g, θ ← θ − lr·(g + μb)."""

    def _step(self, p, g, state):
        (b,) = _zeros(state, p, "b")
        b *= self.momentum
        b += g
        p -= self.lr * (g + self.momentum * b)


class AdaGrad(_Plain):
    forgets = False
    eps_inside = False
    initial = 0.0          # Keras starts the accumulator at 0.1

    def _step(self, p, g, state):
        if "h" not in state:
            state["h"] = np.full_like(p, self.initial)
        h = state["h"]
        if self.forgets:
            h[...] = g * g
        else:
            h += g * g
        denom = np.sqrt(h + self.eps) if self.eps_inside else np.sqrt(h) + self.eps
        p -= self.lr * g / denom


class RMSprop(_Plain):
    accumulates = False
    old_average = False
    square = True
    eps_inside = False     # d2l, Keras: sqrt(h + eps)

    def _step(self, p, g, state):
        (h,) = _zeros(state, p, "h")
        old = h.copy()
        g2 = g * g if self.square else g
        if self.accumulates:
            h += self.rho * h + (1 - self.rho) * g2
        else:
            h *= self.rho
            h += (1 - self.rho) * g2
        used = old if self.old_average else h
        denom = np.sqrt(used + self.eps) if self.eps_inside else np.sqrt(used) + self.eps
        p -= self.lr * g / denom


class Adadelta(_Plain):
    d_first = False
    no_eps_numerator = False

    def _step(self, p, g, state):
        h, d = _zeros(state, p, "h", "d")
        rho, eps = self.rho, self.eps
        h *= rho
        h += (1 - rho) * g * g
        numerator = np.sqrt(d) if self.no_eps_numerator else np.sqrt(d + eps)
        delta = -numerator / np.sqrt(h + eps) * g
        d *= rho
        d += (1 - rho) * delta * delta
        if self.d_first:
            # the step actually taken is computed after d was updated
            delta = -np.sqrt(d + eps) / np.sqrt(h + eps) * g
        p += self.lr * delta


class Adam(_Plain):
    bias_correction = True
    eps_inside = False
    square = True
    step_mode = "per-parameter state"     # or "late" or "per parameter"
    efficient = False
    bias_eps = False       # eps added to the bias corrections' denominators: m / (1 - beta1**t + eps)

    def _step(self, p, g, state):
        m, v = _zeros(state, p, "m", "v")
        if self.step_mode == "per parameter":
            self.t += 1
            t = self.t
        else:
            state.setdefault("t", 0)
            if self.step_mode == "late":
                t = state["t"]
                state["t"] += 1
            else:
                state["t"] += 1
                t = state["t"]
        b1, b2 = self.beta1, self.beta2
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g if self.square else g)
        if self.efficient:
            step = self.lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            p -= step * m / (np.sqrt(v) + self.eps)
            return
        if self.bias_correction:
            extra = self.eps if self.bias_eps else 0.0
            m_hat = m / (1 - b1 ** t + extra)
            v_hat = v / (1 - b2 ** t + extra)
        else:
            m_hat, v_hat = m, v
        denom = np.sqrt(v_hat + self.eps) if self.eps_inside else np.sqrt(v_hat) + self.eps
        p -= self.lr * m_hat / denom


class AdaMax(_Plain):
    bias_correction = True
    eps_outside_max = False   # Keras: u = max(beta2*u, |g|); theta -= lr/(1-beta1**t) * m/(u + eps)

    def _step(self, p, g, state):
        m, u = _zeros(state, p, "m", "u")
        state["t"] = state.get("t", 0) + 1
        t = state["t"]
        m *= self.beta1
        m += (1 - self.beta1) * g
        scale = 1 - self.beta1 ** t if self.bias_correction else 1.0
        if self.eps_outside_max:
            np.maximum(self.beta2 * u, np.abs(g), out=u)
            p -= self.lr / scale * m / (u + self.eps)
            return
        np.maximum(self.beta2 * u, np.abs(g) + self.eps, out=u)
        p -= self.lr / scale * m / u


class Nadam(_Plain):
    as_adam = False

    def _step(self, p, g, state):
        m, v = _zeros(state, p, "m", "v")
        state["t"] = state.get("t", 0) + 1
        t = state["t"]
        b1, b2, psi = self.beta1, self.beta2, self.momentum_decay
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        denom = np.sqrt(v / (1 - b2 ** t)) + self.eps
        if self.as_adam:
            p -= self.lr * (m / (1 - b1 ** t)) / denom
            return
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["prod"] = state.get("prod", 1.0) * mu
        prod = state["prod"]
        p -= self.lr * (1 - mu) / (1 - prod) * g / denom
        p -= self.lr * mu_next / (1 - prod * mu_next) * m / denom


class EWMA:
    bias_correction = True
    accumulates = False

    def __init__(self, beta=0.9):
        self.beta = beta
        self.value = 0.0
        self.step = 0

    def update(self, x):
        self.step += 1
        if self.accumulates:
            self.value += self.beta * self.value + (1 - self.beta) * x
        else:
            self.value = self.beta * self.value + (1 - self.beta) * x
        if self.bias_correction:
            return self.value / (1 - self.beta ** self.step)
        return self.value


# schedules, with the student's signature: fn(epoch, **hyperparameters) -> lr
def _step_decay_continuous(epoch, lr0, factor=0.5, every=10):
    return lr0 * factor ** (epoch / every)


def _step_decay_early(epoch, lr0, factor=0.5, every=10):
    return lr0 * factor ** ((epoch + 1) // every)


def _cosine_no_half(epoch, lr0, total, lr_min=0.0):
    return lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * min(epoch, total) / total))


def _cosine_no_clamp(epoch, lr0, total, lr_min=0.0):
    return lr_min + 0.5 * (lr0 - lr_min) * (1 + math.cos(math.pi * epoch / total))


# ============================================================================ the catalogue
class Variant:
    """A factory of fresh variant classes: ``base`` with ``flags`` as class attributes.

    Calling it returns a new subclass each time (class-level mutable state, such as the
    shared-velocity dict of one mistake, must be fresh for every run). ``base`` and
    ``flags`` are kept so that two mistakes of the same class combine into one variant.
    """

    def __init__(self, base, name, flags=None):
        self.base, self.name, self.flags = base, name, dict(flags or {})

    def __call__(self):
        namespace = dict(self.flags)
        for key, value in list(vars(self.base).items()):
            if isinstance(value, dict) and not key.startswith("__"):
                namespace.setdefault(key, {})
        return type(self.name, (self.base,), namespace)

    def combined_with(self, other: "Variant") -> "Variant | None":
        """One variant with both flag sets, or None when they cannot combine."""
        if not isinstance(other, Variant) or other.base is not self.base \
                or set(self.flags) & set(other.flags):
            return None
        return Variant(self.base, self.name, {**self.flags, **other.flags})


def _variant(base, name, **flags):
    return Variant(base, name, flags)


def _fixed_hyperparameters(make, fixed):
    """A factory like ``make`` whose hyperparameters ``fixed`` are constants.

    Each fixed name becomes a class property that always reads the constant and ignores
    assignments (the constructor's ``self.eps = eps``, a schedule's ``opt.lr = ...``):
    exactly a student's ``+ 1e-7`` written where ``+ self.eps`` belongs.
    """
    def make_fixed():
        cls = make()
        namespace = {name: property(lambda self, v=value: v, lambda self, new: None)
                     for name, value in fixed}
        return type(cls.__name__, (cls,), namespace)
    return make_fixed


@dataclass(frozen=True)
class Mistake:
    """One known mistake: a stable key, its target, a title, a hint, and a factory.

    ``make()`` returns a fresh class (or function, for schedules) that commits the
    mistake. Measured combinations carry what they are made of: ``parts`` (the keys of
    the catalogued mistakes combined) and ``fixed`` (hard-coded hyperparameters, as
    ``((name, constant), ...)``), ``on`` (the variant id the constants are fixed on).
    ``vid`` identifies the runnable variant (for caches); it equals ``key`` except for a
    hard-coded hyperparameter found on a correct alternative form, which reads the same
    to the student as on the reference form.
    """

    key: str
    target: str
    title: str
    hint: str
    make: Callable[[], object]
    parts: tuple = ()
    fixed: tuple = ()
    on: str | None = None
    variant_id: str | None = None

    @property
    def vid(self) -> str:
        return self.variant_id or self.key

    def __repr__(self):
        return f"Mistake({self.key!r}, target={self.target!r})"


def _function(fn):
    return lambda: fn


_CATALOGUE = [
    # -- EWMA
    Mistake("ewma-no-bias-correction", "EWMA", "no bias correction",
            "return v / (1 - beta**t), not v: early averages are pulled towards 0.",
            _variant(EWMA, "EWMA", bias_correction=False)),
    Mistake("ewma-accumulates", "EWMA", "`+=` where the average needs `=` (the average grows without bound)",
            "the new average replaces the old one: v = beta*v + (1-beta)*x, not v += ...",
            _variant(EWMA, "EWMA", accumulates=True)),
    # -- SGD
    Mistake("sgd-ascent", "SGD", "gradient ascent (sign flipped)",
            "step against the gradient: theta -= lr * g.",
            _variant(SGD, "SGD", sign=-1.0)),
    # -- Momentum
    Mistake("momentum-sign-flipped", "Momentum", "velocity sign flipped",
            "with v = mu*v - lr*g the velocity already points downhill: add it, theta += v.",
            _variant(Momentum, "Momentum", flip=True)),
    Mistake("momentum-shared-between-instances", "Momentum",
            "state shared between instances (class-level mutable default)",
            "create the state in __init__ (self.state = {}), not as a class attribute, "
            "so two optimizers do not share velocities.",
            _variant(MomentumSharedBetweenInstances, "Momentum")),
    Mistake("momentum-dampened", "Momentum",
            "dampened momentum v = beta*v + (1-beta)*g (deeplearning.ai's convention)",
            "this course's momentum (as torch and CS231n) does not dampen the gradient: "
            "v = mu*v - lr*g, theta += v. deeplearning.ai's v = beta*v + (1-beta)*g, "
            "theta -= lr*v takes steps (1-mu) times as large.",
            _variant(Momentum, "Momentum", dampened=True)),
    # -- Nesterov
    Mistake("nesterov-as-momentum", "Nesterov", "Nesterov done as plain momentum",
            "Nesterov's step is theta += -mu*v_prev + (1+mu)*v: it looks ahead along the new velocity.",
            _variant(Nesterov, "Nesterov", as_momentum=True)),
    Mistake("nesterov-dlfs", "Nesterov",
            "mu**2 times the new velocity (Deep Learning from Scratch's Nesterov)",
            "theta += mu**2 * v - (1+mu)*lr*g holds for the velocity from before this step; "
            "after v = mu*v - lr*g use theta += -mu*v_prev + (1+mu)*v.",
            _variant(Nesterov, "Nesterov", dlfs=True)),
    # -- AdaGrad
    Mistake("adagrad-forgets", "AdaGrad", "AdaGrad forgets old squares (h = g**2)",
            "AdaGrad sums all squared gradients: h += g*g.",
            _variant(AdaGrad, "AdaGrad", forgets=True)),
    Mistake("adagrad-shared-between-parameters", "AdaGrad", "state shared between parameters",
            "keep one accumulator per parameter name: self.state[name], not one for all.",
            _variant(AdaGrad, "AdaGrad", shared_state_between_parameters=True)),
    Mistake("adagrad-eps-inside-sqrt", "AdaGrad", "eps inside the square root",
            "add eps after the square root: sqrt(h) + eps.",
            _variant(AdaGrad, "AdaGrad", eps_inside=True)),
    Mistake("adagrad-initial-accumulator", "AdaGrad",
            "accumulator started at 0.1 (Keras's initial_accumulator_value)",
            "start the sum of squares at 0 (np.zeros_like(p)), as Duchi et al. and torch do.",
            _variant(AdaGrad, "AdaGrad", initial=0.1)),
    # -- RMSprop
    Mistake("rmsprop-accumulates", "RMSprop", "`+=` where the average needs `=` (accumulator grows without bound)",
            "h = rho*h + (1-rho)*g**2 replaces h; h += rho*h + ... makes it grow every step.",
            _variant(RMSprop, "RMSprop", accumulates=True)),
    Mistake("rmsprop-old-average", "RMSprop", "RMSprop divides by the old average",
            "update h with this step's g**2 first, then divide by sqrt(h) + eps.",
            _variant(RMSprop, "RMSprop", old_average=True)),
    Mistake("rmsprop-eps-inside-sqrt", "RMSprop", "eps inside the square root (d2l's and Keras's form)",
            "add eps after the square root, as torch does: sqrt(h) + eps.",
            _variant(RMSprop, "RMSprop", eps_inside=True)),
    # -- Adadelta
    Mistake("adadelta-delta-first", "Adadelta",
            "Adadelta updates its second accumulator before computing the step",
            "take the step computed with the old d; update d (with that step's delta**2) only afterwards.",
            _variant(Adadelta, "Adadelta", d_first=True)),
    Mistake("adadelta-no-eps-numerator", "Adadelta", "no eps in the numerator (Adadelta never moves)",
            "use sqrt(d + eps) in the numerator: d starts at 0, so sqrt(d) makes every step 0.",
            _variant(Adadelta, "Adadelta", no_eps_numerator=True)),
    # -- Adam
    Mistake("adam-no-bias-correction", "Adam", "no bias correction",
            "divide m by (1 - beta1**t) and v by (1 - beta2**t) before the step.",
            _variant(Adam, "Adam", bias_correction=False)),
    Mistake("adam-step-not-advanced", "Adam", "step counter not advanced before use",
            "increment t before computing 1 - beta**t: on the first step t must be 1, not 0.",
            _variant(Adam, "Adam", step_mode="late")),
    Mistake("adam-step-per-parameter", "Adam",
            "step counter advanced once per parameter instead of once per step",
            "keep t per parameter (self.state[name]['step']) or advance it once per update call.",
            _variant(Adam, "Adam", step_mode="per parameter")),
    Mistake("adam-eps-inside-sqrt", "Adam", "eps inside the square root",
            "add eps after the square root: sqrt(v_hat) + eps.",
            _variant(Adam, "Adam", eps_inside=True)),
    Mistake("adam-g-not-squared", "Adam", "g instead of g**2 in the second moment",
            "the second moment averages squared gradients: v = beta2*v + (1-beta2)*g**2.",
            _variant(Adam, "Adam", square=False)),
    Mistake("adam-eps-in-bias-correction", "Adam", "eps added to the bias corrections (1 - beta**t + eps)",
            "eps belongs only after the square root; 1 - beta**t is never 0 once t starts at 1.",
            _variant(Adam, "Adam", bias_eps=True)),
    # -- bonus
    Mistake("adamax-no-bias-correction", "AdaMax", "no bias correction",
            "AdaMax still corrects m: the step size is lr / (1 - beta1**t).",
            _variant(AdaMax, "AdaMax", bias_correction=False)),
    Mistake("adamax-eps-outside-max", "AdaMax", "eps added after the max (Keras's form)",
            "this course (as torch) puts eps inside the max: u = max(beta2*u, |g| + eps), "
            "theta -= lr/(1-beta1**t) * m/u.",
            _variant(AdaMax, "AdaMax", eps_outside_max=True)),
    Mistake("nadam-as-adam", "Nadam", "Nadam done as plain Adam",
            "Nadam mixes the current gradient and the momentum with the mu_t schedule.",
            _variant(Nadam, "Nadam", as_adam=True)),
    # -- schedules
    Mistake("step-decay-no-floor", "step_decay", "no staircase (missing floor division)",
            "decay in steps: factor ** (epoch // every), not factor ** (epoch / every).",
            _function(_step_decay_continuous)),
    Mistake("step-decay-early", "step_decay", "decays one epoch early",
            "epochs count from 0: the first decay happens at epoch `every`, so use epoch // every.",
            _function(_step_decay_early)),
    Mistake("cosine-no-half", "cosine", "missing the 1/2 in cosine annealing",
            "lr = lr_min + 0.5*(lr0 - lr_min)*(1 + cos(pi*t/T)): it must start at lr0, not 2*lr0.",
            _function(_cosine_no_half)),
    Mistake("cosine-no-clamp", "cosine", "cosine not held at lr_min after `total` epochs",
            "use min(epoch, total): past the end the rate stays at lr_min instead of rising again.",
            _function(_cosine_no_clamp)),
]

_SINGLE = {m.key: m for m in _CATALOGUE}
assert len(_SINGLE) == len(_CATALOGUE), "duplicate mistake keys"

#: Correct forms that differ from the reference in round-off or (for momentum) when
#: lr changes mid-run; a student who matches one of them passes.
ALTERNATIVES: dict[str, list[tuple[str, Callable[[], object]]]] = {
    "Momentum": [("b = mu*b + g; theta -= lr*b", _variant(MomentumBuffer, "Momentum"))],
    "Nesterov": [("b = mu*b + g; theta -= lr*(g + mu*b)", _variant(NesterovBuffer, "Nesterov"))],
    "Adam": [("efficient step size lr*sqrt(1-beta2**t)/(1-beta1**t)",
              _variant(Adam, "Adam", efficient=True))],
}

#: The correct student-style form of each target (every flag off): the base on which a
#: hard-coded hyperparameter is measured. A test checks each matches the reference.
CORRECT: dict[str, Variant] = {
    "EWMA": _variant(EWMA, "EWMA"), "SGD": _variant(SGD, "SGD"),
    "Momentum": _variant(Momentum, "Momentum"), "Nesterov": _variant(Nesterov, "Nesterov"),
    "AdaGrad": _variant(AdaGrad, "AdaGrad"), "RMSprop": _variant(RMSprop, "RMSprop"),
    "Adadelta": _variant(Adadelta, "Adadelta"), "Adam": _variant(Adam, "Adam"),
    "AdaMax": _variant(AdaMax, "AdaMax"), "Nadam": _variant(Nadam, "Nadam"),
}


# ============================================================================ measured combinations
_REGISTRY: dict[str, Mistake] = {}


def _register(m: Mistake) -> Mistake:
    return _REGISTRY.setdefault(m.vid, m)


def _prefix(target):
    return target.lower().replace("_", "-")


def _constant(value) -> str:
    return f"{value:g}"


def _and(words):
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def hard_coded(target: str, fixed, on: "Mistake | int | None" = None) -> Mistake:
    """The variant that ignores the hyperparameters ``fixed`` and uses constants instead.

    ``fixed``: ((name, constant), ...). ``on``: None for the correct form, a catalogued
    :class:`Mistake` (the combination of that mistake and the constants), or the index of
    a correct alternative form (:data:`ALTERNATIVES`).
    """
    fixed = tuple(fixed)
    names = [n for n, _ in fixed]
    values = [_constant(v) for _, v in fixed]
    assign = ",".join(f"{n}={v}" for n, v in zip(names, values))
    title = f"{_and(names)} hard-coded as {_and(values)}"
    uses = _and(f"self.{n}" for n in names)
    hint = (f"use {uses} in update(), not {'the constants' if len(names) > 1 else 'the constant'} "
            f"{_and(values)}: the tests construct {target}({', '.join(f'{n}=...' for n in names)}) "
            f"with other values" + (" and change self.lr between steps." if "lr" in names else "."))
    if isinstance(on, Mistake):
        base = on.make
        key = vid = f"{on.key}+hard-coded({assign})"
        title, hint = f"{on.title}, and {title}", f"two mistakes: (1) {on.hint} (2) {hint}"
        parts, on_id = on.parts or (on.key,), on.vid
    elif isinstance(on, int):
        base = ALTERNATIVES[target][on][1]
        key = f"{_prefix(target)}-hard-coded({assign})"
        vid, parts, on_id = f"{_prefix(target)}-alternative{on}-hard-coded({assign})", (), f"alternative{on}"
    else:
        base = CORRECT[target]
        key = vid = f"{_prefix(target)}-hard-coded({assign})"
        parts, on_id = (), None
    if vid in _REGISTRY:
        return _REGISTRY[vid]
    return _register(Mistake(key, target, title, hint, _fixed_hyperparameters(base, fixed),
                             parts=parts, fixed=fixed, on=on_id,
                             variant_id=None if vid == key else vid))


def combined(a: Mistake, b: Mistake) -> Mistake | None:
    """Two catalogued mistakes at once, as one runnable variant; None if they cannot combine."""
    make = a.make.combined_with(b.make) if isinstance(a.make, Variant) else None
    if make is None:
        return None
    key = f"{a.key}+{b.key}"
    if key in _REGISTRY:
        return _REGISTRY[key]
    return _register(Mistake(key, a.target, f"{a.title}, and {b.title}",
                             f"two mistakes: (1) {a.hint} (2) {b.hint}", make, parts=(a.key, b.key)))


def base_run(m: Mistake, hyper: dict, lr_changes: bool) -> Mistake | None:
    """``m`` without the constants that make no difference in a scenario with ``hyper``.

    A constant equal to the scenario's value changes nothing (for ``lr``: only when the
    scenario never changes the rate). Returns the reduced variant, ``m`` itself, or None
    when nothing is left of a hard-coded variant on the correct form (it is then the
    correct code: use the reference).
    """
    if not m.fixed:
        return m
    keep = tuple((n, v) for n, v in m.fixed
                 if not (hyper.get(n) == v and (n != "lr" or not lr_changes)))
    if keep == m.fixed:
        return m
    on = (_SINGLE.get(m.on) or _REGISTRY.get(m.on)) if m.on and not m.on.startswith("alternative") else (
        int(m.on[len("alternative"):]) if m.on else None)
    if keep:
        return hard_coded(m.target, keep, on)
    if isinstance(on, Mistake):
        return on
    if isinstance(on, int):
        return _register(Mistake(f"{_prefix(m.target)}-alternative{on}", m.target, "", "",
                                 ALTERNATIVES[m.target][on][1]))
    return None


def resolve(vid: str) -> Mistake:
    """The mistake (catalogued or measured combination) with variant id ``vid``."""
    try:
        return _SINGLE.get(vid) or _REGISTRY[vid]
    except KeyError:
        raise KeyError(f"unknown mistake variant {vid!r}") from None


def _assignments(target):
    """Every way of hard-coding some hyperparameters of ``target`` as common constants,
    fewest constants first (checks.COMMON_DEFAULTS)."""
    from autograder.checks import COMMON_DEFAULTS
    table = COMMON_DEFAULTS.get(target, {})
    names = list(table)
    options = [[None, *table[n]] for n in names]
    out = []
    for choice in itertools.product(*options):
        fixed = tuple((n, v) for n, v in zip(names, choice) if v is not None)
        if fixed:
            out.append(fixed)
    out.sort(key=len)
    return out


def measured_candidates(target: str):
    """The combinations the diagnosis measures after the single mistakes, simplest first.

    1. hard-coded hyperparameters on the correct form, then on each correct alternative;
    2. two catalogued mistakes at once;
    3. a catalogued mistake plus hard-coded hyperparameters.
    A generator: the diagnosis stops at the first one that matches.
    """
    assignments = _assignments(target)
    for fixed in assignments:
        yield hard_coded(target, fixed)
    for index, _ in enumerate(ALTERNATIVES.get(target, [])):
        for fixed in assignments:
            yield hard_coded(target, fixed, index)
    singles = for_target(target)
    for i, a in enumerate(singles):
        for b in singles[i + 1:]:
            pair = combined(a, b)
            if pair is not None:
                yield pair
    for m in singles:
        if isinstance(m.make, Variant):
            for fixed in assignments:
                yield hard_coded(target, fixed, m)


#: Combinations seen in real code (tests/real_implementations), catalogued by name so the
#: assignment's own code has an example of each; the diagnosis finds them (and others of
#: their kind) by measurement through :func:`measured_candidates`.
_REAL_COMBINATIONS = [
    hard_coded("AdaGrad", [("eps", 1e-7)]),                               # Deep Learning from Scratch
    hard_coded("RMSprop", [("eps", 1e-7)]),                               # DLFS, a CS231n solution
    hard_coded("Adam", [("eps", 1e-7)]),                                  # DLFS
    hard_coded("Adam", [("eps", 1e-8)]),                                  # self.epsilon = 1e-8 in __init__
    hard_coded("Adam", [("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-6)]),  # d2l
    hard_coded("Adadelta", [("lr", 1.0), ("eps", 1e-5)]),                 # d2l (no lr at all)
    hard_coded("AdaGrad", [("eps", 1e-6)], _SINGLE["adagrad-eps-inside-sqrt"]),   # d2l
    hard_coded("RMSprop", [("eps", 1e-6)], _SINGLE["rmsprop-eps-inside-sqrt"]),   # d2l
    combined(_SINGLE["adam-step-not-advanced"], _SINGLE["adam-eps-in-bias-correction"]),
]

MISTAKES: dict[str, Mistake] = {**_SINGLE, **{m.key: m for m in _REAL_COMBINATIONS}}


def for_target(target: str) -> list[Mistake]:
    """The catalogued single mistakes of one target, in catalogue order."""
    return [m for m in _CATALOGUE if m.target == target]


def catalogued_for(target: str) -> list[Mistake]:
    """Every catalogued mistake of one target: singles, then the named combinations."""
    return [m for m in MISTAKES.values() if m.target == target]


def alternatives_for(target: str):
    """[(description, make)] of correct alternative forms for ``target``."""
    return list(ALTERNATIVES.get(target, []))


#: How each mistake looks in the assignment's own code: the solution cell (by nbgrader
#: ``grade_id``) of ``assignments/source/optimizers/optimizers.ipynb`` and text edits
#: [(old, new), ...] that turn the instructor's solution into the mistaken one. The
#: tests inject these into submissions and check that the diagnosis names the mistake,
#: in-process and through nbgrader end to end.
EXAMPLES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "ewma-no-bias-correction": ("ewma", [
        ("return self.value / (1 - self.beta ** self.step)", "return self.value")]),
    "ewma-accumulates": ("ewma", [
        ("self.value = self.beta * self.value", "self.value += self.beta * self.value")]),
    "sgd-ascent": ("sgd", [("p -= self.lr * grads[name]", "p += self.lr * grads[name]")]),
    "momentum-sign-flipped": ("momentum", [("            p += v", "            p -= v")]),
    "momentum-shared-between-instances": ("momentum", [
        ("    def update(self, params, grads):", "    velocities = {}\n\n    def update(self, params, grads):"),
        ("self.state", "self.velocities")]),
    "nesterov-as-momentum": ("nesterov", [
        ("p += -self.momentum * v_prev + (1 + self.momentum) * v", "p += v")]),
    "adagrad-forgets": ("adagrad", [("h += g * g", "h = g * g")]),
    "adagrad-shared-between-parameters": ("adagrad", [
        ("if name not in self.state:", 'if "all" not in self.state:'),
        ("self.state[name]", 'self.state["all"]')]),
    "adagrad-eps-inside-sqrt": ("adagrad", [("np.sqrt(h) + self.eps", "np.sqrt(h + self.eps)")]),
    "rmsprop-accumulates": ("rmsprop", [
        ("h *= self.rho\n            h += (1 - self.rho) * g * g",
         "h += self.rho * h + (1 - self.rho) * g * g")]),
    "rmsprop-old-average": ("rmsprop", [
        ("            h *= self.rho\n            h += (1 - self.rho) * g * g\n"
         "            p -= self.lr * g / (np.sqrt(h) + self.eps)",
         "            p -= self.lr * g / (np.sqrt(h) + self.eps)\n"
         "            h *= self.rho\n            h += (1 - self.rho) * g * g")]),
    "adadelta-delta-first": ("adadelta", [
        ("            delta = -np.sqrt(d + self.eps) / np.sqrt(h + self.eps) * g\n"
         "            d *= self.rho\n            d += (1 - self.rho) * delta * delta\n",
         "            first = -np.sqrt(d + self.eps) / np.sqrt(h + self.eps) * g\n"
         "            d *= self.rho\n            d += (1 - self.rho) * first * first\n"
         "            delta = -np.sqrt(d + self.eps) / np.sqrt(h + self.eps) * g\n")]),
    "adadelta-no-eps-numerator": ("adadelta", [("-np.sqrt(d + self.eps) /", "-np.sqrt(d) /")]),
    "adam-no-bias-correction": ("adam", [
        ("m_hat = m / (1 - self.beta1 ** t)", "m_hat = m"),
        ("v_hat = v / (1 - self.beta2 ** t)", "v_hat = v")]),
    "adam-step-not-advanced": ("adam", [
        ('state["step"] += 1\n            t = state["step"]',
         't = state["step"]\n            state["step"] += 1')]),
    "adam-step-per-parameter": ("adam", [
        ('state["step"] += 1\n            t = state["step"]',
         'self.t = getattr(self, "t", 0) + 1\n            t = self.t')]),
    "adam-eps-inside-sqrt": ("adam", [("np.sqrt(v_hat) + self.eps", "np.sqrt(v_hat + self.eps)")]),
    "adam-g-not-squared": ("adam", [("v += (1 - self.beta2) * g * g", "v += (1 - self.beta2) * g")]),
    "adamax-no-bias-correction": ("adamax", [
        ("p -= self.lr / (1 - self.beta1 ** t) * m / u", "p -= self.lr * m / u")]),
    "nadam-as-adam": ("nadam", [
        ("            p -= self.lr * (1 - mu) / (1 - prod) * g / denom\n"
         "            p -= self.lr * mu_next / (1 - prod * mu_next) * m / denom",
         "            p -= self.lr * (m / (1 - b1 ** t)) / denom")]),
    "step-decay-no-floor": ("step_decay", [("epoch // every", "epoch / every")]),
    "step-decay-early": ("step_decay", [("epoch // every", "(epoch + 1) // every")]),
    "cosine-no-half": ("cosine", [("lr_min + 0.5 * (lr0 - lr_min)", "lr_min + (lr0 - lr_min)")]),
    "cosine-no-clamp": ("cosine", [("t = min(epoch, total)", "t = epoch")]),
    # -- other courses' conventions
    "momentum-dampened": ("momentum", [
        ("v -= self.lr * g\n            p += v", "v += (1 - self.momentum) * g\n            p -= self.lr * v")]),
    "nesterov-dlfs": ("nesterov", [
        ("p += -self.momentum * v_prev + (1 + self.momentum) * v",
         "p += self.momentum * self.momentum * v - (1 + self.momentum) * self.lr * g")]),
    "adagrad-initial-accumulator": ("adagrad", [
        ('{"sum_squares": np.zeros_like(p)}', '{"sum_squares": np.full_like(p, 0.1)}')]),
    "rmsprop-eps-inside-sqrt": ("rmsprop", [
        ("p -= self.lr * g / (np.sqrt(h) + self.eps)", "p -= self.lr * g / np.sqrt(h + self.eps)")]),
    "adam-eps-in-bias-correction": ("adam", [
        ("m_hat = m / (1 - self.beta1 ** t)", "m_hat = m / (1 - self.beta1 ** t + self.eps)"),
        ("v_hat = v / (1 - self.beta2 ** t)", "v_hat = v / (1 - self.beta2 ** t + self.eps)")]),
    "adamax-eps-outside-max": ("adamax", [
        ("np.maximum(self.beta2 * u, np.abs(g) + self.eps, out=u)\n"
         "            p -= self.lr / (1 - self.beta1 ** t) * m / u",
         "np.maximum(self.beta2 * u, np.abs(g), out=u)\n"
         "            p -= self.lr / (1 - self.beta1 ** t) * m / (u + self.eps)")]),
    # -- hard-coded hyperparameters and two mistakes at once, as real code has them
    "adagrad-hard-coded(eps=1e-07)": ("adagrad", [("np.sqrt(h) + self.eps", "np.sqrt(h) + 1e-7")]),
    "rmsprop-hard-coded(eps=1e-07)": ("rmsprop", [("(np.sqrt(h) + self.eps)", "(np.sqrt(h) + 1e-7)")]),
    "adam-hard-coded(eps=1e-07)": ("adam", [("np.sqrt(v_hat) + self.eps", "np.sqrt(v_hat) + 1e-7")]),
    "adam-hard-coded(eps=1e-08)": ("adam", [("np.sqrt(v_hat) + self.eps", "np.sqrt(v_hat) + 1e-8")]),
    "adam-hard-coded(beta1=0.9,beta2=0.999,eps=1e-06)": ("adam", [
        ("m *= self.beta1\n            m += (1 - self.beta1) * g\n"
         "            v *= self.beta2\n            v += (1 - self.beta2) * g * g\n"
         "            m_hat = m / (1 - self.beta1 ** t)\n            v_hat = v / (1 - self.beta2 ** t)\n"
         "            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)",
         "beta1, beta2, eps = 0.9, 0.999, 1e-6\n"
         "            m *= beta1\n            m += (1 - beta1) * g\n"
         "            v *= beta2\n            v += (1 - beta2) * g * g\n"
         "            m_hat = m / (1 - beta1 ** t)\n            v_hat = v / (1 - beta2 ** t)\n"
         "            p -= self.lr * m_hat / (np.sqrt(v_hat) + eps)")]),
    "adadelta-hard-coded(lr=1,eps=1e-05)": ("adadelta", [
        ("delta = -np.sqrt(d + self.eps) / np.sqrt(h + self.eps) * g",
         "delta = -np.sqrt(d + 1e-5) / np.sqrt(h + 1e-5) * g"),
        ("p += self.lr * delta", "p += delta")]),
    "adagrad-eps-inside-sqrt+hard-coded(eps=1e-06)": ("adagrad", [
        ("np.sqrt(h) + self.eps", "np.sqrt(h + 1e-6)")]),
    "rmsprop-eps-inside-sqrt+hard-coded(eps=1e-06)": ("rmsprop", [
        ("(np.sqrt(h) + self.eps)", "np.sqrt(h + 1e-6)")]),
    "adam-step-not-advanced+adam-eps-in-bias-correction": ("adam", [
        ('state["step"] += 1\n            t = state["step"]',
         't = state["step"]\n            state["step"] += 1'),
        ("m_hat = m / (1 - self.beta1 ** t)", "m_hat = m / (1 - self.beta1 ** t + self.eps)"),
        ("v_hat = v / (1 - self.beta2 ** t)", "v_hat = v / (1 - self.beta2 ** t + self.eps)")]),
}
