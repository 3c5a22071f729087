"""The mistake catalogue: every mistake is distinguishable, and diagnosed when a student makes it.

Two kinds of evidence per mistake: its runnable variant fails the check and is named
(measured against itself over every scenario), and the same mistake written into the
assignment's own solution code (``mistakes.EXAMPLES``) fails exactly its part with
that diagnosis, in the visible tests already. Correct forms that look different pass.
"""
import numpy as np
import pytest

from autograder import build, check, checks, mistakes
from autograder.classgrade import samples

REQUIRED = [  # the issue's list, by key
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
    sources = samples.with_mistakes(samples.solution_sources(), [key])
    ns = namespace_with(sources)
    visible = check(ns[STUDENT_NAMES[target]], target, "visible")
    assert not visible.passed, f"{key} passes the visible tests"
    assert visible.mistake == key, visible.report()
    assert key in str(visible) and flat(mistakes.MISTAKES[key].hint) in flat(visible)


def test_the_instructor_solutions_pass_every_scenario():
    ns = namespace_with(samples.solution_sources())
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


# ----------------------------------------------------------------------- measured, never guessed
NEW_IN_ISSUE_11 = [
    "momentum-dampened", "nesterov-dlfs", "rmsprop-eps-inside-sqrt", "adagrad-initial-accumulator",
    "adamax-eps-outside-max", "adam-eps-in-bias-correction",
    "adagrad-hard-coded(eps=1e-07)", "adam-hard-coded(eps=1e-08)",
    "adam-hard-coded(beta1=0.9,beta2=0.999,eps=1e-06)", "adadelta-hard-coded(lr=1,eps=1e-05)",
    "adagrad-eps-inside-sqrt+hard-coded(eps=1e-06)",
    "adam-step-not-advanced+adam-eps-in-bias-correction",
]


def test_the_catalogue_has_what_real_students_write():
    assert not [key for key in NEW_IN_ISSUE_11 if key not in mistakes.MISTAKES]


def correct_forms(target):
    """Every correct form the catalogue knows: the reference, the student-style variant with
    every flag off, the accepted alternatives, and an out-of-place-arithmetic rewrite."""
    forms = [("reference", checks.reference(target))]
    if target in mistakes.CORRECT:
        forms.append(("flags off", mistakes.CORRECT[target]()))
    forms += [(d, make()) for d, make in mistakes.alternatives_for(target)]
    if target in checks.OPTIMIZER_NAMES:
        inner = mistakes.CORRECT[target]()

        class OutOfPlace(inner):
            """Computes on copies, then writes the result back into the caller's array."""

            def update(self, params, grads):
                copies = {k: v.copy() for k, v in params.items()}
                super().update(copies, grads)
                for k in params:
                    params[k][...] = copies[k]
        forms.append(("out of place", OutOfPlace))
    return forms


@pytest.mark.parametrize("target", checks.TARGETS)
def test_no_diagnosis_fires_on_any_correct_form(target):
    """Correct forms pass; and asked directly, the diagnosis names nothing for them, whichever
    scenario is taken as the failing one (visible, fixed hidden and drawn from a seed)."""
    scs = checks.scenarios(target, "all") + checks.scenarios(target, "hidden", seed=31)
    for description, code in correct_forms(target):
        trajs = [checks.run_trajectory(code, sc) for sc in scs]
        if description != "reference":          # the reference is flagged as borrowed
            assert checks.compare_all(target, scs, trajs).passed, description
        for failing in range(len(scs)):
            assert checks._diagnose(target, scs, trajs, failing) == (None, False), (description, failing)


@pytest.mark.parametrize("seed", [3, 1234, 99999])
def test_every_catalogued_mistake_shows_on_hidden_scenarios_drawn_from_a_seed(seed):
    for key, m in mistakes.MISTAKES.items():
        hidden = check(m.make(), m.target, "hidden", seed=seed)
        assert not hidden.passed, (key, seed)
        graded = check(m.make(), m.target, "all", seed=seed)
        assert graded.mistake == key and graded.mistake_certain, (key, seed, graded.report())


def _adam_with_eps(constant):
    ns = namespace_with({"adam": samples.solution_sources()["adam"].replace(
        "np.sqrt(v_hat) + self.eps", f"np.sqrt(v_hat) + {constant!r}")})
    return ns["Adam"]


def test_a_hard_coded_eps_is_named_with_its_constant_and_what_was_measured():
    r = check(_adam_with_eps(1e-8), "Adam")
    assert r.mistake == "adam-hard-coded(eps=1e-08)" and r.mistake_certain
    text = flat(r)
    assert "measured: the reference run with eps = 1e-08 fixed reproduces your trajectory in all 4 scenarios." in text
    assert ("your code passes at eps = 1e-08 (the default) but not at eps = 1e-07: "
            "it ignores self.eps and uses 1e-08.") in text


@pytest.mark.parametrize("constant", [3e-7, 2e-9])
def test_a_constant_no_library_uses_is_not_guessed(constant):
    """Only the common constants are measured: another literal fails without a diagnosis."""
    r = check(_adam_with_eps(constant), "Adam", "all")
    assert not r.passed and r.mistake is None, r.report()


def test_a_hard_coded_constant_with_an_unknown_second_deviation_is_not_diagnosed():
    code = samples.solution_sources()["adam"].replace("np.sqrt(v_hat) + self.eps", "np.sqrt(v_hat) + 1e-7") \
        .replace("m += (1 - self.beta1) * g", "m += (1 - self.beta1) * g * 1.01")
    r = check(namespace_with({"adam": code})["Adam"], "Adam", "all")
    assert not r.passed and r.mistake is None, r.report()


def test_two_mistakes_at_once_are_named_both_and_measured_as_their_combination():
    key = "adam-step-not-advanced+adam-eps-in-bias-correction"
    m = mistakes.MISTAKES[key]
    a, b = (mistakes.MISTAKES[k] for k in m.parts)
    assert a.title in m.title and b.title in m.title and a.hint in m.hint and b.hint in m.hint
    # neither part alone explains the combination: the match is the combination's own run
    for part in (a, b):
        assert not all(checks._matches(sc, checks._trusted_variant(sc, m), checks._trusted_variant(sc, part))
                       for sc in checks.scenarios("Adam", "all"))


def test_a_combination_not_in_the_catalogue_is_still_found_by_measurement():
    """AdaGrad forgetting old squares *and* hard-coding eps = 1e-7: no catalogued entry,
    found among the measured candidates and named with both parts."""
    code = samples.solution_sources()["adagrad"].replace("h += g * g", "h[...] = g * g") \
        .replace("np.sqrt(h) + self.eps", "np.sqrt(h) + 1e-7")
    r = check(namespace_with({"adagrad": code})["AdaGrad"], "AdaGrad", "all")
    assert r.mistake == "adagrad-forgets+hard-coded(eps=1e-07)" and r.mistake_certain, r.report()
    assert "AdaGrad forgets old squares" in r.mistake_title and "eps hard-coded as 1e-07" in r.mistake_title
