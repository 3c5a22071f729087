"""The mistake catalogue: every mistake is distinguishable, and diagnosed when a student makes it.

Two kinds of evidence per mistake: its runnable variant fails the check and is named
(measured against itself over every scenario), and the same mistake written into the
assignment's own solution code (``mistakes.EXAMPLES``) fails exactly its part with
that diagnosis, in the visible tests already. Correct forms that look different pass.
"""
import numpy as np
import pytest

from autograder import build, check, checks, mistakes

REQUIRED = [  # the list, by key
    "adam-no-bias-correction", "adam-step-not-advanced", "adam-step-per-parameter",
    "adam-eps-inside-sqrt", "adam-g-not-squared", "rmsprop-accumulates",
    "momentum-sign-flipped", "nesterov-as-momentum", "momentum-shared-between-instances",
    "adagrad-shared-between-parameters", "adagrad-forgets", "rmsprop-old-average",
    "adadelta-delta-first", "ewma-no-bias-correction",
]
PART_OF = {"EWMA": "ewma", "step_decay": "step_decay", "cosine": "cosine",
           **{name: name.lower() for name in checks.OPTIMIZER_NAMES}}


def namespace_with(sources):
    """Execute the notebook's setup, base class and the given solution cells."""
    import nbformat
    nb = nbformat.read(build.COURSE / "source" / "optimizers" / "optimizers.ipynb", as_version=4)
    ns = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") in ("setup", "base_class"):
            exec(cell.source, ns)
    for grade_id, code in sources.items():
        exec(compile(code, f"<cell {grade_id}>", "exec"), ns)
    return ns


def flat(text):
    """``text`` with every run of whitespace as one space: reports wrap at word boundaries."""
    return " ".join(str(text).split())


STUDENT_NAMES = {"EWMA": "EWMA", "step_decay": "step_decay", "cosine": "cosine",
                 **{n: n for n in checks.OPTIMIZER_NAMES}}


def test_the_catalogue_has_at_least_twelve_mistakes_including_the_required_ones():
    assert len(mistakes.MISTAKES) >= 12
    assert not [key for key in REQUIRED if key not in mistakes.MISTAKES]
    for m in mistakes.MISTAKES.values():
        assert m.target in checks.TARGETS and m.title and m.hint


def test_every_mistake_has_an_example_in_the_assignment_code():
    assert set(mistakes.EXAMPLES) == set(mistakes.MISTAKES)
    for key, (cell, _) in mistakes.EXAMPLES.items():
        assert cell == PART_OF[mistakes.MISTAKES[key].target]


@pytest.mark.parametrize("key", list(mistakes.MISTAKES))
def test_the_variant_fails_and_is_diagnosed_as_itself(key):
    m = mistakes.MISTAKES[key]
    result = check(m.make(), m.target, "all")
    assert not result.passed
    assert result.mistake == key and result.mistake_certain, result.report()


@pytest.mark.parametrize("key", list(mistakes.MISTAKES))
def test_the_mistake_written_in_the_notebook_code_fails_its_part_with_its_name(key):
    target = mistakes.MISTAKES[key].target
    sources = build.with_mistakes(build.solution_sources(), [key])
    ns = namespace_with(sources)
    visible = check(ns[STUDENT_NAMES[target]], target, "visible")
    assert not visible.passed, f"{key} passes the visible tests"
    assert visible.mistake == key, visible.report()
    assert key in str(visible) and flat(mistakes.MISTAKES[key].hint) in flat(visible)


def test_the_instructor_solutions_pass_every_scenario():
    ns = namespace_with(build.solution_sources())
    for target in checks.TARGETS:
        result = check(ns[STUDENT_NAMES[target]], target, "all")
        assert result.passed, result.report()


@pytest.mark.parametrize("target", sorted(mistakes.ALTERNATIVES))
def test_correct_alternative_forms_pass(target):
    for description, make in mistakes.alternatives_for(target):
        assert check(make(), target, "all").passed, description


def test_alternatives_are_needed_only_where_they_differ():
    """Without the alternatives, the Momentum b-form fails only when lr changes mid-run."""
    make = mistakes.alternatives_for("Momentum")[0][1]
    differing = [sc.name for sc in checks.scenarios("Momentum", "all")
                 if checks._first_difference(sc, checks.run_trajectory(make(), sc),
                                             checks.reference_trajectory(sc)) is not None]
    assert differing == ["lr changed between steps"]


def test_each_mistake_shows_in_a_visible_scenario():
    """A student always gets the diagnosis before grading, not only from hidden tests."""
    for key, m in mistakes.MISTAKES.items():
        assert not check(m.make(), m.target, "visible").passed, key


def test_no_two_mistakes_of_a_target_are_the_same_trajectory():
    for target in checks.TARGETS:
        ms = mistakes.for_target(target)
        for i, a in enumerate(ms):
            for b in ms[i + 1:]:
                same = all(checks._matches(sc, checks._trusted(sc, "mistake", a.key),
                                           checks._trusted(sc, "mistake", b.key))
                           for sc in checks.scenarios(target, "all"))
                assert not same, (a.key, b.key)


def test_mistake_runs_do_not_leak_warnings(recwarn):
    check(mistakes.MISTAKES["adam-step-not-advanced"].make(), "Adam", "all")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    np.testing.assert_equal(np.seterr()["divide"], "warn")
