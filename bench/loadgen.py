"""Load generation for the benchmark: wrk (with a generated Lua script), or an asyncio fallback.

`run_load(...)` returns a LoadResult whatever drives the load. wrk counts socket errors and
timeouts itself; the Lua script below also counts every non-2xx answer (wrk's own "status" error
counts only >= 400, so a 302 to the sign-in page would pass unnoticed) and prints one JSON line
from done() with req/s inputs and the latency percentiles.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

WRK = "/usr/bin/wrk"


@dataclass
class LoadResult:
    tool: str
    requests: int
    duration_s: float
    non2xx: int
    socket_errors: int  # connect + read + write
    timeouts: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    bad_statuses: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core, by process group

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors + self.timeouts


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for our text


def wrk_script(
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: str | None,
    rotate_header: tuple[str, Sequence[str]] | None = None,
) -> str:
    """The Lua for one run. rotate_header=(name, values): each request carries the next value
    (each wrk thread starts at its own offset), e.g. one learner's token after another."""
    static_headers = "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    lines = [
        f"wrk.method = {lua_string(method)}",
        f"wrk.path = {lua_string(path)}",
        static_headers,
    ]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    lines.append(
        """
local threads = {}
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
  table.insert(threads, thread)
end
function init(args)
  non2xx = 0
  bad = ""
  counter = (thread_id or 1) * 7919
end
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if #bad < 200 then bad = bad .. tostring(status) .. "," end
  end
end
"""
    )
    if rotate_header is not None:
        name, values = rotate_header
        lines.append("local rotating = {" + ", ".join(lua_string(v) for v in values) + "}")
        lines.append(
            f"""
function request()
  counter = counter + 1
  local h = {{}}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h[{lua_string(name)}] = rotating[(counter % #rotating) + 1]
  return wrk.format(wrk.method, wrk.path, h, wrk.body)
end
"""
        )
    lines.append(
        """
function done(summary, latency, requests)
  local n = 0
  local statuses = ""
  for _, t in ipairs(threads) do
    n = n + t:get("non2xx")
    statuses = statuses .. t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"non2xx":%d,"bad":"%s","p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, n, statuses,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
    )
    return "\n".join(lines)


def wrk_available() -> bool:
    return os.path.exists(WRK) and os.access(WRK, os.X_OK)


def ensure_wrk(log=print) -> bool:
    """wrk from Debian's packages: installed with apt-get when missing and we are root."""
    if wrk_available():
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        if not wrk_available():
            subprocess.run(["apt-get", "update"], check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
    return wrk_available()


def run_wrk(
    base_url: str,
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: str | None,
    connections: int,
    duration: float,
    threads: int = 2,
    rotate_header=None,
    timeout_s: int = 10,
) -> LoadResult:
    script = wrk_script(method=method, path=path, headers=headers, body=body, rotate_header=rotate_header)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="codedrill-bench-", delete=False) as handle:
        handle.write(script)
        script_path = handle.name
    try:
        command = [
            WRK,
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(int(round(duration)), 1)}s",
            f"--timeout={timeout_s}s",
            "-s",
            script_path,
            base_url.rstrip("/") + path,
        ]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    finally:
        os.unlink(script_path)
    line = next((row for row in finished.stdout.splitlines() if row.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(
            f"wrk printed no result (exit {finished.returncode}):\n{finished.stdout}\n{finished.stderr}"
        )
    data = json.loads(line[len("BENCH_JSON ") :])
    bad: dict[str, int] = {}
    for status in filter(None, data["bad"].split(",")):
        bad[status] = bad.get(status, 0) + 1
    return LoadResult(
        tool="wrk",
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["connect"] + data["read"] + data["write"],
        timeouts=data["timeout"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        bad_statuses=bad,
    )


# --- the fallback: an asyncio HTTP/1.1 keep-alive client ------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100 * len(ordered)) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


async def _connection_loop(host, port, payloads, deadline, latencies, counters, bad, index):
    reader = writer = None
    sent = index
    while time.monotonic() < deadline:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                counters["socket"] += 1
                await asyncio.sleep(0.05)
                continue
        payload = payloads[sent % len(payloads)]
        sent += 1
        started = time.perf_counter()
        try:
            writer.write(payload)
            status_line = await asyncio.wait_for(reader.readline(), 10)
            status = int(status_line.split()[1])
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "connection" and value.strip().lower() == "close":
                    close = True
            if length:
                await reader.readexactly(length)
        except TimeoutError:
            counters["timeout"] += 1
            writer.close()
            writer = None
            continue
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            counters["socket"] += 1
            writer.close()
            writer = None
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        counters["requests"] += 1
        if not 200 <= status <= 299:
            counters["non2xx"] += 1
            bad[str(status)] = bad.get(str(status), 0) + 1
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def run_asyncio(
    base_url: str,
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: str | None,
    connections: int,
    duration: float,
    rotate_header=None,
    **_ignored,
) -> LoadResult:
    parts = urlsplit(base_url)
    values = rotate_header[1] if rotate_header else [None]
    payloads = []
    for value in values:
        all_headers = {"Host": f"{parts.hostname}:{parts.port}", **headers}
        if rotate_header:
            all_headers[rotate_header[0]] = value
        encoded_body = (body or "").encode()
        if body is not None:
            all_headers["Content-Length"] = str(len(encoded_body))
        head = (
            f"{method} {path} HTTP/1.1\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in all_headers.items())
            + "\r\n"
        )
        payloads.append(head.encode() + encoded_body)
    latencies: list[float] = []
    counters = {"requests": 0, "non2xx": 0, "socket": 0, "timeout": 0}
    bad: dict[str, int] = {}

    async def main() -> float:
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(
            *(
                _connection_loop(parts.hostname, parts.port, payloads, deadline, latencies, counters, bad, i)
                for i in range(connections)
            )
        )
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    return LoadResult(
        tool="asyncio",
        requests=counters["requests"],
        duration_s=elapsed,
        non2xx=counters["non2xx"],
        socket_errors=counters["socket"],
        timeouts=counters["timeout"],
        p50_ms=percentile(latencies, 50),
        p90_ms=percentile(latencies, 90),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies) if latencies else math.nan,
        bad_statuses=bad,
    )


# --- CPU accounting from /proc ---------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(comm, ppid, pgid, utime+stime ticks) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            raw = handle.read()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is state; ppid=1, pgrp=2, utime=11, stime=12 (0-based after the comm)
    return comm, int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12])


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def process_table() -> dict[int, tuple[str, int, int, int]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None:
                table[int(entry)] = stat
    return table


class CpuMeter:
    """CPU used by process groups between start() and stop(), in % of one core.

    groups: name → predicate(pid, comm, ppid, pgid). Processes that start or end in between are
    counted for what /proc shows at the two moments (good enough for long-lived servers)."""

    def __init__(self, groups, reaped_children_as: str = "load generator"):
        self.groups = groups
        self.reaped_children_as = reaped_children_as
        self._before: dict[int, tuple] = {}
        self._started = 0.0

    @staticmethod
    def _busy_ticks() -> int:
        """Non-idle CPU ticks of the whole machine, all CPUs (from /proc/stat)."""
        with open("/proc/stat") as handle:
            fields = [int(value) for value in handle.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]) - idle

    def start(self) -> None:
        self._machine_before = self._busy_ticks()
        self._before = process_table()
        self._children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._started = time.monotonic()

    def stop(self) -> dict[str, float]:
        after = process_table()
        elapsed = time.monotonic() - self._started
        usage = {name: 0.0 for name in self.groups}
        for pid, (comm, ppid, pgid, ticks) in after.items():
            before = self._before.get(pid)
            used = ticks - (before[3] if before and before[0] == comm else 0)
            for name, matches in self.groups.items():
                if matches(pid, comm, ppid, pgid):
                    usage[name] += used
                    break
        total_cpus = os.cpu_count() or 1
        result = {name: round(100 * ticks / CLOCK_TICKS / elapsed, 1) for name, ticks in usage.items()}
        # Children of this process that ended in between (wrk, the prober) are gone from /proc:
        # their CPU is in our RUSAGE_CHILDREN.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        reaped = (children.ru_utime + children.ru_stime) - (
            self._children_before.ru_utime + self._children_before.ru_stime
        )
        result[self.reaped_children_as] = round(
            result.get(self.reaped_children_as, 0.0) + 100 * reaped / elapsed, 1
        )
        # Everything else that ran on the machine meanwhile (other users' processes, the kernel).
        machine = 100 * (self._busy_ticks() - self._machine_before) / CLOCK_TICKS / elapsed
        result["other"] = round(max(machine - sum(v for k, v in result.items()), 0.0), 1)
        result["idle"] = round(max(100 * total_cpus - machine, 0.0), 1)
        result["_cores"] = total_cpus
        return result
