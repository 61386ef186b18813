"""The quality benchmark: a corpus of model answers through the production server, counted.

    make bench-quality            # or: python bench/quality/run.py [--checker-errors 0.05] [--write F]

Each corpus entry (bench/quality/corpus/*.json, one file per topic) is a challenge written the way
gpt-4.1-mini and gpt-4o write them, with what an expert says is really right (`truth`): "sound"
entries are correct, "wrong" ones are subtly not (a wrong printed output, two right options, four
options saying one thing, an explanation arguing for another option...). For every entry, in turn:

- a fake OpenAI-compatible server on 127.0.0.1 (this process) answers the app's request for a
  challenge with the entry's `reply`, and the app's blind second check as a careful expert would:
  the letters of the `truth` options, under whatever letters the check shows them. With
  `--checker-errors R`, a seeded fraction R of checks instead names one wrong option at random,
  as a weaker check model would;
- the production server (gunicorn, DEBUG off, the real SDK over loopback HTTP, the real sandbox)
  is asked by a learner of its own through POST /api/generate-challenge;
- what the learner sees is recorded: served (201) or refused, the served key's text, whether
  answering the true option is graded right, the learner's quota afterwards (a refusal must cost
  nothing), any 5xx; the refusal's cause from the server's log line.

Token counts are the fake's estimate, 4 characters a token, for the prompt and the answer of every
request (the writer's and the checker's, retries included), so "tokens per served challenge" counts
what refused challenges cost too.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

QUALITY_DIR = Path(__file__).resolve().parent
BENCH_DIR = QUALITY_DIR.parent
BASE_DIR = BENCH_DIR.parent
CORPUS_DIR = QUALITY_DIR / "corpus"
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BENCH_DIR))

CHARS_PER_TOKEN = 4
WRITER_MODEL = "gpt-4.1-mini-2025-04-14"
# How the blind check's system prompt opens (challengeapp/quality/blind_check.py).
CHECK_PROMPT_OPENING = "You answer multiple-choice questions"
TOPIC_SLUGS = {"data_structures": "data-structures", "system_design": "system-design"}
CAUSE = re.compile(r"generation failed cause=(\S+) .*?learner=(\S+)")


@dataclass
class Entry:
    id: str
    expect: str
    family: str
    topic: str
    difficulty: str
    reply: dict[str, Any]
    truth: list[int]
    file: str

    @property
    def truth_texts(self) -> set[str]:
        return {str(self.reply["options"][index]).strip() for index in self.truth}

    @property
    def key_text(self) -> str:
        return str(self.reply["options"][self.reply["correct_index"]]).strip()


@dataclass
class Outcome:
    entry: Entry
    status: int = 0
    served_key: str | None = None
    verification: str = ""
    true_option_graded_right: bool | None = None
    quota_used: int = 0
    causes: list[str] = field(default_factory=list)
    tokens: int = 0
    check_tokens: int = 0

    @property
    def served(self) -> bool:
        return self.status == 201

    @property
    def cause(self) -> str:
        return self.causes[-1] if self.causes else f"http_{self.status}"


def corpus_load(directory: Path = CORPUS_DIR) -> list[Entry]:
    """Every entry of every corpus file, checked for the fields the benchmark reads."""
    entries: list[Entry] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.json")):
        for raw in json.loads(path.read_text(encoding="utf-8")):
            entry = Entry(
                id=raw["id"],
                expect=raw["expect"],
                family=raw["family"],
                topic=raw["topic"],
                difficulty=raw["difficulty"],
                reply=raw["reply"],
                truth=list(raw["truth"]),
                file=path.name,
            )
            if entry.id in seen:
                raise SystemExit(f"{path.name}: the id {entry.id!r} is used twice")
            if entry.expect not in ("sound", "wrong"):
                raise SystemExit(f"{path.name}: {entry.id}: expect must be 'sound' or 'wrong'")
            if entry.expect == "sound" and entry.truth != [entry.reply["correct_index"]]:
                raise SystemExit(f"{path.name}: {entry.id}: a sound entry's truth is its key")
            seen.add(entry.id)
            entries.append(entry)
    return entries


# --- the fake model ------------------------------------------------------------------------------


class LoopbackModel:
    """An OpenAI-compatible chat completions server on 127.0.0.1 (a thread of this process) that
    answers each request with what `answer(request)` gives: the content, the token usage, the
    finish reason and the request id. Its `entry` is the corpus entry being asked for. Shared by
    this benchmark's fake and the coding problems' (coding.py)."""

    def __init__(self) -> None:
        self.entry = None
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                content, usage, finish_reason, request_id = fake.answer(request)
                body = json.dumps(
                    {
                        "id": "chatcmpl-quality",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": request.get("model") or WRITER_MODEL,
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": finish_reason,
                                "logprobs": None,
                                "message": {"role": "assistant", "content": content, "refusal": None},
                            }
                        ],
                        "usage": usage,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-request-id", request_id)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def answer(self, request: dict[str, Any]) -> tuple[str, dict[str, int], str, str]:
        raise NotImplementedError

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def token_usage(prompt: str, content: str) -> dict[str, int]:
    """The fake's estimate of a request's tokens: CHARS_PER_TOKEN characters a token."""
    prompt_tokens, completion_tokens = len(prompt) // CHARS_PER_TOKEN, len(content) // CHARS_PER_TOKEN
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


class FakeModel(LoopbackModel):
    """Answers the app as the current entry's writer and as a careful checker."""

    def __init__(self, *, checker_errors: float, seed: int) -> None:
        self.tokens = 0
        self.check_tokens = 0
        self.checker_errors = checker_errors
        self.random = random.Random(seed)
        super().__init__()

    def answer(self, request: dict[str, Any]) -> tuple[str, dict[str, int], str, str]:
        messages = request.get("messages") or [{}]
        prompt = "\n".join(str(message.get("content", "")) for message in messages)
        is_check = str(messages[0].get("content", "")).startswith(CHECK_PROMPT_OPENING)
        with self.lock:
            entry = self.entry
            assert entry is not None, "a request came while no entry was current"
            content = self._check(entry, prompt) if is_check else json.dumps(entry.reply, ensure_ascii=False)
            usage = token_usage(prompt, content)
            self.tokens += usage["total_tokens"]
            if is_check:
                self.check_tokens += usage["total_tokens"]
        return content, usage, "stop", "req_quality_check" if is_check else "req_quality"

    def _check(self, entry: Entry, prompt: str) -> str:
        from challengeapp.quality.blind_check import check_prompt_options

        shown = {letter: text.strip() for letter, text in check_prompt_options(prompt).items()}
        letters = sorted(letter for letter, text in shown.items() if text in entry.truth_texts)
        if self.checker_errors and self.random.random() < self.checker_errors:
            wrong = sorted(set(shown) - set(letters))
            letters = [self.random.choice(wrong)] if wrong else letters
        reasoning = "Working through the code and the options, " + (
            f"the correct option is {letters[0]}." if len(letters) == 1 else "the question is flawed."
        )
        return json.dumps({"reasoning": reasoning, "answers": letters})


# --- the run ---------------------------------------------------------------------------------------


def run(
    entries: list[Entry], *, signing_key: Path, checker_errors: float, seed: int, blind_check: bool, log
) -> tuple[list[Outcome], dict]:
    """One run of `entries` against a server of its own (a new database). Django must be set up
    for tokens signed with `signing_key` (harness.django_for_tokens), once per process."""
    model = FakeModel(checker_errors=checker_errors, seed=seed)
    extra_env = {"GENERATION_FALLBACK_TO_BANK": "0", "BLIND_CHECK": "1" if blind_check else "0"}
    outcomes, log_text, meta = corpus_serve(
        entries, signing_key=signing_key, model=model, one=_one, extra_env=extra_env, log=log
    )
    causes: dict[str, list[str]] = defaultdict(list)
    for cause, learner in CAUSE.findall(log_text):
        causes[learner].append(cause)
    for number, outcome in enumerate(outcomes, 1):
        outcome.causes = causes.get(_learner(number), [])
    return outcomes, meta


def corpus_serve(
    entries: list, *, signing_key: Path, model, one, extra_env: dict, log, prefix: str = "quality"
):
    """Each entry in turn through a production server of its own (gunicorn, a new SQLite database,
    OpenAI pointed at `model`, which has `base_url` and `stop()`), `one(entry, number=, server=,
    model=, token_for=)` giving each entry's outcome: the outcomes, the server's log, and the run's
    seconds and sandbox. Shared by this benchmark and the coding problems' (coding.py)."""
    from harness import token_for

    from challengeapp.quality.sandbox import sandbox_available
    from challengeapp.tests.fakes import live_server as ls

    sandbox_ok, sandbox_said = sandbox_available()
    with tempfile.TemporaryDirectory(prefix=f"codedrill-{prefix}-") as tmp_name:
        tmp = Path(tmp_name)
        server = ls.LiveServer(
            database_url=ls.sqlite_database(tmp),
            signing_key_path=signing_key,
            daily_quota=5,
            workers=2,
            threads=4,
            extra_env={
                "OPENAI_API_KEY": "sk-quality",
                "OPENAI_BASE_URL": model.base_url,
                "OPENAI_MODEL": WRITER_MODEL,
                **extra_env,
            },
            log_path=tmp / "gunicorn.log",
            startup_timeout=90,
        )
        log("starting the production server (migrate, collectstatic, gunicorn)")
        server.start()
        outcomes = []
        started = time.monotonic()
        try:
            for number, entry in enumerate(entries, 1):
                outcomes.append(one(entry, number=number, server=server, model=model, token_for=token_for))
                if number % 25 == 0:
                    log(f"{number} of {len(entries)} entries")
            seconds = time.monotonic() - started
            log_text = server.log_path.read_text(encoding="utf-8", errors="replace")
        finally:
            server.stop()
            model.stop()
    return (
        outcomes,
        log_text,
        {
            "seconds": seconds,
            "sandbox": sandbox_said if sandbox_ok else f"UNAVAILABLE: {sandbox_said}",
        },
    )


def _learner(number: int) -> str:
    return f"user_quality_{number:04d}"


def _one(entry: Entry, *, number: int, server, model: FakeModel, token_for) -> Outcome:
    from challengeapp.tests.fakes.live_server import http_request

    token = token_for(_learner(number))
    with model.lock:
        model.entry = entry
        tokens_before, check_before = model.tokens, model.check_tokens
    topic = TOPIC_SLUGS.get(entry.topic, entry.topic)
    response = http_request(
        server.url,
        "POST",
        "/api/generate-challenge",
        token=token,
        body={"difficulty": entry.difficulty, "topic": topic},
        timeout=120,
    )
    outcome = Outcome(entry=entry, status=response.status)
    if response.status == 201:
        challenge = response.body
        outcome.served_key = str(challenge["options"][challenge["correct_answer_id"]]).strip()
        outcome.verification = challenge.get("verification", "")
        true_indexes = [i for i, text in enumerate(challenge["options"]) if text.strip() in entry.truth_texts]
        if len(true_indexes) == 1:
            graded = http_request(
                server.url,
                "POST",
                f"/api/challenges/{challenge['id']}/answer",
                token=token,
                body={"answer_id": true_indexes[0]},
            )
            outcome.true_option_graded_right = bool(graded.status == 200 and graded.body.get("correct"))
    quota = http_request(server.url, "GET", "/api/quota", token=token).body
    outcome.quota_used = int(quota["daily_limit"]) - int(quota["quota_remaining"])
    with model.lock:
        model.entry = None
        outcome.tokens = model.tokens - tokens_before
        outcome.check_tokens = model.check_tokens - check_before
    return outcome


# --- the report ------------------------------------------------------------------------------------


def _percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "0/0"


def report(
    outcomes: list[Outcome], meta: dict, *, checker_errors: float, seed: int, blind_check: bool
) -> str:
    sound = [o for o in outcomes if o.entry.expect == "sound"]
    wrong = [o for o in outcomes if o.entry.expect == "wrong"]
    sound_served_right = [o for o in sound if o.served and o.served_key == o.entry.key_text]
    wrong_refused = [o for o in wrong if not o.served]
    charged = [o for o in outcomes if not o.served and o.quota_used]
    five_xx = [o for o in outcomes if o.status >= 500 and o.status not in (502, 503)]
    served = [o for o in outcomes if o.served]
    graded = [o for o in served if o.true_option_graded_right is not None]
    tokens = sum(o.tokens for o in outcomes)
    check_tokens = sum(o.check_tokens for o in outcomes)
    lines = [
        f"Corpus: {len(outcomes)} challenges ({len(sound)} sound, {len(wrong)} subtly wrong), "
        f"{len({o.entry.topic for o in outcomes})} topics; "
        + (
            f"blind check on, checker errors {checker_errors:.0%} (seed {seed}); "
            if blind_check
            else "blind check off; "
        )
        + f"sandbox: {meta['sandbox']}; {meta['seconds']:.0f} s.",
        "",
        f"- Sound challenges served with their key: {_percent(len(sound_served_right), len(sound))}",
        f"- Wrong challenges refused: {_percent(len(wrong_refused), len(wrong))}",
        f"- Refusals that cost the learner a quota unit: {len(charged)}",
        f"- Server errors (5xx other than the model's 502/503 refusals): {len(five_xx)}",
        f"- Served keys a learner answering the true option is graded right on: "
        f"{_percent(sum(bool(o.true_option_graded_right) for o in graded), len(graded))}",
        f"- Tokens per served challenge (everything billed, refusals and checks included): "
        f"{tokens / max(len(served), 1):.0f}, of which the blind check {check_tokens / max(len(served), 1):.0f}",
        "",
        "How served challenges were trusted: "
        + ", ".join(
            f"{name} {count}" for name, count in Counter(o.verification for o in served).most_common()
        ),
        "",
        "| family | expect | entries | served | refused, by cause |",
        "|---|---|---|---|---|",
    ]
    by_family: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_family[(outcome.entry.expect, outcome.entry.family)].append(outcome)
    for (expect, family), group in sorted(by_family.items()):
        causes = Counter(o.cause for o in group if not o.served)
        lines.append(
            f"| {family} | {expect} | {len(group)} | {sum(o.served for o in group)} | "
            + (", ".join(f"{cause} {count}" for cause, count in causes.most_common()) or "-")
            + " |"
        )
    misses = [o for o in sound if o not in sound_served_right] + [o for o in wrong if o.served]
    if misses:
        lines += ["", "Not as expected:"]
        for o in misses:
            what = f"served ({o.verification})" if o.served else f"refused: {', '.join(o.causes) or o.status}"
            lines.append(f"- {o.entry.expect} {o.entry.file}:{o.entry.id} ({o.entry.family}): {what}")
    return "\n".join(lines)


# The configurations `--all` runs, in order: as deployed; with a weaker check model; with the check off.
ALL_RUNS = (
    ("As deployed: the sandbox, the content gate and the blind check (a careful checker)", 0.0, True),
    ("A weaker check model: one check in ten names a wrong option (seeded)", 0.1, True),
    ("Without the blind check (BLIND_CHECK=0): running the code and the content gate alone", 0.0, False),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checker-errors", type=float, default=0.0, help="share of checks answered wrongly")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--no-check", action="store_true", help="run the server with BLIND_CHECK=0")
    parser.add_argument("--all", action="store_true", help="run the three configurations of ALL_RUNS")
    parser.add_argument("--only", default="", help="run only entries whose id contains this")
    parser.add_argument("--write", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    entries = [entry for entry in corpus_load() if args.only in entry.id]

    def log(message: str) -> None:
        print(f"[quality {time.strftime('%H:%M:%S')}] {message}", flush=True)

    log(f"{len(entries)} entries from {CORPUS_DIR.relative_to(BASE_DIR)}")
    runs = ALL_RUNS if args.all else (("", args.checker_errors, not args.no_check),)
    sections = []
    from harness import django_for_tokens

    with tempfile.TemporaryDirectory(prefix="codedrill-quality-key-") as key_dir:
        signing_key = Path(key_dir) / "dev-signing-key.pem"
        django_for_tokens(signing_key)
        for title, checker_errors, blind_check in runs:
            if title:
                log(title)
            outcomes, meta = run(
                entries,
                signing_key=signing_key,
                checker_errors=checker_errors,
                seed=args.seed,
                blind_check=blind_check,
                log=log,
            )
            text = report(
                outcomes, meta, checker_errors=checker_errors, seed=args.seed, blind_check=blind_check
            )
            print(text, flush=True)
            sections.append(f"## {title}\n\n{text}" if title else text)
    if args.write:
        command = "python bench/quality/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
        args.write.write_text(
            f"# Quality benchmark figures\n\nProduced by `{command}` (`make bench-quality`) on "
            f"{time.strftime('%Y-%m-%d')}. What the runs mean: [TRUSTED_KEYS.md](TRUSTED_KEYS.md#measured-on-a-corpus).\n\n"
            + "\n\n".join(sections)
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
