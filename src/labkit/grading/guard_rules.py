"""The guard's rules about paths: what a path really is, and whether it may be read, written,
linked or opened as a database.

Split from :mod:`.guard_hook` (which builds the hook from these factories); like it, this module
is frozen before use (:func:`.guard_freeze.guard_namespace`), so the closures made here never read
a name learner code can rebind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from labkit.grading.guard_plain import Opaque
from labkit.grading.guard_policy import GuardConfig, GuardViolation

Resolve = Callable[[object], str | None]
PathTest = Callable[[str], bool]
Deny = Callable[[str], GuardViolation]


def _kernel_finds(path: str) -> bool:
    """Whether the kernel finds ``path`` (``stat`` follows /proc's magic links for real)."""
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def _same_file(a: str, b: str) -> bool:
    """Whether the kernel's ``a`` is the file the guard resolved to ``b``."""
    try:
        first, second = os.stat(a), os.stat(b)
    except OSError:  # nothing to compare: the call itself will fail or judge another name
        return True
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def resolver(deny: Deny) -> Resolve:
    """``resolve(path)``: the real path the kernel will use, or None for a descriptor; a path it
    cannot follow the way the kernel would is refused (see the comments inside)."""
    realpath = os.path.realpath
    fsdecode = os.fsdecode
    dirname = os.path.dirname

    def resolve(raw: object) -> str | None:
        """``raw`` is already plain: a str or bytes path, an int (a descriptor), None, or an
        Opaque object nobody can read safely, which is refused."""
        if type(raw) is int or raw is None:
            return None
        if type(raw) is Opaque:
            raise deny(f"using a path given as {raw!r} (pass a str or a pathlib.Path)")
        try:
            name = fsdecode(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        # Strictly first: a lenient realpath treats a name it cannot lstat (past the kernel's
        # length limit, a loop) as a plain name, and ".." after it then climbs in text while the
        # kernel climbs through the real symlinks. Only "does not exist" may be passed over (a
        # file being created, a dangling link, which the lenient answer follows in text), after
        # the folder on the way is checked strictly for any other failure.
        # Then the kernel is asked where the name leads (stat follows /proc's magic links, such
        # as /proc/self/cwd of a deleted folder, which realpath can only read as text): the
        # answer must be the very file the guard is about to judge.
        for step, candidate in enumerate((name, dirname(name) or ".")):
            try:
                found = realpath(candidate, strict=True)
            except FileNotFoundError:
                if _kernel_finds(candidate):  # missing by the guard's reading only
                    raise deny(f"using {name[:80]!r}: it leads elsewhere than it reads") from None
                continue
            except OSError as exc:
                why = f"{exc.strerror} (a path the grader cannot follow)"
                raise deny(f"using {name[:80]!r}: {why}") from None
            if not _same_file(candidate, found):
                raise deny(f"using {name[:80]!r}: it leads elsewhere than it reads")
            if step == 0:
                return found
            break
        return realpath(name)

    return resolve


def path_rules(config: GuardConfig, own_pid: int, deny: Deny) -> tuple[Resolve, PathTest, PathTest]:
    """(resolve, readable, writable): what a path really is, and whether it may be read or
    written (inside the work folder or the temp roots, never a protected root or another
    process's /proc entry)."""
    sep = os.sep
    work = os.path.realpath(config.work_dir)
    write_roots = tuple(os.path.realpath(p) for p in (config.work_dir, *config.write_roots))
    # Never written, even inside a write root (a checkout and its venv under /tmp, as in CI):
    # the interpreter's prefix and every import folder, where a planted ``.pth`` file or module
    # would run in every later judge, zygote and worker started from them.
    code = tuple(
        real
        for real in {
            os.path.realpath(p)
            for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path)
            if p and os.path.isdir(p)
        }
        # not the work folder, inside it or above it: the learner's own files stay writable
        if not (real == work or real.startswith(work + sep) or work.startswith(real + sep))
    )
    protected = tuple(os.path.realpath(p) for p in config.protected_roots)
    resolve = resolver(deny)

    def under(path: str, roots: Iterable[str]) -> bool:
        return any(path == r or path.startswith(r + sep) for r in roots)

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
        return under(path, write_roots) and not under(path, code) and readable(path)

    return resolve, readable, writable


def link_rule(resolve: Resolve, writable: PathTest) -> Callable[[str, Any], bool]:
    """``link_allowed(event, args)``: links only inside writable space (pytest's ``tmp_path``
    makes a "-current" symlink); reading through one is still checked on its real path by the
    "open" rule. A relative symlink target is read from the link's folder, as the kernel will."""
    isabs, join, dirname, fsdecode = os.path.isabs, os.path.join, os.path.dirname, os.fsdecode

    def link_allowed(event: str, args: Any) -> bool:
        link = resolve(args[1]) if len(args) > 1 else None
        source = args[0]
        if event == "os.symlink" and link is not None and type(source) in (str, bytes):
            if not isabs(fsdecode(source)):
                source = join(dirname(link), fsdecode(source))
        target = resolve(source)
        return target is not None and link is not None and writable(target) and writable(link)

    return link_allowed


def sqlite_rule(
    resolve: Resolve, readable: PathTest, writable: PathTest, deny: Deny
) -> Callable[[object], None]:
    """``check_database(name)``: ``sqlite3.connect`` reads and writes its file in C, so its path
    is checked here as an ``open`` would be: a read-only URI (``?mode=ro``) must be readable,
    anything else writable; ``:memory:`` is free. (``ATTACH`` raises no event: THREAT-MODEL.)"""
    fsdecode, fromhex = os.fsdecode, bytes.fromhex

    def unquote(text: str) -> str:
        parts = text.split("%")
        out = bytearray(parts[0].encode())
        for part in parts[1:]:
            try:
                out += fromhex(part[:2]) + part[2:].encode()
            except ValueError:
                out += ("%" + part).encode()
        return out.decode("utf-8", "replace")

    def check_database(name: object) -> None:
        if type(name) is bytes:
            name = fsdecode(name)
        if type(name) is not str:
            resolve(name)  # an Opaque name is refused there
            return
        path, query = name, ""
        if name.startswith("file:"):
            path, _, query = name[5:].partition("?")
            path = unquote(path[2:] if path.startswith("//") else path)
        if path in ("", ":memory:") or "mode=memory" in query:
            return
        real = resolve(path)
        if real is None:
            return
        read_only = "mode=ro" in query or "immutable=1" in query
        if not (readable(real) if read_only else writable(real)):
            verb = "reading" if read_only else "opening for writing"
            raise deny(f"{verb} the database {real} (use one in your lab or a temp folder)")

    return check_database
