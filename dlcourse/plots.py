r"""The course's figures: one palette and a few plotting helpers the lectures and the feedback reuse.

* :data:`PALETTE` gives every optimizer one fixed colour, the same in every
  lecture, assignment and feedback page (Adam is always pink, SGD always blue), and
  :data:`STYLES` two line styles for grading: ``"reference"`` (solid, dark) and
  ``"student"`` (dashed, magenta). :func:`color` looks a name up; :func:`style`
  gives the full line style for any label.
* :func:`contour_paths` draws optimizer paths over the contours of a
  :class:`dlcourse.problems.Problem`; :func:`contour_grid` draws one small panel
  per optimizer for side-by-side comparison.
* :func:`loss_curves`, :func:`ewma_figure`, :func:`ewma_weights_figure` and
  :func:`schedule_figure` draw the other recurring figures.

Every function takes an optional ``ax`` (a new figure is made when it is
``None``), returns the Axes (or the Figure, for grids), never calls ``plt.show()``
and never changes the global ``matplotlib.rcParams``. Bad input (an empty dict, a
path that is not of shape (n, 2), a non-callable schedule ...) raises a
``TypeError`` or ``ValueError`` naming the culprit before anything is drawn.

Labels
------
A label that is a palette name (``"Adam"``) is drawn in its palette colour. A
label that *starts* with a palette name (``"Adam (no bias correction)"``,
``"Adam lr=0.1"``) gets that colour too; pass ``styles={label: {...}}`` to make
such variants distinguishable (any ``Axes.plot`` keyword). ``"student"`` and
``"reference"`` (or labels starting with them, e.g. ``"student: Adam"``) take the
grading styles. Anything else gets a colour from :data:`EXTRA_COLORS`, which
avoids the optimizer colours.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

__all__ = [
    "PALETTE", "STYLES", "EXTRA_COLORS", "color", "style",
    "contour_paths", "contour_grid", "loss_curves",
    "ewma_figure", "ewma_weights_figure", "schedule_figure",
]

#: One colour per optimizer (matplotlib's tab10, in the order the course meets them).
PALETTE: dict = {
    "SGD": "#1f77b4",        # blue
    "Momentum": "#ff7f0e",   # orange
    "Nesterov": "#2ca02c",   # green
    "AdaGrad": "#d62728",    # red
    "RMSprop": "#9467bd",    # purple
    "Adadelta": "#8c564b",   # brown
    "Adam": "#e377c2",       # pink
    "AdaMax": "#7f7f7f",     # grey
    "Nadam": "#bcbd22",      # olive
    "AdamW": "#17becf",      # cyan
}

#: Line styles for grading figures: the reference solution and a student's answer.
STYLES: dict = {
    "reference": {"color": "#222222", "linestyle": "-", "linewidth": 2.5, "alpha": 0.55},
    "student": {"color": "#e6007e", "linestyle": "--", "linewidth": 1.8},
}

#: Colours for labels that are not optimizers (schedules, β values ...); none is in PALETTE.
EXTRA_COLORS: tuple = (
    "#003f5c", "#ef5675", "#2f9e44", "#ffa600", "#7a5195", "#00a3a3", "#a05195", "#665191",
)


# ----------------------------------------------------------------------------- lookups
def color(name: str) -> str:
    """The fixed colour of optimizer ``name`` (a key of :data:`PALETTE`) or of ``"student"``/``"reference"``.

    >>> color("Adam")
    '#e377c2'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name in PALETTE:
        return PALETTE[name]
    if name in STYLES:
        return STYLES[name]["color"]
    raise KeyError(
        f"no palette colour for {name!r}; known names: {sorted(PALETTE) + sorted(STYLES)}"
    )


def _base_name(label: str):
    """The palette or style name a label starts with (longest match), or None."""
    lowered = label.lower()
    for key in STYLES:
        if lowered.startswith(key):
            return key
    matches = [key for key in PALETTE if label.startswith(key)]
    return max(matches, key=len) if matches else None


def style(label: str, index: int = 0) -> dict:
    """Plot keywords for ``label``: the palette colour, a grading style, or an extra colour.

    ``index`` picks the fallback colour from :data:`EXTRA_COLORS` for unknown labels.
    """
    if not isinstance(label, str):
        raise TypeError(f"labels must be strings, got {label!r} of type {type(label).__name__}")
    base = _base_name(label)
    if base in STYLES:
        return dict(STYLES[base])
    if base is not None:
        return {"color": PALETTE[base]}
    return {"color": EXTRA_COLORS[index % len(EXTRA_COLORS)]}


def _styles_for(labels, styles):
    if styles is not None and not isinstance(styles, Mapping):
        raise TypeError(f"styles must be a dict label -> plot keywords, got {type(styles).__name__}")
    out, extra = {}, 0
    for label in labels:
        kw = style(label, extra)
        if _base_name(label) is None:
            extra += 1
        if styles and label in styles:
            kw.update(styles[label])
        out[label] = kw
    return out


def _new_ax(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _check_mapping(name, value):
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict mapping labels to data, got {type(value).__name__}")
    if len(value) == 0:
        raise ValueError(f"{name} is empty: nothing to draw")


# ----------------------------------------------------------------------------- contours
def _check_path(label, path):
    arr = np.asarray(path, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError(f"path {label!r} must have shape (n, 2) with n >= 1, got shape {arr.shape}")
    return arr


def _finite_prefix(path):
    """The path up to its first non-finite point (a diverging run stops there)."""
    bad = ~np.isfinite(path).all(axis=1)
    return path[: int(np.argmax(bad))] if bad.any() else path


def contour_paths(problem, paths, ax=None, title=None, styles=None, levels=20, n=200,
                  legend=True, markersize=2.5):
    """Draw ``paths`` (label -> (n, 2) array) over the contours of ``problem``.

    Parameters
    ----------
    problem : :class:`dlcourse.problems.Problem` (anything with ``f``, ``bounds``,
        ``start``, ``minimum``).
    paths : dict label -> array of shape (n, 2), e.g. from :func:`dlcourse.problems.run`.
        A diverging path (inf/nan) is drawn up to its last finite point, marked with an
        "×", and its legend entry says "diverged".
    ax : Axes to draw into, or None for a new figure.
    title : str; default the problem's formula.
    styles : dict label -> extra ``Axes.plot`` keywords (override the palette).
    levels : int (number of contour levels, spaced by quantiles of f so that both the
        steep walls and the flat valley show) or an explicit increasing sequence.
    n : grid points per axis for the contours.

    Returns the Axes.
    """
    for attr in ("f", "bounds", "start", "minimum"):
        if not hasattr(problem, attr):
            raise TypeError(
                f"problem must be a dlcourse.problems.Problem (missing .{attr}), got {type(problem).__name__}"
            )
    _check_mapping("paths", paths)
    checked = {label: _check_path(label, p) for label, p in paths.items()}
    kws = _styles_for(checked, styles)
    if isinstance(levels, numbers.Integral) and not isinstance(levels, bool):
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
    ax = _new_ax(ax, (6, 4.2))

    (x0, x1), (y0, y1) = problem.bounds
    X, Y = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    Z = np.asarray(problem.f(X, Y), dtype=np.float64)
    if isinstance(levels, numbers.Integral):
        lv = np.unique(np.quantile(Z[np.isfinite(Z)], np.linspace(0.0, 0.97, int(levels)) ** 2))
    else:
        lv = np.asarray(levels, dtype=np.float64)
    ax.contour(X, Y, Z, levels=lv, colors="0.6", linewidths=0.6, alpha=0.8)

    for label, path in checked.items():
        good = _finite_prefix(path)
        kw = {"linewidth": 1.4, "marker": "o", "markersize": markersize}
        kw.update(kws[label])
        text = label if len(good) == len(path) else f"{label} (diverged)"
        if len(good):
            ax.plot(good[:, 0], good[:, 1], label=text, **kw)
            if len(good) < len(path):
                ax.plot(good[-1, 0], good[-1, 1], marker="x", markersize=9, color=kw.get("color"),
                        linestyle="none")

    ax.plot(*problem.start, marker="o", markersize=8, color="black", linestyle="none", label="start",
            zorder=5)
    is_saddle = getattr(problem, "name", "") == "saddle"
    ax.plot(*problem.minimum, marker="*", markersize=14, color="gold", markeredgecolor="black",
            linestyle="none", label="saddle point" if is_saddle else "minimum", zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title if title is not None else (getattr(problem, "formula", "") or getattr(problem, "name", "")))
    if legend:
        ax.legend(loc="best", fontsize="small", framealpha=0.85)
    return ax


def contour_grid(problem, paths, ncols=5, panel_size=(3.2, 2.5), suptitle=None, styles=None, titles=None):
    """One small :func:`contour_paths` panel per entry of ``paths``; returns the Figure.

    ``titles`` (dict label -> str) overrides the panel titles (default: the label).
    """
    import matplotlib.pyplot as plt

    _check_mapping("paths", paths)
    if isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = min(int(ncols), len(paths))
    nrows = -(-len(paths) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                             squeeze=False, constrained_layout=True)
    for ax, (label, path) in zip(axes.flat, paths.items()):
        title = (titles or {}).get(label, label)
        contour_paths(problem, {label: path}, ax=ax, title=title, styles=styles, legend=False,
                      markersize=1.5)
    for ax in list(axes.flat)[len(paths):]:
        ax.set_visible(False)
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig


# ----------------------------------------------------------------------------- curves
def _as_curve(label, curve):
    if isinstance(curve, tuple) and len(curve) == 2:
        x, y = (np.asarray(c, dtype=np.float64) for c in curve)
    else:
        y = np.asarray(curve, dtype=np.float64)
        x = np.arange(len(y)) if y.ndim == 1 else None
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"curve {label!r} must be a non-empty 1-D array (or an (x, y) pair), got shape {y.shape}")
    if x.shape != y.shape:
        raise ValueError(f"curve {label!r}: x has shape {x.shape} but y has shape {y.shape}")
    return x, y


def _smooth(y, beta):
    """Bias-corrected EWMA of ``y`` (for noisy mini-batch losses)."""
    out = np.empty_like(y)
    v = 0.0
    for t, value in enumerate(y, start=1):
        v = beta * v + (1.0 - beta) * value
        out[t - 1] = v / (1.0 - beta**t)
    return out


def loss_curves(curves, ax=None, logy=None, title=None, xlabel="iteration", ylabel="loss",
                styles=None, smooth=None, legend=True):
    """Draw loss curves (label -> 1-D array, or label -> (x, y)) in palette colours.

    Parameters
    ----------
    logy : True/False, or None (default) for a log axis when every finite value is
        positive and they span more than a factor of 10.
    smooth : None, or β in [0, 1): draw the raw curve faintly and its bias-corrected
        EWMA on top (mini-batch losses are noisy).
    Non-finite values (a diverged run) are left out; the legend says "diverged".

    Returns the Axes.
    """
    _check_mapping("curves", curves)
    data = {label: _as_curve(label, c) for label, c in curves.items()}
    if smooth is not None and not (isinstance(smooth, numbers.Real) and 0.0 <= smooth < 1.0):
        raise ValueError(f"smooth must be None or a β in [0, 1), got {smooth!r}")
    if logy not in (None, True, False):
        raise ValueError(f"logy must be True, False or None (automatic), got {logy!r}")
    kws = _styles_for(data, styles)
    finite = np.concatenate([y[np.isfinite(y)] for _, y in data.values()])
    if logy is None:
        logy = bool(finite.size) and finite.min() > 0 and finite.max() > 10 * finite.min()
    if logy and finite.size and finite.min() <= 0:
        raise ValueError("logy=True needs positive values; some curve has values <= 0")
    ax = _new_ax(ax, (6, 3.8))
    for label, (x, y) in data.items():
        ok = np.isfinite(y)
        text = label if ok.all() else f"{label} (diverged)"
        kw = {"linewidth": 1.5}
        kw.update(kws[label])
        if smooth is not None:
            ax.plot(x[ok], y[ok], color=kw.get("color"), alpha=0.25, linewidth=0.8)
            if ok.any():
                ax.plot(x[ok], _smooth(y[ok], float(smooth)), label=text, **kw)
        else:
            ax.plot(x[ok], y[ok], label=text, **kw)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize="small")
    return ax


def _check_beta(beta):
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0.0 <= beta < 1.0:
        raise ValueError(f"every β must be a number in [0, 1), got {beta!r}")
    return float(beta)


def _beta_colors(n):
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(0.1 + 0.75 * i / max(n - 1, 1)) for i in range(n)]


def ewma_figure(series, betas=(0.5, 0.9, 0.98), ax=None, bias_correction=False, show_uncorrected=False,
                title=None, xlabel="day", ylabel="temperature (°C)", days=None):
    r"""A noisy series as dots and its EWMA :math:`v_t = \beta v_{t-1} + (1-\beta)\theta_t` per β.

    Parameters
    ----------
    series : 1-D array (e.g. :func:`dlcourse.data.daily_temperatures`).
    betas : sequence of β in [0, 1); each line is labelled with its window ≈ 1/(1−β).
    bias_correction : draw :math:`v_t / (1-\beta^t)` instead of :math:`v_t`.
    show_uncorrected : with ``bias_correction``, also draw the uncorrected :math:`v_t`
        dashed in the same colour (the start-up bias made visible).
    days : optional int, draw only the first ``days`` points (to zoom on the start).

    Returns the Axes.
    """
    from dlcourse.ewma import ewma

    y = np.asarray(series, dtype=np.float64)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"series must be a non-empty 1-D array, got shape {y.shape}")
    if isinstance(betas, numbers.Real):
        betas = (betas,)
    betas = [_check_beta(b) for b in betas]
    if not betas:
        raise ValueError("betas is empty: give at least one β")
    end = len(y) if days is None else int(days)
    if end < 1:
        raise ValueError(f"days must be >= 1, got {days!r}")
    ax = _new_ax(ax, (7, 3.8))
    t = np.arange(1, len(y) + 1)
    ax.plot(t[:end], y[:end], linestyle="none", marker=".", markersize=3, color="0.55", label="data θ_t")
    for beta, c in zip(betas, _beta_colors(len(betas))):
        window = 1.0 / (1.0 - beta)
        name = f"β = {beta:g} (≈ {window:.3g} days)"
        if bias_correction:
            ax.plot(t[:end], ewma(y, beta, bias_correction=True)[:end], color=c, linewidth=1.8,
                    label=f"{name}, corrected")
            if show_uncorrected:
                ax.plot(t[:end], ewma(y, beta)[:end], color=c, linewidth=1.4, linestyle="--",
                        label=f"{name}, uncorrected")
        else:
            ax.plot(t[:end], ewma(y, beta)[:end], color=c, linewidth=1.8, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else "Exponentially weighted averages")
    ax.legend(fontsize="small")
    return ax


def ewma_weights_figure(betas=(0.5, 0.9, 0.98), k_max=100, ax=None, title=None):
    r"""The weight :math:`(1-\beta)\beta^k` an EWMA gives the value k steps back, one curve per β.

    A vertical dotted line marks k = 1/(1−β), where the weight has fallen to about 1/e of
    its first value (:math:`\beta^{1/(1-\beta)} \approx 1/e`). Returns the Axes.
    """
    if isinstance(betas, numbers.Real):
        betas = (betas,)
    betas = [_check_beta(b) for b in betas]
    if not betas:
        raise ValueError("betas is empty: give at least one β")
    if isinstance(k_max, bool) or not isinstance(k_max, numbers.Integral) or k_max < 1:
        raise ValueError(f"k_max must be a positive integer, got {k_max!r}")
    ax = _new_ax(ax, (6, 3.5))
    k = np.arange(int(k_max) + 1)
    for beta, c in zip(betas, _beta_colors(len(betas))):
        ax.plot(k, (1.0 - beta) * beta**k, color=c, linewidth=1.8, label=f"β = {beta:g}")
        window = 1.0 / (1.0 - beta)
        if window <= k_max:
            ax.axvline(window, color=c, linestyle=":", linewidth=1.2)
    ax.set_xlabel("k (days back from today)")
    ax.set_ylabel("weight (1 − β) β^k")
    ax.set_title(title if title is not None else "How much each past value counts (dotted: k = 1/(1−β))")
    ax.legend(fontsize="small")
    return ax


def schedule_figure(schedules, epochs, ax=None, logy=False, title=None, styles=None):
    """Learning rate against epoch for each schedule (label -> callable epoch -> lr).

    ``epochs`` is an int (epochs 0 … epochs−1) or a 1-D sequence of epochs. The lr is
    drawn as a staircase: it is held for a whole epoch. Returns the Axes.
    """
    _check_mapping("schedules", schedules)
    for label, schedule in schedules.items():
        if not callable(schedule):
            raise TypeError(f"schedule {label!r} must be callable epoch -> lr, got {type(schedule).__name__}")
    if isinstance(epochs, numbers.Integral) and not isinstance(epochs, bool):
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        grid = np.arange(int(epochs))
    else:
        grid = np.asarray(epochs)
        if grid.ndim != 1 or len(grid) == 0:
            raise ValueError(f"epochs must be a positive int or a non-empty 1-D sequence, got {epochs!r}")
    kws = _styles_for(schedules, styles)
    ax = _new_ax(ax, (6.5, 3.8))
    for label, schedule in schedules.items():
        lrs = np.array([float(schedule(e)) for e in grid])
        kw = {"linewidth": 1.8, "drawstyle": "steps-post"}
        kw.update(kws[label])
        ax.plot(grid, lrs, label=label, **kw)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(title if title is not None else "Learning-rate schedules")
    ax.legend(fontsize="small")
    return ax
