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
- one process: a seccomp filter refuses fork, vfork and every clone that does not make a thread,
  so the address-space limit bounds the whole sandbox's memory, and nothing can be spawned;
- limits set by `prlimit` inside the sandbox: CPU seconds, address space, threads (RLIMIT_NPROC,
  counted per sandbox because it applies within the sandbox's own user namespace), file size,
  open files;
- a new session (no terminal to inject keystrokes into), killed with its parent;
- here, a wall-clock deadline and a cap on what is read from stdout and stderr.

When the web process runs as root, bubblewrap itself is started as uid 65534, because the kernel
never applies RLIMIT_NPROC to root.

Fails closed: a snippet runs only after a probe has proved, on this machine and with this
configuration, that the sandbox starts and its limits hold. Otherwise `snippet_run` raises
`SandboxUnavailable` and runs nothing; `sandbox_available()` says why, and so does
`manage.py check` (codedrill.W002).

Settings: SANDBOX ("auto" or "off"), SANDBOX_BWRAP (the bwrap executable),
SANDBOX_PYTHON (the interpreter that runs snippets, /usr/bin/python3 by default).
"""

from __future__ import annotations

import enum
import glob
import os
import re
import selectors
import shutil
import signal
import struct
import subprocess
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from challengeapp.services.errors import CodeDrillError

CPU_SECONDS = 2
MEMORY_BYTES = 512 * 1024 * 1024
# Tasks (threads, since the snippet cannot fork) in the sandbox, bubblewrap's init included.
MAX_PROCESSES = 16
SCRATCH_BYTES = 8 * 1024 * 1024
MAX_OPEN_FILES = 64
# Past these, the sandbox is killed: output_too_large.
STDOUT_LIMIT_BYTES = 64 * 1024
STDERR_LIMIT_BYTES = 1024 * 1024
# A backstop for what the CPU limit cannot see: sleeping, waiting.
WALL_SECONDS = 5.0
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
        seccomp=_seccomp_filter(os.uname().machine),
        library_path="" if prefix == "/usr" else os.path.join(prefix, "lib"),
        drop_to_uid=SANDBOX_UID if os.geteuid() == 0 else None,
    )


def _mounts(*, python: str, prlimit: str) -> tuple[str, ...]:
    """bwrap arguments that show the interpreter, its standard library and the shared libraries
    read-only, and nothing else of the host."""
    real = os.path.realpath(python)
    version = re.fullmatch(r"python(\d+\.\d+)", os.path.basename(real))
    prefix = os.path.dirname(os.path.dirname(real))
    stdlib = os.path.join(prefix, "lib", f"python{version[1]}") if version else ""
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


# seccomp: the system call numbers that make processes, per machine, and the audit architecture
# the kernel reports for them. Threads (clone with CLONE_THREAD) stay allowed; clone3 answers
# ENOSYS, because its flags cannot be inspected, and the C library then falls back to clone.
_SYSCALLS = {
    # machine: (audit architecture, clone, clone3, other calls that fork, refuse x32 numbers)
    "x86_64": (0xC000003E, 56, 435, (57, 58), True),  # fork, vfork
    "aarch64": (0xC00000B7, 220, 435, (), False),
}
_CLONE_THREAD = 0x00010000
_X32_SYSCALL_BIT = 0x40000000
_LOAD, _JEQ, _JGE, _JSET, _RETURN = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL_PROCESS = 0x7FFF0000, 0x80000000
_ERRNO = 0x00050000


def _seccomp_filter(machine: str) -> bytes:
    """A classic BPF program for bwrap --seccomp: one process, any number of threads."""
    if machine not in _SYSCALLS:
        raise SandboxUnavailable(UNSUPPORTED_MACHINE.format(machine=machine))
    audit_arch, clone, clone3, forks, refuse_x32 = _SYSCALLS[machine]
    # (code, jump target when true, jump target when false, k); targets are labels below.
    program: list[tuple[int, str | None, str | None, int]] = [
        (_LOAD, None, None, 4),  # seccomp_data.arch
        (_JEQ, None, "kill", audit_arch),
        (_LOAD, None, None, 0),  # seccomp_data.nr
    ]
    if refuse_x32:
        program.append((_JGE, "eperm", None, _X32_SYSCALL_BIT))
    program += [(_JEQ, "eperm", None, number) for number in forks]
    program += [
        (_JEQ, "enosys", None, clone3),
        (_JEQ, None, "allow", clone),
        (_LOAD, None, None, 16),  # the low half of seccomp_data.args[0]: clone's flags
        (_JSET, "allow", "eperm", _CLONE_THREAD),
    ]
    returns = {
        "allow": _ALLOW,
        "eperm": _ERRNO | 1,
        "enosys": _ERRNO | 38,
        "kill": _KILL_PROCESS,
    }
    labels = {label: len(program) + index for index, label in enumerate(returns)}
    encoded = bytearray()
    for index, (code, when_true, when_false, k) in enumerate(program):
        jump_true = labels[when_true] - index - 1 if when_true else 0
        jump_false = labels[when_false] - index - 1 if when_false else 0
        encoded += struct.pack("=HBBI", code, jump_true, jump_false, k)
    for value in returns.values():
        encoded += struct.pack("=HBBI", _RETURN, 0, 0, value)
    return bytes(encoded)


def _argv(sandbox: _Sandbox, *, seccomp_fd: int) -> list[str]:
    return [
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
        "--",
        sandbox.prlimit,
        f"--cpu={CPU_SECONDS}",
        f"--as={MEMORY_BYTES}",
        f"--nproc={MAX_PROCESSES}",
        f"--fsize={SCRATCH_BYTES}",
        f"--nofile={MAX_OPEN_FILES}",
        "--core=0",
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
    until the process ends, a limit is passed, or the deadline comes."""
    started = time.monotonic()
    drop = {}
    if sandbox.drop_to_uid is not None:
        drop = {"user": sandbox.drop_to_uid, "group": sandbox.drop_to_uid, "extra_groups": []}
    seccomp_read, seccomp_write = os.pipe()
    try:
        try:
            os.write(seccomp_write, sandbox.seccomp)  # a few hundred bytes: the pipe holds them
        finally:
            os.close(seccomp_write)
        process = subprocess.Popen(
            _argv(sandbox, seccomp_fd=seccomp_read),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(seccomp_read,),
            env={},
            cwd="/",
            start_new_session=True,
            **drop,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxUnavailable(SANDBOX_WONT_START.format(detail=error)) from error
    finally:
        os.close(seccomp_read)

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
                if not chunk:
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
        if process.poll() is None:
            # bwrap's pid 1 dies with it (--die-with-parent), and every process of the sandbox's
            # pid namespace with that.
            process.kill()
        process.wait()
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


# The probe proves the limits hold: no fork, and the thread limit really enforced (the kernel
# exempts root, so a sandbox started as root would count 64 threads).
PROBE_CODE = """
import os, platform, resource, socket, threading
try:
    if os.fork() == 0:
        os._exit(0)
    fork = "forked"
except PermissionError:
    fork = "no-fork"
except OSError as error:
    fork = f"fork-failed-{error.errno}"
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
interfaces = sorted(name for _, name in socket.if_nameindex())
print(os.getuid(), *limits, fork, threads < 16, os.getcwd(), *interfaces, platform.python_version())
"""
PROBE_EXPECTED = f"{SANDBOX_UID} {CPU_SECONDS} {MEMORY_BYTES} {MAX_PROCESSES} no-fork True {SCRATCH_DIR} lo "

_verified: dict[_Sandbox, str] = {}
_verified_lock = threading.Lock()


def _sandbox_ready() -> tuple[_Sandbox, str]:
    """The sandbox and its description, probed once per process and configuration."""
    sandbox = _sandbox_resolve()
    with _verified_lock:
        if sandbox in _verified:
            return sandbox, _verified[sandbox]
        probe = _execute(sandbox, PROBE_CODE.encode())
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
