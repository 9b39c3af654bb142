"""The course check: every lab follows the course's conventions (no grading, a few milliseconds).

For each lab found under ``graders/*/lab.toml``:

- its README has the standard skeleton (:data:`README_SECTIONS`, in that order, after a header
  line with the prerequisites, the time and the loop);
- every test a task names (``*Test 2.3*``, ``*Tests 1.1–1.3*``, ``*Tests 1.2, 1.3*``) is a real
  ``@lab_test(number=...)`` of ``graders/<id>``, and no task names tests any other way;
- every function, class and method of a starter module has a counterpart in the reference with
  the same parameters (names, kinds, defaults, annotations) and return annotation;
- the docstrings of those functions, classes and methods are the same in both: the starter's
  docstring is the spec, and the reference must implement that spec, word for word;
- ``graders/<id>/hints.toml`` is valid, gives every test its nudge, and names no other test (the
  judge would refuse a test without a hint at collection; this says so before any grading);
- every ``test_*`` function of the grader is a ``@lab_test(number=...)``, and every test is named
  by some task of the README (a test no task names is a check the learner was never told of);
- every file ``lab.toml`` lists is in both ``labs/<id>`` and ``solutions/<id>`` (the grader copies
  only those), and every "see task N" of a starter stub names a task of the README.

Each check returns a list of problems, one line each (empty when the lab is clean), so a test or a
command can print them all at once.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from labkit.errors import LabkitError
from labkit.grading.hints import HINTS_FILE, load_hints
from labkit.grading.manifest import LabManifest
from labkit.scaffold.source import Function, definitions

README_SECTIONS = (
    "Goals",
    "Background",
    "What you are given",
    "Tasks",
    "Run it",
    "Grade it",
    "Going further",
)
"""The ``## `` sections every lab README has, in this order (others may sit between them)."""

HEADER_FIELDS = ("**Prerequisites:**", "**Time:**", "**Loop:**")
"""What the line under a README's title says, in this order."""

# A test number: "1.2", or "1.2.1" for one case of a parametrised test.
_NUMBER = r"\d+\.\d+(?:\.\d+)?"
# The one way a task names its tests: italic, at the end of the task. "*Test 1.1*",
# "*Tests 1.1–1.3*" (a range: every test from the first to the last), "*Tests 1.2, 1.3*".
_REFERENCE = re.compile(rf"\*Tests? ({_NUMBER}(?:(?:–|, ){_NUMBER})*)\*")
# Any mention of a test number, canonical or not ("Tests 1.1 `name`", "test 2.3").
_MENTION = re.compile(rf"\b[Tt]ests? {_NUMBER}")
# The most common slip: a range written with a hyphen ("Tests 2.1-2.6").
_DASHED = re.compile(rf"[Tt]ests? ({_NUMBER}) ?- ?({_NUMBER})")
# A task of the README: "1. ..." (a numbered list) or "**1. ...**" (a group of steps), unindented.
_TASK = re.compile(r"^(?:\*\*)?(\d+)\. ", re.MULTILINE)
# What a starter stub says: raise NotImplementedError("not implemented yet — see task 2").
_SEE_TASK = re.compile(r"see task (\d+)")


def _number_order(number: str) -> tuple[int, ...]:
    return tuple(int(part) for part in number.split("."))


def grader_numbers(lab: LabManifest) -> set[str]:
    """The ``number=`` of every ``@lab_test`` in ``graders/<id>/test_*.py``."""
    found: set[str] = set()
    for path in lab.grader_dir.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lab_test":
                for kw in node.keywords:
                    if kw.arg == "number" and isinstance(kw.value, ast.Constant):
                        found.add(str(kw.value.value))
    return found


def _sections(text: str) -> list[tuple[str, str]]:
    """``(title, body)`` of every ``## `` section, outside fenced code blocks."""
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append(line)
    return [(title, "\n".join(body)) for title, body in sections]


def check_readme_skeleton(lab: LabManifest, readme: Path) -> list[str]:
    """The title, the header line and the standard sections, in order."""
    where = f"labs/{lab.id}/README.md"
    if not readme.is_file():
        return [f"{where} is missing"]
    text = readme.read_text(encoding="utf-8")
    lines = text.splitlines()
    problems = []
    if not lines or not lines[0].startswith(f"# {lab.id} · "):
        problems.append(f"{where}: the first line must be '# {lab.id} · <title>'")
    header = next((line for line in lines[1:6] if line.strip()), "")
    positions = [header.find(field) for field in HEADER_FIELDS]
    if -1 in positions or positions != sorted(positions):
        problems.append(f"{where}: the line under the title must give {' · '.join(HEADER_FIELDS)}")
    titles = [title for title, _ in _sections(text)]
    missing = [s for s in README_SECTIONS if s not in titles]
    if missing:
        problems.append(f"{where}: missing sections {missing} (standard: {list(README_SECTIONS)})")
    else:
        order = [titles.index(s) for s in README_SECTIONS]
        if order != sorted(order):
            problems.append(f"{where}: sections out of order, want {list(README_SECTIONS)}")
    return problems


def _expand(reference: str) -> Iterator[str]:
    """The test numbers one ``*Tests ...*`` names; a range is every number of its task between
    the two ends (a range across tasks names only its ends)."""
    for part in reference.split(", "):
        if "–" not in part:
            yield part
            continue
        first, last = part.split("–")
        yield first
        yield last
        a, b = first.split("."), last.split(".")
        if len(a) == len(b) == 2 and a[0] == b[0]:
            for minor in range(int(a[1]) + 1, int(b[1])):
                yield f"{a[0]}.{minor}"


def check_task_references(lab: LabManifest, readme: Path) -> list[str]:
    """Every test the Tasks section names exists, and is named the canonical way."""
    if not readme.is_file():
        return []
    where = f"labs/{lab.id}/README.md"
    tasks = dict(_sections(readme.read_text(encoding="utf-8"))).get("Tasks")
    if tasks is None:
        return []
    numbers = grader_numbers(lab)
    problems = []
    named = 0
    covered: set[str] = set()
    for match in _REFERENCE.finditer(tasks):
        for number in _expand(match.group(1)):
            named += 1
            base = ".".join(number.split(".")[:2])
            covered.update({number, base})
            if number not in numbers and base not in numbers:
                problems.append(
                    f"{where}: {match.group(0)} names test {number}, which graders/{lab.id} "
                    "does not have"
                )
    canonical = {m.start() + 1 for m in _REFERENCE.finditer(tasks)}
    for mention in _MENTION.finditer(tasks):
        if mention.start() not in canonical:
            line = tasks[: mention.start()].count("\n")
            text = tasks.splitlines()[line].strip()
            dashed = _DASHED.match(tasks, mention.start())
            fix = (
                f"a range takes an en dash, not a hyphen: *Tests {dashed.group(1)}–{dashed.group(2)}*"
                if dashed
                else "write *Test 1.1*, *Tests 1.1–1.3* or *Tests 1.2, 1.3*"
            )
            problems.append(
                f"{where}: Tasks names tests as '{mention.group(0)}…' ('{text[:60]}'): {fix}"
            )
    if not named:
        problems.append(f"{where}: no task names its tests (*Test 1.1*, *Tests 1.1–1.3*)")
    problems += [
        f"{where}: no task names test {n}; add *Test {n}* to the task it checks"
        for n in sorted(numbers - covered, key=_number_order)
    ]
    return problems


def _signature(fn: Function) -> str:
    """The parameters and return annotation, as source (a body-less ``def`` line)."""
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns is not None else ""
    prefix = "async def" if isinstance(fn, ast.AsyncFunctionDef) else "def"
    return f"{prefix} {fn.name}({ast.unparse(fn.args)}){returns}"


def check_starter_matches_reference(lab: LabManifest, root: Path) -> list[str]:
    """Same functions, classes and methods, same signatures, same docstrings."""
    problems = []
    for starter in sorted((root / "labs" / lab.id).glob("*.py")):
        reference = root / "solutions" / lab.id / starter.name
        shown = f"labs/{lab.id}/{starter.name}"
        if not reference.is_file():
            problems.append(f"{shown} has no reference solutions/{lab.id}/{starter.name}")
            continue
        ours = definitions(ast.parse(starter.read_text(encoding="utf-8")))
        theirs = definitions(ast.parse(reference.read_text(encoding="utf-8")))
        for name, mine in ours.items():
            other = theirs.get(name)
            if other is None:
                problems.append(f"{shown}: {name} is not in the reference")
                continue
            if isinstance(mine, Function):
                if not isinstance(other, Function):
                    problems.append(f"{shown}: {name} is not a function in the reference")
                    continue
                if _signature(mine) != _signature(other):
                    problems.append(
                        f"{shown}: {name} signature differs: starter "
                        f"'{_signature(mine)}', reference '{_signature(other)}'"
                    )
            spec, done = ast.get_docstring(mine), ast.get_docstring(other)
            if spec is not None and spec != done:
                problems.append(
                    f"{shown}: {name} docstring differs from the reference's: "
                    + _first_difference(spec, done or "")
                )
    return problems


def _first_difference(spec: str, done: str) -> str:
    """Where two docstrings part, as a person would look for it: the first line that differs."""
    ours, theirs = spec.splitlines(), done.splitlines()
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            return f"line {i + 1} is '{a.strip()[:60]}' in the starter, '{b.strip()[:60]}' there"
    if len(ours) > len(theirs):
        return f"the reference's ends before line {len(theirs) + 1} ('{ours[len(theirs)].strip()[:60]}')"
    return f"the reference's goes on at line {len(ours) + 1} ('{theirs[len(ours)].strip()[:60]}')"


def check_tests_declared(lab: LabManifest) -> list[str]:
    """Every ``test_*`` function of the grader is a ``@lab_test(number=...)`` (else grading
    refuses it, and the README's references to it look like typos)."""
    problems = []
    for path in sorted(lab.grader_dir.glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not (isinstance(node, Function) and node.name.startswith("test_")):
                continue
            declared = any(
                isinstance(d, ast.Call)
                and getattr(d.func, "id", "") == "lab_test"
                and any(kw.arg == "number" for kw in d.keywords)
                for d in node.decorator_list
            )
            if not declared:
                problems.append(
                    f"graders/{lab.id}/{path.name}: {node.name} has no "
                    '@lab_test(points=..., number="N.M"); add it above the test'
                )
    return problems


def check_files(lab: LabManifest, root: Path, readme: Path) -> list[str]:
    """``lab.toml``'s files are in the starter and the reference, and stubs name real tasks."""
    problems = []
    manifest = f"graders/{lab.id}/lab.toml"
    for rel in lab.files:
        for part in ("labs", "solutions"):
            if not (root / part / lab.id / rel).exists():
                problems.append(
                    f"{manifest} lists {rel!r} in files, but {part}/{lab.id}/{rel} does not exist "
                    "(renamed? the grader copies only the files listed there)"
                )
    tasks = (
        dict(_sections(readme.read_text(encoding="utf-8"))).get("Tasks", "")
        if (readme.is_file())
        else ""
    )
    known = {int(n) for n in _TASK.findall(tasks)}
    for starter in sorted((root / "labs" / lab.id).glob("*.py")):
        text = starter.read_text(encoding="utf-8")
        for match in _SEE_TASK.finditer(text):
            if known and int(match.group(1)) not in known:
                line = text[: match.start()].count("\n") + 1
                problems.append(
                    f"labs/{lab.id}/{starter.name} line {line}: says '{match.group(0)}', but the "
                    f"README's Tasks are numbered {min(known)}–{max(known)}"
                )
    return problems


def check_hints(lab: LabManifest) -> list[str]:
    """Every test has its hints in ``hints.toml``, and every entry there is a test's."""
    try:
        hints = load_hints(lab.grader_dir, f"graders/{lab.id}/{HINTS_FILE}")
    except LabkitError as exc:
        return [str(exc)]
    numbers = grader_numbers(lab)
    where = f"graders/{lab.id}/{HINTS_FILE}"
    return [
        *(
            f'{where}: test {n} has no hint; add "{n}" = ["<the nudge>"]'
            for n in sorted(numbers - set(hints))
        ),
        *(
            f"{where}: {n!r} is not a test of graders/{lab.id}"
            for n in sorted(set(hints) - numbers)
        ),
    ]


def check_lab(lab: LabManifest, root: Path) -> list[str]:
    """Every check above, for one lab."""
    readme = root / "labs" / lab.id / "README.md"
    return [
        *check_readme_skeleton(lab, readme),
        *check_task_references(lab, readme),
        *check_starter_matches_reference(lab, root),
        *check_tests_declared(lab),
        *check_files(lab, root, readme),
        *check_hints(lab),
    ]
