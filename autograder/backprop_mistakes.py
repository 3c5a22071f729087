r"""The measured catalogue of backprop mistakes (grader-side knowledge).

Each :class:`Mistake` is a runnable variant of the reference written the way a student
writes it, otherwise correct; :func:`autograder.backprop.compare_all` runs the variants of the
checked target over the student's scenarios and names the one whose trajectory the student's
matches (value by value for the deterministic parts, by the statistical signature of the draws
for initialisation and dropout). A diagnosis is only offered for a variant that differs from
the reference in the failing scenario, so a correct variant can never be named.

``source`` says where each mistake was seen: lecture material that warns about it, or public
code found with the course's search tools (repository and file, where the index named them).
:data:`ALTERNATIVES` are *correct* forms that look different (δ through the Jacobian, loops
instead of the outer product, a one-hot product instead of ``np.add.at``, another draw order):
tests prove that each passes with no diagnosis. :data:`EXAMPLES` turns the instructor's
solution cell of ``assignments/source/backprop/backprop.ipynb`` into each mistake, for the
tests and the demo class.

This module is imported only by the grader's comparison, never by the process that records a
student's trajectory.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Mistake", "MISTAKES", "ALTERNATIVES", "EXAMPLES", "for_target", "alternatives_for"]


# ============================================================================ gates
def _gate(kind, mistake=None):
    """A gate class of ``kind`` ("add", "multiply", "max", "copy") with ``mistake`` in its backward."""

    class Gate:
        def __init__(self, n=2):
            self.n = n

        def forward(self, *inputs):
            self.inputs = inputs
            if kind == "add":
                return inputs[0] + inputs[1]
            if kind == "multiply":
                return inputs[0] * inputs[1]
            if kind == "max":
                return np.maximum(inputs[0], inputs[1])
            return tuple(inputs[0] for _ in range(self.n))

        def backward(self, upstream):
            if kind == "add":
                if mistake == "ignores upstream":
                    return np.ones_like(upstream), np.ones_like(upstream)
                return upstream, upstream
            if kind == "multiply":
                a, b = self.inputs
                if mistake == "no swap":
                    return upstream * a, upstream * b
                if mistake == "ignores upstream":
                    return b + 0 * upstream, a + 0 * upstream
                if mistake == "strict":     # correct: only the form differs
                    return b * upstream, a * upstream
                return upstream * b, upstream * a
            if kind == "max":
                a, b = self.inputs
                if mistake == "both":
                    return upstream, upstream
                a_wins = (a < b) if mistake == "smaller" else ((a > b) if mistake == "strict" else (a >= b))
                return np.where(a_wins, upstream, 0.0), np.where(a_wins, 0.0, upstream)
            if mistake == "last":
                return (upstream[-1],)
            if mistake == "strict":         # correct: np.sum over the stacked upstreams
                return (np.sum(np.stack([np.asarray(g) for g in upstream]), axis=0),)
            total = upstream[0]
            for g in upstream[1:]:
                total = total + g
            return (total,)

    Gate.__name__ = kind.capitalize() + "Gate"
    return Gate


# ============================================================================ the window model
def _window_forward(mistake=None):
    def window_forward(L, W, b, u, word_ids, f):
        if mistake == "columns":
            x = L[word_ids].T.reshape(-1)
        elif mistake == "concatenate":          # correct alternative
            x = np.concatenate([L[i] for i in word_ids])
        else:
            x = L[word_ids].reshape(-1)
        z = W @ x + b
        h = z if mistake == "no activation" else f(z)
        return float(u @ h), {"x": x, "z": z, "h": h}
    return window_forward


def _window_backward(mistake=None):
    def window_backward(ds, cache, W, u, f_prime):
        x, z, h = cache["x"], cache["z"], cache["h"]
        up = 1.0 if mistake == "ignores ds" else ds
        if mistake == "no fprime":
            delta = up * u
        elif mistake == "fprime of h":
            delta = up * u * f_prime(h)
        elif mistake == "jacobian":                      # correct: δ = ds·uᵀ diag(f'(z))
            delta = ds * (u @ np.diag(f_prime(z)))
        else:
            delta = up * u * f_prime(z)
        if mistake == "transposed":
            dW = np.outer(x, delta)
        elif mistake == "loops":                         # correct: the outer product entry by entry
            dW = np.zeros((len(delta), len(x)))
            for i in range(len(delta)):
                for j in range(len(x)):
                    dW[i, j] = delta[i] * x[j]
        elif mistake == "broadcast":                     # correct: δ[:, None] * x[None, :]
            dW = delta[:, None] * x[None, :]
        else:
            dW = np.outer(delta, x)
        du = up * z if mistake == "du uses z" else up * h
        dx = np.einsum("ij,i->j", W, delta) if mistake == "broadcast" else W.T @ delta
        return {"u": du, "b": delta, "W": dW, "x": dx}
    return window_backward


def _embedding_grad(mistake=None):
    def embedding_grad(dx, word_ids, vocab_size):
        w = len(word_ids)
        d = len(dx) // w
        per_word = dx.reshape(d, w).T if mistake == "split transposed" else dx.reshape(w, d)
        dL = np.zeros((vocab_size, d))
        if mistake == "overwrite":
            dL[word_ids] += per_word                 # buffered: a repeated row keeps only one slot
        elif mistake == "loop":                      # correct
            for k, i in enumerate(word_ids):
                dL[i] += per_word[k]
        elif mistake == "one-hot":                   # correct: dL = onehotᵀ · per_word
            onehot = np.zeros((w, vocab_size))
            onehot[np.arange(w), word_ids] = 1.0
            dL = onehot.T @ per_word
        else:
            np.add.at(dL, word_ids, per_word)
        return dL
    return embedding_grad


# ============================================================================ gradient checking
def _numerical_gradient(mistake=None):
    def numerical_gradient(f, x, h=1e-4):
        grad = np.zeros(x.shape)
        if mistake == "all at once":
            for idx in np.ndindex(x.shape):
                grad[idx] = (f(x + h) - f(x - h)) / (2 * h)
            return grad
        for idx in np.ndindex(x.shape):
            old = x[idx]
            if mistake == "copies":                   # correct for a pure f
                xp, xm = x.copy(), x.copy()
                xp[idx], xm[idx] = old + h, old - h
                grad[idx] = (f(xp) - f(xm)) / (2 * h)
                continue
            if mistake == "half steps":               # correct: x ± h/2 over h (error O(h²) too)
                x[idx] = old + h / 2
                f_plus = f(x)
                x[idx] = old - h / 2
                f_minus = f(x)
                x[idx] = old
                grad[idx] = (f_plus - f_minus) / h
                continue
            if mistake == "add and subtract":         # correct up to round-off in x
                x[idx] += h
                f_plus = f(x)
                x[idx] -= 2 * h
                f_minus = f(x)
                x[idx] += h
                grad[idx] = (f_plus - f_minus) / (2 * h)
                continue
            x[idx] = old + h
            f_plus = f(x)
            x[idx] = old if mistake == "one-sided" else old - h
            f_minus = f(x)
            if mistake != "not restored":
                x[idx] = old
            width = h if mistake in ("one-sided", "divides by h") else 2 * h
            grad[idx] = (f_plus - f_minus) / width
        return grad
    return numerical_gradient


def _relative_error(mistake=None):
    def relative_error(a, b):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if mistake == "elementwise":
            return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
        if mistake == "norms":
            return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))
        numerator = np.max(np.abs(a - b))
        if mistake == "one-sided denominator":
            return float(numerator / max(np.max(np.abs(a)), 1e-300))
        denominator = np.max(a + b) if mistake == "no abs" else np.max(np.abs(a) + np.abs(b))
        if mistake == "no guard":
            return float(numerator / denominator)
        if mistake == "large guard":
            return float(numerator / max(denominator, 1e-8))
        if mistake == "finfo tiny":                  # correct: another tiny guard
            return float(numerator / max(denominator, np.finfo(float).tiny))
        return float(numerator / max(denominator, 1e-300))
    return relative_error


# ============================================================================ initialisation
def _init(target, mistake=None):
    def init(n_in, n_out, rng):
        uniform = target == "xavier_uniform"
        var = 2.0 / n_in if target == "he_normal" else 2.0 / (n_in + n_out)
        if mistake == "fan-in only":
            var = 1.0 / n_in
        elif mistake == "as xavier":
            var = 2.0 / (n_in + n_out)
        elif mistake == "fan-out":
            var = 2.0 / n_out
        std = np.sqrt(var)
        if mistake == "std is variance":
            std = var
        shape = (n_in, n_out) if mistake == "transposed" else (n_out, n_in)
        if mistake == "drawn transposed":            # correct: other draw order, same distribution
            return draw(rng, (n_in, n_out), uniform, std).T
        return draw(rng, shape, uniform, std)

    def draw(rng, shape, uniform, std):
        if uniform:
            r = std if mistake == "radius is std" else np.sqrt(3.0) * std
            if mistake == "scaled random":           # correct: r·(2U − 1)
                return (rng.random(shape) * 2.0 - 1.0) * r
            return rng.uniform(-r, r, size=shape)
        if mistake == "scaled random":               # correct: σ·N(0, 1)
            return rng.standard_normal(shape) * std
        return rng.normal(0.0, std, size=shape)

    init.__name__ = target
    return init


# ============================================================================ dropout
def _dropout(mistake=None):
    class Dropout:
        def __init__(self, keep_prob, rng):
            self.keep_prob, self.rng, self.mask = keep_prob, rng, None

        def forward(self, x, train=True):
            p = self.keep_prob
            if not train and mistake != "drops at test":
                self.mask = None
                return x * p if mistake in ("scales at test", "vanilla") else x
            if mistake == "binomial":                            # correct: another draw
                keep = self.rng.binomial(1, p, size=x.shape).astype(bool)
            elif mistake == "upper tail":                        # correct: keep where U ≥ 1 − p
                keep = self.rng.random(x.shape) >= 1 - p
            elif mistake in ("keep is drop", "torch convention"):
                keep = self.rng.random(x.shape) < 1 - p
            else:
                keep = self.rng.random(x.shape) < p
            if mistake == "scale by p":
                scale = p
            elif mistake == "vanilla":
                scale = 1.0
            elif mistake == "torch convention":
                scale = 1.0 / (1.0 - p)
            else:
                scale = 1.0 / p
            if mistake == "unscaled mask":
                self.mask = keep.astype(float)
                return x * self.mask / p
            self.mask = keep * scale
            return x * self.mask

        def backward(self, dout):
            if self.mask is None:
                return dout
            if mistake == "backward ignores mask":
                return dout
            if mistake == "backward rescales":
                return dout * self.mask / self.keep_prob
            return dout * self.mask
    return Dropout


# ============================================================================ L2
def _l2(mistake=None):
    def l2_penalty(weights, lam):
        if mistake == "norm not squared":
            penalty = 0.5 * lam * sum(np.linalg.norm(W) for W in weights)
        elif mistake == "norm squared":                      # correct: ‖W‖²
            penalty = 0.5 * lam * sum(np.linalg.norm(W) ** 2 for W in weights)
        else:
            half = 1.0 if mistake == "no half" else 0.5
            penalty = half * lam * sum(np.sum(W * W) for W in weights)
        factor = 2.0 if mistake == "grad factor 2" else 1.0
        return penalty, [factor * lam * W for W in weights]
    return l2_penalty


# ============================================================================ the catalogue
@dataclass(frozen=True)
class Mistake:
    """One known mistake: a stable key, its target, a title, a hint, a factory and a source."""

    key: str
    target: str
    title: str
    hint: str
    make: Callable[[], object]
    source: str = ""

    def __repr__(self):
        return f"Mistake({self.key!r}, target={self.target!r})"


def _const(obj):
    return lambda: obj


_LECTURE01 = "lectures/01_backprop.ipynb (the lecture's own warning)"
_CS231N_INTUITIONS = "cs231n notes, 'Backpropagation, Intuitions' (gate patterns)"

_CATALOGUE = [
    # -- gates
    Mistake("add-ignores-upstream", "AddGate", "add gate returns its local gradient 1, not the upstream gradient",
            "chain rule: downstream = upstream × local; the add gate's local gradients are 1, so return (upstream, upstream).",
            _const(_gate("add", "ignores upstream")), _CS231N_INTUITIONS),
    Mistake("multiply-no-swap", "MultiplyGate", "multiply gate does not swap its inputs",
            "d(a·b)/da = b: a receives upstream·b and b receives upstream·a (the inputs swap).",
            _const(_gate("multiply", "no swap")), _CS231N_INTUITIONS),
    Mistake("multiply-ignores-upstream", "MultiplyGate", "multiply gate forgets the upstream gradient",
            "multiply the local gradients by the upstream gradient: (upstream·b, upstream·a).",
            _const(_gate("multiply", "ignores upstream")), _CS231N_INTUITIONS),
    Mistake("max-routes-to-both", "MaxGate", "max gate routes the gradient to both inputs",
            "max routes: only the larger input gets the upstream gradient, the other gets 0.",
            _const(_gate("max", "both")), _CS231N_INTUITIONS + "; CS224n lecture 'Backpropagation and computation graphs'"),
    Mistake("max-routes-to-smaller", "MaxGate", "max gate routes the gradient to the smaller input",
            "the gradient goes to the input that won the max (a >= b routes to a), not to the loser.",
            _const(_gate("max", "smaller")), "an inverted comparison; same gate pattern as above"),
    Mistake("copy-keeps-last", "CopyGate", "copy gate keeps only the last gradient instead of adding them",
            "a value used several times gets the SUM of the gradients of its uses (here dy = 2 + 3 = 5).",
            _const(_gate("copy", "last")), _LECTURE01 + ", section 2 (copy gate adds)"),
    # -- the window model
    Mistake("window-no-activation", "window_forward", "the activation f is not applied (h = z)",
            "h = f(z): pass z through the activation before scoring, s = u·f(W x + b).",
            _const(_window_forward("no activation"))),
    Mistake("window-columns", "window_forward", "word vectors concatenated column by column (L[ids].T.reshape(-1))",
            "x stacks whole word vectors one after another: L[word_ids].reshape(-1) (row k is word k).",
            _const(_window_forward("columns"))),
    Mistake("outer-product-transposed", "window_backward", "∂s/∂W is the transposed outer product x δᵀ",
            "the gradient has the shape of W, (H, w·d): dW = np.outer(delta, x) = δ xᵀ, not x δᵀ.",
            _const(_window_backward("transposed")), "CS224n, 'Matrix calculus and backpropagation' (shape convention); "
                                                    + _LECTURE01),
    Mistake("missing-fprime", "window_backward", "δ is missing the f′(z) factor",
            "δ = ds · u ∘ f′(z): the activation's derivative at z multiplies u element-wise.",
            _const(_window_backward("no fprime")), _LECTURE01 + ", section 3 (buggy_grad_W)"),
    Mistake("fprime-of-h", "window_backward", "f′ evaluated at the activation h instead of at z",
            "f_prime takes the pre-activation: f_prime(z), not f_prime(h) (1 − tanh²(z) is 1 − h², not 1 − tanh²(h)).",
            _const(_window_backward("fprime of h")),
            "indexed NumPy code mixes derivative helpers that take the output (s·(1 − s)) with ones that take z "
            "(calls such as sigmoid_derivative(sigmoid(z)), tanh_derivative(tanh(x))); with a helper of z that is f′(h)"),
    Mistake("du-uses-z", "window_backward", "∂s/∂u uses z instead of h = f(z)",
            "s = u·h, so ∂s/∂u = ds · h (the activations), not the pre-activations z.",
            _const(_window_backward("du uses z"))),
    Mistake("upstream-ignored", "window_backward", "the upstream gradient ds is ignored",
            "every gradient of s is multiplied by the upstream ds = ∂J/∂s (it is 1 only for the raw score).",
            _const(_window_backward("ignores ds"))),
    Mistake("repeat-overwritten", "embedding_grad",
            "a repeated word is overwritten instead of accumulated (dL[ids] += g)",
            "buffered fancy indexing keeps one slot per repeated row; use np.add.at(dL, word_ids, per_word) "
            "or a loop dL[i] += per_word[k].", _const(_embedding_grad("overwrite")), _LECTURE01 + ", section 1"),
    Mistake("split-transposed", "embedding_grad", "Wᵀδ split into word gradients column-wise",
            "slot k of the window is entries k·d .. k·d + d − 1 of Wᵀδ: dx.reshape(len(word_ids), d).",
            _const(_embedding_grad("split transposed"))),
    # -- gradient checking
    Mistake("one-sided-difference", "numerical_gradient", "one-sided difference (f(x + h) − f(x)) / h",
            "use the centered difference (f(x + h) − f(x − h)) / (2h): its error is O(h²), not O(h).",
            _const(_numerical_gradient("one-sided")), "cs231n notes, 'Gradient checks' (use the centered formula)"),
    Mistake("centered-over-h", "numerical_gradient", "centered difference divided by h instead of 2h",
            "the two evaluations are 2h apart: divide f(x + h) − f(x − h) by 2*h.",
            _const(_numerical_gradient("divides by h"))),
    Mistake("not-restored", "numerical_gradient", "x is not restored after perturbing an entry",
            "put the old value back (x[idx] = old) before moving on, or every later entry is checked at a shifted point.",
            _const(_numerical_gradient("not restored"))),
    Mistake("all-at-once", "numerical_gradient", "every entry perturbed at once (f(x + h) with a scalar h)",
            "perturb one entry at a time: x[idx] = old + h; the whole-array shift gives a directional derivative.",
            _const(_numerical_gradient("all at once"))),
    Mistake("relerr-no-guard", "relative_error", "relative error without the guard for all-zero arrays (0/0 = nan)",
            "divide by max(max(|a| + |b|), 1e-300): two all-zero gradients agree exactly, their error is 0.",
            _const(_relative_error("no guard"))),
    Mistake("relerr-no-abs", "relative_error", "absolute values missing in the denominator, max(a + b)",
            "the denominator is max(|a| + |b|): with a ≈ −b, a + b ≈ 0 and the error explodes or turns negative.",
            _const(_relative_error("no abs"))),
    Mistake("relerr-elementwise", "relative_error", "cs231n's element-wise relative error",
            "this assignment's relative error is max|a − b| / max(|a| + |b|) over the whole arrays, not the largest "
            "element-wise ratio (cs231n's rel_error).",
            _const(_relative_error("elementwise")),
            "cs231n assignments' rel_error, np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))) "
            "(in dozens of indexed solution repositories)"),
    Mistake("relerr-norms", "relative_error", "deeplearning.ai's norm ratio ‖a − b‖ / (‖a‖ + ‖b‖)",
            "use the largest entries, max|a − b| / max(|a| + |b|), not Euclidean norms.",
            _const(_relative_error("norms")),
            "deeplearning.ai 'Gradient Checking' assignment, difference = ‖grad − gradapprox‖₂ / (‖grad‖₂ + ‖gradapprox‖₂)"),
    Mistake("relerr-one-sided-denominator", "relative_error", "denominator from one array only, max|a|",
            "the relative error is symmetric: divide by max(|a| + |b|); max|a| is 0 when a is the zero gradient.",
            _const(_relative_error("one-sided denominator")),
            "an indexed rel_error, np.max(np.abs(x - y)) / (np.max(np.abs(x)) + 1e-30)"),
    Mistake("relerr-large-guard", "relative_error", "guard 1e-8 swamps tiny gradients",
            "guard with 1e-300 (only exact zeros): max(denominator, 1e-8) reports tiny but wrong gradients as right.",
            _const(_relative_error("large guard")), "cs231n's 1e-8 guard used on the whole-array formula"),
    # -- initialisation
    Mistake("xavier-uniform-fan-in-only", "xavier_uniform", "Xavier with n_in only (Var = 1/n_in)",
            "Glorot's variance averages both fans: Var = 2/(n_in + n_out), so r = sqrt(6/(n_in + n_out)).",
            _const(_init("xavier_uniform", "fan-in only")), "Caffe's 'xavier' filler (fan_in); "
            "indexed: Carl00000000/Font starting_value.py, randn(n)/sqrt(n)"),
    Mistake("xavier-uniform-radius-is-std", "xavier_uniform", "uniform radius set to the standard deviation (√3 missing)",
            "U(−r, r) has variance r²/3: for Var = 2/(n_in + n_out) take r = sqrt(6/(n_in + n_out)), not sqrt(2/(...)).",
            _const(_init("xavier_uniform", "radius is std")),
            "indexed: an xavier_init with limit = np.sqrt(1 / n_in) for np.random.uniform(-limit, limit)"),
    Mistake("init-transposed", "xavier_uniform", "weight matrix drawn with shape (n_in, n_out)",
            "W maps n_in inputs to n_out outputs (z = W x), so its shape is (n_out, n_in).",
            _const(_init("xavier_uniform", "transposed")),
            "indexed: init_Xavier(in_features, out_features) -> randn(in_features, out_features)"),
    Mistake("xavier-normal-fan-in-only", "xavier_normal", "Xavier with n_in only (Var = 1/n_in)",
            "Glorot's variance averages both fans: std = sqrt(2/(n_in + n_out)).",
            _const(_init("xavier_normal", "fan-in only")),
            "indexed: Ishaan-Maheshwari/da6401_assignment1 my_nn/initializers.py, randn(*shape) * sqrt(1/shape[0])"),
    Mistake("xavier-normal-std-is-variance", "xavier_normal", "variance passed where the standard deviation goes",
            "rng.normal takes the standard deviation: scale = sqrt(2/(n_in + n_out)), not 2/(n_in + n_out).",
            _const(_init("xavier_normal", "std is variance")),
            "indexed: a weights(n_in, n_out) returning np.random.normal(0, 2 / (n_in + n_out))"),
    Mistake("he-as-xavier", "he_normal", "He initialisation with Xavier's variance 2/(n_in + n_out)",
            "He doubles the fan-in variance for ReLU: std = sqrt(2/n_in).",
            _const(_init("he_normal", "as xavier")),
            "indexed: an init_He with std = numpy.sqrt(2.0 / (in_features + out_features))"),
    Mistake("he-fan-out", "he_normal", "He initialisation with n_out instead of n_in",
            "He's fan-in mode keeps the forward variance: std = sqrt(2/n_in).",
            _const(_init("he_normal", "fan-out"))),
    Mistake("he-lecun", "he_normal", "Var = 1/n_in (LeCun), without He's factor 2",
            "ReLU zeroes half the units, so He doubles the variance: std = sqrt(2/n_in).",
            _const(_init("he_normal", "fan-in only")), "cs231n notes, 'Weight Initialization' (1/sqrt(n) vs sqrt(2/n))"),
    Mistake("he-std-is-variance", "he_normal", "variance passed where the standard deviation goes",
            "rng.normal takes the standard deviation: scale = sqrt(2/n_in), not 2/n_in.",
            _const(_init("he_normal", "std is variance"))),
    # -- dropout
    Mistake("dropout-scale-by-p", "dropout_forward", "kept units scaled by p instead of 1/p",
            "inverted dropout divides the survivors by keep_prob (mask / p), so E[out] = x.",
            _const(_dropout("scale by p"))),
    Mistake("dropout-keep-is-drop", "dropout_forward", "units kept with probability 1 − p (p used as the drop probability)",
            "keep_prob is the probability of KEEPING a unit: keep where rng.random(x.shape) < keep_prob.",
            _const(_dropout("keep is drop")),
            "indexed: a cs231n dropout_forward with `p = 1 - p`; nilbahaaeddine/M1_CNN src/classes/dropout.py "
            "(binomial(1, drop_probability))"),
    Mistake("dropout-torch-convention", "dropout_forward", "torch's convention: p is the drop probability",
            "here p = keep_prob keeps units: mask = (rng.random(x.shape) < p) / p (torch's nn.Dropout(p) drops them).",
            _const(_dropout("torch convention")),
            "indexed: plmrr/gan-from-scratch dropout.py, (np.random.rand(*x.shape) > self.p) / (1 - self.p)"),
    Mistake("dropout-scales-at-test", "dropout_forward", "inverted dropout scaled at test time as well",
            "with inverted dropout the scaling already happened in training: forward(x, train=False) returns x.",
            _const(_dropout("scales at test")), "cs231n notes, 'Dropout' (vanilla dropout scales at test time)"),
    Mistake("dropout-vanilla", "dropout_forward", "vanilla dropout (no 1/p in training, ×p at test)",
            "this is inverted dropout: scale by 1/keep_prob in training and leave test time alone.",
            _const(_dropout("vanilla")), "cs231n notes, 'Dropout', the vanilla version (H1 *= p at test)"),
    Mistake("dropout-drops-at-test", "dropout_forward", "units dropped at test time too",
            "when train is False return x unchanged: no mask at test time.",
            _const(_dropout("drops at test"))),
    Mistake("dropout-backward-ignores-mask", "dropout_backward", "backward passes dout through without the mask",
            "dropped units get no gradient: dx = dout * mask, the same mask as in forward.",
            _const(_dropout("backward ignores mask"))),
    Mistake("dropout-backward-rescales", "dropout_backward", "backward divides by p again",
            "the stored mask already contains 1/keep_prob: dx = dout * mask, with no second division.",
            _const(_dropout("backward rescales")),
            "indexed: a Dropout whose backward returns grad_output * mask / (1 - p) (right only for an unscaled mask)"),
    Mistake("dropout-backward-unscaled-mask", "dropout_backward", "the stored mask lacks the 1/p scale",
            "store the scaled mask (keep / keep_prob) so that backward's dout * mask matches forward's x * mask.",
            _const(_dropout("unscaled mask"))),
    # -- L2
    Mistake("l2-grad-factor-2", "l2_penalty", "L2 gradient off by a factor of 2 (2λW)",
            "the ½ in R = λ/2·Σ‖W‖² cancels the 2 of the square: ∂R/∂W = λW.",
            _const(_l2("grad factor 2")),
            "cs231n's convention (loss += reg * np.sum(W * W); dW += 2 * reg * W, in many indexed assignment-1 "
            "solutions) carried over to the ½ convention"),
    Mistake("l2-penalty-no-half", "l2_penalty", "L2 penalty without the ½ (λΣ‖W‖²)",
            "this course's penalty is R = λ/2 · Σ‖W‖², which makes its gradient exactly λW.",
            _const(_l2("no half")),
            "indexed cs231n softmax solutions pairing loss += reg * np.sum(W * W) with dW += reg * W"),
    Mistake("l2-norm-not-squared", "l2_penalty", "the norm is not squared (λ/2·‖W‖)",
            "square the norm: np.sum(W * W), or np.linalg.norm(W) ** 2.",
            _const(_l2("norm not squared"))),
]

MISTAKES: dict[str, Mistake] = {m.key: m for m in _CATALOGUE}
assert len(MISTAKES) == len(_CATALOGUE), "duplicate mistake keys"

#: Correct forms that differ from the reference: target -> [(description, make)].
ALTERNATIVES: dict[str, list] = {
    "MultiplyGate": [("local gradient times upstream, other order", _const(_gate("multiply", "strict")))],
    "MaxGate": [("strict comparison a > b (ties never occur)", _const(_gate("max", "strict")))],
    "CopyGate": [("np.sum over the stacked upstreams", _const(_gate("copy", "strict")))],
    "window_forward": [("np.concatenate of the word vectors", _const(_window_forward("concatenate")))],
    "window_backward": [("δ through the Jacobian, u @ np.diag(f'(z))", _const(_window_backward("jacobian"))),
                        ("the outer product as two loops", _const(_window_backward("loops"))),
                        ("broadcasting δ[:, None] * x[None, :], einsum for Wᵀδ", _const(_window_backward("broadcast")))],
    "embedding_grad": [("a loop dL[i] += per_word[k]", _const(_embedding_grad("loop"))),
                       ("a one-hot product onehotᵀ @ per_word", _const(_embedding_grad("one-hot")))],
    "numerical_gradient": [("perturbed copies of x", _const(_numerical_gradient("copies"))),
                           ("x[idx] += h, -= 2h, += h", _const(_numerical_gradient("add and subtract"))),
                           ("half steps x ± h/2 over h (a CS224n-style gradcheck_naive, indexed)",
                            _const(_numerical_gradient("half steps")))],
    "relative_error": [("np.finfo(float).tiny as the guard", _const(_relative_error("finfo tiny")))],
    "xavier_uniform": [("r·(2U − 1) from rng.random", _const(_init("xavier_uniform", "scaled random"))),
                       ("drawn as (n_in, n_out), then transposed", _const(_init("xavier_uniform", "drawn transposed")))],
    "xavier_normal": [("σ·rng.standard_normal", _const(_init("xavier_normal", "scaled random"))),
                      ("drawn as (n_in, n_out), then transposed", _const(_init("xavier_normal", "drawn transposed")))],
    "he_normal": [("σ·rng.standard_normal", _const(_init("he_normal", "scaled random"))),
                  ("drawn as (n_in, n_out), then transposed", _const(_init("he_normal", "drawn transposed")))],
    "dropout_forward": [("rng.binomial(1, p) / p", _const(_dropout("binomial"))),
                        ("keep where U ≥ 1 − p", _const(_dropout("upper tail")))],
    "dropout_backward": [("rng.binomial(1, p) / p", _const(_dropout("binomial")))],
    "l2_penalty": [("np.linalg.norm(W) ** 2", _const(_l2("norm squared")))],
}


def for_target(target: str) -> list[Mistake]:
    """The catalogued mistakes of one target, in catalogue order."""
    return [m for m in _CATALOGUE if m.target == target]


def alternatives_for(target: str):
    return list(ALTERNATIVES.get(target, []))


#: key -> (solution cell grade_id, [(old, new), ...]): the mistake written into the instructor's
#: solution of assignments/source/backprop/backprop.ipynb.
EXAMPLES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "add-ignores-upstream": ("add_gate", [("return upstream, upstream",
                                           "return np.ones_like(upstream), np.ones_like(upstream)")]),
    "multiply-no-swap": ("multiply_gate", [("return upstream * self.b, upstream * self.a",
                                            "return upstream * self.a, upstream * self.b")]),
    "multiply-ignores-upstream": ("multiply_gate", [("return upstream * self.b, upstream * self.a",
                                                     "return self.b + 0 * upstream, self.a + 0 * upstream")]),
    "max-routes-to-both": ("max_gate", [("return np.where(a_wins, upstream, 0.0), np.where(a_wins, 0.0, upstream)",
                                         "return upstream, upstream")]),
    "max-routes-to-smaller": ("max_gate", [("a_wins = self.a >= self.b", "a_wins = self.a < self.b")]),
    "copy-keeps-last": ("copy_gate", [("total = upstreams[0]\n        for g in upstreams[1:]:\n"
                                       "            total = total + g\n        return (total,)",
                                       "return (upstreams[-1],)")]),
    "window-no-activation": ("window_forward", [("h = f(z)", "h = z")]),
    "window-columns": ("window_forward", [("L[word_ids].reshape(-1)", "L[word_ids].T.reshape(-1)")]),
    "outer-product-transposed": ("window_backward", [("np.outer(delta, x)", "np.outer(x, delta)")]),
    "missing-fprime": ("window_backward", [("delta = ds * u * f_prime(z)", "delta = ds * u")]),
    "fprime-of-h": ("window_backward", [("delta = ds * u * f_prime(z)", "delta = ds * u * f_prime(h)")]),
    "du-uses-z": ("window_backward", [('"u": ds * h', '"u": ds * z')]),
    "upstream-ignored": ("window_backward", [("delta = ds * u * f_prime(z)", "delta = u * f_prime(z)"),
                                             ('"u": ds * h', '"u": h')]),
    "repeat-overwritten": ("embedding_grad", [("np.add.at(dL, word_ids, per_word)", "dL[word_ids] += per_word")]),
    "split-transposed": ("embedding_grad", [("dx.reshape(len(word_ids), d)", "dx.reshape(d, len(word_ids)).T")]),
    "one-sided-difference": ("numerical_gradient", [("x[idx] = old - h\n", "x[idx] = old\n"),
                                                    ("/ (2 * h)", "/ h")]),
    "centered-over-h": ("numerical_gradient", [("/ (2 * h)", "/ h")]),
    "not-restored": ("numerical_gradient", [("        x[idx] = old                # restore\n", "")]),
    "all-at-once": ("numerical_gradient", [("x[idx] = old + h\n        f_plus = f(x)\n        x[idx] = old - h\n"
                                            "        f_minus = f(x)\n        x[idx] = old                # restore\n",
                                            "f_plus = f(x + h)\n        f_minus = f(x - h)\n")]),
    "relerr-no-guard": ("relative_error", [("numerator / max(denominator, 1e-300)", "numerator / denominator")]),
    "relerr-no-abs": ("relative_error", [("np.max(np.abs(a) + np.abs(b))", "np.max(a + b)")]),
    "relerr-elementwise": ("relative_error", [("numerator / max(denominator, 1e-300)",
                                               "np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))")]),
    "relerr-norms": ("relative_error", [("numerator / max(denominator, 1e-300)",
                                         "np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))")]),
    "relerr-one-sided-denominator": ("relative_error", [("max(denominator, 1e-300)",
                                                         "max(np.max(np.abs(a)), 1e-300)")]),
    "relerr-large-guard": ("relative_error", [("max(denominator, 1e-300)", "max(denominator, 1e-8)")]),
    "xavier-uniform-fan-in-only": ("xavier_uniform", [("np.sqrt(6.0 / (n_in + n_out))", "np.sqrt(3.0 / n_in)")]),
    "xavier-uniform-radius-is-std": ("xavier_uniform", [("np.sqrt(6.0 / (n_in + n_out))",
                                                         "np.sqrt(2.0 / (n_in + n_out))")]),
    "init-transposed": ("xavier_uniform", [("size=(n_out, n_in)", "size=(n_in, n_out)")]),
    "xavier-normal-fan-in-only": ("xavier_normal", [("np.sqrt(2.0 / (n_in + n_out))", "np.sqrt(1.0 / n_in)")]),
    "xavier-normal-std-is-variance": ("xavier_normal", [("np.sqrt(2.0 / (n_in + n_out))", "2.0 / (n_in + n_out)")]),
    "he-as-xavier": ("he_normal", [("np.sqrt(2.0 / n_in)", "np.sqrt(2.0 / (n_in + n_out))")]),
    "he-fan-out": ("he_normal", [("np.sqrt(2.0 / n_in)", "np.sqrt(2.0 / n_out)")]),
    "he-lecun": ("he_normal", [("np.sqrt(2.0 / n_in)", "np.sqrt(1.0 / n_in)")]),
    "he-std-is-variance": ("he_normal", [("np.sqrt(2.0 / n_in)", "2.0 / n_in")]),
    "dropout-scale-by-p": ("dropout", [("< self.keep_prob) / self.keep_prob", "< self.keep_prob) * self.keep_prob")]),
    "dropout-keep-is-drop": ("dropout", [("< self.keep_prob) / self.keep_prob",
                                          "< 1 - self.keep_prob) / self.keep_prob")]),
    "dropout-torch-convention": ("dropout", [("< self.keep_prob) / self.keep_prob",
                                              "< 1 - self.keep_prob) / (1 - self.keep_prob)")]),
    "dropout-scales-at-test": ("dropout", [("            return x\n", "            return x * self.keep_prob\n")]),
    "dropout-vanilla": ("dropout", [("< self.keep_prob) / self.keep_prob", "< self.keep_prob) * 1.0"),
                                    ("            return x\n", "            return x * self.keep_prob\n")]),
    "dropout-drops-at-test": ("dropout", [("        if not train:\n            self.mask = None\n"
                                           "            return x\n", "")]),
    "dropout-backward-ignores-mask": ("dropout", [("return dout * self.mask", "return dout")]),
    "dropout-backward-rescales": ("dropout", [("return dout * self.mask", "return dout * self.mask / self.keep_prob")]),
    "dropout-backward-unscaled-mask": ("dropout", [
        ("self.mask = (self.rng.random(x.shape) < self.keep_prob) / self.keep_prob\n        return x * self.mask",
         "self.mask = (self.rng.random(x.shape) < self.keep_prob) * 1.0\n"
         "        return x * self.mask / self.keep_prob")]),
    "l2-grad-factor-2": ("l2_penalty", [("[lam * W for W in weights]", "[2 * lam * W for W in weights]")]),
    "l2-penalty-no-half": ("l2_penalty", [("0.5 * lam * sum", "lam * sum")]),
    "l2-norm-not-squared": ("l2_penalty", [("np.sum(W * W)", "np.linalg.norm(W)")]),
}
