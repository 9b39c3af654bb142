"""The two boundary behaviours an agent grader (agent-01) relies on, pinned on their own.

- A judge-side tool that raises: learner code calling it back gets a real exception of the same
  built-in type, with the message, that its own ``except`` catches (the lab turns it into an
  ``Error: ...`` observation).
- A mapping of learner functions (``tools.default_tools(db)``) comes back to the judge as a dict of
  handles; handing that dict to learner code again gives the worker its own original functions, so
  the tools never leave the worker.
"""

from __future__ import annotations

from typing import Any

from grader_fixtures import worker_fixtures

from labkit.grading.remote import Remote

CODE = '''
def upper(text):
    return text.upper()

def default_tools():
    return {"upper": upper, "length": lambda text: str(len(text))}

def observe(tools, name, value):
    """What an agent loop does with a tool: call it, and turn an exception into an observation."""
    try:
        return "ok: " + tools[name](value)
    except Exception as exc:
        return f"Error: {type(exc).__name__}: {exc}"

def same_functions(tools):
    return tools["upper"] is upper and callable(tools["length"])
'''


learner, mod = worker_fixtures({"agentish.py": CODE}, "agentish", timeout=10)


def test_a_judge_tool_that_raises_is_an_exception_in_learner_code(mod: Any) -> None:
    calls: list[str] = []

    def broken(query: str) -> str:
        calls.append(query)
        raise RuntimeError("database is locked")

    got = mod.observe({"sql": broken}, "sql", "SELECT 1")
    assert got == "Error: RuntimeError: database is locked"
    assert calls == ["SELECT 1"]


def test_learner_tool_maps_stay_in_the_worker(mod: Any) -> None:
    tools = mod.default_tools()
    assert type(tools) is dict
    assert all(type(f) is Remote for f in tools.values())
    assert mod.same_functions(tools) is True
    assert mod.observe(tools, "length", "abcd") == "ok: 4"
