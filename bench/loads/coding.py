"""Learners' code under load: submissions graded in the sandbox, through the API, and other
learners' pages while endless loops run.

Every learner here gets a coding problem with POST /api/code-challenges. The bench's server has a
model (OPENAI_API_KEY, pointed at bench/fake_openai.py), so, as in production with a key, the
problem is the model's: the fake answers a coding request with one problem of 3 examples and 7
hidden tests (fake_openai.CODING_*), which the server verifies in the sandbox (the reference, the
starter code and the wrong solution: three runs) before serving it. Then, on the learners'
development session tokens:

- in turn: one learner submits the correct solution SEQUENTIAL times (10 tests each): p50, p99;
- at once: THROUGHPUT_LEARNERS learners each loop submitting it on their own keep-alive connection
  for the window: graded submissions per second; "busy" answers (429 past the per-process and
  machine-wide bounds, CODE_MAX_RUNS and CODE_MAX_RUNS_MACHINE, and their CODE_QUEUE_SECONDS
  queue) and the other 429s (a learner's own bounds) counted apart;
- endless loops: other learners' pages (/, /history/, /code/ and GET /api/quota in turn, each on
  a new connection, from a process of its own) every PAGE_INTERVAL seconds for the window, first
  with nothing else running, then while LOOPERS learners each resubmit `while True: pass` as soon
  as their answer comes back (each time on a new connection); in both windows a generation (POST /api/generate-challenge, the
  model instant) every GENERATION_INTERVAL seconds;
- hostile submissions, one after another (`hostile_cases`), each expected to end in a clear failed
  result: 200 with passed false and a message or a test's error, or 422/429 with a detail; never
  a 5xx or a broken connection.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

import clients
import fake_openai
import loadgen
from harness import BackendBench, children_of, log, token_for

SEQUENTIAL = 50
SEQUENTIAL_QUICK = 20
THROUGHPUT_LEARNERS = 16
LOOPERS = 8
PAGE_LEARNERS = 4
PAGE_PATHS = ["/", "/history/", "/code/", "/api/quota"]
PAGE_INTERVAL = 0.05
GENERATION_INTERVAL = 2.0
# The loops are under way (each sandbox started) before the pages are measured.
LOOPS_SETTLE_SECONDS = 1.5
TARGET_PAGES_P99_MS = 100
PROBLEM = {"difficulty": "easy", "topic": "algorithms"}
TESTS_PER_SUBMISSION = len(fake_openai.CODING_EXAMPLES) + len(fake_openai.CODING_HIDDEN)
CORRECT = fake_openai.CODING_REFERENCE
ENDLESS = "def longest_run(xs):\n    while True:\n        pass\n"

SUBMISSION_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def hostile_cases(*, server_port: int, master_pid: int) -> list[tuple[str, str]]:
    """(what it tries, its code), in Python: each must end in a clear failed result."""
    return [
        ("fork bomb (on load)", "import os\nwhile True:\n    os.fork()\n"),
        (
            "subprocess",
            "import subprocess\ndef longest_run(xs):\n"
            "    return subprocess.run(['/bin/sh', '-c', 'echo 1']).returncode\n",
        ),
        ("endless loop", ENDLESS),
        (
            "memory blow-up",
            "def longest_run(xs):\n    hoard = []\n    while True:\n"
            "        hoard.append(bytearray(256 * 1024 * 1024))\n",
        ),
        ("huge output: print 100 MB", "def longest_run(xs):\n    print('x' * 100_000_000)\n    return 0\n"),
        (
            "huge output: write to fd 1",
            "import os\ndef longest_run(xs):\n    while True:\n        os.write(1, b'x' * 65536)\n",
        ),
        (
            "files: read /etc/passwd, write /tmp",
            "def longest_run(xs):\n    text = open('/etc/passwd').read()\n"
            "    open('/tmp/planted', 'w').write(text)\n    return len(text)\n",
        ),
        (
            "files: fill the disk",
            "def longest_run(xs):\n    with open('big', 'wb') as out:\n        while True:\n"
            "            out.write(b'x' * 1048576)\n",
        ),
        (
            "network: a host on the internet",
            "import socket\ndef longest_run(xs):\n"
            "    socket.create_connection(('93.184.216.34', 80), timeout=2)\n    return 0\n",
        ),
        (
            "network: the server on 127.0.0.1",
            f"import socket\ndef longest_run(xs):\n"
            f"    socket.create_connection(('127.0.0.1', {server_port}), timeout=2)\n    return 0\n",
        ),
        (
            "signals: SIGKILL to itself and its parent",
            "import os, signal\ndef longest_run(xs):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
            "    os.kill(os.getppid(), signal.SIGKILL)\n    return -1\n",
        ),
        (
            f"signals: SIGTERM to the server's master (host pid {master_pid})",
            f"import os, signal\ndef longest_run(xs):\n    os.kill({master_pid}, signal.SIGTERM)\n    return -1\n",
        ),
        (
            "signals: kill(-1) and signal.alarm, then wait",
            "import os, signal\ndef longest_run(xs):\n    try:\n        os.kill(-1, signal.SIGKILL)\n"
            "    except OSError:\n        pass\n    signal.alarm(1)\n    signal.pause()\n",
        ),
        ("sys.exit", "import sys\ndef longest_run(xs):\n    sys.exit(0)\n"),
        ("os._exit mid-run", "import os\ndef longest_run(xs):\n    os._exit(0)\n"),
    ]


@dataclass
class Tally:
    """What a group of learners' submissions got, collected from their threads."""

    latencies_ms: list[float] = field(default_factory=list)  # graded answers (200)
    passed: int = 0
    failed: int = 0
    busy: int = 0  # 429 "busy": no turn of the sandbox came free within the queue's wait
    refused: int = 0  # 429: past a learner's own bounds
    unexpected: dict[str, int] = field(default_factory=dict)  # anything else: "500: …", "error: …"
    messages: dict[str, int] = field(default_factory=dict)  # failed runs' messages
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, body: object, took_ms: float) -> None:
        from challengeapp.coding.grading import SANDBOX_BUSY  # Django is set up by now

        with self.lock:
            if status == 200 and isinstance(body, dict):
                self.latencies_ms.append(took_ms)
                if body.get("passed"):
                    self.passed += 1
                else:
                    self.failed += 1
                    message = str(body.get("message", ""))[:80]
                    self.messages[message] = self.messages.get(message, 0) + 1
            elif status == 429 and isinstance(body, dict) and body.get("detail") == SANDBOX_BUSY:
                self.busy += 1
            elif status == 429:
                self.refused += 1
            else:
                detail = body.get("detail", "") if isinstance(body, dict) else str(body)[:80]
                key = f"{status}: {detail}"[:120]
                self.unexpected[key] = self.unexpected.get(key, 0) + 1

    def summary(self, elapsed_s: float | None = None) -> dict:
        graded = self.passed + self.failed
        return {
            "graded": graded,
            "passed": self.passed,
            "failed": self.failed,
            "busy": self.busy,
            "refused_429": self.refused,
            "unexpected": dict(self.unexpected),
            "messages": dict(self.messages),
            "p50_ms": loadgen.percentile(self.latencies_ms, 50),
            "p99_ms": loadgen.percentile(self.latencies_ms, 99),
            "max_ms": max(self.latencies_ms) if self.latencies_ms else float("nan"),
            "elapsed_s": elapsed_s,
            "per_second": graded / elapsed_s if elapsed_s else None,
        }


def _post(
    client: clients.KeepAliveClient, path: str, token: str, body: dict, *, close: bool = False
) -> tuple[int, object, float]:
    """POST `body` as `token` (with `close`, on a connection closed after it); (status, decoded
    body, milliseconds); status 0 for a broken request."""
    began = time.perf_counter()
    headers = {**SUBMISSION_HEADERS, "Authorization": f"Bearer {token}"}
    if close:
        headers["Connection"] = "close"
    try:
        status, payload = client.request("POST", path, headers=headers, body=json.dumps(body).encode())
    except (OSError, http.client.HTTPException) as error:
        return 0, f"{type(error).__name__}: {error}", (time.perf_counter() - began) * 1000
    took = (time.perf_counter() - began) * 1000
    try:
        return status, json.loads(payload), took
    except ValueError:
        return status, payload[:200].decode("utf-8", "replace"), took


def _submission_path(problem_id: int) -> str:
    return f"/api/code-challenges/{problem_id}/submissions"


def _problem_for(bench: BackendBench, token: str) -> tuple[int, float]:
    """A new problem for the learner (from the fake model, verified by the server): its id and how
    long serving it took."""
    client = clients.KeepAliveClient(bench.server.url, timeout=60)
    status, body, took = _post(client, "/api/code-challenges", token, PROBLEM)
    client.close()
    if status != 201 or not isinstance(body, dict):
        raise RuntimeError(f"POST /api/code-challenges answered {status}: {str(body)[:300]}")
    tests = len(body["examples"]) + body["hidden_tests"]
    if body["function_name"] != fake_openai.CODING_FUNCTION or tests != TESTS_PER_SUBMISSION:
        raise RuntimeError(f"an unexpected problem: {body['function_name']}, {tests} tests")
    return body["id"], took


def _learners(bench: BackendBench, prefix: str, count: int) -> list[tuple[str, int]]:
    """`count` learners, each signed in and with a problem of their own: (token, problem id)."""
    learners, took = [], []
    for number in range(1, count + 1):
        token = token_for(f"user_bench_{prefix}_{number:02d}")
        problem_id, ms = _problem_for(bench, token)
        learners.append((token, problem_id))
        took.append(ms)
    served = bench.result.coding.setdefault("problem_ms", [])
    served.extend(took)
    return learners


def _sequential(bench: BackendBench, token: str, problem_id: int, count: int) -> dict:
    tally = Tally()
    client = clients.KeepAliveClient(bench.server.url, timeout=60)
    for _ in range(count):
        status, body, took = _post(client, _submission_path(problem_id), token, {"code": CORRECT})
        if status == 200 and isinstance(body, dict) and body.get("tests_total") != TESTS_PER_SUBMISSION:
            tally.unexpected["tests_total"] = tally.unexpected.get("tests_total", 0) + 1
        tally.add(status, body, took)
    client.close()
    return tally.summary() | {"submissions": count}


def _loop_submissions(
    base_url: str,
    learners: list[tuple[str, int]],
    code: str,
    tally: Tally,
    *,
    until: threading.Event | None = None,
    window: float | None = None,
    new_connections: bool = False,
) -> tuple[list[threading.Thread], list[float]]:
    """Each learner resubmits `code` as soon as its answer comes back, on its own keep-alive
    connection (with `new_connections`, a new one each time, so that each submission lands on a
    worker drawn anew), until `until` is set or `window` seconds have passed (a request under way
    then is waited for). Returns the started threads and, once set, the start time in a list."""
    started: list[float] = []
    barrier = threading.Barrier(len(learners) + 1)
    stop = until or threading.Event()

    def learner(token: str, problem_id: int) -> None:
        client = clients.KeepAliveClient(base_url, timeout=60)
        barrier.wait()
        while not stop.is_set() and (window is None or time.monotonic() < started[0] + window):
            status, body, took = _post(
                client, _submission_path(problem_id), token, {"code": code}, close=new_connections
            )
            tally.add(status, body, took)
            if status == 0:
                time.sleep(0.5)
        client.close()

    threads = [threading.Thread(target=learner, args=pair, daemon=True) for pair in learners]
    for thread in threads:
        thread.start()
    started.append(time.monotonic())
    barrier.wait()
    return threads, started


def _throughput(bench: BackendBench, learners: list[tuple[str, int]], window: float) -> dict:
    tally = Tally()
    threads, started = _loop_submissions(bench.server.url, learners, CORRECT, tally, window=window)
    for thread in threads:
        thread.join(window + 90)
    elapsed = time.monotonic() - started[0]
    return tally.summary(elapsed) | {"learners": len(learners), "window_s": window}


class _Generations(threading.Thread):
    """POST /api/generate-challenge every GENERATION_INTERVAL seconds until stopped."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.base_url, self.token = base_url, token
        self.stop = threading.Event()
        self.latencies_ms: list[float] = []
        self.statuses: dict[str, int] = {}

    def run(self) -> None:
        client = clients.KeepAliveClient(self.base_url, timeout=60)
        while not self.stop.is_set():
            status, _body, took = _post(client, "/api/generate-challenge", self.token, {"difficulty": "easy"})
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if status == 201:
                self.latencies_ms.append(took)
            self.stop.wait(GENERATION_INTERVAL)
        client.close()

    def result(self) -> dict:
        self.stop.set()
        self.join(90)
        return {
            "statuses": self.statuses,
            "completed": self.statuses.get("201", 0),
            "attempts": sum(self.statuses.values()),
            "p50_ms": loadgen.percentile(self.latencies_ms, 50),
            "max_ms": max(self.latencies_ms) if self.latencies_ms else float("nan"),
        }


class _SandboxCounter(threading.Thread):
    """How many sandboxes (bubblewrap processes under a gunicorn worker) run, sampled every 0.25 s."""

    def __init__(self, bench: BackendBench) -> None:
        super().__init__(daemon=True)
        self.workers = set(bench.worker_pids())
        self.stop = threading.Event()
        self.samples: list[int] = []

    def run(self) -> None:
        while not self.stop.wait(0.25):
            table = loadgen.process_table()
            self.samples.append(
                sum(1 for comm, ppid, _, _ in table.values() if comm == "bwrap" and ppid in self.workers)
            )

    def result(self) -> dict:
        self.stop.set()
        self.join(5)
        samples = self.samples or [0]
        return {"mean": sum(samples) / len(samples), "max": max(samples), "samples": len(self.samples)}


def _pages(bench: BackendBench, tokens: list[str], generation_token: str, window: float) -> dict:
    """Other learners' pages every PAGE_INTERVAL for `window` seconds (a separate process, new
    connections), and a generation every GENERATION_INTERVAL meanwhile."""
    prober = clients.Prober(
        bench.server.url,
        tokens,
        interval=PAGE_INTERVAL,
        duration=window,
        new_connection=True,
        timeout=30,
        paths=PAGE_PATHS,
    )
    generations = _Generations(bench.server.url, generation_token)
    sandboxes = _SandboxCounter(bench)
    machine = loadgen.CpuMeter({})
    machine.start()
    prober.start()
    generations.start()
    sandboxes.start()
    probe = prober.result()
    cpu = machine.stop()
    return {
        "probe": probe,
        "generation": generations.result(),
        "sandboxes": sandboxes.result(),
        "machine_busy_percent": round(100 * cpu["_cores"] - cpu["idle"], 1),
        "cores": cpu["_cores"],
    }


def _clear(status: int, body: object) -> tuple[bool, str]:
    """Whether an answer to a hostile submission is a clear failed result, and what it said."""
    if status == 200 and isinstance(body, dict):
        errors = [r.get("error", "") for r in body.get("results", []) if r.get("error")]
        said = body.get("message") or (errors[0] if errors else "")
        return (not body.get("passed") and bool(said)), str(said)
    if status in (422, 429) and isinstance(body, dict) and body.get("detail"):
        return True, str(body["detail"])
    return False, str(body)[:200]


def _hostile(bench: BackendBench, token: str, problem_id: int) -> list[dict]:
    client = clients.KeepAliveClient(bench.server.url, timeout=60)
    rows = []
    for what, code in hostile_cases(server_port=bench.server.port, master_pid=bench.server.process.pid):
        status, body, took = _post(client, _submission_path(problem_id), token, {"code": code})
        clear, said = _clear(status, body)
        row = {
            "what": what,
            "status": status,
            "passed": body.get("passed") if isinstance(body, dict) else None,
            "tests": (
                f"{body.get('tests_passed')}/{body.get('tests_total')}"
                if isinstance(body, dict) and "tests_total" in body
                else ""
            ),
            "said": said[:160],
            "ms": took,
            "clear": clear,
        }
        rows.append(row)
        log(
            f"{bench.name}: hostile {what}: {status} passed={row['passed']} tests {row['tests']} "
            f"{took:.0f} ms: {row['said'][:100]!r}{'' if clear else '  <-- NOT a clear failed result'}"
        )
    status, body, _ = _post(client, _submission_path(problem_id), token, {"code": CORRECT})
    client.close()
    if status != 200 or not isinstance(body, dict) or not body.get("passed"):
        rows.append(
            {
                "what": "the correct solution afterwards",
                "status": status,
                "passed": False,
                "tests": "",
                "said": str(body)[:160],
                "ms": 0.0,
                "clear": False,
            }
        )
    return rows


def measure(bench: BackendBench) -> None:
    args = bench.args
    window = args.generation_window
    coding = bench.result.coding
    bench.fake.set_delay(0)
    log(f"{bench.name}: coding: serving problems (the fake model's, verified by the server)")
    (sequential_learner,) = _learners(bench, "code_seq", 1)
    throughput_learners = _learners(bench, "code_rate", THROUGHPUT_LEARNERS)
    loopers = _learners(bench, "code_loop", LOOPERS)
    (hostile_learner,) = _learners(bench, "code_hostile", 1)
    page_tokens = [token_for(f"user_bench_code_page_{i:02d}") for i in range(1, PAGE_LEARNERS + 1)]
    for token in page_tokens:
        assert bench.request("GET", "/api/quota", token=token).status == 200
    generation_token = token_for("user_bench_code_generator")

    count = SEQUENTIAL_QUICK if args.quick else SEQUENTIAL
    other = bench.wait_for_quiet("coding: submissions in turn")
    coding["sequential"] = _sequential(bench, *sequential_learner, count) | {"other_cpu": other}
    seq = coding["sequential"]
    log(
        f"{bench.name}: coding: {count} submissions of {TESTS_PER_SUBMISSION} tests in turn: "
        f"p50 {seq['p50_ms']:.1f} ms, p99 {seq['p99_ms']:.1f} ms, passed {seq['passed']}, "
        f"failed {seq['failed']} {seq['messages'] or ''}, busy {seq['busy']}, {seq['unexpected'] or ''}"
    )

    other = bench.wait_for_quiet("coding: submissions at once")
    coding["throughput"] = _throughput(bench, throughput_learners, args.duration) | {"other_cpu": other}
    rate = coding["throughput"]
    log(
        f"{bench.name}: coding: {THROUGHPUT_LEARNERS} learners at once: {rate['graded']} graded in "
        f"{rate['elapsed_s']:.1f} s = {rate['per_second']:.1f}/s (p50 {rate['p50_ms']:.0f} ms, p99 "
        f"{rate['p99_ms']:.0f} ms), passed {rate['passed']}, 429 busy {rate['busy']}, other 429 "
        f"{rate['refused_429']}, {rate['unexpected'] or ''}"
    )

    other = bench.wait_for_quiet("coding: pages without loops")
    coding["pages_quiet"] = _pages(bench, page_tokens, generation_token, window) | {"other_cpu": other}
    quiet = coding["pages_quiet"]["probe"]
    log(
        f"{bench.name}: coding: pages without loops: p50 {quiet['p50_ms']:.1f} ms, p99 "
        f"{quiet['p99_ms']:.1f} ms over {quiet['samples']}, errors {quiet['errors']}"
    )

    other = bench.wait_for_quiet("coding: pages while endless loops run")
    loops = Tally()
    stop = threading.Event()
    # A new connection per submission: a keep-alive connection stays with one worker, and which
    # workers the 8 drew would decide how many loops the per-process bound lets run at once.
    threads, _ = _loop_submissions(
        bench.server.url, loopers, ENDLESS, loops, until=stop, new_connections=True
    )
    time.sleep(LOOPS_SETTLE_SECONDS)
    try:
        coding["pages_loops"] = _pages(bench, page_tokens, generation_token, window) | {"other_cpu": other}
    finally:
        stop.set()
        for thread in threads:
            thread.join(90)
    coding["loops"] = loops.summary()
    if coding["loops"]["busy"]:
        bench.result.notes.append(
            f"The endless loops got {coding['loops']['busy']} answers 429 busy (no turn of the sandbox came "
            "free within the queue's wait: the bounds per process and for the machine)."
        )
    busy = coding["pages_loops"]
    log(
        f"{bench.name}: coding: pages while {LOOPERS} endless loops run: p50 {busy['probe']['p50_ms']:.1f} "
        f"ms, p99 {busy['probe']['p99_ms']:.1f} ms over {busy['probe']['samples']}, errors "
        f"{busy['probe']['errors']}; sandboxes running {busy['sandboxes']}; machine busy "
        f"{busy['machine_busy_percent']}% of {100 * busy['cores']}; generations {busy['generation']}; the loops got "
        f"{coding['loops']['messages']} busy {coding['loops']['busy']} {coding['loops']['unexpected'] or ''}"
    )

    coding["hostile"] = _hostile(bench, *hostile_learner)
    master_alive = bench.server.process.poll() is None
    workers = children_of(bench.server.process.pid)
    coding["server_after"] = {"master_alive": master_alive, "workers": len(workers)}
