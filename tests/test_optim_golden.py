"""Each reference optimizer follows its torch.optim twin step for step.

The default tests replay stored torch trajectories (tests/golden/, made by
tests/make_golden.py) with dlcourse.optim, so they need no torch. The live tests
run the same scenarios straight against torch where it is installed.

Tolerance: float64 round-off only. Element-wise ``rtol=1e-10`` with a tiny
``atol=1e-12`` for coordinates that pass near zero (the two implementations
order their floating-point operations differently, e.g. torch's momentum buffer
b versus our velocity v = -lr*b, which costs a few ulps per step).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from dlcourse.optim import OPTIMIZERS

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
RTOL, ATOL = 1e-10, 1e-12


def _load_make_golden():
    spec = importlib.util.spec_from_file_location("make_golden", HERE / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_golden = _load_make_golden()
CASES = [(name, index) for name, sets in make_golden.SCENARIOS.items()
         for index in range(len(sets))]


def _ids(case):
    name, index = case
    return f"{name}-{'defaults' if index == 0 else 'custom'}"


def our_trajectories(name, hp, inputs, dtype=np.float64):
    """Run dlcourse's optimizer on all parameters at once: {key: (steps+1, *shape)}."""
    params = {key: p0.astype(dtype, copy=True) for key, (p0, _) in inputs.items()}
    opt = OPTIMIZERS[name](**hp)
    steps = len(next(iter(inputs.values()))[1])
    paths = {key: [p.copy()] for key, p in params.items()}
    for step in range(steps):
        opt.update(params, {key: grads[step].astype(dtype) for key, (_, grads) in inputs.items()})
        for key, p in params.items():
            paths[key].append(p.copy())
    return {key: np.stack(path) for key, path in paths.items()}


def _stored_inputs():
    with np.load(GOLDEN / "inputs.npz") as data:
        return {key: (data[f"p0/{key}"], data[f"grads/{key}"]) for key in make_golden.SHAPES}


def test_golden_files_cover_every_optimizer_and_stay_small():
    """There is a golden file for each optimizer in OPTIMIZERS, and all of them fit in 1 MB."""
    assert {p.stem for p in GOLDEN.glob("*.npz")} == set(OPTIMIZERS) | {"inputs"}
    assert sum(p.stat().st_size for p in GOLDEN.glob("*.npz")) < 1_000_000


def test_golden_inputs_include_steps_with_all_zero_gradients():
    """The scenarios feed exact zeros (first step included) and >= 60 steps."""
    for p0, grads in _stored_inputs().values():
        assert grads.shape[0] >= 60
        assert np.all(grads[0] == 0) and np.all(grads[20] == 0)
        assert np.any(grads[2] != 0)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_trajectory_matches_stored_torch_trajectory(case):
    """Over 64 steps on shapes (5,), (3,4), (1,), ours equals torch's to float64 round-off."""
    name, index = case
    with np.load(GOLDEN / f"{name}.npz") as data:
        hp = json.loads(str(data["hyperparameters"]))[index]
        golden = {key: data[f"trajectory/{index}/{key}"] for key in make_golden.SHAPES}
    assert hp == make_golden.SCENARIOS[name][index], "golden file out of date: rerun make_golden.py"
    ours = our_trajectories(name, hp, _stored_inputs())
    for key in golden:
        assert_allclose(ours[key], golden[key], rtol=RTOL, atol=ATOL,
                        err_msg=f"{name}{hp} parameter of shape {key}")


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_trajectory_matches_torch_live(case):
    """The same scenarios, fresh gradients, run against torch.optim now (float64)."""
    pytest.importorskip("torch")
    name, index = case
    hp = make_golden.SCENARIOS[name][index]
    inputs = make_golden.make_inputs(seed=12345, steps=80)
    theirs = make_golden.torch_trajectories(name, hp, inputs, foreach=False)
    ours = our_trajectories(name, hp, inputs)
    for key in theirs:
        assert_allclose(ours[key], theirs[key], rtol=RTOL, atol=ATOL,
                        err_msg=f"{name}{hp} parameter of shape {key}")


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_float32_trajectory_stays_close_to_torch_float32(case):
    """In float32 both sides round differently; they stay within float32 accuracy."""
    pytest.importorskip("torch")
    name, index = case
    hp = make_golden.SCENARIOS[name][index]
    inputs = make_golden.make_inputs(seed=777, steps=60)
    inputs = {key: (p0.astype(np.float32), grads.astype(np.float32))
              for key, (p0, grads) in inputs.items()}
    theirs = make_golden.torch_trajectories(name, hp, inputs, dtype="float32", foreach=False)
    ours = our_trajectories(name, hp, inputs, dtype=np.float32)
    for key in theirs:
        assert ours[key].dtype == np.float32
        assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-5,
                        err_msg=f"{name}{hp} parameter of shape {key}")
