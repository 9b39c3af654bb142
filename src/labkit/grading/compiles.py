"""Before the tests: does each of the learner's Python files compile?

A syntax error makes every test that imports the file fail with the same message, and the first
failing test's hint may be about another file entirely. Compiling (never running) each
allow-listed ``.py`` file in the parent first lets the report say it once, at the top, and point
``Next`` at the right file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from labkit.grading.manifest import LabManifest

_SYNTAX_NAMES = ("SyntaxError", "IndentationError", "TabError")


@dataclass(frozen=True)
class CompileProblem:
    """One learner file that does not compile."""

    file: str  # relative to the lab folder: "assistant.py"
    line: int | None
    message: str  # Python's own words: "'(' was never closed"
    code: str = ""  # the offending line, stripped

    def summary(self) -> str:
        """ "assistant.py does not compile: line 82: invalid syntax (def oops(:)"."""
        where = f": line {self.line}" if self.line else ""
        code = f" ({self.code[:60]})" if self.code else ""
        return f"{self.file} does not compile{where}: {self.message}{code}"

    def explains(self, reason: str) -> bool:
        """True if a test's failure reason is this syntax error again (seen through an import)."""
        if not any(name in reason for name in _SYNTAX_NAMES):
            return False
        # Through an import the reason names the file; through a CLI run, its stderr shows the
        # module name ("python -m calc") and the offending line.
        names = (self.file, PurePosixPath(self.file).stem, self.code)
        return any(name and name in reason for name in names)


def compile_problems(manifest: LabManifest, folder: Path) -> list[CompileProblem]:
    """Every allow-listed ``.py`` file of ``folder`` that does not compile (no code is run)."""
    problems: list[CompileProblem] = []
    for path, rel in manifest.learner_files(folder):
        if not rel.endswith(".py"):
            continue
        try:
            source = path.read_bytes()
            compile(source, rel, "exec", dont_inherit=True)
        except SyntaxError as exc:
            text = (exc.text or "").strip()
            problems.append(CompileProblem(rel, exc.lineno, exc.msg, text))
        except (ValueError, OSError) as exc:  # null bytes, unreadable
            problems.append(CompileProblem(rel, None, str(exc)))
    return problems
