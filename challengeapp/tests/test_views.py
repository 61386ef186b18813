"""Pages: full page, htmx partial and no-JavaScript POST for each action; bad input changes nothing."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from challengeapp.generation.pipeline import challenge_generate
from challengeapp.learning.attempts import attempt_record
from challengeapp.middleware import SESSION_COOKIE
from challengeapp.models import Attempt, Challenge
from challengeapp.quota import quota_status
from challengeapp.tests.conftest import csp_directives, signed_in

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
User = get_user_model()


def make_challenge(owner, **fields) -> Challenge:
    values = {
        "difficulty": "easy",
        "topic": "python",
        "title": "Falsy values",
        "question": "Which value is falsy?",
        "code": "print(bool([]))",
        "code_language": "python",
        "options": ["[]", "[0]", "'0'", "-1"],
        "correct_index": 2,
        "explanation": "Only the empty list is falsy.",
        "provider": "bank",
        "source_key": "bank:t",
    }
    values.update(fields)
    return Challenge.objects.create(owner=owner, **values)


def body(response) -> str:
    return response.content.decode()


# --- Sign-in ------------------------------------------------------------------------------------


def test_pages_send_anonymous_visitors_to_sign_in(client):
    for path in ["/", "/history/", "/challenges/1/"]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/sign-in/?next=")


def test_htmx_requests_without_a_session_redirect_the_whole_page(client):
    response = client.post("/challenges/generate/", {"difficulty": "easy", "topic": "sql"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/sign-in/")


def test_dev_sign_in_creates_the_learner_and_sets_a_session_token(client):
    page = client.get("/sign-in/?next=/history/")
    assert "Display name" in body(page)
    response = client.post(
        "/sign-in/", {"display_name": "  Ada  Lovelace ", "email": "ada@example.com", "next": "/history/"}
    )
    assert response.status_code == 302 and response["Location"] == "/history/"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie.value.count(".") == 2  # a JWT, verified on every request
    user = User.objects.get(first_name="Ada Lovelace")
    assert user.username.startswith("user_dev_") and user.email == "ada@example.com"
    assert client.get("/history/").status_code == 200


def test_the_same_name_signs_in_as_the_same_learner(client):
    client.post("/sign-in/", {"display_name": "Grace"})
    Client().post("/sign-in/", {"display_name": "grace"})
    assert User.objects.filter(username__startswith="user_dev_").count() == 1


def test_sign_in_refuses_a_blank_name_and_an_offsite_next(client):
    response = client.post("/sign-in/", {"display_name": "   ", "email": "not-an-email"})
    assert response.status_code == 400
    assert "Tell us what to call you." in body(response)
    assert User.objects.count() == 0
    response = client.post("/sign-in/", {"display_name": "Ada", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_sign_out_clears_the_session(learner_client):
    asked = learner_client.get("/sign-out/")
    assert "Sign out of CodeDrill" in body(asked)
    assert SESSION_COOKIE not in asked.cookies  # a GET only asks
    assert learner_client.get("/").status_code == 200
    response = learner_client.post("/sign-out/")
    assert response.status_code == 302
    assert response.cookies[SESSION_COOKIE].value == ""
    assert learner_client.get("/").status_code == 302


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "", "x" * 10_000, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyX2FkYSJ9."],
)
def test_a_tampered_or_garbage_session_cookie_signs_nobody_in(client, token):
    client.cookies[SESSION_COOKIE] = token
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")
    assert User.objects.count() == 0


def test_a_session_token_with_a_changed_subject_is_refused(client, learner):
    token = signed_in(Client(), learner).cookies[SESSION_COOKIE].value
    header, payload, signature = token.split(".")
    import base64
    import json

    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "user_mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    client.cookies[SESSION_COOKIE] = f"{header}.{forged}.{signature}"
    assert client.get("/").status_code == 302
    assert not User.objects.filter(username="user_mallory").exists()


# --- Practice and generate ----------------------------------------------------------------------


def test_practice_page_shows_choices_and_quota(learner_client):
    page = body(learner_client.get("/"))
    assert "50 of 50</strong> left today · resets in" in page
    assert 'name="difficulty"' in page and 'name="topic"' in page
    assert 'hx-post="/challenges/generate/"' in page and 'action="/challenges/generate/"' in page
    assert 'id="generate-progress"' in page


def test_generate_without_javascript_redirects_to_the_new_challenge(learner_client, learner):
    response = learner_client.post("/challenges/generate/", {"difficulty": "medium", "topic": "sql"})
    challenge = Challenge.objects.get(owner=learner)
    assert response.status_code == 302 and response["Location"] == f"/challenges/{challenge.id}/"
    assert (challenge.difficulty, challenge.topic) == ("medium", "sql")
    page = body(learner_client.get(response["Location"]))
    assert challenge.title.replace("'", "&#x27;") in page
    assert "49 of 50" in page


def test_generate_with_htmx_swaps_the_panel_and_the_quota(learner_client, learner):
    response = learner_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "git"}, **HTMX)
    assert response.status_code == 200
    html = body(response)
    assert html.lstrip().startswith('<section id="challenge-panel"')
    assert 'id="challenge-card"' in html
    assert 'id="quota-status" class="quota" hx-swap-oob="true"' in html
    assert "49 of 50" in html
    assert "<html" not in html


@pytest.mark.parametrize(
    "data",
    [
        {"difficulty": "extreme", "topic": "python"},
        {"difficulty": "easy", "topic": "cobol"},
        {},
        {"difficulty": ["easy", "hard"], "topic": ""},
    ],
)
def test_generate_refuses_unknown_choices_and_changes_nothing(learner_client, learner, data):
    response = learner_client.post("/challenges/generate/", data)
    assert response.status_code == 400
    assert "Choose" in body(response)
    htmx = learner_client.post("/challenges/generate/", data, **HTMX)
    assert htmx.status_code == 200 and "Choose" in body(htmx) and 'role="alert"' in body(htmx)
    assert Challenge.objects.count() == 0
    assert quota_status(user=learner).used == 0


def test_generate_when_the_quota_is_spent_says_when_it_resets(learner_client, learner, settings):
    settings.DAILY_CHALLENGE_QUOTA = 1
    learner_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "sql"})
    response = learner_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "sql"})
    assert response.status_code == 429
    html = body(response)
    assert "You have used all of today&#x27;s challenges." in html
    assert "0 of 1</strong> left today · resets in" in html
    htmx = learner_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "sql"}, **HTMX)
    assert htmx.status_code == 200 and "all of today" in body(htmx)
    assert Challenge.objects.count() == 1


def test_generate_needs_the_csrf_token(csrf_client, learner):
    response = csrf_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "sql"})
    assert response.status_code == 403
    assert "This form has expired" in body(response)
    assert Challenge.objects.count() == 0
    assert quota_status(user=learner).used == 0


def test_the_unanswered_challenge_stays_on_the_practice_page(learner_client, learner):
    challenge = make_challenge(learner)
    assert f'id="challenge-title-{challenge.id}"' in body(learner_client.get("/"))
    Attempt.objects.create(challenge=challenge, chosen_index=0, is_correct=False)
    assert f'id="challenge-title-{challenge.id}"' not in body(learner_client.get("/"))


# --- The answer key stays on the server ---------------------------------------------------------


def assert_no_answer_key(html: str, challenge: Challenge) -> None:
    assert challenge.explanation not in html
    assert "is-correct" not in html and "Correct answer" not in html
    radios = re.findall(r"<input[^>]*type=\"radio\" name=\"choice\"[^>]*>", html)
    assert len(radios) == 4
    # The four options differ only in their position: nothing marks the right one.
    normalized = {re.sub(r'(value|data-key)="\d"', "", radio) for radio in radios}
    assert len(normalized) == 1
    assert f'value="{challenge.correct_index}" checked' not in html


def test_no_page_or_partial_reveals_the_answer_before_answering(learner_client, learner):
    learner_client.post("/challenges/generate/", {"difficulty": "hard", "topic": "web"}, **HTMX)
    challenge = Challenge.objects.get(owner=learner)
    partial = body(
        learner_client.post("/challenges/generate/", {"difficulty": "hard", "topic": "web"}, **HTMX)
    )
    latest = Challenge.objects.filter(owner=learner).latest("id")
    assert_no_answer_key(partial, latest)
    assert_no_answer_key(body(learner_client.get(f"/challenges/{challenge.id}/")), challenge)
    assert_no_answer_key(body(learner_client.get("/")), latest)
    history = body(learner_client.get("/history/"))
    assert challenge.explanation not in history and "Correct answer" not in history


# --- Answer -------------------------------------------------------------------------------------


def test_answer_without_javascript_grades_and_shows_the_result(learner_client, learner):
    challenge = make_challenge(learner)
    response = learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": "2"})
    assert response.status_code == 302
    page = body(learner_client.get(response["Location"]))
    assert "Right!" in page and "Only the empty list is falsy." in page
    assert Attempt.objects.get(challenge=challenge).is_correct


def test_answer_with_htmx_swaps_the_card_with_the_correct_option_marked(learner_client, learner):
    challenge = make_challenge(learner)
    response = learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": "0"}, **HTMX)
    html = body(response)
    assert html.lstrip().startswith('<article id="challenge-card"')
    assert "Not quite." in html
    assert re.search(
        r'class="option-result is-correct">\s*<span class="option-key" aria-hidden="true">3</span>', html
    )
    assert re.search(
        r'class="option-result is-picked">\s*<span class="option-key" aria-hidden="true">1</span>', html
    )
    assert "Only the empty list is falsy." in html


def test_the_first_answer_counts(learner_client, learner):
    challenge = make_challenge(learner)
    learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": "1"})
    learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": "2"}, **HTMX)
    attempt = Attempt.objects.get(challenge=challenge)
    assert (attempt.chosen_index, attempt.is_correct) == (1, False)


@pytest.mark.parametrize("choice", ["4", "-1", "abc", "", "1.0", "99999999999999999999"])
def test_an_answer_out_of_range_is_refused_and_changes_nothing(learner_client, learner, choice):
    challenge = make_challenge(learner)
    response = learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": choice})
    assert response.status_code == 400
    assert "Choose one of the four options." in body(response)
    htmx = learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": choice}, **HTMX)
    assert htmx.status_code == 200 and "Choose one of the four options." in body(htmx)
    assert not Attempt.objects.exists()


def test_someone_elses_challenge_is_not_found(learner_client, other_learner):
    challenge = make_challenge(other_learner)
    assert learner_client.get(f"/challenges/{challenge.id}/").status_code == 404
    assert learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": "2"}).status_code == 404
    assert (
        learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": "2"}, **HTMX).status_code == 404
    )
    assert not Attempt.objects.exists()
    assert learner_client.get("/challenges/999999/").status_code == 404


def test_wrong_methods_are_refused(learner_client, learner):
    challenge = make_challenge(learner)
    assert learner_client.get("/challenges/generate/").status_code == 405
    assert learner_client.get(f"/challenges/{challenge.id}/answer/").status_code == 405
    assert learner_client.post("/history/").status_code == 405


# --- Rendering stays inert ----------------------------------------------------------------------


def test_challenge_text_is_always_escaped(learner_client, learner):
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    challenge = make_challenge(
        learner,
        title=evil,
        question=evil,
        code=evil,
        code_language="html",
        options=[evil, evil + "1", "<b>bold</b>", "&amp;"],
        explanation=evil,
    )
    for html in [body(learner_client.get(f"/challenges/{challenge.id}/")), body(learner_client.get("/"))]:
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": "0"})
    for html in [
        body(learner_client.get(f"/challenges/{challenge.id}/")),
        body(learner_client.get("/history/")),
    ]:
        assert "<script>alert" not in html and "<img src=x" not in html


# --- History ------------------------------------------------------------------------------------


def test_history_lists_newest_first_with_the_learners_pick(learner_client, learner):
    older = make_challenge(learner, title="Older one")
    newer = make_challenge(learner, title="Newer one")
    Attempt.objects.create(challenge=older, chosen_index=1, is_correct=False)
    html = body(learner_client.get("/history/"))
    assert html.index("Newer one") < html.index("Older one")
    assert "Your answer" in html and "Correct answer" in html and "Only the empty list is falsy." in html
    assert f"/challenges/{newer.id}/" in html


def test_history_pages_by_twenty_and_loads_more_with_htmx(learner_client, learner):
    for i in range(45):
        make_challenge(learner, title=f"Challenge number {i:02d}")
    first = body(learner_client.get("/history/"))
    assert first.count('class="card history-entry"') == 20
    assert "Challenge number 44" in first and "Challenge number 24" not in first
    more = re.search(r'hx-get="\?before=(\d+)"', first)
    assert more
    second = learner_client.get(
        f"/history/?before={more.group(1)}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="history-more"
    )
    html = body(second)
    assert "<html" not in html and html.count('class="card history-entry"') == 20
    assert "Challenge number 24" in html and "Challenge number 04" not in html
    last_before = re.search(r'hx-get="\?before=(\d+)"', html).group(1)
    last = body(
        learner_client.get(
            f"/history/?before={last_before}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="history-more"
        )
    )
    assert last.count('class="card history-entry"') == 5 and "Load more" not in last


def test_history_filters_by_difficulty_topic_and_result(learner_client, learner):
    right = make_challenge(learner, title="Right sql", topic="sql", difficulty="hard")
    wrong = make_challenge(learner, title="Wrong git", topic="git")
    make_challenge(learner, title="Open web", topic="web")
    Attempt.objects.create(challenge=right, chosen_index=2, is_correct=True)
    Attempt.objects.create(challenge=wrong, chosen_index=0, is_correct=False)

    def titles(query: str) -> set[str]:
        html = body(learner_client.get(f"/history/?{query}"))
        return {t for t in ["Right sql", "Wrong git", "Open web"] if t in html}

    assert titles("result=right") == {"Right sql"}
    assert titles("result=wrong") == {"Wrong git"}
    assert titles("result=unanswered") == {"Open web"}
    assert titles("topic=git") == {"Wrong git"}
    assert titles("difficulty=hard") == {"Right sql"}
    assert titles("difficulty=bogus&topic=<script>") == {"Right sql", "Wrong git", "Open web"}
    partial = body(
        learner_client.get("/history/?topic=sql", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="history-list")
    )
    assert partial.lstrip().startswith('<div id="history-list"') and "Right sql" in partial


def test_history_is_only_the_learners_own(learner_client, other_learner):
    make_challenge(other_learner, title="Not yours")
    assert "Not yours" not in body(learner_client.get("/history/"))


# --- Operations ---------------------------------------------------------------------------------


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and body(response) == "ok\n"


def test_pages_carry_a_strict_content_security_policy(learner_client):
    policy = learner_client.get("/")["Content-Security-Policy"]
    directives = csp_directives(policy)
    assert directives["script-src"] == ["'self'"] and directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_generated_challenges_show_where_they_came_from(learner_client, learner):
    challenge_generate(user=learner, difficulty="easy", topic="sql")
    assert "Built-in bank" in body(learner_client.get("/"))


@pytest.mark.parametrize(
    "path",
    [
        "/history/?before=99999999999999999999999999",
        "/history/?before=-5",
        "/challenges/99999999999999999999999/",
    ],
)
def test_out_of_range_ids_are_answered_not_crashed(learner_client, path):
    assert learner_client.get(path).status_code in {200, 404}
    assert (
        learner_client.post("/challenges/99999999999999999999999/answer/", {"choice": "1"}).status_code == 404
    )


def test_sign_out_needs_the_csrf_token(learner):
    from django.test import Client

    from challengeapp.tests.conftest import signed_in

    browser = signed_in(Client(enforce_csrf_checks=True), learner)
    # Another site's form posting here carries no CSRF token: nothing happens.
    assert browser.post("/sign-out/").status_code == 403
    assert browser.get("/").status_code == 200
    token = browser.get("/sign-out/").cookies["csrftoken"].value
    response = browser.post("/sign-out/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response.cookies[SESSION_COOKIE].value == ""


def _answered_bank_challenge(learner):
    challenge = challenge_generate(user=learner, difficulty="easy", topic="python")
    attempt_record(challenge=challenge, chosen_index=0)
    return challenge


def test_report_a_problem_without_javascript(learner_client, learner):
    from challengeapp.models import Report

    challenge = _answered_bank_challenge(learner)
    page = body(learner_client.get(f"/challenges/{challenge.id}/"))
    assert "Report a problem" in page

    response = learner_client.post(
        f"/challenges/{challenge.id}/report/", {"reason": "wrong_key", "note": "It prints 3, not 4."}
    )

    assert response.status_code == 302
    assert "Thank you" in body(learner_client.get(response["Location"]))
    report = Report.objects.get(challenge=challenge)
    assert (report.reason, report.note) == ("wrong_key", "It prints 3, not 4.")


def test_report_a_problem_with_htmx_and_bad_input(learner_client, learner):
    from challengeapp.models import Report

    challenge = _answered_bank_challenge(learner)
    bad = learner_client.post(
        f"/challenges/{challenge.id}/report/", {"reason": "nonsense"}, headers={"HX-Request": "true"}
    )
    assert bad.status_code == 200 and "Choose what is wrong." in body(bad)
    assert Report.objects.count() == 0

    good = learner_client.post(
        f"/challenges/{challenge.id}/report/", {"reason": "unclear"}, headers={"HX-Request": "true"}
    )
    assert good.status_code == 200 and "Thank you" in body(good) and "<html" not in body(good)
    assert Report.objects.get(challenge=challenge).reason == "unclear"


def test_reporting_someone_elses_or_an_unanswered_challenge(learner_client, learner, other_learner):
    from challengeapp.models import Report

    theirs = _answered_bank_challenge(other_learner)
    assert learner_client.post(f"/challenges/{theirs.id}/report/", {"reason": "other"}).status_code == 404
    mine = challenge_generate(user=learner, difficulty="easy", topic="sql")
    response = learner_client.post(f"/challenges/{mine.id}/report/", {"reason": "other"})
    assert response.status_code == 400 and "Answer the challenge" in body(response)
    assert Report.objects.count() == 0


def test_the_challenge_shows_how_its_key_was_verified(learner_client, learner):
    challenge = challenge_generate(user=learner, difficulty="easy", topic="git")
    page = body(learner_client.get(f"/challenges/{challenge.id}/"))
    expected = {"curated": "Curated", "executed": "CodeDrill ran this code"}[challenge.verification]
    assert expected in page


def test_past_the_daily_failure_bound_the_practice_page_says_generating_is_paused(
    learner_client, learner, settings, monkeypatch
):
    from challengeapp.core.errors import GenerationError
    from challengeapp.generation import pipeline as generation
    from challengeapp.quota import TOO_MANY_FAILURES

    settings.GENERATION_FAILURES_PER_DAY = 1
    asked = []

    class Failing:
        name = "openai"

        def generate(self, request):
            asked.append(request)
            raise GenerationError("The challenge generator wrote something unusable.", cause="invalid_output")

    monkeypatch.setattr(generation, "provider_for_settings", lambda: Failing())
    data = {"difficulty": "easy", "topic": "sql"}
    assert learner_client.post("/challenges/generate/", data).status_code == 502
    response = learner_client.post("/challenges/generate/", data)
    assert response.status_code == 429
    message = TOO_MANY_FAILURES.format(count=1).replace("'", "&#x27;")
    html = body(response)
    assert message in html
    assert "Generating opens again in" in html and "Try again</button>" not in html
    htmx = learner_client.post("/challenges/generate/", data, **HTMX)
    assert htmx.status_code == 200 and message in body(htmx) and "Try again</button>" not in body(htmx)
    assert len(asked) == 1 and Challenge.objects.count() == 0
