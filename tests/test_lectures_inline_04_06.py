"""The code written inline in lectures 04-06 agrees with the dlcourse library.

Lectures 04-06 write some code by hand because writing it *is* the lesson: shuffling
into mini-batches, the EWMA loop, Nesterov's look-ahead form, a plain-NumPy Adam
with its "efficient" step-size form and three classic mistakes, an Adam whose bias
correction can be switched off, L-BFGS, Newton's Hessian and two small models.
These tests pull those definitions out of the committed notebooks (the first code
cell, which holds the imports, is executed as is; from every other cell only the
top-level ``def`` and ``class`` statements, via ``ast``) and compare them with the
library, so the notebooks cannot drift away from ``dlcourse``.
"""
import ast
import pathlib

import nbformat
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from dlcourse import ewma, optim, problems
from dlcourse.gradcheck import numerical_gradient

LECTURES = pathlib.Path(__file__).resolve().parents[1] / "lectures"


def load_definitions(notebook: str, *names: str) -> dict:
    """Namespace with the notebook's first code cell plus its inline functions and classes ``names``."""
    nb = nbformat.read(LECTURES / notebook, as_version=4)
    code_cells = [c.source for c in nb.cells if c.cell_type == "code"]
    namespace: dict = {"__name__": "lecture_inline"}
    exec(compile(code_cells[0], f"{notebook}[first cell]", "exec"), namespace)
    found = set()
    for source in code_cells[1:]:
        tree = ast.parse(source)
        defs = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
        if defs:
            exec(compile(ast.Module(body=defs, type_ignores=[]), notebook, "exec"), namespace)
            found.update(node.name for node in defs)
    found.update(name for name in names if name in namespace)
    missing = set(names) - found
    assert not missing, f"{notebook} no longer defines {sorted(missing)} inline"
    return namespace


def random_grads(rng, shapes, scale=1.0):
    return {name: scale * rng.normal(size=shape) for name, shape in shapes.items()}


def run_dict(optimizer, shapes, steps, seed=0, scale=1.0):
    """Drive an optimizer over a dict of parameters with random gradients; return the parameter history."""
    rng = np.random.default_rng(seed)
    params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    history = []
    for _ in range(steps):
        optimizer.update(params, random_grads(rng, shapes, scale))
        history.append({name: value.copy() for name, value in params.items()})
    return history


SHAPES = {"W": (3, 4), "b": (4,), "s": (1,)}


# ----------------------------------------------------------------------------- lecture 04


@pytest.fixture(scope="module")
def lecture04():
    return load_definitions("04_minibatch_ewma.ipynb", "minibatches", "exponentially_weighted_average",
                            "softmax_regression")


@pytest.mark.parametrize("n, batch_size", [(10, 4), (1500, 64), (7, 7), (5, 10), (1, 1)])
def test_minibatches_is_a_shuffled_partition_with_a_smaller_last_batch(lecture04, n, batch_size):
    """Every example lands in exactly one batch; all batches but the last are full."""
    batches = lecture04["minibatches"](n, batch_size, np.random.default_rng(0))
    assert_array_equal(np.sort(np.concatenate(batches)), np.arange(n))
    assert all(len(b) == batch_size for b in batches[:-1])
    assert 1 <= len(batches[-1]) <= batch_size
    assert len(batches) == -(-n // batch_size)


def test_minibatches_is_reproducible_from_the_rng_and_reshuffles_each_epoch(lecture04):
    make = lecture04["minibatches"]
    first = make(100, 10, np.random.default_rng(3))
    again = make(100, 10, np.random.default_rng(3))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    rng = np.random.default_rng(3)
    epoch1, epoch2 = np.concatenate(make(100, 10, rng)), np.concatenate(make(100, 10, rng))
    assert not np.array_equal(epoch1, epoch2)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.98, 0.999])
@pytest.mark.parametrize("corrected", [False, True])
def test_inline_ewma_matches_dlcourse_ewma(lecture04, beta, corrected):
    """The lecture's EWMA loop gives dlcourse.ewma.ewma, with and without bias correction."""
    series = np.random.default_rng(1).normal(10.0, 3.0, size=200)
    mine = lecture04["exponentially_weighted_average"](series, beta, bias_correction=corrected)
    assert_allclose(mine, ewma.ewma(series, beta, bias_correction=corrected), rtol=1e-12, atol=1e-12)


def test_inline_ewma_bias_corrected_first_value_is_the_first_observation(lecture04):
    series = np.array([4.0, 6.0, 5.0])
    assert lecture04["exponentially_weighted_average"](series, 0.98, bias_correction=True)[0] == pytest.approx(4.0)


def test_inline_softmax_regression_gradients_are_right(lecture04):
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(7, 5)), rng.integers(0, 3, size=7)
    params = {"W": rng.normal(size=(3, 5)), "b": rng.normal(size=3)}
    _, grads = lecture04["softmax_regression"](params, X, y)
    for name in params:
        numeric = numerical_gradient(lambda _: lecture04["softmax_regression"](params, X, y)[0], params[name])
        assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)


# Lecture 04's train / validation_loss / random_search read the notebook's data from module globals
# (X_train, X_val, n_classes, ...); each test below gives them a small data set of its own.
def _lecture04_with_data(lecture04, seed=0, n=40, n_features=5, n_classes=3):
    """A copy of the lecture-04 namespace whose globals hold a small random train/validation split."""
    rng = np.random.default_rng(seed)
    namespace = dict(lecture04)
    X, y = rng.normal(size=(2 * n, n_features)), rng.integers(0, n_classes, size=2 * n)
    namespace.update(X_train=X[:n], y_train=y[:n], X_val=X[n:], y_val=y[n:],
                     n_train=n, n_features=n_features, n_classes=n_classes)
    # the functions look their globals up in the namespace they were defined in: rebind them to the copy
    for name in ("train", "validation_loss", "random_search", "new_params", "softmax_regression",
                 "minibatches", "log_uniform"):
        function = lecture04[name]
        namespace[name] = type(function)(function.__code__, namespace, name, function.__defaults__)
    return namespace


@pytest.fixture(scope="module")
def lecture04_training():
    return load_definitions("04_minibatch_ewma.ipynb", "train", "validation_loss", "log_uniform", "random_search",
                            "new_params", "softmax_regression", "minibatches")


def test_train_with_the_full_batch_is_gradient_descent_with_dlcourse_sgd(lecture04_training):
    """batch_size = N: every epoch is one exact gradient step of dlcourse.optim.SGD; the log records it."""
    ns = _lecture04_with_data(lecture04_training)
    X, y, lr, epochs = ns["X_train"], ns["y_train"], 0.7, 4
    params, log = ns["train"](X, y, batch_size=len(y), lr=lr, epochs=epochs)

    expected, sgd, losses = ns["new_params"](), optim.SGD(lr=lr), []
    for _ in range(epochs):
        loss, grads = ns["softmax_regression"](expected, X, y)
        losses.append(loss)
        sgd.update(expected, grads)
    for name in expected:
        assert_allclose(params[name], expected[name], rtol=1e-12, atol=1e-14, err_msg=name)
    assert_allclose(log["batch_loss"], losses, rtol=1e-12)
    assert_allclose(log["full_loss"][0], np.log(3), rtol=1e-12)       # W = 0: the loss is ln C
    assert_allclose(log["full_loss"][-1], ns["softmax_regression"](params, X, y)[0], rtol=1e-12)
    assert_allclose(log["epoch"], np.arange(epochs + 1), rtol=0, atol=1e-12)
    assert np.all(np.diff(log["seconds"]) >= 0) and log["seconds"][0] == 0.0


def test_train_mini_batches_visit_every_example_once_per_epoch(lecture04_training):
    """With B = 7 on 40 examples: ⌈40/7⌉ = 6 steps per epoch, and the run equals SGD over minibatches()."""
    ns = _lecture04_with_data(lecture04_training)
    X, y = ns["X_train"], ns["y_train"]
    params, log = ns["train"](X, y, batch_size=7, lr=0.3, epochs=2, seed=5)
    assert len(log["batch_loss"]) == 2 * 6
    rng, expected, sgd = np.random.default_rng(5), ns["new_params"](), optim.SGD(lr=0.3)
    for _ in range(2):
        for idx in ns["minibatches"](len(y), 7, rng):
            sgd.update(expected, ns["softmax_regression"](expected, X[idx], y[idx])[1])
    for name in expected:
        assert_allclose(params[name], expected[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_train_weight_decay_adds_lambda_W_to_the_weight_gradient_only(lecture04_training):
    """One full-batch step with weight_decay λ: W ← W − lr(∇W + λW), b ← b − lr ∇b (the bias is not penalised)."""
    ns = _lecture04_with_data(lecture04_training)
    X, y, lr, decay = ns["X_train"], ns["y_train"], 0.2, 0.05
    rng = np.random.default_rng(1)
    start = {"W": rng.normal(size=(3, 5)), "b": rng.normal(size=3)}
    params, _ = ns["train"](X, y, batch_size=len(y), lr=lr, epochs=1, weight_decay=decay, params=start)
    _, grads = ns["softmax_regression"](start, X, y)
    assert_allclose(params["W"], start["W"] - lr * (grads["W"] + decay * start["W"]), rtol=1e-12, atol=1e-14)
    assert_allclose(params["b"], start["b"] - lr * grads["b"], rtol=1e-12, atol=1e-14)


def test_train_records_the_update_to_weight_ratio_and_leaves_the_start_untouched(lecture04_training):
    ns = _lecture04_with_data(lecture04_training)
    X, y = ns["X_train"], ns["y_train"]
    start = {"W": np.random.default_rng(2).normal(size=(3, 5)), "b": np.zeros(3)}
    before = {name: value.copy() for name, value in start.items()}
    params, log = ns["train"](X, y, batch_size=len(y), lr=0.1, epochs=1, params=start)
    for name in start:
        assert_array_equal(start[name], before[name])
    assert_allclose(log["update_ratio"][0], np.linalg.norm(params["W"] - start["W"]) / np.linalg.norm(start["W"]),
                    rtol=1e-12)
    _, from_zero = ns["train"](X, y, batch_size=len(y), lr=0.1, epochs=2)
    assert np.isnan(from_zero["update_ratio"][0]), "‖ΔW‖/‖W‖ is undefined while W = 0"
    assert np.isfinite(from_zero["update_ratio"][1])


@pytest.mark.parametrize("record_every, expected_points", [(0, 2), (None, 7 + 1), (3, 3 + 1)])
def test_train_records_the_full_loss_where_asked(lecture04_training, record_every, expected_points):
    """record_every=0: only the start and the end; None: every step when an epoch has fewer than 20; k: every k-th."""
    ns = _lecture04_with_data(lecture04_training)
    _, log = ns["train"](ns["X_train"], ns["y_train"], batch_size=6, lr=0.1, epochs=1, record_every=record_every)
    assert len(log["batch_loss"]) == 7                  # ⌈40/6⌉ steps
    assert len(log["full_loss"]) == len(log["epoch"]) == len(log["seconds"]) == expected_points
    assert log["epoch"][0] == 0.0 and log["epoch"][-1] == 1.0

def test_log_uniform_is_uniform_in_the_exponent(lecture04_training):
    """10^U(log10 low, log10 high): each decade gets the same share, and the rng makes it reproducible."""
    draw = lecture04_training["log_uniform"]
    samples = draw(np.random.default_rng(0), 1e-3, 10.0, 40_000)
    assert samples.min() >= 1e-3 and samples.max() <= 10.0
    shares = np.histogram(np.log10(samples), bins=[-3, -2, -1, 0, 1])[0] / samples.size
    assert_allclose(shares, 0.25, atol=0.01)
    assert_array_equal(draw(np.random.default_rng(4), 0.1, 1.0, 5), draw(np.random.default_rng(4), 0.1, 1.0, 5))


def test_random_search_sorts_trials_by_the_validation_loss_it_measured(lecture04_training):
    """Every trial stays in its ranges, its loss is the validation loss of that (lr, λ), best first."""
    ns = _lecture04_with_data(lecture04_training)
    trials = ns["random_search"](np.random.default_rng(3), 6, lr_range=(1e-2, 1.0), decay_range=(1e-4, 1e-1), epochs=2)
    assert len(trials) == 6
    losses = [t["val_loss"] for t in trials]
    assert losses == sorted(losses)
    for t in trials:
        assert 1e-2 <= t["lr"] <= 1.0 and 1e-4 <= t["weight_decay"] <= 1e-1
        params, _ = ns["train"](ns["X_train"], ns["y_train"], 64, t["lr"], 2, weight_decay=t["weight_decay"], record_every=0)
        assert_allclose(t["val_loss"], ns["softmax_regression"](params, ns["X_val"], ns["y_val"])[0], rtol=1e-12)


# ----------------------------------------------------------------------------- lecture 05

ADAM_CLASSES = ("TextbookAdam", "EfficientAdam", "AdamNoBiasCorrection", "AdamEpsInsideSqrt", "AdamPlusEqualsAverage")


@pytest.fixture(scope="module")
def lecture05():
    return load_definitions("05_optimizers.ipynb", "nesterov_lookahead", *ADAM_CLASSES)


@pytest.mark.parametrize("problem", [problems.ELLIPSE, problems.ROSENBROCK, problems.QUADRATIC])
@pytest.mark.parametrize("lr, momentum", [(0.1, 0.9), (1e-3, 0.5), (0.05, 0.0)])
def test_nesterov_lookahead_points_are_the_dlcourse_nesterov_path(lecture05, problem, lr, momentum):
    """The look-ahead form's θ + μv is exactly the variable-transformed form's stored parameter."""
    if problem is problems.ROSENBROCK:
        lr = min(lr, 1e-3)
    thetas, lookaheads = lecture05["nesterov_lookahead"](problem.gradient, problem.start, lr, momentum, 100)
    library = problems.run(optim.Nesterov(lr=lr, momentum=momentum), problem, 100)
    assert thetas.shape == library.shape
    assert_allclose(lookaheads, library, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", ADAM_CLASSES)
def test_inline_adams_are_optimizers_that_validate_their_learning_rate(lecture05, cls):
    assert issubclass(lecture05[cls], optim.Optimizer)
    with pytest.raises(ValueError):
        lecture05[cls](lr=-1.0)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.05, "beta1": 0.5, "beta2": 0.99, "eps": 1e-6}])
def test_textbook_adam_matches_dlcourse_adam(lecture05, kwargs):
    mine = run_dict(lecture05["TextbookAdam"](**kwargs), SHAPES, 300)
    ref = run_dict(optim.Adam(**kwargs), SHAPES, 300)
    for t, (a, b) in enumerate(zip(mine, ref)):
        for name in SHAPES:
            assert_allclose(a[name], b[name], rtol=1e-10, atol=1e-12, err_msg=f"step {t + 1}, {name}")


def test_textbook_adam_path_on_rosenbrock_matches_dlcourse(lecture05):
    mine = problems.run(lecture05["TextbookAdam"](lr=0.05), problems.ROSENBROCK, 2000)
    assert_allclose(mine, problems.run(optim.Adam(lr=0.05), problems.ROSENBROCK, 2000), rtol=1e-9, atol=1e-12)


def test_efficient_adam_matches_dlcourse_adam_up_to_eps(lecture05):
    """The step-size form α·√(1−β2ᵗ)/(1−β1ᵗ) is Adam, up to where eps sits."""
    mine = run_dict(lecture05["EfficientAdam"](lr=0.01), SHAPES, 300)
    ref = run_dict(optim.Adam(lr=0.01), SHAPES, 300)
    for name in SHAPES:
        assert_allclose(mine[-1][name], ref[-1][name], rtol=1e-6, atol=1e-7)


def test_efficient_adam_equals_adam_exactly_when_eps_is_rescaled(lecture05):
    """With ε̂ = ε·√(1−β2ᵗ) the two forms are algebraically identical; check the first step."""
    g, eps, lr = np.array([1e-6, -3e-7]), 1e-6, 0.1
    a = {"w": np.zeros(2)}
    lecture05["EfficientAdam"](lr=lr, eps=eps * np.sqrt(1 - 0.999)).update(a, {"w": g})
    b = {"w": np.zeros(2)}
    optim.Adam(lr=lr, eps=eps).update(b, {"w": g})
    assert_allclose(a["w"], b["w"], rtol=1e-12)


def test_no_bias_correction_first_step_is_the_3_16_bound(lecture05):
    """Without correction the first step is lr·(1−β1)/√(1−β2) ≈ 3.16·lr per coordinate."""
    params = {"w": np.zeros(3)}
    lecture05["AdamNoBiasCorrection"](lr=0.1).update(params, {"w": np.array([2.0, -5.0, 0.3])})
    assert_allclose(np.abs(params["w"]), 0.1 * 0.1 / np.sqrt(0.001), rtol=1e-5)   # up to eps
    reference = {"w": np.zeros(3)}
    optim.Adam(lr=0.1).update(reference, {"w": np.array([2.0, -5.0, 0.3])})
    assert_allclose(np.abs(reference["w"]), 0.1, rtol=1e-6)


def test_eps_inside_sqrt_only_differs_for_small_gradients(lecture05):
    big = run_dict(lecture05["AdamEpsInsideSqrt"](lr=0.01), SHAPES, 50)
    ref = run_dict(optim.Adam(lr=0.01), SHAPES, 50)
    assert_allclose(big[-1]["W"], ref[-1]["W"], rtol=1e-6, atol=1e-8)
    tiny, tiny_ref = ({"w": np.zeros(1)} for _ in range(2))
    lecture05["AdamEpsInsideSqrt"](lr=0.1).update(tiny, {"w": np.array([1e-5])})
    optim.Adam(lr=0.1).update(tiny_ref, {"w": np.array([1e-5])})
    assert abs(tiny["w"][0]) < 0.2 * abs(tiny_ref["w"][0])


def test_plus_equals_average_grows_the_first_moment_geometrically(lecture05):
    opt = lecture05["AdamPlusEqualsAverage"](lr=1e-3)
    params, g = {"w": np.zeros(1)}, {"w": np.ones(1)}
    opt.update(params, g)
    opt.update(params, g)
    m1 = 0.1
    assert opt.state["w"]["m"][0] == pytest.approx((1 + 0.9) * m1 + 0.1 * 1.0)
    correct = lecture05["TextbookAdam"](lr=1e-3)
    correct.update({"w": np.zeros(1)}, g)
    correct.update({"w": np.zeros(1)}, g)
    assert correct.state["w"]["m"][0] == pytest.approx(0.9 * m1 + 0.1)


# ----------------------------------------------------------------------------- lecture 06


LECTURE06_INLINE = ("AdamAblation", "lbfgs", "rosenbrock_hessian", "logistic", "logistic_init", "mlp", "mlp_init",
                    "train", "predict_proba", "evaluate", "average_of_weights", "newton_path", "noisy_gd",
                    "escape_steps", "predicted_escape", "basin_width")


@pytest.fixture(scope="module")
def lecture06():
    import os
    from unittest import mock

    # the lecture's first cell pins BLAS to one thread through os.environ; keep that out of the test process
    with mock.patch.dict(os.environ):
        return load_definitions("06_learning_rates.ipynb", *LECTURE06_INLINE)


@pytest.mark.parametrize("beta2", [0.999, 0.9999])
def test_adam_ablation_with_correction_is_dlcourse_adam(lecture06, beta2):
    mine = run_dict(lecture06["AdamAblation"](lr=0.03, beta2=beta2), SHAPES, 200)
    ref = run_dict(optim.Adam(lr=0.03, beta2=beta2), SHAPES, 200)
    for name in SHAPES:
        assert_allclose(mine[-1][name], ref[-1][name], rtol=1e-10, atol=1e-12)


def test_adam_ablation_without_correction_is_lecture05s_no_bias_correction_mistake(lecture05, lecture06):
    """Lecture 06's switch and lecture 05's buggy subclass are the same algorithm."""
    mine = run_dict(lecture06["AdamAblation"](lr=0.03, beta2=0.9999, bias_correction=False), SHAPES, 100)
    bug = run_dict(lecture05["AdamNoBiasCorrection"](lr=0.03, beta2=0.9999), SHAPES, 100)
    for name in SHAPES:
        assert_allclose(mine[-1][name], bug[-1][name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("problem", [problems.ROSENBROCK, problems.ELLIPSE, problems.QUADRATIC])
def test_inline_lbfgs_reaches_the_minimum(lecture06, problem):
    path = lecture06["lbfgs"](problem, steps=200)
    assert_allclose(path[-1], problem.minimum, atol=1e-6)
    values = [problem.value(p) for p in path]
    assert all(b <= a + 1e-12 for a, b in zip(values, values[1:])), "the line search must never go uphill"


@pytest.mark.parametrize("point", [(-1.5, 2.0), (0.3, -0.2), (1.0, 1.0)])
def test_inline_rosenbrock_hessian_is_the_jacobian_of_the_gradient(lecture06, point):
    xy = np.array(point)
    numeric = np.column_stack([
        (problems.ROSENBROCK.gradient(xy + h) - problems.ROSENBROCK.gradient(xy - h)) / 2e-6
        for h in (np.array([1e-6, 0.0]), np.array([0.0, 1e-6]))
    ])
    assert_allclose(lecture06["rosenbrock_hessian"](*xy), numeric, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("keep_prob", [1.0, 0.5])
def test_inline_mlp_gradients_are_right(lecture06, keep_prob):
    """Backprop through ReLU and inverted dropout (the same mask on every call) matches finite differences."""
    rng = np.random.default_rng(4)
    params = lecture06["mlp_init"](rng)
    X, y = rng.normal(size=(6, params["W1"].shape[1])), rng.integers(0, params["W2"].shape[0], size=6)

    def loss_and_grads():
        return lecture06["mlp"](params, X, y, rng=np.random.default_rng(9), keep_prob=keep_prob)

    _, grads = loss_and_grads()
    for name in ("W2", "b2", "b1"):
        numeric = numerical_gradient(lambda _: loss_and_grads()[0], params[name], h=1e-6)
        assert_allclose(grads[name], numeric, rtol=1e-4, atol=1e-7, err_msg=name)


def test_inline_logistic_gradients_are_right(lecture06):
    rng = np.random.default_rng(5)
    params = {"W": rng.normal(size=(4, 20)), "b": rng.normal(size=4)}
    X, y = rng.normal(size=(5, 20)), rng.integers(0, 4, size=5)
    _, grads = lecture06["logistic"](params, X, y)
    for name in params:
        numeric = numerical_gradient(lambda _: lecture06["logistic"](params, X, y)[0], params[name])
        assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)


def test_train_reads_the_schedule_before_every_step_at_the_fractional_epoch(lecture06):
    """optimizer.lr = schedule(epoch + i / n_batches) before step i of an epoch: a staircase still jumps per epoch."""
    from dlcourse import schedules

    seen = []
    opt = optim.SGD(lr=1.0)
    n_batches = lecture06["n_train"] // 500
    lecture06["train"](lecture06["logistic"], lecture06["logistic_init"], opt, epochs=3, batch_size=500,
                       schedule=schedules.step_decay(0.4, 0.5, 1), callback=lambda params, step: seen.append(opt.lr))
    assert seen == [0.4] * n_batches + [0.2] * n_batches + [0.1] * n_batches
