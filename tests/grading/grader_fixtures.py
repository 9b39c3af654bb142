"""Build submission folders for the grader's tests from the fixture lab and the attack folders."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from labkit.grading.learner import Learner

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LABROOT = FIXTURES / "labroot"
ADVERSARIAL = FIXTURES / "adversarial"
HIDDEN_CALC = FIXTURES / "hidden_calc"  # an instructor's --hidden-tests folder for calc
STARTER = LABROOT / "labs" / "calc" / "calc.py"
REFERENCE = LABROOT / "solutions" / "calc" / "calc.py"


def attacks() -> list[str]:
    """Names of the attack folders."""
    return sorted(p.name for p in ADVERSARIAL.iterdir() if p.is_dir())


def build_attack(dest: Path, name: str, placeholders: dict[str, str] | None = None) -> Path:
    """``dest`` becomes the starter with attack ``name`` applied (see adversarial/README.md)."""
    source = ADVERSARIAL / name
    dest.mkdir(parents=True, exist_ok=True)
    for path in source.rglob("*"):
        if path.is_file() and path.name != "attack.py" and "__pycache__" not in path.parts:
            target = dest / path.relative_to(source)
            target = target.with_name(target.name.removesuffix(".attack"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_fill(path.read_text(), placeholders))
    code = STARTER.read_text()
    attack = source / "attack.py"
    if attack.exists():
        text = attack.read_text()
        code += "\n\n# --- attack ---\n" + _fill(text, placeholders)
        if "def _reference(" in text and "def add(" not in text:
            code += "\n\n" + (ADVERSARIAL / "uses_reference.py").read_text()
    (dest / "calc.py").write_text(code)
    return dest


def build_code(dest: Path, code: str, extra: dict[str, str] | None = None) -> Path:
    """``dest`` with ``calc.py`` = ``code`` and any extra files."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "calc.py").write_text(code)
    for rel, text in (extra or {}).items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    return dest


def copy_file(dest: Path, source: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest / "calc.py")
    return dest


def _fill(text: str, placeholders: dict[str, str] | None) -> str:
    for key, value in (placeholders or {}).items():
        text = text.replace(key, value)
    return text


def variant(**replacements: str) -> str:
    """The reference ``calc.py`` with some functions' bodies replaced (partial submissions)."""
    code = REFERENCE.read_text()
    for old, new in replacements.items():
        assert old in code, old
        code = code.replace(old, new)
    return code


# Partial and alternative submissions, built from the reference so they stay in step with it.
MEAN_WITHOUT_EMPTY_CASE = variant(
    **{"return sum(xs) / len(xs) if xs else 0.0": "return sum(xs) / len(xs)"}
)
ONLY_ADD = STARTER.read_text().replace(
    'raise NotImplementedError("add() is not written yet")', "return a + b"
)
ADD_AND_MUL = ONLY_ADD.replace(
    'raise NotImplementedError("mul() is not written yet")', "return a * b"
)
NO_STREAMING = variant(
    **{
        "        print(i, flush=True)\n        time.sleep(0.1)": "        time.sleep(0.1)\n"
        "    print(*range(1, int(argv[1]) + 1), sep='\\n')"
    }
)
ALTERNATIVE_GOOD = variant(
    **{
        "return a + b": "return sum((a, b))",
        "return a * b": "import operator\n    return operator.mul(a, b)",
    }
)


def worker_fixtures(files: dict[str, str], module: str, timeout: float) -> tuple[Any, Any]:
    """The fixtures ``learner`` (module-scoped: a :class:`Learner`, and so a worker process, over
    a folder holding ``files``, stopped afterwards) and ``mod`` (per test: ``module`` imported
    through it, with a fresh ``timeout``-second test deadline, as the grading plugin gives every
    test). Assign them at a test module's top: ``learner, mod = worker_fixtures(...)``."""

    @pytest.fixture(scope="module")
    def learner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Learner]:
        from labkit.grading.learner import Learner

        folder = tmp_path_factory.mktemp("lab")
        for name, code in files.items():
            (folder / name).write_text(code)
        learner = Learner(folder, "labs/demo", default_timeout=timeout)
        yield learner
        learner.stop_worker()

    @pytest.fixture
    def mod(learner: Learner) -> Any:
        learner.test_deadline = time.monotonic() + timeout
        return learner.import_module(module)

    return learner, mod
