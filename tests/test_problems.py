"""Specification of dlcourse.problems: 2-D test functions and the path runner."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from dlcourse import problems
from dlcourse.gradcheck import numerical_gradient
from dlcourse.problems import ELLIPSE, PROBLEMS, QUADRATIC, ROSENBROCK, SADDLE, Problem, run


class FakeSGD:
    """A stand-in for dlcourse.optim.SGD: θ ← θ − lr·g in place."""

    def __init__(self, lr):
        self.lr = lr
        self.calls = []

    def update(self, params, grads):
        self.calls.append((params["xy"].dtype, params["xy"].shape))
        for k in params:
            params[k] -= self.lr * grads[k]


class Rebinder:
    """An update that rebinds params['xy'] instead of changing it in place."""

    def update(self, params, grads):
        params["xy"] = params["xy"] - 0.1 * grads["xy"]


POINTS = [(-7.0, 2.0), (0.3, -0.4), (1.5, 2.5), (-1.2, 1.0)]


@pytest.mark.parametrize("name", sorted(PROBLEMS))
@pytest.mark.parametrize("point", POINTS)
def test_gradient_matches_centered_differences(name, point):
    p = PROBLEMS[name]
    xy = np.array(point)
    numeric = numerical_gradient(lambda v: p.f(v[0], v[1]), xy)
    assert_allclose(p.gradient(point), numeric, rtol=1e-7, atol=1e-7)


def test_the_functions_are_the_ones_named():
    assert ELLIPSE.f(-7.0, 2.0) == pytest.approx(49 / 20 + 4)
    assert QUADRATIC.f(1.0, 1.0) == pytest.approx(2.1)
    assert ROSENBROCK.f(1.0, 1.0) == 0.0 and ROSENBROCK.f(0.0, 0.0) == 1.0
    assert SADDLE.f(1.0, 2.0) == -3.0
    assert ELLIPSE.start == (-7.0, 2.0)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_gradient_vanishes_at_the_marked_point(name):
    p = PROBLEMS[name]
    assert_allclose(p.gradient(p.minimum), [0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_problems_work_on_meshgrids_for_contour_plots(name):
    X, Y, Z = PROBLEMS[name].grid(n=30)
    assert X.shape == Y.shape == Z.shape == (30, 30)
    assert PROBLEMS[name].grad(X, Y).shape == (2, 30, 30)


def test_start_and_minimum_lie_inside_the_plot_bounds():
    for p in PROBLEMS.values():
        (x0, x1), (y0, y1) = p.bounds
        for x, y in (p.start, p.minimum):
            assert x0 <= x <= x1 and y0 <= y <= y1, p.name


def test_registry_keys_are_the_problem_names():
    assert set(PROBLEMS) == {"ellipse", "quadratic", "rosenbrock", "saddle"}
    assert all(isinstance(p, Problem) and PROBLEMS[p.name] is p for p in PROBLEMS.values())


def test_run_returns_steps_plus_one_points_starting_at_the_start():
    opt = FakeSGD(0.1)
    path = run(opt, ELLIPSE, 50)
    assert path.shape == (51, 2) and path.dtype == np.float64
    assert_allclose(path[0], ELLIPSE.start)
    assert len(opt.calls) == 50
    assert all(dtype == np.float64 and shape == (2,) for dtype, shape in opt.calls)


def test_run_follows_gradient_descent_exactly():
    path = run(FakeSGD(0.1), QUADRATIC, 3)
    xy = np.array(QUADRATIC.start)
    for t in range(3):
        xy = xy - 0.1 * QUADRATIC.gradient(xy)
        assert_allclose(path[t + 1], xy, rtol=1e-15)


def test_run_descends_on_the_ellipse():
    path = run(FakeSGD(0.5), ELLIPSE, 200)
    assert ELLIPSE.value(path[-1]) < 1e-3 * ELLIPSE.value(path[0])


def test_saddle_escapes_only_slowly():
    path = run(FakeSGD(0.01), SADDLE, 300)
    assert abs(path[100, 1]) < 0.01  # still near the ridge after 100 steps
    assert abs(path[-1, 1]) > abs(path[0, 1])


def test_run_traces_an_update_that_rebinds_the_array():
    path = run(Rebinder(), ELLIPSE, 5)
    assert not np.allclose(path[5], path[0])


def test_run_zero_steps_and_name_and_custom_start():
    assert run(FakeSGD(0.1), "rosenbrock", 0).shape == (1, 2)
    assert_allclose(run(FakeSGD(0.1), ELLIPSE, 2, start=(1.0, 1.0))[0], [1.0, 1.0])


def test_run_does_not_mutate_the_problem_start():
    run(FakeSGD(0.1), ELLIPSE, 10)
    assert ELLIPSE.start == (-7.0, 2.0)


@pytest.mark.parametrize("steps", [-1, 2.5, "10", True])
def test_run_rejects_bad_steps(steps):
    with pytest.raises(ValueError, match="steps"):
        run(FakeSGD(0.1), ELLIPSE, steps)


def test_run_rejects_unknown_problem_and_missing_update():
    with pytest.raises(KeyError, match="unknown problem"):
        run(FakeSGD(0.1), "himmelblau", 3)
    with pytest.raises(TypeError, match="update"):
        run(object(), ELLIPSE, 3)
    with pytest.raises(ValueError, match="start"):
        run(FakeSGD(0.1), ELLIPSE, 3, start=(1.0, 2.0, 3.0))


def test_module_exports():
    assert set(problems.__all__) >= {"Problem", "ELLIPSE", "QUADRATIC", "ROSENBROCK", "SADDLE", "PROBLEMS", "run"}


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Adam"])
def test_run_drives_the_reference_optimizers_downhill(name):
    from dlcourse import optim
    path = run(optim.OPTIMIZERS[name](lr=0.1), ELLIPSE, 100)
    assert path.shape == (101, 2)
    assert ELLIPSE.value(path[-1]) < ELLIPSE.value(path[0])


def test_run_with_reference_sgd_equals_the_fake():
    from dlcourse import optim
    assert_allclose(run(optim.SGD(lr=1e-3), ROSENBROCK, 30), run(FakeSGD(1e-3), ROSENBROCK, 30), rtol=1e-14)


def test_a_diverging_run_ends_in_inf_or_nan_without_raising():
    path = run(FakeSGD(0.05), ROSENBROCK, 60)
    assert path.shape == (61, 2)
    assert not np.all(np.isfinite(path))


def test_a_diverging_run_with_a_reference_optimizer_returns_the_path_ending_in_nan():
    """Reference optimizers refuse non-finite gradients; run stops there, not with an error."""
    from dlcourse.optim import SGD

    path = run(SGD(lr=10.0), ELLIPSE, 500)
    assert path.shape == (501, 2)
    assert np.isfinite(path[:5]).all(), "the first steps are still finite"
    assert np.isnan(path[-1]).all(), "after divergence the path is NaN"
