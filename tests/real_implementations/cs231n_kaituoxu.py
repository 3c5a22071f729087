"""A CS231n (Stanford, winter 2016) assignment-2 solution.

Source: kaituoxu/stanford-cs231n-2016winter, assignment2/cs231n/optim.py (sgd_momentum,
rmsprop, adam). Ported: CS231n's ``update(w, dw, config)`` functions keep one ``config``
dict per parameter name; ``learning_rate`` is read from ``self.lr`` on every call,
``decay_rate`` is ``rho``, ``epsilon`` is ``eps``; the returned ``next_w`` is written back
into the caller's array (``w[...] = next_w``). As in the source, rmsprop divides by
``sqrt(cache) + 1e-7`` whatever epsilon is configured.
"""
import numpy as np


class _ConfigPerParameter:
    def __init__(self, lr, **hyper):
        self.lr = lr
        self.hyper = hyper
        self.configs = {}

    def update(self, params, grads):
        for name, w in params.items():
            config = self.configs.setdefault(name, dict(self.hyper))
            config["learning_rate"] = self.lr
            next_w, self.configs[name] = self.rule(w, grads[name], config)
            w[...] = next_w


class Momentum(_ConfigPerParameter):
    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr, momentum=momentum)

    @staticmethod
    def rule(w, dw, config):
        v = config.get("velocity", np.zeros_like(w))
        v = config["momentum"] * v - config["learning_rate"] * dw
        next_w = w + v
        config["velocity"] = v
        return next_w, config


class RMSprop(_ConfigPerParameter):
    def __init__(self, lr=0.01, rho=0.99, eps=1e-8):
        super().__init__(lr, decay_rate=rho, epsilon=eps)

    @staticmethod
    def rule(w, dw, config):
        config.setdefault("cache", np.zeros_like(w))
        cache = config["cache"]
        decay_rate = config["decay_rate"]
        config["cache"] = decay_rate * cache + (1 - decay_rate) * (dw ** 2)
        next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + 1e-7)
        return next_w, config


class Adam(_ConfigPerParameter):
    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr, beta1=beta1, beta2=beta2, epsilon=eps)

    @staticmethod
    def rule(x, dx, config):
        config.setdefault("m", np.zeros_like(x))
        config.setdefault("v", np.zeros_like(x))
        config.setdefault("t", 0)
        beta1, beta2 = config["beta1"], config["beta2"]
        m, v = config["m"], config["v"]
        t = config["t"] + 1
        m = beta1 * m + (1 - beta1) * dx
        v = beta2 * v + (1 - beta2) * (dx ** 2)
        mb = m / (1 - beta1 ** t)
        vb = v / (1 - beta2 ** t)
        next_x = x - config["learning_rate"] * mb / (np.sqrt(vb) + config["epsilon"])
        config["m"], config["v"] = m, v
        config["t"] = t
        return next_x, config
