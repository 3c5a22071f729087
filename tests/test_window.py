"""Specification of dlcourse.window: the window model s = Uᵀ f(Wx + b), forward and backward."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from dlcourse import data
from dlcourse import window as wm
from dlcourse.gradcheck import check_gradient

V, DIM, WIN, HID = 12, 3, 5, 4


def make_params(seed=0):
    params = wm.init_params(V, DIM, WIN, HID, np.random.default_rng(seed))
    params["b"] = np.random.default_rng(seed + 100).normal(size=HID)  # non-zero bias
    return params


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("ids", [[1, 2, 3, 4, 5], [7, 2, 7, 0, 11]], ids=["distinct", "repeated-word"])
@pytest.mark.parametrize("name", wm.PARAM_NAMES)
def test_single_window_gradients_match_centered_differences(activation, ids, name):
    params = make_params()
    s, cache = wm.forward(params, ids, activation)
    grads = wm.backward(params, cache)
    res = check_gradient(lambda _: wm.score(params, ids, activation), params[name], grads[name])
    assert res.max_rel_error < 1e-7, res


def test_repeated_word_gradient_is_the_sum_of_its_two_slot_gradients():
    params = make_params()
    ids = [7, 2, 7, 0, 11]  # word 7 in slots 0 and 2
    _, cache = wm.forward(params, ids)
    grads = wm.backward(params, cache)
    delta = params["U"] * (1 - np.tanh(cache["z"]) ** 2)
    dx = (params["W"].T @ delta).reshape(WIN, DIM)
    assert_allclose(grads["L"][7], dx[0] + dx[2], rtol=1e-12)
    assert_allclose(grads["L"][2], dx[1], rtol=1e-12)
    untouched = np.setdiff1d(np.arange(V), ids)
    assert np.all(grads["L"][untouched] == 0)


def test_backward_formulas_written_out():
    params = make_params()
    ids = np.array([1, 2, 3, 4, 5])
    s, cache = wm.forward(params, ids)
    x = params["L"][ids].ravel()
    z = params["W"] @ x + params["b"]
    assert_allclose(s, params["U"] @ np.tanh(z), rtol=1e-12)
    g = wm.backward(params, cache, ds=2.0)
    delta = 2.0 * params["U"] * (1 - np.tanh(z) ** 2)
    assert_allclose(g["b"], delta, rtol=1e-12)
    assert_allclose(g["W"], np.outer(delta, x), rtol=1e-12)
    assert_allclose(g["U"], 2.0 * np.tanh(z), rtol=1e-12)


def test_gradient_shapes_match_parameter_shapes():
    params = make_params()
    _, cache = wm.forward(params, [0, 1, 2, 3, 4])
    grads = wm.backward(params, cache)
    assert {k: v.shape for k, v in grads.items()} == {k: v.shape for k, v in params.items()}


def test_batched_scores_and_gradients_equal_the_loop():
    params = make_params(seed=3)
    rng = np.random.default_rng(7)
    windows = rng.integers(0, V, size=(9, WIN))
    windows[0] = [4, 4, 4, 1, 4]  # heavy repetition
    dscores = rng.normal(size=9)
    scores, cache = wm.forward_batch(params, windows)
    grads = wm.backward_batch(params, cache, dscores)
    loop = {k: np.zeros_like(v) for k, v in params.items()}
    for n, ids in enumerate(windows):
        s, c = wm.forward(params, ids)
        assert_allclose(scores[n], s, rtol=1e-12)
        for k, g in wm.backward(params, c, ds=dscores[n]).items():
            loop[k] += g
    for k in params:
        assert_allclose(grads[k], loop[k], rtol=1e-10, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("name", wm.PARAM_NAMES)
def test_logistic_loss_gradients_match_centered_differences(name):
    params = make_params(seed=1)
    rng = np.random.default_rng(2)
    windows = rng.integers(0, V, size=(6, WIN))
    labels = np.array([0, 1, 1, 0, 1, 0])
    _, grads = wm.loss_and_grads(params, windows, labels, lam=0.05)
    res = check_gradient(
        lambda _: wm.loss_and_grads(params, windows, labels, lam=0.05)[0], params[name], grads[name]
    )
    assert res.max_rel_error < 1e-7, res


def test_logistic_loss_is_stable_and_correct():
    loss, d = wm.logistic_loss(np.array([0.0, 800.0, -800.0]), np.array([1, 1, 0]))
    assert_allclose(loss, np.log(2) / 3, rtol=1e-12)
    assert_allclose(d, [-0.5 / 3, 0.0, 0.0], atol=1e-15)


def test_training_on_the_corpus_learns_locations():
    corpus = data.window_corpus()
    model = wm.WindowModel(len(corpus.vocab), 8, rng=np.random.default_rng(0))
    history = model.train(corpus.train_windows, corpus.train_labels, rng=np.random.default_rng(1), lr=0.3, epochs=10)
    assert len(history) == 10 and history[-1] < 0.5 * history[0]
    assert model.accuracy(corpus.train_windows, corpus.train_labels) > 0.97
    seen = ~corpus.test_unseen
    assert model.accuracy(corpus.test_windows[seen], corpus.test_labels[seen]) > 0.95


def test_frozen_embeddings_do_not_move_and_trained_ones_move_only_for_seen_words():
    corpus = data.window_corpus()
    emb = data.pretrained_vectors(corpus.vocab, dim=4, seed=0)
    vocab_size = len(corpus.vocab)
    frozen = wm.init_params(vocab_size, 4, rng=np.random.default_rng(0), embeddings=emb)
    wm.train(frozen, corpus.train_windows, corpus.train_labels, rng=np.random.default_rng(1),
             epochs=3, train_embeddings=False)
    assert_allclose(frozen["L"], emb, rtol=0, atol=0)
    trained = wm.init_params(vocab_size, 4, rng=np.random.default_rng(0), embeddings=emb)
    wm.train(trained, corpus.train_windows, corpus.train_labels, rng=np.random.default_rng(1), epochs=3)
    held = corpus.encode(corpus.held_out)
    seen = corpus.encode(list(corpus.synonyms.values()))
    assert_allclose(trained["L"][held], emb[held], rtol=0, atol=0)  # unseen words stay
    assert np.all(np.linalg.norm(trained["L"][seen] - emb[seen], axis=1) > 0)  # seen ones move
    assert emb is not trained["L"]


def test_train_accepts_an_optimizer_object_with_update():
    class CountingSGD:
        def __init__(self):
            self.lr, self.calls, self.keys = 0.1, 0, None

        def update(self, params, grads):
            self.calls += 1
            self.keys = sorted(params)
            for k in params:
                params[k] -= self.lr * grads[k]

    corpus = data.window_corpus(n_train=20)
    opt = CountingSGD()
    params = wm.init_params(len(corpus.vocab), 2, rng=np.random.default_rng(0))
    wm.train(params, corpus.train_windows, corpus.train_labels, rng=np.random.default_rng(0),
             optimizer=opt, epochs=2, batch_size=10**6, train_embeddings=False)
    assert opt.calls == 2 and opt.keys == ["U", "W", "b"]


def test_model_class_forward_backward_and_predict():
    model = wm.WindowModel(V, DIM, WIN, HID, np.random.default_rng(0), activation="relu")
    s = model.forward([0, 1, 2, 3, 4])
    assert s == model.score([0, 1, 2, 3, 4])
    assert set(model.backward()) == {"L", "W", "b", "U"}
    p = model.predict(np.zeros((3, WIN), dtype=int))
    assert p.shape == (3,) and set(np.unique(p)) <= {0, 1}
    assert "WindowModel(vocab_size=12" in repr(model)


def test_bad_inputs_name_the_cause():
    params = make_params()
    with pytest.raises(ValueError, match="window=5"):
        wm.forward(params, [1, 2, 3])
    with pytest.raises(IndexError, match=r"\[0, 12\)"):
        wm.forward(params, [1, 2, 3, 4, 12])
    with pytest.raises(TypeError, match="integers"):
        wm.forward(params, [1.0, 2.0, 3.0, 4.0, 5.0])
    with pytest.raises(KeyError, match="'U'"):
        wm.forward({k: v for k, v in params.items() if k != "U"}, [1, 2, 3, 4, 5])
    with pytest.raises(KeyError, match="unknown activation"):
        wm.forward(params, [1, 2, 3, 4, 5], activation="swish")
    with pytest.raises(TypeError, match="Generator"):
        wm.WindowModel(V, DIM)
    with pytest.raises(ValueError, match="0 or 1"):
        wm.logistic_loss(np.zeros(2), np.array([0, 2]))
    with pytest.raises(ValueError, match="embeddings must have shape"):
        wm.init_params(V, DIM, rng=np.random.default_rng(0), embeddings=np.zeros((V, DIM + 1)))
    with pytest.raises(RuntimeError, match="forward"):
        wm.WindowModel(V, DIM, rng=np.random.default_rng(0)).backward()


def test_train_with_the_reference_adam():
    from dlcourse import optim
    corpus = data.window_corpus(n_train=100)
    params = wm.init_params(len(corpus.vocab), 4, rng=np.random.default_rng(0))
    hist = wm.train(params, corpus.train_windows, corpus.train_labels, rng=np.random.default_rng(1),
                    optimizer=optim.Adam(lr=1e-2), epochs=5)
    assert hist[-1] < hist[0]
