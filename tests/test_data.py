"""Specification of dlcourse.data: small deterministic data sets, no downloads."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from dlcourse import data


# ---------------------------------------------------------------- temperatures


def test_temperatures_are_a_year_of_plausible_london_values():
    t = data.daily_temperatures()
    assert t.shape == (365,) and t.dtype == np.float64
    assert 8.0 < t.mean() < 14.0
    assert -10.0 < t.min() and t.max() < 32.0
    # winter colder than summer
    assert t[:60].mean() + 8.0 < t[160:240].mean()


def test_temperatures_are_deterministic_and_depend_on_the_seed():
    assert_allclose(data.daily_temperatures(0), data.daily_temperatures(0), rtol=0, atol=0)
    assert not np.allclose(data.daily_temperatures(0), data.daily_temperatures(1))


def test_temperatures_noise_persists_from_day_to_day():
    t = data.daily_temperatures(seed=3, days=3650)
    seasonal = 11.0 - 7.0 * np.cos(2 * np.pi * (np.arange(3650) - 15.0) / 365.0)
    r = t - seasonal
    lag1 = np.corrcoef(r[:-1], r[1:])[0, 1]
    assert_allclose(lag1, 0.7, atol=0.05)


def test_temperatures_reject_bad_arguments():
    with pytest.raises(ValueError, match="days"):
        data.daily_temperatures(days=0)
    with pytest.raises(ValueError, match="seed"):
        data.daily_temperatures(seed=-1)


# ---------------------------------------------------------------- window corpus


@pytest.fixture(scope="module")
def corpus():
    return data.window_corpus()


def test_corpus_is_deterministic():
    a, b = data.window_corpus(seed=0), data.window_corpus(seed=0)
    assert a.vocab == b.vocab
    assert np.array_equal(a.train_windows, b.train_windows)
    assert np.array_equal(a.test_labels, b.test_labels)
    c = data.window_corpus(seed=1)
    assert not np.array_equal(a.train_windows[:50], c.train_windows[:50])


def test_corpus_shapes_and_dtypes(corpus):
    assert corpus.window == 5
    assert corpus.train_windows.ndim == 2 and corpus.train_windows.shape[1] == 5
    assert corpus.train_windows.dtype == np.int64 and corpus.train_labels.dtype == np.int64
    assert corpus.train_labels.shape == (len(corpus.train_windows),)
    assert corpus.test_unseen.shape == corpus.test_labels.shape
    assert corpus.train_windows.max() < len(corpus.vocab)
    assert len(set(corpus.vocab)) == len(corpus.vocab)


def test_label_is_one_exactly_when_the_center_word_is_a_location(corpus):
    center = corpus.train_windows[:, 2]
    words = corpus.decode(center)
    is_loc = np.array([data.word_category(w).startswith("location") for w in words])
    assert np.array_equal(is_loc, corpus.train_labels == 1)
    words = corpus.decode(corpus.test_windows[:, 2])
    is_loc = np.array([data.word_category(w).startswith("location") for w in words])
    assert np.array_equal(is_loc, corpus.test_labels == 1)


def test_both_classes_occur(corpus):
    assert 0.05 < corpus.train_labels.mean() < 0.5


def test_held_out_synonyms_never_appear_in_training_but_do_in_test(corpus):
    train_words = set(corpus.decode(corpus.train_windows.ravel()))
    test_centres = set(corpus.decode(corpus.test_windows[:, 2]))
    assert not train_words & set(corpus.held_out)
    assert len(test_centres & set(corpus.held_out)) >= 5
    unseen_words = set(corpus.decode(corpus.test_windows[corpus.test_unseen, 2]))
    assert unseen_words <= set(corpus.held_out)
    assert np.all(corpus.test_labels[corpus.test_unseen] == 1)


def test_every_synonym_names_a_training_location():
    assert set(data.SYNONYMS) == set(data.WORDS["location_held_out"])
    assert set(data.SYNONYMS.values()) <= set(data.WORDS["location"])


def test_windows_of_a_sentence_are_padded_and_centred(corpus):
    w = corpus.windows_of(["anna", "lives", "in", "paris", "."])
    assert w.shape == (5, 5)
    assert corpus.decode(w[0]) == ["<s>", "<s>", "anna", "lives", "in"]
    assert corpus.decode(w[3]) == ["lives", "in", "paris", ".", "</s>"]


def test_unknown_word_is_named(corpus):
    with pytest.raises(KeyError, match="'atlantis'"):
        corpus.encode(["atlantis"])


def test_corpus_rejects_an_even_window():
    with pytest.raises(ValueError, match="odd"):
        data.window_corpus(window=4)


def test_pretrained_vectors_put_synonyms_next_to_their_partner_and_categories_together(corpus):
    V = data.pretrained_vectors(corpus.vocab, dim=8, seed=0)
    assert V.shape == (len(corpus.vocab), 8)
    assert_allclose(V, data.pretrained_vectors(corpus.vocab, dim=8, seed=0), rtol=0, atol=0)
    v = {w: V[i] for i, w in enumerate(corpus.vocab)}
    for held, seen in data.SYNONYMS.items():
        d_partner = np.linalg.norm(v[held] - v[seen])
        d_other = min(np.linalg.norm(v[held] - v[p]) for p in data.WORDS["person"])
        assert d_partner < 0.3 * d_other
    locs = np.array([v[w] for w in data.WORDS["location"]])
    pers = np.array([v[w] for w in data.WORDS["person"]])
    assert np.linalg.norm(locs.mean(0) - pers.mean(0)) > 0.5 * locs.std(0).mean()


def test_pretrained_vectors_reject_bad_dim(corpus):
    with pytest.raises(ValueError, match="dim"):
        data.pretrained_vectors(corpus.vocab, dim=0)


# ---------------------------------------------------------------- classification set


def test_classification_set_shapes_split_and_balance():
    cs = data.classification_set()
    X_train, y_train, X_test, y_test = cs
    assert X_train.shape == (1500, 20) and X_test.shape == (500, 20)
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) == set(range(cs.n_classes))
    counts = np.bincount(np.concatenate([y_train, y_test]))
    assert counts.min() == counts.max()
    assert_allclose(X_train.mean(0), 0.0, atol=1e-12)
    assert_allclose(X_train.std(0), 1.0, rtol=1e-12)


def test_classification_set_is_deterministic():
    a, b = data.classification_set(seed=5), data.classification_set(seed=5)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)


def test_classification_set_is_learnable_but_not_trivial():
    # nearest class mean (a linear rule) beats chance clearly but is far from perfect
    X_train, y_train, X_test, y_test = data.classification_set()
    means = np.stack([X_train[y_train == k].mean(0) for k in range(4)])
    pred = np.argmin(((X_test[:, None, :] - means) ** 2).sum(-1), axis=1)
    acc = np.mean(pred == y_test)
    assert 0.35 < acc < 0.95


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n_classes": 1}, "n_classes"), ({"test_fraction": 1.0}, "test_fraction"),
     ({"n_features": 3}, "n_features"), ({"n_samples": 3}, "n_samples")],
)
def test_classification_set_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.classification_set(**kwargs)
