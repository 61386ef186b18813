"""Running model-written snippets in a sandbox, to learn what they really print.

Three languages run, each by one pinned interpreter, in the same sandbox with the same isolation:

- Python: SANDBOX_PYTHON (Debian's /usr/bin/python3, Python 3.11 here), in isolated mode (`-I`),
  reading the snippet on stdin;
- JavaScript: Node.js, SANDBOX_NODE (/usr/bin/node), reading the snippet on stdin (`node -`, a
  CommonJS script); a small preload script (`--require`, given read-only) makes an uncaught
  exception or unhandled rejection end the run with `String(error)` as the last line of standard
  error and exit status 1, where Node would print the source line, a caret and a stack after it,
  and makes standard output and error blocking, as Python's are; WebAssembly memory is
  bounds-checked in code (NODE_WASM_OPTION), since the address space has no room for the guard
  pages V8 would otherwise reserve;
- SQL: SQLite, through the sandbox's Python interpreter and its `sqlite3` module: a fixed program
  of ours (`_sql_program`) opens a database in memory, runs the script's statements in order and
  prints the last result set as JSON. Python's sandbox, mounts and limits are SQL's.

`sandbox_language_versions()` says which of them can run here and which version runs each
("Python 3.11", "Node.js 20.20.2", "SQLite 3.40.1"): the fact the prompt tells the model and the
badge shows the learner.

The isolation is bubblewrap (`bwrap`, Debian's `bubblewrap` package), which builds the sandbox
from Linux namespaces, and the kernel's resource limits:

- new user, pid, network, IPC, UTS and cgroup namespaces, with no way to create further user
  namespaces inside; the snippet runs as uid 65534 and sees only its own processes;
- no network: the new network namespace has nothing but its own loopback interface;
- a filesystem holding only the run's interpreter (and for Python its standard library), the
  shared libraries and `prlimit`, all read-only; the root, /dev and /proc are private; the one
  writable place is a small tmpfs, the scratch directory, which is also the working directory. So
  an SQL `ATTACH` can open nothing of the host's: a path outside the scratch directory is absent
  and cannot be created, and SQLite's `load_extension` is refused;
- an empty environment (PATH, HOME, LANG; LD_LIBRARY_PATH for a Python outside /usr; for Node,
  MALLOC_ARENA_MAX, see below);
- one process: the snippet's interpreter is the sandbox's pid 1 (`--as-pid-1`: bubblewrap keeps
  no init of its own inside, which a snippet could attach to and leave running with the web
  server's limits), and a seccomp filter refuses fork, vfork and every clone that does not make a
  thread, so nothing can be spawned (Node's child_process fails with EPERM);
- the same filter refuses (ENOSYS, as if the kernel lacked them) the calls that reach into other
  processes or widen what the kernel exposes: ptrace, process_vm_readv/writev, kcmp, pidfd_getfd,
  process_madvise, io_uring, perf_event_open, bpf, the key calls and userfaultfd; sockets other
  than Unix and IP ones (netlink, packet, ...: EAFNOSUPPORT; so Node's os.networkInterfaces()
  fails, as Python's socket.if_nameindex() does); and clearing the parent-death signal (EPERM),
  which would let the snippet outlive bubblewrap;
- limits that bind every process of a run: CPU seconds, address space, file size, open files and
  core size are set by `prlimit` on bubblewrap itself before it starts, so bubblewrap (outside the
  sandbox) and the snippet inherit them; the thread limit (RLIMIT_NPROC) is set by a second
  `prlimit` inside, because only there is it counted per sandbox: set outside, the kernel would
  also count it against every process of the uid on the host, and sandboxes running at once
  would share one budget;
- a new session (no terminal to inject keystrokes into), killed with its parent;
- here, a wall-clock deadline and a cap on what is read from stdout and stderr.

The limits are the same for every language (CPU_SECONDS, MAX_PROCESSES threads, SCRATCH_BYTES,
MAX_OPEN_FILES, WALL_SECONDS, the output caps; Node keeps about 7 threads of its own, which
leaves worker_threads the rest) except the address space: MEMORY_BYTES (512 MiB) for Python and
SQL, NODE_MEMORY_BYTES (1 GiB) for Node. V8 cannot start in 512 MiB ("Failed to
reserve virtual memory for CodeRange"): as it starts it reserves 512 MiB of address space for
compiled code, which it never fills, and Node is then at about 700 MiB of address space while
using some 40 MiB of memory. What a JavaScript snippet can really use is bounded by V8's own heap
limit, NODE_HEAP_MEGABYTES (`--max-old-space-size`), well below the rest of the address space, so
that a memory bomb ends as V8's "JavaScript heap out of memory" (out_of_memory), not as a failure
to map memory somewhere else; and by MALLOC_ARENA_MAX=2, without which each of V8's helper
threads takes a 64 MiB malloc arena of the address space. ArrayBuffers live outside that heap:
what is left of the gigabyte (some 300 MiB) bounds them ("RangeError: Array buffer allocation
failed", out_of_memory when uncaught).

A run is ended as a whole: bubblewrap reports the host pid of the sandbox's pid 1 (`--info-fd`),
held here as a pidfd, and once the snippet has ended or is stopped, that pid 1 is sent SIGKILL,
which kills every process of its pid namespace, and awaited, before bubblewrap itself is awaited.
So nothing of a run outlives `snippet_run`.

When the web process runs as root, bubblewrap itself is started as uid 65534, because the kernel
never applies RLIMIT_NPROC to root.

Fails closed: a snippet runs only after a probe has proved, on this machine and with this
configuration, that the sandbox starts, its limits hold and the calls above are refused: a Python
probe (which also records SQLite's version), and a Node probe (fork refused, alone as pid 1, only
`lo`, its limits, no host file readable, nothing writable outside the scratch directory, the
preload in place; the seccomp filter and the thread limit's enforcement are the Python probe's to
prove, the same in both). Without
a proven Python sandbox `snippet_run` raises `SandboxUnavailable` and runs nothing;
`sandbox_available()` says why, and so does `manage.py check` (codedrill.W002). When only Node's
probe fails (or there is no Node), JavaScript alone is unavailable: `snippet_run` raises
`SandboxUnavailable` for it, `sandbox_available()`'s description and `manage.py check`
(codedrill.W003) say why, and Python and SQL run as before.

Settings: SANDBOX ("auto" or "off"), SANDBOX_BWRAP (the bwrap executable),
SANDBOX_PYTHON (the interpreter that runs Python and SQL snippets, /usr/bin/python3 by default),
SANDBOX_NODE (the Node.js that runs JavaScript snippets, /usr/bin/node by default).
"""

from __future__ import annotations

import dataclasses
import enum
import glob
import json
import os
import re
import select
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from challengeapp.core.errors import CodeDrillError

CPU_SECONDS = 2
# Address space of a Python or SQL run.
MEMORY_BYTES = 512 * 1024 * 1024
# Address space of a JavaScript run, and V8's heap within it (see the module docstring).
NODE_MEMORY_BYTES = 1024 * 1024 * 1024
NODE_HEAP_MEGABYTES = 128
# Tasks (threads, since the snippet cannot fork) in the sandbox.
MAX_PROCESSES = 16
SCRATCH_BYTES = 8 * 1024 * 1024
MAX_OPEN_FILES = 64
# Past these, the sandbox is killed: output_too_large.
STDOUT_LIMIT_BYTES = 64 * 1024
STDERR_LIMIT_BYTES = 1024 * 1024
# A backstop for what the CPU limit cannot see: sleeping, waiting.
WALL_SECONDS = 5.0
# How long the end of a run waits for the killed sandbox to be gone (it takes milliseconds).
END_SECONDS = 5.0
MAX_CODE_BYTES = 64 * 1024
STDERR_TAIL_CHARS = 600

SCRATCH_DIR = "/scratch"
SANDBOX_UID = 65534
# Each name a snippet's language may be given by, and the language it is.
LANGUAGE_NAMES = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "javascript": "javascript",
    "js": "javascript",
    "node": "javascript",
    "sql": "sql",
    "sqlite": "sql",
}
SUPPORTED_LANGUAGES = frozenset(LANGUAGE_NAMES)
# Where the Node preload script is, inside the sandbox.
NODE_PRELOAD_PATH = "/codedrill/preload.js"
# WebAssembly memory bounds-checked in code rather than by 10 GiB of reserved guard pages, which the
# address space limit forbids (without it WebAssembly.Memory, and fetch(), which compiles its HTTP
# parser to WebAssembly, fail with "could not allocate memory"). Node 20.17 and later have it; for
# an older Node (Debian's 18), which refuses it as a bad option, the probe leaves it out.
NODE_WASM_OPTION = "--disable-wasm-trap-handler"

SANDBOX_OFF = "The sandbox is turned off (SANDBOX=off), so snippets are never run."
BWRAP_MISSING = (
    "bubblewrap was not found ({path}): install it (sudo apt-get install -y bubblewrap) or point "
    "SANDBOX_BWRAP at it."
)
PRLIMIT_MISSING = "prlimit (util-linux) was not found on PATH, so the sandbox cannot set its limits."
PYTHON_MISSING = "The sandbox's interpreter {path} (SANDBOX_PYTHON) does not exist."
PYTHON_UNSUITABLE = (
    "The sandbox's interpreter {path} (SANDBOX_PYTHON) is not a CPython pythonX.Y with its standard "
    "library in <prefix>/lib/pythonX.Y."
)
NODE_MISSING = (
    "Node.js was not found at {path} (SANDBOX_NODE): install it (sudo apt-get install -y nodejs) or "
    "point SANDBOX_NODE at it."
)
SANDBOX_WONT_START = "bubblewrap could not start a sandbox here: {detail}"
SANDBOX_LIMITS_DONT_HOLD = (
    "The sandbox started but its isolation or limits do not hold: it reported {seen!r}."
)
NODE_WONT_START = "Node.js ({path}) could not start in the sandbox: {detail}"
NODE_LIMITS_DONT_HOLD = (
    "Node.js ({path}) started in the sandbox but its isolation or limits do not hold: it reported {seen!r}."
)
SQLITE_MISSING = "The sandbox's Python has no sqlite3 module, so SQL snippets cannot run."
LANGUAGE_UNAVAILABLE = "{language} snippets cannot run here: {reason}"
UNKNOWN_MODE = "SANDBOX must be 'auto' or 'off', got {mode!r}."
UNSUPPORTED_MACHINE = "The sandbox's seccomp filter knows x86_64 and aarch64 only, not {machine}."
UNSUPPORTED_LANGUAGE = "Only Python, JavaScript and SQL snippets can be run, not {language!r}."
CODE_TOO_LARGE = f"The snippet is longer than {MAX_CODE_BYTES} bytes."


class SandboxUnavailable(CodeDrillError):
    """No sandbox can run snippets here; nothing was run. The message says why."""


class SnippetOutcome(enum.StrEnum):
    OK = "ok"
    CRASHED = "crashed"
    TIMED_OUT = "timed_out"
    OUT_OF_MEMORY = "out_of_memory"
    OUTPUT_TOO_LARGE = "output_too_large"


@dataclass(frozen=True)
class SnippetRun:
    """What a snippet did in the sandbox.

    `stdout` is what it printed, trailing whitespace stripped (cut at the limit when the outcome is
    output_too_large); `stderr_tail` the end of its standard error; `exit_code` the exit status
    (128 + the signal's number when a signal ended it), None when the sandbox was killed from here.
    For SQL, `stdout` is the last result set as JSON, `{"columns": [...], "rows": [[...], ...]}`
    (see `_sql_program`), or empty when no statement returned columns.
    """

    outcome: SnippetOutcome
    stdout: str
    stderr_tail: str
    exit_code: int | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.outcome is SnippetOutcome.OK


@dataclass(frozen=True)
class _Interpreter:
    """One interpreter as the sandbox runs it: it reads the program on stdin."""

    # The command inside the sandbox (after the inner prlimit), the executable first.
    command: tuple[str, ...]
    # bwrap arguments that show it, and what it needs, read-only.
    mounts: tuple[str, ...]
    # More of the environment, as bwrap --setenv arguments.
    environment: tuple[str, ...]
    # Files the sandbox holds read-only, passed to bwrap through pipes: (path, content).
    files: tuple[tuple[str, bytes], ...]
    memory_bytes: int
    # Anywhere in standard error, these say the run ran out of memory (V8's fatal errors, which
    # a native stack trace follows).
    memory_markers: tuple[bytes, ...]


@dataclass(frozen=True)
class _Sandbox:
    bwrap: str
    prlimit: str
    machine: str
    seccomp: bytes
    drop_to_uid: int | None
    python: _Interpreter
    # None when there is no Node to run, with the reason in node_missing.
    node: _Interpreter | None
    node_missing: str


def _sandbox_resolve() -> _Sandbox:
    """The sandbox the settings describe, or SandboxUnavailable. Starts nothing."""
    mode = str(getattr(settings, "SANDBOX", "auto")).strip().lower()
    if mode == "off":
        raise SandboxUnavailable(SANDBOX_OFF)
    if mode != "auto":
        raise SandboxUnavailable(UNKNOWN_MODE.format(mode=mode))
    bwrap_setting = getattr(settings, "SANDBOX_BWRAP", "bwrap") or "bwrap"
    bwrap = shutil.which(bwrap_setting)
    if bwrap is None:
        raise SandboxUnavailable(BWRAP_MISSING.format(path=bwrap_setting))
    prlimit = shutil.which("prlimit") or shutil.which("prlimit", path="/usr/bin:/bin")
    if prlimit is None:
        raise SandboxUnavailable(PRLIMIT_MISSING)
    prlimit = os.path.realpath(prlimit)
    python_setting = getattr(settings, "SANDBOX_PYTHON", "/usr/bin/python3") or "/usr/bin/python3"
    if not os.path.exists(python_setting):
        raise SandboxUnavailable(PYTHON_MISSING.format(path=python_setting))
    node_setting = getattr(settings, "SANDBOX_NODE", "/usr/bin/node") or "/usr/bin/node"
    node = None
    node_missing = ""
    node_found = shutil.which(node_setting)
    if node_found is not None:
        node = _node_interpreter(node=node_found, prlimit=prlimit)
    else:
        node_missing = NODE_MISSING.format(path=node_setting)
    return _Sandbox(
        bwrap=os.path.realpath(bwrap),
        prlimit=prlimit,
        machine=os.uname().machine,
        seccomp=_seccomp_filter(os.uname().machine),
        drop_to_uid=SANDBOX_UID if os.geteuid() == 0 else None,
        python=_python_interpreter(python=python_setting, prlimit=prlimit),
        node=node,
        node_missing=node_missing,
    )


def _interpreter_version(real_path: str) -> str | None:
    """ "3.11" for a CPython named pythonX.Y (what its symlinks resolve to), else None."""
    version = re.fullmatch(r"python(\d+\.\d+)", os.path.basename(real_path))
    return version[1] if version else None


def sandbox_python_version() -> str:
    """The Python version snippets run with, "3.11": the one the prompt tells the model and the
    badge shows the learner, so they are one fact. It is read from SANDBOX_PYTHON's interpreter,
    as the sandbox resolves it: `_mounts` gives the sandbox only that interpreter's
    <prefix>/lib/pythonX.Y, so its name is the version that runs. An interpreter not named so
    cannot run snippets (PYTHON_UNSUITABLE); the prompt then names the web process's own version,
    and no key is checked against another one."""
    python = getattr(settings, "SANDBOX_PYTHON", "/usr/bin/python3") or "/usr/bin/python3"
    version = _interpreter_version(os.path.realpath(python))
    return version or "{}.{}".format(*sys.version_info[:2])


def _python_interpreter(*, python: str, prlimit: str) -> _Interpreter:
    real = os.path.realpath(python)
    prefix = os.path.dirname(os.path.dirname(real))
    library_path = "" if prefix == "/usr" else os.path.join(prefix, "lib")
    return _Interpreter(
        command=(real, "-I", "-B", "-X", "utf8", "-"),
        mounts=_mounts(python=python, prlimit=prlimit),
        # For an interpreter outside /usr: where its libpython is, since the sandbox has no ld.so.cache.
        environment=("--setenv", "LD_LIBRARY_PATH", library_path) if library_path else (),
        files=(),
        memory_bytes=MEMORY_BYTES,
        memory_markers=(),
    )


def _mounts(*, python: str, prlimit: str) -> tuple[str, ...]:
    """bwrap arguments that show the interpreter, its standard library and the shared libraries
    read-only, and nothing else of the host."""
    real = os.path.realpath(python)
    version = _interpreter_version(real)
    prefix = os.path.dirname(os.path.dirname(real))
    stdlib = os.path.join(prefix, "lib", f"python{version}") if version else ""
    if not version or not os.path.isdir(stdlib):
        raise SandboxUnavailable(PYTHON_UNSUITABLE.format(path=python))
    args = ["--ro-bind", real, real, "--ro-bind", stdlib, stdlib, "--ro-bind", prlimit, prlimit]
    site_packages = os.path.join(stdlib, "site-packages")
    if os.path.isdir(site_packages):
        # A python.org build keeps installed packages inside its standard library: hide them.
        args += ["--size", "4096", "--tmpfs", site_packages, "--remount-ro", site_packages]
    libraries = glob.glob(os.path.join(prefix, "lib", "libpython*")) if prefix != "/usr" else []
    return (*args, *_system_library_mounts(libraries))


def _system_library_mounts(extra: list[str]) -> tuple[str, ...]:
    """bwrap arguments that show the system's shared libraries (and `extra` files or directories)
    read-only, with the time zones: what a dynamically linked interpreter needs to start."""
    args = []
    for library in (*sorted(glob.glob("/usr/lib/*-linux-gnu*")), *extra, "/usr/lib64", "/usr/lib32"):
        if os.path.isdir(library) or os.path.isfile(library):
            args += ["--ro-bind", library, library]
    for top in ("/lib", "/lib64", "/lib32", "/bin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top) and top != "/bin":
            args += ["--ro-bind", top, top]
    args += ["--ro-bind-try", "/usr/share/zoneinfo", "/usr/share/zoneinfo"]
    return tuple(args)


# Loaded before the snippet (`node --require`): an uncaught exception, or a rejection nothing
# handles (which Node raises as one), ends the run at once, exit status 1, as Node's own handler
# would; but standard error ends with the error as `String(error)` ("TypeError: Cannot read
# properties of undefined (reading 'x')"), like the last line of a Python traceback, and nothing
# after it (Node prints the source line, a caret and the stack, then "Node.js v20..."). A snippet
# that listens for uncaught exceptions itself keeps its own handling.
# And standard output and error are made blocking, as Python's are: Node otherwise keeps in memory
# what a full pipe cannot take yet, to write it later, so a loop that floods one fills the heap
# (out_of_memory) instead of being stopped for its output (output_too_large), and what is still
# kept when the process exits is lost.
NODE_PRELOAD = """\
"use strict";
{
  for (const stream of [process.stdout, process.stderr]) {
    if (stream._handle && typeof stream._handle.setBlocking === "function") {
      stream._handle.setBlocking(true);
    }
  }
  const describe = (error) => {
    try {
      return String(error);
    } catch {}
    try {
      return require("util").inspect(error);
    } catch {}
    return "Uncaught exception";
  };
  const exit = process.exit.bind(process);
  process.on("uncaughtException", (error) => {
    if (process.listenerCount("uncaughtException") > 1) return;
    process.stderr.write("\\n" + describe(error) + "\\n");
    exit(1);
  });
}
"""

# V8's fatal memory errors: heap limit reached, or memory that could not be mapped.
_NODE_MEMORY_MARKERS = (
    b"JavaScript heap out of memory",
    b"Fatal process out of memory",
    b"Fatal process OOM",
    b"std::bad_alloc",
)


def _node_interpreter(*, node: str, prlimit: str) -> _Interpreter:
    """Node.js as the sandbox runs it: only its executable, the shared libraries and prlimit are
    shown, as for Python (Debian's node needs its libnode and the libraries beside it; a build
    from nodejs.org links only the C and C++ libraries)."""
    real = os.path.realpath(node)
    return _Interpreter(
        command=(
            real,
            f"--max-old-space-size={NODE_HEAP_MEGABYTES}",
            NODE_WASM_OPTION,
            "--require",
            NODE_PRELOAD_PATH,
            "-",
        ),
        mounts=("--ro-bind", real, real, "--ro-bind", prlimit, prlimit, *_system_library_mounts([])),
        environment=("--setenv", "MALLOC_ARENA_MAX", "2"),
        files=((NODE_PRELOAD_PATH, NODE_PRELOAD.encode()),),
        memory_bytes=NODE_MEMORY_BYTES,
        memory_markers=_NODE_MEMORY_MARKERS,
    )


# The fixed program that runs an SQL snippet (assigned to SCRIPT before it, as a string literal): an
# empty database in memory, autocommit so that the script's own BEGIN and COMMIT work, each
# statement in order (split where `sqlite3.complete_statement` says one ends, so statements may
# share a line and a trigger's body keeps its semicolons), and the last result set printed as JSON
# on one line: {"columns": [...], "rows": [[...], ...]}, values as JSON numbers, strings and null,
# a blob as its hex digits, an infinite real as "Inf" or "-Inf" (as SQLite's shell writes it).
# Nothing is printed when no statement returned columns. A failing statement ends the run: the
# exception propagates, so standard error's last line is "sqlite3.OperationalError: no such
# column: x", as Python writes it.
SQL_HARNESS = """
import json
import math
import sqlite3


def json_value(value):
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return value


connection = sqlite3.connect(":memory:", isolation_level=None)
if hasattr(connection, "enable_load_extension"):
    connection.enable_load_extension(False)
result = None
pieces = SCRIPT.split(";")
statement = ""
for number, piece in enumerate(pieces):
    last = number == len(pieces) - 1
    statement += piece if last else piece + ";"
    if not last and not sqlite3.complete_statement(statement):
        continue
    cursor = connection.execute(statement)
    if cursor.description is not None:
        columns = [column[0] for column in cursor.description]
        result = {"columns": columns, "rows": [[json_value(value) for value in row] for row in cursor]}
    statement = ""
if result is not None:
    print(json.dumps(result, ensure_ascii=False))
"""


def _sql_program(script: str) -> str:
    """The Python program that runs `script` (see SQL_HARNESS)."""
    return f"SCRIPT = {script!r}\n{SQL_HARNESS}"


# seccomp. The calls refused with ENOSYS, "no such call": what reaches into another process
# (ptrace and its kin, which let a snippet take over whatever else runs beside it), and kernel
# interfaces a snippet has no use for and that have been the way in for kernel exploits. ENOSYS
# rather than EPERM because the kernel never answers it for these calls on a kernel that has them
# (a sysctl that forbids one answers EPERM), so the probe can tell that the filter refused them.
REFUSED_CALLS = frozenset(
    {
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "kcmp",
        "pidfd_getfd",
        "process_madvise",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "perf_event_open",
        "bpf",
        "add_key",
        "request_key",
        "keyctl",
        "userfaultfd",
    }
)
# The system call numbers per machine (x86_64: arch/x86/entry/syscalls/syscall_64.tbl; aarch64 uses
# include/uapi/asm-generic/unistd.h), and the audit architecture the kernel reports for them.
_SYSCALLS = {
    "x86_64": {
        "fork": 57,
        "vfork": 58,
        "clone": 56,
        "clone3": 435,
        "socket": 41,
        "prctl": 157,
        "ptrace": 101,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "kcmp": 312,
        "pidfd_getfd": 438,
        "process_madvise": 440,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "perf_event_open": 298,
        "bpf": 321,
        "add_key": 248,
        "request_key": 249,
        "keyctl": 250,
        "userfaultfd": 323,
    },
    "aarch64": {  # no fork or vfork: the C library makes processes with clone
        "clone": 220,
        "clone3": 435,
        "socket": 198,
        "prctl": 167,
        "ptrace": 117,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "kcmp": 272,
        "pidfd_getfd": 438,
        "process_madvise": 440,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "perf_event_open": 241,
        "bpf": 280,
        "add_key": 217,
        "request_key": 218,
        "keyctl": 219,
        "userfaultfd": 282,
    },
}
_AUDIT_ARCHES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# x86_64 also accepts the x32 ABI's numbers (this bit set), which the filter would not recognise.
_X32_MACHINES = frozenset({"x86_64"})
_X32_SYSCALL_BIT = 0x40000000
_CLONE_THREAD = 0x00010000
_PR_SET_PDEATHSIG = 1
# Unix sockets and IP ones (only the sandbox's own loopback is there): what the standard library's
# networking uses. netlink, packet, AF_ALG and the rest are refused.
_SOCKET_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6
_LOAD, _JEQ, _JGE, _JSET, _RETURN = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL_PROCESS = 0x7FFF0000, 0x80000000
_ERRNO = 0x00050000
_EPERM, _ENOSYS, _EAFNOSUPPORT = 1, 38, 97
# Offsets in struct seccomp_data: the architecture, the call's number, the low half of its first
# argument (both machines are little-endian): clone's flags, socket's family, prctl's option.
_ARCH, _NUMBER, _FIRST_ARGUMENT = 4, 0, 16


def _seccomp_filter(machine: str, *, refused: frozenset[str] = REFUSED_CALLS) -> bytes:
    """A classic BPF program for bwrap --seccomp: one process, any number of threads, and none of
    the refused calls. (`refused` differs from REFUSED_CALLS only in the test that shows the probe
    catches a filter that lets one through.)"""
    if machine not in _SYSCALLS:
        raise SandboxUnavailable(UNSUPPORTED_MACHINE.format(machine=machine))
    numbers = _SYSCALLS[machine]
    # Instructions are (code, jump-if-true label, jump-if-false label, k); a None label falls
    # through. A string on its own marks where a label is.
    program: list[tuple[int, str | None, str | None, int] | str] = [
        (_LOAD, None, None, _ARCH),
        (_JEQ, None, "kill", _AUDIT_ARCHES[machine]),
        (_LOAD, None, None, _NUMBER),
    ]
    if machine in _X32_MACHINES:
        program.append((_JGE, "eperm", None, _X32_SYSCALL_BIT))
    program += [(_JEQ, "eperm", None, numbers[name]) for name in ("fork", "vfork") if name in numbers]
    program += [(_JEQ, "enosys", None, numbers[name]) for name in sorted(refused)]
    program += [
        # clone3's flags are in memory the filter cannot read: ENOSYS, and the C library falls
        # back to clone.
        (_JEQ, "enosys", None, numbers["clone3"]),
        (_JEQ, "socket", None, numbers["socket"]),
        (_JEQ, "prctl", None, numbers["prctl"]),
        (_JEQ, None, "allow", numbers["clone"]),
        (_LOAD, None, None, _FIRST_ARGUMENT),
        (_JSET, "allow", "eperm", _CLONE_THREAD),
        "socket",
        (_LOAD, None, None, _FIRST_ARGUMENT),
        *[(_JEQ, "allow", None, family) for family in _SOCKET_FAMILIES[:-1]],
        (_JEQ, "allow", "eafnosupport", _SOCKET_FAMILIES[-1]),
        "prctl",
        (_LOAD, None, None, _FIRST_ARGUMENT),
        (_JEQ, "eperm", "allow", _PR_SET_PDEATHSIG),
        "allow",
        (_RETURN, None, None, _ALLOW),
        "eperm",
        (_RETURN, None, None, _ERRNO | _EPERM),
        "enosys",
        (_RETURN, None, None, _ERRNO | _ENOSYS),
        "eafnosupport",
        (_RETURN, None, None, _ERRNO | _EAFNOSUPPORT),
        "kill",
        (_RETURN, None, None, _KILL_PROCESS),
    ]
    return _bpf_assemble(program)


def _bpf_assemble(program: list[tuple[int, str | None, str | None, int] | str]) -> bytes:
    """Encode `program` as struct sock_filter entries, its labels turned into (forward) jumps."""
    instructions: list[tuple[int, str | None, str | None, int]] = []
    labels: dict[str, int] = {}
    for item in program:
        if isinstance(item, str):
            labels[item] = len(instructions)
        else:
            instructions.append(item)
    encoded = bytearray()
    for index, (code, when_true, when_false, k) in enumerate(instructions):
        jump_true = labels[when_true] - index - 1 if when_true else 0
        jump_false = labels[when_false] - index - 1 if when_false else 0
        if not (0 <= jump_true <= 255 and 0 <= jump_false <= 255):
            raise ValueError(f"a seccomp jump out of range at instruction {index}")
        encoded += struct.pack("=HBBI", code, jump_true, jump_false, k)
    return bytes(encoded)


def _argv(
    sandbox: _Sandbox,
    interpreter: _Interpreter,
    *,
    seccomp_fd: int,
    info_fd: int,
    file_fds: tuple[tuple[int, str], ...] = (),
) -> list[str]:
    return [
        # Set on bubblewrap before it starts, so that every process of the run inherits them.
        sandbox.prlimit,
        f"--cpu={CPU_SECONDS}",
        f"--as={interpreter.memory_bytes}",
        f"--fsize={SCRATCH_BYTES}",
        f"--nofile={MAX_OPEN_FILES}",
        "--core=0",
        "--",
        sandbox.bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        SCRATCH_DIR,
        "--setenv",
        "LANG",
        "C.UTF-8",
        *interpreter.environment,
        *interpreter.mounts,
        *[argument for fd, path in file_fds for argument in ("--ro-bind-data", str(fd), path)],
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--remount-ro",
        "/dev",
        "--size",
        str(SCRATCH_BYTES),
        "--tmpfs",
        SCRATCH_DIR,
        "--chdir",
        SCRATCH_DIR,
        "--remount-ro",
        "/",
        "--seccomp",
        str(seccomp_fd),
        "--info-fd",
        str(info_fd),
        # The command is the sandbox's pid 1: no init of bubblewrap's inside.
        "--as-pid-1",
        "--",
        # Inside the sandbox's user namespace, so counted per sandbox (see the module docstring);
        # prlimit then becomes the interpreter, so this binds every task in the sandbox.
        sandbox.prlimit,
        f"--nproc={MAX_PROCESSES}",
        "--",
        *interpreter.command,
    ]


def _pipe_holding(data: bytes) -> int:
    """The read end of a pipe that holds `data`, its write end closed: how bubblewrap is given the
    seccomp program and the files it shows read-only (a few kilobytes: the pipe holds them)."""
    read_end, write_end = os.pipe()
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view) :]
    except OSError:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end


def _execute(sandbox: _Sandbox, interpreter: _Interpreter, source: bytes) -> SnippetRun:
    """Run `source` in the sandbox: stdin carries the program, stdout and stderr are read here
    until the process ends, a limit is passed, or the deadline comes. Returns once every process
    of the run is gone."""
    started = time.monotonic()
    drop = {}
    if sandbox.drop_to_uid is not None:
        drop = {"user": sandbox.drop_to_uid, "group": sandbox.drop_to_uid, "extra_groups": []}
    given: list[int] = []  # read ends bubblewrap reads: the seccomp program, then the files
    info_read, info_write = os.pipe()
    try:
        for data in (sandbox.seccomp, *(content for _, content in interpreter.files)):
            given.append(_pipe_holding(data))
        file_fds = tuple(zip(given[1:], (path for path, _ in interpreter.files), strict=True))
        process = subprocess.Popen(
            _argv(sandbox, interpreter, seccomp_fd=given[0], info_fd=info_write, file_fds=file_fds),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(*given, info_write),
            env={},
            cwd="/",
            start_new_session=True,
            **drop,
        )
    except (OSError, subprocess.SubprocessError) as error:
        os.close(info_read)
        raise SandboxUnavailable(SANDBOX_WONT_START.format(detail=error)) from error
    finally:
        for fd in given:
            os.close(fd)
        os.close(info_write)

    info_pipe = os.fdopen(info_read, "rb", buffering=0)
    info = bytearray()
    sandbox_pid_1: int | None = None  # a pidfd, once bubblewrap has said which process it is
    stdout = bytearray()
    stderr = bytearray()
    stderr_total = 0
    out_of_memory = False  # one of the interpreter's memory markers was written to stderr
    pending = memoryview(source)
    stopped_for: SnippetOutcome | None = None
    exit_code: int | None = None
    deadline = started + WALL_SECONDS
    selector = selectors.DefaultSelector()
    try:
        for pipe, events in (
            (process.stdin, selectors.EVENT_WRITE),
            (process.stdout, selectors.EVENT_READ),
            (process.stderr, selectors.EVENT_READ),
            (info_pipe, selectors.EVENT_READ),
        ):
            os.set_blocking(pipe.fileno(), False)
            selector.register(pipe, events)
        while selector.get_map() and stopped_for is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped_for = SnippetOutcome.TIMED_OUT
                break
            for key, _ in selector.select(remaining):
                pipe = key.fileobj
                if pipe is process.stdin:
                    try:
                        pending = pending[os.write(pipe.fileno(), pending[:65536]) :]
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        selector.unregister(pipe)
                        pipe.close()
                    continue
                chunk = os.read(pipe.fileno(), 65536)
                if pipe is info_pipe:
                    # bubblewrap writes this before it waits for the sandbox, and then closes it.
                    info += chunk
                    if not chunk:
                        selector.unregister(pipe)
                        sandbox_pid_1 = _sandbox_pid_1_open(info, bubblewrap=process)
                elif not chunk:
                    selector.unregister(pipe)
                elif pipe is process.stdout:
                    stdout += chunk
                    if len(stdout) > STDOUT_LIMIT_BYTES:
                        stopped_for = SnippetOutcome.OUTPUT_TOO_LARGE
                else:
                    stderr_total += len(chunk)
                    # Searched as it comes: what follows a marker (V8's native stack trace) can
                    # push it out of the tail that is kept.
                    seen = bytes(stderr[-64:]) + chunk
                    out_of_memory = out_of_memory or any(
                        marker in seen for marker in interpreter.memory_markers
                    )
                    stderr = (stderr + chunk)[-4 * STDERR_TAIL_CHARS :]
                    if stderr_total > STDERR_LIMIT_BYTES:
                        stopped_for = SnippetOutcome.OUTPUT_TOO_LARGE
        if stopped_for is None:
            try:
                exit_code = process.wait(timeout=max(deadline - time.monotonic(), 0.001))
            except subprocess.TimeoutExpired:
                stopped_for = SnippetOutcome.TIMED_OUT
    finally:
        selector.close()
        if sandbox_pid_1 is None and process.returncode is None:
            # Stopped before the report's end was read. bubblewrap is not reaped yet, so the pid
            # it names cannot have been reused.
            info += _report_rest(info_pipe)
            sandbox_pid_1 = _sandbox_pid_1_open(info, bubblewrap=process)
        info_pipe.close()
        _run_end(process, sandbox_pid_1)
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()

    stderr_text = stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL_CHARS:]
    return SnippetRun(
        outcome=stopped_for or _outcome(exit_code, stderr_text, out_of_memory=out_of_memory),
        stdout=bytes(stdout[:STDOUT_LIMIT_BYTES]).decode("utf-8", "replace").rstrip(),
        stderr_tail=stderr_text,
        exit_code=exit_code,
        seconds=time.monotonic() - started,
    )


def _report_rest(pipe) -> bytes:
    """The rest of bubblewrap's --info-fd report. bubblewrap closes it once written, as it starts
    the sandbox, and exits if it cannot: this waits for that, END_SECONDS at most."""
    rest = bytearray()
    until = time.monotonic() + END_SECONDS
    while (remaining := until - time.monotonic()) > 0 and select.select([pipe], [], [], remaining)[0]:
        chunk = os.read(pipe.fileno(), 4096)
        if not chunk:
            break
        rest += chunk
    return bytes(rest)


def _sandbox_pid_1_open(info: bytes, *, bubblewrap: subprocess.Popen) -> int | None:
    """A pidfd for the sandbox's pid 1, which bubblewrap's --info-fd report names by its host pid,
    or None when there is none (bubblewrap failed first, or the sandbox has already ended)."""
    try:
        pid = int(json.loads(info)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    # The number was read before the pidfd was opened: make sure it still names bubblewrap's own
    # child and not a process that took the number since. bubblewrap, not reaped here yet, has no
    # other child, so no other process can have it as its parent.
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            parent = next(int(line.split()[1]) for line in status if line.startswith("PPid:"))
    except (OSError, StopIteration, ValueError):
        parent = None
    if parent != bubblewrap.pid:
        os.close(pidfd)
        return None
    return pidfd


def _run_end(process: subprocess.Popen, sandbox_pid_1: int | None) -> None:
    """End every process of the run: the sandbox's pid 1, which takes every process of its pid
    namespace with it, then bubblewrap."""
    if sandbox_pid_1 is not None:
        try:
            # Does nothing if it has ended already. The snippet could not have stopped this: a
            # pid namespace's init ignores signals only from inside its namespace.
            signal.pidfd_send_signal(sandbox_pid_1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # The pidfd turns readable when pid 1 has ended, and the kernel ends pid 1 only after every
        # other process of its namespace is gone, their memory freed.
        select.select([sandbox_pid_1], [], [], END_SECONDS)
        os.close(sandbox_pid_1)
    if process.returncode is None:
        try:
            # bubblewrap ends as soon as its child has: it only waited for it.
            process.wait(timeout=END_SECONDS if sandbox_pid_1 is not None else 0)
        except subprocess.TimeoutExpired:
            # bubblewrap never said which process the sandbox was (it failed before starting
            # one, or is not bubblewrap), or outlives it: its --die-with-parent ends what it
            # started.
            process.kill()
            process.wait()


def _outcome(exit_code: int | None, stderr: str, *, out_of_memory: bool = False) -> SnippetOutcome:
    if exit_code == 0:
        return SnippetOutcome.OK
    # prlimit sets the soft and hard CPU limits equal, so the kernel sends SIGKILL at the limit.
    if exit_code in (128 + signal.SIGKILL, 128 + signal.SIGXCPU):
        return SnippetOutcome.TIMED_OUT
    last_line = stderr.splitlines()[-1] if stderr else ""
    if (
        out_of_memory
        or last_line.startswith(("MemoryError", "RangeError: Array buffer allocation failed"))
        or "Cannot allocate memory" in stderr
    ):
        return SnippetOutcome.OUT_OF_MEMORY
    return SnippetOutcome.CRASHED


# The probe proves the limits hold: no fork, the thread limit really enforced (the kernel exempts
# root, so a sandbox started as root would count 64 threads), the snippet alone as pid 1, and each
# refusal the filter promises. A refused call is tried with arguments that would do nothing were
# it let through; `refused:` lists any that was. It ends with the versions of Python and of the
# SQLite its sqlite3 module runs ("none" without one).
PROBE_CODE = """
import ctypes, errno, os, platform, resource, socket, threading
# SQLite's version first: once the thread test below has its threads' stacks and malloc arenas
# mapped, loading a shared library can find the address space limit reached.
try:
    import sqlite3
    sqlite = sqlite3.sqlite_version
except ImportError:
    sqlite = "none"
try:
    if os.fork() == 0:
        os._exit(0)
    fork = "forked"
except PermissionError:
    fork = "no-fork"
except OSError as error:
    fork = f"fork-failed-{{error.errno}}"
release = threading.Event()
threads = 0
try:
    while threads < 64:
        threading.Thread(target=release.wait).start()
        threads += 1
except RuntimeError:
    pass
release.set()
limits = [resource.getrlimit(r)[1] for r in (resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_NPROC)]
alone = os.getpid() == 1 and [p for p in os.listdir("/proc") if p.isdigit()] == ["1"]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
let_through = [
    name
    for name, number in {refused_calls!r}.items()
    if libc.syscall(*[ctypes.c_long(n) for n in (number, -1, -1, -1, -1, -1, -1)]) != -1
    or ctypes.get_errno() != errno.ENOSYS
]
for family in ("AF_NETLINK", "AF_PACKET"):
    try:
        socket.socket(getattr(socket, family), socket.SOCK_RAW).close()
        let_through.append(family)
    except OSError as error:
        if error.errno != errno.EAFNOSUPPORT:
            let_through.append(family)
if libc.prctl(1, 0, 0, 0, 0) != -1:  # PR_SET_PDEATHSIG
    let_through.append("PR_SET_PDEATHSIG")
refusals = "refused:" + (",".join(let_through) or "all")
# /proc/net/dev, since socket.if_nameindex() asks a netlink socket, which is refused.
interfaces = sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:])
print(os.getuid(), *limits, fork, threads < 16, alone, refusals, os.getcwd(), *interfaces, platform.python_version(), sqlite)
"""
PROBE_EXPECTED = f"{SANDBOX_UID} {CPU_SECONDS} {MEMORY_BYTES} {MAX_PROCESSES} no-fork True True refused:all {SCRATCH_DIR} lo "

# Node's probe: the same sandbox seen from Node (the seccomp filter is the one the Python probe
# proved, and so is the thread limit's enforcement, in the same namespaces as the same uid): its
# limits, spawning refused (EPERM, the filter's answer to fork), alone as pid 1, no host file to
# read (/etc/passwd is not there), nothing writable outside the scratch directory (the root is
# read-only), the preload's handler in place, only `lo`; then Node's version.
NODE_PROBE_CODE = """
const fs = require("fs");
const attempt = (action) => {
  try {
    action();
    return "done";
  } catch (error) {
    return error.code || String(error);
  }
};
const spawned = require("child_process").spawnSync(process.execPath, ["-e", "0"]);
const limits = {};
for (const line of fs.readFileSync("/proc/self/limits", "utf8").split("\\n").slice(1)) {
  limits[line.slice(0, 26).trim()] = line.slice(26).trim().split(/\\s+/)[1];
}
const processes = fs.readdirSync("/proc").filter((name) => /^\\d+$/.test(name));
const interfaces = fs.readFileSync("/proc/net/dev", "utf8").split("\\n").slice(2).filter(Boolean);
console.log(
  [
    process.getuid(),
    limits["Max cpu time"],
    limits["Max address space"],
    limits["Max processes"],
    spawned.error ? spawned.error.code : "spawned",
    process.pid === 1 && processes.join(",") === "1",
    attempt(() => fs.readFileSync("/etc/passwd")),
    attempt(() => fs.writeFileSync("/probe", "x")),
    attempt(() => fs.writeFileSync("probe", "x")),
    process.listenerCount("uncaughtException") === 1,
    process.cwd(),
    ...interfaces.map((line) => line.split(":")[0].trim()).sort(),
    process.versions.node,
  ].join(" "),
);
"""
NODE_PROBE_EXPECTED = (
    f"{SANDBOX_UID} {CPU_SECONDS} {NODE_MEMORY_BYTES} {MAX_PROCESSES} EPERM true ENOENT EROFS done true "
    f"{SCRATCH_DIR} lo "
)


def _probe_code(machine: str) -> str:
    numbers = _SYSCALLS[machine]
    return PROBE_CODE.format(refused_calls={name: numbers[name] for name in sorted(REFUSED_CALLS)})


@dataclass(frozen=True)
class _Proven:
    """What the probes proved for one configuration."""

    description: str
    # Each language that can run, and the version that runs it ("Python 3.11").
    versions: dict[str, str]
    # Each language that cannot, and why ("JavaScript snippets cannot run here: ...").
    unavailable: dict[str, str]
    # The Node command the probe proved, None when JavaScript cannot run.
    node: _Interpreter | None


_verified: dict[_Sandbox, _Proven] = {}
_verified_lock = threading.Lock()


def _python_probe(sandbox: _Sandbox) -> tuple[str, str]:
    """Python's full version and SQLite's ("none" without sqlite3), or SandboxUnavailable."""
    probe = _execute(sandbox, sandbox.python, _probe_code(sandbox.machine).encode())
    if probe.stderr_tail.startswith("bwrap:") or (not probe.ok and not probe.stdout):
        raise SandboxUnavailable(SANDBOX_WONT_START.format(detail=probe.stderr_tail or probe.outcome))
    if not probe.ok or not probe.stdout.startswith(PROBE_EXPECTED):
        raise SandboxUnavailable(SANDBOX_LIMITS_DONT_HOLD.format(seen=probe.stdout))
    python, sqlite = probe.stdout.rsplit(" ", 2)[-2:]
    return python, sqlite


def _node_probe(sandbox: _Sandbox) -> tuple[_Interpreter, str]:
    """The Node that runs JavaScript snippets (without NODE_WASM_OPTION when it does not know it)
    and its version, or SandboxUnavailable saying why JavaScript cannot run."""
    if sandbox.node is None:
        raise SandboxUnavailable(sandbox.node_missing)
    node = sandbox.node
    path = node.command[0]
    probe = _execute(sandbox, node, NODE_PROBE_CODE.encode())
    if probe.stderr_tail.endswith(f"bad option: {NODE_WASM_OPTION}"):
        node = dataclasses.replace(node, command=tuple(a for a in node.command if a != NODE_WASM_OPTION))
        probe = _execute(sandbox, node, NODE_PROBE_CODE.encode())
    if probe.stderr_tail.startswith("bwrap:") or (not probe.ok and not probe.stdout):
        detail = probe.stderr_tail or probe.outcome
        raise SandboxUnavailable(NODE_WONT_START.format(path=path, detail=detail))
    if not probe.ok or not probe.stdout.startswith(NODE_PROBE_EXPECTED):
        raise SandboxUnavailable(NODE_LIMITS_DONT_HOLD.format(path=path, seen=probe.stdout))
    return node, probe.stdout.rsplit(" ", 1)[-1]


def _sandbox_ready() -> tuple[_Sandbox, _Proven]:
    """The sandbox and what its probes proved, probed once per process and configuration.
    SandboxUnavailable when Python's probe fails: nothing runs then."""
    sandbox = _sandbox_resolve()
    with _verified_lock:
        if sandbox in _verified:
            return sandbox, _verified[sandbox]
        python, sqlite = _python_probe(sandbox)
        versions = {"python": "Python " + ".".join(python.split(".")[:2])}
        unavailable = {}
        if sqlite == "none":
            unavailable["sql"] = LANGUAGE_UNAVAILABLE.format(language="SQL", reason=SQLITE_MISSING)
        else:
            versions["sql"] = f"SQLite {sqlite}"
        node = None
        try:
            node, node_version = _node_probe(sandbox)
            versions["javascript"] = f"Node.js {node_version}"
        except SandboxUnavailable as error:
            unavailable["javascript"] = LANGUAGE_UNAVAILABLE.format(language="JavaScript", reason=error)
        bwrap_version = subprocess.run(
            [sandbox.bwrap, "--version"], capture_output=True, text=True, env={}, check=False
        ).stdout.strip()
        described = [
            f"{bwrap_version or 'bubblewrap'} ({sandbox.bwrap})",
            f"Python {python} ({sandbox.python.command[0]})",
        ]
        if "sql" in versions:
            described.append(versions["sql"])
        if "javascript" in versions:
            described.append(f"{versions['javascript']} ({node.command[0]})")
        proven = _Proven(
            node=node,
            description="; ".join([", ".join(described), *unavailable.values()]),
            versions=versions,
            unavailable=unavailable,
        )
        _verified[sandbox] = proven
        return sandbox, proven


def sandbox_available() -> tuple[bool, str]:
    """Whether snippets can run here: (True, what runs them, and which language cannot and why) or
    (False, why not). True means Python runs; see `sandbox_language_available` for the others."""
    try:
        _, proven = _sandbox_ready()
    except SandboxUnavailable as error:
        return False, str(error)
    return True, proven.description


def snippet_language(language: str) -> str:
    """The language ("python", "javascript" or "sql") that `language` names ("Python3", "js",
    "sqlite"...); ValueError for one that no interpreter here is for."""
    canonical = LANGUAGE_NAMES.get(language.strip().lower())
    if canonical is None:
        raise ValueError(UNSUPPORTED_LANGUAGE.format(language=language))
    return canonical


def sandbox_language_versions() -> dict[str, str]:
    """Each language that can run here, and the version that runs it: {"python": "Python 3.11",
    "javascript": "Node.js 20.20.2", "sql": "SQLite 3.40.1"}. Empty without a sandbox; without a
    working Node, no "javascript". The probes run once per process and configuration; after that
    this is a dictionary lookup."""
    try:
        _, proven = _sandbox_ready()
    except SandboxUnavailable:
        return {}
    return dict(proven.versions)


def sandbox_language_available(language: str) -> bool:
    """Whether snippets in `language` (any name LANGUAGE_NAMES knows) can run here."""
    canonical = LANGUAGE_NAMES.get(language.strip().lower())
    return canonical is not None and canonical in sandbox_language_versions()


def sandbox_language_problem(language: str) -> str | None:
    """Why snippets in `language` cannot run here, or None when they can. ValueError for a
    language no interpreter here is for."""
    canonical = snippet_language(language)
    try:
        _, proven = _sandbox_ready()
    except SandboxUnavailable as error:
        return str(error)
    return proven.unavailable.get(canonical)


def snippet_run(*, code: str, language: str = "python") -> SnippetRun:
    """Run a Python, JavaScript or SQL snippet in the sandbox and report what it printed and how
    it ended (for SQL, the last result set as JSON: see `_sql_program`).

    Raises SandboxUnavailable (having run nothing) when no proven sandbox is available, or none
    for this language (no working Node for JavaScript), and ValueError for another language or a
    snippet over MAX_CODE_BYTES.
    """
    canonical = snippet_language(language)
    if len(code.encode("utf-8")) > MAX_CODE_BYTES:
        raise ValueError(CODE_TOO_LARGE)
    sandbox, proven = _sandbox_ready()
    if canonical not in proven.versions:
        raise SandboxUnavailable(proven.unavailable[canonical])
    if canonical == "javascript":
        interpreter, program = proven.node, code
    elif canonical == "sql":
        interpreter, program = sandbox.python, _sql_program(code)
    else:
        interpreter, program = sandbox.python, code
    run = _execute(sandbox, interpreter, program.encode("utf-8"))
    if run.exit_code == 1 and not run.stdout and run.stderr_tail.startswith("bwrap:"):
        # The sandbox stopped working since the probe (or the snippet pretends it did): probe
        # again next time. This run counts as a crash either way.
        with _verified_lock:
            _verified.pop(sandbox, None)
    return run
