"""Both seed front ends' ways of reading the API, in a real browser, against the live server.

Each small page here is served from an origin of its own on 127.0.0.1, as a seed front end is (the
tutorial's React app on :5173 in development), calls the API cross-origin with a Bearer token, and
reads the fields exactly as that front end does:

- the tutorial's: `title` alone as the question, options as a list or a JSON-encoded string, history
  from `GET /api/my-history` → `challenges`, "next reset" as `last_reset_date` + 24 hours;
- the other's: `title` as a heading, `prompt` below it, history from `GET /api/history`.

The learner must see the whole question and its code, once.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from challengeapp.identity import dev_session_token_issue
from challengeapp.models import Challenge
from challengeapp.tests.conftest import make_learner

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The tutorial's reading of the API: only `title` is shown as the question.
TUTORIAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tutorial front end</title>
<link rel="icon" href="data:,"><style>.challenge-title { white-space: pre-wrap }</style></head>
<body><main>
<p id="quota"></p><p id="reset"></p>
<div id="challenge"></div>
<h2>History</h2><div id="history"></div>
</main><script>
const [api, token] = decodeURIComponent(location.hash.slice(1)).split("|");
const call = (path, options = {}) => fetch(api + path, {
  ...options, headers: {"Content-Type": "application/json", Authorization: "Bearer " + token},
}).then(async (response) => {
  if (response.status === 429) throw new Error("Daily Quota Reached");
  if (!response.ok) throw new Error((await response.json()).detail);
  return response.json();
});
const optionsOf = (c) => typeof c.options === "string" ? JSON.parse(c.options) : c.options;
const show = (c, into) => {
  const card = document.createElement("div");
  card.className = "challenge-display";
  const title = document.createElement("p");
  title.className = "challenge-title";
  title.textContent = c.title;
  card.append(title);
  optionsOf(c).forEach((text, index) => {
    const option = document.createElement("div");
    option.className = "option" + (index === c.correct_answer_id ? " correct" : "");
    option.textContent = text;
    card.append(option);
  });
  into.append(card);
};
(async () => {
  const quota = await call("/api/quota");
  document.getElementById("quota").textContent = "Challenges remaining today: " + quota.quota_remaining;
  const reset = new Date(quota.last_reset_date);
  reset.setTime(reset.getTime() + 24 * 60 * 60 * 1000);
  document.getElementById("reset").textContent = "Next reset: " + reset.toISOString();
  try {
    show(await call("/api/generate-challenge", {method: "POST", body: JSON.stringify({difficulty: "easy"})}),
         document.getElementById("challenge"));
  } catch (error) {
    document.getElementById("challenge").textContent = error.message;
  }
  const history = await call("/api/my-history");
  history.challenges.forEach((c) => show(c, document.getElementById("history")));
  document.body.dataset.done = "1";
})();
</script></body></html>
"""

# The other seed front end: `title` as a heading, `prompt` (question and code) below it.
PROMPT_PAGE = (
    TUTORIAL_PAGE.replace("Tutorial front end", "Prompt front end")
    .replace(
        """  title.textContent = c.title;
  card.append(title);""",
        """  title.textContent = c.title;
  const prompt = document.createElement("p");
  prompt.className = "challenge-title";
  prompt.textContent = c.prompt;
  card.append(title, prompt);""",
    )
    .replace(
        'call("/api/my-history");\n  history.challenges.forEach', 'call("/api/history");\n  history.forEach'
    )
)


class _FrontEnd:
    """A static page on 127.0.0.1, at an origin of its own."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def front_ends(settings):
    tutorial, prompt = _FrontEnd(TUTORIAL_PAGE), _FrontEnd(PROMPT_PAGE)
    settings.CORS_ALLOWED_ORIGINS = [tutorial.origin, prompt.origin]
    settings.API_TITLE_ONLY_ORIGINS = [tutorial.origin]
    yield tutorial, prompt
    tutorial.close()
    prompt.close()


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def open_front_end(page_factory, live_server, front_end, learner, **page_options) -> object:
    token = dev_session_token_issue(user_id=learner.username, session_id="sess_front_end")
    page = page_factory(**page_options)
    page.goto(f"{front_end.origin}/#{live_server.url}|{token}")
    page.wait_for_selector("body[data-done='1']")
    return page


def code_challenge(owner) -> Challenge:
    return Challenge.objects.create(
        owner=owner,
        difficulty="medium",
        topic="python",
        title="Default arguments",
        question="What does this code print?",
        code="def add(item, bucket=[]):\n    bucket.append(item)\n    return bucket\n\nadd(1)\nprint(add(2))",
        code_language="python",
        options=["[2]", "[1, 2]", "[1]", "TypeError"],
        correct_index=1,
        explanation="The default list is made once, when the function is defined.",
        provider="bank",
        source_key="bank:browser-default-arguments",
    )


def test_the_tutorial_front_end_shows_the_whole_question_and_code(page_factory, live_server, front_ends):
    tutorial, _ = front_ends
    learner = make_learner("user_tutorial")
    earlier = code_challenge(learner)

    page = open_front_end(page_factory, live_server, tutorial, learner)

    generated = Challenge.objects.exclude(id=earlier.id).get(owner=learner)
    shown = flat(page.locator("#challenge .challenge-title").inner_text())
    assert flat(generated.question) in shown
    assert flat(generated.code) in shown
    assert page.locator("#challenge .option").count() == 4
    assert (
        page.locator("#challenge .option.correct").inner_text() == generated.options[generated.correct_index]
    )
    assert page.locator("#quota").inner_text() == "Challenges remaining today: 50"

    history = [flat(text) for text in page.locator("#history .challenge-title").all_inner_texts()]
    assert len(history) == 2
    assert flat(earlier.question) in history[1] and flat(earlier.code) in history[1]
    assert flat(generated.question) in history[0]


def test_the_tutorial_front_ends_next_reset_is_the_real_reset(page_factory, live_server, front_ends):
    from challengeapp.quota import quota_status

    tutorial, _ = front_ends
    learner = make_learner("user_tutorial_reset")

    page = open_front_end(page_factory, live_server, tutorial, learner)

    shown = page.locator("#reset").inner_text().removeprefix("Next reset: ")
    assert dt.datetime.fromisoformat(shown.replace("Z", "+00:00")) == quota_status(user=learner).resets_at


def test_the_tutorial_front_end_says_when_the_quota_is_spent(page_factory, live_server, front_ends, settings):
    tutorial, _ = front_ends
    settings.DAILY_CHALLENGE_QUOTA = 0
    learner = make_learner("user_tutorial_spent")

    page = open_front_end(
        page_factory, live_server, tutorial, learner, expected_console_errors=("status of 429",)
    )

    assert page.locator("#challenge").inner_text() == "Daily Quota Reached"
    assert page.locator("#quota").inner_text() == "Challenges remaining today: 0"
    assert not Challenge.objects.filter(owner=learner).exists()


def test_the_prompt_front_end_shows_the_heading_then_the_question_once(page_factory, live_server, front_ends):
    _, prompt = front_ends
    learner = make_learner("user_prompt")

    page = open_front_end(page_factory, live_server, prompt, learner)

    generated = Challenge.objects.get(owner=learner)
    heading, body = page.locator("#challenge .challenge-title").all_inner_texts()
    assert heading == generated.title
    assert flat(generated.question) in flat(body) and flat(generated.code) in flat(body)
    whole = flat(page.locator("#challenge").inner_text())
    assert whole.count(flat(generated.question)) == 1
    history = page.locator("#history .challenge-display")
    assert history.count() == 1
