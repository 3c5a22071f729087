"""Specification of dlcourse.layers: activations, inverted dropout, softmax CE, L2."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from dlcourse import layers
from dlcourse.gradcheck import check_gradient, numerical_gradient

# points away from the kinks of relu / hard tanh / leaky relu (0 and ±1)
Z = np.array([-3.0, -1.5, -0.7, -0.2, 0.3, 0.8, 1.6, 4.0])


@pytest.mark.parametrize("name", sorted(layers.ACTIVATIONS))
def test_each_derivative_matches_centered_differences(name):
    f, fprime = layers.ACTIVATIONS[name]
    z = Z.copy()
    numeric = numerical_gradient(lambda v: np.sum(f(v)), z)
    assert_allclose(fprime(Z), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2])
def test_leaky_relu_derivative_matches_centered_differences_for_any_slope(slope):
    z = Z.copy()
    numeric = numerical_gradient(lambda v: np.sum(layers.leaky_relu(v, slope)), z)
    assert_allclose(layers.leaky_relu_grad(Z, slope), numeric, rtol=1e-7, atol=1e-9)


def test_registry_maps_names_to_function_pairs():
    assert layers.ACTIVATIONS["tanh"] == (layers.tanh, layers.tanh_grad)
    assert {"sigmoid", "tanh", "hard_tanh", "relu", "leaky_relu"} <= set(layers.ACTIVATIONS)
    with pytest.raises(KeyError, match="unknown activation 'swish'"):
        layers.get_activation("swish")


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, 6, elements=st.floats(-50, 50)))
def test_tanh_is_a_rescaled_sigmoid(z):
    assert_allclose(layers.tanh(z), 2 * layers.sigmoid(2 * z) - 1, rtol=0, atol=1e-12)


def test_sigmoid_is_stable_for_huge_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = layers.sigmoid(np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0]))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert_allclose(s[1], np.exp(-40.0), rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, 5, elements=st.floats(-700, 700)))
def test_sigmoid_is_symmetric(z):
    assert_allclose(layers.sigmoid(-z), 1 - layers.sigmoid(z), rtol=0, atol=1e-15)


def test_relu_and_hard_tanh_values_and_kink_conventions():
    z = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])
    assert_allclose(layers.relu(z), [0, 0, 0, 0.5, 1, 2])
    assert_allclose(layers.relu_grad(z), [0, 0, 0, 1, 1, 1])
    assert_allclose(layers.hard_tanh(z), [-1, -1, 0, 0.5, 1, 1])
    assert_allclose(layers.hard_tanh_grad(z), [0, 0, 1, 1, 0, 0])
    assert_allclose(layers.leaky_relu(z, 0.1), [-0.2, -0.1, 0, 0.5, 1, 2])


def test_activations_keep_the_input_shape_and_do_not_modify_it():
    z = np.random.default_rng(0).normal(size=(3, 4))
    before = z.copy()
    for f, fprime in layers.ACTIVATIONS.values():
        assert f(z).shape == z.shape and fprime(z).shape == z.shape
    assert np.array_equal(z, before)


# ---------------------------------------------------------------- dropout


def test_inverted_dropout_preserves_the_expectation():
    x = np.full((400, 500), 3.0)  # 200 000 units
    out, mask = layers.dropout_forward(x, keep_prob=0.8, rng=np.random.default_rng(0))
    # mean of 200 000 draws of 3·Bernoulli(0.8)/0.8: std of the mean ≈ 0.0034
    assert_allclose(out.mean(), 3.0, rtol=0.005)


def test_keep_prob_is_the_probability_of_keeping_a_unit():
    x = np.ones(100_000)
    out, mask = layers.dropout_forward(x, keep_prob=0.25, rng=np.random.default_rng(1))
    kept = mask != 0
    assert_allclose(kept.mean(), 0.25, atol=0.005)
    assert_allclose(out[kept], 1 / 0.25)  # survivors are scaled by 1/keep_prob
    assert np.all(out[~kept] == 0)


def test_test_mode_is_the_identity():
    x = np.random.default_rng(0).normal(size=(5, 6))
    out, mask = layers.dropout_forward(x, keep_prob=0.5, rng=None, train=False)
    assert_allclose(out, x, rtol=0, atol=0)
    assert mask is None
    assert_allclose(layers.dropout_backward(np.ones_like(x), mask), np.ones_like(x))


def test_backward_uses_the_same_mask_as_forward():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 30))
    out, mask = layers.dropout_forward(x, 0.6, rng)
    dout = rng.normal(size=x.shape)
    dx = layers.dropout_backward(dout, mask)
    assert_allclose(dx, dout * mask)
    assert np.array_equal(dx == 0, out == 0)  # dropped units pass no gradient
    # and it is the true gradient of sum(dout * out) with the mask held fixed
    assert check_gradient(lambda v: np.sum(dout * v * mask), x.copy(), dx).passed


def test_keep_prob_one_keeps_everything():
    x = np.arange(6.0)
    out, mask = layers.dropout_forward(x, 1.0, np.random.default_rng(0))
    assert_allclose(out, x)


@pytest.mark.parametrize("keep_prob", [0.0, -0.1, 1.5, float("nan"), True])
def test_keep_prob_outside_0_1_is_rejected_and_the_message_says_keep(keep_prob):
    with pytest.raises(ValueError, match="KEEPING"):
        layers.dropout_forward(np.ones(3), keep_prob, np.random.default_rng(0))


def test_dropout_needs_a_generator_in_training_mode():
    with pytest.raises(TypeError, match="Generator"):
        layers.dropout_forward(np.ones(3), 0.5, rng=None)


def test_dropout_backward_rejects_a_mask_of_another_shape():
    with pytest.raises(ValueError, match="mask shape"):
        layers.dropout_backward(np.ones(3), np.ones(4))


# ---------------------------------------------------------------- softmax


def test_softmax_rows_sum_to_one_and_survive_huge_logits():
    z = np.array([[1000.0, 1001.0, 999.0], [-5.0, 0.0, 5.0]])
    p = layers.softmax(z)
    assert np.all(np.isfinite(p))
    assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(p[0], layers.softmax(np.array([1.0, 2.0, 0.0])), rtol=1e-12)


def test_softmax_cross_entropy_gradient_matches_gradcheck():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    loss, dlogits = layers.softmax_cross_entropy(logits, labels)
    res = check_gradient(lambda v: layers.softmax_cross_entropy(v, labels)[0], logits, dlogits)
    assert res.passed, res


def test_softmax_cross_entropy_value():
    logits = np.array([[2.0, 1.0, 0.1]])
    loss, _ = layers.softmax_cross_entropy(logits, np.array([0]))
    expected = -np.log(np.exp(2.0) / np.exp(logits).sum())
    assert_allclose(loss, expected, rtol=1e-12)


def test_softmax_cross_entropy_uniform_logits_give_log_c():
    loss, d = layers.softmax_cross_entropy(np.zeros((3, 10)), np.array([0, 5, 9]))
    assert_allclose(loss, np.log(10), rtol=1e-12)
    assert_allclose(d.sum(axis=1), 0.0, atol=1e-15)


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    loss, d = layers.softmax_cross_entropy(np.array([[1e4, -1e4]]), np.array([1]))
    assert_allclose(loss, 2e4, rtol=1e-12)
    assert np.all(np.isfinite(d))


def test_softmax_cross_entropy_accepts_a_single_example():
    loss, d = layers.softmax_cross_entropy(np.array([0.0, 1.0]), 1)
    assert d.shape == (2,)


@pytest.mark.parametrize(
    "labels, match", [(np.array([0, 3]), r"\[0, 3\)"), (np.array([0]), "shape"), (np.array([0.5, 1.0]), "integer")]
)
def test_softmax_cross_entropy_names_bad_labels(labels, match):
    with pytest.raises((ValueError, TypeError), match=match):
        layers.softmax_cross_entropy(np.zeros((2, 3)), labels)


# ---------------------------------------------------------------- L2


def test_l2_penalty_is_half_lambda_sum_of_squares_with_gradient_lambda_w():
    W1 = np.array([[1.0, -2.0], [0.5, 0.0]])
    W2 = np.array([3.0])
    pen, grads = layers.l2_penalty({"W1": W1, "W2": W2}, lam=0.1)
    assert_allclose(pen, 0.05 * (1 + 4 + 0.25 + 9), rtol=1e-12)
    assert_allclose(grads["W1"], 0.1 * W1)
    assert_allclose(grads["W2"], 0.1 * W2)


def test_l2_gradient_matches_gradcheck():
    W = np.random.default_rng(0).normal(size=(3, 4))
    _, (g,) = layers.l2_penalty([W], lam=0.3)
    assert check_gradient(lambda v: layers.l2_penalty([v], 0.3)[0], W, g).passed


def test_l2_list_in_list_out_and_weights_untouched():
    Ws = [np.ones((2, 2)), np.full(3, 2.0)]
    pen, grads = layers.l2_penalty(Ws, 1.0)
    assert isinstance(grads, list) and len(grads) == 2
    assert_allclose(pen, 0.5 * (4 + 12))
    assert_allclose(Ws[0], 1.0)


@pytest.mark.parametrize("lam", [-0.1, float("nan"), float("inf")])
def test_l2_rejects_bad_lambda(lam):
    with pytest.raises(ValueError, match="lam"):
        layers.l2_penalty([np.ones(2)], lam)


def test_l2_rejects_a_bare_array():
    with pytest.raises(TypeError, match=r"\[W\]"):
        layers.l2_penalty(np.ones((2, 2)), 0.1)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (3, 4), elements=st.floats(-100, 100)), st.floats(-1e3, 1e3))
def test_softmax_is_invariant_to_adding_a_constant(z, c):
    assert_allclose(layers.softmax(z + c), layers.softmax(z), rtol=1e-9, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, (4, 5), elements=st.floats(-10, 10)),
    st.floats(0.05, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_dropout_keeps_shape_leaves_input_untouched_and_only_zeros_or_rescales(x, keep_prob, seed):
    before = x.copy()
    out, mask = layers.dropout_forward(x, keep_prob, np.random.default_rng(seed))
    assert out.shape == x.shape and np.array_equal(x, before)
    assert np.all((mask == 0) | np.isclose(mask, 1 / keep_prob))
    assert_allclose(out, x * mask)
