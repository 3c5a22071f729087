"""Specification of dlcourse.data.validation_split: a stratified hold-out for choosing hyperparameters."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from dlcourse import data


@pytest.fixture(scope="module")
def training_set():
    X_train, y_train, _, _ = data.classification_set(seed=0)
    return X_train, y_train


def test_split_is_a_partition_of_the_rows_in_their_original_order(training_set):
    """Every row lands in exactly one part, and each part is a subsequence of the input."""
    X, y = training_set
    X_fit, y_fit, X_val, y_val = data.validation_split(X, y, fraction=0.2, seed=0)
    assert len(X_fit) + len(X_val) == len(X)
    # rows are unique (continuous features), so each row identifies its index
    index = {row.tobytes(): i for i, row in enumerate(X)}
    fit_idx = np.array([index[r.tobytes()] for r in X_fit])
    val_idx = np.array([index[r.tobytes()] for r in X_val])
    assert_array_equal(np.sort(np.concatenate([fit_idx, val_idx])), np.arange(len(X)))
    assert np.all(np.diff(fit_idx) > 0) and np.all(np.diff(val_idx) > 0)
    assert_array_equal(y_fit, y[fit_idx])
    assert_array_equal(y_val, y[val_idx])


def test_split_keeps_the_class_proportions(training_set):
    X, y = training_set
    _, y_fit, _, y_val = data.validation_split(X, y, fraction=0.2, seed=3)
    counts = np.bincount(y)
    assert_array_equal(np.bincount(y_val, minlength=len(counts)), np.round(0.2 * counts).astype(int))
    assert_array_equal(np.bincount(y_fit, minlength=len(counts)), counts - np.round(0.2 * counts).astype(int))


def test_split_is_deterministic_and_depends_on_the_seed(training_set):
    X, y = training_set
    a = data.validation_split(X, y, seed=1)
    b = data.validation_split(X, y, seed=1)
    c = data.validation_split(X, y, seed=2)
    for u, v in zip(a, b):
        assert_array_equal(u, v)
    assert not np.array_equal(a[2], c[2])


def test_split_returns_copies_not_views(training_set):
    X, y = training_set
    X = X.copy()
    X_fit, _, X_val, _ = data.validation_split(X, y)
    X_fit[:] = 0.0
    X_val[:] = 0.0
    assert np.abs(X).sum() > 0


@settings(max_examples=60, deadline=None)
@given(n_per_class=st.lists(st.integers(2, 30), min_size=2, max_size=5),
       fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1))
def test_split_sizes_follow_the_rounded_fraction_per_class(n_per_class, fraction, seed):
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    X = np.arange(len(y), dtype=np.float64)[:, None]
    expected = sum(int(round(fraction * n)) for n in n_per_class)
    if expected in (0, len(y)):
        with pytest.raises(ValueError, match="empty"):
            data.validation_split(X, y, fraction, seed)
        return
    X_fit, y_fit, X_val, y_val = data.validation_split(X, y, fraction, seed)
    assert len(X_val) == expected and len(X_fit) == len(y) - expected
    assert_array_equal(np.sort(np.concatenate([X_fit[:, 0], X_val[:, 0]])), X[:, 0])


@pytest.mark.parametrize(
    "args, match",
    [((np.zeros((4, 2)), np.array([0, 1, 0, 1]), 0.0), "fraction"),
     ((np.zeros((4, 2)), np.array([0, 1, 0, 1]), 1.0), "fraction"),
     ((np.zeros((4, 2)), np.array([0, 1, 0, 1]), True), "fraction"),
     ((np.zeros((4, 2)), np.array([0, 1, 0]), 0.5), "same number of rows"),
     ((np.zeros((4, 2)), np.array([[0, 1, 0, 1]]), 0.5), "1-D"),
     ((np.zeros((4, 2)), np.array([0.0, 1.0, 0.0, 1.0]), 0.5), "integer"),
     ((np.zeros((2, 2)), np.array([0, 1]), 0.2), "empty")],
)
def test_split_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        data.validation_split(*args)
