"""Grading on many machines: ``grade-all --shard i/n`` and ``labkit gradebook merge``.

Each machine (a GitHub Actions matrix job, a cluster job-array task) runs the same command with its
own ``--shard i/n`` and its own output folder. A submission belongs to shard
``1 + int(sha256(name)[:16], 16) % n``: deterministic on every machine, independent of the order
folders are listed in, and a late submission does not move the others to a different shard.

``labkit gradebook merge OUT SHARD_DIR...`` joins the shards' outputs into one gradebook, summary
and report. It refuses, with one line, shards from different runs (tests, seed or submissions
differ), a shard given twice or overlapping another, and missing shards; the same inputs always give
byte-identical outputs, so merging again is harmless.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based, as people count machines)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, name: str) -> bool:
        return shard_of(name, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> Shard(2, 4); anything else is one line saying what is expected."""
    match = _SHARD_RE.match(text)
    if not match:
        raise LabkitError(f"--shard {text!r}: expected i/n, e.g. --shard 1/4 (shards 1/4 … 4/4)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise LabkitError(
            f"--shard {text}: i must be between 1 and n (here 1 … {max(count, 1)}), "
            f"e.g. --shard 1/{max(count, 1)}"
        )
    return Shard(index, count)


def shard_of(name: str, count: int) -> int:
    """Which shard (1-based) submission ``name`` belongs to, out of ``count``."""
    return 1 + int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:16], 16) % count


def listing_hash(names: list[str]) -> str:
    """A fingerprint of the whole submissions listing, so shards of different listings (a folder
    that changed between two machines' runs) are not merged as if they were one class."""
    return hashlib.sha256("\0".join(sorted(names)).encode("utf-8")).hexdigest()[:16]


@dataclass
class MergeResult:
    """What ``gradebook merge`` wrote."""

    out: Path
    submissions: int
    shards: int


def merge(out: Path, shard_dirs: list[Path]) -> MergeResult:
    """Join shard outputs (each a ``grade-all --shard`` OUTDIR) into ``out``."""
    from labkit.grading.classreport import build_report
    from labkit.grading.gradebook import compute_stats, row_from_results, write_gradebook
    from labkit.grading.results import read_json, write_json, write_text
    from labkit.grading.spec import TestMeta

    infos = _read_summaries(out, shard_dirs)
    _check_same_run(infos)
    first = infos[0][1]
    count, owner = _owners(infos)
    expected = [TestMeta.from_dict(m) for m in first.get("expected") or []]
    rows: dict[str, dict[str, Any]] = {}
    docs: dict[str, dict[str, Any]] = {}
    for name, folder in sorted(owner.items()):
        doc = read_json(folder / name / "results.json")
        if doc is None:
            raise LabkitError(
                f"{folder}/{name}/results.json is missing or unreadable; rerun that shard"
            )
        docs[name] = doc
        rows[name] = row_from_results(name, doc)
    out.mkdir(parents=True, exist_ok=True)
    for name, folder in owner.items():
        target = out / name / "results.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / name / "results.json", target)
    write_gradebook(out, rows, expected)
    stats = compute_stats(rows, expected)
    merged = {k: v for k, v in first.items() if k not in ("shard",)}
    merged.update(stats)
    merged["merged_from"] = count
    write_json(out / "summary.json", merged)
    write_text(
        out / "report.html", build_report(str(first.get("lab", "")), rows, docs, stats, expected)
    )
    return MergeResult(out, len(rows), count)


def _read_summaries(out: Path, shard_dirs: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Each shard folder with its summary.json, refusing what is not a shard output."""
    from labkit.grading.results import read_json

    if not shard_dirs:
        raise LabkitError("gradebook merge: give the shard output folders to merge")
    resolved_out = out.resolve()
    infos: list[tuple[Path, dict[str, Any]]] = []
    for folder in shard_dirs:
        if folder.resolve() == resolved_out:
            raise LabkitError(f"{folder} is both a shard and the output; merge into a new folder")
        summary = read_json(folder / "summary.json")
        if summary is None:
            raise LabkitError(
                f"{folder}: no summary.json; is it a grade-all --shard output folder?"
            )
        if not isinstance(summary.get("shard"), dict):
            raise LabkitError(f"{folder}: graded without --shard; nothing to merge")
        infos.append((folder, summary))
    return infos


def _check_same_run(infos: list[tuple[Path, dict[str, Any]]]) -> None:
    """Every shard graded the same lab, tests and seed, over the same submission listing."""
    first_folder, first = infos[0]
    for folder, summary in infos[1:]:
        for key in ("lab", "tests_hash", "seed"):
            if summary.get(key) != first.get(key):
                raise LabkitError(
                    f"{folder} and {first_folder} come from different runs ({key} differs); "
                    "grade every shard with the same lab, tests and seed"
                )
        if summary["shard"].get("listing") != first["shard"].get("listing"):
            raise LabkitError(
                f"{folder} and {first_folder} saw different submission folders; grade every "
                "shard from the same copy of the submissions"
            )


def _owners(infos: list[tuple[Path, dict[str, Any]]]) -> tuple[int, dict[str, Path]]:
    """The shard count and which shard folder holds each submission: every shard exactly once,
    no submission in two."""
    first_folder, first = infos[0]
    count = int(first["shard"]["count"])
    seen: dict[int, Path] = {}
    owner: dict[str, Path] = {}
    for folder, summary in infos:
        shard = summary["shard"]
        if int(shard["count"]) != count:
            raise LabkitError(
                f"{folder} is shard {shard['index']}/{shard['count']} but {first_folder} is one of "
                f"{count}; use the same n everywhere"
            )
        index = int(shard["index"])
        if index in seen:
            raise LabkitError(
                f"shard {index}/{count} given twice ({seen[index]} and {folder}); "
                "give each shard once"
            )
        seen[index] = folder
        for name in shard["submissions"]:
            if name in owner:
                raise LabkitError(
                    f"overlapping shards: {name} is in both {owner[name]} and {folder}"
                )
            owner[name] = folder
    missing = [i for i in range(1, count + 1) if i not in seen]
    if missing:
        listed = ", ".join(f"{i}/{count}" for i in missing)
        raise LabkitError(
            f"missing shard(s) {listed}: merge needs all {count}; grade them with "
            f"grade-all --shard i/{count} and pass their output folders too"
        )
    return count, owner
