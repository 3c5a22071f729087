"""Optimizer bodies from public courses and libraries, ported to this course's interface.

Each module names its source (repository and path) in its header. The port keeps the
source's arithmetic and its literals (a hard-coded eps stays hard-coded) and changes only
the interface: a class ``Name(lr=..., <the assignment's hyperparameter names>)`` with
``update(self, params, grads)`` over ``dict[str, ndarray]``, updating the arrays in place
(``p[...] = new`` where the source returned a new array), state per parameter name.
``tests/test_real_implementations.py`` grades each with its expected verdict and diagnosis.
"""
