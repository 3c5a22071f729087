"""Keras 3's optimizers, their update_step written with NumPy.

Source: keras-team/keras, keras/src/optimizers/sgd.py (momentum and nesterov),
adagrad.py, rmsprop.py, adam.py, adamax.py. Ported: ``learning_rate`` is ``self.lr``,
``epsilon`` is ``eps``, ``beta_1``/``beta_2`` are ``beta1``/``beta2``; Keras's
``self.iterations + 1`` is a per-optimizer step counter; AdaGrad keeps Keras's
``initial_accumulator_value=0.1`` (the assignment has no such hyperparameter).
"""
import numpy as np


class _Keras:
    def __init__(self, lr, **hyper):
        self.lr = lr
        for key, value in hyper.items():
            setattr(self, key, value)
        self.slots = {}
        self.iterations = 0

    def update(self, params, grads):
        for name, variable in params.items():
            self.update_step(grads[name], variable, self.lr, self.slots.setdefault(name, {}))
        self.iterations += 1


class Momentum(_Keras):
    nesterov = False

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr, momentum=momentum)

    def update_step(self, gradient, variable, learning_rate, slot):
        m = slot.setdefault("momentum", np.zeros_like(variable))
        m[...] = m * self.momentum - gradient * learning_rate
        if self.nesterov:
            variable += m * self.momentum - gradient * learning_rate
        else:
            variable += m


class Nesterov(Momentum):
    nesterov = True


class AdaGrad(_Keras):
    initial_accumulator_value = 0.1

    def __init__(self, lr=0.01, eps=1e-8):
        super().__init__(lr, epsilon=eps)

    def update_step(self, gradient, variable, lr, slot):
        accumulator = slot.setdefault("accumulator",
                                      np.full_like(variable, self.initial_accumulator_value))
        accumulator += np.square(gradient)
        variable -= lr * gradient / np.sqrt(accumulator + self.epsilon)


class RMSprop(_Keras):
    def __init__(self, lr=0.01, rho=0.99, eps=1e-8):
        super().__init__(lr, rho=rho, epsilon=eps)

    def update_step(self, gradient, variable, lr, slot):
        velocity = slot.setdefault("velocity", np.zeros_like(variable))
        velocity[...] = self.rho * velocity + (1 - self.rho) * np.square(gradient)
        denominator = velocity + self.epsilon
        variable -= lr * gradient / np.sqrt(denominator)


class Adam(_Keras):
    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr, beta_1=beta1, beta_2=beta2, epsilon=eps)

    def update_step(self, gradient, variable, lr, slot):
        local_step = self.iterations + 1
        beta_1_power, beta_2_power = self.beta_1 ** local_step, self.beta_2 ** local_step
        m = slot.setdefault("m", np.zeros_like(variable))
        v = slot.setdefault("v", np.zeros_like(variable))
        alpha = lr * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m += (gradient - m) * (1 - self.beta_1)
        v += (np.square(gradient) - v) * (1 - self.beta_2)
        variable -= (m * alpha) / (np.sqrt(v) + self.epsilon)


class AdaMax(_Keras):
    def __init__(self, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr, beta_1=beta1, beta_2=beta2, epsilon=eps)

    def update_step(self, gradient, variable, lr, slot):
        local_step = self.iterations + 1
        beta_1_power = self.beta_1 ** local_step
        m = slot.setdefault("m", np.zeros_like(variable))
        u = slot.setdefault("u", np.zeros_like(variable))
        m += (gradient - m) * (1 - self.beta_1)
        u[...] = np.maximum(self.beta_2 * u, np.abs(gradient))
        variable -= (lr * m) / ((1 - beta_1_power) * (u + self.epsilon))
