"""The enforcing audit hook of the grading guard, and patches for what CPython does not audit.

:func:`install` (called once, by :func:`labkit.grading.guard.freeze`) builds the hook as a closure
over immutable policy values: the rules below are closures made by small factories, so the hook
reaches them through its own cells. The factories themselves run over a frozen copy of this
module (:mod:`.guard_freeze`), so no name the hook looks up at run time (a table here, a builtin,
``os.lstat`` inside ``realpath``) is one learner code can rebind. Nothing but the interpreter's
hook list references the hook.

Learner code never runs inside the hook: every argument is first copied into plain built-in
values (:func:`.guard_plain.plain`: a ``str`` subclass's ``__getitem__`` or an ``int``
subclass's ``__eq__`` is never called), and an event raised while the hook is already at work on
that thread is refused, except the hook's own read of ``/proc/<pid>/stat``.

``_checker``'s decision table is one if/elif chain over audit events (~90 lines, over the ~80
line guide): kept whole on purpose, so it can be reviewed, and compared with earlier versions,
as one table of what is allowed.
"""

from __future__ import annotations

import _socket
import _thread
import os
import re
import socket
import sys
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import FunctionType
from typing import Any

from labkit.grading.guard_events import (
    GRADER_MODULES,
    IGNORED,
    LOOPBACK_NAMES,
    PATH_MUTATIONS,
    PROCESS_EVENTS,
    REFUSED_IMPORTS,
    SELF_DEFENCE,
    WRITE_FLAGS,
)
from labkit.grading.guard_patches import patch_unaudited
from labkit.grading.guard_plain import plain
from labkit.grading.guard_policy import SANDBOX_ENV, SANDBOX_MODULE, GuardConfig, GuardViolation
from labkit.grading.guard_rules import Deny, PathTest, Resolve, link_rule, path_rules, sqlite_rule

# What the hook itself opens while checking a signal (``_signal_rule``): the only event it lets
# through while it is already at work on a thread.
_OWN_READ = re.compile(r"/proc/\d+/stat")


def install(config: GuardConfig, record: Callable[[str], None], children: Iterable[int]) -> None:
    """Build the enforcing hook as a closure over immutable policy values and add it.

    Nothing but the interpreter's hook list references the closure, so learner code cannot reach
    (and flip) its state without gc walks (blocked) or ctypes (not defended). ``children`` is the
    live set of learner CLIs the grader launched (for systems without /proc). The hook is built
    by a frozen copy of this module (:func:`.guard_freeze.guard_namespace`), never by this one.
    """
    from labkit.grading.guard_freeze import guard_namespace

    guard_namespace()["_install"](config, record, children)


def _install(config: GuardConfig, record: Callable[[str], None], children: Iterable[int]) -> None:
    own_pid = os.getpid()
    python = sys.executable
    deny = _denier(record)
    resolve, readable, writable = path_rules(config, own_pid, deny)
    approved_launch = _launch_rule(python, config.to_json())
    check = _checker(
        (resolve, readable, writable),
        deny,
        _network_rules(frozenset(config.ports), deny),
        _signal_rule(own_pid, children),
        _code_rule(config),
        approved_launch,
    )
    busy: set[int] = set()
    get_ident = _thread.get_ident
    ignored = IGNORED
    own_read = _OWN_READ.fullmatch

    refused_imports = REFUSED_IMPORTS

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in ignored:
            return
        if event == "import":  # only a module's first load raises it: cheap to look at
            name = plain(args[0]) if args else None
            if name in refused_imports:
                raise deny(refused_imports[name])
            return
        ident = get_ident()
        if ident in busy:  # an event raised by the check itself
            if event == "open" and type(args[0]) is str and own_read(args[0]):
                return
            raise deny(f"{event} while the grader was checking another call")
        busy.add(ident)
        try:
            check(event, args)
        finally:
            busy.discard(ident)

    patch_unaudited(approved_launch, deny, python)
    sys.addaudithook(hook)
    del hook


_Network = tuple[Callable[[object], bool], Callable[[object], None], Callable[[object, str], None]]
_Check = Callable[[str, tuple[Any, ...]], None]


def _denier(record: Callable[[str], None]) -> Deny:
    """``deny(what)``: record the violation (informational) and return the error to raise."""

    def deny(what: str) -> GuardViolation:
        message = f"blocked by the grader: {what}"
        try:
            record(what)
        except Exception:  # the record list is informational only
            pass
        return GuardViolation(message)

    return deny


def _signal_rule(own_pid: int, children: Iterable[int]) -> Callable[[int, int], bool]:
    """``may_signal(pid, sig)``: only this process or its own children (its /proc parent, or the
    learner CLIs the grader noted where there is no /proc)."""
    has_proc = os.path.isdir("/proc/self")

    def parent_of(pid: int) -> int | None:
        try:
            fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        except OSError:
            return None
        try:
            data = os.read(fd, 4096).decode("ascii", "replace")
        finally:
            os.close(fd)
        try:
            return int(data.rsplit(")", 1)[1].split()[1])
        except (IndexError, ValueError):
            return None

    def may_signal(pid: int, sig: int) -> bool:
        if pid == own_pid or (sig == 0 and pid > 0):
            return True
        if pid <= 0:
            return False
        if has_proc:
            return parent_of(pid) == own_pid
        return pid in children

    return may_signal


def _network_rules(ports: frozenset[int], deny: Deny) -> _Network:
    """(loopback, note_bound, check_address): loopback names and addresses, noting a socket this
    process bound (its port is then reachable), and the check of a destination address. Every
    value here is plain (str, int, tuple); sockets are read through ``_socket``'s own C methods."""
    bound: dict[int, Any] = {}  # id(socket) -> weak reference: no hashing of learner objects
    ref = weakref.ref
    socket_type = _socket.socket
    fileno, sockname = _socket.socket.fileno, _socket.socket.getsockname
    getsockopt, sol_socket = _socket.socket.getsockopt, _socket.SOL_SOCKET
    so_type, so_listening, stream = _socket.SO_TYPE, _socket.SO_ACCEPTCONN, _socket.SOCK_STREAM
    inet_pton, af_inet, af_inet6 = _socket.inet_pton, _socket.AF_INET, _socket.AF_INET6
    names = LOOPBACK_NAMES

    def loopback_ip(packed: bytes) -> bool:
        if len(packed) == 16:
            if packed[:10] == bytes(10) and packed[10:12] == b"\xff\xff":  # ::ffff:a.b.c.d
                packed = packed[12:]
            else:
                return packed[:15] == bytes(15) and packed[15] in (0, 1)  # :: and ::1
        return packed[0] == 127 or packed == bytes(4)  # 127.0.0.0/8 and 0.0.0.0

    def loopback(host: object) -> bool:
        if type(host) is bytes:
            host = host.decode("ascii", "replace")
        if type(host) is not str:
            return False
        name = host.strip().lower().rstrip(".")
        if name in names:
            return True
        for family in (af_inet, af_inet6):
            try:
                return loopback_ip(inet_pton(family, name.split("%", 1)[0]))
            except (OSError, ValueError):
                continue
        return False

    def note_bound(sock: object) -> None:
        if issubclass(type(sock), socket_type):
            bound[id(sock)] = ref(sock)

    def own_listener(port: int) -> bool:
        for key, weak in list(bound.items()):
            sock = weak()
            if sock is None:
                bound.pop(key, None)
                continue
            try:  # a TCP socket of ours, listening: a UDP bind to the port proves nothing
                if (
                    fileno(sock) != -1
                    and getsockopt(sock, sol_socket, so_type) == stream
                    and getsockopt(sock, sol_socket, so_listening)
                    and sockname(sock)[1] == port
                ):
                    return True
            except (OSError, IndexError, TypeError):
                continue
        return False

    def check_address(address: object, verb: str) -> None:
        if type(address) is tuple and len(address) >= 2:
            host, port = address[0], address[1]
            if loopback(host) and type(port) is int and (port in ports or own_listener(port)):
                return
            raise deny(f"{verb} {host}:{port} (only the fake provider is reachable while grading)")
        raise deny(f"{verb} {address!r} (only loopback TCP to the fake provider is allowed)")

    return loopback, note_bound, check_address


def _code_rule(config: GuardConfig) -> Callable[[object], bool]:
    """``graders_function(f)``: whether ``f``'s ``__code__`` is the grader's, never to be replaced."""
    sep = os.sep
    realpath = os.path.realpath
    work = os.path.realpath(config.work_dir)
    learner = realpath(config.learner_dir) if config.learner_dir else ""

    def graders_function(function: object) -> bool:
        """Test functions and the grading machinery; libraries may rewrite their own functions
        (``types.coroutine`` does), so only these are protected. Only a plain function has a
        ``__code__`` to protect, and its attributes are read from the C type, never a learner's."""
        if type(function) is not FunctionType:
            return False
        module = getattr(function, "__module__", None) or ""
        if module.startswith(GRADER_MODULES):
            return True
        filename = getattr(getattr(function, "__code__", None), "co_filename", "") or ""
        inside_work = filename.startswith(work + sep)
        return inside_work and not (learner and filename.startswith(learner + sep))

    return graders_function


def _launch_rule(python: str, expected_env: str) -> Callable[[Sequence[object], object], bool]:
    """``approved_launch(argv, env)``: only the grader's sandbox launcher, with this very policy
    in its environment and no dynamic-loader variables."""
    sandbox_prefix = [python, "-I", "-B", "-m", SANDBOX_MODULE, "--"]
    fsdecode = os.fsdecode
    environ = os.environ  # the real environment: its own mapping, read only when env is None

    def approved_launch(argv: Sequence[object], env: object) -> bool:
        """``argv`` and ``env`` as plain values (lists, tuples, dicts of str or bytes)."""
        given, env = plain(argv), plain(env)
        if not isinstance(given, list | tuple):
            return False
        try:
            args = [fsdecode(a) for a in given]
        except (TypeError, ValueError):
            return False
        if args[: len(sandbox_prefix)] != sandbox_prefix or len(args) <= len(sandbox_prefix):
            return False
        if env is None:
            items: Mapping[str, str] = environ
        elif type(env) is dict:
            try:
                items = {fsdecode(k): fsdecode(v) for k, v in env.items()}
            except (TypeError, ValueError):
                return False
        elif type(env) in (list, tuple):  # fork_exec's list of b"KEY=VALUE"
            items = {}
            for entry in env:  # type: ignore[attr-defined]
                try:
                    key, _, value = fsdecode(entry).partition("=")
                except (TypeError, ValueError):
                    return False
                items[key] = value
        else:
            return False
        if any(k.startswith("LD_") or k.startswith("DYLD_") for k in items):
            return False
        return items.get(SANDBOX_ENV) == expected_env

    return approved_launch


def _bind_rule(
    resolve: Resolve, writable: PathTest, loopback: Callable[[object], bool], deny: Deny
) -> Callable[[object], None]:
    """``check_bind(address)``: listen on loopback only; an AF_UNIX path is a file being
    created, so it must be writable (an abstract name, ``\\0…``, makes no file)."""

    def check_bind(address: object) -> None:
        if type(address) in (str, bytes) and address and address[:1] not in ("\0", b"\0"):  # type: ignore[index]
            path = resolve(address)
            if path is not None and not writable(path):
                raise deny(f"creating the socket file {path} (only in your lab or a temp folder)")
        if type(address) is tuple and address and not loopback(address[0]):
            if address[0] not in ("", "0.0.0.0", "::"):
                raise deny(f"listening on {address[0]} (listen on 127.0.0.1 only)")

    return check_bind


def _checker(
    paths: tuple[Resolve, PathTest, PathTest],
    deny: Deny,
    network: _Network,
    may_signal: Callable[[int, int], bool],
    graders_function: Callable[[object], bool],
    approved_launch: Callable[[Sequence[object], object], bool],
) -> _Check:
    """The hook's decision table: one audit event in, nothing out, or a :class:`GuardViolation`."""
    resolve, readable, writable = paths
    loopback, note_bound, check_address = network
    link_allowed = link_rule(resolve, writable)
    check_database = sqlite_rule(resolve, readable, writable, deny)
    check_bind = _bind_rule(resolve, writable, loopback, deny)

    def _check(event: str, raw: tuple[Any, ...]) -> None:
        args: Any = plain(raw)  # learner objects as plain values; only two rules read ``raw``
        if event == "open":
            path = resolve(args[0])
            if path is None:
                return
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            wants_write = bool(flags & WRITE_FLAGS) or any(c in mode for c in "wax+")
            if wants_write and not writable(path):
                raise deny(f"writing {path} (write inside your lab folder or a temp folder)")
            if not readable(path):
                raise deny(f"reading {path}")
        elif event in ("os.listdir", "os.scandir"):
            path = resolve(args[0] if args else ".")
            if path is not None and not readable(path):
                raise deny(f"listing {path}")
        elif event in PATH_MUTATIONS:
            for index in PATH_MUTATIONS[event]:
                path = resolve(args[index]) if len(args) > index else None
                if path is not None and not writable(path):
                    raise deny(f"changing {path} (only files in the grading folder may change)")
        elif event in ("os.symlink", "os.link"):
            if not link_allowed(event, args):
                raise deny("creating links outside the grading or temp folder")
        elif event == "sqlite3.connect":
            check_database(args[0] if args else None)
        elif event == "socket.connect":
            check_address(args[1], "connecting to")
        elif event in ("socket.sendto", "socket.sendmsg"):
            address = args[-1]
            if address is not None:
                check_address(address, "sending to")
        elif event == "socket.bind":
            note_bound(raw[0])
            check_bind(args[1])
        elif event == "socket.__new__":
            family = args[1] if len(args) > 1 else None
            kind = args[2] if len(args) > 2 else None
            if family not in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX, -1, None):
                raise deny(f"opening a socket of family {family}")
            if isinstance(kind, int) and kind & socket.SOCK_RAW == socket.SOCK_RAW:
                raise deny("opening a raw socket")
        elif event == "socket.getaddrinfo":
            if args and args[0] is not None and not loopback(args[0]):
                raise deny(f"looking up {args[0]!r} (no network while grading)")
        elif event in ("socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
            if args and not loopback(args[0]):
                raise deny(f"looking up {args[0]!r} (no network while grading)")
        elif event == "subprocess.Popen":
            if not approved_launch(args[1], args[3] if len(args) > 3 else None):
                raise deny(f"starting a process {_short(args[1])} (use learner.run in tests)")
        elif event in PROCESS_EVENTS:
            raise deny(PROCESS_EVENTS[event])
        elif event == "os.kill":
            pid, sig = args[0], args[1]
            if not may_signal(int(pid), int(sig)):
                raise deny(
                    f"sending signal {sig} to process {pid} (not a process your code started)"
                )
        elif event == "os.killpg":
            raise deny("signalling a process group")
        elif event in SELF_DEFENCE:
            if event == "sys.addaudithook":
                raise _HookRefused(SELF_DEFENCE[event])
            raise deny(SELF_DEFENCE[event])
        elif event == "object.__setattr__":
            if len(args) > 1 and args[1] == "__code__" and graders_function(raw[0]):
                raise deny("replacing the code of a grader function")
        elif event == "ctypes.dlopen":
            return  # torch and numpy load shared libraries this way; ctypes is not defended

    return _check


class _HookRefused(RuntimeError):
    """A RuntimeError from a hook makes CPython silently refuse a new audit hook."""


def _short(argv: object) -> str:
    if isinstance(argv, str | bytes):
        return repr(os.fsdecode(argv))[:80]
    try:
        return repr(" ".join(os.fsdecode(a) for a in argv))[:80]  # type: ignore[attr-defined]
    except TypeError:
        return "?"
