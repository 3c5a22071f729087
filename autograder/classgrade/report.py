"""grades.csv, per-student feedback extras and the class report (HTML with embedded PNG figures)."""

from __future__ import annotations

import base64
import collections
import csv
import html
import io
import os

FLAG_ORDER = ("tampering", "copying", "timeout", "crash", "missing", "not-a-notebook", "empty",
              "foreign-notebook", "edited-test", "duplicate", "extra-files", "not-on-roster",
              "bad-id", "suspicious", "grader")
SERIOUS = {"tampering", "copying", "timeout", "crash", "missing", "not-a-notebook", "empty",
           "foreign-notebook", "edited-test", "duplicate", "not-on-roster", "bad-id", "grader", "suspicious"}


def reason_of(result: dict) -> str:
    """One line: the status, then the flags, most serious first."""
    flags = sorted(result.get("flags", []), key=lambda f: FLAG_ORDER.index(f[0]) if f[0] in FLAG_ORDER else 99)
    text = "; ".join(f"{k}: {r}" if not r.startswith(k) else r for k, r in flags)
    return text


def write_grades_csv(path: str, results: list[dict], tests: list[dict]) -> str:
    """One row per student (rostered ones always), per-question scores, total, status, reasons."""
    cols = ["student_id", "first_name", "last_name", "status", "score", "max_score"]
    cols += [t["grade_id"] for t in tests] + ["flags", "reason"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in results:
            row = [r["student_id"], r.get("first_name", ""), r.get("last_name", ""), r["status"],
                   f"{r['score']:g}", f"{r['max_score']:g}"]
            row += [f"{r['cells'].get(t['grade_id'], {}).get('score', 0.0):g}" for t in tests]
            row += [";".join(sorted({f[0] for f in r.get("flags", [])})), reason_of(r)]
            w.writerow(row)
    return path


def _fig_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figures(results: list[dict], tests: list[dict]) -> dict[str, str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figs = {}
    n = len(tests) + 1
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    panels = [("total", sum(t["points"] for t in tests), [r["score"] for r in results])]
    panels += [(t["grade_id"], t["points"], [r["cells"].get(t["grade_id"], {}).get("score", 0.0) for r in results])
               for t in tests]
    for ax, (name, top, values) in zip(axes.flat, panels):
        bins = min(20, max(2, int(top) + 1)) if top else 2
        ax.hist(values, bins=bins, range=(0, top or 1), color="#4c72b0", edgecolor="white")
        ax.set_title(f"{name} (max {top:g})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Score histograms", fontsize=11)
    fig.tight_layout()
    figs["hist"] = _fig_png(fig)
    counts = collections.Counter()
    for r in results:
        for name, mistake in r.get("mistakes", []):
            counts[f"{name}: {mistake}"] += 1
    if counts:
        items = counts.most_common(40)
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(items) + 1))
        ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color="#dd8452")
        ax.set_xlabel("students")
        ax.set_title("Diagnosed mistakes across the class", fontsize=11)
        ax.tick_params(labelsize=8)
        figs["mistakes"] = _fig_png(fig)
    return figs


def write_class_report(path: str, results: list[dict], tests: list[dict], assignment: str,
                       sandbox_text: str, seconds: float) -> str:
    figs = _figures(results, tests)
    n = len(results)
    graded = sum(r["status"] == "graded" for r in results)
    top = sum(t["points"] for t in tests)
    mean = sum(r["score"] for r in results) / n if n else 0.0
    status = collections.Counter(r["status"] for r in results)
    mistakes = collections.Counter()
    for r in results:
        for name, mistake in r.get("mistakes", []):
            mistakes[(name, mistake)] += 1
    flagged = [r for r in results if any(f[0] in SERIOUS for f in r.get("flags", []))]
    e = html.escape
    parts = [f"""<!doctype html><html><head><meta charset="utf-8"><title>Class report: {e(assignment)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:top}}
th{{background:#f0f0f0}}.flag{{color:#a00}}</style></head><body>
<h1>Class report: {e(assignment)}</h1>
<p>{n} students, {graded} graded normally; mean score {mean:.2f} / {top:g};
status: {e(', '.join(f'{k} {v}' for k, v in sorted(status.items())))}. Graded in {seconds:.0f} s.</p>
<p><small>Sandbox: {e(sandbox_text)}</small></p>
<h2>Scores per question</h2><img alt="score histograms" src="data:image/png;base64,{figs['hist']}">"""]
    parts.append("<h2>Diagnosed mistakes</h2>")
    if mistakes:
        parts.append(f'<img alt="mistake frequencies" src="data:image/png;base64,{figs["mistakes"]}">')
        parts.append("<table><tr><th>optimizer</th><th>mistake</th><th>students</th></tr>")
        for (name, mistake), count in mistakes.most_common():
            parts.append(f"<tr><td>{e(name)}</td><td>{e(mistake)}</td><td>{count}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No catalogued mistake was diagnosed.</p>")
    parts.append(f"<h2>Flagged submissions ({len(flagged)})</h2>")
    parts.append("<table><tr><th>student</th><th>status</th><th>score</th><th>reasons</th></tr>")
    for r in flagged:
        reasons = "<br>".join(e(f"{k}: {why}") for k, why in r.get("flags", []))
        parts.append(f"<tr><td>{e(r['student_id'])}</td><td>{e(r['status'])}</td>"
                     f"<td>{r['score']:g}/{r['max_score']:g}</td><td class='flag'>{reasons}</td></tr>")
    parts.append("</table></body></html>")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))
    return path


def _notes(res: dict) -> str:
    e = html.escape
    rows = []
    for gid, c in res.get("cells", {}).items():
        if c.get("note"):
            rows.append(f"<li><b>{e(gid)}</b>: {c['score']:g}/{c['max']:g} ({e(c['note'])})</li>")
    flags = [f"<li>{e(k)}: {e(why)}</li>" for k, why in res.get("flags", []) if k in SERIOUS]
    mistakes = [f"<li>{e(n)}: {e(m)}</li>" for n, m in res.get("mistakes", [])]
    out = ""
    if rows:
        out += "<p>Scores decided by the grader:</p><ul>" + "".join(rows) + "</ul>"
    if mistakes:
        out += "<p>Diagnosed mistakes:</p><ul>" + "".join(mistakes) + "</ul>"
    if flags:
        out += "<p>Notes from grading:</p><ul>" + "".join(flags) + "</ul>"
    return out


def feedback_banner(page: str, res: dict) -> str:
    """nbgrader's feedback page with the grader's decisions and notes on top."""
    notes = _notes(res)
    if not notes:
        return page
    banner = ('<div style="border:2px solid #c33;padding:8px;margin:8px;font-family:sans-serif">'
              f"<b>Grading notes</b>{notes}</div>")
    i = page.find("<body")
    if i < 0:
        return banner + page
    j = page.find(">", i) + 1
    return page[:j] + banner + page[j:]


def write_missing_feedback(out: str, assignment: str, notebook: str, res: dict) -> str:
    """A feedback page for a student without an autograded notebook (missing, invalid, crashed)."""
    e = html.escape
    d = os.path.join(out, "feedback", res["student_id"], assignment)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, notebook + ".html")
    body = (f"<h1>{e(assignment)}: feedback for {e(res['student_id'])}</h1>"
            f"<p>Score: {res['score']:g} / {res['max_score']:g} (status: {e(res['status'])}).</p>"
            + (_notes(res) or "<p>No notebook could be graded.</p>"))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>")
    return path
