"""An exam-preparation book's Adam (JDLA E-qualification, chapter 19, question 13).

Source: skillup-ai/tettei-engineer, chapter19/Q13.py. Ported: ``rho1``/``rho2`` are
``beta1``/``beta2``; the class accepts the assignment's ``eps`` keyword but, as the
source, sets ``self.epsilon = 1e-8`` in ``__init__`` and uses that.
"""
import numpy as np


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = lr
        self.rho1 = beta1
        self.rho2 = beta2
        self.iter = 0
        self.m = None
        self.v = None
        self.epsilon = 1e-8

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = {}, {}
            for key, val in params.items():
                self.m[key] = np.zeros_like(val)
                self.v[key] = np.zeros_like(val)
        self.iter += 1
        for key in params.keys():
            self.m[key] = self.rho1 * self.m[key] + (1 - self.rho1) * grads[key]
            self.v[key] = self.rho2 * self.v[key] + (1 - self.rho2) * (grads[key] ** 2)
            m = self.m[key] / (1 - self.rho1 ** self.iter)
            v = self.v[key] / (1 - self.rho2 ** self.iter)
            params[key] -= self.lr * m / (np.sqrt(v) + self.epsilon)
