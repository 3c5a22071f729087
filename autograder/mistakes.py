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

Scenarios are designed so that every mistake is distinguishable from the correct
answer (tested in ``tests/test_autograder_mistakes.py``): "shared between
instances" needs two optimizers at once, "per parameter" mistakes need two
parameters in one dict, eps mistakes need tiny gradients.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Mistake", "MISTAKES", "ALTERNATIVES", "for_target", "alternatives_for"]


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

    def _step(self, p, g, state):
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

    def _step(self, p, g, state):
        (v,) = _zeros(state, p, "v")
        mu = self.momentum
        v_prev = v.copy()
        v *= mu
        v -= self.lr * g
        if self.as_momentum:
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

    def _step(self, p, g, state):
        (h,) = _zeros(state, p, "h")
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
        p -= self.lr * g / (np.sqrt(used) + self.eps)


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
            m_hat = m / (1 - b1 ** t)
            v_hat = v / (1 - b2 ** t)
        else:
            m_hat, v_hat = m, v
        denom = np.sqrt(v_hat + self.eps) if self.eps_inside else np.sqrt(v_hat) + self.eps
        p -= self.lr * m_hat / denom


class AdaMax(_Plain):
    bias_correction = True

    def _step(self, p, g, state):
        m, u = _zeros(state, p, "m", "u")
        state["t"] = state.get("t", 0) + 1
        t = state["t"]
        m *= self.beta1
        m += (1 - self.beta1) * g
        np.maximum(self.beta2 * u, np.abs(g) + self.eps, out=u)
        scale = 1 - self.beta1 ** t if self.bias_correction else 1.0
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
@dataclass(frozen=True)
class Mistake:
    """One known mistake: a stable key, its target, a title, a hint, and a factory."""

    key: str
    target: str
    title: str
    hint: str
    make: Callable[[], object]

    def __repr__(self):
        return f"Mistake({self.key!r}, target={self.target!r})"


def _variant(base, name, **flags):
    """A fresh subclass of ``base`` with ``flags`` as class attributes (called per run)."""
    def make():
        namespace = dict(flags)
        # class-level mutable state must be fresh for every run
        for key, value in list(vars(base).items()):
            if isinstance(value, dict) and not key.startswith("__"):
                namespace.setdefault(key, {})
        return type(name, (base,), namespace)
    return make


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
    # -- Nesterov
    Mistake("nesterov-as-momentum", "Nesterov", "Nesterov done as plain momentum",
            "Nesterov's step is theta += -mu*v_prev + (1+mu)*v: it looks ahead along the new velocity.",
            _variant(Nesterov, "Nesterov", as_momentum=True)),
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
    # -- RMSprop
    Mistake("rmsprop-accumulates", "RMSprop", "`+=` where the average needs `=` (accumulator grows without bound)",
            "h = rho*h + (1-rho)*g**2 replaces h; h += rho*h + ... makes it grow every step.",
            _variant(RMSprop, "RMSprop", accumulates=True)),
    Mistake("rmsprop-old-average", "RMSprop", "RMSprop divides by the old average",
            "update h with this step's g**2 first, then divide by sqrt(h) + eps.",
            _variant(RMSprop, "RMSprop", old_average=True)),
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
    # -- bonus
    Mistake("adamax-no-bias-correction", "AdaMax", "no bias correction",
            "AdaMax still corrects m: the step size is lr / (1 - beta1**t).",
            _variant(AdaMax, "AdaMax", bias_correction=False)),
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

MISTAKES: dict[str, Mistake] = {m.key: m for m in _CATALOGUE}
assert len(MISTAKES) == len(_CATALOGUE), "duplicate mistake keys"

#: Correct forms that differ from the reference in round-off or (for momentum) when
#: lr changes mid-run; a student who matches one of them passes.
ALTERNATIVES: dict[str, list[tuple[str, Callable[[], object]]]] = {
    "Momentum": [("b = mu*b + g; theta -= lr*b", _variant(MomentumBuffer, "Momentum"))],
    "Nesterov": [("b = mu*b + g; theta -= lr*(g + mu*b)", _variant(NesterovBuffer, "Nesterov"))],
    "Adam": [("efficient step size lr*sqrt(1-beta2**t)/(1-beta1**t)",
              _variant(Adam, "Adam", efficient=True))],
}


def for_target(target: str) -> list[Mistake]:
    """The catalogued mistakes of one target, in catalogue order."""
    return [m for m in _CATALOGUE if m.target == target]


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
}
