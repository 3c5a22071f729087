"""dlcourse: the course's reference library, one module per concept.

==================  =========================================================
``optim``           the reference optimizers (SGD ... AdamW), torch.optim's twins
``ewma``            exponentially weighted averages and bias correction
``schedules``       learning-rate schedules as callables ``epoch -> lr``
``init``            Xavier/Glorot and He initialization
``layers``          activations, inverted dropout, softmax cross-entropy, L2
``graph``           forward/backward gates and a tiny computation graph
``window``          the window classifier s = Uᵀ f(Wx + b), forward and backward
``gradcheck``       centered-difference gradient checking
``problems``        2-D test functions and ``run(optimizer, problem, steps)``
``data``            small deterministic data sets, generated locally
``plots``           the figures the lectures and the feedback reuse
==================  =========================================================

Import the module you need (``from dlcourse import optim``); nothing is imported
eagerly, so ``import dlcourse`` stays cheap and does not pull in matplotlib.
"""

__version__ = "0.1.0"
