"""Coding problems in the learning loop: how each ended (history, progress, the JSON API), its
review card, and review rounds (write it again, the solution withheld until the round ends)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from html import escape

import pytest
from django.test import Client
from django.utils import timezone

from challengeapp.coding.review import code_problem_ended
from challengeapp.models import CodeProblem, CodeReviewCard, ReviewState
from challengeapp.tests.test_api import bearer
from challengeapp.tests.test_coding_pages import _new_problem

pytestmark = pytest.mark.django_db


def _submit(client, problem, code, action="submit"):
    response = client.post(f"/code/{problem.id}/submissions/", {"code": code, "action": action})
    assert response.status_code == 200
    return response.content.decode()


def _card(problem) -> CodeReviewCard:
    return CodeReviewCard.objects.get(problem=problem)


def test_solved_on_the_first_submit_is_solved_first_time_and_comes_back_in_days(sandbox, learner_client):
    problem = _new_problem(learner_client)
    # Runs on the examples are practice: they are not tries.
    _submit(learner_client, problem, problem.starter_code, action="run")
    _submit(learner_client, problem, problem.reference_solution)
    problem.refresh_from_db()
    assert problem.outcome == "solved_first" and problem.outcome_submits == 1 and problem.finished_at
    card = _card(problem)
    assert card.state == ReviewState.REVIEW and card.due_at >= timezone.now() + dt.timedelta(days=1)
    page = learner_client.get(f"/code/{problem.id}/").content.decode()
    assert "Solved first time" in page and "Next review:" in page and "A reference solution" in page


def test_solved_after_tries_and_given_up_come_back_sooner(sandbox, learner_client):
    tried = _new_problem(learner_client)
    _submit(learner_client, tried, tried.starter_code)
    _submit(learner_client, tried, tried.starter_code)
    _submit(learner_client, tried, tried.reference_solution)
    tried.refresh_from_db()
    assert tried.outcome == "solved_after" and tried.outcome_submits == 3
    given_up = _new_problem(learner_client)
    _submit(learner_client, given_up, given_up.starter_code)
    learner_client.post(f"/code/{given_up.id}/give-up/")
    given_up.refresh_from_db()
    assert given_up.outcome == "gave_up" and given_up.outcome_submits == 1
    assert _card(given_up).due_at < _card(tried).due_at < timezone.now() + dt.timedelta(days=1)
    # Submitting again after the end changes nothing: the problem ended once.
    _submit(learner_client, given_up, given_up.reference_solution)
    given_up.refresh_from_db()
    assert given_up.outcome == "gave_up" and CodeReviewCard.objects.count() == 2


def test_history_progress_and_the_nav_count_show_coding_problems(sandbox, learner_client, learner):
    solved = _new_problem(learner_client, topic="python")
    _submit(learner_client, solved, solved.reference_solution)
    given_up = _new_problem(learner_client, topic="algorithms")
    learner_client.post(f"/code/{given_up.id}/give-up/")
    _new_problem(learner_client, topic="algorithms")
    history = learner_client.get("/history/").content.decode()
    assert "Coding problems" in history and solved.title in history and given_up.title in history
    assert "Solved first time" in history and "Gave up" in history and "Not solved yet" in history
    assert "1 run, 0 submits" not in history and "0 runs, 1 submit" in history
    right_only = learner_client.get("/history/?result=right").content.decode()
    assert solved.title in right_only and given_up.title not in right_only
    progress = learner_client.get("/progress/").content.decode()
    assert 'data-code-topic="python"' in progress and 'data-code-topic="algorithms"' in progress
    body = Client().get("/api/progress", **bearer(learner)).json()["coding"]
    algorithms = next(row for row in body["topics"] if row["topic"] == "algorithms")
    assert algorithms == {
        "topic": "algorithms",
        "problems": 2,
        "solved_first": 0,
        "solved_after": 0,
        "gave_up": 1,
        "under_way": 1,
    }
    # The give-up is due within minutes (Again): once its minute has passed it is in the nav's
    # count, listed on the review page and counted by the API.
    CodeReviewCard.objects.filter(problem=given_up).update(due_at=timezone.now() - dt.timedelta(seconds=1))
    assert Client().get("/api/progress", **bearer(learner)).json()["coding"]["due_now"] == 1
    review_page = learner_client.get("/review/").content.decode()
    assert "Due for review" in review_page and given_up.title in review_page
    assert "Review (1)" in review_page


def test_a_review_round_withholds_the_solution_until_solved_again(sandbox, learner_client, learner):
    problem = _new_problem(learner_client)
    _submit(learner_client, problem, problem.reference_solution)
    first_due = _card(problem).due_at
    response = learner_client.post(f"/code/{problem.id}/review/")
    assert response.status_code == 302
    page = learner_client.get(f"/code/{problem.id}/").content.decode()
    assert "write the function again" in page and 'id="solution"' not in page
    assert f">{escape(problem.starter_code)}</textarea>" in page and "Solved!" not in page
    api = Client().get(f"/api/code-challenges/{problem.id}", **bearer(learner)).json()
    assert "reference_solution" not in api and api["review"]["in_round"] and api["attempts"] == []
    # A wrong Submit keeps the round open; a right one ends it, as solved after tries: Hard.
    _submit(learner_client, problem, problem.starter_code)
    assert _card(problem).round_started_at is not None
    result = _submit(learner_client, problem, problem.reference_solution)
    assert "Solved!" in result
    card = _card(problem)
    assert card.round_started_at is None and card.reviews == 1 and card.last_outcome == "solved_after"
    assert card.due_at != first_due
    problem.refresh_from_db()
    assert problem.outcome == "solved_first"  # how the problem first went stays in history
    assert 'id="solution"' in learner_client.get(f"/code/{problem.id}/").content.decode()


def test_giving_up_in_a_review_round_grades_again_and_shows_the_solution(sandbox, learner_client):
    problem = _new_problem(learner_client)
    _submit(learner_client, problem, problem.reference_solution)
    learner_client.post(f"/code/{problem.id}/review/")
    learner_client.post(f"/code/{problem.id}/give-up/")
    card = _card(problem)
    assert card.last_outcome == "gave_up" and card.reviews == 1 and card.round_started_at is None
    assert card.state == ReviewState.RELEARNING
    assert 'id="solution"' in learner_client.get(f"/code/{problem.id}/").content.decode()


def test_a_problem_under_way_cannot_be_reviewed_and_others_problems_are_404(
    sandbox, learner_client, learner, other_learner
):
    problem = _new_problem(learner_client)
    response = learner_client.post(f"/code/{problem.id}/review/")
    assert response.status_code == 409 and "Solve this problem or give up" in response.content.decode()
    assert not CodeReviewCard.objects.exists()
    api = Client().post(f"/api/code-challenges/{problem.id}/review", **bearer(learner))
    assert api.status_code == 409 and api.json()["detail"]
    assert (
        Client().post(f"/api/code-challenges/{problem.id}/review", **bearer(other_learner)).status_code == 404
    )
    assert (
        Client().post(f"/api/code-challenges/{problem.id}/give-up", **bearer(other_learner)).status_code
        == 404
    )


def test_the_api_lists_problems_with_attempts_and_outcome_and_gives_up(sandbox, learner, learner_client):
    problem = _new_problem(learner_client)
    client = Client()
    submit = client.post(
        f"/api/code-challenges/{problem.id}/submissions",
        json.dumps({"code": problem.starter_code}),
        content_type="application/json",
        **bearer(learner),
    )
    assert submit.status_code == 200 and not submit.json()["passed"]
    gave_up = client.post(f"/api/code-challenges/{problem.id}/give-up", **bearer(learner)).json()
    assert gave_up["outcome"] == "gave_up" and gave_up["reference_solution"] == problem.reference_solution
    listed = client.get("/api/code-challenges", **bearer(learner)).json()
    item = listed["items"][0]
    assert item["id"] == problem.id and item["outcome"] == "gave_up" and item["submits"] == 1
    assert item["runs"] == 0 and item["review"]["last_outcome"] == "gave_up" and listed["next_before"] is None
    assert (
        "reference_solution" not in item and "hidden_tests" in item and isinstance(item["hidden_tests"], int)
    )
    for before in ("x", "-1", "9" * 30):
        assert client.get(f"/api/code-challenges?before={before}", **bearer(learner)).status_code == 400


def test_an_ending_is_recorded_once_and_a_repeat_joins_the_card(sandbox, learner_client, learner):
    problem = _new_problem(learner_client)
    assert code_problem_ended(problem=problem, solved=False) == "gave_up"
    assert code_problem_ended(problem=problem, solved=True) == ""
    # The same curated content served again: its end reviews the one card.
    again = CodeProblem.objects.create(
        **{
            field.name: getattr(problem, field.name)
            for field in CodeProblem._meta.concrete_fields
            if field.name
            not in {"id", "outcome", "outcome_submits", "finished_at", "gave_up_at", "created_at"}
        }
    )
    assert code_problem_ended(problem=again, solved=True) == "solved_first"
    card = CodeReviewCard.objects.get()
    assert card.problem_id == problem.id and card.reviews == 1 and card.last_outcome == "solved_first"


@pytest.mark.django_db(transaction=True)
def test_two_endings_at_the_same_moment_end_the_problem_and_a_round_once(learner):
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip(
            "needs PostgreSQL (DATABASE_URL=postgres://…): the in-memory SQLite test database cannot wait on a lock"
        )
    from challengeapp.coding.problems import code_problem_create
    from challengeapp.coding.review import code_review_start

    problem = code_problem_create(user=learner, difficulty="easy", topic="python")

    def race(solved: tuple[bool, bool]) -> list[str]:
        barrier, outcomes = threading.Barrier(2), []

        def end(solved_here: bool) -> None:
            try:
                barrier.wait()
                outcomes.append(
                    code_problem_ended(problem=CodeProblem.objects.get(pk=problem.pk), solved=solved_here)
                )
            finally:
                connection.close()

        threads = [threading.Thread(target=end, args=(flag,)) for flag in solved]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    first = sorted(race((True, False)))
    assert first[0] == "" and first[1] in {"solved_first", "gave_up"}
    assert race((True, True)) == ["", ""]  # it has ended: nothing changes
    card = CodeReviewCard.objects.get()
    assert card.reviews == 0
    code_review_start(user=learner, problem_id=problem.id)
    ended = [outcome for outcome in race((True, True)) if outcome]
    card.refresh_from_db()
    assert len(ended) == 1 and card.reviews == 1 and card.round_started_at is None


def test_a_card_due_later_today_is_due_now_as_challenges_cards_are(sandbox, learner_client):
    from challengeapp.learning.review import tomorrow_start

    problem = _new_problem(learner_client)
    _submit(learner_client, problem, problem.reference_solution)
    CodeReviewCard.objects.filter(problem=problem).update(
        state=ReviewState.REVIEW, due_at=tomorrow_start(timezone.now()) - dt.timedelta(seconds=1)
    )
    assert "Due for review now." in learner_client.get(f"/code/{problem.id}/").content.decode()
    home = learner_client.get("/code/").content.decode()
    assert "Due for review" in home and "Write it again" in home
