"""The quality benchmark for generated coding problems: a corpus of model answers through the
production server, counted.

    python bench/quality/coding.py [--only SUBSTR] [--write F]     # part of `make bench-quality`

Each corpus entry (bench/quality/coding_corpus/*.json, one file per topic) is a "write the code"
problem as gpt-4.1-mini and gpt-4o write them: the raw text of the model's answer (`reply`), and
whether the problem is sound or flawed. A flawed entry names the refusal it should get (`cause`):
a miscomputed expected value or a reference that crashes on its own edge case (reference_fails),
tests so weak that the starter code or the wrong solution passes (starter_passes, wrong_passes),
tests that are not literals of the language or an answer cut off (invalid_output, or truncated
when the API says it stopped at its token limit), template text or our own field names in the
statement, hidden tests that only repeat the examples, starter code that is the reference
(content_gate). A sound entry's family is the way its answer is written (plain JSON, fenced, among
prose, code fields fenced). For every entry, in turn:

- a fake OpenAI-compatible server on 127.0.0.1 (this process) answers the app's request for a
  problem with the entry's `reply` as the message's content (and its `finish_reason`, "stop"
  unless the entry says otherwise);
- the production server (gunicorn, DEBUG off, the real SDK over loopback HTTP, the real sandbox)
  is asked by a learner of its own through POST /api/code-challenges;
- what the learner sees is recorded: served (201) or refused, the learner's quota afterwards (a
  refusal must cost nothing), any 5xx, the refusal's cause (and the content gate's rule) from the
  server's log line; for a served problem, whether the served starter code fails when submitted,
  whether the entry's own reference solution passes when submitted, and whether the solution the
  give-up shows is that reference.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# run.py puts the project and bench/ on the import path.
from run import BASE_DIR, QUALITY_DIR, LoopbackModel, _percent, corpus_serve, token_usage

CORPUS_DIR = QUALITY_DIR / "coding_corpus"
TOPICS = ("python", "javascript", "algorithms", "data-structures")
DIFFICULTIES = ("easy", "medium", "hard")
TOPIC_LANGUAGE = {"python": "python", "javascript": "javascript"}
CAUSES = ("reference_fails", "starter_passes", "wrong_passes", "invalid_output", "truncated", "content_gate")
# problems.py's WARNING line for a refused problem; the gate's rule, when there is one, ends it.
REFUSAL = re.compile(r"code problem refused cause=(\S+) .*?learner=(\S+) .*?(?: rule=(\S+))?$", re.MULTILINE)


@dataclass
class Entry:
    id: str
    family: str
    expect: str
    cause: str
    written_like: str
    topic: str
    difficulty: str
    language: str
    reply: str
    finish_reason: str
    file: str


@dataclass
class Outcome:
    entry: Entry
    status: int = 0
    detail: str = ""
    seconds: float = 0.0
    quota_used: int = 0
    refusals: list[tuple[str, str]] = field(default_factory=list)
    starter_passed: bool | None = None
    reference_passed: bool | None = None
    reference_shown_is_own: bool | None = None
    later_statuses: list[int] = field(default_factory=list)

    @property
    def served(self) -> bool:
        return self.status == 201

    @property
    def cause(self) -> str:
        return self.refusals[-1][0] if self.refusals else f"http_{self.status}"

    @property
    def cause_and_rule(self) -> str:
        if not self.refusals:
            return self.cause
        cause, rule = self.refusals[-1]
        return f"{cause}/{rule}" if rule else cause

    def mismatch(self) -> str:
        """Why the outcome is not what the entry expects; "" when it is."""
        if self.entry.expect == "sound":
            if not self.served:
                return f"refused: {self.cause_and_rule} ({self.detail})"
            if not self.reference_passed:
                return "served, but its own reference does not pass when submitted"
            if self.starter_passed:
                return "served, but its starter code passes when submitted"
            if self.reference_shown_is_own is False:
                return "served, but the give-up shows another reference solution"
            return ""
        if self.served:
            return "served"
        if self.cause != self.entry.cause:
            return f"refused as {self.cause_and_rule}, expected {self.entry.cause}"
        return ""


def corpus_load(directory: Path = CORPUS_DIR) -> list[Entry]:
    """Every entry of every corpus file, checked for the fields the benchmark reads."""
    entries: list[Entry] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.json")):
        for raw in json.loads(path.read_text(encoding="utf-8")):
            entry = Entry(
                id=raw["id"],
                family=raw["family"],
                expect=raw["expect"],
                cause=raw.get("cause", ""),
                written_like=raw["written_like"],
                topic=raw["topic"],
                difficulty=raw["difficulty"],
                language=raw["language"],
                reply=raw["reply"],
                finish_reason=raw.get("finish_reason", "stop"),
                file=path.name,
            )
            where = f"{path.name}: {entry.id}"
            if entry.id in seen:
                raise SystemExit(f"{where}: the id is used twice")
            if entry.expect not in ("sound", "flawed"):
                raise SystemExit(f"{where}: expect must be 'sound' or 'flawed'")
            if (entry.expect == "flawed") != (entry.cause in CAUSES):
                raise SystemExit(
                    f"{where}: a flawed entry names its cause ({', '.join(CAUSES)}), a sound one none"
                )
            if entry.topic not in TOPICS or entry.difficulty not in DIFFICULTIES:
                raise SystemExit(f"{where}: unknown topic or difficulty")
            if TOPIC_LANGUAGE.get(entry.topic, entry.language) != entry.language:
                raise SystemExit(
                    f"{where}: a {entry.topic} problem is written in {TOPIC_LANGUAGE[entry.topic]}"
                )
            if not isinstance(entry.reply, str):
                raise SystemExit(f"{where}: the reply is the model's raw text, a string")
            seen.add(entry.id)
            entries.append(entry)
    return entries


# --- the fake model ------------------------------------------------------------------------------


class FakeWriter(LoopbackModel):
    """Answers every chat completion with the current entry's reply, as the model wrote it, and
    its finish reason."""

    def __init__(self) -> None:
        self.requests = 0
        super().__init__()

    def answer(self, request: dict[str, Any]) -> tuple[str, dict[str, int], str, str]:
        prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages") or [])
        with self.lock:
            entry = self.entry
            self.requests += 1
        assert entry is not None, "a request came while no entry was current"
        return entry.reply, token_usage(prompt, entry.reply), entry.finish_reason, "req_quality_coding"


# --- the run ---------------------------------------------------------------------------------------


def run(entries: list[Entry], *, signing_key: Path, log) -> tuple[list[Outcome], dict]:
    """One run of `entries` against a server of its own (a new database). Django must be set up
    for tokens signed with `signing_key` (harness.django_for_tokens), once per process."""
    outcomes, log_text, meta = corpus_serve(
        entries,
        signing_key=signing_key,
        model=FakeWriter(),
        one=_one,
        extra_env={},
        log=log,
        prefix="quality-coding",
    )
    refusals: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for cause, learner, rule in REFUSAL.findall(log_text):
        refusals[learner].append((cause, rule))
    for number, outcome in enumerate(outcomes, 1):
        outcome.refusals = refusals.get(_learner(number), [])
    return outcomes, meta


def _learner(number: int) -> str:
    return f"user_quality_coding_{number:04d}"


def _own_reference(entry: Entry) -> str:
    """The reference solution the entry's reply holds, read as the product reads the reply; ""
    when this process cannot read it (then it is not the served one, and is reported so)."""
    from challengeapp.coding.model_problems import problem_draft_parse
    from challengeapp.core.errors import InvalidModelOutput

    try:
        return problem_draft_parse(entry.reply, language=entry.language).reference_solution
    except InvalidModelOutput:
        return ""


def _one(entry: Entry, *, number: int, server, model: FakeWriter, token_for) -> Outcome:
    from challengeapp.tests.fakes.live_server import http_request

    token = token_for(_learner(number))
    with model.lock:
        model.entry = entry
    started = time.monotonic()
    response = http_request(
        server.url,
        "POST",
        "/api/code-challenges",
        token=token,
        body={"difficulty": entry.difficulty, "topic": entry.topic, "language": entry.language},
        timeout=120,
    )
    outcome = Outcome(entry=entry, status=response.status, seconds=time.monotonic() - started)
    with model.lock:
        model.entry = None
    if response.status != 201:
        outcome.detail = (
            str((response.body or {}).get("detail", "")) if isinstance(response.body, dict) else ""
        )
    else:
        problem = response.body
        base = f"/api/code-challenges/{problem['id']}"

        def post(path: str, body: dict) -> dict:
            answer = http_request(server.url, "POST", base + path, token=token, body=body, timeout=120)
            outcome.later_statuses.append(answer.status)
            return answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}

        reference = _own_reference(entry)
        outcome.starter_passed = bool(post("/submissions", {"code": problem["starter_code"]}).get("passed"))
        outcome.reference_passed = bool(reference) and bool(
            post("/submissions", {"code": reference}).get("passed")
        )
        shown = post("/give-up", {}).get("reference_solution")
        outcome.reference_shown_is_own = shown == reference
    quota = http_request(server.url, "GET", "/api/quota", token=token).body
    outcome.quota_used = int(quota["daily_limit"]) - int(quota["quota_remaining"])
    return outcome


# --- the report ------------------------------------------------------------------------------------


def report(outcomes: list[Outcome], meta: dict) -> str:
    sound = [o for o in outcomes if o.entry.expect == "sound"]
    flawed = [o for o in outcomes if o.entry.expect == "flawed"]
    served = [o for o in outcomes if o.served]
    charged = [o for o in outcomes if not o.served and o.quota_used]
    statuses = [o.status for o in outcomes] + [s for o in outcomes for s in o.later_statuses]
    five_xx = [s for s in statuses if s >= 500 and s not in (502, 503)]
    seconds = [o.seconds for o in outcomes]
    languages = Counter(o.entry.language for o in outcomes)
    lines = [
        f"Corpus: {len(outcomes)} coding problems ({len(sound)} sound, {len(flawed)} flawed; "
        + ", ".join(f"{count} {language}" for language, count in sorted(languages.items()))
        + f"), {len({o.entry.topic for o in outcomes})} topics; "
        f"sandbox: {meta['sandbox']}; {meta['seconds']:.0f} s.",
        "",
        f"- Sound problems served: {_percent(sum(o.served for o in sound), len(sound))}",
        f"- Flawed problems refused: {_percent(sum(not o.served for o in flawed), len(flawed))}, "
        f"with the expected cause: {_percent(sum(not o.served and o.cause == o.entry.cause for o in flawed), len(flawed))}",
        f"- Refusals that cost the learner a quota unit: {len(charged)}; served problems that cost exactly "
        f"one: {_percent(sum(o.quota_used == 1 for o in served), len(served))}",
        f"- Server errors (5xx other than the model's 502/503 refusals): {len(five_xx)}",
        f"- Served problems whose own reference solution passes when submitted: "
        f"{_percent(sum(bool(o.reference_passed) for o in served), len(served))}; "
        f"whose starter code fails when submitted: {_percent(sum(o.starter_passed is False for o in served), len(served))}; "
        f"whose give-up shows that reference: {_percent(sum(bool(o.reference_shown_is_own) for o in served), len(served))}",
        f"- Time to serve or refuse a problem (the POST, with the sandbox's runs when there are any): "
        f"p50 {statistics.median(seconds) if seconds else 0:.2f} s, max {max(seconds, default=0):.2f} s",
        "",
        "| family | expect | entries | served | refused, by cause |",
        "|---|---|---|---|---|",
    ]
    by_family: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_family[(outcome.entry.expect, outcome.entry.family)].append(outcome)
    for (expect, family), group in sorted(
        by_family.items(), key=lambda item: (item[0][0] != "sound", item[0])
    ):
        causes = Counter(o.cause_and_rule for o in group if not o.served)
        lines.append(
            f"| {family} | {expect} | {len(group)} | {sum(o.served for o in group)} | "
            + (", ".join(f"{cause} {count}" for cause, count in sorted(causes.items())) or "-")
            + " |"
        )
    misses = [o for o in outcomes if o.mismatch()]
    lines += ["", "Not as expected: " + ("none." if not misses else "")]
    for o in misses:
        lines.append(
            f"- MISMATCH {o.entry.expect} {o.entry.file}:{o.entry.id} ({o.entry.family}): {o.mismatch()}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run only entries whose id contains this")
    parser.add_argument("--write", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    entries = [entry for entry in corpus_load() if args.only in entry.id]

    def log(message: str) -> None:
        print(f"[quality-coding {time.strftime('%H:%M:%S')}] {message}", flush=True)

    log(f"{len(entries)} entries from {CORPUS_DIR.relative_to(BASE_DIR)}")
    from harness import django_for_tokens

    with tempfile.TemporaryDirectory(prefix="codedrill-quality-key-") as key_dir:
        signing_key = Path(key_dir) / "dev-signing-key.pem"
        django_for_tokens(signing_key)
        outcomes, meta = run(entries, signing_key=signing_key, log=log)
    text = report(outcomes, meta)
    print(text, flush=True)
    if args.write:
        command = "python bench/quality/coding.py " + " ".join(argv if argv is not None else sys.argv[1:])
        args.write.write_text(
            f"# Quality benchmark figures: generated coding problems\n\nProduced by `{command.strip()}` "
            f"(`make bench-quality`) on {time.strftime('%Y-%m-%d')}. Each corpus entry is a model's "
            'answer to a request for a "write the code" problem, sound or flawed in a named way, '
            "asked for by a learner of its own from the production server.\n\n" + text + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
