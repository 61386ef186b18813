"""The daily quota under real concurrency: gunicorn workers and threads in a subprocess, on SQLite
and on PostgreSQL, hammered by requests released together.

Each backend gets one fresh database and one bank-backed server (2 workers × 8 threads, limit 5)
for the module; every test uses its own learner. The test that needs failing generations starts a
second server, with OpenAI pointed at a loopback fake, on the same database — as a second machine
would share it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from challengeapp.tests.fakes.live_fixtures import database_url, mint_token, signing_key_path
from challengeapp.tests.fakes.live_server import (
    LiveServer,
    Response,
    fire_concurrently,
    run_sql,
)

LIMIT = 5
QUOTA_EXCEEDED = "Daily quota exceeded"
GENERATE = "/api/generate-challenge"

_static_collected = False


def _collect_static_once() -> bool:
    """collectstatic takes seconds and its result is the same for every server: run it once."""
    global _static_collected
    first, _static_collected = not _static_collected, True
    return first


# --- fixtures ---------------------------------------------------------------------------------------


def live_server(database_url: str, signing_key_path, **options) -> LiveServer:
    # Most tests here race one learner's requests against their quota, so the bound on one
    # learner's generations in flight is lifted unless a test sets it.
    extra_env = {"GENERATION_MAX_IN_FLIGHT_PER_LEARNER": "100", **options.pop("extra_env", {})}
    return LiveServer(
        database_url=database_url,
        signing_key_path=signing_key_path,
        daily_quota=LIMIT,
        collectstatic=_collect_static_once(),
        extra_env=extra_env,
        **{"workers": 2, "threads": 8, **options},
    )


@pytest.fixture(scope="module")
def bank_server(database_url, signing_key_path) -> Iterator[LiveServer]:
    with live_server(database_url, signing_key_path) as server:
        yield server


# --- helpers ----------------------------------------------------------------------------------------


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()  # the servers run with TIME_ZONE=UTC


def signed_in_learner(server: LiveServer, token: str, database_url: str, clerk_id: str) -> int:
    """First sight of the token creates the learner (and their quota row); their user id."""
    response = server.request("GET", "/api/quota", token=token)
    assert response.status == 200, response
    assert response.body["quota_remaining"] == LIMIT
    rows = run_sql(database_url, "SELECT id FROM auth_user WHERE username = %s", [clerk_id])
    assert len(rows) == 1, rows
    return rows[0][0]


def burst(server: LiveServer, token: str, count: int) -> list[Response]:
    results = fire_concurrently(
        count, lambda: server.request("POST", GENERATE, token=token, body={"difficulty": "easy"})
    )
    errors = [result for result in results if isinstance(result, BaseException)]
    assert not errors, f"{len(errors)} requests failed without an answer: {errors[:3]!r}"
    return results  # type: ignore[return-value]


def statuses(responses: list[Response]) -> Counter:
    return Counter(response.status for response in responses)


def challenge_count(database_url: str, user_id: int) -> int:
    return run_sql(
        database_url, "SELECT COUNT(*) FROM challengeapp_challenge WHERE owner_id = %s", [user_id]
    )[0][0]


def quota_row(database_url: str, user_id: int) -> tuple[int, str]:
    rows = run_sql(database_url, "SELECT used, day FROM challengeapp_quota WHERE user_id = %s", [user_id])
    assert len(rows) == 1, rows
    used, day = rows[0]
    return used, str(day)


def assert_refusals(responses: list[Response]) -> None:
    for response in responses:
        if response.status == 429:
            assert response.detail == QUOTA_EXCEEDED, response
            assert response.body.get("resets_at"), response


# --- a) taking a unit -------------------------------------------------------------------------------


def test_fifty_concurrent_generations_take_exactly_the_daily_limit(bank_server, database_url, mint_token):
    token = mint_token("user_burst_fifty")
    user_id = signed_in_learner(bank_server, token, database_url, "user_burst_fifty")

    responses = burst(bank_server, token, 50)

    assert statuses(responses) == {201: LIMIT, 429: 50 - LIMIT}, [
        (r.status, r.body) for r in responses if r.status not in (201, 429)
    ]
    assert_refusals(responses)
    created_ids = {response.body["id"] for response in responses if response.status == 201}
    assert len(created_ids) == LIMIT
    quota = bank_server.request("GET", "/api/quota", token=token)
    assert quota.status == 200 and quota.body["quota_remaining"] == 0, quota
    assert challenge_count(database_url, user_id) == LIMIT
    assert quota_row(database_url, user_id) == (LIMIT, str(utc_today()))


# --- b) the first requests of a new day reset the count once ---------------------------------------


def test_concurrent_first_requests_of_a_new_day_reset_the_count_once(bank_server, database_url, mint_token):
    token = mint_token("user_new_day")
    user_id = signed_in_learner(bank_server, token, database_url, "user_new_day")
    for _ in range(LIMIT):
        response = bank_server.request("POST", GENERATE, token=token, body={"difficulty": "easy"})
        assert response.status == 201, response
    assert bank_server.request("POST", GENERATE, token=token, body={"difficulty": "easy"}).status == 429

    yesterday = utc_today() - dt.timedelta(days=1)
    run_sql(database_url, "UPDATE challengeapp_quota SET day = %s WHERE user_id = %s", [yesterday, user_id])
    assert quota_row(database_url, user_id) == (LIMIT, str(yesterday))
    assert bank_server.request("GET", "/api/quota", token=token).body["quota_remaining"] == LIMIT

    responses = burst(bank_server, token, 20)

    # A second reset among the racing requests would let more than LIMIT through.
    assert statuses(responses) == {201: LIMIT, 429: 20 - LIMIT}, [
        (r.status, r.body) for r in responses if r.status not in (201, 429)
    ]
    assert_refusals(responses)
    assert quota_row(database_url, user_id) == (LIMIT, str(utc_today()))
    assert challenge_count(database_url, user_id) == 2 * LIMIT


# --- c) giving a unit back --------------------------------------------------------------------------


class FailingOpenAI:
    """A loopback OpenAI-compatible server that answers every chat completion with HTTP 500 and
    counts how many requests it holds at once."""

    def __init__(self, delay: float = 0.05, gate: threading.Event | None = None) -> None:
        self.delay = delay
        self.gate = gate  # when given, every answer waits until it is set
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    fake.requests += 1
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    time.sleep(fake.delay)  # long enough for overlapping requests to be seen
                    if fake.gate is not None:
                        fake.gate.wait(timeout=30)
                    status = 500 if self.path.split("?")[0] == "/v1/chat/completions" else 404
                    payload = json.dumps(
                        {
                            "error": {
                                "message": "The fake always fails.",
                                "type": "server_error",
                                "param": None,
                                "code": None,
                            }
                        }
                    ).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FailingOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def test_failed_generations_give_every_unit_back(database_url, signing_key_path, mint_token):
    from challengeapp.quota import TOO_MANY_FAILURES

    failures_per_day = 8
    token = mint_token("user_upstream_down")
    with (
        FailingOpenAI() as upstream,
        live_server(
            database_url,
            signing_key_path,
            extra_env={
                "OPENAI_API_KEY": "sk-live-server-test",
                "OPENAI_BASE_URL": upstream.base_url,
                "OPENAI_TIMEOUT": "2",
                "GENERATION_FAILURES_PER_DAY": str(failures_per_day),
            },
        ) as server,
    ):
        user_id = signed_in_learner(server, token, database_url, "user_upstream_down")

        responses = burst(server, token, 30)

        counts = statuses(responses)
        # A unit is held while its generation is in flight, so requests racing those first five
        # are refused (429) at that moment; every unit taken comes back once its generation fails.
        assert set(counts) <= {502, 503, 429}, [(r.status, r.body) for r in responses]
        assert counts[502] >= LIMIT, counts
        # Each failure was a billed request: at most GENERATION_FAILURES_PER_DAY of them, across
        # every process and thread, and exactly those are counted.
        assert counts[502] <= failures_per_day, counts
        for response in responses:
            if response.status == 429:
                assert response.detail in (QUOTA_EXCEEDED, TOO_MANY_FAILURES.format(count=failures_per_day))
                assert response.body.get("resets_at"), response
        failures = run_sql(
            database_url, "SELECT failures FROM challengeapp_quota WHERE user_id = %s", [user_id]
        )
        assert failures[0][0] == counts[502], (failures, counts)
        assert upstream.requests >= counts[502]
        # Never more generations in flight than units: taking a unit is atomic.
        assert upstream.max_in_flight <= LIMIT, upstream.max_in_flight

        assert quota_row(database_url, user_id) == (0, str(utc_today()))
        assert challenge_count(database_url, user_id) == 0
        quota = server.request("GET", "/api/quota", token=token)
        assert quota.status == 200 and quota.body["quota_remaining"] == LIMIT, quota


def test_pages_go_on_while_generations_wait_on_the_model(database_url, signing_key_path, mint_token):
    # One process: a thread waiting on the model must not keep its siblings from serving pages.
    # The fake model answers only once the test has seen all four generations waiting on it at
    # once and a quota read answered meanwhile.
    token = mint_token("user_patient")
    gate = threading.Event()
    with (
        FailingOpenAI(gate=gate) as upstream,
        live_server(
            database_url,
            signing_key_path,
            workers=1,
            extra_env={
                "OPENAI_API_KEY": "sk-live-server-test",
                "OPENAI_BASE_URL": upstream.base_url,
                "OPENAI_TIMEOUT": "20",
            },
        ) as server,
    ):
        signed_in_learner(server, token, database_url, "user_patient")
        results: list[Response | BaseException] = []

        def generate() -> None:
            try:
                results.append(server.request("POST", GENERATE, token=token, body={"difficulty": "easy"}))
            except BaseException as error:
                results.append(error)

        generators = [threading.Thread(target=generate) for _ in range(4)]
        for thread in generators:
            thread.start()
        try:
            deadline = time.monotonic() + 15
            while upstream.in_flight < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert upstream.in_flight == 4, f"only {upstream.in_flight} generations reached the model"
            quota = server.request("GET", "/api/quota", token=token)
            assert quota.status == 200, quota
            assert upstream.in_flight == 4  # the read did not wait for them
        finally:
            gate.set()
            for thread in generators:
                thread.join(timeout=30)
        assert [getattr(result, "status", result) for result in results] == [502] * 4


# --- d) one account cannot take every generation slot ----------------------------------------------


LEARNER_BUSY_PREFIX = "You already have 3 challenges being written."


def wait_until(condition, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the condition never held")
        time.sleep(0.02)


def test_one_account_cannot_take_the_generation_slots_of_others(database_url, signing_key_path, mint_token):
    gate = threading.Event()
    flooder = mint_token("user_flooder")
    others = [mint_token(f"user_patient_{n}") for n in range(3)]
    with (
        FailingOpenAI(delay=0, gate=gate) as upstream,
        live_server(
            database_url,
            signing_key_path,
            extra_env={
                "OPENAI_API_KEY": "sk-live-server-test",
                "OPENAI_BASE_URL": upstream.base_url,
                "OPENAI_TIMEOUT": "20",
                "GENERATION_MAX_IN_FLIGHT_PER_LEARNER": "3",
            },
        ) as server,
    ):
        flooder_id = signed_in_learner(server, flooder, database_url, "user_flooder")
        other_ids = [
            signed_in_learner(server, token, database_url, f"user_patient_{n}")
            for n, token in enumerate(others)
        ]
        results: dict[str, list] = {"flooder": [], "others": []}

        def generate(token: str, bucket: str) -> None:
            response = server.request("POST", GENERATE, token=token, body={"difficulty": "easy"}, timeout=60)
            results[bucket].append(response)

        threads = [threading.Thread(target=generate, args=(flooder, "flooder")) for _ in range(20)]
        for thread in threads:
            thread.start()
        # Three of the flood reach the model and wait there; the other seventeen are told at once.
        wait_until(lambda: len(results["flooder"]) == 17 and upstream.in_flight == 3)
        assert all(r.status == 429 and r.detail.startswith(LEARNER_BUSY_PREFIX) for r in results["flooder"])

        other_threads = [threading.Thread(target=generate, args=(token, "others")) for token in others]
        for thread in other_threads:
            thread.start()
        # Every other learner's generation reaches the model too.
        wait_until(lambda: upstream.in_flight == 6)
        gate.set()
        for thread in threads + other_threads:
            thread.join(timeout=60)

        assert statuses(results["flooder"]) == {429: 17, 502: 3}
        assert statuses(results["others"]) == {502: 3}  # the model failed them; nobody said "busy"
        for user_id in [flooder_id, *other_ids]:
            assert quota_row(database_url, user_id) == (0, str(utc_today()))  # no one was charged
            assert challenge_count(database_url, user_id) == 0


# --- Write the code: new problems share the quota, runs are bounded under a burst -----------------

CODE_PROBLEMS = "/api/code-challenges"
RUNS_PER_DAY_PREFIX = "You have run code"
ALREADY_RUNNING_PREFIX = "Your code is already running"
SANDBOX_BUSY_PREFIX = "CodeDrill is running a lot of code"


def code_rows(database_url: str, user_id: int) -> tuple[int, int]:
    """The learner's coding problems and submissions stored."""
    (problems,) = run_sql(
        database_url, "SELECT COUNT(*) FROM challengeapp_codeproblem WHERE owner_id = %s", [user_id]
    )[0]
    (submissions,) = run_sql(
        database_url,
        "SELECT COUNT(*) FROM challengeapp_codesubmission s JOIN challengeapp_codeproblem p"
        " ON s.problem_id = p.id WHERE p.owner_id = %s",
        [user_id],
    )[0]
    return problems, submissions


def run_allowance(database_url: str, user_id: int) -> tuple[int, int]:
    """The learner's runs counted today and runs in flight."""
    rows = run_sql(
        database_url,
        "SELECT runs, in_flight FROM challengeapp_coderunallowance WHERE user_id = %s",
        [user_id],
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_coding_problems_and_challenges_asked_for_together_take_exactly_the_daily_limit(
    bank_server, database_url, mint_token
):
    token = mint_token("user_burst_mixed")
    user_id = signed_in_learner(bank_server, token, database_url, "user_burst_mixed")

    numbers = itertools.count()  # next() on it is atomic: each thread gets its own number

    def ask():
        if next(numbers) % 2:
            return bank_server.request(
                "POST", CODE_PROBLEMS, token=token, body={"difficulty": "easy", "topic": "algorithms"}
            )
        return bank_server.request("POST", GENERATE, token=token, body={"difficulty": "easy"})

    responses = fire_concurrently(24, ask)
    assert not [r for r in responses if isinstance(r, BaseException)], responses
    assert statuses(responses) == {201: LIMIT, 429: 24 - LIMIT}, [(r.status, r.body) for r in responses]
    assert_refusals(responses)
    problems, _ = code_rows(database_url, user_id)
    assert problems + challenge_count(database_url, user_id) == LIMIT
    assert quota_row(database_url, user_id) == (LIMIT, str(utc_today()))


def submission_burst(server: LiveServer, database_url: str, mint_token, clerk_id: str, count: int):
    """A new learner with a new problem sends `count` submissions of its starter code at once:
    their user id and the answers."""
    token = mint_token(clerk_id)
    user_id = signed_in_learner(server, token, database_url, clerk_id)
    created = server.request(
        "POST", CODE_PROBLEMS, token=token, body={"difficulty": "easy", "topic": "python"}
    )
    assert created.status == 201, created
    path, starter = f"{CODE_PROBLEMS}/{created.body['id']}/submissions", created.body["starter_code"]
    responses = fire_concurrently(
        count, lambda: server.request("POST", path, token=token, body={"code": starter}, timeout=90)
    )
    assert not [r for r in responses if isinstance(r, BaseException)], responses
    return user_id, responses


def test_a_burst_of_one_learners_submissions_runs_one_at_a_time_and_counts_only_what_ran(
    sandbox, bank_server, database_url, mint_token
):
    user_id, responses = submission_burst(bank_server, database_url, mint_token, "user_burst_code", 10)

    ran = [r for r in responses if r.status == 200]
    assert ran and all(r.body["passed"] is False and r.body["tests_total"] for r in ran)
    for response in responses:
        if response.status != 200:
            assert response.status == 429, response
            assert response.detail.startswith((ALREADY_RUNNING_PREFIX, SANDBOX_BUSY_PREFIX)), response
    # Every run that was answered is stored and counted; nothing refused is; no slot is left held.
    assert code_rows(database_url, user_id) == (1, len(ran))
    assert run_allowance(database_url, user_id) == (len(ran), 0)


def test_a_burst_past_the_daily_runs_never_runs_more_than_the_day_allows(
    sandbox, database_url, signing_key_path, mint_token
):
    day_of_three = {
        "CODE_RUNS_PER_DAY": "3",
        "CODE_RUNS_IN_FLIGHT_PER_LEARNER": "50",
        "CODE_QUEUE_SECONDS": "20",
    }
    with live_server(database_url, signing_key_path, extra_env=day_of_three) as server:
        user_id, responses = submission_burst(server, database_url, mint_token, "user_burst_runs_day", 12)

    assert statuses(responses) == {200: 3, 429: 9}, [(r.status, r.body) for r in responses]
    assert all(r.detail.startswith(RUNS_PER_DAY_PREFIX) for r in responses if r.status == 429)
    assert code_rows(database_url, user_id) == (1, 3)
    assert run_allowance(database_url, user_id) == (3, 0)


# --- An answer racing an operator's correction ------------------------------------------------------
# In this process, on the test database (PostgreSQL when DATABASE_URL names one): the answer is held
# at the moment it has read the key, and the correction must wait for it, then grade it again.


@pytest.mark.django_db(transaction=True)
def test_an_answer_racing_a_correction_is_graded_against_the_key_stored_when_it_is_written(monkeypatch):
    from django.db import connection

    from challengeapp.content.reports import content_correct_key
    from challengeapp.learning import attempts
    from challengeapp.models import Attempt, Challenge
    from challengeapp.tests.conftest import make_learner

    if connection.vendor == "sqlite":
        # The SQLite test database is in memory with a shared cache, where a second writer fails at
        # once instead of waiting; the server's SQLite file makes writers queue (IMMEDIATE).
        pytest.skip(
            "needs PostgreSQL (DATABASE_URL=postgres://…): the in-memory SQLite test database cannot wait on a lock"
        )

    def serve(owner) -> Challenge:
        return Challenge.objects.create(
            owner=owner,
            difficulty="easy",
            topic="python",
            title="What does this print?",
            question="print(1 + 2)",
            options=["1", "2", "3", "4"],
            correct_index=1,  # wrong: it prints 3
            explanation="Addition.",
            provider="bank",
            source_key="bank:race",
            verification="curated",
        )

    learner, other = make_learner("user_race_a"), make_learner("user_race_b")
    answered, later = serve(learner), serve(other)
    holding, release = threading.Event(), threading.Event()
    read_key = attempts._key_now

    def key_read_then_held(challenge):
        key = read_key(challenge)
        holding.set()
        release.wait(10)
        return key

    monkeypatch.setattr(attempts, "_key_now", key_read_then_held)
    outcome: dict[str, object] = {}

    def answer() -> None:
        try:
            # Loaded before the correction, as the page loads it before the learner's POST.
            stale = Challenge.objects.get(pk=answered.pk)
            outcome["attempt"] = attempts.attempt_record(challenge=stale, chosen_index=2)[0]
        except Exception as error:  # pragma: no cover - reported below
            outcome["answer_error"] = error
        finally:
            connection.close()

    def correction() -> None:
        try:
            content_correct_key(source_key="bank:race", example_id=later.pk, option_index=2, operator="ops")
            outcome["corrected_at"] = time.monotonic()
        except Exception as error:  # pragma: no cover - reported below
            outcome["correction_error"] = error
        finally:
            connection.close()

    answering = threading.Thread(target=answer)
    answering.start()
    assert holding.wait(10)
    correcting = threading.Thread(target=correction)
    correcting.start()
    time.sleep(0.5)
    # The answer has read the key and not yet written: the correction waits for it.
    assert "corrected_at" not in outcome
    released_at = time.monotonic()
    release.set()
    answering.join(10)
    correcting.join(10)

    assert "answer_error" not in outcome and "correction_error" not in outcome, outcome
    assert outcome["corrected_at"] >= released_at
    attempt = Attempt.objects.get(challenge=answered)
    assert attempt.is_correct and attempt.regraded_at is not None
    answered.refresh_from_db()
    assert answered.options[answered.correct_index] == "3"


@pytest.mark.django_db(transaction=True)
def test_an_answer_written_after_a_correction_it_did_not_see_is_graded_against_the_new_key():
    from challengeapp.content.reports import content_correct_key
    from challengeapp.learning.attempts import attempt_record
    from challengeapp.models import Challenge
    from challengeapp.tests.conftest import make_learner

    learner = make_learner("user_race_c")
    challenge = Challenge.objects.create(
        owner=learner,
        difficulty="easy",
        topic="python",
        title="What does this print?",
        question="print(1 + 2)",
        options=["1", "2", "3", "4"],
        correct_index=1,
        explanation="Addition.",
        provider="bank",
        source_key="bank:race-late",
        verification="curated",
    )
    stale = Challenge.objects.get(pk=challenge.pk)  # the page read the key before the correction
    content_correct_key(source_key="bank:race-late", example_id=challenge.pk, option_index=2, operator="ops")

    attempt, _ = attempt_record(challenge=stale, chosen_index=2)

    assert attempt.is_correct
