"""labkit.scaffold.mutants: what a mutant is, checked on small sources (static, no grading).

``test_labs.py`` grades every lab's mutants; this file pins the definition itself: which functions
are stubs, that exactly one body is replaced, and that a stub the reference lacks is refused.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from labkit.grading.manifest import discover_labs, find_lab, repo_root
from labkit.scaffold.mutants import BROKEN, break_function, lab_mutants
from labkit.scaffold.source import stubs

ROOT = repo_root(Path(__file__).resolve().parent)

STARTER = textwrap.dedent(
    '''
    def given(x):
        return x + 1

    def task(x):
        """Double x."""
        raise NotImplementedError("not implemented yet")

    async def fetch():
        raise NotImplementedError

    class Store:
        def add(self, item):
            """Keep item."""
            raise NotImplementedError("see task 2")

        def size(self):
            return 0

        def helper(self):
            def inner():
                raise NotImplementedError  # nested: not a task of its own
            return inner
    '''
)

REFERENCE = textwrap.dedent(
    '''
    def given(x):
        return x + 1

    def task(x):
        """Double x."""
        return 2 * x

    class Store:
        def add(self, item):
            """Keep item."""
            self.items.append(item)
    '''
)


def test_stubs_are_the_functions_and_methods_that_raise_not_implemented() -> None:
    # helper counts: a NotImplementedError anywhere in its body marks it, as in the starters.
    assert stubs(ast.parse(STARTER)) == ["Store.add", "Store.helper", "fetch", "task"]


def test_breaking_a_method_replaces_that_body_only_and_keeps_its_docstring() -> None:
    broken = ast.parse(break_function(REFERENCE, "Store.add"))
    store = next(n for n in broken.body if isinstance(n, ast.ClassDef))
    add = store.body[0]
    assert isinstance(add, ast.FunctionDef)
    assert ast.get_docstring(add) == "Keep item."
    assert ast.unparse(add.body[-1]) == ast.unparse(ast.parse(BROKEN).body[0])
    task = next(n for n in broken.body if isinstance(n, ast.FunctionDef) and n.name == "task")
    assert ast.unparse(task.body[-1]) == "return 2 * x"


def test_a_stub_missing_from_the_reference_is_refused() -> None:
    with pytest.raises(LookupError, match="fetch"):
        break_function(REFERENCE, "fetch")


def test_every_lab_has_one_mutant_per_stub_and_each_differs_from_the_reference() -> None:
    for lab in discover_labs(ROOT):
        mutants = lab_mutants(lab, ROOT)
        assert mutants, f"{lab.id}: the starter has no stubs"
        for mutant in mutants:
            reference = (ROOT / "solutions" / lab.id / mutant.file).read_text(encoding="utf-8")
            assert ast.dump(ast.parse(mutant.source)) != ast.dump(ast.parse(reference))
    # sorted by file, then qualified name: chat-01's first is its session's constructor
    first = lab_mutants(find_lab(ROOT, "chat-01"), ROOT)[0]
    assert (first.file, first.qualname) == ("chatbot.py", "ChatSession.__init__")
