"""The "Write the code" pages, without JavaScript and with htmx: get a problem, run, submit, see
the result (hidden tests' expected values never shown), give up."""

from __future__ import annotations

from html import escape

import pytest

from challengeapp.models import CodeProblem
from challengeapp.quota import quota_status

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def _new_problem(client, difficulty="easy", topic="data-structures", language="python"):
    response = client.post("/code/new/", {"difficulty": difficulty, "topic": topic, "language": language})
    assert response.status_code == 302
    return CodeProblem.objects.get(id=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def test_the_nav_links_to_write_the_code_and_a_new_problem_costs_one_unit(learner_client, learner):
    assert 'href="/code/"' in learner_client.get("/").content.decode()
    page = learner_client.get("/code/")
    assert page.status_code == 200 and "New coding problem" in page.content.decode()
    problem = _new_problem(learner_client)
    assert quota_status(user=learner).used == 1
    detail = learner_client.get(f"/code/{problem.id}/").content.decode()
    assert problem.title in detail and 'name="code"' in detail and "Run examples" in detail
    assert problem.function_name in detail
    assert problem.title in learner_client.get("/code/").content.decode()


@pytest.mark.parametrize(
    "data", [{"difficulty": "easy", "topic": "git"}, {"difficulty": "wild", "topic": "python"}, {}]
)
def test_a_bad_choice_re_renders_the_form_with_a_message_and_charges_nothing(learner_client, learner, data):
    response = learner_client.post("/code/new/", data)
    assert response.status_code == 400 and "Choose" in response.content.decode()
    assert quota_status(user=learner).used == 0 and not CodeProblem.objects.exists()


def test_a_spent_quota_is_said_on_the_page(learner_client, settings):
    settings.DAILY_CHALLENGE_QUOTA = 0
    response = learner_client.post(
        "/code/new/", {"difficulty": "easy", "topic": "python", "language": "python"}
    )
    assert response.status_code == 429 and "used all of today" in response.content.decode()


def test_submitting_without_javascript_shows_the_result_and_keeps_the_code(sandbox, learner_client):
    problem = _new_problem(learner_client)
    response = learner_client.post(
        f"/code/{problem.id}/submissions/", {"code": problem.starter_code, "action": "submit"}
    )
    page = response.content.decode()
    assert response.status_code == 200 and "Not yet." in page and "Hidden tests: 0 of" in page
    for test in problem.hidden_tests:
        assert f"{problem.function_name}({test['args']})" not in page
    assert problem.reference_solution.splitlines()[-1].strip() not in page
    assert "Give up and show the solution" in page
    solved = learner_client.post(
        f"/code/{problem.id}/submissions/", {"code": problem.reference_solution, "action": "submit"}
    ).content.decode()
    assert "Solved!" in solved and "A reference solution" in solved
    assert escape(problem.explanation.split("`")[0][:20]) in solved


def test_run_with_htmx_swaps_only_the_result_and_focuses_it(sandbox, learner_client):
    problem = _new_problem(learner_client)
    response = learner_client.post(
        f"/code/{problem.id}/submissions/",
        {"code": problem.reference_solution, "action": "run"},
        headers=HTMX,
    )
    page = response.content.decode()
    assert response.status_code == 200 and page.lstrip().startswith('<section id="code-result"')
    assert "The examples pass." in page and "data-swap-focus" in page and "Hidden tests" not in page


def test_a_refused_run_is_a_message_not_an_error_page(learner_client, settings):
    problem = _new_problem(learner_client)
    plain = learner_client.post(f"/code/{problem.id}/submissions/", {"code": "", "action": "run"})
    assert plain.status_code == 422 and "Write some code first." in plain.content.decode()
    swapped = learner_client.post(
        f"/code/{problem.id}/submissions/", {"code": "", "action": "run"}, headers=HTMX
    )
    assert swapped.status_code == 200 and 'role="alert"' in swapped.content.decode()


def test_past_the_daily_runs_the_page_says_so_and_when_to_come_back(learner_client, learner, settings):
    from challengeapp.models import CodeRunAllowance
    from challengeapp.quota import quota_today

    settings.CODE_RUNS_PER_DAY = 1
    problem = _new_problem(learner_client)
    CodeRunAllowance.objects.create(user=learner, day=quota_today(), runs=1)
    response = learner_client.post(f"/code/{problem.id}/submissions/", {"code": "x = 1", "action": "run"})
    assert response.status_code == 429 and "Runs open again tomorrow" in response.content.decode()
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    assert response.context["code"] == "x = 1"  # the code is kept


def test_giving_up_shows_the_solution_and_another_learner_cannot_see_the_problem(
    learner_client, other_learner, client
):
    from challengeapp.tests.conftest import signed_in

    problem = _new_problem(learner_client)
    response = learner_client.post(f"/code/{problem.id}/give-up/")
    assert response.status_code == 302
    page = learner_client.get(f"/code/{problem.id}/").content.decode()
    assert "The solution" in page and "Give up" not in page
    other = signed_in(client, other_learner)
    assert other.get(f"/code/{problem.id}/").status_code == 404
    assert other.post(f"/code/{problem.id}/submissions/", {"code": "x = 1"}).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/code/")
    assert response.status_code == 302 and "/sign-in/" in response["Location"]


def test_operators_read_coding_problems_and_their_submissions_in_the_admin(client, learner_client):
    from django.contrib.auth import get_user_model

    problem = _new_problem(learner_client)
    learner_client.post(f"/code/{problem.id}/submissions/", {"code": "", "action": "run"})
    operator = get_user_model().objects.create_superuser("operator", "ops@example.com", "a-long-password-1")
    client.force_login(operator)
    listing = client.get("/admin/challengeapp/codeproblem/").content.decode()
    assert problem.title in listing
    page = client.get(f"/admin/challengeapp/codeproblem/{problem.id}/change/")
    assert page.status_code == 200 and problem.function_name in page.content.decode()
    assert client.get("/admin/challengeapp/codeproblem/add/").status_code == 403


def test_the_list_of_problems_says_which_are_solved_given_up_or_open(sandbox, learner_client):
    solved = _new_problem(learner_client)
    learner_client.post(f"/code/{solved.id}/submissions/", {"code": solved.starter_code, "action": "submit"})
    learner_client.post(
        f"/code/{solved.id}/submissions/", {"code": solved.reference_solution, "action": "submit"}
    )
    given_up = _new_problem(learner_client)
    learner_client.post(f"/code/{given_up.id}/give-up/")
    _new_problem(learner_client)
    page = learner_client.get("/code/").content.decode()
    assert "Solved after 2 tries · 2 runs" in page
    assert "Gave up · 0 runs" in page and "Not solved yet · 0 runs" in page


def test_a_javascript_problem_through_the_page_runs_and_is_solved_in_javascript(node_sandbox, learner_client):
    page = learner_client.get("/code/").content.decode()
    assert "<legend>Language</legend>" in page and 'value="javascript"' in page
    response = learner_client.post(
        "/code/new/", {"difficulty": "hard", "topic": "javascript", "language": "javascript"}
    )
    assert response.status_code == 302
    problem = CodeProblem.objects.get()
    assert problem.language == "javascript" and problem.signature.startswith("function ")
    detail = learner_client.get(f"/code/{problem.id}/").content.decode()
    assert "Your JavaScript code" in detail and 'data-language="javascript"' in detail
    failing = learner_client.post(
        f"/code/{problem.id}/submissions/", {"code": problem.starter_code, "action": "run"}, headers=HTMX
    ).content.decode()
    assert "Not yet." in failing
    example = problem.examples[0]
    assert escape(f"{problem.function_name}({example['args']})") in failing
    solved = learner_client.post(
        f"/code/{problem.id}/submissions/", {"code": problem.reference_solution, "action": "submit"}
    ).content.decode()
    assert "Solved!" in solved and "Code snippet (javascript)" in solved


def test_algorithms_in_javascript_come_in_javascript(learner_client):
    response = learner_client.post(
        "/code/new/", {"difficulty": "easy", "topic": "algorithms", "language": "javascript"}
    )
    assert response.status_code == 302
    problem = CodeProblem.objects.get()
    assert (problem.topic, problem.language) == ("algorithms", "javascript")
    assert "JavaScript" in learner_client.get("/code/").content.decode()


@pytest.mark.parametrize(
    ("topic", "radio", "language"),
    [("python", "javascript", "python"), ("javascript", "python", "javascript")],
)
def test_a_topic_that_names_a_language_is_written_in_it_whatever_the_radio_says(
    learner_client, topic, radio, language
):
    response = learner_client.post("/code/new/", {"difficulty": "easy", "topic": topic, "language": radio})
    assert response.status_code == 302
    assert CodeProblem.objects.get().language == language


def test_an_unknown_language_is_refused_and_charges_nothing(learner_client, learner):
    response = learner_client.post(
        "/code/new/", {"difficulty": "easy", "topic": "algorithms", "language": "cobol"}
    )
    assert response.status_code == 400 and "Choose one of the listed options." in response.content.decode()
    assert quota_status(user=learner).used == 0 and not CodeProblem.objects.exists()


def test_without_a_language_a_problem_comes_in_python(learner_client):
    assert learner_client.post("/code/new/", {"difficulty": "easy", "topic": "algorithms"}).status_code == 302
    assert CodeProblem.objects.get().language == "python"


def test_a_pair_without_curated_problems_says_so(learner_client, learner, monkeypatch):
    from challengeapp.coding import problems

    monkeypatch.setattr(problems, "curated_problems", lambda: ())
    response = learner_client.post(
        "/code/new/", {"difficulty": "easy", "topic": "algorithms", "language": "javascript"}
    )
    assert response.status_code == 400 and problems.NO_PROBLEM in response.content.decode()
    assert quota_status(user=learner).used == 0
