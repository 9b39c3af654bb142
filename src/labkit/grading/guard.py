"""In-process defences for the grading child, installed before any learner code runs.

The grading child is a pytest process that imports the learner's modules, so learner code runs with
the child's privileges. This module narrows what that code can do, using ``sys.addaudithook``
(hooks cannot be removed once added) plus a few patches for operations CPython does not audit:

- network: ``connect``/``sendto`` only to loopback ports the grader allowed (the fake provider)
  or that a socket of this same process listens on; name lookups only for loopback names;
- processes: no ``fork``/``exec``/``system``/``posix_spawn``; ``subprocess`` only for the grader's
  own launcher of learner CLIs (:func:`sandbox_argv`), which re-applies this guard in the new process;
- signals: ``os.kill`` only to this process or its own children (so ``os.kill(os.getppid(), 9)``
  fails), never ``killpg``;
- files: writes only inside the grading work folder (and the system temp folder, which some
  libraries insist on); no reads, listings or writes of the grader's sources, hidden tests, other
  grading folders, the batch's output, or other processes' ``/proc`` entries;
- self-defence: no new audit hooks, no ``sys.settrace``/``setprofile``, no ``gc`` object walks, no
  rewriting of ``__code__``, no raising of resource limits.

Lifecycle: :func:`configure` (grading child only) records the policy; :func:`allow_loopback_port`
adds the fake provider's port; :func:`freeze` — called when learner code is first imported or run —
installs the enforcing hook with the policy baked into a closure nothing else references. After the
freeze the allow-list cannot grow. Outside a grading child (a lab author running pytest directly)
nothing is installed and these functions only record.

This is defence in depth, not a security boundary: code that uses ``ctypes`` or walks interpreter
memory can get around it. docs/THREAT-MODEL.md says what is and is not covered.
"""

from __future__ import annotations

import _thread
import ipaddress
import json
import os
import signal
import socket
import sys
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

SANDBOX_MODULE = "labkit.grading.sandbox"
SANDBOX_ENV = "LABKIT_SANDBOX"


class GuardViolation(PermissionError):
    """Raised into learner code when it tries something the grader does not allow."""


@dataclass(frozen=True)
class GuardConfig:
    """The policy for one grading process (JSON-serialisable, passed on to learner CLIs)."""

    work_dir: str
    write_roots: tuple[str, ...] = ()
    protected_roots: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    learner_dir: str = ""
    display_dir: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GuardConfig:
        data = json.loads(text)
        return cls(
            work_dir=str(data["work_dir"]),
            write_roots=tuple(data.get("write_roots", ())),
            protected_roots=tuple(data.get("protected_roots", ())),
            ports=tuple(int(p) for p in data.get("ports", ())),
            learner_dir=str(data.get("learner_dir", "")),
            display_dir=str(data.get("display_dir", "")),
        )


@dataclass
class _Registry:
    ports: set[int] = field(default_factory=set)
    config: GuardConfig | None = None
    frozen: bool = False
    frozen_config: GuardConfig | None = None
    violations: list[str] = field(default_factory=list)
    children: set[int] = field(default_factory=set)


_registry = _Registry()


# --- public API ----------------------------------------------------------------------------------


def allow_loopback_port(port: int) -> None:
    """Let learner code reach ``127.0.0.1:port`` (the fake provider calls this before it starts).

    Must be called before the freeze; afterwards it raises, because a port added after learner code
    ran could have been requested by that code. (Servers started later in this same process are
    reachable anyway: the guard allows connections to ports its own sockets listen on.)
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"not a TCP port: {port!r}")
    if _registry.frozen:
        if port in allowed_ports():
            return
        raise GuardViolation(
            f"the grader's network allow-list is frozen (learner code already ran); port {port} "
            "must be allowed before learner code is imported"
        )
    _registry.ports.add(port)


def allowed_ports() -> frozenset[int]:
    """The loopback ports currently allowed (those of the frozen policy once frozen)."""
    if _registry.frozen and _registry.frozen_config is not None:
        return frozenset(_registry.frozen_config.ports)
    return frozenset(_registry.ports)


def configure(config: GuardConfig) -> None:
    """Record the policy for this grading process (the plugin calls this in runner mode only)."""
    if _registry.frozen:
        raise GuardViolation("the guard is already frozen")
    _registry.config = config
    _registry.ports.update(config.ports)


def is_active() -> bool:
    """True in a grading child (a policy was configured), False in a plain pytest session."""
    return _registry.config is not None


def is_frozen() -> bool:
    """True once the enforcing hook is installed."""
    return _registry.frozen


def violations() -> list[str]:
    """What the guard blocked so far (for the report; informational, not used for scoring)."""
    return list(_registry.violations)


def freeze() -> None:
    """Install the enforcing audit hook now (idempotent; a no-op outside a grading child)."""
    if _registry.frozen or _registry.config is None:
        return
    base = _registry.config
    config = GuardConfig(
        work_dir=base.work_dir,
        write_roots=base.write_roots,
        protected_roots=base.protected_roots,
        ports=tuple(sorted(_registry.ports)),
        learner_dir=base.learner_dir,
        display_dir=base.display_dir,
    )
    _registry.frozen_config = config
    _registry.frozen = True
    _install(config, _registry.violations.append)


def current_policy() -> str | None:
    """The policy a learner process (the worker, a CLI) must apply, as JSON; None outside a
    grading run. Ports are those allowed so far (frozen: those of the frozen policy)."""
    if _registry.frozen_config is not None:
        return _registry.frozen_config.to_json()
    base = _registry.config
    if base is None:
        return None
    return GuardConfig(
        work_dir=base.work_dir,
        write_roots=base.write_roots,
        protected_roots=base.protected_roots,
        ports=tuple(sorted(_registry.ports)),
        learner_dir=base.learner_dir,
        display_dir=base.display_dir,
    ).to_json()


def sandbox_argv(target: Sequence[str]) -> list[str]:
    """The command line that runs a learner module/script under this guard (see sandbox.py)."""
    return [sys.executable, "-I", "-B", "-m", SANDBOX_MODULE, "--", *target]


def sandbox_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` plus the frozen policy, which the launched process re-applies before learner code."""
    policy = current_policy()
    if policy is None:
        raise GuardViolation("learner CLIs can only be launched in a grading run")
    env = {k: v for k, v in base.items() if not k.startswith("LD_")}
    env[SANDBOX_ENV] = policy
    return env


def note_child(pid: int) -> None:
    """Remember a learner CLI launched by the grader (used where /proc is unavailable)."""
    _registry.children.add(pid)


def install_sandbox_from_env() -> GuardConfig:
    """In a learner CLI process: apply the policy handed down by :func:`sandbox_env`, frozen."""
    raw = os.environ.get(SANDBOX_ENV)
    if not raw:
        raise SystemExit("labkit sandbox: no policy given (run learner CLIs through learner.run)")
    config = GuardConfig.from_json(raw)
    configure(config)
    freeze()
    return config


# --- the enforcing hook --------------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_PROCESS_EVENTS = {
    "os.fork": "starting a process (os.fork)",
    "os.forkpty": "starting a process (os.forkpty)",
    "os.posix_spawn": "starting a process (os.posix_spawn)",
    "os.spawn": "starting a process (os.spawn*)",
    "os.exec": "replacing the process (os.exec*)",
    "os.system": "running a shell command (os.system)",
    "os.startfile": "starting a program (os.startfile)",
    "pty.spawn": "starting a process (pty.spawn)",
}
_SELF_DEFENCE = {
    "sys.addaudithook": "adding an audit hook",
    "sys.settrace": "installing a trace function",
    "sys.setprofile": "installing a profile function",
    "gc.get_objects": "walking the garbage collector (gc.get_objects)",
    "gc.get_referrers": "walking the garbage collector (gc.get_referrers)",
    "gc.get_referents": "walking the garbage collector (gc.get_referents)",
    "resource.setrlimit": "changing resource limits",
    "resource.prlimit": "changing resource limits",
}
_PATH_MUTATIONS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.chflags": (0,),
    "os.lchflags": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
}
_GRADER_MODULES = ("labkit.", "_pytest", "pytest", "pluggy")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _install(config: GuardConfig, record: Callable[[str], None]) -> None:
    """Build the enforcing hook as a closure over immutable policy values and add it.

    Nothing but the interpreter's hook list references the closure, so learner code cannot reach
    (and flip) its state without gc walks (blocked) or ctypes (not defended).
    """
    own_pid = os.getpid()
    python = sys.executable
    sandbox_prefix = [python, "-I", "-B", "-m", SANDBOX_MODULE, "--"]
    expected_env = config.to_json()
    ports = frozenset(config.ports)
    sep = os.sep
    work = os.path.realpath(config.work_dir)
    write_roots = tuple(os.path.realpath(p) for p in (config.work_dir, *config.write_roots))
    protected = tuple(os.path.realpath(p) for p in config.protected_roots)
    bound: weakref.WeakSet[socket.socket] = weakref.WeakSet()
    busy: set[int] = set()
    get_ident = _thread.get_ident
    realpath = os.path.realpath
    fsdecode = os.fsdecode
    has_proc = os.path.isdir("/proc/self")
    children = _registry.children

    def under(path: str, roots: Iterable[str]) -> bool:
        return any(path == r or path.startswith(r + sep) for r in roots)

    def resolve(raw: object) -> str | None:
        if isinstance(raw, int) or raw is None:
            return None
        try:
            return realpath(fsdecode(raw))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    def other_proc(path: str) -> bool:
        if not path.startswith("/proc/"):
            return False
        head = path[6:].split("/", 1)[0]
        return head.isdigit() and int(head) != own_pid

    def readable(path: str) -> bool:
        if other_proc(path):
            return False
        return not under(path, protected) or under(path, (work,))

    def writable(path: str) -> bool:
        if path.startswith("/dev/") and not path.startswith(("/dev/fd", "/dev/shm")):
            return path in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/tty")
        return under(path, write_roots) and readable(path)

    def deny(what: str) -> GuardViolation:
        message = f"blocked by the grader: {what}"
        try:
            record(what)
        except Exception:  # the record list is informational only
            pass
        return GuardViolation(message)

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

    def loopback(host: object) -> bool:
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if not isinstance(host, str):
            return False
        name = host.strip().lower().rstrip(".")
        if name in _LOOPBACK_NAMES:
            return True
        try:
            ip = ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            return False
        mapped = getattr(ip, "ipv4_mapped", None)
        if mapped is not None:
            ip = mapped
        return ip.is_loopback or ip.is_unspecified

    def own_listener(port: int) -> bool:
        for sock in list(bound):
            try:
                if sock.fileno() != -1 and sock.getsockname()[1] == port:
                    return True
            except (OSError, IndexError, TypeError):
                continue
        return False

    def check_address(address: object, verb: str) -> None:
        if isinstance(address, tuple) and len(address) >= 2:
            host, port = address[0], address[1]
            if loopback(host) and isinstance(port, int) and (port in ports or own_listener(port)):
                return
            raise deny(f"{verb} {host}:{port} (only the fake provider is reachable while grading)")
        raise deny(f"{verb} {address!r} (only loopback TCP to the fake provider is allowed)")

    learner = realpath(config.learner_dir) if config.learner_dir else ""

    def graders_function(function: object) -> bool:
        """Test functions and the grading machinery; libraries may rewrite their own functions
        (``types.coroutine`` does), so only these are protected."""
        module = getattr(function, "__module__", None) or ""
        if module.startswith(_GRADER_MODULES):
            return True
        filename = getattr(getattr(function, "__code__", None), "co_filename", "") or ""
        inside_work = filename.startswith(work + sep)
        return inside_work and not (learner and filename.startswith(learner + sep))

    def approved_launch(argv: Sequence[object], env: object) -> bool:
        try:
            args = [fsdecode(a) for a in argv]  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        if args[: len(sandbox_prefix)] != sandbox_prefix or len(args) <= len(sandbox_prefix):
            return False
        if env is None:
            items: Mapping[str, str] = os.environ
        elif isinstance(env, Mapping):
            items = {fsdecode(k): fsdecode(v) for k, v in env.items()}
        else:  # fork_exec's list of b"KEY=VALUE"
            items = {}
            for entry in env:  # type: ignore[attr-defined]
                key, _, value = fsdecode(entry).partition("=")
                items[key] = value
        if any(k.startswith("LD_") or k.startswith("DYLD_") for k in items):
            return False
        return items.get(SANDBOX_ENV) == expected_env

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in _IGNORED:
            return
        ident = get_ident()
        if ident in busy:
            return
        busy.add(ident)
        try:
            _check(event, args)
        finally:
            busy.discard(ident)

    def _check(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path = resolve(args[0])
            if path is None:
                return
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            wants_write = bool(flags & _WRITE_FLAGS) or any(c in mode for c in "wax+")
            if wants_write and not writable(path):
                raise deny(f"writing {path} (write inside your lab folder or a temp folder)")
            if not readable(path):
                raise deny(f"reading {path}")
        elif event in ("os.listdir", "os.scandir"):
            path = resolve(args[0] if args else ".")
            if path is not None and not readable(path):
                raise deny(f"listing {path}")
        elif event in _PATH_MUTATIONS:
            for index in _PATH_MUTATIONS[event]:
                path = resolve(args[index]) if len(args) > index else None
                if path is not None and not writable(path):
                    raise deny(f"changing {path} (only files in the grading folder may change)")
        elif event in ("os.symlink", "os.link"):
            # Links only inside writable space (pytest's tmp_path makes a "-current" symlink);
            # reading through a link is still checked on its real path by the "open" rule.
            target, link = resolve(args[0]), resolve(args[1]) if len(args) > 1 else None
            if target is None or link is None or not (writable(target) and writable(link)):
                raise deny("creating links outside the grading or temp folder")
        elif event == "socket.connect":
            check_address(args[1], "connecting to")
        elif event in ("socket.sendto", "socket.sendmsg"):
            address = args[-1]
            if address is not None:
                check_address(address, "sending to")
        elif event == "socket.bind":
            sock = args[0]
            if isinstance(sock, socket.socket):
                try:
                    bound.add(sock)
                except TypeError:
                    pass
            address = args[1]
            if isinstance(address, tuple) and address and not loopback(address[0]):
                if address[0] not in ("", "0.0.0.0", "::"):
                    raise deny(f"listening on {address[0]} (listen on 127.0.0.1 only)")
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
        elif event in _PROCESS_EVENTS:
            raise deny(_PROCESS_EVENTS[event])
        elif event == "os.kill":
            pid, sig = args[0], args[1]
            if not may_signal(int(pid), int(sig)):
                raise deny(
                    f"sending signal {sig} to process {pid} (not a process your code started)"
                )
        elif event == "os.killpg":
            raise deny("signalling a process group")
        elif event in _SELF_DEFENCE:
            if event == "sys.addaudithook":
                raise _HookRefused(_SELF_DEFENCE[event])
            raise deny(_SELF_DEFENCE[event])
        elif event == "object.__setattr__":
            if len(args) > 1 and args[1] == "__code__" and graders_function(args[0]):
                raise deny("replacing the code of a grader function")
        elif event == "ctypes.dlopen":
            return  # torch and numpy load shared libraries this way; ctypes is not defended

    _patch_unaudited(approved_launch, deny, python)
    sys.addaudithook(hook)
    del hook


class _HookRefused(RuntimeError):
    """A RuntimeError from a hook makes CPython silently refuse a new audit hook."""


_IGNORED = frozenset(
    {
        "import",
        "compile",
        "exec",
        "marshal.loads",
        "marshal.load",
        "marshal.dumps",
        "builtins.id",
        "sys._getframe",
        "object.__getattr__",
        "object.__delattr__",
        "code.__new__",
        "function.__new__",
        "os.chdir",
        "os.putenv",
        "os.unsetenv",
        "os.getxattr",
        "os.listxattr",
        "time.sleep",
        "sys._current_frames",
        "builtins.input",
        "builtins.input/result",
        "array.__new__",
        "cpython.run_module",
        "cpython.run_file",
        "cpython.run_command",
        "ctypes.dlsym",
        "ctypes.cdata",
        "ctypes.addressof",
        "ctypes.call_function",
        "ctypes.get_errno",
        "ctypes.set_errno",
        "pickle.find_class",
        "sqlite3.connect",
        "sqlite3.connect/handle",
        "urllib.Request",
        "http.client.connect",
        "http.client.send",
        "glob.glob",
        "glob.glob/2",
        "os.walk",
        "os.fwalk",
        "fcntl.fcntl",
        "fcntl.ioctl",
        "fcntl.flock",
        "fcntl.lockf",
        "select.epoll",
        "select.kqueue",
        "select.devpoll",
        "select.poll",
        "mmap.__new__",
        "tempfile.mkstemp",
        "tempfile.mkdtemp",
    }
)


def _short(argv: object) -> str:
    if isinstance(argv, str | bytes):
        return repr(os.fsdecode(argv))[:80]
    try:
        return repr(" ".join(os.fsdecode(a) for a in argv))[:80]  # type: ignore[attr-defined]
    except TypeError:
        return "?"


def _patch_unaudited(
    approved: Callable[[Sequence[object], object], bool],
    deny: Callable[[str], GuardViolation],
    python: str,
) -> None:
    """Wrap the few process/signal primitives CPython 3.11 does not audit.

    ``_posixsubprocess.fork_exec`` (used by multiprocessing's spawn/forkserver) and
    ``signal.pidfd_send_signal`` would otherwise start processes or kill the grader unseen.
    ``os._exit`` becomes an exception so one test's exit does not take the whole run down.
    """
    import subprocess

    try:
        import _posixsubprocess
    except ImportError:  # not POSIX
        _posixsubprocess = None  # type: ignore[assignment]

    if _posixsubprocess is not None:
        original = _posixsubprocess.fork_exec

        def fork_exec(*args: Any) -> Any:
            # (args, executable_list, close_fds, pass_fds, cwd, env, ..., preexec_fn, ...):
            # a preexec_fn would run arbitrary Python in the new process before exec.
            if (
                len(args) < 6
                or any(callable(a) for a in args[6:])
                or not approved(args[0], args[5])
                or not all(os.fsdecode(e) == python for e in args[1] or ())
            ):
                raise deny("starting a process (fork_exec)")
            return original(*args)

        _posixsubprocess.fork_exec = fork_exec  # type: ignore[assignment]
        if hasattr(subprocess, "_fork_exec"):
            subprocess._fork_exec = fork_exec  # type: ignore[attr-defined]

    def no_pidfd_signal(*_args: object, **_kwargs: object) -> None:
        raise deny("signalling a process through a pidfd")

    for module in (signal, sys.modules.get("_signal")):
        if module is not None and hasattr(module, "pidfd_send_signal"):
            module.pidfd_send_signal = no_pidfd_signal

    def learner_exit(status: int = 0) -> None:
        raise LearnerExit(status)

    os._exit = learner_exit  # type: ignore[assignment]
    posix = sys.modules.get("posix")
    if posix is not None:
        posix._exit = learner_exit  # type: ignore[attr-defined]


class LearnerExit(SystemExit):
    """``os._exit(n)`` called by learner code, turned into an exception the test can report."""

    def __str__(self) -> str:
        return f"os._exit({self.code}) was called"
