"""Lecture 05's newer inline code agrees with the library, with torch, and with the claims the lecture makes.

Lecture 05 writes some algorithms out because writing them is the lesson: deeplearning.ai's
dampened momentum, torch's Nesterov buffer, the quadratic model of momentum (its 2x2
iteration), an AdaGrad run that records its effective learning rate, Dozat's Nadam as in his
paper, an L2 wrapper for the AdamW comparison, AMSGrad, and Reddi et al.'s online problem.
These tests take those definitions from the committed notebook (via ``load_definitions`` of
``test_lectures_inline_04_06``, which keeps the older lecture-05 tests: Nesterov's look-ahead
form, TextbookAdam and its mistakes) and check each against an independent implementation,
so the numbers the lecture prints cannot silently drift from the library.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from dlcourse import optim, problems
from test_lectures_inline_04_06 import load_definitions

INLINE = ("momentum_dampened", "nesterov_torch_form", "run_with_lrs", "momentum_rate", "measured_rate",
          "effective_lr_history", "largest_step", "nadam_dozat", "L2Regularized", "AMSGrad", "reddi_online",
          "step_sizes", "TextbookAdam")


@pytest.fixture(scope="module")
def lecture05():
    return load_definitions("05_optimizers.ipynb", *INLINE)


def torch_or_skip():
    return pytest.importorskip("torch")


# ----------------------------------------------------------------------------- momentum, two conventions
@pytest.mark.parametrize("problem, alpha, beta", [
    (problems.ELLIPSE, 0.5, 0.9), (problems.ELLIPSE, 0.05, 0.5), (problems.ELLIPSE, 1e-3, 0.99),
    (problems.ROSENBROCK, 1e-2, 0.9), (problems.ROSENBROCK, 2e-3, 0.5),
], ids=lambda v: getattr(v, "name", str(v)))
def test_dampened_momentum_is_library_momentum_with_lr_alpha_times_one_minus_beta(lecture05, problem, alpha, beta):
    """deeplearning.ai's V = βV + (1−β)dW, W −= αV is optim.Momentum(lr=α(1−β), momentum=β)."""
    ours = lecture05["momentum_dampened"](problem.gradient, problem.start, alpha, beta, 100)
    library = problems.run(optim.Momentum(lr=alpha * (1 - beta), momentum=beta), problem, 100)
    assert_allclose(ours, library, rtol=1e-12, atol=1e-12)


def test_torch_form_nesterov_equals_the_library_at_constant_lr(lecture05):
    ours = lecture05["nesterov_torch_form"](problems.ELLIPSE.gradient, problems.ELLIPSE.start, [0.1] * 80, 0.9)
    assert_allclose(ours, problems.run(optim.Nesterov(lr=0.1, momentum=0.9), problems.ELLIPSE, 80),
                    rtol=1e-12, atol=1e-12)


def test_torch_form_nesterov_differs_from_the_library_once_lr_changes(lecture05):
    """The lecture's claim: the two conventions part ways when a schedule changes lr."""
    lrs = [0.1] * 20 + [0.05] * 40
    ours = lecture05["nesterov_torch_form"](problems.ELLIPSE.gradient, problems.ELLIPSE.start, lrs, 0.9)
    library = lecture05["run_with_lrs"](optim.Nesterov(lr=0.1, momentum=0.9), problems.ELLIPSE, lrs)
    assert_allclose(ours[:21], library[:21], rtol=1e-12, atol=1e-12)
    assert np.max(np.abs(ours - library)) > 0.1


def test_torch_form_nesterov_is_torch_sgd_nesterov_with_a_changing_lr(lecture05):
    torch = torch_or_skip()
    lrs = [0.1] * 20 + [0.05] * 20 + [0.2] * 10
    ours = lecture05["nesterov_torch_form"](problems.ELLIPSE.gradient, problems.ELLIPSE.start, lrs, 0.9)
    phi = torch.tensor(problems.ELLIPSE.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([phi], lr=lrs[0], momentum=0.9, nesterov=True)
    theirs = [phi.detach().numpy().copy()]
    for lr in lrs:
        opt.param_groups[0]["lr"] = lr
        phi.grad = torch.tensor(problems.ELLIPSE.gradient(phi.detach().numpy()))
        opt.step()
        theirs.append(phi.detach().numpy().copy())
    assert_allclose(ours, np.array(theirs), rtol=1e-12, atol=1e-12)


def test_run_with_constant_lrs_is_problems_run(lecture05):
    ours = lecture05["run_with_lrs"](optim.Adam(lr=0.05), problems.ROSENBROCK, [0.05] * 200)
    assert_allclose(ours, problems.run(optim.Adam(lr=0.05), problems.ROSENBROCK, 200), rtol=0, atol=0)


# ----------------------------------------------------------------------------- the quadratic model
@pytest.mark.parametrize("lr, momentum, lam", [
    (0.1, 0.9, 0.1), (0.1, 0.9, 2.0), (0.4, 0.0, 2.0), (1.3358, 0.4026, 0.1), (0.3, 0.5, 3.0), (0.01, 0.2, 1.0),
])
def test_momentum_rate_is_the_measured_rate_of_library_momentum_on_a_1d_quadratic(lecture05, lr, momentum, lam):
    """|x_t| of optim.Momentum on f = λx²/2 shrinks by the predicted rate (checked on the state norm's envelope)."""
    predicted = lecture05["momentum_rate"](lr, momentum, lam)
    opt, x = optim.Momentum(lr=lr, momentum=momentum), {"x": np.array([1.0])}
    history = []
    for _ in range(300):
        opt.update(x, {"x": lam * x["x"]})
        history.append(np.hypot(x["x"][0], opt.state["x"]["velocity"][0]))
    history = np.array(history)
    # the envelope (an oscillation can take ~70 steps): the largest value over one window, vs 100 steps later
    measured = (history[200:300].max() / history[100:200].max()) ** (1 / 100)
    assert_allclose(measured, predicted, rtol=2e-2)


@pytest.mark.parametrize("lr, lam", [(0.95, 0.1), (0.95, 2.0), (0.3, 5.0), (1.5, 1.0)])
def test_momentum_rate_without_momentum_is_gradient_descents_factor(lecture05, lr, lam):
    assert_allclose(lecture05["momentum_rate"](lr, 0.0, lam), abs(1 - lr * lam), rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9, 0.99])
def test_momentum_is_stable_exactly_below_two_times_one_plus_mu_over_lambda(lecture05, momentum):
    edge = 2 * (1 + momentum) / 2.0
    assert lecture05["momentum_rate"](edge * 0.999, momentum, 2.0) < 1
    assert lecture05["momentum_rate"](edge * 1.001, momentum, 2.0) > 1


@pytest.mark.parametrize("lam_min, lam_max", [(0.1, 2.0), (0.2, 4.0), (1e-3, 2.0)])
def test_distills_optimal_momentum_has_rate_sqrt_kappa(lecture05, lam_min, lam_max):
    """At η* = (2/(√λmin+√λmax))², μ* = ((√κ−1)/(√κ+1))² the rate is (√κ−1)/(√κ+1), and it is optimal."""
    kappa = lam_max / lam_min
    lr = (2 / (np.sqrt(lam_min) + np.sqrt(lam_max))) ** 2
    mu = ((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2
    rate = lecture05["momentum_rate"](lr, mu, [lam_min, lam_max])
    assert_allclose(rate, (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1), rtol=1e-6)
    for dlr, dmu in [(1.05, 1), (0.95, 1), (1, 1.1), (1, 0.9)]:
        assert lecture05["momentum_rate"](lr * dlr, min(mu * dmu, 0.999), [lam_min, lam_max]) > rate


def test_measured_rate_of_a_geometric_sequence_is_its_ratio(lecture05):
    path = np.c_[3.0 * 0.8 ** np.arange(50), np.zeros(50)]
    assert_allclose(lecture05["measured_rate"](path, 10, 50), 0.8, rtol=1e-12)


# ----------------------------------------------------------------------------- AdaGrad's effective rate
def test_effective_lr_history_follows_adagrad_and_reads_its_state(lecture05):
    path, effective = lecture05["effective_lr_history"](optim.AdaGrad(lr=1.5), problems.ROSENBROCK, 50)
    assert_allclose(path, problems.run(optim.AdaGrad(lr=1.5), problems.ROSENBROCK, 50), rtol=0, atol=0)
    grads = np.array([problems.ROSENBROCK.gradient(p) for p in path[:-1]])
    assert_allclose(effective, 1.5 / (np.sqrt(np.cumsum(grads**2, axis=0)) + 1e-8), rtol=1e-12)


def test_adagrad_after_a_spike_of_1000_steps_a_thousand_times_smaller_forever(lecture05):
    """The lesson of section 12: after g = 1000, a gradient of 1 moves AdaGrad by ≈ η/1000, however much later."""
    gradients = np.zeros(6000)
    gradients[0] = 1000.0
    gradients[[50, 1000, 5999]] = 1.0
    steps = lecture05["step_sizes"](optim.AdaGrad(lr=1.0), gradients)
    assert_allclose(steps[[50, 1000, 5999]], 1 / np.sqrt(1e6 + np.array([1, 2, 3])), rtol=1e-6)
    rmsprop = lecture05["step_sizes"](optim.RMSprop(lr=1.0), gradients)
    assert rmsprop[5999] > 9.9                                  # RMSprop has forgotten the spike


# ----------------------------------------------------------------------------- AdaMax's bound
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), beta1=st.sampled_from([0.0, 0.5, 0.9]), beta2=st.sampled_from([0.95, 0.999]),
       log_scale=st.floats(-6, 6))
def test_adamax_steps_never_exceed_the_lectures_bound(lecture05, seed, beta1, beta2, log_scale):
    """|Δ| ≤ η (1−β1)β2/(β2−β1) for every gradient sequence (the paper's |Δ| ≤ η, up to that factor)."""
    rng = np.random.default_rng(seed)
    gradients = rng.standard_cauchy(size=(200, 5)) * 10.0**log_scale
    largest = lecture05["largest_step"](optim.AdaMax(lr=1.0, beta1=beta1, beta2=beta2), gradients)
    assert largest <= (1 - beta1) * beta2 / (beta2 - beta1) * (1 + 1e-12)


def test_adamax_worst_case_reaches_the_bound(lecture05):
    worst = 0.999 ** np.arange(3000)[:, None]
    assert_allclose(lecture05["largest_step"](optim.AdaMax(lr=1.0), worst), 0.1 * 0.999 / 0.099, rtol=1e-4)


# ----------------------------------------------------------------------------- Nadam: Dozat's vs torch's
def test_dozats_nadam_equals_library_nadam_when_the_momentum_is_constant(lecture05):
    """μ_t = β1 (ψ → ∞): Dozat's Algorithm 2 and torch's form are the same algorithm."""
    for problem in (problems.ELLIPSE, problems.ROSENBROCK):
        ours = lecture05["nadam_dozat"](problem.gradient, problem.start, 0.01, momentum_decay=1e4, steps=300)
        library = problems.run(optim.Nadam(lr=0.01, momentum_decay=1e4), problem, 300)
        assert_allclose(ours, library, rtol=1e-10, atol=1e-12)


def test_dozats_nadam_differs_from_torchs_with_the_default_schedule(lecture05):
    ours = lecture05["nadam_dozat"](problems.ELLIPSE.gradient, problems.ELLIPSE.start, 0.3, steps=60)
    library = problems.run(optim.Nadam(lr=0.3), problems.ELLIPSE, 60)
    assert np.max(np.abs(ours - library)) > 0.1


def test_keras3_schedule_is_psi_one():
    """Keras 3 uses μ_t = β1(1 − ½·0.96^t): the library's schedule with ψ = 1."""
    nadam = optim.Nadam(beta1=0.9, momentum_decay=1.0)
    assert_allclose([nadam._momentum(t) for t in (1, 2, 50)], [0.9 * (1 - 0.5 * 0.96**t) for t in (1, 2, 50)],
                    rtol=1e-15)


# ----------------------------------------------------------------------------- AdamW vs L2
def test_l2_wrapper_is_torchs_coupled_weight_decay(lecture05):
    torch = torch_or_skip()
    for ours_cls, torch_cls, lr in [(optim.SGD, torch.optim.SGD, 1e-3), (optim.Adam, torch.optim.Adam, 0.05)]:
        ours = problems.run(lecture05["L2Regularized"](ours_cls(lr=lr), 0.5), problems.ROSENBROCK, 50)
        p = torch.tensor(problems.ROSENBROCK.start, dtype=torch.float64, requires_grad=True)
        opt = torch_cls([p], lr=lr, weight_decay=0.5)
        theirs = [p.detach().numpy().copy()]
        for _ in range(50):
            p.grad = torch.tensor(problems.ROSENBROCK.gradient(p.detach().numpy()))
            opt.step()
            theirs.append(p.detach().numpy().copy())
        assert_allclose(ours, np.array(theirs), rtol=1e-10, atol=1e-12)


def test_adamw_with_exact_gradients_rests_in_the_box_not_at_the_l2_minimum(lecture05):
    """f = (x − 3)²/20 + (y − 1)², λ = 0.5: AdamW heads for (2, 1), Adam + L2 rests at (0.5, 0.8)."""
    shifted = problems.Problem(name="shifted", f=lambda x, y: (x - 3) ** 2 / 20 + (y - 1) ** 2,
                               grad=lambda x, y: np.array([(x - 3) / 10, 2 * (y - 1)]), start=(-7.0, 2.0),
                               minimum=(3.0, 1.0), bounds=((-10, 10), (-5, 5)))
    adamw = problems.run(optim.AdamW(lr=0.1, weight_decay=0.5), shifted, 20000)[-1]
    l2 = problems.run(lecture05["L2Regularized"](optim.Adam(lr=0.1), 0.5), shifted, 2000)[-1]
    assert_allclose(adamw, [2.0, 1.0], atol=5e-3)
    assert_allclose(l2, [0.5, 0.8], atol=1e-6)


# ----------------------------------------------------------------------------- AMSGrad and Reddi et al.
def test_amsgrad_is_torch_adam_with_amsgrad(lecture05):
    torch = torch_or_skip()
    rng = np.random.default_rng(3)
    grads = rng.normal(size=(300, 4)) * np.where(np.arange(300) % 7 == 0, 5.0, 1.0)[:, None]
    ours, params = lecture05["AMSGrad"](lr=0.05, beta1=0.8, beta2=0.99, eps=1e-6), {"w": np.zeros(4)}
    p = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.05, betas=(0.8, 0.99), eps=1e-6, amsgrad=True)
    for g in grads:
        ours.update(params, {"w": g})
        p.grad = torch.tensor(g)
        opt.step()
    assert_allclose(params["w"], p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_amsgrad_is_adam_while_v_never_decreases(lecture05):
    """With growing gradients the running maximum of v is v itself: AMSGrad takes Adam's steps."""
    grads = (1.0 + 0.1 * np.arange(100))[:, None] * np.array([1.0, -2.0])
    a, b = lecture05["AMSGrad"](lr=0.01), lecture05["TextbookAdam"](lr=0.01)
    pa, pb = {"w": np.ones(2)}, {"w": np.ones(2)}
    for g in grads:
        a.update(pa, {"w": g})
        b.update(pb, {"w": g})
    assert_allclose(pa["w"], pb["w"], rtol=1e-14)


def test_reddi_counterexample_adam_goes_to_the_worst_point_amsgrad_to_the_best(lecture05):
    C = 3.0
    adam = lecture05["reddi_online"](optim.Adam(beta1=0.0, beta2=1 / (1 + C**2)), C, 3000, 0.5)
    amsgrad = lecture05["reddi_online"](lecture05["AMSGrad"](beta1=0.0, beta2=1 / (1 + C**2)), C, 3000, 0.5)
    assert np.all(np.abs(adam) <= 1) and np.all(np.abs(amsgrad) <= 1)
    assert adam[-1] > 0.99
    assert amsgrad[-1] < -0.98


def test_adam_mean_step_is_the_signal_to_noise_ratio_formula():
    """E[Δθ]/η ≈ s/√(1+s²) for gradients with mean s and unit noise (the lecture's section 14)."""
    rng = np.random.default_rng(5)
    snr = np.repeat([0.3, 1.0, 3.0], 200)
    adam, theta, total = optim.Adam(lr=1.0), {"w": np.zeros(len(snr))}, np.zeros(len(snr))
    for t in range(2000):
        before = theta["w"].copy()
        adam.update(theta, {"w": snr + rng.normal(size=len(snr))})
        if t >= 500:
            total += before - theta["w"]
    measured = (total / 1500).reshape(3, 200).mean(axis=1)
    assert_allclose(measured, np.array([0.3, 1.0, 3.0]) / np.sqrt(1 + np.array([0.3, 1.0, 3.0]) ** 2), atol=0.02)
