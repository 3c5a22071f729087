"""Specification of dlcourse.gradcheck: centered differences and relative error."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from dlcourse.gradcheck import GradCheckResult, check_gradient, numerical_gradient, relative_error


def test_numerical_gradient_of_a_cubic_matches_the_derivative():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    g = numerical_gradient(lambda v: np.sum(v**3), x)
    # centered differences on a cubic are off by exactly h² per entry
    assert_allclose(g, 3 * x**2, rtol=0, atol=1.01e-8)


def test_numerical_gradient_restores_x_exactly():
    x = np.random.default_rng(0).normal(size=(3, 4))
    before = x.copy()
    numerical_gradient(lambda v: np.sum(np.sin(v)), x)
    assert np.array_equal(x, before)


def test_x_is_restored_even_when_f_raises():
    x = np.array([1.0, 2.0])

    def f(v):
        if v[0] != 1.0:
            raise RuntimeError("boom")
        return 0.0

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    assert np.array_equal(x, [1.0, 2.0])


def test_numerical_gradient_sees_closure_over_the_same_array():
    params = {"w": np.array([1.0, 2.0, 3.0])}
    g = numerical_gradient(lambda _: float(params["w"] @ params["w"]), params["w"])
    assert_allclose(g, 2 * params["w"], rtol=1e-9)


def test_relative_error_is_zero_for_equal_and_symmetric():
    a = np.array([1.0, -2.0])
    b = np.array([1.1, -2.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, b) == relative_error(b, a)
    assert_allclose(relative_error(a, b), 0.1 / 4.0, rtol=1e-12)


def test_relative_error_of_zero_gradients_is_zero_not_nan():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, 5, elements=st.floats(-1e6, 1e6)),
    arrays(np.float64, 5, elements=st.floats(-1e6, 1e6)),
)
def test_relative_error_lies_between_zero_and_one(a, b):
    e = relative_error(a, b)
    assert 0.0 <= e <= 1.0


def test_relative_error_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shapes"):
        relative_error(np.zeros(3), np.zeros(4))


def test_check_gradient_passes_a_correct_gradient():
    x = np.random.default_rng(1).normal(size=(4, 3))
    res = check_gradient(lambda v: np.sum(np.tanh(v)), x, 1 - np.tanh(x) ** 2)
    assert res.passed and bool(res)
    assert res.max_rel_error < 1e-7
    assert "PASSED" in repr(res)


def test_check_gradient_flags_a_deliberately_wrong_gradient_and_points_at_it():
    x = np.random.default_rng(2).normal(size=(4, 3))
    wrong = 2 * x
    wrong[2, 1] += 0.5  # one bad entry
    res = check_gradient(lambda v: np.sum(v**2), x, wrong)
    assert isinstance(res, GradCheckResult)
    assert not res.passed and not bool(res)
    assert res.worst_index == (2, 1)
    assert res.max_rel_error > 1e-3
    assert "FAILED" in repr(res) and "(2, 1)" in repr(res)


def test_check_gradient_flags_a_factor_two_mistake():
    x = np.array([0.3, -0.7, 1.2])
    res = check_gradient(lambda v: np.sum(v**2), x, x)  # forgot the 2
    assert not res.passed


def test_check_gradient_accepts_a_callable_analytic_gradient():
    x = np.array([0.3, -0.7])
    assert check_gradient(lambda v: np.sum(np.exp(v)), x, np.exp).passed


def test_check_gradient_rejects_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        check_gradient(lambda v: np.sum(v), np.zeros(3), np.zeros(4))


def test_integer_x_cannot_be_perturbed():
    with pytest.raises(TypeError, match="floating"):
        numerical_gradient(lambda v: 0.0, np.arange(3))


def test_bad_step_is_rejected():
    with pytest.raises(ValueError, match="h must"):
        numerical_gradient(lambda v: 0.0, np.zeros(2), h=0.0)


def test_check_gradients_checks_every_parameter_of_a_model():
    from dlcourse.gradcheck import check_gradients

    params = {"a": np.array([1.0, 2.0]), "b": np.array([[0.5]])}

    def loss():
        return float(np.sum(params["a"] ** 2) * params["b"][0, 0])

    grads = {"a": 2 * params["a"] * params["b"][0, 0], "b": np.array([[np.sum(params["a"] ** 2)]])}
    results = check_gradients(loss, params, grads)
    assert set(results) == {"a", "b"} and all(results.values())
    grads["b"] = grads["b"] * 2
    assert not check_gradients(loss, params, grads)["b"].passed
    with pytest.raises(KeyError, match="'b'"):
        check_gradients(loss, params, {"a": grads["a"]})


def test_compare_prints_exact_close_and_max_difference():
    from dlcourse.gradcheck import compare

    line = compare("dW", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]))
    assert line.startswith("dW") and "exact: False" in line and "close: True" in line and "1.0e-12" in line
    assert "exact: True" in compare("db", np.ones(2), np.ones(2))
    assert "close: False" in compare("dU", np.ones(2), np.zeros(2))


def test_read_only_x_is_rejected():
    x = np.zeros(3)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        numerical_gradient(lambda v: 0.0, x)
