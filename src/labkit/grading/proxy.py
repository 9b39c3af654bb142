"""The judge's side of the boundary: a worker process for learner code, and proxies to it.

The judge (pytest, the plugin, the result channel, the fake provider) never imports learner code.
``learner.import_module("chatbot")`` returns a :class:`Remote` for the module living in the
worker; attribute access and calls are forwarded, and results come back as data:

- plain values (``codec.py``) arrive as exact built-in types;
- dataclasses, pydantic models and NamedTuples whose type the judge has imported itself (a
  ``labkit`` contract type, an SDK model) are rebuilt with the judge's own class from their fields;
  those of learner-defined types arrive as a :class:`Record` (fields as data, compared as data,
  other attributes forwarded), so no learner ``__eq__`` ever runs here;
- any other object stays in the worker and the judge gets a :class:`Remote` handle whose method
  calls are forwarded (``session.send(...)``, ``store.ingest(collection, docs)``);
- generators and iterators arrive as a :class:`RemoteIterator`: items are pulled one by one, so
  each arrives when the learner yields it (``arrivals`` keeps the times);
- exceptions arrive as a :class:`LearnerError` that is also an instance of the learner's exception
  type when the judge knows that type (``pytest.raises(ValueError)``, ``openai.APIStatusError``),
  with ``where`` ("labs/x/foo.py line 12") and ``trace``.

Going the other way, test values are data too; live objects are built in the worker from a
recipe (``learner.make.client("openai", max_retries=0)``, see ``recipes.py``), and any other judge
object (a function, a recorder, an embedder) is passed as a callback: the worker calls it back
over the same socket with data.

A call that does not finish before the test's deadline ends the worker: the judge first asks it
for its stack (``faulthandler`` on ``SIGUSR1``) so the failure names the learner's line.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labkit.grading import identity, zygote
from labkit.grading.codec import Codec, CodecError
from labkit.grading.failures import (
    LearnerCrash,
    LearnerError,
    LearnerTimeout,
    error_type,
    is_remote_error,
    lookup_type,
    mro_of,
    plain_error_type,
)
from labkit.grading.postmortem import ended, innermost_frame, read_dump
from labkit.grading.recipes import Recipe, client_recipe
from labkit.grading.remote import Record, Remote, RemoteIterator, handle_id, rebuild
from labkit.grading.wire import Endpoint, WireClosed, WireError, WireTimeout

_BOOT_TIMEOUT = 60.0
_STACK_WAIT = 0.4
_UNBUILDABLE: set[tuple[str, str]] = set()  # learner types the judge could not rebuild


def _trusted_roots() -> tuple[str, ...]:
    import labkit

    paths = sysconfig.get_paths()
    roots = {paths.get("purelib", ""), paths.get("platlib", ""), paths.get("stdlib", "")}
    roots.add(str(Path(labkit.__file__).resolve().parent))
    return tuple(os.path.realpath(r) for r in roots if r)


class WorkerClient(Codec):
    """Starts and talks to the worker; the judge's half of the codec."""

    def __init__(
        self,
        learner_dir: Path,
        display: str,
        policy: Callable[[], str | None],
        deadline: Callable[[], float],
        time_limit: Callable[[], float] = lambda: 30.0,
    ) -> None:
        self.time_limit = time_limit
        self.learner_dir = learner_dir.resolve()
        self.display = display
        self.policy = policy
        self.deadline = deadline
        self.proc: subprocess.Popen[bytes] | zygote.Forked | None = None
        self.endpoint: Endpoint | None = None
        self.dump_r: int | None = None
        self.generation = 0
        self.judge_objects: dict[int, Any] = {}
        self.judge_ids = itertools.count(1)
        self.synced_env: dict[str, str] = {}
        self.started_policy: str | None = None
        self.trusted = _trusted_roots()
        self.call_count = 0

    # -- process ------------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.stop()
        parent, child = socket.socketpair()
        dump_r, dump_w = os.pipe()
        os.set_blocking(dump_r, False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.stderr = tempfile.TemporaryFile()
        argv = [
            sys.executable,
            "-I",
            "-B",
            "-m",
            "labkit.grading.worker",
            str(child.fileno()),
            str(dump_w),
        ]
        try:
            self.proc = self._fork_warm(env, child.fileno(), dump_w) or subprocess.Popen(
                argv,
                cwd=self.learner_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
                pass_fds=(child.fileno(), dump_w),
                close_fds=True,
                **identity.popen_args(),
            )
        finally:
            child.close()
            os.close(dump_w)
        self.dump_r = dump_r
        self.generation += 1
        self.endpoint = Endpoint(parent, self.handle)
        self.started_policy = self.policy()
        self.synced_env = self.labkit_env()
        self.endpoint.send(
            {
                "learner_dir": str(self.learner_dir),
                "display": self.display,
                "guard": self.started_policy,
                "env": self.synced_env,
            }
        )
        try:
            ready = self.endpoint.receive(time.monotonic() + _BOOT_TIMEOUT)
        except WireError as exc:
            detail = self.stderr_tail()
            self.stop()
            raise RuntimeError(
                f"the grader's worker process did not start ({exc}): {detail}"
            ) from None
        if "ready" not in ready:
            self.stop()
            raise RuntimeError("the grader's worker process sent a malformed greeting")
        self.privileges = str(ready.get("privileges") or "")

    def _fork_warm(self, env: dict[str, str], sock_fd: int, dump_fd: int) -> zygote.Forked | None:
        """The worker forked from the grading run's zygote (SDKs already imported), if one is up."""
        warm = zygote.shared(self.learner_dir)
        if warm is None:
            return None
        null = os.open(os.devnull, os.O_RDWR)
        try:
            return warm.spawn(
                "labkit.grading.worker",
                ["{fd0}", "{fd1}"],
                cwd=self.learner_dir,
                env=env,
                stdio=[null, null, self.stderr.fileno()],
                keep=[sock_fd, dump_fd],
            )
        except zygote.ZygoteError:
            return None
        finally:
            os.close(null)

    def stop(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
            self.endpoint = None
        if self.proc is not None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        if self.dump_r is not None:
            os.close(self.dump_r)
            self.dump_r = None

    def stderr_tail(self) -> str:
        try:
            self.stderr.seek(0)
            text = self.stderr.read()[-2000:].decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""
        return " | ".join(ln for ln in text.strip().splitlines()[-3:])

    def labkit_env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k.startswith("LABKIT_")}

    def ensure(self) -> Endpoint:
        if self.endpoint is None or not self.alive() or (self.policy() != self.started_policy):
            self.start()
        assert self.endpoint is not None
        env = self.labkit_env()
        if env != self.synced_env:
            self.endpoint.request({"op": "setup-env", "env": env}, self.deadline())
            self.synced_env = env
        return self.endpoint

    # -- requests -----------------------------------------------------------------------------

    def request(self, message: dict[str, Any]) -> Any:
        endpoint = self.ensure()
        generation = self.generation
        self.call_count += 1
        try:
            reply = endpoint.request(message, self.deadline())
        except WireTimeout:
            where = self.stuck_at()
            self.stop()
            error = LearnerTimeout(
                f"timeout: the test did not finish within {self.time_limit():g} s"
                + (f"; it was stuck at {where}" if where else "")
                + " (an endless loop, or much slower than it should be?)",
                pytrace=False,
            )
            error.stuck_at = where
            raise error from None
        except WireClosed:
            code = self.proc.wait(timeout=5) if self.proc is not None else None
            self.stop()
            raise LearnerCrash(f"crash: {self.exit_text(code)}", pytrace=False) from None
        except WireError as exc:
            self.stop()
            pytest.fail(f"the worker running your code broke the protocol ({exc})", pytrace=False)
        out = reply.get("out")
        if isinstance(out, str) and out:
            sys.stdout.write(out)
        if "ok" in reply:
            return self.decode_reply(reply["ok"], generation)
        if reply.get("stop") is True:
            raise StopIteration
        if "err" in reply:
            error = self.decode_reply(reply["err"], generation)
            if isinstance(error, BaseException):
                raise error
        failure = LearnerError()
        failure._message = f"the worker could not do that: {reply.get('fail')}"
        raise failure

    def decode_reply(self, data: Any, generation: int) -> Any:
        self._decoding_generation = generation
        try:
            return self.decode(data)
        except (CodecError, ValueError, TypeError, KeyError, RecursionError) as exc:
            error = LearnerError()
            error._message = f"your code returned something that cannot be read ({exc})"
            raise error from None

    def exit_text(self, code: int | None) -> str:
        if code is None:
            return "the worker running your code stopped"
        if code < 0:
            hint = " (out of memory?)" if -code == signal.SIGKILL else ""
            return f"the process running your code was {ended(code)}{hint}"
        return f"the process running your code exited ({ended(code)})"

    def blocked(self) -> list[str]:
        """What the worker's guard blocked since the last time this was asked (for the report)."""
        if self.endpoint is None or not self.alive():
            return []
        try:
            reply = self.endpoint.request({"op": "violations"}, time.monotonic() + 5)
        except WireError:
            return []
        found = reply.get("ok")
        return [str(v)[:300] for v in found[:10]] if isinstance(found, list) else []

    def stuck_at(self) -> str:
        """Ask the worker for its stack and return the innermost learner line ("at x.py line 3")."""
        if self.proc is None or self.dump_r is None:
            return ""
        try:
            self.proc.send_signal(signal.SIGUSR1)
        except (ProcessLookupError, OSError):
            return ""
        return innermost_frame(read_dump(self.dump_r, _STACK_WAIT), self.learner_dir, self.display)

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        """A callback from learner code: call a judge object, or read a public attribute."""
        op = message.get("op")
        target = self.judge_objects.get(message.get("target"))  # type: ignore[arg-type]
        if target is None:
            return {"fail": "unknown grader object"}
        try:
            if op == "jget":
                name = str(message.get("name"))
                if name.startswith("_"):
                    raise AttributeError(name)
                value = getattr(target, name)
            elif op == "jcall":
                args = self.decode(message.get("args") or [])
                kwargs = self.decode(message.get("kwargs") or {"$": "d", "v": []})
                value = target(*args, **{str(k): v for k, v in kwargs.items()})
            else:
                return {"fail": f"unknown callback {op!r}"}
            return {"ok": self.encode(value)}
        except Exception as exc:  # the learner's code sees it as an exception of its call
            return {"err": {"type": type(exc).__name__, "message": str(exc)[:2000]}}

    # -- encoding (judge -> worker) -----------------------------------------------------------

    def encode_other(self, value: Any, depth: int) -> Any:
        if isinstance(value, Remote | RemoteIterator):
            value._check()
            return {"$": "ref", "id": value._id}
        if is_remote_error(value):
            handle = getattr(value, "_handle", None)
            if handle is None or handle[0] != self.generation:
                raise CodecError("this exception came from an earlier run of your code")
            return {"$": "ref", "id": handle[1]}
        if isinstance(value, Recipe):
            return {
                "$": "recipe",
                "name": value.name,
                "args": [self.encode(a, depth + 1) for a in value.args],
                "kwargs": {str(k): self.encode(v, depth + 1) for k, v in value.kwargs.items()},
            }
        cls = type(value)
        if isinstance(value, BaseException) and cls.__module__ == "builtins":
            return {"$": "exc", "type": cls.__name__, "args": [self.encode(a) for a in value.args]}
        if isinstance(value, BaseException) and self._library_type(cls):
            # An SDK's exception the test provoked itself (openai.APIStatusError, an httpx
            # transport error): rebuilt in the worker as that type, with its message and plain
            # attributes (status_code...), without its live request/response objects.
            attrs = {
                k: v
                for k, v in vars(value).items()
                if not k.startswith("_") and (v is None or type(v) in (bool, int, float, str))
            }
            return {
                "$": "xexc",
                "module": cls.__module__,
                "qualname": cls.__qualname__,
                "message": str(value),
                "attrs": self.encode(attrs),
            }
        fields = self._contract_fields(value)
        if fields is not None:
            return {
                "$": "rec",
                "module": cls.__module__,
                "qualname": cls.__qualname__,
                "fields": [[k, self.encode(v, depth + 1)] for k, v in fields.items()],
            }
        module = cls.__module__.split(".", 1)[0]
        sdk_recipe = client_recipe(value)
        if sdk_recipe is not None:
            return self.encode(sdk_recipe, depth + 1)
        if module in ("openai", "anthropic", "httpx", "chromadb", "sqlite3"):
            raise CodecError(
                f"a {cls.__name__} built in the test cannot be handed to learner code; build it in "
                'the worker with a recipe, e.g. learner.make.client("openai", max_retries=0)'
            )
        ident = next(self.judge_ids)
        self.judge_objects[ident] = value
        label = getattr(value, "__name__", None) or cls.__name__
        return {"$": "jref", "id": ident, "callable": callable(value), "label": str(label)}

    def _library_type(self, cls: type) -> bool:
        source = getattr(sys.modules.get(cls.__module__), "__file__", None) or ""
        return bool(source) and os.path.realpath(source).startswith(self.trusted)

    def _contract_fields(self, value: Any) -> dict[str, Any] | None:
        """Fields of a dataclass / pydantic model / NamedTuple whose type the worker can import
        (a library or labkit type, not one defined in a test file)."""
        cls = type(value)
        source = getattr(sys.modules.get(cls.__module__), "__file__", None) or ""
        if not source or not os.path.realpath(source).startswith(self.trusted):
            return None
        if isinstance(value, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
            return {name: getattr(value, name) for name in cls._fields}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
        pydantic = sys.modules.get("pydantic")
        if pydantic is not None and isinstance(value, pydantic.BaseModel):
            return {name: getattr(value, name) for name in type(value).model_fields}
        return None

    # -- decoding (worker -> judge) -----------------------------------------------------------

    def decode_other(self, tag: str, data: dict[str, Any], depth: int) -> Any:
        generation = getattr(self, "_decoding_generation", self.generation)
        if tag == "ref":
            own = data.get("cls")
            mro = mro_of(data.get("mro"))
            if isinstance(own, list) and ("builtins", "BaseException") in mro:
                # A learner exception class: the judge's stand-in, so pytest.raises/except work.
                return error_type(mro)
            return Remote(self, generation, handle_id(data.get("id")), data)
        if tag == "jobj":
            ident = data.get("id")
            if type(ident) is not int or ident not in self.judge_objects:
                raise CodecError("unknown grader object")
            return self.judge_objects[ident]
        if tag == "iter":
            return RemoteIterator(
                self, generation, handle_id(data.get("id")), str(data.get("type"))
            )
        if tag == "rec":
            return self._record(data, generation, depth)
        if tag == "exc":
            return self._exception(data, generation, depth)
        raise CodecError(f"unknown value tag {tag!r}")

    def _record(self, data: dict[str, Any], generation: int, depth: int) -> Any:
        mro = mro_of(data.get("mro"))
        kind = str(data.get("kind"))
        fields: dict[str, Any] = {}
        for pair in data.get("fields") or []:
            if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
                raise CodecError("malformed record")
            fields[pair[0]] = self.decode(pair[1], depth + 1)
        if mro:
            own = lookup_type(*mro[0])
            rebuilt = rebuild(own, kind, fields) if own is not None else None
            if rebuilt is not None:
                return rebuilt
        return Record(self, generation, handle_id(data.get("id")), data, fields, kind, mro)

    def _exception(self, data: dict[str, Any], generation: int, depth: int) -> Any:
        mro = mro_of(data.get("mro"))
        message = str(data.get("message") or "")
        error: Any = None
        exact = lookup_type(*mro[0]) if mro else None
        if (
            exact is not None
            and issubclass(exact, Exception)
            and not issubclass(exact, LearnerError)
            and mro[0] not in _UNBUILDABLE
        ):
            # The judge's own copy of the exact type (``type(e) is openai.BadRequestError``),
            # made without running any __init__; the learner's details are attributes.
            try:
                if exact.__module__ == "builtins":
                    error = exact(message)  # str() of some built-ins reads fields __init__ sets
                else:
                    error = exact.__new__(exact)
            except TypeError:
                _UNBUILDABLE.add(mro[0])
        if error is None:
            cls = error_type(mro)
            try:
                error = cls.__new__(cls)
            except TypeError:
                cls = plain_error_type(mro)
                error = cls.__new__(cls)
            error._message = message
        error.args = (message,)
        error._mro = tuple(mro)
        error.type_name = mro[0][1] if mro else "Exception"
        error.where = str(data.get("where") or "")
        trace = data.get("trace")
        error.trace = tuple(str(t) for t in trace) if isinstance(trace, list) else ()
        attrs = data.get("attrs")
        error.attrs = {}
        if not isinstance(error, LearnerError):
            error.is_a = lambda name, _m=tuple(mro): any(
                name in (q, f"{m}.{q}", q.rsplit(".", 1)[-1]) for m, q in _m
            )
        if isinstance(attrs, dict):
            for key, raw in attrs.items():
                value = self.decode(raw, depth + 1)
                error.attrs[str(key)] = value
                if str(key).isidentifier() and not str(key).startswith("_"):
                    try:
                        object.__setattr__(error, str(key), value)
                    except (AttributeError, TypeError):
                        pass
        if "errors" in data:
            error._errors = self.decode(data["errors"], depth + 1)
        error._handle = (generation, handle_id(data.get("id")))
        error._labkit_remote = True
        return error
