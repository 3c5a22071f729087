"""Dive into Deep Learning (Zhang, Lipton, Li, Smola), chapter "Optimization Algorithms".

Source: d2l-ai/d2l-en, chapter_optimization/momentum.md (sgd_momentum), adagrad.md
(adagrad), rmsprop.md (rmsprop), adadelta.md (adadelta), adam.md (adam); the pytorch
tab. Ported: d2l's ``fn(params, states, hyperparams)`` becomes ``update(params, grads)``
with the states kept per parameter name; ``hyperparams['gamma']`` is ``rho``; the
literals stay literals, as in the source: AdaGrad and RMSprop ``eps = 1e-6`` inside the
square root, Adadelta ``eps = 1e-5`` and no learning rate, Adam ``beta1, beta2, eps =
0.9, 0.999, 1e-6``. d2l keeps Adam's ``t`` in ``hyperparams`` starting at 1.
"""
import numpy as np


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.states = {}

    def update(self, params, grads):
        for name, p in params.items():
            v = self.states.setdefault(name, np.zeros_like(p))
            v[:] = self.momentum * v + grads[name]
            p[:] -= self.lr * v


class AdaGrad:
    def __init__(self, lr=0.01, eps=1e-8):
        self.lr = lr
        self.states = {}

    def update(self, params, grads):
        eps = 1e-6
        for name, p in params.items():
            s = self.states.setdefault(name, np.zeros_like(p))
            s[:] += np.square(grads[name])
            p[:] -= self.lr * grads[name] / np.sqrt(s + eps)


class RMSprop:
    def __init__(self, lr=0.01, rho=0.99, eps=1e-8):
        self.hyperparams = {"lr": lr, "gamma": rho}
        self.states = {}

    @property
    def lr(self):
        return self.hyperparams["lr"]

    @lr.setter
    def lr(self, value):
        self.hyperparams["lr"] = value

    def update(self, params, grads):
        gamma, eps = self.hyperparams["gamma"], 1e-6
        for name, p in params.items():
            s = self.states.setdefault(name, np.zeros_like(p))
            s[:] = gamma * s + (1 - gamma) * np.square(grads[name])
            p[:] -= self.hyperparams["lr"] * grads[name] / np.sqrt(s + eps)


class Adadelta:
    def __init__(self, lr=1.0, rho=0.9, eps=1e-6):
        self.lr = lr            # d2l's adadelta has no learning rate
        self.hyperparams = {"rho": rho}
        self.states = {}

    def update(self, params, grads):
        rho, eps = self.hyperparams["rho"], 1e-5
        for name, p in params.items():
            s, delta = self.states.setdefault(name, (np.zeros_like(p), np.zeros_like(p)))
            s[:] = rho * s + (1 - rho) * np.square(grads[name])
            g = (np.sqrt(delta + eps) / np.sqrt(s + eps)) * grads[name]
            p[:] -= g
            delta[:] = rho * delta + (1 - rho) * g * g


class Adam:
    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = lr
        self.hyperparams = {"t": 1}
        self.states = {}

    def update(self, params, grads):
        beta1, beta2, eps = 0.9, 0.999, 1e-6
        for name, p in params.items():
            v, s = self.states.setdefault(name, (np.zeros_like(p), np.zeros_like(p)))
            v[:] = beta1 * v + (1 - beta1) * grads[name]
            s[:] = beta2 * s + (1 - beta2) * np.square(grads[name])
            v_bias_corr = v / (1 - beta1 ** self.hyperparams["t"])
            s_bias_corr = s / (1 - beta2 ** self.hyperparams["t"])
            p[:] -= self.lr * v_bias_corr / (np.sqrt(s_bias_corr) + eps)
        self.hyperparams["t"] += 1
