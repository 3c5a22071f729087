"""Specification of dlcourse.ewma: v_t = beta*v_{t-1} + (1 - beta)*theta_t, v_0 = 0,
and its bias correction v_t / (1 - beta**t)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from dlcourse.ewma import EWMA, bias_correction, ewma, ewma_update_

FAST = settings(max_examples=50, deadline=None)
betas = st.floats(0.0, 0.999)
values = st.floats(-1e6, 1e6, allow_subnormal=False)


def textbook(series, beta):
    """The recurrence written out plainly, as the reference for everything here."""
    v, out = 0.0, []
    for x in series:
        v = beta * v + (1 - beta) * x
        out.append(v)
    return np.array(out)


def test_ewma_update_changes_the_average_in_place_and_returns_it():
    avg, value = np.zeros(3), np.array([1.0, 2.0, 3.0])
    result = ewma_update_(avg, value, 0.9)
    assert result is avg
    assert_allclose(avg, [0.1, 0.2, 0.3], rtol=1e-15)
    assert_array_equal(value, [1.0, 2.0, 3.0])


def test_ewma_update_with_scratch_gives_the_same_numbers_and_may_reuse_value():
    rng = np.random.default_rng(0)
    a, b, x = rng.normal(size=5), None, rng.normal(size=5)
    b = a.copy()
    ewma_update_(a, x, 0.7)
    scratch = x.copy()
    ewma_update_(b, scratch, 0.7, scratch=scratch)      # value and scratch the same array
    assert_array_equal(a, b)


def test_ewma_update_keeps_float32():
    avg = np.zeros(2, dtype=np.float32)
    ewma_update_(avg, np.ones(2), 0.5)
    assert avg.dtype == np.float32 and np.all(avg == 0.5)


@FAST
@given(series=st.lists(values, min_size=1, max_size=30), beta=betas)
def test_ewma_follows_the_recurrence(series, beta):
    assert_allclose(ewma(series, beta), textbook(series, beta), rtol=1e-9, atol=1e-9)


@FAST
@given(c=values, beta=betas, n=st.integers(1, 40))
def test_bias_corrected_average_of_a_constant_is_the_constant_from_step_one(c, beta, n):
    assert_allclose(ewma([c] * n, beta, bias_correction=True), c, rtol=1e-9, atol=0)
    avg = EWMA(beta)
    for _ in range(n):
        assert avg.update(c) == pytest.approx(c, rel=1e-9)


@FAST
@given(c=values, beta=st.floats(0.01, 0.999), t=st.integers(1, 50))
def test_uncorrected_average_of_a_constant_is_biased_by_one_minus_beta_to_the_t(c, beta, t):
    """E[v_t] = (1 - beta**t) E[theta]: the bias that the correction removes."""
    assert_allclose(ewma([c] * t, beta)[-1], (1 - beta**t) * c, rtol=1e-9, atol=1e-300)


def test_ewma_class_exposes_value_and_step():
    avg = EWMA(beta=0.9)
    assert avg.step == 0 and avg.value == 0.0
    assert avg.update(5.0) == pytest.approx(5.0)
    assert avg.value == pytest.approx(0.5) and avg.step == 1
    plain = EWMA(beta=0.9, bias_correction=False)
    assert plain.update(5.0) == pytest.approx(0.5)


def test_ewma_class_works_on_arrays_and_matches_ewma():
    series = np.random.default_rng(1).normal(size=(20, 3))
    avg = EWMA(beta=0.8)
    for x in series:
        last = avg.update(x)
    assert_allclose(last, ewma(series, 0.8, bias_correction=True)[-1], rtol=1e-12)


def test_ewma_over_a_2d_series_averages_along_time():
    series = np.random.default_rng(2).normal(size=(15, 4))
    out = ewma(series, 0.9, bias_correction=True)
    assert out.shape == series.shape
    for j in range(4):
        assert_allclose(out[:, j], ewma(series[:, j], 0.9, bias_correction=True), rtol=1e-14)


def test_bias_correction_is_one_minus_beta_to_the_step():
    assert bias_correction(0.9, 1) == pytest.approx(0.1)
    assert bias_correction(0.5, 3) == 0.875
    assert_allclose(bias_correction(0.5, np.arange(1, 4)), [0.5, 0.75, 0.875])


def test_corrected_average_is_undefined_before_the_first_update():
    with pytest.raises(ValueError, match="before the first update"):
        EWMA().average


@pytest.mark.parametrize("call, error, match", [
    (lambda: EWMA(beta=1.0), ValueError, r"beta must be in \[0, 1\)"),
    (lambda: EWMA(beta=-0.1), ValueError, r"beta must be in \[0, 1\)"),
    (lambda: ewma([1.0], beta="0.9"), TypeError, "beta must be a real number"),
    (lambda: ewma(1.0, beta=0.9), ValueError, "time axis"),
    (lambda: bias_correction(0.9, 0), ValueError, "step counts from 1"),
    (lambda: bias_correction(0.9, 1.5), TypeError, "step must be an integer"),
    (lambda: ewma_update_(0.0, 1.0, 0.9), TypeError, "updates an ndarray in place"),
    (lambda: ewma_update_(np.zeros(1), 1.0, 1.0), ValueError, r"beta must be in \[0, 1\)"),
])
def test_bad_arguments_raise_an_error_naming_the_cause(call, error, match):
    with pytest.raises(error, match=match):
        call()
