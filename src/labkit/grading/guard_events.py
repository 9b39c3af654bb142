"""The audit events the guard knows, as tables: which it ignores, refuses outright, or checks.

Kept apart from :mod:`.guard_hook` so its decision table reads as code. The hook never reads these
names at run time: :mod:`.guard_freeze` copies them, as immutable values, into the frozen namespace
the hook is built over, so neither rebinding a name here nor mutating a table changes the guard.
"""

from __future__ import annotations

import os

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
PROCESS_EVENTS = {
    "os.fork": "starting a process (os.fork)",
    "os.forkpty": "starting a process (os.forkpty)",
    "os.posix_spawn": "starting a process (os.posix_spawn)",
    "os.spawn": "starting a process (os.spawn*)",
    "os.exec": "replacing the process (os.exec*)",
    "os.system": "running a shell command (os.system)",
    "os.startfile": "starting a program (os.startfile)",
    "pty.spawn": "starting a process (pty.spawn)",
}
SELF_DEFENCE = {
    "sys.addaudithook": "adding an audit hook",
    "sys.settrace": "installing a trace function",
    "sys.setprofile": "installing a profile function",
    "gc.get_objects": "walking the garbage collector (gc.get_objects)",
    "gc.get_referrers": "walking the garbage collector (gc.get_referrers)",
    "gc.get_referents": "walking the garbage collector (gc.get_referents)",
    "resource.setrlimit": "changing resource limits",
    "resource.prlimit": "changing resource limits",
    # native code by another door (like ctypes, but no lab needs it)
    "sqlite3.enable_load_extension": "letting sqlite load native extensions",
    # audit hooks belong to one interpreter: code in a sub-interpreter would run unguarded
    "cpython.PyInterpreterState_New": "starting a sub-interpreter (the grader's checks do not run there)",
}
PATH_MUTATIONS = {
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
GRADER_MODULES = ("labkit.", "_pytest", "pytest", "pluggy")
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
# Modules whose load, once the guard is frozen, only serves to get past it: readline reads and
# writes files in C with no audit event (history files); the others are loaded before the freeze,
# so a load now is a fresh copy without the guard's wrappers (guard_patches). Loading an extension
# through importlib.util.module_from_spec raises no event at all (THREAT-MODEL, "Not defended").
REFUSED_IMPORTS = {
    "readline": "importing readline (its history files bypass the grader's file checks)",
    "_posixsubprocess": "re-importing _posixsubprocess (start processes through learner.run)",
    "_signal": "re-importing _signal",
    "posix": "re-importing posix",
    "_tkinter": "importing tkinter (Tcl opens files and runs programs the grader cannot see)",
    "tkinter": "importing tkinter (Tcl opens files and runs programs the grader cannot see)",
}


IGNORED = frozenset(
    {
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
