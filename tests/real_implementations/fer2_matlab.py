"""A MATLAB Adam for facial-expression recognition, with both betas and eps as literals.

Source: kuangliu/FER2, adam_update.m. Ported from MATLAB: ``state`` per parameter name,
``lr`` from ``self.lr``; as in the source ``beta1 = 0.9; beta2 = 0.995`` and ``+ 1e-8`` are
literals (0.995 is no library's default, so no measured diagnosis can name it).
"""
import numpy as np


class Adam:
    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = lr
        self.states = {}

    def update(self, params, grads):
        beta1 = 0.9
        beta2 = 0.995
        for name, W in params.items():
            dW = grads[name]
            state = self.states.setdefault(name, {"m": np.zeros_like(W), "v": np.zeros_like(W), "t": 0})
            state["m"] = beta1 * state["m"] + (1 - beta1) * dW
            state["v"] = beta2 * state["v"] + (1 - beta2) * (dW * dW)
            state["t"] = state["t"] + 1
            mb = state["m"] / (1 - beta1 ** state["t"])
            vb = state["v"] / (1 - beta2 ** state["t"])
            W -= self.lr * mb / (np.sqrt(vb) + 1e-8)
