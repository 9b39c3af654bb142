"""Helpers for lab authors, so graders stop re-writing the same small functions.

- The chat requests the fake provider got from one SDK: :func:`sdk_requests` (journal entries, for
  the readers below) and :func:`sdk_bodies` (their JSON bodies, the wire shape); the endpoint each
  SDK posts to is in :data:`CHAT_PATHS`.
- What a request carried, whatever the SDK: :func:`system_prompt`, :func:`turns`,
  :func:`tool_results` read the fake provider's normalised request (``JournalEntry.chat``), so a
  test does not care whether the learner used the OpenAI or the Anthropic SDK.
  :func:`content_text` is for a test that checks the raw wire shape (or a learner's own message
  dicts) on purpose: the exact text of one raw ``content`` value.
- :func:`dataset_path`: a file under the course's ``datasets/`` folder, from ``labkit.datasets``
  (never ``Path(labkit.__file__).parents[2]``, which breaks in an installed package);
  :func:`dataset_rows` reads a JSON-lines one (a broken line fails with one line naming it);
  :func:`dataset_copy` copies one into a test's folder for learner code to read and write; the
  ``shop_copy`` fixture is such a copy of the shop database, taken into a test file with
  ``shop_copy = toolkit.shop_copy`` (``from labkit.grading import toolkit``).
- The ``private_dir`` fixture (registered by the grading plugin): a fresh writable folder per test
  that learner code in the worker may use (a plain temporary folder, not ``tmp_path``, whose
  ``-current`` symlink the guard refuses). :func:`learner_folder` makes one outside a fixture;
  :func:`hand_over` lets learner code write in a folder a test made itself (when the grader runs
  as root, learner code runs as a user of its own: ``labkit.grading.identity``).
- Sharing helpers between the test files of one grader: put them in a module next to the tests
  (``graders/<id>/support.py``, as every grader names it) and ``import support``; a fixture
  defined there is shared with ``oracle = support.oracle``. The grader's folder is on
  ``sys.path`` (``pythonpath = tests`` in the grader's pytest.ini) and helper modules are
  collected with the tests, before their files are deleted.
- A model-free embedder to hand learner code when a test is about its logic, not meaning:
  :class:`labkit.grading.standins.BagOfWordsEmbedder` (deterministic, records what it embedded).
- Typed fixtures: annotate ``learner: Learner`` and ``fake_llm: FakeLLM``; a learner module is a
  :class:`~labkit.grading.remote.Remote`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labkit.datasets.files import read_jsonl
from labkit.datasets.paths import datasets_dir
from labkit.fakellm.journal import JournalEntry
from labkit.grading.identity import hand_over

if TYPE_CHECKING:
    from labkit.fakellm import FakeLLM

__all__ = [
    "CHAT_PATHS",
    "content_text",
    "dataset_copy",
    "dataset_path",
    "dataset_rows",
    "hand_over",
    "learner_folder",
    "sdk_bodies",
    "sdk_requests",
    "shop_copy",
    "system_prompt",
    "tool_calls",
    "tool_results",
    "turns",
]

# The endpoint each SDK's chat call posts to (the journal matches /chat/completions too).
CHAT_PATHS: dict[str, str] = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


def learner_folder(prefix: str = "labkit-") -> Path:
    """A new temporary folder learner code may write in (removed with the run's temp folder)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    hand_over(folder)
    return folder


def sdk_requests(fake: FakeLLM, sdk: str = "openai") -> list[JournalEntry]:
    """The chat requests the fake provider got from the ``sdk`` ("openai" or "anthropic") SDK,
    oldest first: journal entries, for :func:`system_prompt`, :func:`turns` and the like."""
    return fake.journal.requests(CHAT_PATHS[sdk])


def sdk_bodies(fake: FakeLLM, sdk: str = "openai") -> list[dict[str, Any]]:
    """The JSON bodies of :func:`sdk_requests`, oldest first, as the SDK put them on the wire (a
    request whose body was not a JSON object, which an SDK never sends, is left out)."""
    return [e.body for e in sdk_requests(fake, sdk) if isinstance(e.body, dict)]


def _chat(entry: JournalEntry) -> Any:
    if entry.chat is None:
        raise AssertionError(
            f"the request to {entry.path} is not a generation request the fake provider understood"
        )
    return entry.chat


def system_prompt(entry: JournalEntry) -> str:
    """The system prompt of one request ("" if none): OpenAI's system message or Anthropic's
    top-level ``system``."""
    return str(_chat(entry).system)


def turns(entry: JournalEntry) -> list[tuple[str, str]]:
    """``[(role, text), ...]`` of one request, oldest first, without the system prompt."""
    return [(str(m.role), str(m.text)) for m in _chat(entry).messages]


def tool_results(entry: JournalEntry) -> list[dict[str, Any]]:
    """Every tool result one request sent back: ``{"call_id", "content", "is_error",
    "tool_name"}``, in order."""
    out: list[dict[str, Any]] = []
    for message in _chat(entry).messages:
        for result in message.tool_results:
            out.append(
                {
                    "call_id": result.call_id,
                    "content": result.content,
                    "is_error": result.is_error,
                    "tool_name": result.tool_name,
                }
            )
    return out


def tool_calls(entry: JournalEntry) -> list[dict[str, Any]]:
    """Every tool call the assistant turns of one request echo back: ``{"id", "name",
    "arguments"}`` (arguments parsed)."""
    out: list[dict[str, Any]] = []
    for message in _chat(entry).messages:
        for call in message.tool_calls:
            out.append({"id": call.id, "name": call.name, "arguments": call.parsed_arguments()})
    return out


def content_text(content: Any) -> str:
    """The text of one raw ``content`` value, exactly as the learner's code wrote it: a message's
    or a tool result's content on the wire (``entry.body``), or in a learner's own history.

    A string is returned as is; a list of text blocks (``{"type": "text", "text": ...}``) is
    their texts joined with nothing between. Anything else (None, a dict, a list holding another
    kind of block) comes back as its JSON, so it never equals the text a test expects by
    accident and the learner sees what was sent. The normalised :func:`turns` and
    :func:`tool_results` are more forgiving (the fake provider joins blocks with newlines and
    skips images): use them when only the content matters, and this when the shape does.
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(block, dict) and block.get("type") == "text" for block in content
    ):
        return "".join(str(block.get("text", "")) for block in content)
    return json.dumps(content, default=repr)


def dataset_path(*parts: str) -> Path:
    """A file or folder under the course's ``datasets/`` (``dataset_path("shop", "shop.sqlite")``);
    fails the test's module import with a clear message if it is missing."""
    path = datasets_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (is the course's datasets/ folder there?)")
    return path


def dataset_rows(*parts: str) -> list[Any]:
    """Every row of a JSON-lines file under the course's ``datasets/``, in file order, as
    ``json.loads`` reads it (``dataset_rows("llmops", "requests.jsonl")``); blank lines are
    skipped, and a line that is not JSON fails with one line naming the file and the line."""
    return [row for _, row in read_jsonl(dataset_path(*parts))]


def dataset_copy(folder: Path, *parts: str) -> Path:
    """A fresh copy of a course data file (``dataset_path(*parts)``) in ``folder``, e.g. a test's
    ``private_dir``, that learner code may read AND write: the folder is handed over again after
    the copy, so a write through the learner's connection really happens (and a test that checks
    nothing was harmed proves something) also when the grader runs as root."""
    target = folder / parts[-1]
    shutil.copyfile(dataset_path(*parts), target)
    hand_over(folder)
    return target


@pytest.fixture
def shop_copy(private_dir: Path) -> Path:
    """A fixture: a private copy of the course's shop database (``datasets/shop/shop.sqlite``)
    that learner code may read AND write, made by :func:`dataset_copy` in the test's
    ``private_dir``. A test file takes it with ``shop_copy = toolkit.shop_copy``."""
    return dataset_copy(private_dir, "shop", "shop.sqlite")
