"""chat-01 is graded task by task: with ``ChatSession`` (task 4) not written yet, tasks 1, 2, 3 and
5 still earn all their points (14.0: they used to earn nothing until task 4 worked)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from labkit.grading.manifest import find_lab, repo_root
from labkit.grading.runner import GradeOptions, collect_expected, grade

ROOT = repo_root(Path(__file__).resolve().parent)


class _StubClass(ast.NodeTransformer):
    """Every method of one class raises NotImplementedError, as in the starter."""

    def __init__(self, name: str) -> None:
        self.name = name

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        if node.name == self.name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    item.body = ast.parse("raise NotImplementedError('task 4')").body
        return node


def test_tasks_before_and_after_the_session_are_graded_on_their_own(tmp_path: Path) -> None:
    lab = find_lab(ROOT, "chat-01")
    folder = tmp_path / "chat-01"
    shutil.copytree(
        ROOT / "solutions" / "chat-01", folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    source = (folder / "chatbot.py").read_text(encoding="utf-8")
    tree = _StubClass("ChatSession").visit(ast.parse(source))
    (folder / "chatbot.py").write_text(
        ast.unparse(ast.fix_missing_locations(tree)), encoding="utf-8"
    )
    # The CLI tests need the session anyway: of those (several seconds each) only 6.3 is run, for
    # its message when the CLI crashes with a traceback.
    expected = [m for m in collect_expected(lab) if m.number[0] != "6" or m.number == "6.3"]
    result = grade(lab, folder, GradeOptions(expected=expected))
    by_task: dict[str, set[bool]] = {}
    for outcome in result.tests:
        by_task.setdefault(outcome.meta.number.split(".")[0], set()).add(outcome.passed)
    failing = {t.meta.number: t.reason[:200] for t in result.tests if not t.passed}
    for task in ("1", "2", "3", "5"):
        assert by_task[task] == {True}, f"task {task} needs ChatSession: {failing}"
    assert by_task["4"] == {False}
    cli = next(t for t in result.tests if t.meta.number == "6.3")
    assert cli.reason.startswith(
        "expected friendly messages, but a traceback was printed, ending: "
    )
    assert "\\n" not in cli.reason and "grading" not in cli.reason  # no escapes, no temp paths
    assert f"{folder}/chatbot.py" in cli.reason and "NotImplementedError: task 4" in cli.reason
