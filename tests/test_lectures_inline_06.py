"""Lecture 06's inline code (training loop, evaluation, averaging, saddle-point experiments) against the library.

The definitions are pulled out of the committed notebook exactly as in test_lectures_inline_04_06.py (its
``lecture06`` fixture is reused), so the notebook cannot drift away from ``dlcourse`` or from the math it prints.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from dlcourse import layers, optim, problems, schedules
from test_lectures_inline_04_06 import lecture06  # noqa: F401  (the module-scoped fixture)


# ----------------------------------------------------------------------------- the training loop


def test_train_records_the_losses_it_reports(lecture06):
    """history['val'][-1] is the model's loss on the validation set with the returned parameters."""
    ns = lecture06
    history, params = ns["train"](ns["logistic"], ns["logistic_init"], optim.SGD(lr=0.1), epochs=3, batch_size=64)
    assert_allclose(history["val"][-1], ns["logistic"](params, ns["X_val"], ns["y_val"])[0], rtol=1e-12)
    assert_allclose(history["train"][-1], ns["logistic"](params, ns["X_train"], ns["y_train"])[0], rtol=1e-12)
    assert np.isfinite(history["batch"]).all() and len(history["batch"]) == 3 * (ns["n_train"] // 64)


def test_train_without_recording_evaluates_only_the_last_epoch_and_trains_the_same(lecture06):
    ns = lecture06
    run = lambda record: ns["train"](ns["mlp"], ns["mlp_init"], optim.Adam(lr=0.01), epochs=3, batch_size=64,
                                     seed=4, record=record, keep_prob=0.5)
    (full, p_full), (last, p_last) = run(True), run(False)
    assert np.isnan(last["val"][:-1]).all() and np.isnan(last["train"][:-1]).all()
    assert last["val"][-1] == full["val"][-1]
    for name in p_full:
        assert_array_equal(p_full[name], p_last[name])


def test_train_stops_a_diverging_run_and_leaves_nan(lecture06):
    ns = lecture06
    history, _ = ns["train"](ns["mlp"], ns["mlp_init"], optim.SGD(lr=10.0), epochs=5, batch_size=32)
    assert np.isnan(history["val"]).all() and np.isnan(history["train"]).all()


def test_train_reads_a_cosine_schedule_within_the_epoch(lecture06):
    ns = lecture06
    seen, opt = [], optim.SGD(lr=1.0)
    schedule = schedules.warmup(schedules.cosine(0.3, total=2), 1)
    ns["train"](ns["logistic"], ns["logistic_init"], opt, epochs=3, batch_size=300, schedule=schedule,
                callback=lambda params, step: seen.append(opt.lr))
    n_batches = ns["n_train"] // 300
    expected = [schedule(epoch + i / n_batches) for epoch in range(3) for i in range(n_batches)]
    assert_allclose(seen, expected, rtol=1e-15)
    assert seen[0] == 0.0 and max(seen) == pytest.approx(0.3)


def test_basin_width_measures_the_decades_within_the_tolerance(lecture06):
    """A V-shaped mean curve 1 + |log10 lr + 1.5| is within 10 % of its best over 0.2 decades (± one fine step)."""
    sweep_lrs = 10.0 ** np.arange(-3.0, 0.01, 0.5)
    lecture06["sweep_lrs"] = sweep_lrs                  # basin_width reads the notebook's grid
    v_shape = 1.0 + np.abs(np.log10(sweep_lrs) + 1.5)
    losses = np.column_stack([v_shape, v_shape])         # two identical "seeds"
    assert abs(lecture06["basin_width"](losses) - 0.2) <= 0.5 / 20
    diverged = losses.copy()
    diverged[-1] = np.inf                                # a diverged lr is never inside the basin
    assert lecture06["basin_width"](diverged) == lecture06["basin_width"](losses)
    flat = np.ones_like(losses)
    assert lecture06["basin_width"](flat) == pytest.approx(3.0 + 0.5 / 20)


# ----------------------------------------------------------------------------- evaluation and averaging


def random_logistic(rng, n_features=20, n_classes=4, scale=1.0):
    return {"W": scale * rng.normal(size=(n_classes, n_features)), "b": scale * rng.normal(size=n_classes)}


def test_evaluate_of_one_model_is_the_softmax_cross_entropy_and_the_accuracy(lecture06):
    rng = np.random.default_rng(0)
    params = random_logistic(rng)
    X, y = rng.normal(size=(50, 20)), rng.integers(0, 4, size=50)
    logits = X @ params["W"].T + params["b"]
    loss, acc = lecture06["evaluate"]([params], X, y)
    assert_allclose(loss, layers.softmax_cross_entropy(logits, y)[0], rtol=1e-12)
    assert acc == np.mean(logits.argmax(axis=1) == y)


def test_predict_proba_of_the_mlp_uses_no_dropout_and_sums_to_one(lecture06):
    rng = np.random.default_rng(1)
    params = lecture06["mlp_init"](rng)
    X, y = rng.normal(size=(30, 20)), rng.integers(0, 4, size=30)
    probs = lecture06["predict_proba"](params, X)
    assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    loss = lecture06["mlp"](params, X, y, train=False)[0]
    assert_allclose(-np.mean(np.log(probs[np.arange(30), y])), loss, rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), members=st.integers(2, 6), scale=st.floats(0.1, 3.0))
def test_both_averages_are_never_worse_than_the_average_member_for_softmax_regression(lecture06, seed, members,
                                                                                        scale):
    """Jensen: cross-entropy is convex in the probabilities (ensemble) and, for softmax regression, in the weights."""
    rng = np.random.default_rng(seed)
    models = [random_logistic(rng, scale=scale) for _ in range(members)]
    X, y = rng.normal(size=(40, 20)), rng.integers(0, 4, size=40)
    mean_member = np.mean([lecture06["evaluate"]([m], X, y)[0] for m in models])
    assert lecture06["evaluate"](models, X, y)[0] <= mean_member + 1e-12
    assert lecture06["evaluate"]([lecture06["average_of_weights"](models)], X, y)[0] <= mean_member + 1e-12


def test_average_of_weights_is_the_elementwise_mean(lecture06):
    a = {"W": np.array([[1.0, 2.0]]), "b": np.array([0.0])}
    b = {"W": np.array([[3.0, -2.0]]), "b": np.array([1.0])}
    average = lecture06["average_of_weights"]([a, b])
    assert_array_equal(average["W"], [[2.0, 0.0]])
    assert_array_equal(average["b"], [0.5])


# ----------------------------------------------------------------------------- saddle points

SADDLE_HESSIAN = np.diag([2.0, -2.0])


@pytest.mark.parametrize("start", [(-1.0, 0.4), (0.3, -1.2), (1e-3, 5.0)])
def test_newton_lands_on_the_saddle_in_one_step_from_anywhere(lecture06, start):
    path = lecture06["newton_path"](problems.SADDLE, SADDLE_HESSIAN, 3, start)
    assert_allclose(path[1:], 0.0, atol=1e-15)


def test_saddle_free_newton_zeroes_x_and_doubles_y(lecture06):
    path = lecture06["newton_path"](problems.SADDLE, SADDLE_HESSIAN, 4, (-1.0, 0.4), saddle_free=True)
    assert_allclose(path[1:, 0], 0.0, atol=1e-15)
    assert_allclose(path[:, 1], 0.4 * 2.0 ** np.arange(5), rtol=1e-15)


def test_newton_path_on_a_convex_quadratic_is_one_step_to_the_minimum(lecture06):
    path = lecture06["newton_path"](problems.ELLIPSE, np.diag([0.1, 2.0]), 1, problems.ELLIPSE.start)
    assert_allclose(path[-1], problems.ELLIPSE.minimum, atol=1e-14)


@pytest.mark.parametrize("start", [None, (-1.0, 0.0), (0.5, -0.2)])
def test_noise_free_noisy_gd_is_problems_run_with_sgd(lecture06, start):
    mine = lecture06["noisy_gd"](problems.SADDLE, 0.05, 0.0, 150, n_runs=3, start=start)
    reference = problems.run(optim.SGD(lr=0.05), problems.SADDLE, 150, start=start)
    assert mine.shape == (151, 3, 2)
    for run in range(3):
        assert_allclose(mine[:, run], reference, rtol=1e-12, atol=0)


def test_noisy_gd_runs_are_independent_and_reproducible(lecture06):
    a = lecture06["noisy_gd"](problems.SADDLE, 0.05, 0.1, 20, n_runs=4, seed=3)
    b = lecture06["noisy_gd"](problems.SADDLE, 0.05, 0.1, 20, n_runs=4, seed=3)
    assert_array_equal(a, b)
    assert len({tuple(a[-1, k]) for k in range(4)}) == 4


@pytest.mark.parametrize("lr, y0", [(0.05, 1e-3), (0.1, 1e-6), (0.01, 0.3)])
def test_plain_gd_escapes_when_the_geometric_growth_of_y_reaches_one(lecture06, lr, y0):
    """Noise-free, |y_t| = y0·(1 + 2η)ᵗ: the first t with |y_t| ≥ 1 is ⌈ln(1/y0)/ln(1 + 2η)⌉."""
    paths = lecture06["noisy_gd"](problems.SADDLE, lr, 0.0, 3000, start=(-1.0, y0))
    assert lecture06["escape_steps"](paths)[0] == np.ceil(np.log(1 / y0) / np.log(1 + 2 * lr))


def test_gd_exactly_on_the_ridge_never_escapes(lecture06):
    paths = lecture06["noisy_gd"](problems.SADDLE, 0.05, 0.0, 500, start=(-1.0, 0.0))
    assert np.isnan(lecture06["escape_steps"](paths)[0])


@pytest.mark.parametrize("lr, sigma", [(0.05, 1e-3), (0.02, 1e-1)])
def test_predicted_escape_time_matches_the_mean_of_many_noisy_runs(lecture06, lr, sigma):
    """The printed prediction is the mean crossing time; the measured first step after it is about ½ step later."""
    paths = lecture06["noisy_gd"](problems.SADDLE, lr, sigma, 2000, n_runs=600, seed=7, start=(-1.0, 0.0))
    measured = np.nanmean(lecture06["escape_steps"](paths))
    assert abs(measured - lecture06["predicted_escape"](lr, sigma) - 0.5) < 1.0
