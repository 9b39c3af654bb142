"""How learner code's failures reach a test: timeouts, crashes, and its exceptions as data.

An exception raised by learner code in the worker arrives in the judge as a :class:`LearnerError`
carrying the learner's type name, message, ``where`` ("labs/x/foo.py line 12") and ``trace``; it
is also an instance of the learner's exception type when the judge has imported that type itself
(``pytest.raises(ValueError)``, ``openai.APIStatusError``), never by importing learner code.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import pytest

_Failed = pytest.fail.Exception


class LearnerTimeout(_Failed):  # type: ignore[misc,valid-type]
    """A call into learner code did not finish in time; the worker was stopped.

    ``stuck_at`` is the learner's line it was running ("labs/x/foo.py line 4 (in add)"), or "".
    """

    stuck_at = ""


class LearnerCrash(_Failed):  # type: ignore[misc,valid-type]
    """The worker running learner code died during a call (a segfault, an exit, out of memory)."""


class LearnerError(Exception):
    """An exception raised by learner code in the worker, as data.

    ``type_name`` is the learner's exception type ("ValueError", "openai.RateLimitError"),
    ``where`` the learner's file and line ("labs/chat-01/chatbot.py line 40"), ``trace`` the
    learner frames of the traceback, ``attrs`` its plain attributes (``status_code``...).
    """

    type_name = "LearnerError"
    where = ""
    trace: tuple[str, ...] = ()
    attrs: ClassVar[dict[str, Any]] = {}
    _errors: Any = None
    _handle: Any = None
    _message = ""

    def __str__(self) -> str:
        return self._message

    def errors(self, **_: Any) -> Any:
        """A pydantic ValidationError's ``errors()`` (as data), or []."""
        return list(self._errors or [])

    def is_a(self, name: str) -> bool:
        """True if the learner's exception type, or one of its bases, is called ``name``
        (``"ValueError"`` or ``"openai.RateLimitError"``)."""
        return any(name in (q, f"{m}.{q}", q.rsplit(".", 1)[-1]) for m, q in self._mro)

    _mro: tuple[tuple[str, str], ...] = ()


_ERROR_TYPES: dict[tuple[str, str], type[LearnerError]] = {}
_PLAIN_TYPES: dict[tuple[str, str], type[LearnerError]] = {}


def plain_error_type(mro: list[tuple[str, str]]) -> type[LearnerError]:
    key = mro[0] if mro else ("builtins", "Exception")
    if key not in _PLAIN_TYPES:
        name = key[1].rsplit(".", 1)[-1]
        _PLAIN_TYPES[key] = type(name, (LearnerError,), {"__module__": key[0]})
    return _PLAIN_TYPES[key]


def is_remote_error(value: object) -> bool:
    """True for an exception that came from learner code in the worker."""
    return isinstance(value, BaseException) and getattr(value, "_labkit_remote", False) is True


def lookup_type(module: str, qualname: str) -> Any:
    """A class the judge has imported itself (never imports anything: the name is untrusted)."""
    obj: Any = sys.modules.get(module)
    if obj is None:
        return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, type) else None


def error_type(mro: list[tuple[str, str]]) -> type[LearnerError]:
    key = mro[0] if mro else ("builtins", "Exception")
    known = _ERROR_TYPES.get(key)
    if known is not None:
        return known
    base: Any = None
    for module, qualname in mro:
        found = lookup_type(module, qualname)
        if (
            found is not None
            and issubclass(found, Exception)
            and found not in (Exception, BaseException)
        ):
            base = found
            break
    name = key[1].rsplit(".", 1)[-1]
    cls: type[LearnerError] = LearnerError
    if base is not None:
        try:
            cls = type(name, (LearnerError, base), {"__module__": key[0]})
        except TypeError:  # a base that cannot be subclassed (pydantic's ValidationError)
            cls = LearnerError
    if cls is LearnerError:
        cls = type(name, (LearnerError,), {"__module__": key[0]})
    _ERROR_TYPES[key] = cls
    return cls


def mro_of(raw: Any) -> list[tuple[str, str]]:
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw[:64]:
        if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            out.append((item[0], item[1]))
    return out
