"""Out-of-kernel verification: the decisive comparison, where student code cannot patch it.

After nbgrader has run the notebook, the student's code cells (solution cells and cells the
student added; locked cells come from the instructor's source) are executed again in a fresh
sandboxed process (:mod:`autograder.classgrade.sandbox`) that only *computes* trajectories
with ``checks.run_trajectory`` and writes them as ``.npz`` files (``allow_pickle=False`` on
the way back). The grader process computes the reference trajectories itself and compares
them with ``checks.compare`` (or :func:`fallback_compare`). A student who monkeypatches
numpy, the tests or the autograder inside the notebook kernel gets the points there, but not
here; a disagreement is reported as tampering and this verdict wins.

The checks module (default ``autograder.checks``) must provide ``scenarios(name, which)`` and
``run_trajectory(cls, scenario)``; ``compare`` and the reference classes are optional
(``REFERENCES`` in the module, else ``dlcourse.optim.OPTIMIZERS``).

The probe is started as ``python -m autograder.classgrade.verify JOB.json OUTDIR``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np


# ----------------------------------------------------------------------------------------
# grader side


@dataclass
class Verdict:
    """Out-of-kernel result for one optimizer class."""

    name: str
    passed: bool
    reason: str = ""
    mistake: str | None = None
    copied: str | None = None       # why the class is the reference in disguise
    known: bool = False             # False: the probe could not say (grader-side failure)


@dataclass
class ProbeResult:
    verdicts: dict = field(default_factory=dict)      # name -> Verdict
    ok: bool = True                                   # the probe ran to the end
    error: str = ""
    seconds: float = 0.0
    skipped: dict = field(default_factory=dict)      # cell index -> why it was skipped


class Checks:
    """The grading checks, loaded by module name.

    Two protocols are understood. The course's :mod:`autograder.checks` (``TARGETS``,
    ``reference(name)``, ``run_trajectory`` returning a ``Trajectory`` with ``to_dict`` /
    ``from_dict``, and ``compare_all(name, scenarios, trajectories)`` returning a
    ``CheckResult`` with the diagnosed ``mistake``), and a minimal one (``REFERENCES``,
    ``scenarios``, ``run_trajectory`` returning arrays) compared by :func:`fallback_compare`.
    """

    def __init__(self, module: str = "autograder.checks"):
        self.module_name = module
        self.mod = importlib.import_module(module)
        self.rich = all(hasattr(self.mod, a) for a in ("Trajectory", "compare_all", "reference", "TARGETS"))
        if self.rich:
            self.references = {name: self.mod.reference(name) for name in self.mod.TARGETS}
        else:
            refs = getattr(self.mod, "REFERENCES", None)
            if refs is None:
                from dlcourse import optim
                refs = optim.OPTIMIZERS
            self.references = dict(refs)
        self._cache: dict = {}
        self._scen: dict = {}

    def scenarios(self, name: str) -> list:
        if name not in self._scen:
            self._scen[name] = list(self.mod.scenarios(name, "all"))
        return self._scen[name]

    def reference(self, name: str) -> list:
        if name not in self._cache:
            cls = self.references[name]
            self._cache[name] = [self.mod.run_trajectory(cls, sc) for sc in self.scenarios(name)]
        return self._cache[name]

    def reference_sources(self) -> dict[str, str]:
        from .scan import class_sources
        out: dict[str, str] = {}
        for name, cls in self.references.items():
            if not inspect.isclass(cls):
                continue
            try:
                out.update({k: v for k, v in class_sources(inspect.getsource(cls)).items() if k == name})
            except (OSError, TypeError):
                pass
        return out

    def verdict(self, name: str, out: str, info: dict) -> Verdict:
        """Compare the probe's saved trajectories for ``name`` with the reference."""
        v = Verdict(name, False, known=True)
        if self.rich:
            path = os.path.join(out, f"{name}.json")
            if not os.path.exists(path):
                v.reason = info.get("error") or "no trajectory (crashed or timed out)"
                return v
            with open(path, encoding="utf-8") as fh:
                raw = json.load(fh)
            scen = self.scenarios(name)
            if not isinstance(raw, list) or len(raw) != len(scen):
                v.reason = "malformed trajectories"
                return v
            trajs = [self.mod.Trajectory.from_dict(d) for d in raw]
            res = self.mod.compare_all(name, scen, trajs)
            v.passed = bool(res.passed)
            if not v.passed:
                v.reason = (res.summary() if hasattr(res, "summary") else str(res.problem))[:300]
                v.mistake = getattr(res, "mistake_title", None) or getattr(res, "mistake", None)
            return v
        refs, scen = self.reference(name), self.scenarios(name)
        for k, (sc, ref) in enumerate(zip(scen, refs)):
            path = os.path.join(out, f"{name}.{k}.npz")
            if not os.path.exists(path):
                v.reason = f"scenario {k}: " + ((info.get("errors") or {}).get(str(k)) or "no trajectory")
                return v
            ok, why, mistake = fallback_compare(load_npz(path, ref), ref)
            if not ok:
                v.reason, v.mistake = f"scenario {k}: {why}", mistake
                return v
        v.passed = True
        return v


def _flatten(traj) -> dict[str, np.ndarray]:
    if isinstance(traj, dict):
        out = {}
        for k, v in traj.items():
            for kk, vv in _flatten(v).items():
                out[f"{k}/{kk}" if kk else str(k)] = vv
        return out
    if isinstance(traj, (list, tuple)) and traj and not np.isscalar(traj[0]) and not isinstance(traj[0], (int, float)):
        try:
            return {"": np.asarray(traj, dtype=np.float64)}
        except (ValueError, TypeError):
            out = {}
            for i, v in enumerate(traj):
                for kk, vv in _flatten(v).items():
                    out[f"{i}/{kk}" if kk else str(i)] = vv
            return out
    return {"": np.asarray(traj, dtype=np.float64)}


def fallback_compare(student, reference, rtol: float = 1e-6, atol: float = 1e-9) -> tuple[bool, str, None]:
    s, r = _flatten(student), _flatten(reference)
    if set(s) != set(r):
        return False, f"trajectory has keys {sorted(s)[:4]}, expected {sorted(r)[:4]}", None
    for k in r:
        a, b = s[k], r[k]
        if a.shape != b.shape:
            return False, f"{k or 'trajectory'}: shape {a.shape}, expected {b.shape}", None
        if not np.all(np.isfinite(a)) and np.all(np.isfinite(b)):
            return False, f"{k or 'trajectory'}: non-finite values", None
        bad = ~np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        if bad.any():
            first = np.argwhere(bad)[0]
            return False, f"{k or 'trajectory'} differs first at index {tuple(int(i) for i in first)}", None
    return True, "", None


def load_npz(path: str, reference):
    """Rebuild the student's trajectory in the reference's structure from a pickle-free file."""
    with np.load(path, allow_pickle=False) as z:
        flat = {k: np.array(z[k]) for k in z.files}
    if set(flat) == {""}:
        return flat[""]
    if set(flat) == set(_flatten(reference)):
        return _unflatten(flat, reference)
    return flat


def _unflatten(flat: dict, reference, prefix: str = ""):
    if isinstance(reference, dict):
        return {k: _unflatten(flat, v, f"{prefix}{k}/" if True else "") for k, v in reference.items()}
    key = prefix[:-1] if prefix.endswith("/") else prefix
    if key in flat:
        return flat[key]
    if isinstance(reference, (list, tuple)):
        return type(reference)(_unflatten(flat, v, f"{prefix}{i}/") for i, v in enumerate(reference))
    return flat.get(key)


def run_probe(checks: Checks, cells: list[str], names: list[str], workdir: str, sandbox, timeout: float,
              cell_timeout: float = 30.0, zygote=None) -> ProbeResult:
    """Run the probe for ``names`` in ``sandbox`` and compare each class out of the kernel.

    With a :class:`~.zygote.Zygote` the probe is forked from it (no interpreter start)."""
    from . import sandbox as sb
    t0 = time.monotonic()
    os.makedirs(workdir, exist_ok=True)
    job = os.path.join(workdir, "job.json")
    out = os.path.join(workdir, "out")
    os.makedirs(out, exist_ok=True)
    with open(job, "w", encoding="utf-8") as fh:
        json.dump({"cells": cells, "names": names, "checks": checks.module_name,
                   "cell_timeout": cell_timeout}, fh)
    sb.prepare_dir(workdir, sandbox)
    cmd = [sys.executable, "-m", "autograder.classgrade.verify", job, out]
    result = ProbeResult()
    env = sb.clean_env({"HOME": workdir, "MPLCONFIGDIR": os.path.join(workdir, "mpl")})
    errlog = os.path.abspath(workdir) + ".stderr"        # beside the probe's folder, which it may clear
    proc = zygote.spawn(cmd, sandbox, env, stderr=errlog) if zygote is not None else None
    try:
        if proc is None:
            with open(errlog, "wb") as err:
                proc = subprocess.Popen(sb.wrap(cmd, sandbox), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=workdir,
                                        start_new_session=True)
        code = proc.wait(timeout=timeout)
        if code != 0:
            result.ok = False
            result.error = f"probe exited with status {code} {sb.last_line(errlog)}"
    except subprocess.TimeoutExpired:
        result.ok = False
        result.error = f"probe timed out after {timeout:.0f} s"
        if isinstance(proc, subprocess.Popen):     # not yet reaped: its group id is still ours
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                proc.kill()
        else:                                      # forked: the handle knows whether it may signal
            proc.kill()
        proc.wait()
    finally:
        if not sandbox.isolate:
            sb.kill_uid(sandbox.uid)
    try:
        with open(os.path.join(out, "skipped.json"), encoding="utf-8") as fh:
            result.skipped = {int(k): str(v) for k, v in json.load(fh).items()}
    except (OSError, ValueError, AttributeError):
        result.skipped = {}
    meta = {}
    mpath = os.path.join(out, "meta.json")
    if os.path.exists(mpath):
        try:
            with open(mpath, encoding="utf-8") as fh:
                meta = json.load(fh)
        except (OSError, ValueError):
            meta = {}
    for name in names:
        info = meta.get(name) if isinstance(meta.get(name), dict) else {}
        if not info or info == {"error": "not run"}:
            # the probe never got to this class: the grader cannot tell, the kernel's score stands
            result.verdicts[name] = Verdict(name, False, reason=result.error or "not run", known=False)
            continue
        if info.get("missing"):
            result.verdicts[name] = Verdict(name, False, reason=f"{name} is not defined", known=True)
            continue
        try:
            v = checks.verdict(name, out, info)
        except Exception as exc:  # noqa: BLE001 - a broken trajectory fails, never crashes the grader
            v = Verdict(name, False, reason=f"could not compare: {type(exc).__name__}: {exc}"[:300], known=True)
        refs = [str(m) for m in list(info.get("mro", [])) + list(info.get("owners", []))
                if str(m).startswith(("dlcourse.", "autograder.")) and not str(m).endswith(".Optimizer")]
        if refs:
            v.copied = f"{name} is (or inherits from) {refs[0]}"
        result.verdicts[name] = v
    result.seconds = time.monotonic() - t0
    return result


# ----------------------------------------------------------------------------------------
# probe side (runs student code; never imported by the grader for anything but run_probe)


def _probe(job_path: str, out: str) -> None:
    """Run the student's cells, then compute and save trajectories for every target.

    The work happens in a forked child that announces each cell and each target on a pipe.
    If the child dies (``os._exit``, a signal, the memory limit) or a cell or a target overruns
    ``cell_timeout``, the parent records it, skips that cell or target and starts again, like
    nbgrader's per-cell timeout: one bad cell does not cost the classes defined elsewhere.
    """
    import select
    import signal
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    checks = importlib.import_module(job["checks"])
    rich = hasattr(checks, "Trajectory") and hasattr(checks, "compare_all")
    names = list(job["names"])
    cells = list(job["cells"])
    cell_timeout = float(job.get("cell_timeout", 30))
    scen = {name: list(checks.scenarios(name, "all")) for name in names}
    from .scan import strip_magics
    skipped: dict = {}
    failed: dict = {}
    done: set = set()
    meta: dict = {}
    for attempt in range(len(cells) + len(names) + 2):
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            try:
                _probe_child(cells, names, scen, checks.run_trajectory, rich, out, wfd,
                             set(skipped), done | set(failed), strip_magics)
            finally:
                os._exit(0)
        os.close(wfd)
        current, buf, t_item, status = None, b"", time.monotonic(), None
        while True:
            r, _, _ = select.select([rfd], [], [], 0.1)
            if r:
                chunk = os.read(rfd, 65536)
                if chunk:
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        text = line.decode(errors="replace")
                        if text.startswith("done "):
                            name, _, info = text[5:].partition(" ")
                            done.add(name)
                            try:
                                meta[name] = json.loads(info)
                            except ValueError:
                                meta[name] = {}
                        else:
                            current, t_item = text, time.monotonic()
                    continue
            got, st = os.waitpid(pid, os.WNOHANG)
            if got:
                status = st
                break
            if current is not None and time.monotonic() - t_item > cell_timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                status = "timeout"
                break
        os.close(rfd)
        if status != "timeout" and os.waitstatus_to_exitcode(status) == 0 and current == "end":
            break
        why = "timed out" if status == "timeout" else "killed the process"
        if current and current.startswith("cell "):
            skipped[int(current.split()[1])] = why
        elif current and current.startswith("target "):
            name = current.split()[1]
            failed[name] = why
            meta[name] = {"error": f"{name} {why} while running the scenarios"}
        else:
            break
    for name in names:
        meta.setdefault(name, {"error": "not run"})
    with open(os.path.join(out, "meta.json"), "w") as fh:
        json.dump(meta, fh)
    with open(os.path.join(out, "skipped.json"), "w") as fh:
        json.dump({str(k): v for k, v in skipped.items()}, fh)


def _probe_child(cells, names, scen, run_trajectory, rich, out, wfd, skip, skip_names, strip_magics) -> None:
    save, asarray, f64 = np.savez, np.asarray, np.float64
    dumps, jopen, pjoin, write = json.dumps, open, os.path.join, os.write
    ns: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    for i, src in enumerate(cells):
        if i in skip:
            continue
        write(wfd, f"cell {i}\n".encode())
        try:
            exec(compile(strip_magics(src), f"<cell {i}>", "exec"), ns)  # noqa: S102 - sandboxed
        except BaseException:  # noqa: BLE001 - a failing cell must not stop the others
            pass
    for name in names:
        if name in skip_names:
            continue
        write(wfd, f"target {name}\n".encode())
        code = ns.get(name)
        info: dict = {}
        if code is None or not callable(code):
            info["missing"] = True
            write(wfd, f"done {name} {dumps(info)}\n".encode())
            continue
        try:
            if isinstance(code, type):
                info["mro"] = [f"{c.__module__}.{c.__qualname__}" for c in code.__mro__[1:] if c is not object]
            owners = []
            for attr in ("update", "__init__", "__call__"):
                fn = getattr(code, attr, None)
                mod = str(getattr(fn, "__module__", None) or "")
                if mod.startswith(("dlcourse", "autograder")):
                    owners.append(f"{mod}.{attr}")
            mod = str(getattr(code, "__module__", "") or "")
            if mod.startswith(("dlcourse", "autograder")):
                owners.append(f"{mod}.{getattr(code, '__qualname__', name)}")
            info["owners"] = owners
        except BaseException:  # noqa: BLE001
            pass
        if rich:
            trajs = []
            for sc in scen[name]:
                try:
                    trajs.append(run_trajectory(code, sc).to_dict())
                except BaseException as exc:  # noqa: BLE001
                    info["error"] = f"{type(exc).__name__}: {exc}"[:300]
                    break
            else:
                with jopen(pjoin(out, f"{name}.json"), "w") as fh:
                    fh.write(dumps(trajs))
        else:
            info["errors"] = {}
            for k, sc in enumerate(scen[name]):
                try:
                    flat = _flatten(run_trajectory(code, sc))
                    save(pjoin(out, f"{name}.{k}.npz"), **{key: asarray(v, dtype=f64) for key, v in flat.items()})
                except BaseException as exc:  # noqa: BLE001
                    info["errors"][str(k)] = f"{type(exc).__name__}: {exc}"[:300]
                    break
        write(wfd, f"done {name} {dumps(info)}\n".encode())
    write(wfd, b"end\n")


if __name__ == "__main__":
    _probe(sys.argv[1], sys.argv[2])
    sys.stdout.flush()
    os._exit(0)
