"""deeplearning.ai (Coursera, Improving Deep Neural Networks, week 2 "Optimization methods").

Source: DeepakSridhar/Deep-Learning-Coursera, Course-2/Optimization/update_momentum.py
(update_parameters_with_momentum) and Course-2/Optimization/update_adam.py
(update_parameters_with_adam). Ported: the course's "W1, b1, ..." loop becomes a loop over
the dict; ``beta`` is ``momentum``, ``learning_rate`` is ``self.lr``, ``epsilon`` is ``eps``;
Adam's ``t`` (the course's training loop counts it before each call) is counted per
``update`` call; parameters are written back in place.
"""
import numpy as np


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.beta = momentum
        self.v = {}

    def update(self, params, grads):
        for name, p in params.items():
            v = self.v.get(name, np.zeros(p.shape))
            v = self.beta * v + (1 - self.beta) * grads[name]
            self.v[name] = v
            p[...] = p - self.lr * v


class Adam:
    def __init__(self, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.epsilon = lr, beta1, beta2, eps
        self.v, self.s, self.t = {}, {}, 0

    def update(self, params, grads):
        self.t += 1
        beta1, beta2, t = self.beta1, self.beta2, self.t
        for name, p in params.items():
            g = grads[name]
            v = beta1 * self.v.get(name, np.zeros(p.shape)) + (1 - beta1) * g
            v_corrected = v / (1 - np.power(beta1, t))
            s = beta2 * self.s.get(name, np.zeros(p.shape)) + (1 - beta2) * np.square(g)
            s_corrected = s / (1 - np.power(beta2, t))
            self.v[name], self.s[name] = v, s
            p[...] = p - self.lr * v_corrected / (np.sqrt(s_corrected) + self.epsilon)
