"""``OUTDIR/report.html``: a whole class at a glance, for the instructor's browser.

One self-contained HTML file (inline SVG charts drawn by matplotlib, inline CSS, no script, no
network): the score distribution; each test's pass rate, hardest first, with the hint learners
see; the submissions that timed out, crashed or were invalid, with why; and the slowest
submissions. It is rebuilt from the gradebook rows and results.json documents after every batch
and every merge, and the same inputs give the same bytes (no timestamps, fixed SVG ids).
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

from labkit.grading.outcomes import number_key
from labkit.grading.spec import TestMeta

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2933;padding:0 1rem}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d9e2ec;padding-bottom:.3rem}
.muted{color:#616e7c}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #d9e2ec;border-radius:8px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.6rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eef2f6;vertical-align:top}
th{background:#f5f7fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b42318}.chart svg{max-width:100%;height:auto}
"""


def build_report(
    lab: str,
    rows: dict[str, dict[str, Any]],
    docs: dict[str, dict[str, Any]],
    stats: dict[str, Any],
    expected: list[TestMeta],
) -> str:
    """The report's HTML (see the module docstring)."""
    esc = html.escape
    count = len(rows)
    statuses = stats.get("statuses", {})
    hints = {m.number: m.hint for m in expected}
    tests = sorted(
        stats.get("tests", []), key=lambda t: (float(t["pass_rate"]), number_key(t["number"]))
    )
    problems = sorted(
        (name for name, r in rows.items() if r.get("status") != "graded"),
        key=lambda n: (str(rows[n].get("status")), n),
    )
    slowest = sorted(rows, key=lambda n: (-_float(rows[n].get("execution_time")), n))[:10]

    parts: list[str] = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(lab)}: class report</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(lab)}: the class at a glance</h1>",
        f"<p class='muted'>{count} submissions · written by <code>labkit grade-all</code>; "
        "each submission's details are in its <code>results.json</code>.</p>",
        "<div class='cards'>",
        _card("submissions", str(count)),
        _card("mean", f"{stats.get('mean_percent', 0)}%"),
        _card("median", f"{stats.get('median_percent', 0)}%"),
        *(_card(k, str(v)) for k, v in statuses.items()),
        "</div>",
        "<h2 id='distribution'>Score distribution</h2>",
        f"<div class='chart'>{_histogram(stats['distribution'])}</div>",
        "<h2 id='tests'>Pass rate per test, hardest first</h2>",
    ]
    if tests:
        parts.append(f"<div class='chart'>{_pass_rates(tests)}</div>")
        parts.append(
            "<table><tr><th>test</th><th>name</th><th class='num'>passed</th><th>hint</th></tr>"
        )
        for t in tests:
            hidden = (
                " <span class='muted'>(hidden)</span>" if t.get("visibility") == "hidden" else ""
            )
            parts.append(
                f"<tr><td>{esc(t['number'])}</td><td>{esc(t['name'])}{hidden}</td>"
                f"<td class='num'>{t['passed']}/{t['graded']} ({100 * float(t['pass_rate']):.0f}%)"
                f"</td><td>{esc(hints.get(t['number'], ''))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("<h2 id='problems'>Timeouts, crashes and invalid submissions</h2>")
    if problems:
        parts.append("<table><tr><th>submission</th><th>status</th><th>why</th></tr>")
        for name in problems:
            row = rows[name]
            parts.append(
                f"<tr><td>{esc(name)}</td><td class='bad'>{esc(str(row.get('status')))}</td>"
                f"<td>{esc(_why(row, docs.get(name)))}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p>None: every submission ran to the end.</p>")
    parts.append("<h2 id='slowest'>Slowest submissions</h2>")
    if slowest:
        parts.append(f"<div class='chart'>{_slowest(slowest, rows)}</div>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _card(label: str, value: str) -> str:
    return f"<div class='card'><b>{html.escape(value)}</b>{html.escape(label)}</div>"


def _why(row: dict[str, Any], doc: dict[str, Any] | None) -> str:
    """The first reason a failing run gave (timeout, crash or invalid), else the row's detail."""
    for t in (doc or {}).get("tests") or []:
        extra = t.get("extra_data") or {}
        if extra.get("outcome") in ("timeout", "crash", "deadline", "tamper", "invalid"):
            return f"test {t.get('number')}: {str(extra.get('reason') or '').splitlines()[0][:200]}"
    return str(row.get("detail") or "")


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


# --- charts --------------------------------------------------------------------------------------


def _svg(figure: Any) -> str:
    """The figure as inline SVG: fixed ids and no date, so the same data gives the same bytes."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF licence block
    return text[text.index("<svg") :]


def _figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "labkit-class-report"
    matplotlib.rcParams["font.size"] = 10
    fig, ax = plt.subplots(figsize=(width, height))
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _histogram(distribution: list[dict[str, Any]]) -> str:
    """The score distribution as binned by :func:`labkit.grading.gradebook.compute_stats`."""
    fig, ax = _figure(8, 3.2)
    labels = [str(b["range"]).removesuffix("%").replace("-", "–") for b in distribution]
    counts = [int(b["count"]) for b in distribution]
    bars = ax.bar(labels, counts, color="#3e7cb1")
    ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], padding=2)
    ax.set_ylabel("submissions")
    ax.set_xlabel("score (%)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _svg(fig)


def _pass_rates(tests: list[dict[str, Any]]) -> str:
    shown = tests[:25]
    fig, ax = _figure(8, 0.9 + 0.32 * len(shown))
    names = [_short(f"{t['number']} {t['name']}", 60) for t in shown][::-1]
    rates = [100 * float(t["pass_rate"]) for t in shown][::-1]
    colors = ["#c0392b" if r < 50 else "#e6a23c" if r < 80 else "#2e9e5b" for r in rates]
    bars = ax.barh(names, rates, color=colors)
    ax.bar_label(bars, labels=[f"{r:.0f}%" for r in rates], padding=3)
    ax.set_xlim(0, 110)
    ax.set_xlabel("submissions passing (%)")
    return _svg(fig)


def _slowest(names: list[str], rows: dict[str, dict[str, Any]]) -> str:
    fig, ax = _figure(8, 0.9 + 0.32 * len(names))
    seconds = [_float(rows[n].get("execution_time")) for n in names][::-1]
    bars = ax.barh([_short(n, 40) for n in names][::-1], seconds, color="#7b61a8")
    ax.bar_label(bars, labels=[f"{s:.1f} s" for s in seconds], padding=3)
    ax.set_xlabel("grading time (s)")
    ax.set_xlim(0, max([*seconds, 1.0]) * 1.2)
    return _svg(fig)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
