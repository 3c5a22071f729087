"""Regenerate the golden optimizer trajectories in tests/golden/ from torch.optim.

    .venv/bin/python tests/make_golden.py          # needs torch (pip install torch==2.13.0)

For every optimizer of dlcourse.optim this runs its torch.optim twin, in float64,
on three parameters at once (shapes (5,), (3, 4) and (1,)) for STEPS steps, with
gradients drawn from a seeded generator (all exactly zero on ZERO_STEPS), once with
our default hyperparameters and once with a non-default set. It saves

- ``golden/inputs.npz``: ``p0/<shape>`` initial parameters and ``grads/<shape>``
  the gradient sequence (STEPS, *shape), shared by all optimizers;
- ``golden/<Name>.npz``: ``hyperparameters`` (a JSON list, one dict per set, in our
  argument names) and ``trajectory/<set>/<shape>``, the parameters after steps
  0..STEPS, shape (STEPS + 1, *shape).

The test suite (tests/test_optim_golden.py) replays these with dlcourse.optim
without torch, and, where torch is installed, also runs the same scenarios against
torch live. This file is imported by that test for SCENARIOS and torch_optimizer.
The hyperparameters are written out here, independently of dlcourse's defaults,
so that a changed default shows up as a failing test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent / "golden"
SEED = 20261130
STEPS = 64
SHAPES = {"5": (5,), "3x4": (3, 4), "1": (1,)}
# Gradient scale per parameter: ordinary, large and tiny gradients.
SCALES = {"5": 1.0, "3x4": 10.0, "1": 1e-3}
ZERO_STEPS = (0, 1, 20, 21, 22, 45)    # every gradient exactly 0 on these steps (0-based)

# Our class name -> [our defaults, a non-default set], in our argument names.
SCENARIOS = {
    "SGD": [dict(lr=0.01), dict(lr=0.1)],
    "Momentum": [dict(lr=0.01, momentum=0.9), dict(lr=0.05, momentum=0.5)],
    "Nesterov": [dict(lr=0.01, momentum=0.9), dict(lr=0.05, momentum=0.7)],
    "AdaGrad": [dict(lr=0.01, eps=1e-8), dict(lr=0.1, eps=1e-6)],
    "RMSprop": [dict(lr=0.01, rho=0.99, eps=1e-8), dict(lr=0.001, rho=0.9, eps=1e-6)],
    "Adadelta": [dict(lr=1.0, rho=0.9, eps=1e-6), dict(lr=0.5, rho=0.95, eps=1e-5)],
    "Adam": [dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
             dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6)],
    "AdaMax": [dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8),
               dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6)],
    "Nadam": [dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3),
              dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, momentum_decay=0.01)],
    "AdamW": [dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2),
              dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)],
}


def torch_optimizer(name, hp, tensors, **options):
    """The torch.optim twin of our optimizer ``name`` with hyperparameters ``hp``.

    ``options`` go to torch unchanged (``foreach=...``, ``fused=...``).
    """
    import torch

    T = torch.optim
    lr = hp["lr"]
    if name == "SGD":
        return T.SGD(tensors, lr=lr, **options)
    if name == "Momentum":
        return T.SGD(tensors, lr=lr, momentum=hp["momentum"], **options)
    if name == "Nesterov":
        return T.SGD(tensors, lr=lr, momentum=hp["momentum"], nesterov=True, **options)
    if name == "AdaGrad":   # torch's default eps is 1e-10: always pass ours
        return T.Adagrad(tensors, lr=lr, eps=hp["eps"], **options)
    if name == "RMSprop":
        return T.RMSprop(tensors, lr=lr, alpha=hp["rho"], eps=hp["eps"], **options)
    if name == "Adadelta":
        return T.Adadelta(tensors, lr=lr, rho=hp["rho"], eps=hp["eps"], **options)
    betas = (hp["beta1"], hp["beta2"])
    if name == "Adam":
        return T.Adam(tensors, lr=lr, betas=betas, eps=hp["eps"], **options)
    if name == "AdaMax":
        return T.Adamax(tensors, lr=lr, betas=betas, eps=hp["eps"], **options)
    if name == "Nadam":
        return T.NAdam(tensors, lr=lr, betas=betas, eps=hp["eps"],
                       momentum_decay=hp["momentum_decay"], **options)
    if name == "AdamW":
        return T.AdamW(tensors, lr=lr, betas=betas, eps=hp["eps"],
                       weight_decay=hp["weight_decay"], **options)
    raise KeyError(name)


def make_inputs(seed=SEED, steps=STEPS):
    """Initial parameters and gradient sequences: {shape key: (p0, grads)}."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for key, shape in SHAPES.items():
        p0 = rng.normal(size=shape)
        grads = SCALES[key] * rng.normal(size=(steps, *shape))
        grads[list(ZERO_STEPS)] = 0.0
        inputs[key] = (p0, grads)
    return inputs


def torch_trajectories(name, hp, inputs, dtype="float64", **options):
    """Run torch's twin on all parameters at once: {shape key: (steps+1, *shape) array}."""
    import torch

    tdtype = getattr(torch, dtype)
    tensors = {key: torch.tensor(p0, dtype=tdtype, requires_grad=True)
               for key, (p0, _) in inputs.items()}
    # torch keeps scalar state (step, NAdam's mu_product) in the *default* dtype,
    # float32 unless changed: make it match the parameters, or NAdam's float64
    # run carries a float32 mu_product (relative error ~1e-8).
    saved = torch.get_default_dtype()
    torch.set_default_dtype(tdtype)
    try:
        opt = torch_optimizer(name, hp, list(tensors.values()), **options)
        return _run(opt, tensors, inputs, tdtype)
    finally:
        torch.set_default_dtype(saved)


def _run(opt, tensors, inputs, tdtype):
    import torch

    steps = len(next(iter(inputs.values()))[1])
    paths = {key: [t.detach().numpy().copy()] for key, t in tensors.items()}
    for step in range(steps):
        for key, t in tensors.items():
            t.grad = torch.tensor(inputs[key][1][step], dtype=tdtype)
        opt.step()
        for key, t in tensors.items():
            paths[key].append(t.detach().numpy().copy())
    return {key: np.stack(path) for key, path in paths.items()}


def main():
    import torch

    GOLDEN.mkdir(exist_ok=True)
    inputs = make_inputs()
    np.savez_compressed(
        GOLDEN / "inputs.npz",
        **{f"p0/{key}": p0 for key, (p0, _) in inputs.items()},
        **{f"grads/{key}": grads for key, (_, grads) in inputs.items()},
        torch_version=np.array(torch.__version__),
        seed=np.array(SEED),
    )
    for name, sets in SCENARIOS.items():
        arrays = {"hyperparameters": np.array(json.dumps(sets))}
        for index, hp in enumerate(sets):
            paths = torch_trajectories(name, hp, inputs, foreach=False)
            arrays.update({f"trajectory/{index}/{key}": path for key, path in paths.items()})
        np.savez_compressed(GOLDEN / f"{name}.npz", **arrays)
    total = sum(f.stat().st_size for f in GOLDEN.glob("*.npz"))
    print(f"wrote {len(SCENARIOS) + 1} files to {GOLDEN} ({total / 1024:.0f} KiB), torch {torch.__version__}")


if __name__ == "__main__":
    main()
