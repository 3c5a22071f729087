"""Time one update of every reference optimizer on N float32 parameters.

    .venv/bin/python bench/optim_step.py                 # N = 10 million, 7 repeats
    .venv/bin/python bench/optim_step.py --n 1000000 --repeats 5

Compares, in one run and on the same arrays:

- ``ours``: dlcourse.optim (in-place NumPy, preallocated scratch);
- ``naive``: the textbook form written below, one new array per operation
  (``m = beta1*m + (1 - beta1)*g``), as students first write it;
- torch.optim's single-tensor, foreach and fused implementations, when torch
  imports ("n/a" where torch does not support a variant on CPU). torch runs with
  ``--torch-threads`` threads (default 1, like NumPy's element-wise loops).

Each time is the median of ``--repeats`` warm steps (state already created),
interleaved across the contenders so that machine load affects them alike.
"extra MB" is the tracemalloc peak during one warm step: memory allocated by the
step itself beyond params, grads and state (NumPy reports its allocations to
tracemalloc). Ratios come from this one run; absolute times depend on the machine
and on its load.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import numpy as np

from dlcourse.optim import OPTIMIZERS

# --------------------------------------------------------------------------- textbook forms
# Each takes (param, grad, state, hp) and follows DESIGN.md's table literally,
# allocating a new array for every intermediate result.


def naive_sgd(p, g, s, hp):
    p -= hp["lr"] * g


def naive_momentum(p, g, s, hp):
    s["v"] = hp["momentum"] * s.get("v", 0.0) - hp["lr"] * g
    p += s["v"]


def naive_nesterov(p, g, s, hp):
    mu = hp["momentum"]
    v_prev = s.get("v", 0.0)
    s["v"] = mu * v_prev - hp["lr"] * g
    p += -mu * v_prev + (1 + mu) * s["v"]


def naive_adagrad(p, g, s, hp):
    s["h"] = s.get("h", 0.0) + g * g
    p -= hp["lr"] * g / (np.sqrt(s["h"]) + hp["eps"])


def naive_rmsprop(p, g, s, hp):
    rho = hp["rho"]
    s["h"] = rho * s.get("h", 0.0) + (1 - rho) * g * g
    p -= hp["lr"] * g / (np.sqrt(s["h"]) + hp["eps"])


def naive_adadelta(p, g, s, hp):
    rho, eps = hp["rho"], hp["eps"]
    s["h"] = rho * s.get("h", 0.0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("d", 0.0) + eps) / np.sqrt(s["h"] + eps) * g
    s["d"] = rho * s.get("d", 0.0) + (1 - rho) * delta * delta
    p -= hp["lr"] * delta


def naive_adam(p, g, s, hp):
    b1, b2 = hp["beta1"], hp["beta2"]
    s["t"] = t = s.get("t", 0) + 1
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    m_hat = s["m"] / (1 - b1**t)
    v_hat = s["v"] / (1 - b2**t)
    p -= hp["lr"] * m_hat / (np.sqrt(v_hat) + hp["eps"])


def naive_adamax(p, g, s, hp):
    b1, b2 = hp["beta1"], hp["beta2"]
    s["t"] = t = s.get("t", 0) + 1
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g) + hp["eps"])
    p -= hp["lr"] / (1 - b1**t) * s["m"] / s["u"]


def naive_nadam(p, g, s, hp):
    b1, b2, psi, lr = hp["beta1"], hp["beta2"], hp["momentum_decay"], hp["lr"]
    s["t"] = t = s.get("t", 0) + 1
    mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    s["P"] = s.get("P", 1.0) * mu
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    denom = np.sqrt(s["v"] / (1 - b2**t)) + hp["eps"]
    p -= lr * (1 - mu) / (1 - s["P"]) * g / denom + lr * mu_next / (1 - s["P"] * mu_next) * s["m"] / denom


def naive_adamw(p, g, s, hp):
    p *= 1 - hp["lr"] * hp["weight_decay"]
    naive_adam(p, g, s, hp)


NAIVE = {
    "SGD": naive_sgd, "Momentum": naive_momentum, "Nesterov": naive_nesterov,
    "AdaGrad": naive_adagrad, "RMSprop": naive_rmsprop, "Adadelta": naive_adadelta,
    "Adam": naive_adam, "AdaMax": naive_adamax, "Nadam": naive_nadam, "AdamW": naive_adamw,
}


def defaults(name):
    import inspect
    return {k: p.default for k, p in inspect.signature(OPTIMIZERS[name]).parameters.items()}


# --------------------------------------------------------------------------- timing
def interleaved_medians(steps, repeats):
    """Median ms of each step function; the repeats are interleaved (ours, naive,
    torch, ours, naive, torch, ...) so that load from other processes hits all
    contenders alike. Each function is called once first to create its state."""
    for step in steps.values():
        step()
    times = {key: [] for key in steps}
    for _ in range(repeats):
        for key, step in steps.items():
            start = time.perf_counter()
            step()
            times[key].append(time.perf_counter() - start)
    return {key: 1e3 * statistics.median(values) for key, values in times.items()}


def peak_mb(step):
    """tracemalloc peak (MB) during one warm step."""
    gc.collect()
    tracemalloc.start()
    try:
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def check_naive_matches(name):
    """The textbook form is the same algorithm: compare 5 steps on a small problem."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=1000)
    b, state, opt = a.copy(), {}, OPTIMIZERS[name]()
    for _ in range(5):
        g = rng.normal(size=1000)
        opt.update({"w": a}, {"w": g})
        NAIVE[name](b, g, state, defaults(name))
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=name)


def torch_setup(threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "tests" / "make_golden.py"
    spec = importlib.util.spec_from_file_location("make_golden", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return torch, module.torch_optimizer


def torch_step(torch_tools, name, param_np, grad_np, **options):
    """A no-argument function doing one torch step, or None if torch refuses the variant."""
    torch, torch_optimizer = torch_tools
    p = torch.from_numpy(param_np.copy()).requires_grad_(True)
    p.grad = torch.from_numpy(grad_np)
    try:
        opt = torch_optimizer(name, defaults(name), [p], **options)
        with torch.no_grad():
            opt.step()
    except (RuntimeError, ValueError, TypeError, NotImplementedError):
        return None

    def step():
        with torch.no_grad():
            opt.step()
    return step


def fmt(x, spec="8.1f"):
    return f"{'n/a':>8}" if x is None else format(x, spec)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=list(OPTIMIZERS))
    args = parser.parse_args()

    torch_tools = torch_setup(args.torch_threads)
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(args.n, dtype=np.float32)
    base = rng.standard_normal(args.n, dtype=np.float32)
    mb = base.nbytes / 2**20
    version = f"torch {torch_tools[0].__version__}, {args.torch_threads} thread(s)" if torch_tools else "torch: not installed"
    print(f"one optimizer step on {args.n:,} float32 parameters ({mb:.0f} MB per array); "
          f"median of {args.repeats}; numpy {np.__version__}; {version}")
    header = (f"{'optimizer':<9} {'ours':>8} {'naive':>8} {'ours/naive':>10} "
              f"{'torch':>8} {'foreach':>8} {'fused':>8} {'ours/torch':>10} "
              f"{'extra MB ours':>13} {'naive':>8}")
    print(header)
    print("-" * len(header))
    for name in args.only:
        check_naive_matches(name)
        opt, ours_param = OPTIMIZERS[name](), base.copy()
        naive_param, naive_state, hp = base.copy(), {}, defaults(name)
        steps = {
            "ours": lambda: opt.update({"w": ours_param}, {"w": grad}),
            "naive": lambda: NAIVE[name](naive_param, grad, naive_state, hp),
        }
        if torch_tools:
            for key, options in [("torch", dict(foreach=False)), ("foreach", dict(foreach=True)),
                                 ("fused", dict(fused=True))]:
                step = torch_step(torch_tools, name, base, grad, **options)
                if step is not None:
                    steps[key] = step
        ms = interleaved_medians(steps, args.repeats)
        ours_mem, naive_mem = peak_mb(steps["ours"]), peak_mb(steps["naive"])
        del steps, opt, ours_param, naive_param, naive_state
        gc.collect()
        ours, naive = ms["ours"], ms["naive"]
        single = ms.get("torch")
        ratio_torch = None if single is None else ours / single
        print(f"{name:<9} {ours:8.1f} {naive:8.1f} {ours / naive:10.2f} "
              f"{fmt(single)} {fmt(ms.get('foreach'))} {fmt(ms.get('fused'))} "
              f"{fmt(ratio_torch, '10.2f')} {ours_mem:13.2f} {naive_mem:8.1f}", flush=True)
    print("times in ms; ours/torch against torch's single-tensor path; "
          f"extra MB: tracemalloc peak of one warm step (one array = {mb:.0f} MB)")


if __name__ == "__main__":
    main()
