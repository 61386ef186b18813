"""The progress page (per topic and difficulty, the streak, the activity calendar), "Practise this"
links that fill in the practice form, and "Auto" difficulty."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest
from django.utils import timezone

from challengeapp.forms import auto_help
from challengeapp.learning.attempts import attempt_record
from challengeapp.learning.progress import progress_topics
from challengeapp.models import Challenge
from challengeapp.quota import quota_status

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def answer_some(
    owner, *, topic: str, difficulty: str, right: int, wrong: int, key: str = ""
) -> list[Challenge]:
    made = []
    for n in range(right + wrong):
        challenge = Challenge.objects.create(
            owner=owner,
            difficulty=difficulty,
            topic=topic,
            title=f"{topic} {difficulty} {n}",
            question="Q?",
            options=["a", "b", "c", "d"],
            correct_index=1,
            explanation="E",
            provider="bank",
            source_key=f"bank:{topic}:{difficulty}:{key}{n}",
        )
        attempt_record(challenge=challenge, chosen_index=1 if n < right else 2)
        made.append(challenge)
    return made


def body(response) -> str:
    return response.content.decode()


def table_rows(html: str) -> list[tuple[str, ...]]:
    rows = re.findall(
        r'<tr data-topic="([^"]+)" data-difficulty="([^"]+)">\s*<th scope="row">[^<]*</th>\s*<td>[^<]*</td>\s*'
        r'<td class="number">(\d+)</td>\s*<td class="number">(\d+)</td>\s*<td class="number">(\d+) %</td>\s*'
        r'<td class="number" data-recalled>\d+ of \d+</td>\s*<td><span class="mastery mastery-(\w+)">',
        html,
    )
    return rows


# --- The table ----------------------------------------------------------------------------------


def test_progress_lists_topics_weakest_first_with_accuracy_and_mastery(learner_client, learner):
    answer_some(learner, topic="python", difficulty="easy", right=3, wrong=0)
    answer_some(learner, topic="sql", difficulty="medium", right=1, wrong=2)
    answer_some(learner, topic="git", difficulty="hard", right=1, wrong=0)
    html = body(learner_client.get("/progress/"))
    rows = table_rows(html)
    # Known weak first, then not yet judged, then proficient.
    assert rows == [
        ("sql", "medium", "3", "1", "33", "learning"),
        ("git", "hard", "1", "1", "100", "new"),
        ("python", "easy", "3", "3", "100", "proficient"),
    ]
    assert [(r[0], r[1]) for r in rows] == [(g.topic, g.difficulty) for g in progress_topics(user=learner)]
    # The mastery rule is on the page, with its numbers.
    assert "fewer than 3 questions" in html
    assert "at least 3 questions, at least 70 % recalled" in html
    assert "at least 7 days after their previous answer" in html
    assert "mastery needs retention over spaced reviews" in html
    # One click to practise each.
    assert '<a href="/?topic=sql&amp;difficulty=medium">Practise this' in html
    # And the export.
    assert 'href="/progress/export.csv"' in html and 'href="/progress/export.apkg"' in html


def test_a_learner_with_no_answers_sees_an_empty_progress_page(learner_client):
    html = body(learner_client.get("/progress/"))
    assert "No answers yet." in html and 'class="progress-table"' not in html
    assert "<dd data-streak-current>0 days</dd>" in html


def test_progress_shows_only_the_learners_own_answers(learner_client, learner, other_learner):
    answer_some(other_learner, topic="web", difficulty="hard", right=2, wrong=2)
    answer_some(learner, topic="python", difficulty="easy", right=1, wrong=0)
    html = body(learner_client.get("/progress/"))
    assert [r[0] for r in table_rows(html)] == ["python"]
    assert "HTTP and the web" not in html
    assert "<dd data-streak-current>1 day</dd>" in html
    assert 'title="{}: 1 answer"'.format(timezone.localdate().strftime("%a %-d %b")) in html


# --- Streak and activity ------------------------------------------------------------------------


def test_the_streak_counts_consecutive_days_with_answers_or_reviews(learner_client, learner):
    now = timezone.now()
    # Answers four and three days ago, a day without, then yesterday and today.
    for days_ago in (4, 3, 1, 0):
        with mock.patch("django.utils.timezone.now", return_value=now - dt.timedelta(days=days_ago)):
            answer_some(learner, topic="python", difficulty="easy", right=1, wrong=0, key=f"ago{days_ago}")
    html = body(learner_client.get("/progress/"))
    assert "<dd data-streak-current>2 days</dd>" in html
    assert "<dd data-streak-longest>2 days</dd>" in html
    assert "consecutive calendar days (UTC) with at least one answer or review" in html


def test_the_activity_calendar_is_a_grid_of_16_weeks_with_a_text_alternative(learner_client, learner):
    answer_some(learner, topic="python", difficulty="easy", right=4, wrong=0)
    html = body(learner_client.get("/progress/"))
    cells = re.findall(r'<li class="activity-day level-(\d)( is-today)?" title="([^"]+)">', html)
    assert len(cells) == 16 * 7
    today = timezone.localdate()
    label = f"{today:%a} {today.day} {today:%b}: 4 answers"
    assert cells[-1] == ("2", " is-today", label)  # 3-5 answers: the second shade
    assert all(level == "0" for level, _, _ in cells[:-1])
    assert f'<span class="visually-hidden">{label}</span>' in html
    first = today - dt.timedelta(days=16 * 7 - 1)
    assert f"{first:%a} {first.day} {first:%b}: 0 answers" == cells[0][2]
    # Seven rows, named after the weekdays of the first column.
    weekdays = re.search(r'<ol class="activity-weekdays" aria-hidden="true">(.*?)</ol>', html, re.S).group(1)
    assert re.findall(r"<li>(\w+)</li>", weekdays) == [
        (first + dt.timedelta(days=n)).strftime("%a") for n in range(7)
    ]
    summary = re.search(r'<p class="visually-hidden" data-activity-summary>(.*?)</p>', html, re.S).group(1)
    assert "4 answers and reviews on 1 day" in " ".join(summary.split())
    # The CSP allows no inline styles: the shading is classes only.
    assert "style=" not in html


# --- "Practise this" and the practice form ------------------------------------------------------


def test_practise_this_opens_the_practice_form_filled_in(learner_client):
    html = body(learner_client.get("/?topic=sql&difficulty=medium"))
    assert re.search(r'<input type="radio" name="difficulty" value="medium"[^>]*checked', html)
    assert '<option value="sql" selected>' in html


@pytest.mark.parametrize(
    "query", ["topic=cobol&difficulty=extreme", "topic=sql&topic=git", "difficulty=%00", "topic=²"]
)
def test_practice_ignores_preset_values_that_are_not_choices(learner_client, query):
    response = learner_client.get(f"/?{query}")
    assert response.status_code == 200
    html = body(response)
    assert re.search(r'<input type="radio" name="difficulty" value="easy"[^>]*checked', html)
    assert '<option value="python" selected>' in html


def test_a_preset_wins_over_the_last_challenge(learner_client, learner):
    answer_some(learner, topic="git", difficulty="hard", right=1, wrong=0)
    html = body(learner_client.get("/?topic=sql"))
    assert '<option value="sql" selected>' in html
    assert re.search(r'<input type="radio" name="difficulty" value="hard"[^>]*checked', html)


# --- Auto difficulty ----------------------------------------------------------------------------


def test_the_practice_form_offers_auto_with_its_rule(learner_client):
    html = body(learner_client.get("/?difficulty=auto"))
    assert re.search(r'<input type="radio" name="difficulty" value="auto"[^>]*checked', html)
    assert "<span>Auto</span>" in html
    assert auto_help() in html.replace("&#x27;", "'")
    assert "above 90 % of the last 20 steps up, under 65 % steps down" in auto_help()


def test_auto_starts_a_new_topic_easy(learner_client, learner):
    response = learner_client.post("/challenges/generate/", {"difficulty": "auto", "topic": "sql"})
    challenge = Challenge.objects.get(owner=learner)
    assert response.status_code == 302 and response["Location"] == f"/challenges/{challenge.id}/"
    assert (challenge.topic, challenge.difficulty) == ("sql", "easy")
    assert quota_status(user=learner).used == 1


def test_auto_steps_up_after_mostly_right_answers(learner_client, learner):
    answer_some(learner, topic="python", difficulty="easy", right=20, wrong=0)
    response = learner_client.post("/challenges/generate/", {"difficulty": "auto", "topic": "python"}, **HTMX)
    assert response.status_code == 200
    newest = Challenge.objects.filter(owner=learner).order_by("-id").first()
    assert newest.difficulty == "medium"
    assert '<span class="badge badge-medium">Medium</span>' in body(response)


def test_auto_steps_down_after_mostly_wrong_answers(learner_client, learner):
    answer_some(learner, topic="git", difficulty="medium", right=5, wrong=15)
    learner_client.post("/challenges/generate/", {"difficulty": "auto", "topic": "git"})
    assert Challenge.objects.filter(owner=learner).order_by("-id").first().difficulty == "easy"


def test_auto_reads_only_the_learners_own_answers(learner_client, learner, other_learner):
    answer_some(other_learner, topic="python", difficulty="easy", right=20, wrong=0)
    learner_client.post("/challenges/generate/", {"difficulty": "auto", "topic": "python"})
    assert Challenge.objects.get(owner=learner).difficulty == "easy"


def test_an_unknown_difficulty_names_auto_among_the_choices(learner_client, learner):
    response = learner_client.post("/challenges/generate/", {"difficulty": "automatic", "topic": "sql"})
    assert response.status_code == 400
    assert "Choose a difficulty: easy, medium, hard or auto." in body(response)
    assert Challenge.objects.count() == 0
