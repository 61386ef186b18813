"""Tests for challengeapp.quality.sandbox. Every snippet here really runs in bubblewrap: nothing
about the sandbox is mocked.

Without a working sandbox the tests that need one (the `sandbox` fixture, tests/fakes/machine.py)
are skipped, saying why; with REQUIRE_SANDBOX=1 (as .ci/run sets) that is a failure instead. The
fail-closed tests run everywhere: each builds the situation it checks (a bubblewrap or an
interpreter that is not there, a fake bwrap) rather than relying on what this machine has.

The built-in bank's "what does this print?" entries are recognised by their question: a Python
snippet whose question asks what it prints ("What does this code print?", "What does it print?",
"What does this code actually print?", "In what order are the lines printed?"), and not what it
prints *and* something else ("What does it print, and what does it imply?"). Their marked option
must be what the sandbox prints; a multi-line output may be written on one line with its lines
joined by ", " or " then ". Entries asking "What happens when this code runs?" whose key is an
exception line ("TypeError: …") must crash with exactly that line.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import random
import re
import signal
import socket
import stat
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks import run_checks

from challengeapp.checks import (
    SANDBOX_LANGUAGE_UNAVAILABLE_ID,
    SANDBOX_OFF_ID,
    SANDBOX_UNAVAILABLE_ID,
    sandbox_check,
)
from challengeapp.content.bank.loader import bank_entries
from challengeapp.content.bank.procedural import GENERATORS, option_key
from challengeapp.quality import sandbox as sandbox_module
from challengeapp.quality.sandbox import (
    BWRAP_MISSING,
    CPU_SECONDS,
    MAX_OPEN_FILES,
    MAX_PROCESSES,
    MEMORY_BYTES,
    NODE_MEMORY_BYTES,
    NODE_MISSING,
    SANDBOX_OFF,
    SCRATCH_BYTES,
    SCRATCH_DIR,
    STDOUT_LIMIT_BYTES,
    SandboxUnavailable,
    SnippetOutcome,
    sandbox_available,
    sandbox_language_available,
    sandbox_language_problem,
    sandbox_language_versions,
    sandbox_python_version,
    snippet_run,
)
from challengeapp.tests.fakes.machine import unavailable

PROCEDURAL_SEEDS = range(12)


@pytest.fixture
def shared_dir():
    """A directory on the host that anyone may write to: had a snippet escaped, it could write here
    whatever uid it ran as."""
    path = Path(tempfile.mkdtemp(prefix="codedrill-sandbox-"))
    path.chmod(0o777)
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


@pytest.fixture
def node(sandbox) -> None:
    """A proven sandbox that also runs JavaScript, or the test is skipped (failed under
    REQUIRE_SANDBOX=1) with the reason."""
    problem = sandbox_language_problem("javascript")
    if problem:
        unavailable(
            "REQUIRE_SANDBOX", f"NO NODE.JS IN THE SANDBOX: {problem} (sudo apt-get install -y nodejs)"
        )


@pytest.fixture
def sqlite(sandbox) -> None:
    """A proven sandbox that also runs SQL, or the test is skipped (failed under REQUIRE_SANDBOX=1)."""
    problem = sandbox_language_problem("sql")
    if problem:
        unavailable("REQUIRE_SANDBOX", f"NO SQLITE IN THE SANDBOX: {problem}")


def lines(run) -> list[str]:
    return run.stdout.splitlines()


def last_line(run) -> str:
    return run.stderr_tail.splitlines()[-1] if run.stderr_tail else ""


def js(code: str):
    return snippet_run(code=code, language="javascript")


def sql(code: str):
    return snippet_run(code=code, language="sql")


# --- What a snippet prints, and how it ends --------------------------------------------------------


def test_a_snippet_that_prints_four_is_ok_with_output_four(sandbox):
    run = snippet_run(code="print(2 + 2)")

    assert run.outcome is SnippetOutcome.OK
    assert run.ok
    assert run.stdout == "4"
    assert run.exit_code == 0


def test_trailing_whitespace_is_stripped_and_leading_whitespace_kept(sandbox):
    run = snippet_run(code='print("  a")\nprint("b  ")\nprint()\nprint()')

    assert run.stdout == "  a\nb"


def test_the_language_may_be_spelled_python3(sandbox):
    assert snippet_run(code="print('hi')", language="Python3").stdout == "hi"


def test_a_crash_is_crashed_with_the_end_of_its_traceback(sandbox):
    run = snippet_run(code="print('before')\n1 / 0")

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.exit_code == 1
    assert run.stdout == "before"
    assert run.stderr_tail.splitlines()[-1] == "ZeroDivisionError: division by zero"


def test_a_non_zero_exit_is_crashed(sandbox):
    run = snippet_run(code="import sys\nsys.exit(3)")

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.exit_code == 3


def test_an_endless_loop_times_out(sandbox):
    run = snippet_run(code="while True:\n    pass")

    assert run.outcome is SnippetOutcome.TIMED_OUT


def test_sleeping_past_the_deadline_times_out(sandbox):
    # The CPU limit cannot see a sleep: the wall-clock deadline ends it.
    run = snippet_run(code="import time\nprint('going to sleep', flush=True)\ntime.sleep(60)\nprint('woke')")

    assert run.outcome is SnippetOutcome.TIMED_OUT
    assert run.stdout == "going to sleep"


def test_allocating_two_gigabytes_is_out_of_memory(sandbox):
    run = snippet_run(code="block = bytearray(2 * 1024**3)\nprint(len(block))")

    assert run.outcome is SnippetOutcome.OUT_OF_MEMORY
    assert run.stdout == ""


def test_the_memory_limit_holds_for_all_threads_together(sandbox):
    code = (
        "import threading\n"
        "blocks = []\n"
        "def grab():\n"
        "    blocks.append(bytearray(300 * 1024**2))\n"
        "threads = [threading.Thread(target=grab) for _ in range(2)]\n"
        "for thread in threads:\n"
        "    thread.start()\n"
        "for thread in threads:\n"
        "    thread.join()\n"
        "print(len(blocks))"
    )

    run = snippet_run(code=code)

    # One thread's 300 MB fits, the second's does not: its MemoryError ends that thread only.
    assert run.stdout == "1"
    assert "MemoryError" in run.stderr_tail


def test_growing_a_list_until_memory_runs_out_is_out_of_memory(sandbox):
    run = snippet_run(code="chunks = []\nwhile True:\n    chunks.append(' ' * 10**7)")

    assert run.outcome is SnippetOutcome.OUT_OF_MEMORY


def test_printing_ten_megabytes_is_output_too_large(sandbox):
    run = snippet_run(code="print('x' * 10_000_000)")

    assert run.outcome is SnippetOutcome.OUTPUT_TOO_LARGE
    assert len(run.stdout) <= STDOUT_LIMIT_BYTES


def test_flooding_stderr_is_output_too_large(sandbox):
    run = snippet_run(code="import sys\nwhile True:\n    sys.stderr.write('e' * 65536)")

    assert run.outcome is SnippetOutcome.OUTPUT_TOO_LARGE


# --- Processes -----------------------------------------------------------------------------------

COUNT_THREADS = """
import threading
release = threading.Event()
threads = 0
try:
    while threads < 200:
        threading.Thread(target=release.wait).start()
        threads += 1
except RuntimeError as error:
    print(threads, error)
release.set()
"""


def test_a_fork_bomb_is_stopped_at_its_first_fork(sandbox):
    run = snippet_run(code="import os\nprint('bomb')\nwhile True:\n    os.fork()")

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.stdout == "bomb"
    assert run.stderr_tail.endswith("PermissionError: [Errno 1] Operation not permitted")


@pytest.mark.parametrize(
    "code",
    [
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'print(1)'])",
        "import os, sys\nos.posix_spawn(sys.executable, [sys.executable, '-c', 'print(1)'], {})",
        "import multiprocessing\nprint(multiprocessing.get_context('fork').Pool(2).map(abs, [-1]))",
    ],
    ids=["subprocess", "posix_spawn", "multiprocessing"],
)
def test_a_snippet_cannot_start_another_process(sandbox, code):
    run = snippet_run(code=code)

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.stdout == ""


def test_threads_work_up_to_a_small_bound(sandbox):
    ordinary = snippet_run(
        code="from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor(max_workers=8) as pool:\n"
        "    print(sum(pool.map(lambda n: n * n, range(100))))"
    )
    greedy = snippet_run(code=COUNT_THREADS)

    assert ordinary.stdout == "328350"
    threads, error = greedy.stdout.split(" ", 1)
    assert 8 <= int(threads) < MAX_PROCESSES
    assert error == "can't start new thread"


def test_each_sandbox_has_its_own_thread_budget(sandbox):
    # The limit is counted per sandbox, not per uid: sandboxes running at once do not starve
    # each other, and none of them gets more.
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = list(pool.map(lambda _: snippet_run(code=COUNT_THREADS), range(3)))

    counts = {run.stdout for run in runs}
    assert len(counts) == 1, counts
    assert int(counts.pop().split()[0]) < MAX_PROCESSES


def test_the_snippet_sees_only_its_own_processes_as_an_unprivileged_user(sandbox):
    run = snippet_run(
        code="import os\nprint(os.getuid(), os.getgid())\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    )

    uid_line, pids_line = lines(run)
    assert uid_line == "65534 65534"
    # The snippet alone, as pid 1: there is no init of bubblewrap's to attach to or hide in.
    assert ast.literal_eval(pids_line) == [1]


# --- Every process of a run: its limits, its refused calls, nothing left behind ------------------

# Written out here, not taken from the module, so that a wrong number there fails here
# (x86_64: arch/x86/entry/syscalls/syscall_64.tbl; aarch64: include/uapi/asm-generic/unistd.h).
SYSCALL_NUMBERS = {
    "x86_64": {
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
    "aarch64": {
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
# Arguments that do nothing harmful were the call to reach the kernel, and that it would answer with
# something other than ENOSYS: attaching to pid 1, reading and writing the snippet's own memory,
# bad descriptors and null pointers, the session keyring's id, a user-mode-only userfaultfd.
REFUSED_CALL_ARGUMENTS = {
    "ptrace": "16, 1, 0, 0",  # PTRACE_ATTACH to pid 1
    "process_vm_readv": "os.getpid(), iovec, 1, iovec, 1, 0",
    "process_vm_writev": "os.getpid(), iovec, 1, iovec, 1, 0",
    "kcmp": "os.getpid(), os.getpid(), 1, 0, 0",  # KCMP_VM
    "pidfd_getfd": "-1, 0, 0",
    "process_madvise": "-1, 0, 0, 0, 0",
    "io_uring_setup": "1, 0",
    "io_uring_enter": "-1, 0, 0, 0, 0, 0",
    "io_uring_register": "-1, 0, 0, 0",
    "perf_event_open": "0, 0, -1, -1, 0",
    "bpf": "0, 0, 0",  # BPF_MAP_CREATE
    "add_key": "0, 0, 0, 0, 0",
    "request_key": "0, 0, 0, 0",
    "keyctl": "0, -3, 0",  # KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING
    "userfaultfd": "1",  # UFFD_USER_MODE_ONLY
}

CALL = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
buffer = ctypes.create_string_buffer(16)
vector = (ctypes.c_size_t * 2)(ctypes.addressof(buffer), 16)  # struct iovec
iovec = ctypes.addressof(vector)
result = libc.syscall(*(ctypes.c_long(argument) for argument in ({number}, {arguments})))
print(result, errno.errorcode.get(ctypes.get_errno(), "?") if result == -1 else "")
"""


def machine_numbers() -> dict[str, int]:
    machine = os.uname().machine
    if machine not in SYSCALL_NUMBERS:
        pytest.skip(f"no system call numbers for {machine} here")
    return SYSCALL_NUMBERS[machine]


@pytest.mark.parametrize("machine", sorted(SYSCALL_NUMBERS))
def test_the_filter_refuses_each_call_by_its_number_on_both_machines(machine):
    # Runs on either machine, so a wrong number for the other one is caught too.
    assert set(REFUSED_CALL_ARGUMENTS) == sandbox_module.REFUSED_CALLS
    assert {name: sandbox_module._SYSCALLS[machine][name] for name in sandbox_module.REFUSED_CALLS} == (
        SYSCALL_NUMBERS[machine]
    )


@pytest.mark.parametrize("call", sorted(REFUSED_CALL_ARGUMENTS))
def test_a_call_that_reaches_into_other_processes_or_the_kernel_is_refused(sandbox, call):
    # ENOSYS, "no such call", is the filter's answer: the kernel itself never gives it for these calls
    # (a sysctl that forbids one, such as kernel.unprivileged_bpf_disabled, answers EPERM), so it
    # proves the filter, not this machine's settings, refused them.
    run = snippet_run(
        code=CALL.format(number=machine_numbers()[call], arguments=REFUSED_CALL_ARGUMENTS[call])
    )

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    assert run.stdout == "-1 ENOSYS"


SOCKETS = """
import errno, socket
for family, kind in [("AF_NETLINK", "SOCK_RAW"), ("AF_NETLINK", "SOCK_DGRAM"), ("AF_PACKET", "SOCK_RAW"),
                     ("AF_PACKET", "SOCK_DGRAM"), ("AF_ALG", "SOCK_SEQPACKET"), ("AF_UNIX", "SOCK_STREAM"),
                     ("AF_INET", "SOCK_STREAM"), ("AF_INET6", "SOCK_DGRAM")]:
    try:
        socket.socket(getattr(socket, family), getattr(socket, kind)).close()
        print(family, "made")
    except OSError as error:
        print(family, errno.errorcode[error.errno])
"""


def test_only_unix_and_internet_sockets_can_be_made(sandbox):
    run = snippet_run(code=SOCKETS)

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    assert lines(run) == [
        "AF_NETLINK EAFNOSUPPORT",
        "AF_NETLINK EAFNOSUPPORT",
        "AF_PACKET EAFNOSUPPORT",
        "AF_PACKET EAFNOSUPPORT",
        "AF_ALG EAFNOSUPPORT",
        "AF_UNIX made",
        "AF_INET made",
        "AF_INET6 made",
    ]


def test_the_snippet_cannot_clear_its_parent_death_signal(sandbox):
    # Killed with bubblewrap, so with the web process: a snippet that cleared this would outlive both.
    code = (
        "import ctypes, errno\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "result = libc.prctl(1, 0, 0, 0, 0)\n"  # PR_SET_PDEATHSIG
        "print(result, errno.errorcode.get(ctypes.get_errno()) if result else '')\n"
        "signal = ctypes.c_int()\n"
        "libc.prctl(2, ctypes.byref(signal), 0, 0, 0)\n"  # PR_GET_PDEATHSIG
        "print(signal.value)"
    )

    run = snippet_run(code=code)

    assert lines(run) == ["-1 EPERM", "9"]


def processes_in_pid_namespace(namespace: str) -> list[int]:
    """Host pids of the processes whose pid namespace is `namespace` ("pid:[4026532178]")."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                    found.append(int(entry))
            except OSError:
                pass  # gone meanwhile
    return found


def describe(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return f"{pid} (gone)"
    fields = {name: value.strip() for name, value in (line.split(":", 1) for line in status.splitlines())}
    # A zombie has no memory to show.
    return f"{pid} {fields['Name']} {fields['State']} VmRSS {fields.get('VmRSS', '-')}"


# The attack of issue 21: attach to pid 1 of the sandbox (bubblewrap's init, when there is one),
# make it run code that clears its parent-death signal, maps 1 GiB, touches it and waits for ever;
# then map 1 GiB itself. x86_64 code: prctl(PR_SET_PDEATHSIG, 0); mmap(NULL, 1 GiB, read|write,
# private|anonymous|populate, -1, 0); for (;;) pause();
ATTACK_PID_1 = """
import ctypes, errno, mmap, os
print(os.readlink("/proc/self/ns/pid"), flush=True)
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_POKETEXT, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_ATTACH, PTRACE_DETACH = 4, 12, 13, 16, 17
CODE = bytes.fromhex(
    "bf01000000 31f6 b89d000000 0f05"
    "31ff be00000040 ba03000000 41ba22800000 49c7c0ffffffff 4531c9 b809000000 0f05"
    "b822000000 0f05 ebf7"
)
CODE += bytes(-len(CODE) % 8)
if libc.ptrace(PTRACE_ATTACH, 1, None, None) != 0:
    print("attach", errno.errorcode.get(ctypes.get_errno()))
else:
    os.waitpid(1, 0x40000000)  # __WALL
    registers = (ctypes.c_ulonglong * 27)()  # struct user_regs_struct
    libc.ptrace(PTRACE_GETREGS, 1, None, registers)
    RIP, ORIG_RAX = 16, 15
    for offset in range(0, len(CODE), 8):
        word = int.from_bytes(CODE[offset : offset + 8], "little")
        libc.ptrace(PTRACE_POKETEXT, 1, registers[RIP] + offset, word)
    registers[ORIG_RAX] = 2**64 - 1  # not in a system call: nothing to restart
    libc.ptrace(PTRACE_SETREGS, 1, None, registers)
    libc.ptrace(PTRACE_DETACH, 1, None, None)
    print("attach ok", flush=True)
try:
    block = mmap.mmap(-1, 1 << 30)
    print("mapped 1 GiB")
except OSError as error:
    print("map", errno.errorcode[error.errno])
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the injected code is x86_64 code")
def test_attacking_pid_1_leaves_no_process_of_the_run_behind(sandbox):
    leftovers: list[int] = []
    try:
        run = snippet_run(code=ATTACK_PID_1)
        namespace, *attempts = lines(run)
        leftovers = processes_in_pid_namespace(namespace)

        assert [describe(pid) for pid in leftovers] == []
        assert attempts == ["attach ENOSYS", "map ENOMEM"]
    finally:
        for pid in leftovers:  # what the assertion found, ended so as not to burden the machine
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def process_tree(root: int) -> dict[int, str]:
    """The processes descended from `root`, with their start times (to tell a reused pid)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat_fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = (int(stat_fields[1]), stat_fields[19])
    tree = {}
    queue = [root]
    while queue:
        parent = queue.pop()
        for pid, (ppid, started) in parents.items():
            if ppid == parent and pid not in tree:
                tree[pid] = started
                queue.append(pid)
    return tree


def still_running(tree: dict[int, str]) -> list[int]:
    alive = []
    for pid, started in tree.items():
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19] == started:
                alive.append(pid)
        except OSError:
            pass
    return alive


def hard_limits(pid: int) -> dict[str, str]:
    limits = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        name, values = line[:26].strip(), line[26:].split()
        limits[name] = values[1]  # the hard limit: the soft one may only be lowered inside
    return limits


ENDLESS_SQL = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "import time\ntime.sleep(1.5)"),
        ("python", "import time\ntime.sleep(60)"),
        ("python", "import time\ntime.sleep(1.5)\nprint('x' * 100_000, flush=True)\ntime.sleep(60)"),
        ("javascript", "setTimeout(() => {}, 1500)"),
        ("javascript", "setInterval(() => {}, 1000)"),
        (
            "javascript",
            'setTimeout(() => console.log("x".repeat(100_000)), 1500)\nsetInterval(() => {}, 1000)',
        ),
        ("sql", ENDLESS_SQL),
    ],
    ids=[
        "ends-by-itself",
        "killed-at-the-deadline",
        "killed-for-its-output",
        "javascript-ends-by-itself",
        "javascript-killed-at-the-deadline",
        "javascript-killed-for-its-output",
        "sql-killed-at-the-cpu-limit",
    ],
)
def test_every_process_of_a_run_has_its_limits_and_none_outlives_it(sandbox, request, language, code):
    if language == "javascript":
        request.getfixturevalue("node")
    before = set(process_tree(os.getpid()))
    executable = settings.SANDBOX_NODE if language == "javascript" else settings.SANDBOX_PYTHON
    interpreter = os.path.realpath(executable).encode() + b"\0"
    memory = NODE_MEMORY_BYTES if language == "javascript" else MEMORY_BYTES
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(snippet_run, code=code, language=language)
        deadline = time.monotonic() + 4
        tree: dict[int, str] = {}
        while time.monotonic() < deadline:
            tree = {pid: started for pid, started in process_tree(os.getpid()).items() if pid not in before}
            # Every process of the run is there once the snippet's interpreter is.
            if any(Path(f"/proc/{pid}/cmdline").read_bytes().startswith(interpreter) for pid in tree):
                break
            time.sleep(0.05)
        limits = {pid: hard_limits(pid) for pid in tree}
        run = running.result()

    assert len(tree) >= 2  # bubblewrap, outside the sandbox, and the sandbox's pid 1
    for pid, limit in limits.items():
        assert limit["Max cpu time"] == str(CPU_SECONDS), (pid, limit)
        assert limit["Max address space"] == str(memory), (pid, limit)
        assert limit["Max file size"] == str(SCRATCH_BYTES), (pid, limit)
        assert limit["Max open files"] == str(MAX_OPEN_FILES), (pid, limit)
    assert still_running(tree) == []
    assert run.outcome in (SnippetOutcome.OK, SnippetOutcome.TIMED_OUT, SnippetOutcome.OUTPUT_TOO_LARGE)


def test_the_probe_checks_the_refusals_it_relies_on(sandbox, monkeypatch):
    # A filter that forgets one call: the probe notices, and nothing runs.
    refused_filter = sandbox_module._seccomp_filter
    monkeypatch.setattr(
        sandbox_module,
        "_seccomp_filter",
        lambda machine: refused_filter(machine, refused=sandbox_module.REFUSED_CALLS - {"ptrace"}),
    )

    assert sandbox_available()[0] is False
    with pytest.raises(SandboxUnavailable, match="do not hold"):
        snippet_run(code="print('ran')")


# --- Files ---------------------------------------------------------------------------------------

TRY_WRITES = """
import sys
for path in sys.argv_paths:
    try:
        with open(path, "ab") as handle:
            handle.write(b"pwned")
        print("wrote", path)
    except OSError as error:
        print("refused", type(error).__name__)
with open("note.txt", "w") as handle:
    handle.write("kept in scratch")
print(open("{scratch}/note.txt").read())
"""


def test_writes_outside_the_scratch_directory_achieve_nothing_and_inside_it_work(sandbox, shared_dir):
    database = Path(settings.BASE_DIR) / "db.sqlite3"
    before = database.stat() if database.exists() else None
    name = f"pwned-{uuid.uuid4().hex}"
    targets = [
        shared_dir / name,
        Path("/tmp") / name,
        Path(settings.BASE_DIR) / name,
        Path(settings.BASE_DIR) / "challengeapp" / name,
        database,
        Path("/") / name,
        Path("/usr/lib") / name,
        Path("/dev/shm") / name,
    ]
    code = TRY_WRITES.replace("sys.argv_paths", repr([str(path) for path in targets])).replace(
        "{scratch}", SCRATCH_DIR
    )

    run = snippet_run(code=code)

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    *attempts, scratch = lines(run)
    assert len(attempts) == len(targets)
    assert all(line.startswith("refused ") for line in attempts), attempts
    assert scratch == "kept in scratch"
    for path in targets[:4] + targets[5:]:
        assert not path.exists(), path
    if before is not None:
        after = database.stat()
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_the_scratch_directory_is_empty_at_start_and_not_shared_between_runs(sandbox):
    first = snippet_run(code="import os\nprint(os.listdir('.'))\nopen('left-behind', 'w').write('x')")
    second = snippet_run(code="import os\nprint(os.listdir('.'))")

    assert first.stdout == "[]"
    assert second.stdout == "[]"


@pytest.mark.parametrize(
    ("files", "size", "error"),
    [(1, SCRATCH_BYTES + 1, "File too large"), (2, SCRATCH_BYTES // 2 + 1024, "No space left on device")],
    ids=["one-file-over-the-limit", "files-filling-the-scratch-directory"],
)
def test_the_scratch_directory_is_small(sandbox, files, size, error):
    code = f"for n in range({files}):\n    with open(f'big{{n}}', 'wb') as handle:\n        handle.write(b'x' * {size})"

    run = snippet_run(code=code)

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.stderr_tail.endswith(error)


READ_SECRETS = """
import ast
import os
for path in {paths!r}:
    try:
        with open(path, "rb") as handle:
            print("read", path, len(handle.read()))
    except OSError as error:
        print("refused", type(error).__name__)
for directory in ["/etc", "/home", "/root", "/work", {base_dir!r}]:
    print("listed" if os.path.isdir(directory) else "absent", directory)
"""


def test_the_host_s_secrets_and_the_project_s_files_cannot_be_read(sandbox):
    base_dir = str(settings.BASE_DIR)
    paths = [
        "/etc/shadow",
        "/etc/passwd",
        os.path.join(base_dir, "config", "settings.py"),
        os.path.join(base_dir, "db.sqlite3"),
        os.path.join(base_dir, "var", "dev-signing-key.pem"),
        str(settings.DEV_SIGNING_KEY_PATH),
    ]

    run = snippet_run(code=READ_SECRETS.format(paths=paths, base_dir=base_dir))

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    reads, listings = lines(run)[: len(paths)], lines(run)[len(paths) :]
    assert all(line.startswith("refused ") for line in reads), reads
    assert all(line.startswith("absent ") for line in listings), listings


def test_the_web_process_s_environment_is_not_visible(sandbox, monkeypatch):
    secret = f"sandbox-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("SECRET_KEY", secret)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    code = (
        "import os\n"
        "print(sorted(os.environ))\n"
        "for pid in ('self', '1'):\n"
        "    print(open(f'/proc/{pid}/environ', 'rb').read())\n"
    )

    run = snippet_run(code=code)

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    assert secret not in run.stdout + run.stderr_tail
    assert set(ast.literal_eval(lines(run)[0])) <= {"PATH", "HOME", "LANG", "PWD"}


# --- Network -------------------------------------------------------------------------------------


CONNECT = """
import socket
for address in [("127.0.0.1", {port}), ("localhost", {port}), ("10.0.2.2", 80), ("example.com", 80)]:
    try:
        socket.create_connection(address, timeout=1).close()
        print("connected", address)
    except OSError as error:
        print("refused", type(error).__name__)
# /proc/net/dev, since the interfaces' usual source, a netlink socket, is refused.
print(sorted(line.split(':')[0].strip() for line in open('/proc/net/dev').readlines()[2:]))
"""


def test_a_connection_to_a_server_on_the_host_s_loopback_never_arrives(sandbox):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    port = server.getsockname()[1]
    code = CONNECT.format(port=port)
    try:
        run = snippet_run(code=code)

        # The listen backlog completes a TCP handshake without accept(): a connection that had
        # arrived would be waiting here.
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    *attempts, interfaces = lines(run)
    assert all(line.startswith("refused ") for line in attempts), attempts
    assert interfaces == "['lo']"


# --- Fail closed ---------------------------------------------------------------------------------


def marker_snippet(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('the snippet ran')\nprint('ran')"


def test_without_bubblewrap_nothing_runs_and_the_system_check_says_why(settings, shared_dir):
    settings.SANDBOX_BWRAP = "/nonexistent/bwrap"
    marker = shared_dir / "ran"

    with pytest.raises(SandboxUnavailable) as raised:
        snippet_run(code=marker_snippet(marker))

    assert not marker.exists()
    assert str(raised.value) == BWRAP_MISSING.format(path="/nonexistent/bwrap")
    assert sandbox_available() == (False, str(raised.value))
    [warning] = sandbox_check(None)
    assert warning.id == SANDBOX_UNAVAILABLE_ID
    assert "/nonexistent/bwrap" in warning.msg
    assert SANDBOX_UNAVAILABLE_ID in [message.id for message in run_checks()]


def test_turned_off_nothing_runs_and_the_check_says_so_without_a_warning(settings, shared_dir):
    settings.SANDBOX = "off"
    marker = shared_dir / "ran"

    with pytest.raises(SandboxUnavailable, match=re.escape(SANDBOX_OFF)):
        snippet_run(code=marker_snippet(marker))

    assert not marker.exists()
    assert sandbox_available() == (False, SANDBOX_OFF)
    [info] = sandbox_check(None)
    assert info.id == SANDBOX_OFF_ID
    assert not info.is_serious()


def test_a_missing_interpreter_makes_the_sandbox_unavailable(settings, shared_dir):
    # A bubblewrap that is present (whether or not this machine has one), so that the interpreter is
    # what is missing; had anything been started, it would have left the marker.
    settings.SANDBOX_BWRAP = str(fake_bwrap(shared_dir, f"touch {shared_dir / 'ran'}\n"))
    settings.SANDBOX_PYTHON = "/nonexistent/python3.11"

    with pytest.raises(SandboxUnavailable, match="SANDBOX_PYTHON"):
        snippet_run(code=marker_snippet(shared_dir / "ran"))

    assert not (shared_dir / "ran").exists()


def fake_bwrap(directory: Path, body: str) -> Path:
    path = directory / "bwrap"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return path


def test_a_bubblewrap_that_cannot_create_namespaces_runs_nothing(settings, shared_dir):
    # What bubblewrap says in a container whose seccomp profile forbids user namespaces.
    message = "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces."
    settings.SANDBOX_BWRAP = str(fake_bwrap(shared_dir, f"echo '{message}' >&2\nexit 1\n"))
    marker = shared_dir / "ran"

    with pytest.raises(SandboxUnavailable, match="No permissions to creating new namespace"):
        snippet_run(code=marker_snippet(marker))

    assert not marker.exists()
    [warning] = sandbox_check(None)
    assert "No permissions to creating new namespace" in warning.msg


def test_a_bubblewrap_that_isolates_nothing_is_caught_by_the_probe_and_runs_nothing(settings, shared_dir):
    # A "bwrap" that skips its own options and runs the command unconfined: the probe that runs
    # before any snippet sees that it is not in a sandbox.
    settings.SANDBOX_BWRAP = str(
        fake_bwrap(shared_dir, 'while [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n')
    )
    marker = shared_dir / "ran"

    with pytest.raises(SandboxUnavailable, match="do not hold"):
        snippet_run(code=marker_snippet(marker))

    assert not marker.exists()


@pytest.mark.parametrize("language", ["ruby", "postgresql", "typescript", ""])
def test_another_language_is_refused_without_running(sandbox, shared_dir, language):
    with pytest.raises(ValueError, match="Only Python, JavaScript and SQL"):
        snippet_run(code=marker_snippet(shared_dir / "ran"), language=language)

    assert not (shared_dir / "ran").exists()


def test_the_system_check_is_quiet_when_the_sandbox_works(sandbox):
    assert sandbox_check(None) == []


# --- JavaScript (Node.js) ------------------------------------------------------------------------


def test_a_javascript_snippet_s_output_is_captured(node):
    run = js(
        'console.log("  a");\nconsole.log([1, 2].map((n) => n * 2));\nprocess.stdout.write("b  \\n\\n");'
    )

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    assert run.stdout == "  a\n[ 2, 4 ]\nb"
    assert run.exit_code == 0


@pytest.mark.parametrize("language", ["javascript", "JavaScript", "js", "node"])
def test_the_language_may_be_spelled_js_or_node(node, language):
    assert snippet_run(code="console.log(6 * 7)", language=language).stdout == "42"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("let o;\nconsole.log(o.x);", "TypeError: Cannot read properties of undefined (reading 'x')"),
        ('throw new RangeError("bad size");', "RangeError: bad size"),
        ('Promise.reject(new Error("nope"));', "Error: nope"),
        (
            "async function f() {\n  await null;\n  null.y;\n}\nf();",
            "TypeError: Cannot read properties of null (reading 'y')",
        ),
        ('setTimeout(() => {\n  throw new Error("later");\n}, 10);', "Error: later"),
        (
            'class MyErr extends Error {\n  constructor(message) {\n    super(message);\n    this.name = "MyErr";\n  }\n}\n'
            'throw new MyErr("x");',
            "MyErr: x",
        ),
    ],
    ids=["type-error", "range-error", "unhandled-rejection", "async-function", "in-a-timer", "own-name"],
)
def test_an_uncaught_javascript_exception_is_the_last_line_of_stderr(node, code, error):
    run = js('console.log("before");\n' + code)

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.exit_code == 1
    assert run.stdout == "before"
    assert last_line(run) == error


def test_a_javascript_syntax_error_is_the_last_line_of_stderr(node):
    run = js('console.log("never");\nlet x = ;')

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.stdout == ""
    assert last_line(run) == "SyntaxError: Unexpected token ';'"


def test_everything_printed_before_a_javascript_crash_is_kept(node):
    # Close to the output limit, and the crash right after the last line.
    run = js('console.log("y".repeat(60000));\nconsole.log("z".repeat(3000));\nconsole.log("end");\nnull.x;')

    assert run.outcome is SnippetOutcome.CRASHED
    assert lines(run) == ["y" * 60000, "z" * 3000, "end"]


def test_a_javascript_snippet_that_handles_its_uncaught_exceptions_keeps_doing_so(node):
    run = js(
        'process.on("uncaughtException", (error) => console.log("handled", error.message));\nthrow new Error("q");'
    )

    assert run.outcome is SnippetOutcome.OK
    assert run.stdout == "handled q"


def test_a_javascript_exit_status_is_kept(node):
    run = js('console.log("bye");\nprocess.exit(3);')

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.exit_code == 3
    assert run.stdout == "bye"


def test_an_endless_javascript_loop_times_out(node):
    assert js("while (true) {}").outcome is SnippetOutcome.TIMED_OUT


@pytest.mark.parametrize(
    "code",
    [
        'console.log("waiting");\nsetInterval(() => {}, 1000);',
        'console.log("waiting");\nnew Promise((resolve) => setTimeout(resolve, 60_000)).then(() => console.log("woke"));',
    ],
    ids=["interval", "promise-resolved-by-a-late-timer"],
)
def test_a_javascript_timer_that_keeps_it_running_times_out(node, code):
    # The CPU limit cannot see a wait: the wall-clock deadline ends it.
    run = js(code)

    assert run.outcome is SnippetOutcome.TIMED_OUT
    assert run.stdout == "waiting"


@pytest.mark.parametrize(
    "code",
    [
        "const arrays = [];\nwhile (true) arrays.push(new Array(1e6).fill(1.5));",
        "const buffers = [];\nwhile (true) buffers.push(Buffer.alloc(1e7));",
    ],
    ids=["javascript-heap", "array-buffers"],
)
def test_a_javascript_memory_bomb_is_out_of_memory(node, code):
    run = js(code)

    assert run.outcome is SnippetOutcome.OUT_OF_MEMORY
    assert run.stdout == ""


def test_javascript_printing_ten_megabytes_is_output_too_large(node):
    run = js('console.log("x".repeat(10_000_000));')

    assert run.outcome is SnippetOutcome.OUTPUT_TOO_LARGE
    assert len(run.stdout) <= STDOUT_LIMIT_BYTES


def test_javascript_flooding_stderr_is_output_too_large(node):
    assert (
        js('while (true) process.stderr.write("e".repeat(65536));').outcome is SnippetOutcome.OUTPUT_TOO_LARGE
    )


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ('require("child_process").execSync("echo spawned");', "Error: spawnSync /bin/sh EPERM"),
        ('require("child_process").execFileSync(process.execPath, ["-e", "console.log(1)"]);', None),
        ('require("child_process").spawn(process.execPath, ["-e", "console.log(1)"]);', "Error: spawn EPERM"),
        ('require("child_process").fork("/scratch/child.js");', "Error: spawn EPERM"),
        ('require("child_process").exec("echo spawned", (error, out) => console.log(out));', None),
    ],
    ids=["execSync", "execFileSync", "spawn", "fork", "exec"],
)
def test_a_javascript_snippet_cannot_start_another_process(node, code, error):
    run = js(code)

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.stdout == ""
    assert last_line(run).endswith("EPERM")
    if error is not None:
        assert last_line(run) == error


def test_spawnsync_reports_that_spawning_is_refused(node):
    run = js(
        'const result = require("child_process").spawnSync(process.execPath, ["-e", "1"]);\nconsole.log(result.error.code, result.pid);'
    )

    assert run.stdout == "EPERM 0"


WORKERS = """
const { Worker } = require("worker_threads");
const limits = { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 1, codeRangeSizeMb: 2 };
let started = 0;
try {
  while (started < 64) {
    new Worker("", { eval: true, resourceLimits: limits });
    started += 1;
  }
  console.log(started, "none refused");
} catch (error) {
  console.log(started, error.code);
}
process.exit(0);
"""


def test_javascript_threads_are_bounded_too(node):
    # Each worker is a thread (and Node keeps a few of its own): the thread limit stops them.
    run = js(WORKERS)

    started, error = run.stdout.split(" ", 1)
    assert 1 <= int(started) < MAX_PROCESSES
    assert error == "ERR_WORKER_INIT_FAILED"


def test_a_javascript_snippet_sees_only_itself_as_an_unprivileged_user(node):
    run = js(
        'const fs = require("fs");\n'
        "console.log(process.getuid(), process.getgid(), process.pid);\n"
        'console.log(JSON.stringify(fs.readdirSync("/proc").filter((name) => /^\\d+$/.test(name))));'
    )

    assert lines(run) == ["65534 65534 1", '["1"]']


JS_CONNECT = """
const net = require("net");
const attempt = (host, port) =>
  new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1000 });
    socket.on("connect", () => {
      socket.destroy();
      resolve(`connected ${host}`);
    });
    socket.on("timeout", () => {
      socket.destroy();
      resolve("refused timeout");
    });
    socket.on("error", (error) => resolve(`refused ${error.code}`));
  });
(async () => {
  for (const [host, port] of [["127.0.0.1", PORT], ["localhost", PORT], ["10.0.2.2", 80], ["example.com", 80], ["1.1.1.1", 443]]) {
    console.log(await attempt(host, port));
  }
  for (const url of ["http://127.0.0.1:PORT/", "https://example.com/"]) {
    try {
      await fetch(url);
      console.log("fetched", url);
    } catch (error) {
      console.log("refused", String(error));
    }
  }
  const interfaces = require("fs").readFileSync("/proc/net/dev", "utf8").split("\\n").slice(2).filter(Boolean);
  console.log(JSON.stringify(interfaces.map((line) => line.split(":")[0].trim())));
})();
"""


def test_a_javascript_connection_to_the_host_or_the_internet_never_arrives(node):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    try:
        run = js(JS_CONNECT.replace("PORT", str(server.getsockname()[1])))

        # The listen backlog completes a TCP handshake without accept(): a connection that had
        # arrived would be waiting here.
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    *attempts, interfaces = lines(run)
    assert len(attempts) == 7
    assert all(line.startswith("refused ") for line in attempts), attempts
    assert interfaces == '["lo"]'


JS_READ_SECRETS = """
const fs = require("fs");
for (const path of PATHS) {
  try {
    console.log("read", path, fs.readFileSync(path).length);
  } catch (error) {
    console.log("refused", error.code);
  }
}
for (const directory of ["/etc", "/home", "/root", "/work", BASE_DIR]) {
  console.log(fs.existsSync(directory) ? "listed" : "absent", directory);
}
"""


def test_a_javascript_snippet_cannot_read_the_host_s_secrets_or_the_project_s_files(node):
    base_dir = str(settings.BASE_DIR)
    paths = [
        "/etc/shadow",
        "/etc/passwd",
        "/root/.bashrc",
        os.path.join(base_dir, "config", "settings.py"),
        os.path.join(base_dir, "db.sqlite3"),
        str(settings.DEV_SIGNING_KEY_PATH),
    ]

    run = js(JS_READ_SECRETS.replace("PATHS", json.dumps(paths)).replace("BASE_DIR", json.dumps(base_dir)))

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    reads, listings = lines(run)[: len(paths)], lines(run)[len(paths) :]
    assert reads == ["refused ENOENT"] * len(paths)
    assert all(line.startswith("absent ") for line in listings), listings


JS_TRY_WRITES = """
const fs = require("fs");
for (const path of PATHS) {
  try {
    fs.appendFileSync(path, "pwned");
    console.log("wrote", path);
  } catch (error) {
    console.log("refused", error.code);
  }
}
fs.writeFileSync("note.txt", "kept in scratch");
console.log(fs.readFileSync("SCRATCH/note.txt", "utf8"));
"""


def test_a_javascript_snippet_writes_nothing_outside_the_scratch_directory(node, shared_dir):
    database = Path(settings.BASE_DIR) / "db.sqlite3"
    before = database.stat() if database.exists() else None
    name = f"pwned-{uuid.uuid4().hex}"
    targets = [
        shared_dir / name,
        Path("/tmp") / name,
        Path(settings.BASE_DIR) / name,
        database,
        Path("/") / name,
        Path("/usr/lib") / name,
        Path("/dev/shm") / name,
    ]
    code = JS_TRY_WRITES.replace("PATHS", json.dumps([str(path) for path in targets])).replace(
        "SCRATCH", SCRATCH_DIR
    )

    run = js(code)

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    *attempts, scratch = lines(run)
    assert len(attempts) == len(targets)
    assert all(line.startswith("refused ") for line in attempts), attempts
    assert scratch == "kept in scratch"
    for path in targets[:3] + targets[4:]:
        assert not path.exists(), path
    if before is not None:
        after = database.stat()
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (
            f'require("fs").writeFileSync("big", Buffer.alloc({SCRATCH_BYTES + 1}));',
            "Error: EFBIG: file too large, write",
        ),
        (
            f'for (const n of [0, 1]) require("fs").writeFileSync(`big${{n}}`, Buffer.alloc({SCRATCH_BYTES // 2 + 1024}));',
            "Error: ENOSPC: no space left on device, write",
        ),
    ],
    ids=["one-file-over-the-limit", "files-filling-the-scratch-directory"],
)
def test_the_scratch_directory_is_small_for_javascript_too(node, code, error):
    run = js(code)

    assert run.outcome is SnippetOutcome.CRASHED
    assert last_line(run) == error


def test_javascript_open_files_are_bounded(node):
    run = js(
        'const fs = require("fs");\nconst opened = [];\n'
        'try {\n  while (true) opened.push(fs.openSync("/proc/self/status", "r"));\n'
        "} catch (error) {\n  console.log(opened.length, error.code);\n}"
    )

    opened, error = run.stdout.split()
    assert 1 <= int(opened) < MAX_OPEN_FILES
    assert error == "EMFILE"


def test_the_web_process_s_environment_is_not_visible_to_javascript(node, monkeypatch):
    secret = f"sandbox-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("SECRET_KEY", secret)
    monkeypatch.setenv("OPENAI_API_KEY", secret)

    run = js(
        'console.log(JSON.stringify(Object.keys(process.env)));\nconsole.log(require("fs").readFileSync("/proc/1/environ", "utf8"));'
    )

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    assert secret not in run.stdout + run.stderr_tail
    assert set(json.loads(lines(run)[0])) <= {"PATH", "HOME", "LANG", "PWD", "MALLOC_ARENA_MAX"}


def test_webassembly_memory_can_be_had_within_the_limits(node):
    run = js("const memory = new WebAssembly.Memory({ initial: 2 });\nconsole.log(memory.buffer.byteLength);")

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    assert run.stdout == "131072"


# --- SQL (SQLite) --------------------------------------------------------------------------------


def test_sql_prints_the_last_result_set_as_json(sqlite):
    run = sql(
        "CREATE TABLE t (id INTEGER, name TEXT, score REAL, data BLOB);\n"
        "INSERT INTO t VALUES (1, 'ada', 9.5, x'00ff'), (2, 'bob', NULL, NULL); SELECT count(*) FROM t;\n"
        "SELECT id, name, score, data FROM t ORDER BY id;\n"
        "UPDATE t SET score = 0;"
    )

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    assert json.loads(run.stdout) == {
        "columns": ["id", "name", "score", "data"],
        "rows": [[1, "ada", 9.5, "00ff"], [2, "bob", None, None]],
    }


@pytest.mark.parametrize("language", ["sql", "SQL", "sqlite"])
def test_the_language_may_be_spelled_sql_or_sqlite(sqlite, language):
    run = snippet_run(code="SELECT 6 * 7 AS answer", language=language)

    assert json.loads(run.stdout) == {"columns": ["answer"], "rows": [[42]]}


def test_sql_statements_end_where_sqlite_says_they_do(sqlite):
    # A semicolon inside a string or a trigger's body does not end a statement; one line may hold
    # several; the last statement needs no semicolon.
    run = sql(
        "SELECT 'a;b' AS s; CREATE TABLE u (n); PRAGMA recursive_triggers = ON;\n"
        "CREATE TRIGGER double AFTER INSERT ON u WHEN NEW.n < 4 BEGIN INSERT INTO u VALUES (NEW.n * 2); END;\n"
        "BEGIN; INSERT INTO u VALUES (1); COMMIT;\n"
        "SELECT n, 'x;y' AS t FROM u ORDER BY n -- the end"
    )

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    assert json.loads(run.stdout) == {"columns": ["n", "t"], "rows": [[1, "x;y"], [2, "x;y"], [4, "x;y"]]}


@pytest.mark.parametrize(
    ("code", "printed"),
    [
        ("CREATE TABLE t (x); INSERT INTO t VALUES (1);", ""),
        ("CREATE TABLE t (x); SELECT x FROM t;", '{"columns": ["x"], "rows": []}'),
        (
            "SELECT 1e999 AS big, -1e999 AS small, 'é' AS text;",
            '{"columns": ["big", "small", "text"], "rows": [["Inf", "-Inf", "é"]]}',
        ),
    ],
    ids=["no-result-set", "empty-result-set", "infinite-reals-and-unicode"],
)
def test_what_sql_prints_is_json_or_nothing(sqlite, code, printed):
    run = sql(code)

    assert run.outcome is SnippetOutcome.OK, run.stderr_tail
    assert run.stdout == printed


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("SELECT x FROM (SELECT 1 AS y);", "sqlite3.OperationalError: no such column: x"),
        ("SELEC 1;", 'sqlite3.OperationalError: near "SELEC": syntax error'),
        (
            "CREATE TABLE t (id PRIMARY KEY); INSERT INTO t VALUES (1); SELECT id FROM t; INSERT INTO t VALUES (1);",
            "sqlite3.IntegrityError: UNIQUE constraint failed: t.id",
        ),
    ],
    ids=["no-such-column", "syntax-error", "constraint"],
)
def test_a_failing_sql_statement_is_crashed_with_the_error_as_python_writes_it(sqlite, code, error):
    run = sql(code)

    assert run.outcome is SnippetOutcome.CRASHED
    assert run.exit_code == 1
    assert run.stdout == ""
    assert last_line(run) == error


@pytest.mark.parametrize(
    "code",
    [
        "SELECT 1; ' + __import__('os').getcwd() + '",
        '""" + __import__("os").getcwd() + """',
        "\\'; import os; print(os.getcwd()) #",
        "'''\nprint('escaped')\n'''",
    ],
    ids=["single-quotes", "triple-double-quotes", "backslash", "triple-single-quotes"],
)
def test_sql_text_is_never_run_as_python(sqlite, code):
    run = sql(code)

    # SQLite's syntax error (which quotes the text, newlines and all), and nothing else happened.
    assert run.outcome is SnippetOutcome.CRASHED
    assert "\nsqlite3.OperationalError: " in run.stderr_tail
    assert run.stdout == ""


def test_sql_can_attach_or_write_no_file_of_the_host_and_load_no_extension(sqlite, shared_dir):
    database = Path(settings.BASE_DIR) / "db.sqlite3"
    before = database.stat() if database.exists() else None
    created = shared_dir / "created.db"
    attempts = [
        f"ATTACH '{database}' AS d; SELECT name FROM d.sqlite_master;",
        "ATTACH '/etc/passwd' AS d; SELECT name FROM d.sqlite_master;",
        f"ATTACH '{created}' AS d; CREATE TABLE d.t (x);",
        f"ATTACH 'file:{created}?mode=rwc' AS d; CREATE TABLE d.t (x);",
        f"CREATE TABLE t (x); VACUUM INTO '{created}';",
        "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libm.so.6');",
    ]

    runs = [sql(code) for code in attempts]
    in_scratch = sql(
        "ATTACH 'scratch.db' AS s; CREATE TABLE s.t (x); INSERT INTO s.t VALUES (7); SELECT x FROM s.t;"
    )

    assert [(run.outcome, last_line(run)) for run in runs] == [
        (SnippetOutcome.CRASHED, f"sqlite3.OperationalError: unable to open database: {database}"),
        (SnippetOutcome.CRASHED, "sqlite3.OperationalError: unable to open database: /etc/passwd"),
        (SnippetOutcome.CRASHED, f"sqlite3.OperationalError: unable to open database: {created}"),
        # Without URI filenames (the default), the URI names a file in the scratch directory,
        # in a directory that is not there.
        (
            SnippetOutcome.CRASHED,
            f"sqlite3.OperationalError: unable to open database: file:{created}?mode=rwc",
        ),
        (SnippetOutcome.CRASHED, f"sqlite3.OperationalError: unable to open database: {created}"),
        (SnippetOutcome.CRASHED, "sqlite3.OperationalError: not authorized"),
    ]
    assert not created.exists()
    if before is not None:
        after = database.stat()
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert json.loads(in_scratch.stdout) == {"columns": ["x"], "rows": [[7]]}


def test_an_endless_sql_query_times_out(sqlite):
    assert sql(ENDLESS_SQL).outcome is SnippetOutcome.TIMED_OUT


def test_an_sql_memory_bomb_is_out_of_memory(sqlite):
    # A gigabyte of zeros joined into one value.
    run = sql(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100)\n"
        "SELECT length(group_concat(zeroblob(10000000))) FROM c;"
    )

    assert run.outcome is SnippetOutcome.OUT_OF_MEMORY


def test_an_sql_result_too_large_to_print_is_output_too_large(sqlite):
    run = sql("SELECT hex(randomblob(100000));")

    assert run.outcome is SnippetOutcome.OUTPUT_TOO_LARGE
    assert len(run.stdout) <= STDOUT_LIMIT_BYTES


# --- Languages and their versions ----------------------------------------------------------------


def test_each_language_s_version_is_the_one_that_runs_it(node, sqlite):
    versions = sandbox_language_versions()
    python = snippet_run(code="import sys\nprint('%d.%d' % sys.version_info[:2])").stdout
    javascript = js("console.log(process.versions.node)").stdout
    sqlite_version = json.loads(sql("SELECT sqlite_version()").stdout)["rows"][0][0]

    assert versions == {
        "python": f"Python {python}",
        "javascript": f"Node.js {javascript}",
        "sql": f"SQLite {sqlite_version}",
    }
    assert versions["python"] == f"Python {sandbox_python_version()}"
    assert all(sandbox_language_available(name) for name in ("python", "py", "JS", "node", "sql", "sqlite"))
    assert not sandbox_language_available("ruby")
    assert sandbox_language_problem("javascript") is None


def test_without_node_javascript_is_refused_and_python_and_sql_still_run(sandbox, settings, shared_dir):
    settings.SANDBOX_NODE = "/nonexistent/node"
    marker = shared_dir / "ran"

    with pytest.raises(SandboxUnavailable) as raised:
        js(f'require("fs").writeFileSync({json.dumps(str(marker))}, "ran");')

    assert not marker.exists()
    assert NODE_MISSING.format(path="/nonexistent/node") in str(raised.value)
    assert snippet_run(code="print('python runs')").stdout == "python runs"
    assert sql("SELECT 'sql runs' AS s").ok
    assert set(sandbox_language_versions()) == {"python", "sql"}
    assert not sandbox_language_available("javascript")
    available, description = sandbox_available()
    assert available
    assert "/nonexistent/node" in description
    [warning] = sandbox_check(None)
    assert warning.id == SANDBOX_LANGUAGE_UNAVAILABLE_ID
    assert "JavaScript" in warning.msg
    assert "/nonexistent/node" in warning.msg


def test_a_node_that_cannot_start_in_the_sandbox_runs_nothing(sandbox, settings, shared_dir):
    # An executable that is no Node: a shell script, whose /bin/sh the sandbox does not have. Had
    # it run unconfined, it would have left the marker.
    fake = shared_dir / "node"
    fake.write_text(f"#!/bin/sh\ntouch {shared_dir / 'ran'}\necho '65534 2 1073741824 16 EPERM true'\n")
    fake.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    settings.SANDBOX_NODE = str(fake)

    with pytest.raises(SandboxUnavailable, match="could not start in the sandbox"):
        js('console.log("ran")')

    assert not (shared_dir / "ran").exists()
    assert snippet_run(code="print('python runs')").stdout == "python runs"
    assert "could not start in the sandbox" in sandbox_language_problem("js")


@pytest.mark.parametrize(
    "change",
    [
        lambda interpreter: dataclasses.replace(interpreter, memory_bytes=2 * NODE_MEMORY_BYTES),
        lambda interpreter: dataclasses.replace(
            interpreter,
            command=tuple(
                part for part in interpreter.command if part not in ("--require", "/codedrill/preload.js")
            ),
        ),
    ],
    ids=["more-address-space", "no-preload"],
)
def test_a_node_run_other_than_the_probe_expects_is_caught_and_runs_nothing(node, monkeypatch, change):
    node_interpreter = sandbox_module._node_interpreter
    monkeypatch.setattr(
        sandbox_module, "_node_interpreter", lambda **kwargs: change(node_interpreter(**kwargs))
    )

    with pytest.raises(SandboxUnavailable, match="do not hold"):
        js('console.log("ran")')

    assert "javascript" not in sandbox_language_versions()
    assert snippet_run(code="print('python runs')").stdout == "python runs"


def test_a_node_that_does_not_know_the_webassembly_option_runs_without_it(node, monkeypatch):
    # As Node 18 (Debian's) refuses --disable-wasm-trap-handler: the probe runs it again without.
    monkeypatch.setattr(sandbox_module, "NODE_WASM_OPTION", "--an-option-no-node-knows")

    assert js("console.log(6 * 7)").stdout == "42"


# --- The built-in bank and the procedural generators ---------------------------------------------

OUTPUT_QUESTION = re.compile(
    r"\b(?:what does\b[^?]*\bprint|in what order are the lines printed)\b[^,?]*\?\s*$", re.IGNORECASE
)
WHAT_HAPPENS_QUESTION = re.compile(r"\bwhat happens when this (?:code|program) runs\b", re.IGNORECASE)
EXCEPTION_LINE = re.compile(r"^[A-Z]\w*(?:Error|Exception)(?:: .*)?$")


def renderings(stdout: str) -> set[str]:
    output_lines = stdout.splitlines()
    if len(output_lines) <= 1:
        return {stdout}
    return {", ".join(output_lines), " then ".join(output_lines)}


def output_entries():
    return [
        entry
        for entry in bank_entries()
        if entry.draft.language == "python"
        and entry.draft.code
        and OUTPUT_QUESTION.search(entry.draft.question)
    ]


def exception_entries():
    return [
        entry
        for entry in bank_entries()
        if entry.draft.language == "python"
        and WHAT_HAPPENS_QUESTION.search(entry.draft.question)
        and EXCEPTION_LINE.match(entry.draft.options[entry.draft.correct_index])
    ]


def run_all(entries):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda entry: snippet_run(code=entry.draft.code), entries))


def test_every_bank_what_does_this_print_key_is_what_the_code_prints(sandbox):
    entries = output_entries()
    assert len(entries) >= 30  # the recognition still finds the bank's output questions

    wrong = []
    for entry, run in zip(entries, run_all(entries)):
        options = entry.draft.options
        key = options[entry.draft.correct_index]
        right = [option for option in options if option in renderings(run.stdout)]
        if run.outcome is not SnippetOutcome.OK or right != [key]:
            wrong.append(f"{entry.entry_id}: key {key!r}, the code printed {run.stdout!r} ({run.outcome})")
    assert wrong == []


def test_every_bank_what_happens_key_that_names_an_exception_is_how_the_code_ends(sandbox):
    entries = exception_entries()
    assert entries

    wrong = []
    for entry, run in zip(entries, run_all(entries)):
        key = entry.draft.options[entry.draft.correct_index]
        last_line = run.stderr_tail.splitlines()[-1] if run.stderr_tail else ""
        if run.outcome is not SnippetOutcome.CRASHED or last_line != key:
            wrong.append(f"{entry.entry_id}: key {key!r}, the code ended {run.outcome} with {last_line!r}")
    assert wrong == []


@pytest.mark.parametrize("generator", GENERATORS, ids=[generator.name for generator in GENERATORS])
def test_procedural_keys_are_what_the_sandboxed_code_prints(sandbox, generator):
    challenges = [generator.build(random.Random(seed)) for seed in PROCEDURAL_SEEDS]

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda challenge: snippet_run(code=challenge.code), challenges))

    for challenge, run in zip(challenges, runs):
        assert run.outcome is SnippetOutcome.OK, (challenge.code, run.stderr_tail)
        assert run.stdout == challenge.correct_option, challenge.code
        assert [option_key(option) for option in challenge.options].count(option_key(run.stdout)) == 1
