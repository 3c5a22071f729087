"""Specification of dlcourse.schedules: callables epoch -> lr, epoch counting from 0."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from dlcourse import schedules as S


@pytest.mark.parametrize("schedule, expected", [
    (S.constant(0.1), {0: 0.1, 7: 0.1, 100: 0.1}),
    (S.step_decay(0.1, factor=0.5, every=10), {0: 0.1, 9: 0.1, 10: 0.05, 19: 0.05, 20: 0.025, 35: 0.0125}),
    (S.exponential(0.1, k=0.5), {0: 0.1, 1: 0.1 * math.exp(-0.5), 4: 0.1 * math.exp(-2.0)}),
    (S.power(0.2, base=0.95), {0: 0.2, 1: 0.19, 2: 0.1805}),
    (S.inverse_time(0.1, decay=1.0), {0: 0.1, 1: 0.05, 3: 0.025}),
    (S.inverse_sqrt(0.3), {0: 0.3, 1: 0.3, 4: 0.15, 9: 0.1}),
    (S.piecewise([10, 20], [0.1, 0.01, 0.001]), {0: 0.1, 9.5: 0.1, 10: 0.01, 19: 0.01, 20: 0.001, 99: 0.001}),
    (S.cosine(0.1, total=10), {0: 0.1, 5: 0.05, 10: 0.0, 15: 0.0}),
    (S.cosine(0.1, total=10, lr_min=0.02), {0: 0.1, 5: 0.06, 10: 0.02, 12: 0.02}),
], ids=lambda x: repr(x) if isinstance(x, S.Schedule) else "")
def test_schedule_values_at_chosen_epochs(schedule, expected):
    for epoch, lr in expected.items():
        assert schedule(epoch) == pytest.approx(lr, rel=1e-12, abs=1e-15), epoch


def test_power_095_is_exponential_with_k_minus_log_095():
    epochs = np.arange(30)
    assert_allclose([S.power(0.1, 0.95)(t) for t in epochs],
                    [S.exponential(0.1, -math.log(0.95))(t) for t in epochs], rtol=1e-12)


def test_warmup_rises_linearly_then_hands_over_to_the_schedule_without_a_jump():
    schedule = S.warmup(S.step_decay(0.1, 0.5, 10), warmup_epochs=5, start=0.0)
    assert [schedule(t) for t in range(6)] == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08, 0.1])
    assert schedule(14) == pytest.approx(0.1) and schedule(15) == pytest.approx(0.05)


def test_warmup_of_zero_epochs_is_the_schedule_itself():
    base = S.cosine(0.1, 20)
    assert all(S.warmup(base, 0)(t) == base(t) for t in range(25))


@pytest.mark.parametrize("schedule", [
    S.constant(0.1), S.step_decay(0.1), S.exponential(0.1, 0.1), S.power(0.1),
    S.inverse_time(0.1, 0.5), S.inverse_sqrt(0.1), S.piecewise([5], [0.1, 0.01]),
    S.cosine(0.1, 50), S.warmup(S.cosine(0.1, 50), 5),
])
def test_every_schedule_returns_floats_and_never_increases_after_warmup(schedule):
    lrs = [schedule(t) for t in range(5, 60)]
    assert all(isinstance(lr, float) and lr >= 0 for lr in lrs)
    assert all(b <= a + 1e-15 for a, b in zip(lrs, lrs[1:]))


def test_a_schedule_drives_an_optimizers_lr():
    from dlcourse.optim import SGD

    schedule, opt, w = S.step_decay(1.0, 0.5, every=1), SGD(lr=1.0), np.zeros(1)
    for epoch in range(3):
        opt.lr = schedule(epoch)
        opt.update({"w": w}, {"w": np.ones(1)})
    assert_allclose(w, [-(1.0 + 0.5 + 0.25)], rtol=1e-15)


def test_repr_names_the_schedule_and_its_arguments():
    assert repr(S.step_decay(0.1, 0.5, 10)) == "step_decay(lr0=0.1, factor=0.5, every=10)"


@pytest.mark.parametrize("make, error, match", [
    (lambda: S.constant(0.0), ValueError, "lr0 must be > 0"),
    (lambda: S.constant(float("nan")), ValueError, "lr0 must be finite"),
    (lambda: S.constant("0.1"), TypeError, "lr0 must be a real number"),
    (lambda: S.step_decay(0.1, factor=0.0), ValueError, "factor must be > 0"),
    (lambda: S.step_decay(0.1, every=0), ValueError, "every must be a whole number"),
    (lambda: S.step_decay(0.1, every=2.5), ValueError, "every must be a whole number"),
    (lambda: S.exponential(0.1, k=-1), ValueError, "k must be >= 0"),
    (lambda: S.power(0.1, base=0), ValueError, "base must be > 0"),
    (lambda: S.inverse_time(0.1, decay=-0.1), ValueError, "decay must be >= 0"),
    (lambda: S.inverse_sqrt(0), ValueError, "k must be > 0"),
    (lambda: S.piecewise([10], [0.1]), ValueError, "one more value than boundaries"),
    (lambda: S.piecewise([10, 5], [0.1, 0.01, 0.001]), ValueError, "strictly increase"),
    (lambda: S.cosine(0.1, total=0), ValueError, "total must be > 0"),
    (lambda: S.cosine(0.1, 10, lr_min=0.2), ValueError, "must not exceed lr0"),
    (lambda: S.warmup(0.1, 5), TypeError, "schedule must be a callable"),
    (lambda: S.warmup(S.constant(0.1), -1), ValueError, "warmup_epochs must be >= 0"),
    (lambda: S.constant(0.1)(-1), ValueError, "epoch counts from 0"),
])
def test_bad_arguments_raise_an_error_naming_the_cause(make, error, match):
    with pytest.raises(error, match=match):
        make()
