"""The backprop mistake catalogue: every mistake is measured, distinguishable and diagnosed; correct forms never are.

Two kinds of evidence per mistake: its runnable variant fails its check and is named (over every
scenario, seeded ones included), and the same mistake written into the assignment's own solution
(``backprop_mistakes.EXAMPLES``) fails its part, in the visible tests already, with that diagnosis,
while every other part still passes.
"""
import numpy as np
import pytest

from autograder import backprop as bp
from autograder import backprop_mistakes as bm
from autograder.classgrade import samples

from test_backprop_checks import solution_namespace, student_code

REQUIRED = [  # the list, by key
    "outer-product-transposed", "missing-fprime", "max-routes-to-both", "multiply-no-swap", "repeat-overwritten",
    "one-sided-difference", "relerr-no-guard", "xavier-uniform-fan-in-only", "xavier-normal-fan-in-only",
    "xavier-normal-std-is-variance", "dropout-scale-by-p", "dropout-keep-is-drop", "dropout-scales-at-test",
    "l2-grad-factor-2",
]
PART_OF = {target: solution for _, solution, target, _, _ in bp.PARTS}


def test_the_catalogue_has_the_required_mistakes_each_with_title_hint_and_target():
    assert not [k for k in REQUIRED if k not in bm.MISTAKES]
    for m in bm.MISTAKES.values():
        assert m.target in bp.TARGETS and m.title and m.hint and m.key == m.key.lower()
    assert {m.target for m in bm.MISTAKES.values()} == set(bp.TARGETS)      # every part has some


def test_every_mistake_has_an_example_in_its_own_solution_cell():
    assert set(bm.EXAMPLES) == set(bm.MISTAKES)
    for key, (cell, _) in bm.EXAMPLES.items():
        assert cell == PART_OF[bm.MISTAKES[key].target], key


@pytest.mark.parametrize("key", list(bm.MISTAKES))
def test_the_variant_fails_and_is_diagnosed_as_itself(key):
    m = bm.MISTAKES[key]
    for seed in (None, 5):
        result = bp.check(m.make(), m.target, "all", seed=seed)
        assert not result.passed
        assert result.mistake == key and result.mistake_certain, result.report()


@pytest.mark.parametrize("key", list(bm.MISTAKES))
def test_the_mistake_written_in_the_notebook_fails_its_part_only_with_its_name(key):
    m = bm.MISTAKES[key]
    ns = solution_namespace(samples.with_mistakes(samples.solution_sources("backprop"), [key], bm.EXAMPLES))
    visible = bp.check(student_code(ns, m.target), m.target, "visible")
    assert not visible.passed, f"{key} passes the visible tests"
    assert visible.mistake == key, visible.report()
    text = " ".join(str(visible).split())          # the report wraps at word boundaries
    assert f"[{key}]" in text and " ".join(m.hint.split()) in text
    for other in bp.TARGETS:
        if other != m.target:
            assert bp.check(student_code(ns, other), other, "all").passed, (key, other)


@pytest.mark.parametrize("target", sorted(bm.ALTERNATIVES))
def test_correct_alternative_forms_pass_and_are_never_diagnosed(target):
    for description, make in bm.alternatives_for(target):
        for seed in (None, 9):
            result = bp.check(make(), target, "all", seed=seed)
            assert result.passed and result.mistake is None, (description, result.report())


def test_no_diagnosis_fires_on_a_correct_answer_that_fails_for_another_reason():
    """A correct δ (through the Jacobian) with a crash in the word gradient: an error, no mistake named."""
    def window_backward(ds, cache, W, u, f_prime):
        delta = ds * (u @ np.diag(f_prime(cache["z"])))
        return {"u": ds * cache["h"], "b": delta, "W": np.outer(delta, cache["x"]), "x": W @ delta}
    result = bp.check(window_backward, "window_backward")
    assert not result.passed and result.problem == "error" and result.mistake is None


def test_a_diagnosis_needs_the_variant_to_differ_from_the_reference():
    """For ReLU f'(relu(z)) = f'(z): the fprime-of-h variant is right there and is not offered."""
    sc = next(s for s in bp.scenarios("window_backward", "hidden") if s.data["act"] == "relu")
    variant = bp._trusted_run("mistake", sc, "fprime-of-h")
    assert bp._matches(sc, variant, bp.reference_trajectory(sc))


def test_no_two_mistakes_of_a_target_are_the_same_trajectory():
    for target in bp.TARGETS:
        ms = bm.for_target(target)
        scs = bp.scenarios(target, "all")
        for i, a in enumerate(ms):
            for b in ms[i + 1:]:
                same = all(bp._matches(sc, bp._trusted_run("mistake", sc, a.key), bp._trusted_run("mistake", sc, b.key))
                           for sc in scs)
                assert not same, (a.key, b.key)


def test_two_mistakes_at_once_each_lose_their_own_part():
    keys = ["outer-product-transposed", "repeat-overwritten", "dropout-backward-rescales", "he-lecun"]
    ns = solution_namespace(samples.with_mistakes(samples.solution_sources("backprop"), keys, bm.EXAMPLES))
    failed = {t: bp.check(student_code(ns, t), t, "all") for t in bp.TARGETS}
    assert {t for t, r in failed.items() if not r.passed} == {bm.MISTAKES[k].target for k in keys}
    assert {failed[bm.MISTAKES[k].target].mistake for k in keys} == set(keys)


def test_the_instructor_solutions_pass_every_scenario_with_any_seed():
    ns = solution_namespace()
    for target in bp.TARGETS:
        for seed in (None, 0, 1):
            assert bp.check(student_code(ns, target), target, "all", seed=seed).passed, target
