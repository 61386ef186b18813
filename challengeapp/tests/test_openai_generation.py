"""Generation end to end: the pages and the JSON API, through the real openai SDK, over real HTTP,
against the fake OpenAI server on 127.0.0.1. Each test checks what is stored (Challenge rows), what
the quota shows, and what the learner sees."""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from challengeapp.core import drafts
from challengeapp.generation import budget, openai_provider, parsing
from challengeapp.generation.pipeline import challenge_generate
from challengeapp.models import Challenge
from challengeapp.quality import content_gate
from challengeapp.quota import quota_status
from challengeapp.tests.conftest import signed_in
from challengeapp.tests.fakes.openai_server import (
    DEFAULT_MODEL,
    Behaviour,
    ErrorReply,
    FakeOpenAIServer,
    Hang,
    Reply,
    closed_port_url,
)
from challengeapp.tests.test_api import bearer
from challengeapp.tests.test_openai_provider import (
    LLAMA_CPP_PYTHON_FORMAT_ERROR,
    json_schema_refused_with_500,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
GENERATE = {"difficulty": "medium", "topic": "data-structures"}
GENERATION_LOGGER = "challengeapp.generation"
FALLBACK_LABEL = "From the built-in bank: the AI model was unavailable"

CHALLENGE: dict[str, Any] = {
    "title": "Deque rotation",
    "question": "What does this program print?",
    "code": "from collections import deque\nd = deque([1, 2, 3, 4])\nd.rotate(1)\nprint(list(d))",
    "language": "python",
    "options": ["[4, 1, 2, 3]", "[2, 3, 4, 1]", "[1, 2, 3, 4]", "TypeError"],
    "correct_index": 0,
    "explanation": "rotate(1) moves the last item to the front. [2, 3, 4, 1] is rotate(-1).",
}
CONTENT = json.dumps(CHALLENGE)
USAGE = {"prompt_tokens": 321, "completion_tokens": 123, "total_tokens": 444}

# --- Hostile model output: valid text, so it is stored as given; it must only ever show as text. --

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(2)>"
XSS_SVG = '"><svg onload=alert(3)>'
# The same attacks aimed at the browser test's canary, for when a dialog would go unnoticed.
XSS_SCRIPT_CANARY = "<script>window.__xss=1</script>"
XSS_IMG_CANARY = '<img src=x onerror="window.__xss=1;alert(4)">'
XSS_SVG_CANARY = '\'><svg onload="window.__xss=1;alert(5)">'

HOSTILE: dict[str, Any] = {
    "title": f"{XSS_SCRIPT}{XSS_IMG}{XSS_SVG}",
    "question": (
        f"Which of these is safe? {XSS_SCRIPT} {XSS_IMG} {XSS_SVG}\n"
        f'<b>bold</b> <a href="javascript:window.__xss=1">click me</a> {XSS_SCRIPT_CANARY} '
        f'{XSS_IMG_CANARY} {XSS_SVG_CANARY} <iframe srcdoc="{XSS_SCRIPT_CANARY}"></iframe> '
        "<style>body{display:none}</style>"
    ),
    "code": f"{XSS_SCRIPT}\n{XSS_IMG}\n{XSS_SVG}\n</code></pre>{XSS_SCRIPT_CANARY}\n{XSS_IMG_CANARY}",
    "language": "html",
    "options": [XSS_SCRIPT, XSS_IMG, XSS_SVG, XSS_IMG_CANARY],
    "correct_index": 1,
    "explanation": f"Because {XSS_SCRIPT} {XSS_IMG} {XSS_SVG}</p>{XSS_SCRIPT_CANARY}{XSS_SVG_CANARY}",
}
HOSTILE_CONTENT = json.dumps(HOSTILE)
# Raw markup from the payload; none of it may reach a page unescaped.
HOSTILE_RAW_MARKUP = [
    "<script>alert",
    "<script>window",
    "<img",
    "<svg",
    "<iframe",
    "<style>body",
    "<b>bold",
    '<a href="javascript',
    "</code></pre><script",
]
# The escaped forms that must appear wherever the payload is shown.
HOSTILE_ESCAPED = [escape(XSS_SCRIPT), escape(XSS_IMG), escape(XSS_SVG)]


# --- Helpers -------------------------------------------------------------------------------------

VOID_ELEMENTS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class _ElementText(HTMLParser):
    """The text (entities decoded, as a browser shows it) of the first element with an id."""

    def __init__(self, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0
        self.found = False
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_ELEMENTS:
            return
        if self.depth:
            self.depth += 1
        elif not self.found and dict(attrs).get("id") == self.element_id:
            self.found, self.depth = True, 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <x/>: opens and closes nothing

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID_ELEMENTS and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def element_text(html: str, element_id: str) -> str:
    parser = _ElementText(element_id)
    parser.feed(html)
    parser.close()
    assert parser.found, f"no element with id={element_id!r} in the page"
    return " ".join("".join(parser.parts).split())


def body(response) -> str:
    return response.content.decode()


def has_try_again_button(html: str) -> bool:
    return re.search(r"<button[^>]*>\s*Try again\s*</button>", html) is not None


def generation_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == GENERATION_LOGGER and record.levelno == logging.WARNING
    ]


def api_generate(learner, data: dict[str, Any] = GENERATE):
    return Client().post(
        "/api/generate-challenge", json.dumps(data), content_type="application/json", **bearer(learner)
    )


def assert_stored_from_model(challenge: Challenge, answer: dict[str, Any] = CHALLENGE) -> None:
    assert challenge.provider == "openai" and not challenge.is_fallback
    assert challenge.model_name == DEFAULT_MODEL
    assert (challenge.prompt_tokens, challenge.completion_tokens, challenge.total_tokens) == (321, 123, 444)
    assert (
        challenge.title,
        challenge.question,
        challenge.code,
        challenge.code_language,
        challenge.explanation,
    ) == (
        answer["title"],
        answer["question"],
        answer["code"],
        answer["language"],
        answer["explanation"],
    )
    assert sorted(challenge.options) == sorted(answer["options"])
    assert challenge.options[challenge.correct_index] == answer["options"][answer["correct_index"]]


@pytest.fixture(autouse=True)
def _warnings_captured(caplog):
    caplog.set_level(logging.WARNING, logger=GENERATION_LOGGER)


@pytest.fixture(autouse=True)
def _no_remembered_formats():
    # What a server refused is remembered per process; each test starts, and leaves, with none.
    openai_provider._remembered_formats.clear()
    yield
    openai_provider._remembered_formats.clear()


def request_errors(caplog) -> list[str]:
    """What Django's request logger said (it logs every 5xx at ERROR unless told otherwise)."""
    return [record.getMessage() for record in caplog.records if record.name == "django.request"]


def gate_nonsense(**changes: Any) -> Reply:
    return Reply(json.dumps({**CHALLENGE, **changes}), request_id="req_fault_nonsense")


# --- A valid model answer ------------------------------------------------------------------------


def test_a_valid_answer_via_the_page_without_javascript(
    learner_client, learner, fake_openai: FakeOpenAIServer
):
    fake_openai.enqueue(Reply(CONTENT, usage=USAGE))

    response = learner_client.post("/challenges/generate/", GENERATE)

    challenge = Challenge.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/challenges/{challenge.id}/"
    assert_stored_from_model(challenge)
    assert quota_status(user=learner).used == 1
    card = element_text(body(learner_client.get(response["Location"])), "challenge-card")
    assert "AI-generated" in card and CHALLENGE["title"] in card and CHALLENGE["question"] in card
    assert all(option in card for option in CHALLENGE["options"])


def test_a_valid_answer_via_htmx(learner_client, learner, fake_openai: FakeOpenAIServer):
    fake_openai.enqueue(Reply(CONTENT, usage=USAGE))

    response = learner_client.post("/challenges/generate/", GENERATE, **HTMX)

    assert response.status_code == 200
    assert_stored_from_model(Challenge.objects.get())
    assert quota_status(user=learner).used == 1
    html = body(response)
    panel = element_text(html, "challenge-panel")
    assert "AI-generated" in panel and CHALLENGE["title"] in panel
    assert "49 of 50" in element_text(html, "quota-status")  # swapped out of band


def test_a_valid_answer_via_the_api(learner, fake_openai: FakeOpenAIServer):
    fake_openai.enqueue(Reply(CONTENT, usage=USAGE))

    response = api_generate(learner)

    assert response.status_code == 201
    challenge = Challenge.objects.get()
    assert_stored_from_model(challenge)
    data = response.json()
    assert (data["id"], data["provider"], data["title"]) == (challenge.id, "openai", CHALLENGE["title"])
    assert data["options"][data["correct_answer_id"]] == CHALLENGE["options"][CHALLENGE["correct_index"]]
    assert quota_status(user=learner).used == 1


# --- Upstream faults: nothing stored, nothing charged, one log line, a readable message ----------


@dataclass(frozen=True)
class Fault:
    name: str
    cause: str
    message: str
    request_id: str  # as logged; "-" when no answer ever came
    behaviour: Behaviour | None = None  # answers every request (retries included)
    timeout: float | None = None
    refused: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    budget: float | None = None
    rule: str | None = None  # the content gate's, when it refused
    upstream_message: str | None = None  # the server's own message, as logged

    def arrange(self, fake: FakeOpenAIServer, settings, monkeypatch) -> None:
        fake.default = self.behaviour
        if self.timeout is not None:
            settings.OPENAI_TIMEOUT = self.timeout
        if self.budget is not None:
            settings.GENERATION_BUDGET_SECONDS = self.budget
        if self.refused:
            monkeypatch.setenv("OPENAI_BASE_URL", closed_port_url())


FAULTS = [
    Fault("timeout", "timeout", openai_provider.TIMED_OUT, "-", behaviour=Hang(10), timeout=0.5),
    Fault("connection refused", "connection", openai_provider.CONNECTION_FAILED, "-", refused=True),
    Fault(
        "401",
        "auth",
        openai_provider.AUTH_FAILED,
        "req_fault_401",
        behaviour=ErrorReply(
            401,
            "Incorrect API key provided.",
            type="invalid_request_error",
            code="invalid_api_key",
            request_id="req_fault_401",
        ),
    ),
    Fault(
        "429",
        "rate_limit",
        openai_provider.RATE_LIMITED,
        "req_fault_429",
        behaviour=ErrorReply(
            429,
            "Rate limit reached.",
            type="requests",
            code="rate_limit_exceeded",
            request_id="req_fault_429",
            headers={"retry-after-ms": "1"},
        ),
    ),
    Fault(
        "budget",
        "budget",
        budget.BUDGET_SPENT,
        "-",
        behaviour=Hang(10),
        budget=0.5,  # shorter than OPENAI_TIMEOUT: the budget ends it
    ),
    Fault(
        "500",
        "upstream_5xx",
        openai_provider.UPSTREAM_FAILED,
        "req_fault_500",
        behaviour=ErrorReply(500, request_id="req_fault_500"),
        upstream_message="Something went wrong.",
    ),
    Fault(
        "503",
        "upstream_5xx",
        openai_provider.UPSTREAM_FAILED,
        "req_fault_503",
        behaviour=ErrorReply(503, "The engine is currently overloaded.", request_id="req_fault_503"),
    ),
    Fault(
        "refusal",
        "refusal",
        openai_provider.REFUSED,
        "req_fault_refusal",
        behaviour=Reply(None, refusal="I can't help with that.", request_id="req_fault_refusal"),
    ),
    Fault(
        "length",
        "truncated",
        openai_provider.TRUNCATED,
        "req_fault_length",
        behaviour=Reply(CONTENT[:80], finish_reason="length", request_id="req_fault_length"),
    ),
    Fault(
        "not JSON",
        "invalid_output",
        openai_provider.INVALID_ANSWER.format(reason=parsing.NO_JSON_OBJECT),
        "req_fault_prose",
        behaviour=Reply(
            "Sure! Here is a question about deques: what does rotate do?", request_id="req_fault_prose"
        ),
    ),
    Fault(
        "3 options",
        "invalid_output",
        openai_provider.INVALID_ANSWER.format(reason=drafts.WRONG_OPTION_COUNT),
        "req_fault_3_options",
        behaviour=Reply(
            json.dumps({**CHALLENGE, "options": CHALLENGE["options"][:3]}), request_id="req_fault_3_options"
        ),
    ),
    Fault(
        "JSON array",
        "invalid_output",
        openai_provider.INVALID_ANSWER.format(reason=parsing.ARRAY_NOT_OBJECT),
        "req_fault_array",
        behaviour=Reply(json.dumps([CHALLENGE]), request_id="req_fault_array"),
    ),
    # Valid JSON, valid challenges by shape, and nonsense: the content gate refuses them.
    *(
        Fault(
            f"gate {rule}",
            "content_gate",
            content_gate.CONTENT_REFUSED,
            "-",
            behaviour=gate_nonsense(**changes),
            rule=rule,
        )
        for rule, changes in [
            (content_gate.RULE_PLACEHOLDER, {"question": "What does [placeholder] print?"}),
            (
                content_gate.RULE_OF_THE_ABOVE,
                {"options": ["[4, 1, 2, 3]", "[2, 3, 4, 1]", "All of the above", "None of the above"]},
            ),
            (content_gate.RULE_NO_WORDS, {"question": "1.2.3.1.1.1"}),
            (content_gate.RULE_TITLE_ONLY_TOPIC, {"title": "Data Structures"}),
            (
                content_gate.RULE_OPTION_IS_CODE,
                {"options": [CHALLENGE["options"][0], CHALLENGE["code"], "[1, 2, 3, 4]", "TypeError"]},
            ),
            (
                content_gate.RULE_EXPLANATION_CONTRADICTS_KEY,
                {"explanation": "The correct answer is B: rotate(1) moves the first item to the end."},
            ),
        ]
    ),
]
FAULT_IDS = [fault.name for fault in FAULTS]


@pytest.fixture
def failing_model(request, fake_openai: FakeOpenAIServer, settings, monkeypatch) -> Fault:
    fault: Fault = request.param
    fault.arrange(fake_openai, settings, monkeypatch)
    return fault


def assert_cost_nothing_and_logged_once(fault: Fault, learner, caplog) -> None:
    assert Challenge.objects.count() == 0
    assert quota_status(user=learner).used == 0
    [line] = generation_warnings(caplog)
    assert line.startswith("generation failed ")
    assert f"cause={fault.cause} " in line
    assert f"upstream_request_id={fault.request_id} " in line
    if fault.rule:
        assert line.endswith(f" rule={fault.rule}")
    if fault.upstream_message:
        assert line.endswith(f" upstream_message={fault.upstream_message}")
    # The 502 is chosen and already logged: no second line, and no ERROR to trip an alert.
    assert request_errors(caplog) == []


@pytest.mark.parametrize("failing_model", FAULTS, ids=FAULT_IDS, indirect=True)
def test_a_failing_model_on_the_page_without_javascript(
    failing_model: Fault, learner_client, learner, caplog
):
    response = learner_client.post("/challenges/generate/", GENERATE)

    assert response.status_code == 502
    html = body(response)
    assert escape(failing_model.message) in html
    assert failing_model.message in element_text(html, "challenge-panel")
    assert has_try_again_button(html)
    assert "50 of 50" in element_text(html, "quota-status")
    assert_cost_nothing_and_logged_once(failing_model, learner, caplog)


@pytest.mark.parametrize("failing_model", FAULTS, ids=FAULT_IDS, indirect=True)
def test_a_failing_model_via_htmx(failing_model: Fault, learner_client, learner, caplog):
    response = learner_client.post("/challenges/generate/", GENERATE, **HTMX)

    # htmx swaps only 2xx answers, so the message comes as the panel's content.
    assert response.status_code == 200
    html = body(response)
    assert failing_model.message in element_text(html, "challenge-panel")
    assert has_try_again_button(html)
    assert "50 of 50" in element_text(html, "quota-status")
    assert_cost_nothing_and_logged_once(failing_model, learner, caplog)


@pytest.mark.parametrize("failing_model", FAULTS, ids=FAULT_IDS, indirect=True)
def test_a_failing_model_via_the_api(failing_model: Fault, learner, caplog):
    response = api_generate(learner)

    assert response.status_code == 502
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": failing_model.message}
    assert_cost_nothing_and_logged_once(failing_model, learner, caplog)


def test_a_timed_out_generation_gives_up_after_one_retry(learner_client, fake_openai, settings, caplog):
    settings.OPENAI_TIMEOUT = 0.5
    fake_openai.default = Hang(10)
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")

    response = learner_client.post("/challenges/generate/", GENERATE)

    assert response.status_code == 502
    assert len(fake_openai.chat_requests) == 2  # one retry at most
    # Our timeout ended it, not the fake hanging up after 10 s.
    lines = [r.getMessage() for r in caplog.records if r.name == "challengeapp.generation"]
    assert len(lines) == 1 and "cause=timeout" in lines[0]


def test_a_real_500_is_still_logged_at_error(learner, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("challengeapp.views.challenge_generate", broken)
    client = signed_in(Client(raise_request_exception=False), learner)

    response = client.post("/challenges/generate/", GENERATE)

    assert response.status_code == 500
    [record] = [record for record in caplog.records if record.name == "django.request"]
    assert record.levelno == logging.ERROR and "Internal Server Error" in record.getMessage()


# --- A server that refuses json_schema with a 500 (llama-cpp-python's server) ---------------------


def test_a_server_refusing_json_schema_with_a_500_is_served_through_json_object(
    learner, fake_openai: FakeOpenAIServer, caplog
):
    fake_openai.default = json_schema_refused_with_500(Reply(CONTENT, usage=USAGE))
    first = api_generate(learner)
    other = {**CHALLENGE, "question": "What does this program print after rotate(1)?"}
    fake_openai.default = json_schema_refused_with_500(Reply(json.dumps(other), usage=USAGE))
    second = api_generate(learner)

    assert (first.status_code, second.status_code) == (201, 201)
    assert Challenge.objects.count() == 2
    assert_stored_from_model(Challenge.objects.order_by("id").first())
    assert quota_status(user=learner).used == 2
    # The second generation asks with json_object first: the refusal was remembered.
    assert [sent.response_format["type"] for sent in fake_openai.chat_requests] == [
        "json_schema",
        "json_object",
        "json_object",
    ]
    assert generation_warnings(caplog) == []


def test_a_server_refusing_both_formats_is_refused_at_no_cost_with_its_reason(
    learner_client, learner, fake_openai: FakeOpenAIServer, caplog
):
    fake_openai.default = json_schema_refused_with_500(
        ErrorReply(400, "'response_format.type' must be 'json_schema' or 'text'", request_id="req_lms")
    )

    response = learner_client.post("/challenges/generate/", GENERATE)

    assert response.status_code == 502
    assert openai_provider.UNSUPPORTED_FORMAT in element_text(body(response), "challenge-panel")
    assert quota_status(user=learner).used == 0 and Challenge.objects.count() == 0
    [line] = generation_warnings(caplog)
    assert "cause=unsupported_format upstream_request_id=req_lms" in line.replace("provider=openai ", "")
    assert line.endswith("upstream_message='response_format.type' must be 'json_schema' or 'text'")


def test_an_ordinary_500_is_still_refused_at_no_cost(learner, fake_openai: FakeOpenAIServer, caplog):
    fake_openai.default = ErrorReply(500, "The server had an error while processing your request.")

    response = api_generate(learner)

    assert response.status_code == 502
    assert response.json() == {"detail": openai_provider.UPSTREAM_FAILED}
    assert quota_status(user=learner).used == 0 and Challenge.objects.count() == 0
    [line] = generation_warnings(caplog)
    assert "cause=upstream_5xx " in line
    assert line.endswith("upstream_message=The server had an error while processing your request.")
    assert LLAMA_CPP_PYTHON_FORMAT_ERROR not in line


# --- Fallback to the bank ------------------------------------------------------------------------


@pytest.fixture
def model_down(fake_openai: FakeOpenAIServer, settings) -> FakeOpenAIServer:
    settings.GENERATION_FALLBACK_TO_BANK = True
    fake_openai.default = ErrorReply(503, "Overloaded.", request_id="req_down")
    return fake_openai


def assert_labelled_fallback(learner, caplog) -> Challenge:
    challenge = Challenge.objects.get()
    assert challenge.is_fallback is True and challenge.provider == "bank"
    assert quota_status(user=learner).used == 0
    [line] = generation_warnings(caplog)
    assert "cause=upstream_5xx " in line and "upstream_request_id=req_down " in line
    return challenge


def test_fallback_page_without_javascript_shows_a_labelled_bank_challenge(
    model_down, learner_client, learner, caplog
):
    response = learner_client.post("/challenges/generate/", GENERATE)

    challenge = assert_labelled_fallback(learner, caplog)
    assert response.status_code == 302 and response["Location"] == f"/challenges/{challenge.id}/"
    card = element_text(body(learner_client.get(response["Location"])), "challenge-card")
    assert FALLBACK_LABEL in card and "AI-generated" not in card
    assert challenge.title in card


def test_fallback_via_htmx_shows_a_labelled_bank_challenge(model_down, learner_client, learner, caplog):
    response = learner_client.post("/challenges/generate/", GENERATE, **HTMX)

    assert response.status_code == 200
    challenge = assert_labelled_fallback(learner, caplog)
    panel = element_text(body(response), "challenge-panel")
    assert FALLBACK_LABEL in panel and challenge.title in panel
    assert "50 of 50" in element_text(body(response), "quota-status")


def test_fallback_via_the_api(model_down, learner, caplog):
    response = api_generate(learner)

    assert response.status_code == 201
    challenge = assert_labelled_fallback(learner, caplog)
    assert (response.json()["id"], response.json()["provider"]) == (challenge.id, "bank")


# --- The server's shuffle undoes a model's bias ----------------------------------------------------


def test_a_model_that_always_picks_b_still_gives_evenly_spread_answers(
    learner, fake_openai: FakeOpenAIServer, settings
):
    settings.DAILY_CHALLENGE_QUOTA = 1000
    options = ["O(1)", "O(log n)", "O(n)", "O(n log n)"]
    numbers = itertools.count(1)

    def always_b(request) -> Reply:
        number = next(numbers)
        return Reply(
            json.dumps(
                {
                    "title": f"Binary search cost {number}",
                    "question": f"Question {number}: how long does a binary search take?",
                    "code": "",
                    "language": "",
                    "options": options,
                    "correct_index": 1,
                    "explanation": "Each step halves the range; O(n) is a linear scan.",
                }
            )
        )

    fake_openai.default = always_b
    generations = 400

    for _ in range(generations):
        challenge_generate(user=learner, difficulty="easy", topic="algorithms")

    challenges = list(Challenge.objects.filter(owner=learner))
    assert len(challenges) == generations and len(fake_openai.chat_requests) == generations
    assert all(challenge.options[challenge.correct_index] == "O(log n)" for challenge in challenges)
    assert all(sorted(challenge.options) == sorted(options) for challenge in challenges)
    positions = Counter(challenge.correct_index for challenge in challenges)
    # Binomial(400, 1/4): mean 100, sd 8.7; ±40 is 4.6 sd, so an unbiased shuffle fails ~1 in 60,000 runs.
    assert all(60 <= positions[index] <= 140 for index in range(4)), positions
    assert quota_status(user=learner).used == generations


# --- A question the learner already has ------------------------------------------------------------


def test_a_repeated_question_is_asked_for_again_once_and_the_new_one_stored(
    learner_client, learner, fake_openai: FakeOpenAIServer
):
    fake_openai.enqueue(Reply(CONTENT, usage=USAGE))
    assert learner_client.post("/challenges/generate/", GENERATE).status_code == 302
    first = Challenge.objects.get()
    fresh = {
        **CHALLENGE,
        "title": "Deque maxlen",
        "question": "What does deque([1, 2, 3], maxlen=2) hold?",
        "code": "",
        "language": "",
        "options": ["deque([2, 3])", "deque([1, 2])", "ValueError", "deque([1, 2, 3])"],
    }
    # Same question, re-titled and re-spaced: still the same question.
    repeat = {**CHALLENGE, "title": "Rotating a deque", "question": "  WHAT does this   program print? "}
    fake_openai.enqueue(Reply(json.dumps(repeat), usage=USAGE), Reply(json.dumps(fresh), usage=USAGE))

    response = learner_client.post("/challenges/generate/", GENERATE)

    assert len(fake_openai.chat_requests) == 3  # one for the first, two for the second
    second = Challenge.objects.exclude(id=first.id).get()
    assert response["Location"] == f"/challenges/{second.id}/"
    assert_stored_from_model(second, fresh)
    assert quota_status(user=learner).used == 2


# --- What the model is told ------------------------------------------------------------------------


def make_challenge(owner, *, title: str, topic: str = "data-structures", key: str) -> Challenge:
    return Challenge.objects.create(
        owner=owner,
        difficulty="easy",
        topic=topic,
        title=title,
        question=f"About {title}?",
        options=["a", "b", "c", "d"],
        correct_index=0,
        explanation="Because.",
        provider="bank",
        source_key=key,
    )


def test_the_prompt_names_the_model_schema_choice_and_recent_titles(
    learner_client, learner, other_learner, fake_openai, settings
):
    settings.OPENAI_MODEL = "gpt-test-model"
    make_challenge(learner, title="Stack versus queue", key="k1")
    make_challenge(learner, title="Hash map collisions", key="k2")
    make_challenge(other_learner, title="Someone else's heap question", key="k3")
    fake_openai.enqueue(Reply(CONTENT, usage=USAGE))

    response = learner_client.post(
        "/challenges/generate/", {"difficulty": "hard", "topic": "data-structures"}
    )

    assert response.status_code == 302
    [sent] = fake_openai.chat_requests
    assert sent.body["model"] == "gpt-test-model"
    response_format = sent.response_format
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {
        "title",
        "question",
        "code",
        "language",
        "options",
        "correct_index",
        "explanation",
        "answer_kind",
    }
    prompt = sent.prompt_text
    assert "Write one hard multiple-choice question about Data structures." in prompt
    assert "- Stack versus queue" in prompt and "- Hash map collisions" in prompt
    assert "Someone else's heap question" not in prompt  # another learner's history stays private
    assert sent.headers["authorization"] == "Bearer sk-test"


# --- Hostile model output ------------------------------------------------------------------------


def assert_shown_only_as_text(html: str, *, escaped: list[str] = HOSTILE_ESCAPED) -> None:
    leaked = [markup for markup in HOSTILE_RAW_MARKUP if markup in html]
    assert leaked == [], f"raw markup from the model reached the page: {leaked}"
    # The page's own scripts are all external files (CSP: script-src 'self').
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    for form in escaped:
        assert form in html


def test_hostile_model_output_is_stored_as_given_and_shown_only_as_text(
    learner_client, learner, fake_openai: FakeOpenAIServer
):
    fake_openai.enqueue(Reply(HOSTILE_CONTENT, usage=USAGE))

    generated = learner_client.post("/challenges/generate/", GENERATE, **HTMX)

    challenge = Challenge.objects.get()
    assert_stored_from_model(challenge, HOSTILE)
    assert_shown_only_as_text(body(generated))
    assert element_text(body(generated), f"challenge-title-{challenge.id}") == HOSTILE["title"]

    challenge_page = body(learner_client.get(f"/challenges/{challenge.id}/"))
    assert_shown_only_as_text(challenge_page)
    assert element_text(challenge_page, f"challenge-title-{challenge.id}") == HOSTILE["title"]
    assert f"<title>{escape(HOSTILE['title'])} · CodeDrill</title>" in challenge_page
    card = element_text(challenge_page, "challenge-card")
    assert all(option in card for option in HOSTILE["options"])
    assert "</code></pre><script>window.__xss=1</script>" in card  # the code, as text

    practice_page = body(learner_client.get("/"))  # the unanswered challenge stays on the page
    assert_shown_only_as_text(practice_page)
    assert HOSTILE["title"] in element_text(practice_page, "challenge-panel")

    answered = learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": 0}, **HTMX)
    assert answered.status_code == 200
    assert_shown_only_as_text(body(answered), escaped=[*HOSTILE_ESCAPED, escape(XSS_SCRIPT_CANARY)])
    assert " ".join(HOSTILE["explanation"].split()) in element_text(body(answered), "challenge-card")

    answered_page = body(learner_client.get(f"/challenges/{challenge.id}/"))
    assert_shown_only_as_text(answered_page, escaped=[*HOSTILE_ESCAPED, escape(XSS_SCRIPT_CANARY)])

    history_page = body(learner_client.get("/history/"))
    assert_shown_only_as_text(history_page, escaped=[*HOSTILE_ESCAPED, escape(XSS_SCRIPT_CANARY)])
    history = element_text(history_page, "history-list")
    assert HOSTILE["title"] in history and " ".join(HOSTILE["explanation"].split()) in history
