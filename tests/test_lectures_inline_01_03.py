"""The code written inline in lectures 01-03 agrees with the dlcourse library.

Lectures write some code out by hand because writing it *is* the lesson (the window
model's gradients, inverted dropout, a small MLP's backward pass). These tests pull
those functions out of the committed notebooks (only the ``def`` statements, via
``ast``, after running the notebook's import cell) and compare them with the library
on random inputs, so the notebooks cannot drift away from ``dlcourse``.
"""
import ast
import pathlib

import nbformat
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from dlcourse import layers, window
from dlcourse.gradcheck import check_gradient, numerical_gradient, relative_error

LECTURES = pathlib.Path(__file__).resolve().parents[1] / "lectures"


def load_functions(notebook: str, *names: str) -> dict:
    """Namespace holding the notebook's import cell plus the inline functions ``names``.

    The first code cell (the imports) is executed as is; from every other cell only
    the top-level function definitions are executed, so no training loop or plot runs.
    """
    nb = nbformat.read(LECTURES / notebook, as_version=4)
    code_cells = [c.source for c in nb.cells if c.cell_type == "code"]
    namespace: dict = {"__name__": "lecture_inline"}
    exec(compile(code_cells[0], f"{notebook}[imports]", "exec"), namespace)
    found = set()
    for source in code_cells:
        tree = ast.parse(source)
        defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        if defs:
            exec(compile(ast.Module(body=defs, type_ignores=[]), notebook, "exec"), namespace)
            found.update(node.name for node in defs)
    missing = set(names) - found
    assert not missing, f"{notebook} no longer defines {sorted(missing)} inline"
    return namespace


# ----------------------------------------------------------------------------- lecture 01


@pytest.fixture(scope="module")
def lecture01():
    return load_functions("01_backprop.ipynb", "window_score_and_grads", "buggy_grad_W", "forward_difference",
                          "deep_score_and_grads")


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "hard_tanh", "leaky_relu"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inline_window_gradients_match_dlcourse_window(lecture01, activation, seed):
    """Does the hand-written forward/backward give the library's score and all four gradients?"""
    rng = np.random.default_rng(seed)
    vocab, dim, hidden = 7, 3, 4
    params = window.init_params(vocab, dim, window=5, hidden=hidden, rng=rng)
    params["b"] += rng.normal(size=hidden)
    f, f_prime = layers.ACTIVATIONS[activation]
    for word_ids in [rng.integers(0, vocab, size=5), np.array([5, 0, 1, 5, 6]), np.array([2, 2, 2, 2, 2])]:
        s, grads = lecture01["window_score_and_grads"](
            params["L"], params["W"], params["b"], params["U"], word_ids, f=f, f_prime=f_prime
        )
        s_ref, cache = window.forward(params, word_ids, activation=activation)
        ref = window.backward(params, cache)
        assert_allclose(s, s_ref, rtol=1e-12, atol=1e-14)
        assert set(grads) == {"L", "W", "b", "U"}
        for name in grads:
            assert_allclose(grads[name], ref[name], rtol=1e-12, atol=1e-14, err_msg=f"gradient of {name}")


def test_inline_window_gradient_of_a_repeated_word_is_the_sum_of_its_slots(lecture01):
    """A word used twice in the window receives both slot gradients (the copy gate adds)."""
    rng = np.random.default_rng(5)
    params = window.init_params(6, 2, window=5, hidden=3, rng=rng)
    ids = np.array([4, 1, 2, 4, 3])
    _, grads = lecture01["window_score_and_grads"](params["L"], params["W"], params["b"], params["U"], ids)
    z = params["W"] @ params["L"][ids].reshape(-1) + params["b"]
    slots = (params["W"].T @ (params["U"] * layers.tanh_grad(z))).reshape(5, -1)
    assert_allclose(grads["L"][4], slots[0] + slots[3], rtol=1e-12, atol=1e-14)
    assert not np.any(grads["L"][[0, 5]]), "words outside the window must get a zero gradient row"


def test_inline_window_gradients_pass_a_gradient_check(lecture01):
    """Independent of the library's backward: centered differences of the score."""
    rng = np.random.default_rng(7)
    params = window.init_params(8, 3, window=5, hidden=4, rng=rng)
    ids = np.array([1, 3, 1, 7, 0])
    _, grads = lecture01["window_score_and_grads"](params["L"], params["W"], params["b"], params["U"], ids)
    score = lambda _: window.score(params, ids)
    for name in ["L", "W", "b", "U"]:
        result = check_gradient(score, params[name], grads[name])
        assert result, f"{name}: {result}"


def test_the_lectures_buggy_gradient_is_caught_and_the_library_gradient_passes(lecture01):
    """The notebook's deliberately wrong ∂J/∂W (f'(z) forgotten) must fail the check it is shown failing."""
    rng = np.random.default_rng(1)
    corpus_like = rng.integers(0, 20, size=(32, 5))
    labels = rng.integers(0, 2, size=32)
    params = window.init_params(20, 4, window=5, hidden=8, rng=rng)
    J = lambda _: window.loss_and_grads(params, corpus_like, labels)[0]
    bad = lecture01["buggy_grad_W"](params, corpus_like, labels)
    assert not check_gradient(J, params["W"], bad)
    assert check_gradient(J, params["W"], window.loss_and_grads(params, corpus_like, labels)[1]["W"])


def test_inline_forward_difference_is_first_order_close_to_the_centered_one(lecture01):
    """The one-sided difference used in the h sweep agrees with centered differences to O(h)."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 4))
    f = lambda x: float(np.sum(np.sin(A @ x.ravel())))
    x = rng.normal(size=(2, 2))
    before = x.copy()
    one_sided = lecture01["forward_difference"](f, x, 1e-6)
    assert_array_equal(x, before)  # the perturbation is undone
    assert relative_error(one_sided, numerical_gradient(f, x)) < 1e-5


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "leaky_relu"])
def test_inline_delta_recursion_with_one_layer_is_the_window_model(lecture01, activation):
    """L = 1: the recursion has nothing to recurse on and must give dlcourse.window's score and ∂s/∂W, ∂s/∂b, ∂s/∂u."""
    rng = np.random.default_rng(8)
    params = window.init_params(9, 3, window=5, hidden=4, rng=rng)
    params["b"] += rng.normal(size=4)
    ids = np.array([3, 1, 4, 1, 5])
    f, f_prime = layers.ACTIVATIONS[activation]
    s, grads, deltas = lecture01["deep_score_and_grads"](
        [params["W"]], [params["b"]], params["U"], params["L"][ids].reshape(-1), f=f, f_prime=f_prime)
    s_ref, cache = window.forward(params, ids, activation=activation)
    ref = window.backward(params, cache)
    assert_allclose(s, s_ref, rtol=1e-12, atol=1e-14)
    assert set(grads) == {"W1", "b1", "u"} and len(deltas) == 1
    assert_allclose(grads["W1"], ref["W"], rtol=1e-12, atol=1e-14)
    assert_allclose(grads["b1"], ref["b"], rtol=1e-12, atol=1e-14)
    assert_allclose(grads["u"], ref["U"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("widths", [[4, 3], [6, 5, 4], [7, 6, 5, 4, 3, 2]])
def test_inline_delta_recursion_passes_a_gradient_check_at_every_layer(lecture01, activation, widths):
    """δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ∘ f'(z^(l)): every W^(l), b^(l) and u agrees with centered differences."""
    rng = np.random.default_rng(len(widths))
    f, f_prime = layers.ACTIVATIONS[activation]
    Ws = [rng.normal(scale=1 / np.sqrt(a), size=(b, a)) for a, b in zip(widths[:-1], widths[1:])]
    bs = [rng.normal(scale=0.3, size=b) for b in widths[1:]]
    u, x = rng.normal(size=widths[-1]), rng.normal(size=widths[0])
    _, grads, deltas = lecture01["deep_score_and_grads"](Ws, bs, u, x, f=f, f_prime=f_prime)
    assert len(deltas) == len(Ws)
    score = lambda _: lecture01["deep_score_and_grads"](Ws, bs, u, x, f=f, f_prime=f_prime)[0]
    arrays = {**{f"W{l}": W for l, W in enumerate(Ws, 1)}, **{f"b{l}": b for l, b in enumerate(bs, 1)}, "u": u}
    assert set(grads) == set(arrays)
    for name, array in arrays.items():
        result = check_gradient(score, array, grads[name])
        assert result, f"{name}: {result}"


def test_inline_delta_recursion_equals_lecture03s_mlp_backward(lecture01, lecture03):
    """Two hand-written backward passes in two lectures agree: lecture 03's ReLU MLP with one output (no dropout,
    zero output bias) is lecture 01's s = uᵀh^(L) with u the output weights."""
    params = lecture03["init_mlp"]([5, 6, 4, 3, 1], np.random.default_rng(0))
    bias_rng = np.random.default_rng(1)
    for k in (1, 2, 3):
        params[f"b{k}"] = bias_rng.normal(scale=0.5, size=params[f"b{k}"].shape)
    x = np.random.default_rng(2).normal(size=5)
    logits, caches = lecture03["mlp_forward"](params, x[None, :], 1.0, 1.0, None, train=False)
    ref = lecture03["mlp_backward"](params, caches, np.ones((1, 1)))
    s, grads, _ = lecture01["deep_score_and_grads"](
        [params["W1"], params["W2"], params["W3"]], [params["b1"], params["b2"], params["b3"]], params["W4"][0], x,
        f=layers.relu, f_prime=layers.relu_grad)
    assert_allclose(s, logits[0, 0], rtol=1e-12)
    for k in (1, 2, 3):
        assert_allclose(grads[f"W{k}"], ref[f"W{k}"], rtol=1e-12, atol=1e-14, err_msg=f"W{k}")
        assert_allclose(grads[f"b{k}"], ref[f"b{k}"], rtol=1e-12, atol=1e-14, err_msg=f"b{k}")
    assert_allclose(grads["u"], ref["W4"][0], rtol=1e-12, atol=1e-14)

# ----------------------------------------------------------------------------- lecture 02


@pytest.fixture(scope="module")
def lecture02():
    return load_functions("02_nonlinearities_init_regularization.ipynb", "train_two_units", "deep_forward_backward",
                          "fit_softmax")


def _two_unit_problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] - X[:, 1] > 0).astype(float)
    return rng, X, y


def test_inline_two_unit_training_step_follows_the_loss_gradient(lecture02):
    """One step of the hand-written backprop equals −lr × the numerical gradient of the logistic loss."""
    rng, X, y = _two_unit_problem()
    W, b, u, c, lr = rng.normal(size=(2, 2)), rng.normal(size=2), rng.normal(size=2), 0.3, 0.1

    def loss(W_):
        scores = np.tanh(X @ W_.T + b) @ u + c
        return window.logistic_loss(scores, y)[0]

    history = lecture02["train_two_units"](W, b, u, c, X, y, lr=lr, steps=1)
    assert history.shape == (2, 2, 2)
    assert_allclose((history[0] - history[1]) / lr, numerical_gradient(loss, W.copy()), rtol=1e-7, atol=1e-10)


def test_inline_two_units_with_identical_init_stay_exactly_identical(lecture02):
    """The symmetry argument: equal incoming weights get equal updates forever; random ones do not."""
    rng, X, y = _two_unit_problem(1)
    same = lecture02["train_two_units"](np.full((2, 2), 0.3), np.zeros(2), np.full(2, 0.3), 0.0, X, y, steps=50)
    assert_array_equal(same[:, 0], same[:, 1])
    rand = lecture02["train_two_units"](rng.uniform(-1, 1, (2, 2)), np.zeros(2), rng.uniform(-1, 1, 2), 0.0, X, y, steps=50)
    assert np.max(np.abs(rand[-1, 0] - rand[-1, 1])) > 1e-3


def _replay_deep_network(make_W, seed, n_layers, width, batch):
    """The random draws of deep_forward_backward, in its order: input batch, one W per layer, upstream gradient."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((batch, width))
    weights = [make_W(width, width, rng) for _ in range(n_layers)]
    upstream = rng.standard_normal((batch, width)) / batch
    return h, weights, upstream


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_inline_deep_forward_backward_uses_the_library_activation_and_derivative(lecture02, activation):
    """One activation per layer, f(z) and mean f'(z) from dlcourse.layers, layer by layer."""
    from dlcourse import init

    acts, mean_grad, grads_W = lecture02["deep_forward_backward"](init.xavier_normal, activation, n_layers=3,
                                                                  width=20, batch=10, seed=4)
    assert len(acts) == len(mean_grad) == len(grads_W) == 3
    assert all(a.shape == (10, 20) for a in acts) and all(g.shape == (20, 20) for g in grads_W)
    f, f_prime = layers.ACTIVATIONS[activation]
    h, weights, _ = _replay_deep_network(init.xavier_normal, 4, 3, 20, 10)
    for layer, W in enumerate(weights):
        z = h @ W.T
        h = f(z)
        assert_allclose(acts[layer], h, rtol=1e-12, atol=1e-15)
        assert_allclose(mean_grad[layer], np.mean(f_prime(z)), rtol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky_relu"])
def test_inline_deep_backward_gives_the_gradient_of_the_upstream_weighted_output(lecture02, activation):
    """grads_W[l] is ∂J/∂W^(l) for J = Σ upstream ∘ h^(top): centered differences agree at every layer."""
    from dlcourse import init

    n_layers, width, batch, seed = 4, 6, 5, 7
    _, _, grads_W = lecture02["deep_forward_backward"](init.xavier_normal, activation, n_layers, width, batch, seed)
    h0, weights, upstream = _replay_deep_network(init.xavier_normal, seed, n_layers, width, batch)
    f = layers.ACTIVATIONS[activation][0]

    def J(_):
        h = h0
        for W in weights:
            h = f(h @ W.T)
        return float(np.sum(upstream * h))

    for layer, W in enumerate(weights):
        result = check_gradient(J, W, grads_W[layer])
        assert result, f"layer {layer + 1}: {result}"


def test_inline_fit_softmax_steps_down_the_cross_entropy_gradient(lecture02):
    """One step of fit_softmax is −lr × the numerical gradient of the mean cross-entropy, for W and for b."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    W, b, lr = rng.normal(size=(3, 4)), rng.normal(size=3), 0.2
    W_before, b_before = W.copy(), b.copy()
    losses = lecture02["fit_softmax"](W, b, X, y, lr=lr, steps=1)
    assert_array_equal(W, W_before)
    assert_array_equal(b, b_before)   # the start is copied, not changed
    loss = lambda W_, b_: layers.softmax_cross_entropy(X @ W_.T + b_, y)[0]
    assert losses.shape == (2,)
    assert_allclose(losses[0], loss(W, b), rtol=1e-12)
    grad_W = numerical_gradient(lambda W_: loss(W_, b), W.copy())
    grad_b = numerical_gradient(lambda b_: loss(W, b_), b.copy())
    assert_allclose(losses[1], loss(W - lr * grad_W, b - lr * grad_b), rtol=1e-7)


def test_inline_fit_softmax_from_the_log_priors_starts_at_their_entropy(lecture02):
    """W = 0, b = log π (π the label frequencies): the first loss is H(π); with b = 0 it is ln C."""
    y = np.array([0] * 90 + [1] * 7 + [2] * 3)
    X = np.random.default_rng(0).normal(size=(100, 2))
    priors = np.bincount(y) / len(y)
    start = lecture02["fit_softmax"](np.zeros((3, 2)), np.log(priors), X, y, steps=1)[0]
    assert_allclose(start, -np.sum(priors * np.log(priors)), rtol=1e-12)
    assert_allclose(lecture02["fit_softmax"](np.zeros((3, 2)), np.zeros(3), X, y, steps=1)[0], np.log(3), rtol=1e-12)


# ----------------------------------------------------------------------------- lecture 03


@pytest.fixture(scope="module")
def lecture03():
    return load_functions(
        "03_dropout.ipynb",
        "standard_dropout", "inverted_dropout", "inverted_dropout_backward",
        "init_mlp", "mlp_forward", "mlp_backward", "evaluate",
    )


@pytest.mark.parametrize("keep_prob", [0.2, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_inline_inverted_dropout_matches_dlcourse_layers(lecture03, keep_prob, shape):
    """Same seed -> the same output and the same scaled mask as layers.dropout_forward (keep_prob = P(keep))."""
    x = np.random.default_rng(11).normal(size=shape)
    out, mask = lecture03["inverted_dropout"](x, keep_prob, np.random.default_rng(9))
    out_ref, mask_ref = layers.dropout_forward(x, keep_prob, np.random.default_rng(9))
    assert_allclose(out, out_ref, rtol=0, atol=0)
    assert_allclose(mask, mask_ref, rtol=0, atol=0)
    dout = np.random.default_rng(12).normal(size=shape)
    assert_allclose(lecture03["inverted_dropout_backward"](dout, mask), layers.dropout_backward(dout, mask_ref), rtol=0, atol=0)
    # test time: identity, no mask
    out_test, mask_test = lecture03["inverted_dropout"](x, keep_prob, None, train=False)
    assert mask_test is None
    assert_allclose(out_test, layers.dropout_forward(x, keep_prob, None, train=False)[0], rtol=0, atol=0)
    assert_allclose(lecture03["inverted_dropout_backward"](dout, None), layers.dropout_backward(dout, None), rtol=0, atol=0)


def test_inline_standard_dropout_is_inverted_dropout_rescaled(lecture03):
    """Standard dropout keeps the same units but does not scale at train time, and scales by p at test time."""
    x = np.random.default_rng(0).normal(size=(6, 6))
    p = 0.6
    standard = lecture03["standard_dropout"](x, p, np.random.default_rng(3))
    inverted, _ = lecture03["inverted_dropout"](x, p, np.random.default_rng(3))
    assert_allclose(standard, p * inverted, rtol=1e-15, atol=0)
    assert_allclose(lecture03["standard_dropout"](x, p, None, train=False), p * x, rtol=0, atol=0)


def test_inline_mlp_backward_passes_a_gradient_check_with_dropout_masks_fixed(lecture03):
    """The experiment's MLP backward (dropout via layers.dropout_backward) agrees with centered differences."""
    params = lecture03["init_mlp"]([5, 6, 4, 3], np.random.default_rng(0))
    for name in params:
        if name.startswith("b"):
            params[name] += np.random.default_rng(1).normal(scale=0.1, size=params[name].shape)
    X = np.random.default_rng(2).normal(size=(8, 5))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])

    def loss(_):  # re-seeding fixes the dropout masks across evaluations
        logits, _c = lecture03["mlp_forward"](params, X, 0.8, 0.7, np.random.default_rng(5), True)
        return layers.softmax_cross_entropy(logits, y)[0]

    logits, caches = lecture03["mlp_forward"](params, X, 0.8, 0.7, np.random.default_rng(5), True)
    _, dlogits = layers.softmax_cross_entropy(logits, y)
    grads = lecture03["mlp_backward"](params, caches, dlogits)
    assert set(grads) == set(params)
    for name in params:
        result = check_gradient(loss, params[name], grads[name], tol=1e-6)
        assert result, f"{name}: {result}"


def test_inline_evaluate_runs_the_network_without_dropout(lecture03):
    """evaluate() is the deterministic test-time pass: loss and accuracy of the plain logits."""
    params = lecture03["init_mlp"]([4, 5, 3], np.random.default_rng(0))
    X = np.random.default_rng(1).normal(size=(10, 4))
    y = np.random.default_rng(2).integers(0, 3, size=10)
    loss, acc = lecture03["evaluate"](params, X, y)
    logits = layers.relu(X @ params["W1"].T + params["b1"]) @ params["W2"].T + params["b2"]
    assert_allclose(loss, layers.softmax_cross_entropy(logits, y)[0], rtol=1e-12)
    assert acc == np.mean(logits.argmax(axis=1) == y)
