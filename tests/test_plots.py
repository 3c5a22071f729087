"""dlcourse.plots draws what the lectures and the feedback need, in the course palette.

Runs on the Agg backend (no display). Each test checks something a reader relies
on: axes are labelled, optimizers keep their palette colours, the student/reference
styles differ, the global rcParams are left alone, and bad input fails with a
message that names the problem.
"""
import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlcourse import optim, plots, problems, schedules  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _same_colour(a, b):
    return mcolors.to_hex(a) == mcolors.to_hex(b)


def _line(ax, label):
    lines = [line for line in ax.get_lines() if line.get_label() == label]
    assert lines, f"no line labelled {label!r}; labels: {[l.get_label() for l in ax.get_lines()]}"
    return lines[0]


# ----------------------------------------------------------------------------- palette


def test_palette_has_one_distinct_colour_per_optimizer():
    """Every optimizer in dlcourse.optim has a colour, and no two share one."""
    assert set(plots.PALETTE) == set(optim.OPTIMIZERS)
    hexes = [mcolors.to_hex(c) for c in plots.PALETTE.values()]
    assert len(set(hexes)) == len(hexes)


def test_student_and_reference_styles_are_distinct_and_student_is_dashed():
    ref, stu = plots.STYLES["reference"], plots.STYLES["student"]
    assert not _same_colour(ref["color"], stu["color"])
    assert stu["linestyle"] == "--" and ref["linestyle"] == "-"
    palette = {mcolors.to_hex(c) for c in plots.PALETTE.values()}
    assert mcolors.to_hex(stu["color"]) not in palette
    assert not ({mcolors.to_hex(c) for c in plots.EXTRA_COLORS} & palette)


def test_color_looks_up_names_and_rejects_unknown_ones_by_name():
    assert plots.color("Adam") == plots.PALETTE["Adam"]
    assert plots.color("student") == plots.STYLES["student"]["color"]
    with pytest.raises(KeyError, match="Adamm"):
        plots.color("Adamm")
    with pytest.raises(TypeError):
        plots.color(3)


def test_style_of_a_variant_label_keeps_its_optimizer_colour():
    """'Adam (no bias correction)' is still drawn in Adam's colour; 'student: X' in the student style."""
    assert plots.style("Adam (no bias correction)")["color"] == plots.PALETTE["Adam"]
    assert plots.style("AdamW lr=0.1")["color"] == plots.PALETTE["AdamW"]     # longest prefix wins
    assert plots.style("student: Adam")["linestyle"] == "--"
    assert plots.style("β = 0.9")["color"] in plots.EXTRA_COLORS


# ----------------------------------------------------------------------------- contour_paths


@pytest.fixture(scope="module")
def ellipse_paths():
    return {
        "SGD": problems.run(optim.SGD(lr=0.9), problems.ELLIPSE, 30),
        "Adam": problems.run(optim.Adam(lr=0.3), problems.ELLIPSE, 30),
    }


def test_contour_paths_draws_each_path_in_its_palette_colour_with_labels(ellipse_paths):
    ax = plots.contour_paths(problems.ELLIPSE, ellipse_paths)
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    assert ax.get_title() == problems.ELLIPSE.formula
    for name, path in ellipse_paths.items():
        line = _line(ax, name)
        assert _same_colour(line.get_color(), plots.PALETTE[name])
        np.testing.assert_allclose(np.column_stack(line.get_data()), path)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"SGD", "Adam", "start", "minimum"} <= set(legend)
    assert ax.collections, "no contour lines were drawn"


def test_contour_paths_student_is_dashed_and_reference_solid(ellipse_paths):
    ax = plots.contour_paths(problems.ELLIPSE, {"reference": ellipse_paths["Adam"],
                                                "student": ellipse_paths["Adam"] + 0.1})
    assert _line(ax, "student").get_linestyle() == "--"
    assert _line(ax, "reference").get_linestyle() == "-"
    assert _same_colour(_line(ax, "student").get_color(), plots.STYLES["student"]["color"])


def test_contour_paths_uses_the_given_ax_and_styles_override(ellipse_paths):
    fig, ax = plt.subplots()
    out = plots.contour_paths(problems.ELLIPSE, {"Adam (bug)": ellipse_paths["Adam"]}, ax=ax,
                              title="t", styles={"Adam (bug)": {"linestyle": ":"}})
    assert out is ax and ax.get_title() == "t"
    line = _line(ax, "Adam (bug)")
    assert line.get_linestyle() == ":" and _same_colour(line.get_color(), plots.PALETTE["Adam"])


def test_contour_paths_draws_a_diverging_path_up_to_its_last_finite_point():
    path = np.array([[-7.0, 2.0], [-5.0, -4.0], [np.inf, np.nan]])
    ax = plots.contour_paths(problems.ELLIPSE, {"SGD": path})
    line = _line(ax, "SGD (diverged)")
    assert len(line.get_xdata()) == 2


@pytest.mark.parametrize("bad, error, match", [
    ({}, ValueError, "empty"),
    ([np.zeros((3, 2))], TypeError, "dict"),
    ({"SGD": np.zeros((3, 3))}, ValueError, "'SGD'.*shape"),
    ({"SGD": np.zeros(4)}, ValueError, "shape"),
])
def test_contour_paths_rejects_bad_paths_naming_them(bad, error, match):
    with pytest.raises(error, match=match):
        plots.contour_paths(problems.ELLIPSE, bad)


def test_contour_paths_rejects_something_that_is_not_a_problem(ellipse_paths):
    with pytest.raises(TypeError, match="Problem"):
        plots.contour_paths("ellipse", ellipse_paths)


def test_contour_grid_makes_one_panel_per_path(ellipse_paths):
    fig = plots.contour_grid(problems.ELLIPSE, {**ellipse_paths, "Momentum": ellipse_paths["SGD"]}, ncols=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert [ax.get_title() for ax in visible] == ["SGD", "Adam", "Momentum"]
    assert _same_colour(_line(visible[2], "Momentum").get_color(), plots.PALETTE["Momentum"])


# ----------------------------------------------------------------------------- curves


def test_loss_curves_labels_colours_and_automatic_log_axis():
    curves = {"SGD": np.geomspace(10, 0.01, 50), "RMSprop": np.geomspace(5, 0.1, 50)}
    ax = plots.loss_curves(curves, title="race")
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "loss" and ax.get_title() == "race"
    assert _same_colour(_line(ax, "RMSprop").get_color(), plots.PALETTE["RMSprop"])
    ax2 = plots.loss_curves({"SGD": np.linspace(1.0, 0.9, 10)})
    assert ax2.get_yscale() == "linear"


def test_loss_curves_accepts_x_y_pairs_smoothing_and_drops_non_finite_values():
    y = np.array([1.0, 0.8, np.nan, np.inf])
    ax = plots.loss_curves({"Adam": (np.arange(4) * 10, y)}, smooth=0.5, logy=False)
    line = _line(ax, "Adam (diverged)")
    assert list(line.get_xdata()) == [0, 10]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"curves": {}}, ValueError, "empty"),
    ({"curves": {"SGD": np.ones((2, 2))}}, ValueError, "'SGD'"),
    ({"curves": {"SGD": np.ones(3)}, "smooth": 1.0}, ValueError, "smooth"),
    ({"curves": {"SGD": np.array([1.0, -1.0])}, "logy": True}, ValueError, "positive"),
    ({"curves": {"SGD": np.ones(3)}, "logy": "yes"}, ValueError, "logy"),
    ({"curves": {3: np.ones(3)}}, TypeError, "string"),
])
def test_loss_curves_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        plots.loss_curves(**kwargs)


def test_ewma_figure_draws_the_data_and_one_line_per_beta():
    series = np.random.default_rng(0).normal(10, 3, size=100)
    ax = plots.ewma_figure(series, betas=(0.5, 0.9))
    labels = [l.get_label() for l in ax.get_lines()]
    assert labels[0].startswith("data") and any("β = 0.9 (≈ 10 days)" in s for s in labels)
    assert ax.get_xlabel() == "day" and ax.get_ylabel()
    ax = plots.ewma_figure(series, betas=0.9, bias_correction=True, show_uncorrected=True, days=20)
    assert len(ax.get_lines()) == 3 and len(ax.get_lines()[1].get_xdata()) == 20
    first_corrected = ax.get_lines()[1].get_ydata()[0]
    assert first_corrected == pytest.approx(series[0])       # corrected v_1 equals θ_1


@pytest.mark.parametrize("betas", [(1.0,), (-0.1,), (), ("0.9",)])
def test_ewma_figures_reject_bad_betas(betas):
    with pytest.raises(ValueError, match="β"):
        plots.ewma_figure(np.ones(10), betas=betas)
    with pytest.raises(ValueError, match="β"):
        plots.ewma_weights_figure(betas=betas)


def test_ewma_weights_figure_draws_the_exponential_weights():
    ax = plots.ewma_weights_figure(betas=(0.9,), k_max=30)
    line = _line(ax, "β = 0.9")
    np.testing.assert_allclose(line.get_ydata(), 0.1 * 0.9 ** np.arange(31))
    assert "k" in ax.get_xlabel() and "weight" in ax.get_ylabel()


def test_schedule_figure_plots_lr_per_epoch_as_a_staircase():
    sched = {"halve every 5": schedules.step_decay(0.1, 0.5, 5), "1/√t": schedules.inverse_sqrt(0.1)}
    ax = plots.schedule_figure(sched, 20, logy=True)
    line = _line(ax, "halve every 5")
    np.testing.assert_allclose(line.get_ydata(), [sched["halve every 5"](e) for e in range(20)])
    assert line.get_drawstyle() == "steps-post"
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "learning rate"
    assert ax.get_yscale() == "log"
    assert not _same_colour(_line(ax, "1/√t").get_color(), line.get_color())


@pytest.mark.parametrize("schedules_, epochs, error", [
    ({"a": 0.1}, 10, TypeError),
    ({}, 10, ValueError),
    ({"a": schedules.constant(0.1)}, 0, ValueError),
])
def test_schedule_figure_rejects_bad_input(schedules_, epochs, error):
    with pytest.raises(error):
        plots.schedule_figure(schedules_, epochs)


def test_plots_leave_global_rcparams_alone_and_never_show(monkeypatch, ellipse_paths):
    before = dict(matplotlib.rcParams)
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plots must not call plt.show()"))
    plots.contour_paths(problems.ELLIPSE, ellipse_paths)
    plots.contour_grid(problems.ROSENBROCK, ellipse_paths)
    plots.loss_curves({"SGD": np.ones(5)})
    plots.ewma_figure(np.ones(5))
    plots.ewma_weights_figure()
    plots.schedule_figure({"c": schedules.constant(0.1)}, 5)
    after = dict(matplotlib.rcParams)
    assert {k for k in before if before[k] != after[k]} <= {"backend"}
