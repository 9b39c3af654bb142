"""``labkit similarity <lab> --submissions DIR``: rank pairs of submissions by code similarity.

The comparison is copydetect's (winnowed fingerprints of tokenised code, as MOSS does: renaming
variables or reformatting does not hide a copy). Only each submission's allow-listed ``.py`` files
are compared, file with file of the same name, and the starter's code is boilerplate: code every
learner received does not count as copied. A pair's score is the share of the smaller submission's
code found in the other (overlapping tokens / tokens of the smaller one), so copying one function
of a long file still shows.

Similarity is a reason to look, not proof: two learners who both wrote the reference solution's
obvious three lines will match. The HTML report shows the matching code side by side.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labkit.errors import LabkitError
from labkit.grading.batch import list_submissions, not_a_folder_reason
from labkit.grading.manifest import LabManifest


@dataclass
class FileMatch:
    """One file compared between two submissions."""

    name: str
    similarity_a: float  # share of A's file found in B's
    similarity_b: float
    overlap: int
    code_a: str = ""  # HTML, copied parts highlighted
    code_b: str = ""


@dataclass
class Pair:
    """Two submissions and how much code they share."""

    a: str
    b: str
    score: float
    files: list[FileMatch] = field(default_factory=list)


@dataclass
class SimilarityReport:
    """What ``labkit similarity`` found and wrote."""

    lab: str
    pairs: list[Pair]
    compared: list[str]
    skipped: dict[str, str]
    out: Path


def find_similar(
    manifest: LabManifest, starter: Path, submissions_dir: Path, out: Path, top: int = 20
) -> SimilarityReport:
    """Compare every pair of submissions; write the HTML report to ``out``."""
    from copydetect import CopyDetector

    entries = list_submissions(submissions_dir)
    skipped: dict[str, str] = {}
    files: dict[str, list[tuple[Path, str]]] = {}
    for entry in entries:
        reason = not_a_folder_reason(entry)
        if reason:
            skipped[entry.name] = reason.removeprefix("invalid: ")
            continue
        code = [(p, rel) for p, rel in manifest.learner_files(entry) if rel.endswith(".py")]
        if not code:
            skipped[entry.name] = "none of the lab's .py files is in it"
            continue
        files[entry.name] = code
    if len(files) < 2:
        raise LabkitError(
            f"need at least two submissions with the lab's .py files in {submissions_dir} "
            f"(found {len(files)})"
        )
    detector = CopyDetector(
        same_name_only=True, autoopen=False, silent=True, display_t=0.0, out_file=str(out)
    )
    owner: dict[str, tuple[str, str]] = {}
    for name, code in files.items():
        for path, rel in code:
            detector.add_file(str(path), type="testref")
            owner[str(path)] = (name, rel)
    for path in sorted(starter.rglob("*.py")) if starter.is_dir() else []:
        detector.add_file(str(path), type="boilerplate")
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # copydetect logs a warning per empty file
    try:
        detector.run()
    finally:
        logging.getLogger().setLevel(previous)
    index = {f: i for i, f in enumerate(detector.test_files)}
    ref_index = {f: j for j, f in enumerate(detector.ref_files)}
    tokens = {f: len(d.filtered_code) for f, d in detector.file_data.items()}
    pairs: list[Pair] = []
    for a, b in combinations(sorted(files), 2):
        matches: list[FileMatch] = []
        overlap_total = 0
        by_rel_b = {rel: str(p) for p, rel in files[b]}
        for path_a, rel in files[a]:
            fa, fb = str(path_a), by_rel_b.get(rel)
            if fb is None or fa not in detector.file_data or fb not in detector.file_data:
                continue
            sim = detector.similarity_matrix[index[fa], ref_index[fb]]
            overlap = int(detector.token_overlap_matrix[index[fa], ref_index[fb]])
            if sim[0] < 0:
                continue
            overlap_total += max(0, overlap)
            matches.append(FileMatch(rel, float(sim[0]), float(sim[1]), max(0, overlap)))
        size_a = sum(tokens.get(str(p), 0) for p, _ in files[a])
        size_b = sum(tokens.get(str(p), 0) for p, _ in files[b])
        smaller = min(size_a, size_b)
        score = min(1.0, overlap_total / smaller) if smaller else 0.0
        pairs.append(Pair(a, b, round(score, 4), matches))
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    for pair in pairs[:top]:
        by_rel_b = {rel: str(p) for p, rel in files[pair.b]}
        by_rel_a = {rel: str(p) for p, rel in files[pair.a]}
        for match in pair.files:
            match.code_a, match.code_b = _highlight(
                detector, by_rel_a[match.name], by_rel_b[match.name]
            )
    report = SimilarityReport(manifest.id, pairs, sorted(files), skipped, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report, top), encoding="utf-8")
    return report


def _highlight(detector: object, fa: str, fb: str) -> tuple[str, str]:
    """Both files as HTML with the shared code marked (copydetect's own highlighter)."""
    from copydetect.utils import highlight_overlap

    slices = detector.slice_matrix  # type: ignore[attr-defined]
    data = detector.file_data  # type: ignore[attr-defined]
    if (fa, fb) in slices:
        sa, sb = slices[(fa, fb)]
    elif (fb, fa) in slices:
        sb, sa = slices[(fb, fa)]
    else:
        return html.escape(data[fa].raw_code), html.escape(data[fb].raw_code)
    code_a, _ = highlight_overlap(data[fa].raw_code, sa, "<mark>", "</mark>", escape_html=True)
    code_b, _ = highlight_overlap(data[fb].raw_code, sb, "<mark>", "</mark>", escape_html=True)
    return code_a, code_b


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1f2933}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;
border-bottom:1px solid #eef2f6}td.num{text-align:right}.high{color:#b42318;font-weight:600}
.side{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.side>div{min-width:0}pre{background:#f5f7fa;padding:.6rem;
overflow:auto;font-size:.8rem;max-height:30rem}mark{background:#ffd7d5}.muted{color:#616e7c}
"""


def render_html(report: SimilarityReport, top: int) -> str:
    """One self-contained page: the ranked pairs, then the top pairs' code side by side."""
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(report.lab)}: similar submissions</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(report.lab)}: similar submissions</h1>",
        f"<p class='muted'>{len(report.compared)} submissions compared with copydetect; the "
        "starter's code is ignored. A high score is a reason to look, not proof.</p>",
        "<table><tr><th>#</th><th>submission</th><th>submission</th>"
        "<th class='num'>shared code</th><th>files</th></tr>",
    ]
    for rank, pair in enumerate(report.pairs, 1):
        cls = " high" if pair.score >= 0.5 else ""
        link = f"<a href='#pair{rank}'>{rank}</a>" if rank <= top else str(rank)
        files = ", ".join(
            f"{esc(m.name)} {100 * max(m.similarity_a, m.similarity_b):.0f}%" for m in pair.files
        )
        parts.append(
            f"<tr><td>{link}</td><td>{esc(pair.a)}</td><td>{esc(pair.b)}</td>"
            f"<td class='num{cls}'>{100 * pair.score:.0f}%</td><td>{files}</td></tr>"
        )
    parts.append("</table>")
    if report.skipped:
        parts.append("<h2>Not compared</h2><ul>")
        parts += [f"<li>{esc(n)}: {esc(why)}</li>" for n, why in sorted(report.skipped.items())]
        parts.append("</ul>")
    for rank, pair in enumerate(report.pairs[:top], 1):
        parts.append(
            f"<h2 id='pair{rank}'>{rank}. {esc(pair.a)} and {esc(pair.b)}: "
            f"{100 * pair.score:.0f}%</h2>"
        )
        for match in pair.files:
            parts.append(
                f"<h3>{esc(match.name)}</h3><div class='side'>"
                f"<div><b>{esc(pair.a)}</b><pre>{match.code_a}</pre></div>"
                f"<div><b>{esc(pair.b)}</b><pre>{match.code_b}</pre></div></div>"
            )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render_console(report: SimilarityReport, console: Console, limit: int = 10) -> None:
    """The top pairs as a table, and where the report is."""
    table = Table(title=f"{report.lab}: most similar pairs", box=None, title_justify="left")
    table.add_column("#", style="dim")
    table.add_column("submissions")
    table.add_column("shared", justify="right")
    for rank, pair in enumerate(report.pairs[:limit], 1):
        style = "red" if pair.score >= 0.5 else ""
        table.add_row(
            str(rank),
            escape(f"{pair.a} · {pair.b}"),
            f"[{style}]{100 * pair.score:.0f}%[/{style}]" if style else f"{100 * pair.score:.0f}%",
        )
    console.print(table)
    for name, why in sorted(report.skipped.items()):
        console.print(f"[yellow]not compared[/yellow] {escape(name)}: {escape(why)}")
    console.print(f"report: {escape(str(report.out))}  (open it in a browser)")
