"""The course check (labkit.scaffold.course_check) on every lab, and on broken copies of one.

Fast and static: it reads READMEs, graders and sources with ``ast``; nothing is graded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labkit.grading.manifest import LabManifest, discover_labs, load_manifest, repo_root
from labkit.scaffold.course_check import (
    README_SECTIONS,
    check_hints,
    check_lab,
    check_readme_skeleton,
    check_files,
    check_starter_matches_reference,
    check_task_references,
    check_tests_declared,
)

ROOT = repo_root(Path(__file__).resolve().parent)
LABS = discover_labs(ROOT)


@pytest.mark.parametrize("lab", LABS, ids=[lab.id for lab in LABS])
def test_lab_follows_the_course_conventions(lab: LabManifest) -> None:
    problems = check_lab(lab, ROOT)
    assert not problems, f"{lab.id}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- the check catches


@pytest.fixture
def chat01(tmp_path: Path) -> tuple[LabManifest, Path]:
    """A copy of chat-01's three folders, to break one thing at a time."""
    for part in ("labs", "solutions", "graders"):
        shutil.copytree(ROOT / part / "chat-01", tmp_path / part / "chat-01")
    return load_manifest(tmp_path / "graders" / "chat-01" / "lab.toml"), tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_missing_section_is_reported(chat01: tuple[LabManifest, Path]) -> None:
    lab, root = chat01
    readme = root / "labs" / "chat-01" / "README.md"
    _edit(readme, "## Going further", "## Further")
    (problem,) = check_readme_skeleton(lab, readme)
    assert "Going further" in problem and str(list(README_SECTIONS)) in problem


def test_an_unknown_test_and_a_loose_reference_are_reported(
    chat01: tuple[LabManifest, Path],
) -> None:
    lab, root = chat01
    readme = root / "labs" / "chat-01" / "README.md"
    _edit(readme, "*Tests 1.1–1.3*", "*Tests 1.1–1.4*")
    _edit(readme, "*Test 5.1*", "Test 5.1 `test_friendly_error_messages`")
    problems = check_task_references(lab, readme)
    assert any("names test 1.4" in p for p in problems), problems
    assert any("'Test 5.1…'" in p for p in problems), problems


def test_signature_and_docstring_drift_are_reported(chat01: tuple[LabManifest, Path]) -> None:
    lab, root = chat01
    reference = root / "solutions" / "chat-01" / "chatbot.py"
    _edit(
        reference,
        "def trim_history(history: Sequence[Message], budget: int,",
        "def trim_history(history: Sequence[Message], budget: float,",
    )
    _edit(reference, "Drop the oldest user/assistant pairs", "Drop the oldest pairs")
    problems = check_starter_matches_reference(lab, root)
    assert any("trim_history signature differs" in p and "budget: float" in p for p in problems)
    (drift,) = [p for p in problems if "trim_history docstring differs" in p]
    assert "line 1 is 'Drop the oldest user/assistant pairs" in drift, drift
    assert "'Drop the oldest pairs" in drift, drift


def test_a_test_without_a_hint_and_a_hint_without_a_test_are_reported(
    chat01: tuple[LabManifest, Path],
) -> None:
    lab, _ = chat01
    hints = lab.grader_dir / "hints.toml"
    _edit(hints, '"1.1" = [', '"9.9" = [')
    assert check_hints(lab) == [
        'graders/chat-01/hints.toml: test 1.1 has no hint; add "1.1" = ["<the nudge>"]',
        "graders/chat-01/hints.toml: '9.9' is not a test of graders/chat-01",
    ]
    hints.write_text('"1.1" = "a string, not a list"\n')
    assert check_hints(lab) == [
        "graders/chat-01/hints.toml: '1.1' must be a list of 1 to 3 hints (the nudge first), "
        'e.g. "1.1" = ["Return the value; do not print it."]'
    ]


def test_a_hyphenated_range_gets_its_own_fix(chat01: tuple[LabManifest, Path]) -> None:
    lab, root = chat01
    readme = root / "labs" / "chat-01" / "README.md"
    _edit(readme, "*Tests 4.1–4.4*", "*Tests 4.1-4.4*")
    problems = check_task_references(lab, readme)
    assert any("a range takes an en dash, not a hyphen: *Tests 4.1–4.4*" in p for p in problems), (
        problems
    )


def test_a_test_no_task_names_is_reported(chat01: tuple[LabManifest, Path]) -> None:
    lab, root = chat01
    readme = root / "labs" / "chat-01" / "README.md"
    _edit(readme, "*Tests 6.1–6.3*", "*Tests 6.1, 6.2*")
    assert check_task_references(lab, readme) == [
        "labs/chat-01/README.md: no task names test 6.3; add *Test 6.3* to the task it checks"
    ]


def test_a_test_without_lab_test_is_reported(chat01: tuple[LabManifest, Path]) -> None:
    lab, _ = chat01
    _edit(lab.grader_dir / "test_chatbot.py", '@lab_test(points=1, number="1.1")\n', "")
    assert check_tests_declared(lab) == [
        "graders/chat-01/test_chatbot.py: test_count_message_tokens has no "
        '@lab_test(points=..., number="N.M"); add it above the test'
    ]


def test_a_renamed_file_and_a_stub_naming_no_task_are_reported(
    chat01: tuple[LabManifest, Path],
) -> None:
    lab, root = chat01
    (root / "labs" / "chat-01" / "cli.py").rename(root / "labs" / "chat-01" / "front.py")
    _edit(root / "labs" / "chat-01" / "chatbot.py", "see task 3", "see task 9")
    problems = check_files(lab, root, root / "labs" / "chat-01" / "README.md")
    assert problems[0] == (
        "graders/chat-01/lab.toml lists 'cli.py' in files, but labs/chat-01/cli.py does not "
        "exist (renamed? the grader copies only the files listed there)"
    )
    assert problems[1].startswith("labs/chat-01/chatbot.py line 148: says 'see task 9', but")
    assert problems[1].endswith("the README's Tasks are numbered 1–6"), problems
    assert len(problems) == 2, problems
