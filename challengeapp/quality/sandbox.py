"""Running model-written Python snippets in a sandbox, to learn what they really print.

The isolation is bubblewrap (`bwrap`, Debian's `bubblewrap` package), which builds the sandbox
from Linux namespaces, and the kernel's resource limits:

- new user, pid, network, IPC, UTS and cgroup namespaces, with no way to create further user
  namespaces inside; the snippet runs as uid 65534 and sees only its own processes;
- no network: the new network namespace has nothing but its own loopback interface;
- a filesystem holding only the interpreter, its standard library, the shared libraries and
  `prlimit`, all read-only; the root, /dev and /proc are private; the one writable place is a
  small tmpfs, the scratch directory, which is also the working directory;
- an empty environment (PATH, HOME, LANG; LD_LIBRARY_PATH for an interpreter outside /usr), the
  interpreter in isolated mode (`-I`);
- one process: the snippet's interpreter is the sandbox's pid 1 (`--as-pid-1`: bubblewrap keeps
  no init of its own inside, which a snippet could attach to and leave running with the web
  server's limits), and a seccomp filter refuses fork, vfork and every clone that does not make a
  thread, so nothing can be spawned;
- the same filter refuses (ENOSYS, as if the kernel lacked them) the calls that reach into other
  processes or widen what the kernel exposes: ptrace, process_vm_readv/writev, kcmp, pidfd_getfd,
  process_madvise, io_uring, perf_event_open, bpf, the key calls and userfaultfd; sockets other
  than Unix and IP ones (netlink, packet, ...: EAFNOSUPPORT); and clearing the parent-death signal
  (EPERM), which would let the snippet outlive bubblewrap;
- limits that bind every process of a run: CPU seconds, address space, file size, open files and
  core size are set by `prlimit` on bubblewrap itself before it starts, so bubblewrap (outside the
  sandbox) and the snippet inherit them; the thread limit (RLIMIT_NPROC) is set by a second
  `prlimit` inside, because only there is it counted per sandbox: set outside, the kernel would
  also count it against every process of the uid on the host, and sandboxes running at once
  would share one budget;
- a new session (no terminal to inject keystrokes into), killed with its parent;
- here, a wall-clock deadline and a cap on what is read from stdout and stderr.

A run is ended as a whole: bubblewrap reports the host pid of the sandbox's pid 1 (`--info-fd`),
held here as a pidfd, and once the snippet has ended or is stopped, that pid 1 is sent SIGKILL,
which kills every process of its pid namespace, and awaited, before bubblewrap itself is awaited.
So nothing of a run outlives `snippet_run`.

When the web process runs as root, bubblewrap itself is started as uid 65534, because the kernel
never applies RLIMIT_NPROC to root.

Fails closed: a snippet runs only after a probe has proved, on this machine and with this
configuration, that the sandbox starts, its limits hold and the calls above are refused. Otherwise
`snippet_run` raises `SandboxUnavailable` and runs nothing; `sandbox_available()` says why, and so
does `manage.py check` (codedrill.W002).

Settings: SANDBOX ("auto" or "off"), SANDBOX_BWRAP (the bwrap executable),
SANDBOX_PYTHON (the interpreter that runs snippets, /usr/bin/python3 by default).
"""

from __future__ import annotations

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
MEMORY_BYTES = 512 * 1024 * 1024
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
SUPPORTED_LANGUAGES = frozenset({"python", "python3", "py"})

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
SANDBOX_WONT_START = "bubblewrap could not start a sandbox here: {detail}"
SANDBOX_LIMITS_DONT_HOLD = (
    "The sandbox started but its isolation or limits do not hold: it reported {seen!r}."
)
UNKNOWN_MODE = "SANDBOX must be 'auto' or 'off', got {mode!r}."
UNSUPPORTED_MACHINE = "The sandbox's seccomp filter knows x86_64 and aarch64 only, not {machine}."
UNSUPPORTED_LANGUAGE = "Only Python snippets can be run, not {language!r}."
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
class _Sandbox:
    bwrap: str
    prlimit: str
    python: str
    mounts: tuple[str, ...]
    machine: str
    seccomp: bytes
    # For an interpreter outside /usr: where its libpython is, since the sandbox has no ld.so.cache.
    library_path: str
    drop_to_uid: int | None


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
    python_setting = getattr(settings, "SANDBOX_PYTHON", "/usr/bin/python3") or "/usr/bin/python3"
    if not os.path.exists(python_setting):
        raise SandboxUnavailable(PYTHON_MISSING.format(path=python_setting))
    python = os.path.realpath(python_setting)
    prefix = os.path.dirname(os.path.dirname(python))
    return _Sandbox(
        bwrap=os.path.realpath(bwrap),
        prlimit=os.path.realpath(prlimit),
        python=python,
        mounts=_mounts(python=python_setting, prlimit=os.path.realpath(prlimit)),
        machine=os.uname().machine,
        seccomp=_seccomp_filter(os.uname().machine),
        library_path="" if prefix == "/usr" else os.path.join(prefix, "lib"),
        drop_to_uid=SANDBOX_UID if os.geteuid() == 0 else None,
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
    libraries = sorted(glob.glob("/usr/lib/*-linux-gnu*"))
    libraries += glob.glob(os.path.join(prefix, "lib", "libpython*")) if prefix != "/usr" else []
    for library in (*libraries, "/usr/lib64", "/usr/lib32"):
        if os.path.isdir(library) or os.path.isfile(library):
            args += ["--ro-bind", library, library]
    for top in ("/lib", "/lib64", "/lib32", "/bin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top) and top != "/bin":
            args += ["--ro-bind", top, top]
    args += ["--ro-bind-try", "/usr/share/zoneinfo", "/usr/share/zoneinfo"]
    return tuple(args)


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


def _argv(sandbox: _Sandbox, *, seccomp_fd: int, info_fd: int) -> list[str]:
    return [
        # Set on bubblewrap before it starts, so that every process of the run inherits them.
        sandbox.prlimit,
        f"--cpu={CPU_SECONDS}",
        f"--as={MEMORY_BYTES}",
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
        *(("--setenv", "LD_LIBRARY_PATH", sandbox.library_path) if sandbox.library_path else ()),
        *sandbox.mounts,
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
        sandbox.python,
        "-I",
        "-B",
        "-X",
        "utf8",
        "-",
    ]


def _execute(sandbox: _Sandbox, source: bytes) -> SnippetRun:
    """Run `source` in the sandbox: stdin carries the program, stdout and stderr are read here
    until the process ends, a limit is passed, or the deadline comes. Returns once every process
    of the run is gone."""
    started = time.monotonic()
    drop = {}
    if sandbox.drop_to_uid is not None:
        drop = {"user": sandbox.drop_to_uid, "group": sandbox.drop_to_uid, "extra_groups": []}
    seccomp_read, seccomp_write = os.pipe()
    info_read, info_write = os.pipe()
    try:
        try:
            os.write(seccomp_write, sandbox.seccomp)  # a few hundred bytes: the pipe holds them
        finally:
            os.close(seccomp_write)
        process = subprocess.Popen(
            _argv(sandbox, seccomp_fd=seccomp_read, info_fd=info_write),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(seccomp_read, info_write),
            env={},
            cwd="/",
            start_new_session=True,
            **drop,
        )
    except (OSError, subprocess.SubprocessError) as error:
        os.close(info_read)
        raise SandboxUnavailable(SANDBOX_WONT_START.format(detail=error)) from error
    finally:
        os.close(seccomp_read)
        os.close(info_write)

    info_pipe = os.fdopen(info_read, "rb", buffering=0)
    info = bytearray()
    sandbox_pid_1: int | None = None  # a pidfd, once bubblewrap has said which process it is
    stdout = bytearray()
    stderr = bytearray()
    stderr_total = 0
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
        outcome=stopped_for or _outcome(exit_code, stderr_text),
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


def _outcome(exit_code: int | None, stderr: str) -> SnippetOutcome:
    if exit_code == 0:
        return SnippetOutcome.OK
    # prlimit sets the soft and hard CPU limits equal, so the kernel sends SIGKILL at the limit.
    if exit_code in (128 + signal.SIGKILL, 128 + signal.SIGXCPU):
        return SnippetOutcome.TIMED_OUT
    last_line = stderr.splitlines()[-1] if stderr else ""
    if last_line.startswith("MemoryError") or "Cannot allocate memory" in stderr:
        return SnippetOutcome.OUT_OF_MEMORY
    return SnippetOutcome.CRASHED


# The probe proves the limits hold: no fork, the thread limit really enforced (the kernel exempts
# root, so a sandbox started as root would count 64 threads), the snippet alone as pid 1, and each
# refusal the filter promises. A refused call is tried with arguments that would do nothing were
# it let through; `refused:` lists any that was.
PROBE_CODE = """
import ctypes, errno, os, platform, resource, socket, threading
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
print(os.getuid(), *limits, fork, threads < 16, alone, refusals, os.getcwd(), *interfaces, platform.python_version())
"""
PROBE_EXPECTED = f"{SANDBOX_UID} {CPU_SECONDS} {MEMORY_BYTES} {MAX_PROCESSES} no-fork True True refused:all {SCRATCH_DIR} lo "


def _probe_code(machine: str) -> str:
    numbers = _SYSCALLS[machine]
    return PROBE_CODE.format(refused_calls={name: numbers[name] for name in sorted(REFUSED_CALLS)})


_verified: dict[_Sandbox, str] = {}
_verified_lock = threading.Lock()


def _sandbox_ready() -> tuple[_Sandbox, str]:
    """The sandbox and its description, probed once per process and configuration."""
    sandbox = _sandbox_resolve()
    with _verified_lock:
        if sandbox in _verified:
            return sandbox, _verified[sandbox]
        probe = _execute(sandbox, _probe_code(sandbox.machine).encode())
        if probe.stderr_tail.startswith("bwrap:") or (not probe.ok and not probe.stdout):
            raise SandboxUnavailable(SANDBOX_WONT_START.format(detail=probe.stderr_tail or probe.outcome))
        if not probe.ok or not probe.stdout.startswith(PROBE_EXPECTED):
            raise SandboxUnavailable(SANDBOX_LIMITS_DONT_HOLD.format(seen=probe.stdout))
        version = probe.stdout.rsplit(" ", 1)[-1]
        bwrap_version = subprocess.run(
            [sandbox.bwrap, "--version"], capture_output=True, text=True, env={}, check=False
        ).stdout.strip()
        description = (
            f"{bwrap_version or 'bubblewrap'} ({sandbox.bwrap}), {sandbox.python} (Python {version})"
        )
        _verified[sandbox] = description
        return sandbox, description


def sandbox_available() -> tuple[bool, str]:
    """Whether snippets can run here: (True, what runs them) or (False, why not)."""
    try:
        _, description = _sandbox_ready()
    except SandboxUnavailable as error:
        return False, str(error)
    return True, description


def snippet_run(*, code: str, language: str = "python") -> SnippetRun:
    """Run a Python snippet in the sandbox and report what it printed and how it ended.

    Raises SandboxUnavailable (having run nothing) when no proven sandbox is available, and
    ValueError for another language or a snippet over MAX_CODE_BYTES.
    """
    if language.strip().lower() not in SUPPORTED_LANGUAGES:
        raise ValueError(UNSUPPORTED_LANGUAGE.format(language=language))
    source = code.encode("utf-8")
    if len(source) > MAX_CODE_BYTES:
        raise ValueError(CODE_TOO_LARGE)
    sandbox, _ = _sandbox_ready()
    run = _execute(sandbox, source)
    if run.exit_code == 1 and not run.stdout and run.stderr_tail.startswith("bwrap:"):
        # The sandbox stopped working since the probe (or the snippet pretends it did): probe
        # again next time. This run counts as a crash either way.
        with _verified_lock:
            _verified.pop(sandbox, None)
    return run
