"""The checks: scenarios, trajectories, comparison, and what a result tells the student.

Specification-style tests: the scenarios cover what the issue lists; the checks
trust nothing the student's code hands back; a crash is reported at the student's
line, a warning on stdout; the three pieces (scenarios, run_trajectory, compare)
give the same verdict across a process boundary (pickle / JSON) as in-process.
"""
import json
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from autograder import (CheckResult, Trajectory, check, check_ewma, check_optimizer,
                        check_schedule, compare, compare_all, run_trajectory, scenarios)
from autograder import checks


def flat(text):
    """``text`` with every run of whitespace as one space: reports wrap at word boundaries."""
    return " ".join(str(text).split())


class SGD:
    """A correct SGD, student style."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for name, p in params.items():
            p -= self.lr * grads[name]


# ----------------------------------------------------------------------- scenarios
@pytest.mark.parametrize("name", checks.OPTIMIZER_NAMES)
def test_optimizer_scenarios_cover_the_required_cases(name):
    everything = scenarios(name, "all")
    assert [s.visibility for s in everything] == sorted(s.visibility for s in everything)[::-1]
    assert scenarios(name, "visible") + scenarios(name, "hidden") == everything
    shapes = {a.shape for s in everything for _, _, a in s.params}
    dtypes = {a.dtype for s in everything for _, _, a in s.params}
    assert {(6,), (3, 4), (1,)} <= shapes and dtypes == {np.dtype("float64"), np.dtype("float32")}
    assert all(len(s.steps) >= 30 for s in everything)
    assert any(s.instances == 2 for s in scenarios(name, "visible"))
    assert any(len({p for i, p, _ in s.params if i == 0}) == 2 for s in scenarios(name, "visible"))
    assert any(any(lr is not None for lr, _ in s.steps) for s in everything)
    assert any(s.hyper != checks.DEFAULTS[name] for s in everything)
    grads = [g for s in everything for _, step in s.steps for _, _, g in step]
    assert any(not g.any() for g in grads)                                  # zero gradients
    assert any(0 < np.abs(g).max() < 1e-4 for g in grads)                   # tiny gradients


def test_scenarios_are_deterministic_plain_and_picklable():
    a = pickle.loads(pickle.dumps(scenarios("Adam", "all")))
    b = scenarios("Adam", "all")
    assert [s.name for s in a] == [s.name for s in b]
    np.testing.assert_array_equal(a[3].steps[7][1][0][2], b[3].steps[7][1][0][2])


def test_unknown_names_and_selections_are_refused_clearly():
    with pytest.raises(KeyError, match="unknown target 'Adamm'"):
        scenarios("Adamm")
    with pytest.raises(ValueError, match="which must be one of"):
        scenarios("Adam", "some")
    with pytest.raises(KeyError, match="unknown optimizer"):
        check_optimizer(SGD, "sgd")


# ----------------------------------------------------------------------- values and contract
def test_a_correct_student_class_passes_and_the_reference_matches_itself():
    assert check_optimizer(SGD, "SGD", "all").passed
    for name in checks.TARGETS:
        scs = scenarios(name, "all")
        trajs = [checks.reference_trajectory(sc) for sc in scs]
        # the reference's own trajectories, without the "uses the reference" flag
        clean = [Trajectory(t.target, t.scenario, t.values, t.steps_done) for t in trajs]
        assert compare_all(name, scs, clean).passed, name


def test_handing_in_the_library_class_fails():
    from dlcourse import optim
    from dlcourse.ewma import EWMA

    class Mine(optim.Adam):
        pass
    for code, name in [(optim.Adam, "Adam"), (Mine, "Adam"), (EWMA, "EWMA")]:
        r = check(code, name)
        assert not r.passed and r.problem == "uses the reference", name
        assert "write the class yourself" in flat(r)


def test_wrong_values_name_the_step_the_parameter_and_the_numbers():
    class Slow(SGD):
        def update(self, params, grads):
            for name, p in params.items():
                p -= 0.5 * self.lr * grads[name]
    r = check_optimizer(Slow, "SGD")
    assert not r.passed and r.problem == "values"
    assert r.scenario == "one vector" and r.step == 1 and r.param == "w" and r.index == (0,)
    assert len(r.expected) == len(r.got) == 3 and r.expected != r.got
    assert r.max_rel_error == pytest.approx(0.5, rel=1e-6)
    assert r.mistake is None


def test_replacing_a_parameter_is_reported_as_not_in_place():
    class OutOfPlace(SGD):
        def update(self, params, grads):
            for name in params:
                params[name] = params[name] - self.lr * grads[name]
    r = check_optimizer(OutOfPlace, "SGD")
    assert not r.passed and r.problem == "not in place"
    assert "in place" in flat(r)


@pytest.mark.parametrize("bad", ["list", "subclass", "liar", "float64"])
def test_untrusted_return_objects_cannot_pass(bad):
    class Liar:
        def __eq__(self, other):
            return True

        def __sub__(self, other):
            return self
        __rsub__ = __mul__ = __rmul__ = __truediv__ = __sub__
        __array_priority__ = 1000

    class Sub(np.ndarray):
        pass

    class Hostile(SGD):
        def update(self, params, grads):
            for name, p in list(params.items()):
                good = p - self.lr * grads[name]
                if bad == "list":
                    params[name] = good.tolist()
                elif bad == "subclass":
                    params[name] = good.view(Sub)
                elif bad == "liar":
                    params[name] = Liar()
                else:
                    params[name] = good.astype(np.float64)
    r = check_optimizer(Hostile, "SGD", "all")
    assert not r.passed
    expected = {"list": "not in place", "subclass": "not in place", "liar": "not in place",
                "float64": "not in place"}[bad]
    assert r.problem == expected
    details = " ".join(r.details)
    if bad in ("list", "liar"):
        assert "not a numpy.ndarray" in " ".join(
            v["detail"] for v in run_trajectory(Hostile, scenarios("SGD")[0]).violations)
    if bad == "float64":
        traj = run_trajectory(Hostile, scenarios("SGD", "hidden")[1])   # the float32 scenario
        assert any(v["kind"] == "wrong dtype" for v in traj.violations)
    assert details


def test_modified_gradients_are_reported():
    class Clobber(SGD):
        def update(self, params, grads):
            for name, p in params.items():
                g = grads[name]
                g *= self.lr
                p -= g
    r = check_optimizer(Clobber, "SGD")
    assert not r.passed and r.problem == "grads modified"


def test_an_exception_is_reported_at_the_students_line_not_as_a_crash():
    source = ("class Broken:\n"
              "    def __init__(self, lr=0.01):\n"
              "        self.lr = lr\n"
              "    def update(self, params, grads):\n"
              "        for name, p in params.items():\n"
              "            p -= self.lr * grads[name] * undefined_thing\n")
    import linecache
    filename = "<student cell 7>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = {}
    exec(compile(source, filename, "exec"), ns)
    r = check_optimizer(ns["Broken"], "SGD")
    assert not r.passed and r.problem == "error" and r.step == 1
    assert "NameError" in r.error and "undefined_thing" in r.error
    assert "in update, line 6: p -= self.lr * grads[name] * undefined_thing" in r.error
    assert "checks.py" not in r.error     # the grader's own frames are filtered out


def test_not_implemented_says_so():
    class Stub(SGD):
        def update(self, params, grads):
            raise NotImplementedError()
    r = check_optimizer(Stub, "SGD")
    assert r.problem == "not implemented" and "raise NotImplementedError()" in flat(r)


def test_student_warnings_are_caught_and_reported_on_stdout(capsys):
    class Noisy(SGD):
        def update(self, params, grads):
            for name, p in params.items():
                _ = grads[name] / np.abs(grads[name])     # 0/0 on zero gradients
                p -= self.lr * grads[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # any leak would raise here
        r = check_optimizer(Noisy, "SGD")
        assert r.passed and any("RuntimeWarning" in w for w in r.warnings)
        r.assert_passed()
    out = capsys.readouterr()
    assert "PASSED SGD" in out.out and "RuntimeWarning" in flat(out.out) and out.err == ""


def test_student_writes_to_stderr_are_caught_and_reported(capsys):
    import sys

    class Chatty(SGD):
        def update(self, params, grads):
            print("debug: stepping", file=sys.stderr)
            super().update(params, grads)
    r = check_optimizer(Chatty, "SGD")
    r.assert_passed()
    out = capsys.readouterr()
    assert out.err == "" and "your code wrote to stderr: debug: stepping" in flat(out.out)


def test_state_on_the_class_does_not_leak_between_scenarios():
    """Class-level state is reset per scenario, so the diagnosis sees a clean run."""
    from autograder.mistakes import MISTAKES
    cls = MISTAKES["momentum-shared-between-instances"].make()
    first = check_optimizer(cls, "Momentum")
    second = check_optimizer(cls, "Momentum")
    assert first.to_dict() == second.to_dict()
    assert first.scenario == "two optimizers at once" and first.scenarios_passed == 3


# ----------------------------------------------------------------------- EWMA and schedules
def test_ewma_checks_return_type_and_value():
    class ReturnsList:
        def __init__(self, beta=0.9):
            self.beta, self.value, self.step = beta, 0.0, 0

        def update(self, x):
            self.step += 1
            self.value = self.beta * self.value + (1 - self.beta) * x
            return [self.value / (1 - self.beta ** self.step)]
    r = check_ewma(ReturnsList)
    assert not r.passed and r.problem == "wrong type"


def test_schedule_checks_report_the_epoch():
    def step_decay(epoch, lr0, factor=0.5, every=10):
        return lr0 * factor ** (epoch // every) if epoch < 30 else 0.0
    r = check_schedule(step_decay, "step_decay")
    assert not r.passed and r.step == 30 and "epoch 30" in flat(r)


# ----------------------------------------------------------------------- results
def test_result_reads_well_and_raises_with_the_whole_report():
    from autograder.mistakes import MISTAKES
    r = check_optimizer(MISTAKES["adam-no-bias-correction"].make(), "Adam")
    text = str(r)
    assert text.startswith("FAILED Adam") and "diagnosis" in text and "hint:" in text
    assert "[adam-no-bias-correction]" in text and repr(r) == text
    assert "<pre" in r._repr_html_()
    with pytest.raises(AssertionError) as info:
        r.assert_passed()
    assert "adam-no-bias-correction" in str(info.value)
    assert not r
    assert CheckResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r


# ----------------------------------------------------------------------- the pieces, across a boundary
@pytest.mark.parametrize("key", ["adam-step-per-parameter", "rmsprop-accumulates", "cosine-no-half",
                                 "ewma-no-bias-correction", "adagrad-shared-between-parameters"])
def test_json_round_trip_gives_the_same_verdict(key):
    from autograder.mistakes import MISTAKES
    m = MISTAKES[key]
    scs = scenarios(m.target, "all")
    trajs = [run_trajectory(m.make(), sc) for sc in scs]
    wire = json.loads(json.dumps([t.to_dict() for t in trajs]))
    back = [Trajectory.from_dict(d) for d in wire]
    assert compare_all(m.target, scs, back).to_dict() == compare_all(m.target, scs, trajs).to_dict()
    unpickled = pickle.loads(pickle.dumps(scs))        # as a sandbox's parent might hold them
    assert compare_all(m.target, unpickled, back).to_dict() == compare_all(m.target, scs, trajs).to_dict()
    assert compare(m.target, scs[0], back[0]).to_dict() == compare(m.target, scs[0], trajs[0]).to_dict()


def test_from_dict_refuses_malformed_data():
    with pytest.raises(TypeError):
        Trajectory.from_dict(["not", "a", "dict"])
    with pytest.raises(ValueError):
        Trajectory.from_dict({"values": {"w": {"shape": [2], "data": [1.0, "x"]}}})
    with pytest.raises(ValueError):
        Trajectory.from_dict({"values": {"w": {"shape": [3], "data": [1.0, 2.0]}}})


def test_a_trajectory_with_missing_entries_fails_as_malformed():
    sc = scenarios("SGD")[0]
    t = run_trajectory(SGD, sc)
    t.values = {}
    assert compare("SGD", sc, t).problem == "malformed"


# ----------------------------------------------------------------------- property: any settings


@settings(max_examples=15, deadline=None)
@given(lr=st.floats(1e-4, 0.5), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.5, 0.9999),
       scale=st.sampled_from([1e-6, 1e-2, 1.0, 1e3]), seed=st.integers(0, 2**16))
def test_the_notebook_adam_matches_the_reference_for_any_settings(lr, beta1, beta2, scale, seed):
    """A scenario built on the fly (not catalogued) works too: the solution always passes."""
    import dataclasses
    from autograder.classgrade import samples
    ns = {}
    exec("import math\nimport numpy as np\n"
         "class Optimizer:\n    def __init__(self, lr):\n        self.lr = lr\n        self.state = {}\n", ns)
    exec(samples.solution_sources()["adam"], ns)
    rng = np.random.default_rng(seed)
    base = scenarios("Adam", "visible")[1]
    steps = tuple((None, tuple((i, p, (rng.standard_normal(g.shape) * scale)) for i, p, g in grads))
                  for _, grads in base.steps)
    sc = dataclasses.replace(base, name="hypothesis", steps=steps,
                             hyper=dict(lr=lr, beta1=beta1, beta2=beta2, eps=1e-8))
    assert compare("Adam", sc, run_trajectory(ns["Adam"], sc)).passed


def test_scenario_defaults_are_the_reference_constructors_defaults():
    """checks.DEFAULTS is a copy (the sandbox hides dlcourse); it must not drift from it."""
    import inspect

    from dlcourse import optim

    for name in checks.OPTIMIZER_NAMES:
        signature = inspect.signature(optim.OPTIMIZERS[name])
        reference = {key: p.default for key, p in signature.parameters.items()}
        assert checks.DEFAULTS[name] == reference, name


# ----------------------------------------------------------------------- what the student reads
def _slow_sgd_result():
    class Slow(SGD):
        def update(self, params, grads):
            for name, p in params.items():
                p -= (1 - 1e-4) * self.lr * grads[name]
    return check_optimizer(Slow, "SGD")


def test_a_small_difference_is_visible_in_the_digits_and_in_the_difference_column():
    """Today's bug: expected and got printed to 8 digits as absolute values looked equal."""
    r = _slow_sgd_result()
    assert r.quantity.startswith("θ − θ₀")          # what is compared: the displacement
    exp, got = r.expected[r.marked], r.got[r.marked]
    table = [line for line in str(r).splitlines() if line.lstrip().startswith(("> ", "w["))]
    marked = [line for line in table if line.lstrip().startswith(">")]
    assert len(marked) == 1 and r.labels[r.marked] in marked[0]
    words = marked[0].split()
    assert words[2] != words[3]                      # the two printed numbers differ
    # the printed digits differ by the difference, to the printed precision
    np.testing.assert_allclose(float(words[3]) - float(words[2]), got - exp, rtol=0.05)
    np.testing.assert_allclose(float(words[4]), got - exp, rtol=1e-2)   # the difference column


def test_the_error_measure_printed_is_the_one_compared():
    r = _slow_sgd_result()
    exp, got = r.expected[r.marked], r.got[r.marked]
    np.testing.assert_allclose(r.abs_error, abs(got - exp), rtol=1e-12)
    np.testing.assert_allclose(r.tolerance, r.rtol * abs(exp) + r.atol, rtol=1e-12)
    assert r.abs_error > r.tolerance
    assert f"|got − expected| = {r.abs_error:.3g} > tolerance {r.tolerance:.3g}" in flat(r)
    assert r.worst["abs_error"] >= r.abs_error and r.worst["label"].startswith("w[")


@pytest.mark.parametrize("expected, got, digits", [
    (-1.5508551, -1.5508551 + 3e-8, 9),     # the example: equal at 8 digits
    (1.0, 1.5, 6),                          # at least 6
    (0.1, 0.1 + 1e-15, 15),
    (2.0, 2.0, 17),                          # never differ: all of float64
    (float("nan"), 1.0, 6),
])
def test_digits_are_the_fewest_that_tell_the_two_values_apart(expected, got, digits):
    from autograder.result import digits_to_differ
    assert digits_to_differ(expected, got) == digits


@pytest.mark.parametrize("labels, expected, got, marked, rows", [
    (["w[0]", "w[1]"], [1.0, -2.0], [1.0, -2.5], 1,
     ["      w[0]  1   1  0", "    > w[1]  -2  -2.5  -0.5"]),
    (["lr"], [0.1], [0.1000001], 0, ["    > lr  0.1  0.1000001  +1e-07"]),
    (["b[0]"], [0.0], [float("nan")], 0, ["    > b[0]  0  nan  nan"]),
])
def test_the_table_marks_the_named_element_and_shows_the_difference(labels, expected, got, marked, rows):
    from autograder.result import _table
    lines = _table(labels, expected, got, marked)
    assert "expected" in lines[0] and "got − expected" in lines[0]
    assert [" ".join(line.split()) for line in lines[1:]] == [" ".join(r.split()) for r in rows]
    assert sum(line.startswith("    >") for line in lines) == 1


@pytest.mark.parametrize("text, indent", [
    ("hint: " + "use self.eps in update(), not the constant 1e-07 " * 4, 2),
    ("diagnosis: your trajectory matches the known mistake \"eps hard-coded\" "
     "[adagrad-eps-inside-sqrt+hard-coded(eps=1e-06)].", 2),
    ("short", 0),
])
def test_long_lines_wrap_at_word_boundaries(text, indent):
    from autograder.result import WIDTH, _wrap
    lines = _wrap(text, indent)
    assert " ".join(" ".join(lines).split()) == " ".join(text.split())     # no word cut
    assert all(len(line) <= WIDTH or " " not in line.strip() for line in lines)
    assert set(" ".join(lines).split()) == set(text.split())


def test_every_report_line_fits_the_validate_dialog():
    from autograder.mistakes import MISTAKES
    for key in ("adam-hard-coded(beta1=0.9,beta2=0.999,eps=1e-06)", "momentum-dampened",
                "adam-step-not-advanced+adam-eps-in-bias-correction"):
        m = MISTAKES[key]
        text = str(check(m.make(), m.target))
        long = [line for line in text.splitlines() if len(line) > 86]
        assert not long, long


def test_assert_passed_raises_an_assertion_error_that_renders_as_the_report():
    from autograder import CheckFailed
    r = _slow_sgd_result()
    with pytest.raises(AssertionError) as info:
        r.assert_passed()
    assert isinstance(info.value, CheckFailed)
    assert info.value._render_traceback_() == r.report().splitlines()


def test_in_a_kernel_the_error_output_starts_with_the_report(kernel_sockets):
    """Executed in a real IPython kernel: the cell's error output (what JupyterLab shows,
    what nbgrader's Validate joins and feedback renders) is the report, no grader frame."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
                    "from autograder import check_optimizer\n"
                    "class SGD:\n"
                    "    def __init__(self, lr=0.01):\n"
                    "        self.lr = lr\n"
                    "    def update(self, params, grads):\n"
                    "        for name, p in params.items():\n"
                    "            p -= 0.999 * self.lr * grads[name]\n"),
                nbformat.v4.new_code_cell('check_optimizer(SGD, "SGD").assert_passed()'),
                nbformat.v4.new_code_cell('print("still running")')]
    import pathlib

    import autograder
    here = str(pathlib.Path(autograder.__file__).resolve().parents[1])   # the kernel imports this code
    NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True,
                   config=kernel_sockets.config(), resources={"metadata": {"path": here}}).execute()
    (error,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    text = "\n".join(error.traceback)
    assert error.traceback[0].startswith('FAILED SGD: values at step 1, parameter w in scenario "one vector"')
    assert error.ename == "CheckFailed"                 # an AssertionError: nbgrader scores 0
    for frame_marker in ("Traceback", "result.py", "File ", "assert_passed", "\x1b["):
        assert frame_marker not in text, frame_marker
    assert "first difference" in text and "got − expected" in text
    assert nb.cells[2].outputs[0].text == "still running\n"


# ----------------------------------------------------------------------- hidden scenarios from a seed
def test_visible_scenarios_are_fixed_and_hidden_ones_are_drawn_from_the_seed():
    for name in checks.TARGETS:
        fixed_hidden = scenarios(name, "hidden")
        a, b = scenarios(name, "hidden", seed=11), scenarios(name, "hidden", seed=12)
        assert scenarios(name, "visible", seed=11) == scenarios(name, "visible")
        assert scenarios(name, "hidden", seed=None) == fixed_hidden          # the notebook's
        assert [s.seed for s in a] == [11] * len(a) and all(s.visibility == "hidden" for s in a)
        assert [s.description for s in a] != [s.description for s in b], name
        again = checks._drawn_scenarios.__wrapped__(name, 11)
        assert all(checks._same_scenario(x, y) for x, y in zip(a, again))   # deterministic
        assert scenarios(name, "all", seed=11) == scenarios(name, "visible") + a


@pytest.mark.parametrize("seed", [0, 1, 7, 2026])
def test_drawn_optimizer_scenarios_cover_what_the_fixed_ones_do(seed):
    for name in checks.OPTIMIZER_NAMES:
        drawn = scenarios(name, "hidden", seed=seed)
        dtypes = {a.dtype for s in drawn for _, _, a in s.params}
        assert dtypes == {np.dtype("float64"), np.dtype("float32")}
        assert any(s.instances == 2 for s in drawn) and any(s.lr_changes for s in drawn)
        assert any(len({p for i, p, _ in s.params if i == 0}) == 2 for s in drawn)
        grads = [g for s in drawn for _, step in s.steps for _, _, g in step]
        assert any(not g.any() for g in grads) and any(0 < np.abs(g).max() < 1e-4 for g in grads)
        for s in drawn:
            for h, v in s.hyper.items():
                if s.hyper != checks.DEFAULTS[name]:   # drawn away from every common constant
                    assert v not in checks.COMMON_DEFAULTS[name].get(h, ()), (name, h, v)


def test_a_table_of_precomputed_answers_cannot_pass_a_seeded_run():
    """Replaying the trajectory of the fixed hidden scenarios fails on drawn ones."""
    fixed = scenarios("Adam", "hidden")
    answers = {sc.name: checks.reference_trajectory(sc) for sc in fixed}
    drawn = scenarios("Adam", "hidden", seed=5)
    replay = [Trajectory("Adam", sc.name, answers[fixed[i % len(fixed)].name].values)
              for i, sc in enumerate(drawn)]
    assert not compare_all("Adam", drawn, replay).passed


def test_seeded_scenarios_compare_with_cached_trusted_trajectories_and_survive_pickling():
    from autograder.mistakes import MISTAKES
    m = MISTAKES["adam-step-per-parameter"]
    scs = scenarios("Adam", "all", seed=99)
    trajs = [run_trajectory(m.make(), sc) for sc in scs]
    direct = compare_all("Adam", scs, trajs)
    shipped = compare_all("Adam", pickle.loads(pickle.dumps(scs)),
                          [Trajectory.from_dict(json.loads(json.dumps(t.to_dict()))) for t in trajs])
    assert direct.to_dict() == shipped.to_dict()
    assert direct.mistake == "adam-step-per-parameter" and direct.mistake_certain
    misses = checks._cached_run.cache_info().misses
    assert compare_all("Adam", scs, trajs).to_dict() == direct.to_dict()
    assert checks._cached_run.cache_info().misses == misses      # served from the cache


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_a_bad_seed_is_refused_with_its_cause(bad):
    with pytest.raises(ValueError, match="seed must be None or a non-negative int"):
        scenarios("Adam", "hidden", seed=bad)


def test_run_trajectory_accepts_a_proxy_that_is_not_a_class():
    """The class grader passes a callable proxy forwarding to another process."""
    import inspect

    class InstanceProxy:
        def __init__(self, target):
            self._target = target

        def update(self, params, grads):
            return self._target.update(params, grads)

        def __setattr__(self, key, value):
            if key == "_target":
                object.__setattr__(self, key, value)
            else:
                setattr(self._target, key, value)

    class ClassProxy:
        def __call__(self, **hyper):
            return InstanceProxy(SGD(**hyper))

        def __getattr__(self, name):          # a proxy answers every attribute remotely
            raise ConnectionError(f"remote attribute {name}")

    proxy = ClassProxy()
    assert not inspect.isclass(proxy)
    scs = scenarios("SGD", "all", seed=3)
    trajs = [run_trajectory(proxy, sc) for sc in scs]
    assert all(not t.violations and t.error is None for t in trajs)
    assert compare_all("SGD", scs, trajs).passed


def test_recording_a_trajectory_does_not_load_the_mistake_catalogue():
    """What a sandboxed recorder imports (scenarios, run_trajectory) stays free of the
    catalogue, whose variants with their flags off are correct implementations."""
    import subprocess
    import sys
    code = ("import sys\nimport autograder\nfrom autograder import checks\n"
            "sc = checks.scenarios('Adam', 'all', seed=4)\n"
            "class A:\n    def __init__(self, **h):\n        self.lr = h['lr']\n"
            "    def update(self, p, g):\n        pass\n"
            "[checks.run_trajectory(A, s) for s in sc]\n"
            "print('autograder.mistakes' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_nbgrader_validate_shows_the_report_first_and_no_grader_frame(tmp_path, kernel_sockets):
    """The Validate button's command: the failing cell's error is the report itself."""
    import subprocess
    import sys

    import nbformat
    from autograder.classgrade import samples
    nb = samples.make_submission(samples.with_mistakes(samples.solution_sources(), ["momentum-dampened"]))
    nbformat.write(nb, tmp_path / "optimizers.ipynb")
    import os
    import pathlib

    import autograder
    here = str(pathlib.Path(autograder.__file__).resolve().parents[1])   # the code under test
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "nbgrader", "validate", "optimizers.ipynb",
                           *kernel_sockets.nbgrader_options()],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout
    assert "VALIDATION FAILED ON 1 CELL(S)" in out, out + done.stderr
    error = out.split("The error was:", 1)[1]
    assert error.strip().startswith('FAILED Momentum: values at step 1, parameter w in scenario "one vector".')
    assert "[momentum-dampened]" in error and "..." not in error     # no line cut by Validate
    for frame_marker in ("Traceback", "result.py", "File \"", "assert_passed"):
        assert frame_marker not in error, frame_marker


@settings(max_examples=200, deadline=None)
@example(a=0.0, b=-0.0)
@example(a=-1.5508551, b=-1.5508551 + 3e-8)
@given(a=st.floats(allow_nan=False, allow_infinity=False, width=64),
       b=st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_two_different_numbers_never_print_the_same_in_the_table(a, b):
    """Whatever the values, the marked row shows them with digits that tell them apart."""
    from autograder.result import _table
    row = _table(["w[0]"], [a], [b], 0)[1].split()
    if a != b:
        assert row[2] != row[3]
    else:
        assert row[2] == row[3] and row[4] == "0"


def test_a_nan_is_reported_as_such_not_as_a_nan_sized_error():
    from autograder.mistakes import MISTAKES
    r = check_optimizer(MISTAKES["adam-step-not-advanced"].make(), "Adam")
    text = flat(r)
    assert f"{r.labels[r.marked]}: got nan where 0.001 was expected: a NaN or an infinity never matches" in text
    assert "= nan >" not in text
