"""Specification of dlcourse.optim: values, identities, the update contract, and errors.

Trajectories against torch live in test_optim_golden.py. Here:

- the first two steps of every optimizer, computed by hand from its formula;
- identities between optimizers and properties that hold for all inputs;
- the contract of ``update``: in place, dtype kept, grads untouched, lazy state per
  name, ``lr`` re-read every call, independent instances, no parameter-sized
  allocation per step;
- every bad input fails with a message naming the cause and changes nothing.
"""

import copy
import inspect
import math
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

from dlcourse import optim
from dlcourse.optim import (
    OPTIMIZERS, SGD, AdaGrad, Adadelta, Adam, AdaMax, AdamW, Momentum, Nadam, Nesterov,
    Optimizer, RMSprop,
)

ALL = list(OPTIMIZERS)
FAST = settings(max_examples=40, deadline=None)


def run(opt, theta0, grads, dtype=np.float64):
    """Run ``opt`` on one parameter 'w' from theta0 over ``grads``; return the path."""
    w = np.array(theta0, dtype=dtype)
    path = [w.copy()]
    for g in grads:
        opt.update({"w": w}, {"w": np.array(g, dtype=dtype)})
        path.append(w.copy())
    return np.array(path)


# --------------------------------------------------------------------------- registry
DESIGN_DEFAULTS = {
    "SGD": dict(lr=0.01),
    "Momentum": dict(lr=0.01, momentum=0.9),
    "Nesterov": dict(lr=0.01, momentum=0.9),
    "AdaGrad": dict(lr=0.01, eps=1e-8),
    "RMSprop": dict(lr=0.01, rho=0.99, eps=1e-8),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6),
    "Adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
    "AdaMax": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8),
    "Nadam": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3),
    "AdamW": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2),
}

STATE_KEYS = {
    "SGD": set(),
    "Momentum": {"velocity"},
    "Nesterov": {"velocity"},
    "AdaGrad": {"sum_squares"},
    "RMSprop": {"square_avg"},
    "Adadelta": {"square_avg", "delta_avg"},
    "Adam": {"step", "first_moment", "second_moment"},
    "AdaMax": {"step", "first_moment", "inf_norm"},
    "Nadam": {"step", "first_moment", "second_moment", "mu_product"},
    "AdamW": {"step", "first_moment", "second_moment"},
}


def test_registry_maps_each_design_name_to_its_class():
    assert OPTIMIZERS == {name: getattr(optim, name) for name in DESIGN_DEFAULTS}
    assert all(issubclass(cls, Optimizer) for cls in OPTIMIZERS.values())


@pytest.mark.parametrize("name", ALL)
def test_signature_names_and_defaults_are_those_of_the_design_table(name):
    params = inspect.signature(OPTIMIZERS[name]).parameters
    assert {key: p.default for key, p in params.items()} == DESIGN_DEFAULTS[name]
    opt = OPTIMIZERS[name]()
    for key, value in DESIGN_DEFAULTS[name].items():
        assert getattr(opt, key) == value


@pytest.mark.parametrize("name", ALL)
def test_docstring_states_the_rule_the_paper_and_the_torch_twin(name):
    doc = OPTIMIZERS[name].__doc__
    assert "torch.optim." in doc and "math::" in doc
    assert any(str(year) in doc for year in range(1951, 2020))


# --------------------------------------------------------------------------- hand-computed values
# theta0 = 1, gradients g1 = 2 then g2 = 1; small round hyperparameters.
HAND = {
    # theta1 = 1 - 0.1*2 = 0.8 ; theta2 = 0.8 - 0.1*1 = 0.7
    "SGD": (SGD(lr=0.1), 0.8, 0.7, 1e-15),
    # v1 = -0.2, theta1 = 0.8 ; v2 = 0.5*(-0.2) - 0.1*1 = -0.2, theta2 = 0.6
    "Momentum": (Momentum(lr=0.1, momentum=0.5), 0.8, 0.6, 1e-15),
    # v1 = -0.2, theta1 = 1 - 0.5*0 + 1.5*(-0.2) = 0.7
    # v2 = 0.5*(-0.2) - 0.1 = -0.2, theta2 = 0.7 - 0.5*(-0.2) + 1.5*(-0.2) = 0.5
    # (torch form: b1 = 2, 1 - 0.1*(2 + 0.5*2) = 0.7 ; b2 = 2, 0.7 - 0.1*(1 + 0.5*2) = 0.5)
    "Nesterov": (Nesterov(lr=0.1, momentum=0.5), 0.7, 0.5, 1e-15),
    # h1 = 4, theta1 = 1 - 0.1*2/2 = 0.9 ; h2 = 5, theta2 = 0.9 - 0.1/sqrt(5) = 0.85527864045
    "AdaGrad": (AdaGrad(lr=0.1, eps=1e-8), 0.9, 0.8552786404500042, 1e-8),
    # h1 = 0.5*4 = 2, theta1 = 1 - 0.2/sqrt(2) = 0.85857864376
    # h2 = 0.5*2 + 0.5*1 = 1.5, theta2 = theta1 - 0.1/sqrt(1.5) = 0.77692898567
    "RMSprop": (RMSprop(lr=0.1, rho=0.5, eps=1e-8), 0.8585786437626906, 0.776928985669918, 1e-8),
    # h1 = 2, D1 = -sqrt(1e-6)/sqrt(2 + 1e-6)*2 = -0.00141421321, theta1 = 0.99858578679
    # d1 = 0.5*D1^2 = 9.9999950e-7 ; h2 = 1.5, D2 = -sqrt(d1 + 1e-6)/sqrt(1.5 + 1e-6) = -0.00115470001
    # theta2 = theta1 + D2 = 0.99743108678
    "Adadelta": (Adadelta(lr=1.0, rho=0.5, eps=1e-6), 0.9985857867911802, 0.9974310867820383, 1e-12),
    # m1 = 1, v1 = 2, m^ = 2, v^ = 4, theta1 = 1 - 0.1*2/2 = 0.9
    # m2 = 1, v2 = 1.5, m^ = 1/0.75 = 4/3, v^ = 1.5/0.75 = 2, theta2 = 0.9 - 0.1*(4/3)/sqrt(2)
    "Adam": (Adam(lr=0.1, beta1=0.5, beta2=0.5, eps=1e-8), 0.9, 0.8057190958417937, 1e-8),
    # m1 = 1, u1 = max(0, 2 + eps) = 2, theta1 = 1 - 0.1/0.5 * 1/2 = 0.9
    # m2 = 1, u2 = max(1, 1 + eps) = 1, theta2 = 0.9 - 0.1/0.75 * 1 = 0.76666666667
    "AdaMax": (AdaMax(lr=0.1, beta1=0.5, beta2=0.5, eps=1e-8), 0.9, 0.9 - 0.4 / 3, 1e-8),
    # momentum_decay = 0: mu_t = 0.5*(1 - 0.5) = 0.25 for all t.
    # t=1: P = 0.25, m = 1, v^ = 2/0.5 = 4, denom 2:
    #   theta1 = 1 - 0.1*0.75/0.75 * 2/2 - 0.1*0.25/(1 - 0.0625) * 1/2 = 0.9 - 1/75 = 0.88666666667
    # t=2: P = 0.0625, m = 1, v^ = 1.5/0.75 = 2, denom sqrt(2):
    #   theta2 = theta1 - 0.1*0.75/0.9375/sqrt(2) - 0.1*0.25/0.984375/sqrt(2) = 0.81213985671
    "Nadam": (Nadam(lr=0.1, beta1=0.5, beta2=0.5, eps=1e-8, momentum_decay=0.0),
              0.9 - 1 / 75, 0.8121398567130369, 1e-8),
    # decay first: 1*(1 - 0.1*0.5) = 0.95, then Adam's step -0.1: theta1 = 0.85
    # 0.85*0.95 = 0.8075, then Adam's second step -0.1*(4/3)/sqrt(2): theta2 = 0.71321909584
    "AdamW": (AdamW(lr=0.1, beta1=0.5, beta2=0.5, eps=1e-8, weight_decay=0.5),
              0.85, 0.7132190958417937, 1e-8),
}


@pytest.mark.parametrize("name", ALL)
def test_first_two_steps_equal_the_hand_computed_values(name):
    """theta0 = 1, g = 2 then 1: the numbers worked out from each formula by hand."""
    opt, theta1, theta2, rtol = HAND[name]
    path = run(copy.deepcopy(opt), 1.0, [2.0, 1.0])
    assert_allclose(path[1:], [theta1, theta2], rtol=rtol, atol=0)


def test_nadam_default_momentum_schedule_is_dozats_as_in_torch():
    """mu_t = beta1*(1 - 0.5*0.96**(t*psi)) with psi = 0.004; mu_product the running product."""
    opt = Nadam()
    run(opt, [1.0], [[0.5], [0.5]])
    mu1 = 0.9 * (1 - 0.5 * 0.96 ** 0.004)
    mu2 = 0.9 * (1 - 0.5 * 0.96 ** 0.008)
    assert opt.state["w"]["step"] == 2
    assert opt.state["w"]["mu_product"] == pytest.approx(mu1 * mu2, rel=1e-15)


# --------------------------------------------------------------------------- identities
GRADS = np.random.default_rng(0).normal(size=(30, 4))


@pytest.mark.parametrize("cls", [Momentum, Nesterov])
def test_momentum_zero_is_plain_sgd(cls):
    assert_allclose(run(cls(lr=0.05, momentum=0.0), np.ones(4), GRADS),
                    run(SGD(lr=0.05), np.ones(4), GRADS), rtol=1e-15, atol=0)


def test_adamw_without_weight_decay_is_adam():
    assert_array_equal(run(AdamW(lr=0.01, weight_decay=0.0), np.ones(4), GRADS),
                       run(Adam(lr=0.01), np.ones(4), GRADS))


def test_nadam_without_momentum_is_rmsprop_with_bias_correction_on_the_first_step():
    """beta1 = 0 gives mu = 0: theta1 = theta0 - lr*g/(sqrt(v^) + eps) = Adam(beta1=0)."""
    for steps in (1, 5):
        assert_allclose(run(Nadam(lr=0.01, beta1=0.0), np.ones(4), GRADS[:steps]),
                        run(Adam(lr=0.01, beta1=0.0), np.ones(4), GRADS[:steps]),
                        rtol=1e-14, atol=0)


def test_rmsprop_with_rho_zero_steps_by_the_sign_of_the_gradient():
    """rho = 0: h = g^2, so the step is lr*g/(|g| + eps): lr*sign(g) for |g| >> eps."""
    path = run(RMSprop(lr=0.1, rho=0.0, eps=1e-12), np.zeros(4), GRADS[:3])
    assert_allclose(np.diff(path, axis=0), -0.1 * np.sign(GRADS[:3]), rtol=1e-10)


def test_adagrad_with_a_constant_gradient_steps_like_lr_over_sqrt_t():
    """h_t = t*g^2, so step t moves by lr*sign(g)/sqrt(t)."""
    path = run(AdaGrad(lr=0.1, eps=1e-12), [0.0], [[3.0]] * 5)
    assert_allclose(-np.diff(path[:, 0]), 0.1 / np.sqrt(np.arange(1, 6)), rtol=1e-10)


@pytest.mark.parametrize("name", ["AdaGrad", "RMSprop", "Adam", "AdaMax", "Nadam", "Adadelta"])
def test_a_zero_first_gradient_leaves_the_parameters_unchanged(name):
    """0/(0 + eps) = 0: the adaptive methods do not divide by zero on a zero gradient."""
    w = np.array([1.0, -2.0, 3.0])
    OPTIMIZERS[name]().update({"w": w}, {"w": np.zeros(3)})
    assert_array_equal(w, [1.0, -2.0, 3.0])


finite_grads = hnp.arrays(np.float64, st.integers(1, 6),
                          elements=st.floats(-1e6, 1e6, allow_subnormal=False))


@FAST
@given(g=finite_grads, lr=st.floats(1e-5, 1.0))
def test_adam_first_step_moves_each_coordinate_by_at_most_lr(g, lr):
    """|Delta theta| = lr*|g|/(|g| + eps) <= lr (Kingma & Ba 2015, section 2.1)."""
    w = np.zeros_like(g)
    Adam(lr=lr).update({"w": w}, {"w": g})
    assert np.all(np.abs(w) <= lr * (1 + 1e-12))


@FAST
@given(scale=st.floats(1e-3, 1e3), seed=st.integers(0, 2**16))
def test_adam_is_invariant_to_rescaling_the_gradients(scale, seed):
    """m^/sqrt(v^) does not change when every gradient is multiplied by c > 0 (eps ~ 0)."""
    grads = np.random.default_rng(seed).normal(size=(10, 3))
    assert_allclose(run(Adam(lr=0.01, eps=1e-300), np.ones(3), grads * scale),
                    run(Adam(lr=0.01, eps=1e-300), np.ones(3), grads), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- the contract
def _params(dtype=np.float64):
    rng = np.random.default_rng(1)
    return {"W": rng.normal(size=(3, 4)).astype(dtype), "b": rng.normal(size=4).astype(dtype)}


def _grads(dtype=np.float64, seed=2):
    rng = np.random.default_rng(seed)
    return {"W": rng.normal(size=(3, 4)).astype(dtype), "b": rng.normal(size=4).astype(dtype)}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_changes_the_same_arrays_in_place_and_keeps_their_dtype(name, dtype):
    params = _params(dtype)
    ids = {key: id(p) for key, p in params.items()}
    before = copy.deepcopy(params)
    opt = OPTIMIZERS[name]()
    for step in range(3):
        opt.update(params, _grads(dtype, seed=step))
    for key, p in params.items():
        assert id(p) == ids[key] and p.dtype == dtype
        assert not np.array_equal(p, before[key])
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, np.ndarray):
                assert value.dtype == dtype


@pytest.mark.parametrize("name", ALL)
def test_update_never_modifies_the_gradients(name):
    grads = _grads()
    for g in grads.values():
        g.flags.writeable = False    # any write would raise
    expected = copy.deepcopy(grads)
    OPTIMIZERS[name]().update(_params(), grads)
    for key in grads:
        assert_array_equal(grads[key], expected[key])


@pytest.mark.parametrize("name", ALL)
def test_state_is_created_lazily_one_entry_per_parameter_name(name):
    opt = OPTIMIZERS[name]()
    assert opt.state == {}
    params = _params()
    opt.update({"W": params["W"]}, {"W": _grads()["W"]})
    assert set(opt.state) == {"W"}
    opt.update(params, _grads())
    assert set(opt.state) == {"W", "b"}
    assert set(opt.state["b"]) == STATE_KEYS[name]
    for value in opt.state["b"].values():
        if isinstance(value, np.ndarray):
            assert value.shape == params["b"].shape


@pytest.mark.parametrize("name", ["Adam", "AdaMax", "Nadam", "AdamW"])
def test_the_step_counter_lives_in_each_parameters_state(name):
    opt = OPTIMIZERS[name]()
    params, grads = _params(), _grads()
    opt.update({"W": params["W"]}, {"W": grads["W"]})
    opt.update(params, grads)
    assert opt.state["W"]["step"] == 2 and opt.state["b"]["step"] == 1


def test_changing_lr_between_steps_takes_effect_on_the_next_step():
    w = np.array([1.0])
    opt = SGD(lr=0.1)
    opt.update({"w": w}, {"w": np.array([1.0])})
    opt.lr = 0.5
    opt.update({"w": w}, {"w": np.array([1.0])})
    assert_allclose(w, [1.0 - 0.1 - 0.5], rtol=1e-15)


@pytest.mark.parametrize("name", [n for n in ALL if n not in ("Momentum", "Nesterov")])
def test_lr_set_to_zero_mid_run_freezes_the_parameters(name):
    """A schedule may reach lr = 0 (warm-up from 0, cosine to 0); update accepts it."""
    params, opt = _params(), OPTIMIZERS[name]()
    opt.update(params, _grads(seed=0))
    frozen = copy.deepcopy(params)
    opt.lr = 0.0
    opt.update(params, _grads(seed=1))
    for key in params:
        assert_array_equal(params[key], frozen[key])


@pytest.mark.parametrize("cls", [Momentum, Nesterov])
def test_momentum_keeps_coasting_when_lr_drops_to_zero(cls):
    """v <- mu*v - lr*g already holds lr: at lr = 0 the velocity still moves theta
    (torch's buffer form would stop; the two agree only at constant lr, see the docs)."""
    opt = cls(lr=0.1, momentum=0.5)
    w = np.array([1.0])
    opt.update({"w": w}, {"w": np.array([2.0])})          # v = -0.2
    before = w.copy()
    opt.lr = 0.0
    opt.update({"w": w}, {"w": np.array([2.0])})          # v = -0.1
    expected = -0.1 if cls is Momentum else -0.5 * -0.2 + 1.5 * -0.1
    assert_allclose(w - before, [expected], rtol=1e-12)


@pytest.mark.parametrize("name", ["AdaGrad", "RMSprop", "Adadelta", "Adam", "AdaMax", "Nadam"])
def test_halving_lr_halves_the_next_step_of_the_adaptive_methods(name):
    """Their state does not depend on lr, so the step is linear in the current lr."""
    a, b = OPTIMIZERS[name](), OPTIMIZERS[name]()
    pa, pb = _params(), _params()
    a.update(pa, _grads(seed=0))
    b.update(pb, _grads(seed=0))
    before = copy.deepcopy(pa)
    b.lr = a.lr / 2
    a.update(pa, _grads(seed=1))
    b.update(pb, _grads(seed=1))
    for key in pa:
        assert_allclose(pb[key] - before[key], (pa[key] - before[key]) / 2, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", ALL)
def test_two_instances_share_no_state(name):
    """Interleaving two optimizers on the same names gives the same result as running each alone."""
    one, two = OPTIMIZERS[name](), OPTIMIZERS[name]()
    p1, p2 = _params(), {key: -p for key, p in _params().items()}
    alone1, alone2 = copy.deepcopy(p1), copy.deepcopy(p2)
    ref1, ref2 = OPTIMIZERS[name](), OPTIMIZERS[name]()
    for step in range(4):
        one.update(p1, _grads(seed=step))
        two.update(p2, _grads(seed=100 + step))
    for step in range(4):
        ref1.update(alone1, _grads(seed=step))
    for step in range(4):
        ref2.update(alone2, _grads(seed=100 + step))
    for key in p1:
        assert_array_equal(p1[key], alone1[key])
        assert_array_equal(p2[key], alone2[key])
    assert one.state is not two.state


@pytest.mark.parametrize("name", ALL)
def test_a_warm_step_allocates_no_parameter_sized_array(name):
    """In-place NumPy plus preallocated scratch: peak extra memory far below one parameter."""
    n = 200_000
    params = {"w": np.ones(n)}
    grads = {"w": np.full(n, 0.5)}
    opt = OPTIMIZERS[name]()
    opt.update(params, grads)           # first step creates state and scratch
    tracemalloc.start()
    try:
        opt.update(params, grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < params["w"].nbytes / 10


def test_the_base_class_requires_the_per_parameter_hook():
    with pytest.raises(NotImplementedError, match="_update_parameter"):
        Optimizer(lr=0.1).update({"w": np.ones(2)}, {"w": np.ones(2)})


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("params, grads, error, match", [
    ([np.ones(2)], {"w": np.ones(2)}, TypeError, "params must be a dict"),
    ({"w": np.ones(2)}, np.ones(2), TypeError, "grads must be a dict"),
    ({"w": np.ones(2), "b": np.ones(1)}, {"w": np.ones(2)}, KeyError, "no gradient for parameter 'b'"),
    ({"w": np.ones(2)}, {"w": np.ones(2), "v": np.ones(2)}, KeyError, "unknown parameters \\['v'\\]"),
    ({"w": np.ones(3)}, {"w": np.ones(2)}, ValueError,
     r"parameter 'w' has shape \(2,\), but the parameter has shape \(3,\)"),
    ({"w": [1.0, 2.0]}, {"w": np.ones(2)}, TypeError, "parameter 'w' must be a NumPy array"),
    ({"w": np.ones(2, dtype=int)}, {"w": np.ones(2)}, TypeError, "parameter 'w' must have a float dtype"),
    ({"w": np.ones(2)}, {"w": np.ones(2, dtype=complex)}, TypeError, "must be real numbers"),
])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_malformed_params_or_grads_raise_an_error_naming_the_cause(name, params, grads, error, match):
    with pytest.raises(error, match=match):
        OPTIMIZERS[name]().update(params, grads)


def test_a_read_only_parameter_is_refused():
    w = np.ones(2)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="parameter 'w' is read-only"):
        SGD().update({"w": w}, {"w": np.ones(2)})


def test_a_parameter_name_cannot_change_shape_under_the_same_optimizer():
    opt = Adam()
    opt.update({"w": np.ones(2)}, {"w": np.ones(2)})
    with pytest.raises(ValueError, match=r"'w' has shape \(3,\).*state for it has shape \(2,\)"):
        opt.update({"w": np.ones(3)}, {"w": np.ones(3)})


BAD_HYPERPARAMETERS = [
    (SGD, dict(lr=0.0), ValueError, "lr must be > 0"),
    (SGD, dict(lr=-0.1), ValueError, "lr must be > 0"),
    (SGD, dict(lr=float("nan")), ValueError, "lr must be finite"),
    (Adam, dict(lr=float("inf")), ValueError, "lr must be finite"),
    (SGD, dict(lr="0.1"), TypeError, "lr must be a real number"),
    (Momentum, dict(momentum=1.0), ValueError, r"momentum must be in \[0, 1\)"),
    (Nesterov, dict(momentum=-0.1), ValueError, r"momentum must be in \[0, 1\)"),
    (RMSprop, dict(rho=1.0), ValueError, r"rho must be in \[0, 1\)"),
    (Adadelta, dict(rho=1.5), ValueError, r"rho must be in \[0, 1\)"),
    (Adam, dict(beta1=1.0), ValueError, r"beta1 must be in \[0, 1\)"),
    (AdaMax, dict(beta2=-0.5), ValueError, r"beta2 must be in \[0, 1\)"),
    (Nadam, dict(beta2=1.0), ValueError, r"beta2 must be in \[0, 1\)"),
    (AdaGrad, dict(eps=0.0), ValueError, "eps must be > 0"),
    (Adam, dict(eps=-1e-8), ValueError, "eps must be > 0"),
    (AdamW, dict(weight_decay=-0.01), ValueError, "weight_decay must be >= 0"),
    (Nadam, dict(momentum_decay=-1.0), ValueError, "momentum_decay must be >= 0"),
]


@pytest.mark.parametrize("cls, kwargs, error, match", BAD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{k}" for c, k, _, _ in BAD_HYPERPARAMETERS])
def test_bad_hyperparameters_are_refused_by_the_constructor(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("lr", [float("nan"), -0.1, None])
def test_a_bad_lr_set_between_steps_is_refused_by_update(lr):
    opt = SGD()
    opt.lr = lr
    with pytest.raises(ValueError, match="SGD.lr must be a finite number >= 0"):
        opt.update({"w": np.ones(2)}, {"w": np.ones(2)})


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_gradient_is_refused_before_anything_changes(name, bad):
    """The error names the parameter; params and state stay exactly as they were."""
    opt, params = OPTIMIZERS[name](), _params()
    opt.update(params, _grads(seed=0))
    params_before, state_before = copy.deepcopy(params), copy.deepcopy(opt.state)
    grads = _grads(seed=1)
    grads["b"][2] = bad           # 'W' comes first and is fine: it must not move either
    with pytest.raises(ValueError, match="gradient for parameter 'b' contains NaN or infinity"):
        opt.update(params, grads)
    for key in params:
        assert_array_equal(params[key], params_before[key])
    assert opt.state.keys() == state_before.keys()
    for key, state in opt.state.items():
        for item, value in state.items():
            assert_array_equal(value, state_before[key][item])


def test_huge_but_finite_gradients_are_accepted_without_warnings():
    """The cheap check's sum overflows to inf; the full check then finds all entries finite."""
    w = np.zeros(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SGD(lr=1e-10).update({"w": w}, {"w": np.full(4, 1e308)})
    assert_allclose(w, -1e298, rtol=1e-15)


def test_float32_gradients_whose_sum_overflows_are_still_finite():
    w = np.zeros(3, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SGD(lr=0.5).update({"w": w}, {"w": np.full(3, 3e38, dtype=np.float32)})
    assert w.dtype == np.float32
    assert_allclose(w, -1.5e38, rtol=1e-6)


def test_repr_shows_the_hyperparameters():
    assert repr(Adam(lr=0.01)) == "Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-08)"
    assert math.isclose(eval(repr(Nadam()), vars(optim)).momentum_decay, 4e-3)
