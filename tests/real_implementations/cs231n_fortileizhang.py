"""A CS231n solution's Adam in the "efficient" form (Kingma & Ba, section 2).

Source: FortiLeiZhang/cs231n, code/cs231n/assignment3/cs231n/optim.py (adam). Ported:
the ``config`` dict is kept per parameter name, ``learning_rate`` read from ``self.lr``,
``epsilon`` is ``eps``; the source already updates ``x`` in place (``x -= ...``).
"""
import numpy as np


class Adam:
    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = lr
        self.hyper = dict(beta1=beta1, beta2=beta2, epsilon=eps)
        self.configs = {}

    def update(self, params, grads):
        for name, x in params.items():
            config = self.configs.setdefault(name, dict(self.hyper))
            config.setdefault("m", np.zeros_like(x))
            config.setdefault("v", np.zeros_like(x))
            config.setdefault("t", 0)
            dx = grads[name]
            beta1, beta2, eps = config["beta1"], config["beta2"], config["epsilon"]
            t, m, v = config["t"], config["m"], config["v"]
            m = beta1 * m + (1 - beta1) * dx
            v = beta2 * v + (1 - beta2) * (dx * dx)
            t += 1
            alpha = self.lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
            x -= alpha * (m / (np.sqrt(v) + eps))
            config["t"], config["m"], config["v"] = t, m, v
