"""The worker: the only process that imports and runs learner code while grading.

Started by the judge (the pytest process; see ``proxy.py``) as
``python -I -B -m labkit.grading.worker <socket-fd> <dump-fd>``. It reads one setup message
(learner folder, guard policy, environment), applies the guard (rlimits are inherited from the
judge), then serves requests: import a learner module, get an attribute, call something, take the
next item of an iterator. Everything it sends back is data (``codec.py``); a learner object that
is not data stays here and the judge gets a numbered handle to it. ``SIGUSR1`` dumps every
thread's stack to ``dump-fd`` (the judge asks for it before killing a call that hung, so the
report can name the learner's file and line).
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import faulthandler
import importlib
import io
import itertools
import os
import signal
import socket
import sys
import time
import traceback
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labkit.grading import prctl
from labkit.grading.codec import Codec, CodecError, reduce_builtin
from labkit.grading.wire import Endpoint

_OUTPUT_CAP = 256 * 1024  # printed text returned per call
_exit = os._exit  # the guard turns os._exit into an exception for learner code; not for us


def _type_info(cls: type) -> list[list[str]]:
    return [[c.__module__, c.__qualname__] for c in cls.__mro__ if c is not object]


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except BaseException:  # a broken __repr__ is the learner's, not ours
        text = f"<{type(value).__name__} object>"
    return text[:300]


class _JudgeRef:
    """A judge-side object handed to learner code: calls and public attributes go back to the
    judge as data (a tool executor, an approval hook, an embedder, a sleep function)."""

    __slots__ = ("_callable", "_id", "_label", "_server")

    def __init__(self, server: WorkerServer, ident: int, is_callable: bool, label: str) -> None:
        object.__setattr__(self, "_server", server)
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_callable", is_callable)
        object.__setattr__(self, "_label", label)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._server.judge_request("jcall", self._id, None, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._server.judge_request("jget", self._id, name, (), {})

    def __repr__(self) -> str:
        return f"<grader's {self._label}>"


class CallbackError(RuntimeError):
    """A grader callback raised something that has no built-in type to rebuild here."""


class WorkerServer(Codec):
    """The request handler and the worker's half of the codec."""

    def __init__(self, sock: socket.socket, setup: dict[str, Any]) -> None:
        self.endpoint = Endpoint(sock, self.handle)
        self.learner_dir = str(Path(str(setup["learner_dir"])).resolve())
        self.display = str(setup.get("display") or ".")
        self.objects: dict[int, Any] = {}
        self.ids = itertools.count(1)
        self.out = io.StringIO()
        self.reported = 0
        self.clock = time.perf_counter  # taken before learner code can rebind time.perf_counter

    # -- helpers ------------------------------------------------------------------------------

    def keep(self, value: Any) -> int:
        ident = next(self.ids)
        self.objects[ident] = value
        return ident

    def lookup(self, ident: Any) -> Any:
        if type(ident) is not int or ident not in self.objects:
            raise CodecError(f"unknown object handle {ident!r}")
        return self.objects[ident]

    def inside(self, filename: str) -> bool:
        try:
            return os.path.realpath(filename).startswith(self.learner_dir + os.sep)
        except (OSError, ValueError, TypeError):
            return False

    def rel(self, filename: str) -> str:
        path = os.path.realpath(filename)
        return f"{self.display}/{os.path.relpath(path, self.learner_dir)}"

    def judge_request(self, op: str, target: int, name: str | None, args: Any, kwargs: Any) -> Any:
        message = {
            "op": op,
            "target": target,
            "name": name,
            "args": self.encode(list(args)),
            "kwargs": self.encode(dict(kwargs)),
        }
        reply = self.endpoint.request(message)
        if "ok" in reply:
            return self.decode(reply["ok"])
        raw = reply.get("err")
        err: dict[str, Any] = raw if isinstance(raw, dict) else {}
        kind = getattr(builtins, str(err.get("type")), None)
        text = str(err.get("message") or reply.get("fail") or "the grader's callback failed")
        error: Exception = CallbackError(text)
        if isinstance(kind, type) and issubclass(kind, Exception):
            try:
                error = kind(text)
            except TypeError:
                pass
        raise error

    # -- encoding (worker -> judge) -----------------------------------------------------------

    def encode_other(self, value: Any, depth: int) -> Any:
        if type(value) is _JudgeRef:  # a grader object going home: the judge has the original
            return {"$": "jobj", "id": object.__getattribute__(value, "_id")}
        if isinstance(value, BaseException):
            return self.encode_exception(value)
        cls = type(value)
        if isinstance(value, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
            fields = {name: getattr(value, name) for name in cls._fields}
            return self._record("nt", value, fields, depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return self._record("dc", value, fields, depth)
        pydantic = sys.modules.get("pydantic")
        if pydantic is not None and isinstance(value, pydantic.BaseModel):
            names = list(type(value).model_fields)
            fields = {name: getattr(value, name) for name in names}
            return self._record("pm", value, fields, depth)
        if isinstance(value, enum.Enum):
            fields = {"name": value.name, "value": value.value}
            return self._record("enum", value, fields, depth)
        base = reduce_builtin(value)
        if base is not None:
            return self.encode(base, depth + 1)
        if isinstance(value, types.GeneratorType | Iterator) and not isinstance(value, type):
            return {"$": "iter", "id": self.keep(value), "type": cls.__qualname__}
        info: dict[str, Any] = {
            "$": "ref",
            "id": self.keep(value),
            "mro": _type_info(cls),
            "callable": callable(value),
            "repr": _short_repr(value),
        }
        if isinstance(value, type):
            info["cls"] = [value.__module__, value.__qualname__]
            if issubclass(value, BaseException):
                info["mro"] = _type_info(value)
        if isinstance(value, types.ModuleType):
            info["module_name"] = value.__name__
        name = getattr(value, "__name__", None) if callable(value) else None
        if isinstance(name, str):
            info["name"] = str.__str__(name)
        return info

    def _record(self, kind: str, value: Any, fields: dict[str, Any], depth: int) -> Any:
        return {
            "$": "rec",
            "kind": kind,
            "id": self.keep(value),
            "mro": _type_info(type(value)),
            "fields": [[name, self.encode(v, depth + 1)] for name, v in fields.items()],
        }

    def encode_exception(self, exc: BaseException) -> dict[str, Any]:
        frames = traceback.extract_tb(exc.__traceback__)
        mine = [f for f in frames if self.inside(f.filename)]
        where = f"{self.rel(mine[-1].filename)} line {mine[-1].lineno}" if mine else ""
        if isinstance(exc, SyntaxError) and exc.filename and self.inside(exc.filename):
            where = (
                f"{self.rel(exc.filename)} line {exc.lineno}"
                if exc.lineno
                else self.rel(exc.filename)
            )
        if isinstance(exc, SyntaxError):
            message = str(exc.msg)
        elif isinstance(exc, SystemExit):
            message = f"the code exited (SystemExit: {exc.code!r})"
        else:
            message = _short_repr(exc) if not str(exc) else str(exc)
        attrs: dict[str, Any] = {}
        for name, attr in list(vars(exc).items())[:40] if hasattr(exc, "__dict__") else []:
            if name.startswith("_") or attr is exc:
                continue
            try:
                attrs[name] = self.encode(attr)
            except Exception:  # an attribute that cannot cross is left out
                continue
        out: dict[str, Any] = {
            "$": "exc",
            "id": self.keep(exc),
            "mro": _type_info(type(exc)),
            "message": message[:4000],
            "where": where,
            "trace": [f"{self.rel(f.filename)} line {f.lineno}, in {f.name}" for f in mine][-8:],
            "attrs": attrs,
        }
        errors = getattr(exc, "errors", None)
        if type(exc).__module__.startswith("pydantic") and callable(errors):
            try:
                out["errors"] = self.encode(errors(include_url=False))
            except Exception:  # optional detail
                pass
        return out

    # -- decoding (judge -> worker) -----------------------------------------------------------

    def decode_other(self, tag: str, data: dict[str, Any], depth: int) -> Any:
        if tag == "ref":
            return self.lookup(data.get("id"))
        if tag == "jref":
            ident = data.get("id")
            if type(ident) is not int:
                raise CodecError("malformed grader reference")
            return _JudgeRef(self, ident, bool(data.get("callable")), str(data.get("label")))
        if tag == "rec":
            return self._rebuild(data, depth)
        if tag == "exc":
            kind = getattr(builtins, str(data.get("type")), None)
            if not (isinstance(kind, type) and issubclass(kind, BaseException)):
                raise CodecError("only built-in exceptions can be passed by value")
            return kind(*[self.decode(a, depth + 1) for a in data.get("args") or []])
        if tag == "xexc":
            cls: Any = importlib.import_module(str(data.get("module")))
            for part in str(data.get("qualname")).split("."):
                cls = getattr(cls, part)
            if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                raise CodecError("not an exception type")
            error = cls.__new__(cls)
            error.args = (str(data.get("message")),)
            attrs = self.decode(data.get("attrs") or {"$": "d", "v": []})
            for key, value in attrs.items():
                try:
                    object.__setattr__(error, str(key), value)
                except (AttributeError, TypeError):
                    pass
            return error
        if tag == "recipe":
            from labkit.grading import recipes

            args = [self.decode(a, depth + 1) for a in data.get("args") or []]
            kwargs = {
                str(k): self.decode(v, depth + 1) for k, v in (data.get("kwargs") or {}).items()
            }
            return recipes.build(str(data.get("name")), args, kwargs)
        raise CodecError(f"unknown value tag {tag!r}")

    def _rebuild(self, data: dict[str, Any], depth: int) -> Any:
        module_name, qualname = str(data.get("module")), str(data.get("qualname"))
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        fields = {str(k): self.decode(v, depth + 1) for k, v in data.get("fields") or []}
        if hasattr(cls, "model_validate"):
            return cls.model_validate(fields)
        return cls(**fields)

    # -- requests -----------------------------------------------------------------------------

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        if op == "setup-env":
            env = message.get("env") or {}
            for key in [k for k in os.environ if k.startswith("LABKIT_")]:
                if key not in env:
                    del os.environ[key]
            os.environ.update({str(k): str(v) for k, v in env.items()})
            return {"ok": None}
        if op == "ping":
            return {"ok": os.getpid()}
        if op == "violations":
            from labkit.grading import guard

            found = guard.violations()[self.reported :]
            self.reported += len(found)
            return {"ok": [str(v) for v in found]}
        previous = sys.stdout, sys.stderr
        self.out = io.StringIO()
        sys.stdout = sys.stderr = self.out
        try:
            try:
                value = self.run(str(op), message)
            except StopIteration:
                return {"stop": True, "out": self.printed()}
            except BaseException as exc:  # everything the learner raises is a result
                return {"err": self.encode_exception(exc), "out": self.printed()}
            try:
                return {"ok": self.encode(value), "out": self.printed()}
            except BaseException as exc:  # an unencodable result
                return {"err": self.encode_exception(exc), "out": self.printed()}
        finally:
            sys.stdout, sys.stderr = previous

    def printed(self) -> str:
        text = self.out.getvalue()
        return text if len(text) <= _OUTPUT_CAP else text[:_OUTPUT_CAP] + "\n[output cut]\n"

    def run(self, op: str, message: dict[str, Any]) -> Any:
        if op == "import":
            return self.import_module(str(message.get("name")))
        if op == "echo":  # build a recipe here and hand back what it made
            return self.decode(message.get("value"))
        target = self.lookup(message.get("target"))
        if op == "getattr":
            return getattr(target, str(message.get("name")))
        if op == "setattr":
            setattr(target, str(message.get("name")), self.decode(message.get("value")))
            return None
        if op == "call":
            args = self.decode(message.get("args") or [])
            kwargs = self.decode(message.get("kwargs") or {"$": "d", "v": []})
            return target(*args, **{str(k): v for k, v in kwargs.items()})
        if op == "timed":  # the call alone, timed here: no transfer in the measurement
            args = self.decode(message.get("args") or [])
            kwargs = self.decode(message.get("kwargs") or {"$": "d", "v": []})
            start = self.clock()
            value = target(*args, **{str(k): v for k, v in kwargs.items()})
            return (self.clock() - start, value if message.get("keep") else None)
        if op == "next":
            return next(target)
        if op == "close":
            close = getattr(target, "close", None)
            if callable(close):
                close()
            return None
        if op == "len":
            return len(target)
        if op == "iter":
            return iter(target)
        if op == "getitem":
            return target[self.decode(message.get("key"))]
        if op == "contains":
            return self.decode(message.get("key")) in target
        if op == "str":
            return str(target)
        raise ValueError(f"unknown request {op!r}")

    def import_module(self, name: str) -> Any:
        module = importlib.import_module(name)
        origin = getattr(module, "__file__", None) or ""
        if not self.inside(origin):
            raise ImportError(
                f"{name} was found outside {self.display} ({origin or 'built in'}); "
                "the module name clashes with an installed one"
            )
        return module


def _drop_privileges() -> str:
    """No new privileges ever (no setuid binary can raise them); as root, no capabilities either.

    A grader running as root normally starts the worker as a user of the run's own
    (``grading/identity.py``), and this only sets no_new_privs. When it could not, the worker
    keeps uid 0, so root-owned files (the venv, the model cache) stay readable, but without
    CAP_SYS_PTRACE it cannot ptrace the judge or read its memory (the judge is non-dumpable), and
    without CAP_DAC_OVERRIDE it cannot read other users' private files.
    Returns "" when done, else why not.
    """
    if not sys.platform.startswith("linux"):
        return ""
    try:
        import ctypes

        libc = prctl.libc()
        if libc is None:
            return "no C library to drop privileges with"
        if libc.prctl(prctl.NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return "no_new_privs refused"
        if os.geteuid() != 0:
            return ""
        for cap in range(64):
            libc.prctl(prctl.CAPBSET_DROP, cap, 0, 0, 0)  # fails harmlessly past the last cap

        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class Data(ctypes.Structure):
            _fields_ = [
                ("effective", ctypes.c_uint32),
                ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32),
            ]

        header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
        data = (Data * 2)()
        if libc.capset(ctypes.byref(header), data) != 0:
            return f"capset refused (errno {ctypes.get_errno()})"
        with open("/proc/self/status", encoding="ascii") as fh:
            eff = next((ln.split()[1] for ln in fh if ln.startswith("CapEff:")), "?")
        return "" if eff.strip("0") == "" else f"capabilities left: {eff}"
    except (OSError, AttributeError) as exc:
        return f"cannot drop capabilities ({exc})"


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[0]))
    dump_fd = int(argv[1])
    prctl.die_with_parent()
    if os.getppid() == 1:
        raise SystemExit(0)
    faulthandler.register(
        signal.SIGUSR1, file=os.fdopen(dump_fd, "w", closefd=False), all_threads=True
    )
    boot = Endpoint(sock, lambda m: {"fail": "not ready"})
    setup = boot.receive()
    server = WorkerServer(sock, setup)
    server.endpoint = boot
    boot.handler = server.handle
    os.environ.update({str(k): str(v) for k, v in (setup.get("env") or {}).items()})
    os.chdir(server.learner_dir)
    sys.path.insert(0, server.learner_dir)
    policy = setup.get("guard")
    if policy:
        import platform

        from labkit.grading import guard

        platform.processor()  # SDKs ask; after the freeze its `uname -p` would be refused
        guard.configure(guard.GuardConfig.from_json(str(policy)))
        guard.freeze()
    boot.send({"ready": os.getpid(), "privileges": _drop_privileges()})
    try:
        boot.serve_forever()
    except Exception:  # the judge went away: nothing left to serve
        pass
    finally:
        _exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
