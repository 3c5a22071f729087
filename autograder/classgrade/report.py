"""The class report: one self-contained HTML page written from the SubmissionResults.

:func:`write_class_report` writes ``OUT/report.html`` (figures embedded as PNG, drawn with
matplotlib's Agg backend; a few lines of inline JavaScript sort the table; nothing loads from
the network). It shows

* the run: assignment, seed, the sandbox line and limits, when and how long;
* counts: rostered, submitted, graded, missing, invalid, not graded, not on the roster,
  needing review;
* a sortable table of students (id, name, status, score, flags, a link to the feedback page);
* per question: the mean over graded submissions, the share with full credit, the share that
  attempted it (``PartScore.attempted``: "not attempted" is not "wrong"), and each diagnosed
  mistake with its count, linked to the lecture section that teaches it;
* every flag with the words grades.csv uses (``Flag.line()``) and its kind's action;
* unmatched uploads.

Means, shares and histograms are over the *graded* rows only: a missing student, an invalid
upload or a row the grader failed on is not a zero of the class's work (they are counted
separately above).
"""

from __future__ import annotations

import base64
import collections
import html
import importlib
import io
import os
from urllib.parse import quote

from .flags import Kind
from .outcome import Status, SubmissionResult
from .protocol import AssignmentSpec
from .record import RunInfo

#: grader-side mistake catalogues, searched in order for a key's title and target
CATALOGUES = ("autograder.mistakes", "autograder.backprop_mistakes")

#: The lecture section that teaches each target (or, first, a mistake key): (notebook, heading).
#: Headings are the notebooks' own markdown headings; the link's anchor is made from them
#: the way JupyterLab and nbconvert make heading ids (spaces become hyphens).
LECTURE_SECTIONS: dict[str, tuple[str, str]] = {
    "ewma-no-bias-correction": ("04_minibatch_ewma.ipynb", "4. Bias correction"),
    "adam-no-bias-correction": ("05_optimizers.ipynb", "7. Adam"),
    "EWMA": ("04_minibatch_ewma.ipynb", "3. Exponentially weighted averages"),
    "SGD": ("05_optimizers.ipynb", "1. SGD"),
    "Momentum": ("05_optimizers.ipynb", "2. Momentum"),
    "Nesterov": ("05_optimizers.ipynb", "3. Nesterov accelerated gradient"),
    "AdaGrad": ("05_optimizers.ipynb", "4. AdaGrad"),
    "RMSprop": ("05_optimizers.ipynb", "5. RMSprop"),
    "Adadelta": ("05_optimizers.ipynb", "6. Adadelta"),
    "Adam": ("05_optimizers.ipynb", "7. Adam"),
    "AdaMax": ("05_optimizers.ipynb", "8. AdaMax"),
    "Nadam": ("05_optimizers.ipynb", "9. Nadam"),
    "AdamW": ("05_optimizers.ipynb", "10. AdamW"),
    "step_decay": ("06_learning_rates.ipynb", "2. Learning-rate schedules"),
    "cosine": ("06_learning_rates.ipynb", "2. Learning-rate schedules"),
    # the backprop assignment's topics
    "gates": ("01_backprop.ipynb", "2. Computation graphs"),
    "graph": ("01_backprop.ipynb", "2. Computation graphs"),
    "window": ("01_backprop.ipynb", "1. The window model by hand"),
    "gradcheck": ("01_backprop.ipynb", "3. Gradient checking"),
    "init": ("02_nonlinearities_init_regularization.ipynb", "3. Initialization"),
    "xavier": ("02_nonlinearities_init_regularization.ipynb", "3. Initialization"),
    "dropout": ("03_dropout.ipynb", "1. Standard and inverted dropout"),
}

LECTURES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            "lectures")


def anchor(heading: str) -> str:
    """The id JupyterLab and nbconvert give a markdown heading: its text, spaces as hyphens."""
    return heading.strip().lstrip("#").strip().replace(" ", "-")


def lookup_mistake(key: str):
    """The catalogue entry of ``key`` (with ``.title``, ``.target``) in whichever catalogue has it."""
    for name in CATALOGUES:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        found = getattr(mod, "MISTAKES", {}).get(key)
        if found is not None:
            return found
    return None


def lecture_of(key: str, target: str | None) -> tuple[str, str] | None:
    for k in (key, target):
        if k and k in LECTURE_SECTIONS:
            return LECTURE_SECTIONS[k]
    if target:
        low = target.lower()
        for k, v in LECTURE_SECTIONS.items():
            if k.lower() == low or low.startswith(k.lower()):
                return v
    return None


# ------------------------------------------------------------------------------ numbers
def part_stats(spec: AssignmentSpec, results: list[SubmissionResult]) -> list[dict]:
    """Per part, over the graded rows: mean score, share full, share attempted, mistakes."""
    graded = [r for r in results if r.status is Status.GRADED]
    stats = []
    for p in spec.parts:
        scores = [r.parts[p.grade_id] for r in graded if p.grade_id in r.parts]
        n = len(scores)
        mistakes = collections.Counter(m for s in scores for m in dict.fromkeys(s.mistakes))
        stats.append({"grade_id": p.grade_id, "points": p.points, "targets": p.targets, "n": n,
                      "mean": sum(s.score for s in scores) / n if n else None,
                      "full": sum(s.full for s in scores) / n if n else None,
                      "attempted": sum(s.attempted for s in scores) / n if n else None,
                      "mistakes": mistakes.most_common()})
    return stats


def counts(results: list[SubmissionResult]) -> dict[str, int]:
    by = collections.Counter(r.status for r in results)
    return {"students": len(results), "rostered": sum(r.on_roster for r in results),
            "submitted": sum(r.status.submitted or r.status is Status.NOT_GRADED for r in results),
            "graded": by[Status.GRADED], "missing": by[Status.MISSING], "invalid": by[Status.INVALID],
            "not graded": by[Status.NOT_GRADED], "not on roster": sum(not r.on_roster for r in results),
            "needs review": sum(r.needs_review for r in results)}


# ------------------------------------------------------------------------------ figures
def _png(fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figures(spec: AssignmentSpec, results: list[SubmissionResult], stats: list[dict]) -> dict[str, str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    graded = [r.score for r in results if r.status is Status.GRADED]
    figs = {}
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    top = spec.max_score or 1.0
    ax.hist(graded, bins=min(22, max(2, int(top) // 5 + 1)), range=(0, top), color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"total score (max {top:g})")
    ax.set_ylabel("students")
    ax.set_title(f"Total score of the {len(graded)} graded submissions", fontsize=10)
    figs["total"] = _png(fig)
    fig, ax = plt.subplots(figsize=(7.2, 0.32 * len(stats) + 1.2))
    names = [s["grade_id"] for s in stats][::-1]
    y = range(len(names))
    mean = [(s["mean"] or 0) / s["points"] if s["points"] else 0 for s in stats][::-1]
    full = [s["full"] or 0 for s in stats][::-1]
    tried = [s["attempted"] or 0 for s in stats][::-1]
    ax.barh([i + 0.27 for i in y], tried, height=0.27, color="#bbbbbb", label="attempted")
    ax.barh(list(y), mean, height=0.27, color="#4c72b0", label="mean score / points")
    ax.barh([i - 0.27 for i in y], full, height=0.27, color="#55a868", label="full credit")
    ax.set_yticks(list(y), names, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of graded submissions")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Per question", fontsize=10)
    figs["parts"] = _png(fig)
    return figs


# ------------------------------------------------------------------------------ page
_STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 7px;vertical-align:top}
th{background:#f0f0f0;text-align:left}th.sortable{cursor:pointer}th.sortable:after{content:" \\2195";color:#999}
td.num{text-align:right}.s-graded{color:#1a6b2d}.s-missing,.s-invalid{color:#8a5a00}.s-not-graded{color:#a00;font-weight:bold}
.flag{font-size:12px}.sev-cheating,.sev-grader{color:#a00}.sev-review{color:#8a5a00}small{color:#555}"""

_SORT_JS = """document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th.sortable').forEach(function(th,i){th.addEventListener('click',function(){
  var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows),asc=th.dataset.dir!=='asc';
  t.querySelectorAll('th').forEach(function(h){delete h.dataset.dir});th.dataset.dir=asc?'asc':'desc';
  var num=th.dataset.type==='num';
  rows.sort(function(a,b){var x=a.cells[i].dataset.key,y=b.cells[i].dataset.key;
   if(num){x=x===''?-Infinity:parseFloat(x);y=y===''?-Infinity:parseFloat(y);return asc?x-y:y-x}
   return asc?x.localeCompare(y):y.localeCompare(x)});
  rows.forEach(function(r){body.appendChild(r)})})})});"""


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def write_class_report(path: str, spec: AssignmentSpec, results: list[SubmissionResult],
                       unmatched: list[tuple[str, str]], run: RunInfo) -> str:
    """Write the class report to ``path`` (normally ``OUT/report.html``); returns ``path``.

    Feedback links are ``SubmissionResult.feedback`` (relative to OUT, the report's folder);
    lecture links are relative to the report's folder too.
    """
    e = html.escape
    here = os.path.dirname(os.path.abspath(path))
    stats = part_stats(spec, results)
    c = counts(results)
    figs = _figures(spec, results, stats)
    graded = [r for r in results if r.status is Status.GRADED]
    mean = sum(r.score for r in graded) / len(graded) if graded else None
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Class report: {e(spec.name)}</title>"
           f"<style>{_STYLE}</style></head><body>",
           f"<h1>Class report: {e(spec.name)}</h1>"]
    limits = ", ".join(f"{k} {v}" for k, v in run.limits.items())
    out.append(f"<p id='run'><small>Graded {e(run.started)} to {e(run.finished)} ({run.seconds:.0f} s), seed "
               f"{e(str(run.seed))}, grader {e(run.version)}.<br>Sandbox: {e(run.sandbox)}<br>"
               f"Limits per submission: {e(limits)}</small></p>")
    out.append("<h2>Counts</h2><table id='counts'><tr>" + "".join(f"<th>{e(k)}</th>" for k in c) + "</tr><tr>"
               + "".join(f"<td class='num' data-count='{e(k)}'>{v}</td>" for k, v in c.items()) + "</tr></table>")
    out.append(f"<p>Mean score over the {len(graded)} graded submissions: "
               f"{'–' if mean is None else f'{mean:.1f}'} / {spec.max_score:g}. Missing, invalid and not-graded "
               "rows are not counted in means, shares or histograms.</p>")
    out.append(f"<img alt='histogram of total scores' src='data:image/png;base64,{figs['total']}'>")

    # per question
    out.append("<h2>Per question</h2><table id='parts'><thead><tr><th>part</th><th>points</th><th>mean</th>"
               "<th>full credit</th><th>attempted</th><th>diagnosed mistakes (students)</th></tr></thead><tbody>")
    for s in stats:
        items = []
        for key, n in s["mistakes"]:
            m = lookup_mistake(key)
            title = m.title if m is not None else key
            target = m.target if m is not None else (s["targets"][0] if s["targets"] else None)
            where = lecture_of(key, target)
            text = f"{e(title)} <code>{e(key)}</code> × {n}"
            if where:
                href = os.path.relpath(os.path.join(LECTURES_DIR, where[0]), here).replace(os.sep, "/")
                text += (f" — <a class='lecture' href='{e(href)}#{e(anchor(where[1]))}'>"
                         f"lecture {e(where[0][:2])}, §{e(where[1])}</a>")
            items.append(f"<li>{text}</li>")
        mean_s = "–" if s["mean"] is None else f"{s['mean']:.1f}"
        out.append(f"<tr data-part='{e(s['grade_id'])}'><td>{e(s['grade_id'])}</td><td class='num'>{s['points']:g}</td>"
                   f"<td class='num'>{mean_s}</td><td class='num'>{_pct(s['full'])}</td>"
                   f"<td class='num'>{_pct(s['attempted'])}</td><td><ul>{''.join(items)}</ul></td></tr>")
    out.append("</tbody></table>")
    out.append(f"<img alt='per question: mean, full credit, attempted' src='data:image/png;base64,{figs['parts']}'>")

    # students
    out.append(f"<h2>Students ({len(results)})</h2><p><small>Click a column header to sort.</small></p>"
               "<table id='students' class='sortable'><thead><tr>"
               "<th class='sortable' data-type='text'>id</th><th class='sortable' data-type='text'>name</th>"
               "<th class='sortable' data-type='text'>status</th><th class='sortable' data-type='num'>score</th>"
               "<th class='sortable' data-type='text'>flags</th><th>feedback</th></tr></thead><tbody>")
    for r in sorted(results, key=lambda r: r.student_id):
        name = " ".join(x for x in (r.first_name, r.last_name) if x)
        flags = r.sorted_flags()
        labels = list(dict.fromkeys(f.kind.label for f in flags))
        score = "" if r.score is None else f"{r.score:g}"
        shown = "not graded" if r.score is None else f"{r.score:g} / {r.max_score:g}"
        link = (f"<a class='feedback' href='{e(quote(r.feedback.replace(os.sep, '/')))}'>feedback</a>"
                if r.feedback else "")   # quoted: ids may hold any character a path can
        out.append(f"<tr data-student='{e(r.student_id)}'><td data-key='{e(r.student_id)}'>{e(r.student_id)}</td>"
                   f"<td data-key='{e(name)}'>{e(name)}{'' if r.on_roster else ' <small>(not on roster)</small>'}</td>"
                   f"<td data-key='{e(r.status.value)}' class='s-{r.status.value.replace(' ', '-')}'>"
                   f"{e(r.status.value)}</td><td class='num' data-key='{score}'>{e(shown)}</td>"
                   f"<td data-key='{e('; '.join(labels))}' class='flag' title='{e(chr(10).join(f.line() for f in flags))}'>"
                   f"{e('; '.join(labels))}</td><td>{link}</td></tr>")
    out.append("</tbody></table>")

    # flags
    flagged = [(r, f) for r in sorted(results, key=lambda r: r.student_id) for f in r.sorted_flags()]
    flagged.sort(key=lambda rf: -rf[1].kind.severity)     # most serious first (stable: by student within)
    kinds = collections.Counter(f.kind for _, f in flagged)
    out.append("<h2>Flags</h2>")
    if kinds:
        out.append("<table id='flag-kinds'><thead><tr><th>flag</th><th>students</th><th>what to do</th></tr></thead><tbody>")
        for kind in sorted(kinds, key=lambda k: (-k.severity, k.label)):
            n = len({r.student_id for r, f in flagged if f.kind is kind})
            out.append(f"<tr class='sev-{kind.severity.name.lower()}'><td>{e(kind.label)}</td><td class='num'>{n}</td>"
                       f"<td>{e(kind.action)}</td></tr>")
        out.append("</tbody></table><table id='flag-lines'><thead><tr><th>student</th><th>flag (as in grades.csv)</th>"
                   "</tr></thead><tbody>")
        for r, f in flagged:
            out.append(f"<tr class='sev-{f.kind.severity.name.lower()}'><td>{e(r.student_id)}</td>"
                       f"<td class='flag-line'>{e(f.line())}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append("<p>No flags.</p>")

    # unmatched
    out.append(f"<h2>Unmatched uploads ({len(unmatched)})</h2>")
    if unmatched:
        out.append(f"<p><small>{e(Kind.UNMATCHED_UPLOAD.action)}</small></p><table id='unmatched'><thead><tr>"
                   "<th>upload</th><th>why</th></tr></thead><tbody>")
        out += [f"<tr><td>{e(n)}</td><td>{e(why)}</td></tr>" for n, why in unmatched]
        out.append("</tbody></table>")
    else:
        out.append("<p>Every upload was attributed to a student.</p>")
    out.append(f"<script>{_SORT_JS}</script></body></html>")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out))
    os.replace(tmp, path)
    return path
