"""Specification of dlcourse.init: Xavier/Glorot and He initialization."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from dlcourse import init

N_IN, N_OUT = 400, 600  # 240 000 entries: sample variance within ~0.5% (1 sigma)


@pytest.mark.parametrize("fn", [init.xavier_uniform, init.xavier_normal])
def test_xavier_empirical_variance_is_2_over_fan_in_plus_fan_out(fn):
    W = fn(N_IN, N_OUT, np.random.default_rng(0))
    assert_allclose(W.var(), 2.0 / (N_IN + N_OUT), rtol=0.03)
    assert_allclose(W.mean(), 0.0, atol=5e-4)


@pytest.mark.parametrize("fn", [init.he_normal, init.he_uniform])
def test_he_empirical_variance_is_2_over_fan_in(fn):
    W = fn(N_IN, N_OUT, np.random.default_rng(1))
    assert_allclose(W.var(), 2.0 / N_IN, rtol=0.03)


@pytest.mark.parametrize("fn", [init.xavier_uniform, init.xavier_normal, init.he_normal, init.he_uniform])
def test_shape_is_n_out_by_n_in_and_float64(fn):
    W = fn(3, 5, np.random.default_rng(0))
    assert W.shape == (5, 3)
    assert W.dtype == np.float64


def test_xavier_uniform_stays_inside_its_radius():
    W = init.xavier_uniform(10, 30, np.random.default_rng(0))
    assert np.abs(W).max() <= np.sqrt(6.0 / 40)


def test_he_uniform_stays_inside_its_radius():
    W = init.he_uniform(12, 30, np.random.default_rng(0))
    assert np.abs(W).max() <= np.sqrt(6.0 / 12)


def test_uniform_has_the_requested_shape_range_and_variance():
    A = init.uniform((300, 400), 0.5, np.random.default_rng(0))
    assert A.shape == (300, 400)
    assert np.abs(A).max() <= 0.5
    assert_allclose(A.var(), 0.25 / 3, rtol=0.03)
    assert init.uniform(7, 1.0, np.random.default_rng(0)).shape == (7,)


def test_same_generator_state_gives_the_same_weights():
    a = init.xavier_normal(4, 6, np.random.default_rng(42))
    b = init.xavier_normal(4, 6, np.random.default_rng(42))
    assert_allclose(a, b, rtol=0, atol=0)


def test_the_global_numpy_random_state_is_not_touched():
    state = np.random.get_state()[1].copy()
    init.he_normal(5, 5, np.random.default_rng(0))
    assert np.array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("bad_rng", [None, 0, np.random.RandomState(0)])
def test_rng_must_be_a_generator(bad_rng):
    with pytest.raises(TypeError, match="Generator"):
        init.xavier_uniform(3, 4, bad_rng)


@pytest.mark.parametrize("n_in, n_out, name", [(0, 3, "n_in"), (3, -1, "n_out"), (-2, 3, "n_in")])
def test_non_positive_fans_are_rejected_by_name(n_in, n_out, name):
    for fn in (init.xavier_uniform, init.xavier_normal, init.he_normal, init.he_uniform):
        with pytest.raises(ValueError, match=name):
            fn(n_in, n_out, np.random.default_rng(0))


def test_non_integer_fan_is_a_type_error():
    with pytest.raises(TypeError, match="n_in"):
        init.xavier_uniform(2.5, 3, np.random.default_rng(0))


@pytest.mark.parametrize("r", [0, -1.0, float("inf"), float("nan")])
def test_uniform_radius_must_be_positive_and_finite(r):
    with pytest.raises(ValueError, match="r must"):
        init.uniform((2, 2), r, np.random.default_rng(0))


def test_uniform_negative_shape_is_rejected():
    with pytest.raises(ValueError, match="shape"):
        init.uniform((2, -1), 1.0, np.random.default_rng(0))
