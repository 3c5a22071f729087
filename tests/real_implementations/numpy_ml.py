"""numpy-ml (David Bourgin): neural-network optimizers in plain NumPy.

Source: ddbourgin/numpy-ml, numpy_ml/neural_nets/optimizers/optimizers.py (SGD with
momentum, AdaGrad, RMSProp, Adam). Ported: ``update(param, param_grad, param_name)``
returning a new array becomes an in-place write; the learning-rate scheduler is
``self.lr``; ``decay`` is ``rho``, ``decay1``/``decay2`` are ``beta1``/``beta2``;
``clip_norm=None`` (no clipping), as the source's default.
"""
import numpy as np


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.cache = {}

    def update(self, params, grads):
        for name, param in params.items():
            if name not in self.cache:
                self.cache[name] = np.zeros_like(grads[name])
            update = self.momentum * self.cache[name] + self.lr * grads[name]
            self.cache[name] = update
            param[...] = param - update


class AdaGrad:
    def __init__(self, lr=0.01, eps=1e-8):
        self.lr, self.eps = lr, eps
        self.cache = {}

    def update(self, params, grads):
        for name, param in params.items():
            if name not in self.cache:
                self.cache[name] = np.zeros_like(grads[name])
            self.cache[name] += grads[name] ** 2
            update = self.lr * grads[name] / (np.sqrt(self.cache[name]) + self.eps)
            param[...] = param - update


class RMSprop:
    def __init__(self, lr=0.01, rho=0.99, eps=1e-8):
        self.lr, self.decay, self.eps = lr, rho, eps
        self.cache = {}

    def update(self, params, grads):
        for name, param in params.items():
            if name not in self.cache:
                self.cache[name] = np.zeros_like(grads[name])
            self.cache[name] = self.decay * self.cache[name] + (1 - self.decay) * grads[name] ** 2
            update = self.lr * grads[name] / (np.sqrt(self.cache[name]) + self.eps)
            param[...] = param - update


class Adam:
    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.d1, self.d2, self.eps = lr, beta1, beta2, eps
        self.cache = {}

    def update(self, params, grads):
        for name, param in params.items():
            g = grads[name]
            if name not in self.cache:
                self.cache[name] = {"t": 0, "mean": np.zeros_like(g), "var": np.zeros_like(g)}
            C = self.cache[name]
            t = C["t"] + 1
            C["t"] = t
            C["var"] = self.d2 * C["var"] + (1 - self.d2) * g ** 2
            C["mean"] = self.d1 * C["mean"] + (1 - self.d1) * g
            v_hat = C["var"] / (1 - self.d2 ** t)
            m_hat = C["mean"] / (1 - self.d1 ** t)
            param[...] = param - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
