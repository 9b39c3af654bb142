"""What a lab test author writes with: ``@lab_test``, partial credit, and a cheat-proof equality check.

Kept free of heavy imports: every grader test module imports it at collection time.
"""

from __future__ import annotations

import builtins
import json
import math
import reprlib
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import pytest

Visibility = Literal["visible", "hidden", "after_due_date"]
VISIBILITIES: tuple[str, ...] = ("visible", "hidden", "after_due_date")
MARKER = "lab_test"

F = TypeVar("F", bound=Callable[..., Any])

# Captured at import, before any learner code runs: a submission that rebinds builtins.type or
# builtins.isinstance cannot change how assert_same compares.
_type = builtins.type
_len = builtins.len
_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80


def lab_test(
    points: float,
    number: str,
    visibility: Visibility = "visible",
    name: str | None = None,
    hint: None = None,
) -> Callable[[F], F]:
    """Mark a test as graded: its points and its number in the report.

    The hint a learner reads when the test fails is not here: it is tier 1 of the test's entry
    in ``hints.toml`` beside the test file, with the deeper tiers (see ``labkit.grading.hints``),
    so every learner-facing hint of a lab is in one file and a declaration is one line.
    ``visibility`` follows Gradescope: ``hidden`` tests are run only in instructor mode and never
    shown to learners. ``name`` defaults to the test's docstring (first line) or its function name.
    ``hint`` is accepted only to say where it moved.
    """
    if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
        raise TypeError(f"lab_test(points=...) must be a number >= 0, not {points!r}")
    if not isinstance(number, str) or not number.strip():
        raise TypeError(f'lab_test(number=...) must be a string such as "1.2", not {number!r}')
    if hint is not None:
        raise TypeError(
            f"lab_test(hint=...) has moved to hints.toml beside the test file: "
            f"add {json.dumps(number.strip())} = [{json.dumps(hint, ensure_ascii=False)}] there "
            "and drop hint= here"
        )
    if visibility not in VISIBILITIES:
        raise TypeError(f"lab_test(visibility=...) must be one of {', '.join(VISIBILITIES)}")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise TypeError("lab_test(name=...) must be a non-empty string")
    mark = pytest.mark.lab_test(
        points=float(points),
        number=number.strip(),
        visibility=visibility,
        name=name.strip() if name else None,
    )

    def decorate(function: F) -> F:
        return mark(function)

    return decorate


class PartialCredit:
    """Points a test earns even if it then fails (the ``partial_credit`` fixture).

    A test that passes always earns its full points; one that fails keeps what it awarded::

        @lab_test(points=4, number="2.1")
        def test_mean_cases(learner, partial_credit):
            calc = learner.import_module("calc")
            failures = []
            for xs, want in CASES:                       # 4 cases, 1 point each
                got = calc.mean(xs)
                if same(got, want):
                    partial_credit.award(1)
                else:
                    failures.append(f"mean({xs}) returned {got!r}, expected {want!r}")
            assert not failures, "; ".join(failures)
    """

    def __init__(self, max_points: float) -> None:
        self.max_points = float(max_points)
        self._points = 0.0

    @property
    def points(self) -> float:
        """Points awarded so far (never more than the test's points)."""
        return self._points

    def award(self, points: float) -> None:
        """Add ``points`` (clipped so the total stays between 0 and the test's points)."""
        if isinstance(points, bool) or not isinstance(points, int | float) or math.isnan(points):
            raise TypeError(f"award() takes a number of points, not {points!r}")
        self._points = min(self.max_points, max(0.0, self._points + float(points)))

    def award_fraction(self, fraction: float) -> None:
        """Add ``fraction`` of the test's points (0.25 = a quarter)."""
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise TypeError(f"award_fraction() takes a number, not {fraction!r}")
        self.award(float(fraction) * self.max_points)


_ATOMS = (int, float, complex, str, bytes, bool, type(None))


def same(actual: object, expected: object, *, rel_tol: float = 0.0, abs_tol: float = 0.0) -> bool:
    """True if ``actual`` equals ``expected`` with the exact same built-in types, recursively."""
    return _mismatch(actual, expected, "", rel_tol, abs_tol) is None


def assert_same(
    actual: object,
    expected: object,
    what: str = "the result",
    *,
    rel_tol: float = 0.0,
    abs_tol: float = 0.0,
) -> None:
    """Assert equality that an object overriding ``__eq__`` cannot fake.

    Types must match exactly (an ``int`` subclass is not an ``int``), containers are compared
    element by element, floats with the given tolerances; only built-in types are accepted. The
    message names ``what`` and shows both values: it is what the learner reads.
    """
    problem = _mismatch(actual, expected, "", rel_tol, abs_tol)
    if problem is not None:
        raise AssertionError(f"{what}{problem}")


def _show(value: object) -> str:
    if _type(value) in _ATOMS or _type(value) in (list, tuple, dict, set, frozenset):
        try:
            return _repr.repr(value)
        except Exception:
            pass
    return f"a {_type(value).__name__} object"


def _mismatch(actual: object, expected: object, path: str, rel: float, absol: float) -> str | None:
    ta, te = _type(actual), _type(expected)
    where = f"{path}" if path else ""
    if ta is not te:
        if te is float and ta is int:  # 2 where 2.0 was expected is a fine answer
            return _mismatch(float(actual), expected, path, rel, absol)  # type: ignore[arg-type]
        return f"{where} is {_article(ta)}, expected {_article(te)} ({_show(expected)})"
    if te is float:
        a, e = float(actual), float(expected)  # type: ignore[arg-type]
        if math.isnan(e) and math.isnan(a):
            return None
        if a == e or ((rel or absol) and math.isclose(a, e, rel_tol=rel, abs_tol=absol)):
            return None
        return f"{where} was {a!r}, expected {e!r}"
    if te in _ATOMS:
        if expected == actual:  # both exact built-ins: no user __eq__ can run
            return None
        return f"{where} was {_show(actual)}, expected {_show(expected)}"
    if te in (list, tuple):
        seq_a, seq_e = actual, expected
        if _len(seq_a) != _len(seq_e):  # type: ignore[arg-type]
            n_a, n_e = _len(seq_a), _len(seq_e)  # type: ignore[arg-type]
            return f"{where} has {n_a} item{'' if n_a == 1 else 's'}, expected {n_e} ({_show(expected)})"
        for i, (x, y) in enumerate(zip(seq_a, seq_e, strict=True)):  # type: ignore[call-overload]
            problem = _mismatch(x, y, f"{path}[{i}]", rel, absol)
            if problem is not None:
                return problem
        return None
    if te is dict:
        keys_a, keys_e = list(actual), list(expected)  # type: ignore[call-overload]
        if any(_type(k) not in _ATOMS for k in keys_a):
            return f"{where} has keys that are not plain values"
        if sorted(map(repr, keys_a)) != sorted(map(repr, keys_e)):
            missing = [k for k in keys_e if k not in set(keys_a)]
            extra = [k for k in keys_a if k not in set(keys_e)]
            parts = []
            if missing:
                parts.append(f"missing keys {_show(missing)}")
            if extra:
                parts.append(f"unexpected keys {_show(extra)}")
            return f"{where} has " + " and ".join(parts)
        for key in keys_e:
            problem = _mismatch(actual[key], expected[key], f"{path}[{key!r}]", rel, absol)  # type: ignore[index]
            if problem is not None:
                return problem
        return None
    if te in (set, frozenset):
        if any(_type(k) not in _ATOMS for k in actual):  # type: ignore[attr-defined]
            return f"{where} has items that are not plain values"
        if sorted(map(repr, actual)) != sorted(map(repr, expected)):  # type: ignore[call-overload]
            return f"{where} was {_show(actual)}, expected {_show(expected)}"
        return None
    raise TypeError(f"assert_same compares built-in types only, not {te.__name__}")


def _article(kind: type) -> str:
    name = kind.__name__
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"
