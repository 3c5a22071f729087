r"""Small deterministic data sets, generated in code (nothing is downloaded or shipped).

* :func:`daily_temperatures` — a year of London-like daily temperatures, for
  exponentially weighted averages (the "temperature in London" example of
  Andrew Ng's deeplearning.ai course, Improving Deep Neural Networks, week 2).
* :func:`window_corpus` — a tiny named-entity corpus for window classification
  (is the center word a LOCATION?), after Collobert et al. (2011), "Natural Language
  Processing (Almost) from Scratch", JMLR 12, as taught in Stanford CS224n. Its
  test set contains *held-out location synonyms* (endonyms such as "deutschland"
  for "germany") that never occur in training, for the "retraining word vectors"
  pitfall: words seen in training move, unseen ones stay where they started.
* :func:`pretrained_vectors` — stand-in "pre-trained" word vectors in which similar
  words start near each other (each synonym right next to its partner).
* :func:`classification_set` — a small multi-class set (default 2000 × 20) for
  Adam-paper style comparisons (Kingma & Ba 2015, section 6: logistic regression
  and a multi-layer network).
* :func:`validation_split` — hold out a stratified validation set from a training
  set, for choosing hyperparameters without touching the test set.

Every function takes a ``seed`` and builds its own ``np.random.default_rng(seed)``:
the same seed gives exactly the same data.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "daily_temperatures",
    "WindowCorpus",
    "window_corpus",
    "pretrained_vectors",
    "word_category",
    "ClassificationSet",
    "classification_set",
    "validation_split",
    "WORDS",
    "SYNONYMS",
    "PAD_LEFT",
    "PAD_RIGHT",
]


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        raise TypeError("pass an integer seed (the function builds its own Generator), not a Generator")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}") from exc


# =========================================================================== temperatures


def daily_temperatures(seed: int = 0, days: int = 365) -> np.ndarray:
    r"""A year of daily mean temperatures in °C, London-like, starting on 1 January.

    .. math::  T_t = 11 - 7\cos\!\Big(\frac{2\pi (t - 15)}{365}\Big) + \varepsilon_t,\qquad
               \varepsilon_t = 0.7\,\varepsilon_{t-1} + \eta_t,\ \eta_t \sim N(0, 1.8^2)

    A seasonal sinusoid (coldest mid-January around 4 °C, warmest mid-July around
    18 °C) plus AR(1) "weather" noise that persists for a few days, so a running
    average has something to smooth. Returns a float64 array of shape (days,).
    """
    days = _check_int("days", days, 1)
    rng = _rng(seed)
    t = np.arange(days, dtype=np.float64)
    seasonal = 11.0 - 7.0 * np.cos(2.0 * np.pi * (t - 15.0) / 365.0)
    eta = rng.normal(0.0, 1.8, size=days)
    noise = np.empty(days)
    noise[0] = eta[0] / np.sqrt(1.0 - 0.7**2)  # start in the stationary distribution
    for i in range(1, days):
        noise[i] = 0.7 * noise[i - 1] + eta[i]
    return seasonal + noise


# =========================================================================== window corpus

PAD_LEFT = "<s>"
PAD_RIGHT = "</s>"

#: Word lists by category. "location" words occur in training; "location_held_out"
#: words (endonyms) occur only in the test set. Each held-out word is a synonym of
#: a training location (see :data:`SYNONYMS`).
WORDS: dict = {
    "location": (
        "paris", "london", "berlin", "madrid", "rome", "vienna", "tokyo", "cairo",
        "prague", "moscow", "lisbon", "florence", "cologne", "munich",
        "france", "germany", "spain", "italy", "japan", "egypt", "greece", "peru",
    ),
    "location_held_out": (
        "deutschland", "espana", "italia", "nihon", "misr", "hellas",
        "roma", "wien", "praha", "moskva", "lisboa", "firenze", "koln", "munchen",
    ),
    "person": (
        "anna", "peter", "maria", "john", "sofia", "david", "laura", "omar",
        "yuki", "elena", "paul", "nina",
    ),
    "object": ("book", "car", "letter", "painting", "bike", "phone", "guitar", "lamp"),
    "time": ("june", "april", "march", "august", "winter", "summer", "autumn", "spring"),
    "verb": (
        "lives", "flew", "wrote", "arrived", "talked", "met", "sold", "moved",
        "is", "visited", "stayed", "broke", "bought", "called",
    ),
    "function": (
        "the", "a", "in", "to", "from", "near", "with", "we", "they", "she",
        "he", "my", "last", "week", ".",
    ),
}

#: Held-out location -> the training location it names.
SYNONYMS: dict = {
    "deutschland": "germany", "espana": "spain", "italia": "italy", "nihon": "japan",
    "misr": "egypt", "hellas": "greece", "roma": "rome", "wien": "vienna",
    "praha": "prague", "moskva": "moscow", "lisboa": "lisbon", "firenze": "florence",
    "koln": "cologne", "munchen": "munich",
}

# Sentence templates; {LOC} {PER} {OBJ} {TIME} are slots. Locations share contexts
# with persons ("to anna" / "to paris") and times ("in june" / "in rome"), so the
# center word itself matters, not only its neighbours.
_TEMPLATES = (
    "{PER} lives in {LOC} .",
    "we flew to {LOC} in {TIME} .",
    "{PER} wrote a {OBJ} in {LOC} .",
    "the {OBJ} from {LOC} arrived in {TIME} .",
    "{PER} talked to {PER} in {TIME} .",
    "they met {PER} near {LOC} .",
    "{PER} sold the {OBJ} to {PER} .",
    "she moved from {LOC} to {LOC} .",
    "my {OBJ} is in {LOC} .",
    "{PER} visited {LOC} in {TIME} .",
    "he stayed in {LOC} with {PER} .",
    "the {OBJ} broke in {TIME} .",
    "{PER} bought a {OBJ} in {TIME} .",
    "we called {PER} from {LOC} last week .",
    "{PER} moved to {LOC} in {TIME} .",
    "they visited {PER} in {LOC} .",
)

_SLOTS = {"{LOC}": "location", "{PER}": "person", "{OBJ}": "object", "{TIME}": "time"}


def word_category(word: str) -> str:
    """The category of a corpus word: 'location', 'location_held_out', 'person', ..., or 'pad'."""
    if word in (PAD_LEFT, PAD_RIGHT):
        return "pad"
    for cat, words in WORDS.items():
        if word in words:
            return cat
    raise KeyError(f"{word!r} is not a word of the window corpus")


@dataclass
class WindowCorpus:
    """The NER window corpus. Windows are rows of word ids, label 1 = center word is a location.

    Attributes
    ----------
    vocab : tuple of str; ``vocab[i]`` is the word with id ``i`` (pads first).
    word_to_id : dict str -> int.
    window : int, window length (odd; the center is ``window // 2``).
    train_windows, test_windows : int64 arrays (N, window) of word ids.
    train_labels, test_labels : int64 arrays (N,) of 0/1.
    test_unseen : bool array (N_test,), True where the center word never occurs in training.
    train_sentences, test_sentences : lists of token lists.
    held_out : tuple of the location words that occur only in the test set.
    synonyms : dict held-out word -> the training location it names.
    """

    vocab: tuple
    word_to_id: dict
    window: int
    train_windows: np.ndarray
    train_labels: np.ndarray
    test_windows: np.ndarray
    test_labels: np.ndarray
    test_unseen: np.ndarray
    train_sentences: list = field(repr=False)
    test_sentences: list = field(repr=False)
    held_out: tuple = field(repr=False)
    synonyms: dict = field(repr=False)

    def encode(self, tokens) -> np.ndarray:
        """Token list -> int64 array of ids (KeyError naming an unknown word)."""
        try:
            return np.array([self.word_to_id[t] for t in tokens], dtype=np.int64)
        except KeyError as exc:
            raise KeyError(f"word {exc.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids) -> list:
        """Ids -> list of words."""
        return [self.vocab[int(i)] for i in np.ravel(ids)]

    def windows_of(self, tokens) -> np.ndarray:
        """All windows (one per token, padded at the edges) of a sentence, as (len, window) ids."""
        return _windows(self.encode(tokens), self.window, self.word_to_id)

    def ids(self, words) -> np.ndarray:
        """Ids of a list of words (alias of :meth:`encode`)."""
        return self.encode(words)

    def __repr__(self) -> str:
        return (
            f"WindowCorpus(vocab={len(self.vocab)} words, window={self.window}, "
            f"train={len(self.train_labels)} windows ({int(self.train_labels.sum())} locations), "
            f"test={len(self.test_labels)} windows ({int(self.test_labels.sum())} locations, "
            f"{int(self.test_unseen.sum())} centered on held-out words))"
        )


def _windows(ids: np.ndarray, window: int, word_to_id: dict) -> np.ndarray:
    half = window // 2
    padded = np.concatenate(
        [np.full(half, word_to_id[PAD_LEFT]), ids, np.full(half, word_to_id[PAD_RIGHT])]
    ).astype(np.int64)
    idx = np.arange(len(ids))[:, None] + np.arange(window)[None, :]
    return padded[idx]


def _make_sentences(rng, n, held_out_share):
    sentences, is_loc = [], []
    for _ in range(n):
        template = _TEMPLATES[rng.integers(len(_TEMPLATES))].split()
        toks, labs = [], []
        for tok in template:
            if tok in _SLOTS:
                pool = WORDS[_SLOTS[tok]]
                if tok == "{LOC}" and held_out_share and rng.random() < held_out_share:
                    pool = WORDS["location_held_out"]
                toks.append(pool[rng.integers(len(pool))])
                labs.append(int(tok == "{LOC}"))
            else:
                toks.append(tok)
                labs.append(0)
        sentences.append(toks)
        is_loc.append(labs)
    return sentences, is_loc


def window_corpus(seed: int = 0, n_train: int = 400, n_test: int = 150, window: int = 5) -> WindowCorpus:
    r"""The location-classification window corpus (Collobert et al. 2011; CS224n).

    Sentences are drawn from templates such as "{PER} lives in {LOC} ." and filled
    from the :data:`WORDS` lists. Every token of a sentence is the center of one
    window of ``window`` word ids (edges padded with ``<s>`` / ``</s>``); the label is 1
    when the center word is a location.

    Training sentences use only the "location" words. Test sentences draw each
    location slot half of the time from the held-out synonyms
    (:data:`SYNONYMS`), which never appear in training; ``test_unseen`` marks
    the windows centered on them. The vocabulary contains every word (seen or
    not), so a model has an embedding row for each.

    Parameters
    ----------
    seed : int; the same seed gives the same corpus.
    n_train, n_test : number of sentences (each gives 5–9 windows).
    window : odd int ≥ 1 (5 in the lecture: two words each side).
    """
    n_train = _check_int("n_train", n_train, 1)
    n_test = _check_int("n_test", n_test, 1)
    window = _check_int("window", window, 1)
    if window % 2 == 0:
        raise ValueError(f"window must be odd so that it has a center word, got {window}")
    rng = _rng(seed)
    vocab = (PAD_LEFT, PAD_RIGHT) + tuple(w for words in WORDS.values() for w in words)
    word_to_id = {w: i for i, w in enumerate(vocab)}

    train_s, train_l = _make_sentences(rng, n_train, held_out_share=0.0)
    test_s, test_l = _make_sentences(rng, n_test, held_out_share=0.5)

    def build(sents, labs):
        wins = [_windows(np.array([word_to_id[t] for t in s]), window, word_to_id) for s in sents]
        return np.concatenate(wins), np.concatenate([np.array(lab, dtype=np.int64) for lab in labs])

    tr_w, tr_y = build(train_s, train_l)
    te_w, te_y = build(test_s, test_l)
    seen = np.zeros(len(vocab), dtype=bool)
    seen[np.unique(tr_w)] = True
    test_unseen = ~seen[te_w[:, window // 2]]
    return WindowCorpus(
        vocab=vocab,
        word_to_id=word_to_id,
        window=window,
        train_windows=tr_w,
        train_labels=tr_y,
        test_windows=te_w,
        test_labels=te_y,
        test_unseen=test_unseen,
        train_sentences=train_s,
        test_sentences=test_s,
        held_out=WORDS["location_held_out"],
        synonyms=dict(SYNONYMS),
    )


_CATEGORY_ORDER = ("pad", "location", "person", "object", "time", "verb", "function")


def pretrained_vectors(vocab, dim: int = 8, seed: int = 0, spread: float = 0.7) -> np.ndarray:
    r"""Stand-in "pre-trained" word vectors where similar words start near each other.

    Each category (location, person, object, time, verb, function word, padding)
    gets a centroid c ~ N(0, I_dim); a word's vector is its category centroid plus
    N(0, ``spread``² I) noise. A held-out location synonym starts right next to its
    partner: v(deutschland) = v(germany) + N(0, (0.05·spread)² I). So a classifier
    on *fixed* vectors generalises from "germany" to "deutschland"; retraining the
    vectors moves "germany" (seen in training) but not "deutschland" (unseen).

    Parameters
    ----------
    vocab : sequence of words (e.g. ``window_corpus().vocab``); unknown words get
        N(0, I) vectors.
    dim : int ≥ 1.
    seed : int.
    spread : float > 0, within-category standard deviation.

    Returns
    -------
    float64 array (len(vocab), dim), row i for ``vocab[i]``.
    """
    dim = _check_int("dim", dim, 1)
    if not (isinstance(spread, numbers.Real) and np.isfinite(spread) and spread > 0):
        raise ValueError(f"spread must be a finite number > 0, got {spread!r}")
    vocab = list(vocab)
    rng = _rng(seed)
    centroids = {cat: rng.normal(0.0, 1.0, size=dim) for cat in _CATEGORY_ORDER}
    own = {}
    for word in vocab:
        try:
            cat = word_category(word)
        except KeyError:
            own[word] = rng.normal(0.0, 1.0, size=dim)
            continue
        cat = "location" if cat == "location_held_out" else cat
        own[word] = centroids[cat] + rng.normal(0.0, spread, size=dim)
    for word in vocab:
        partner = SYNONYMS.get(word)
        if partner is not None:
            base = own.get(partner)
            if base is None:
                base = centroids["location"] + rng.normal(0.0, spread, size=dim)
            own[word] = base + rng.normal(0.0, 0.05 * spread, size=dim)
    return np.array([own[w] for w in vocab], dtype=np.float64).reshape(len(vocab), dim)


# =========================================================================== classification


@dataclass
class ClassificationSet:
    """Train/test split of a classification set: ``X_*`` float64 (N, D), ``y_*`` int64 (N,)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    def __iter__(self):
        """Unpack as ``X_train, y_train, X_test, y_test = classification_set()``."""
        return iter((self.X_train, self.y_train, self.X_test, self.y_test))

    def __repr__(self) -> str:
        return (
            f"ClassificationSet(train={self.X_train.shape}, test={self.X_test.shape}, "
            f"n_classes={self.n_classes})"
        )


def classification_set(
    seed: int = 0,
    n_samples: int = 2000,
    n_features: int = 20,
    n_classes: int = 4,
    test_fraction: float = 0.25,
    n_informative: int = 8,
) -> ClassificationSet:
    r"""A small multi-class set where an MLP beats logistic regression, for optimizer races.

    Each class is a mixture of two Gaussian blobs in the first ``n_informative``
    features (blob centres ~ N(0, 1.5² I), unit within-blob spread, so classes
    overlap a little and are not linearly separable); the remaining features are
    pure N(0, 1) noise. Features are then standardized with the training mean and
    standard deviation. Classes are balanced; rows are shuffled.

    Parameters
    ----------
    seed : int.
    n_samples : total rows (train + test), ≥ 2·n_classes.
    n_features : ≥ n_informative.
    n_classes : ≥ 2.
    test_fraction : in (0, 1).
    n_informative : ≥ 1.

    Returns
    -------
    :class:`ClassificationSet` (iterable as ``X_train, y_train, X_test, y_test``).
    """
    n_classes = _check_int("n_classes", n_classes, 2)
    n_samples = _check_int("n_samples", n_samples, 2 * n_classes)
    n_informative = _check_int("n_informative", n_informative, 1)
    n_features = _check_int("n_features", n_features, n_informative)
    if not (isinstance(test_fraction, numbers.Real) and 0.0 < test_fraction < 1.0):
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    n_test = int(round(n_samples * test_fraction))
    if not (1 <= n_test <= n_samples - 1):
        raise ValueError(f"test_fraction {test_fraction} leaves an empty train or test split")
    rng = _rng(seed)
    centres = rng.normal(0.0, 1.5, size=(n_classes, 2, n_informative))
    y = np.arange(n_samples) % n_classes
    blob = rng.integers(0, 2, size=n_samples)
    X = rng.normal(0.0, 1.0, size=(n_samples, n_features))
    X[:, :n_informative] += centres[y, blob]
    perm = rng.permutation(n_samples)
    X, y = X[perm], y[perm].astype(np.int64)
    X_train, X_test = X[n_test:], X[:n_test]
    y_train, y_test = y[n_test:], y[:n_test]
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1.0
    return ClassificationSet(
        X_train=(X_train - mean) / std,
        y_train=y_train,
        X_test=(X_test - mean) / std,
        y_test=y_test,
        n_classes=n_classes,
    )


def validation_split(X, y, fraction: float = 0.2, seed: int = 0):
    r"""Hold out a stratified random validation set: ``(X_fit, y_fit, X_val, y_val)``.

    Hyperparameters (a learning rate, a schedule, when to stop) are chosen on data
    the model was not fitted to and that is *not* the test set, so that the test
    score stays an unbiased estimate of the chosen model (CS231n, "Hyperparameter
    optimization"; Goodfellow et al., *Deep Learning*, 2016, §5.3.1).

    From every class c with :math:`n_c` rows, :math:`\operatorname{round}(\text{fraction}\cdot n_c)`
    rows, drawn at random, go to the validation set, so class proportions are kept
    in both parts. Both parts keep the original row order (a subsequence of ``X``),
    so a training loop's own shuffling is unaffected by how the split was drawn.

    Parameters
    ----------
    X : array (N, ...), rows are examples.
    y : int array (N,), class labels.
    fraction : float in (0, 1), the share of each class held out.
    seed : int; the same seed gives the same split.

    Returns
    -------
    X_fit, y_fit, X_val, y_val : the kept rows and the held-out rows (copies).
    """
    X, y = np.asarray(X), np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of labels, got shape {y.shape}")
    if X.ndim < 1 or len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {len(y)}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    if isinstance(fraction, bool) or not (isinstance(fraction, numbers.Real) and 0.0 < fraction < 1.0):
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    rng = _rng(seed)
    held_out = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        held_out[rng.choice(rows, size=int(round(fraction * len(rows))), replace=False)] = True
    if held_out.all() or not held_out.any():
        raise ValueError(
            f"fraction {fraction} of {len(y)} rows leaves an empty fitting or validation set"
        )
    return X[~held_out], y[~held_out], X[held_out], y[held_out]
