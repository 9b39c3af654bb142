"""Helpers for the labs' exploration notebooks (``labs/<id>/explore.ipynb``).

``use_lab()`` makes the learner's own modules importable and turns a stub's
``NotImplementedError("not implemented yet — see task N")`` into that one line instead of a
traceback, so a notebook run on an unfinished lab stops at the first stub and says which task to
do. ``start_fake_provider()`` runs the offline fake provider inside the notebook and points
``labkit.config`` at it. ``show_messages()`` prints a conversation as it went over the wire, one
line a message, and ``bar_chart()`` draws the small comparisons the notebooks make (a value per
name, or per name and series). ``ShippedEmbedder`` serves the MiniLM vectors the graders ship, so
a notebook embeds only what they do not hold; ``ShippedScorer`` does the same for a reranker's
scores. Nothing here names a lab: every notebook uses the
same calls.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from labkit.datasets.paths import repo_root
from labkit.errors import raised_in
from labkit.fakellm import FakeLLM
from labkit.models import embedder, reranker

_FAKE: FakeLLM | None = None


def stub_message(exc: BaseException, lab_dir: Path) -> str:
    """One line for a NotImplementedError raised by a stub of the lab: which function, which task."""
    place = raised_in(exc, lab_dir)
    said = str(exc).strip() or "not implemented yet — see the README's Tasks"
    return f"{place.file.name}: {place.function}() is {said}" if place else said


def use_lab(folder: str | os.PathLike[str] | None = None) -> Path:
    """Import the learner's modules from ``folder`` (default: the notebook's own folder).

    In IPython, a NotImplementedError from the lab's code is shown as one line (the stub's own
    "not implemented yet — see task N") and stops the run there.
    """
    lab_dir = Path(folder or Path.cwd()).resolve()
    if str(lab_dir) not in sys.path:
        sys.path.insert(0, str(lab_dir))
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to install
        return lab_dir
    shell = get_ipython()
    if shell is not None:

        def show(
            shell: Any,
            etype: type[BaseException],
            value: BaseException,
            tb: TracebackType | None,
            tb_offset: int | None = None,
        ) -> None:
            print(f"⏸ {stub_message(value, lab_dir)}")

        shell.set_custom_exc((NotImplementedError,), show)
    return lab_dir


def start_fake_provider() -> FakeLLM:
    """The offline fake provider, started once per kernel, with ``labkit.config`` pointed at it."""
    global _FAKE
    if _FAKE is None:
        _FAKE = FakeLLM().start()
    for name, value in _FAKE.env().items():
        os.environ[name] = value
    _FAKE.reset()
    return _FAKE


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _describe_part(part: Any, width: int) -> str:
    """One content part of a message: text, a tool call or a tool result, in either SDK's shape."""
    if not isinstance(part, Mapping):
        return _clip(str(part), width)
    kind = part.get("type")
    if kind == "tool_use":
        return f"→ {part.get('name')}({_clip(json.dumps(part.get('input')), width)}) [{part.get('id')}]"
    if kind == "tool_result":
        error = " ✗" if part.get("is_error") else ""
        content = part.get("content")
        body = content if isinstance(content, str) else json.dumps(content)
        return f"← [{part.get('tool_use_id')}]{error} {_clip(body, width)}"
    if "text" in part:
        return _clip(str(part["text"]), width)
    return _clip(json.dumps(part), width)


def message_lines(messages: Iterable[Mapping[str, Any]], width: int = 90) -> list[str]:
    """A conversation (OpenAI or Anthropic message dicts) as short lines, one per part.

    Tool calls show as ``→ name(arguments) [id]`` and tool results as ``← [id] content``, so the
    pairing of every result with its call can be read off by eye.
    """
    lines: list[str] = []
    for number, message in enumerate(messages, start=1):
        role = str(message.get("role", "?"))
        parts: list[str] = []
        content = message.get("content")
        if isinstance(content, str) and content:
            parts.append(_clip(content, width))
        elif isinstance(content, list):
            parts.extend(_describe_part(part, width) for part in content)
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            arguments = _clip(str(function.get("arguments", "")), width)
            parts.append(f"→ {function.get('name')}({arguments}) [{call.get('id')}]")
        if role == "tool":
            parts = [f"← [{message.get('tool_call_id')}] {part}" for part in parts]
        for i, part in enumerate(parts or [""]):
            lead = f"{number:>2} {role:<9}" if i == 0 else " " * 12
            lines.append(f"{lead} {part}")
    return lines


def show_messages(messages: Iterable[Mapping[str, Any]], width: int = 90) -> None:
    """Print :func:`message_lines`."""
    print("\n".join(message_lines(messages, width)))


def bar_chart(
    values: Mapping[str, float] | Mapping[str, Mapping[str, float]],
    *,
    title: str,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
) -> Any:
    """Bars, one per name; with a mapping of mappings, one group per name and a bar per series.

    ``{"fixed": 0.8, "sentences": 0.9}`` draws two bars; ``{"bm25": {"nDCG@10": 0.6, ...}, ...}``
    draws a group per stage with a bar per metric. Returns the matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    names = list(values)
    series: dict[str, list[float]] = {}
    for name in names:
        value = values[name]
        row = value if isinstance(value, Mapping) else {"": value}
        for label in row:
            series.setdefault(label, [])
    for label, heights in series.items():
        for name in names:
            value = values[name]
            heights.append(float(value.get(label, 0.0) if isinstance(value, Mapping) else value))
    every = [h for heights in series.values() for h in heights]
    if all(h == int(h) for h in every) or max(map(abs, every), default=0) >= 100:
        label_format = "%.0f"
    else:
        label_format = "%.2f" if max(map(abs, every), default=0) < 10 else "%.1f"
    width = 0.8 / len(series)
    group = max(0.6 + 0.35 * len(series), 0.09 * max(map(len, names), default=0))
    _, ax = plt.subplots(figsize=(max(5.0, group * len(names) + 1.5), 3.2))
    for index, (label, heights) in enumerate(series.items()):
        offsets = [i - 0.4 + width * (index + 0.5) for i in range(len(names))]
        bars = ax.bar(offsets, heights, width, label=label or None)
        ax.bar_label(bars, fmt=label_format, fontsize=8, padding=2)
    if min(every, default=0) < 0:
        ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    else:
        ax.margins(y=0.15)
    if len(series) > 1:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def _from_repo(file: str | os.PathLike[str]) -> Path:
    """``file`` as given when absolute, else read from the repository's root (so a path such as
    ``graders/rag-01/minilm_vectors.npz`` works from any notebook's folder)."""
    path = Path(file)
    return path if path.is_absolute() else repo_root() / path


class ShippedEmbedder(embedder.ShippedEmbedder):
    """:class:`labkit.models.embedder.ShippedEmbedder`, with relative paths read from the
    repository's root (``ShippedEmbedder("graders/rag-01/minilm_vectors.npz")`` works from any
    notebook's folder)."""

    def __init__(self, *files: str | os.PathLike[str]) -> None:
        super().__init__(*map(_from_repo, files))


class ShippedScorer(reranker.ShippedScorer):
    """:class:`labkit.models.reranker.ShippedScorer`, with a relative path read from the
    repository's root (``ShippedScorer("graders/rag-03/rerank_scores.npz", fallback)`` works from
    any notebook's folder): the scores the graders ship, and ``fallback(query, passages)`` (your
    lab's own scorer, which loads the model) for any other pair; ``live`` counts those pairs."""

    def __init__(
        self,
        file: str | os.PathLike[str],
        fallback: reranker.Scorer,
    ) -> None:
        super().__init__(_from_repo(file), fallback)
