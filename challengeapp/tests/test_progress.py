"""Progress: first answers per topic and difficulty, mastery, streaks, activity, auto difficulty."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from challengeapp.identity import dev_session_token_issue
from challengeapp.learning.activity import activity_rebuild
from challengeapp.learning.attempts import attempt_record
from challengeapp.learning.auto_difficulty import difficulty_auto
from challengeapp.learning.progress import (
    LEARNING,
    MASTERED,
    NEW,
    PROFICIENT,
    progress_activity,
    progress_streak,
    progress_topics,
)
from challengeapp.learning.review import review_answer
from challengeapp.models import Attempt, Challenge, ReviewCard, ReviewLog

pytestmark = pytest.mark.django_db
_serial = iter(range(1_000_000))


def make_challenge(owner, *, topic="python", difficulty="easy") -> Challenge:
    n = next(_serial)
    return Challenge.objects.create(
        owner=owner,
        difficulty=difficulty,
        topic=topic,
        title=f"C{n}",
        question="Q?",
        options=["a", "b", "c", "d"],
        correct_index=0,
        explanation="E",
        provider="bank",
        source_key=f"bank:progress:{n}",
    )


def answered(owner, *, right: bool, topic="python", difficulty="easy") -> Challenge:
    challenge = make_challenge(owner, topic=topic, difficulty=difficulty)
    attempt_record(challenge=challenge, chosen_index=0 if right else 1)
    return challenge


def api_progress(user) -> dict:
    token = dev_session_token_issue(user_id=user.username, session_id="sess_progress")
    response = Client().get("/api/progress", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    return response.json()


def review_after(challenge: Challenge, *, days: float, right: bool = True) -> None:
    """Review `challenge` as if its previous answer came `days` ago."""
    card = ReviewCard.objects.get(challenge=challenge)
    earlier = timezone.now() - dt.timedelta(days=days)
    ReviewCard.objects.filter(pk=card.pk).update(last_review_at=earlier, due_at=timezone.now())
    card.refresh_from_db()
    shown = [challenge.options[index] for index in card.option_order]
    position = shown.index(challenge.options[challenge.correct_index])
    if not right:
        position = (position + 1) % 4
    review_answer(user=challenge.owner, challenge_id=challenge.id, position=position)


def test_counts_are_first_answers_only_and_weakest_comes_first(learner):
    for right in (True, True, True, False):
        answered(learner, right=right, topic="python")
    for right in (False, False, True):
        answered(learner, right=right, topic="sql", difficulty="medium")
    shaky = Challenge.objects.filter(topic="python").first()
    # Reviews do not change first-answer counts.
    ReviewLog.objects.create(
        card=ReviewCard.objects.get(challenge=shaky),
        owner=learner,
        is_first_answer=False,
        review_number=1,
        chosen_index=1,
        is_correct=False,
        rating=1,
        reviewed_at=timezone.now(),
        due_after=timezone.now(),
    )

    topics = api_progress(learner)["topics"]

    assert [(t["topic"], t["difficulty"], t["answered"], t["correct"], t["mastery"]) for t in topics] == [
        ("sql", "medium", 3, 1, LEARNING),
        ("python", "easy", 4, 3, PROFICIENT),
    ]


def test_mastery_needs_retention_over_spaced_reviews(learner):
    challenges = [answered(learner, right=True) for _ in range(4)]
    assert progress_topics(user=learner)[0].mastery == PROFICIENT

    # Right answers in one sitting do not master anything, however many.
    for _ in range(3):
        for challenge in challenges:
            review_after(challenge, days=0)
    assert progress_topics(user=learner)[0].mastery == PROFICIENT

    # Right after a week's gap, for three of them: retained.
    for challenge in challenges[:3]:
        review_after(challenge, days=8)
    assert progress_topics(user=learner)[0].mastery == MASTERED

    # Missing one of them again takes mastery back.
    review_after(challenges[0], days=1, right=False)
    assert progress_topics(user=learner)[0].mastery == PROFICIENT


def test_too_few_answers_is_new(learner):
    answered(learner, right=True)
    answered(learner, right=True)
    assert progress_topics(user=learner)[0].mastery == NEW


def at(day: dt.date, hour: int, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(zone))


def log_on(user, moment: dt.datetime) -> None:
    """An answer given at `moment`: stored now, its time moved, the day counts recomputed."""
    challenge = answered(user, right=True)
    ReviewLog.objects.filter(card__challenge=challenge).update(reviewed_at=moment)
    activity_rebuild(user=user)


def test_streak_counts_consecutive_local_days(learner, settings):
    settings.TIME_ZONE = "America/New_York"
    today = timezone.localdate()
    for days_ago in (0, 1, 2, 5, 6, 7, 8):
        log_on(learner, at(today - dt.timedelta(days=days_ago), 12, settings.TIME_ZONE))

    progress = api_progress(learner)

    assert (progress["streak_days"], progress["longest_streak_days"]) == (3, 4)


def test_a_streak_ending_yesterday_can_still_be_kept_today(learner, settings):
    today = timezone.localdate()
    for days_ago in (1, 2):
        log_on(learner, at(today - dt.timedelta(days=days_ago), 9, settings.TIME_ZONE))
    assert progress_streak(user=learner).current == 2
    # Two days without: it is gone.
    assert progress_streak(user=learner, today=today + dt.timedelta(days=1)).current == 0


def test_days_are_calendar_days_in_time_zone(learner, settings):
    # 23:30 and 00:30 in Kolkata are two days there, though both fall on one UTC date.
    settings.TIME_ZONE = "Asia/Kolkata"
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    log_on(learner, dt.datetime.combine(yesterday, dt.time(23, 30), tzinfo=ZoneInfo("Asia/Kolkata")))
    log_on(learner, dt.datetime.combine(today, dt.time(0, 30), tzinfo=ZoneInfo("Asia/Kolkata")))

    assert progress_streak(user=learner).current == 2
    activity = {day.date: day.answers for day in progress_activity(user=learner)}
    assert activity[yesterday] == 1 and activity[today] == 1


def test_activity_covers_sixteen_weeks_ending_today(learner):
    answered(learner, right=True)
    answered(learner, right=False)
    activity = api_progress(learner)["activity"]
    assert len(activity) == 16 * 7
    assert activity[-1] == {"date": timezone.localdate().isoformat(), "answers": 2}
    assert sum(day["answers"] for day in activity) == 2


def test_one_learner_never_sees_anothers_progress(learner, other_learner):
    answered(other_learner, right=True, topic="git")
    progress = api_progress(learner)
    assert progress["topics"] == [] and progress["streak_days"] == 0
    assert sum(day["answers"] for day in progress["activity"]) == 0


def answers(owner, rights, *, topic="python", difficulty="easy") -> None:
    for right in rights:
        answered(owner, right=right, topic=topic, difficulty=difficulty)


def test_auto_difficulty_judges_a_full_window_and_steps_outside_the_band(learner, settings):
    assert (settings.AUTO_DIFFICULTY_WINDOW, settings.AUTO_DIFFICULTY_RUN) == (20, 10)
    assert difficulty_auto(user=learner, topic="python") == "easy"
    answers(learner, [True] * 19)
    assert difficulty_auto(user=learner, topic="python") == "easy"  # 19 answers: not judged yet
    answers(learner, [True])
    assert difficulty_auto(user=learner, topic="python") == "medium"  # 20 of 20: above 85 %
    answers(learner, [False] * 20, difficulty="medium")
    assert difficulty_auto(user=learner, topic="python") == "easy"  # 0 of 20: below 70 %
    # In the band (16 of 20 = 80 %): stays.
    answers(learner, [True, True, True, True, False] * 4, topic="sql", difficulty="hard")
    assert difficulty_auto(user=learner, topic="sql") == "hard"


def test_auto_difficulty_judges_what_there_is_when_a_levels_content_runs_out(learner, learner_client):
    """The built-in bank has eight challenges per level and topic: after them come repeats, which
    are reviews, so a window of twenty first answers never fills."""
    for _ in range(10):
        learner_client.post("/challenges/generate/", {"difficulty": "auto", "topic": "git"})
        challenge = Challenge.objects.filter(owner=learner).order_by("-id").first()
        learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": str(challenge.correct_index)})
    assert Attempt.objects.filter(challenge__owner=learner, is_repeat=True).exists()
    assert difficulty_auto(user=learner, topic="git") == "medium"


def test_auto_difficulty_waits_for_a_full_window_while_content_lasts(learner):
    answers(learner, [True] * 8, topic="git")
    assert difficulty_auto(user=learner, topic="git") == "easy"


def test_auto_difficulty_moves_only_past_the_band_by_its_margin(learner):
    # 18 of 20 (90 %) is above the band but not past the margin: stays.
    answers(learner, [False, False] + [True] * 18, topic="git")
    assert difficulty_auto(user=learner, topic="git") == "easy"
    # 13 of 20 (65 %) is below the band but not past the margin: stays.
    answers(learner, [False] * 7 + [True] * 13, topic="web", difficulty="medium")
    assert difficulty_auto(user=learner, topic="web") == "medium"
    # 12 of 20 (60 %): steps down.
    answers(learner, [False] * 8 + [True] * 12, topic="sql", difficulty="medium")
    assert difficulty_auto(user=learner, topic="sql") == "easy"


def test_auto_difficulty_does_not_step_back_on_the_answers_that_moved_it(learner):
    """A learner who passes every easy and fails every medium settles instead of alternating: the
    easy answers that caused the step up are not judged again after the step down."""
    answers(learner, [True] * 20)
    assert difficulty_auto(user=learner, topic="python") == "medium"
    answers(learner, [False] * 20, difficulty="medium")
    assert difficulty_auto(user=learner, topic="python") == "easy"
    for _ in range(5):
        assert difficulty_auto(user=learner, topic="python") == "easy"
    answers(learner, [True] * 19)
    assert difficulty_auto(user=learner, topic="python") == "easy"  # a new window, not yet full


def test_auto_difficulty_judges_again_only_a_run_later(learner):
    # 17 of 20 right (85 %, not above the band): judged, stays.
    answers(learner, [False] * 3 + [True] * 17)
    assert difficulty_auto(user=learner, topic="python") == "easy"
    # Nine more right make the last 20 all right: not judged until a run (10) after the last.
    answers(learner, [True] * 9)
    assert difficulty_auto(user=learner, topic="python") == "easy"
    answers(learner, [True])
    assert difficulty_auto(user=learner, topic="python") == "medium"


def test_auto_says_when_a_learner_is_above_hard_or_below_easy(learner, learner_client):
    answers(learner, [True] * 20, topic="sql", difficulty="hard")
    answers(learner, [False] * 20, topic="git", difficulty="easy")
    assert difficulty_auto(user=learner, topic="sql") == "hard"
    assert difficulty_auto(user=learner, topic="git") == "easy"
    html = learner_client.get("/").content.decode()
    assert "You are above hard in SQL: 20 of your last 20 right. Auto cannot go higher." in html
    assert "You are below easy in Git: 0 of your last 20 right. Auto cannot go lower." in html
    generated = learner_client.post(
        "/challenges/generate/", {"difficulty": "auto", "topic": "sql"}, HTTP_HX_REQUEST="true"
    )
    assert "You are above hard in SQL: 20 of your last 20 right." in generated.content.decode()
    levels = {row["topic"]: row for row in api_progress(learner)["auto_difficulty"]}
    assert (levels["sql"]["beyond"], levels["git"]["beyond"]) == ("above_hard", "below_easy")


def test_auto_difficulty_through_the_api(learner):
    token = dev_session_token_issue(user_id=learner.username, session_id="sess_auto")
    response = Client().post(
        "/api/generate-challenge",
        json.dumps({"difficulty": "auto", "topic": "sql"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201 and response.json()["difficulty"] == "easy"


def test_existing_answers_are_scheduled_by_the_migration(learner):
    from django.apps import apps as global_apps

    module = __import__("challengeapp.migrations.0005_schedule_existing_answers", fromlist=["x"])
    challenge = make_challenge(learner)
    Attempt.objects.create(challenge=challenge, chosen_index=1, is_correct=False)
    assert not ReviewCard.objects.filter(challenge=challenge).exists()

    module.schedule_existing_answers(global_apps, None)

    card = ReviewCard.objects.get(challenge=challenge)
    assert sorted(card.option_order) == [0, 1, 2, 3]
    assert ReviewLog.objects.get(card=card).rating == 1


def test_the_migration_merges_the_cards_of_one_piece_of_content(learner, other_learner):
    """Before one card per content, a bank repeat had a card of its own: the migration makes them
    one card with both answers, the repeat counted once."""
    from django.apps import apps as global_apps

    module = __import__("challengeapp.migrations.0013_one_card_per_content", fromlist=["x"])
    first, repeat = make_challenge(learner), make_challenge(learner)
    Challenge.objects.filter(pk=repeat.pk).update(source_key=first.source_key)
    theirs = make_challenge(other_learner)
    Challenge.objects.filter(pk=theirs.pk).update(source_key=first.source_key)
    attempt_record(challenge=first, chosen_index=1)  # wrong
    attempt_record(challenge=theirs, chosen_index=0)
    # The repeat's card as it was stored then: its own card (the first one under a key of its own
    # here, as the constraint the migration makes hold is already in place), its own "first" answer.
    ReviewCard.objects.filter(challenge=first).update(source_key="old-a")
    attempt_record(challenge=Challenge.objects.get(pk=repeat.pk), chosen_index=0)
    assert ReviewCard.objects.filter(owner=learner).count() == 2

    module.merge_cards(global_apps, None)

    card = ReviewCard.objects.get(owner=learner)
    assert card.challenge_id == first.id and card.source_key == first.source_key
    logs = list(
        card.logs.order_by("review_number").values_list("review_number", "is_first_answer", "is_correct")
    )
    assert logs == [(0, True, False), (1, False, True)]
    assert (card.reviews, card.misses, card.recalled) == (1, 1, True)
    assert Attempt.objects.get(challenge_id=repeat.pk).is_repeat
    assert [(g.answered, g.correct, g.cards, g.recalled) for g in progress_topics(user=learner)] == [
        (1, 0, 1, 1)
    ]
    assert ReviewCard.objects.filter(owner=other_learner).count() == 1


# --- Counts kept as answers happen ---------------------------------------------------------------


def kept_counts(user) -> dict[tuple[str, str], tuple[int, int, int]]:
    from challengeapp.models import ProgressCount

    return {
        (row.topic, row.difficulty): (row.answered, row.correct, row.retained)
        for row in ProgressCount.objects.filter(owner=user)
        if row.answered or row.correct or row.retained
    }


def recounted(user) -> dict[tuple[str, str], tuple[int, int, int]]:
    from challengeapp.learning.progress_counts import progress_counts_rebuild

    progress_counts_rebuild(user=user)
    return kept_counts(user)


def test_the_kept_counts_are_what_the_history_says_after_answers_reviews_and_a_regrade(
    learner, other_learner
):
    from challengeapp.content.reports import content_correct_key

    python = [answered(learner, right=right, topic="python") for right in (True, True, False, True)]
    sql = [answered(learner, right=right, topic="sql", difficulty="hard") for right in (False, True)]
    answered(other_learner, right=True, topic="python")
    review_after(python[0], days=8)  # retained
    review_after(python[1], days=9)  # retained
    review_after(python[1], days=1, right=False)  # and lost again
    review_after(sql[1], days=10)
    # An operator corrects the key of the python[2] content: the learner's wrong answer is right.
    Challenge.objects.filter(pk=python[2].pk).update(source_key="bank:progress:regraded")
    python[2].refresh_from_db()

    before = kept_counts(learner)
    assert before == {("python", "easy"): (4, 3, 1), ("sql", "hard"): (2, 1, 1)}
    content_correct_key(source_key="bank:progress:regraded", example_id=python[2].pk, option_index=1)

    after = kept_counts(learner)
    assert after == recounted(learner)
    assert after[("python", "easy")][:2] == (4, 4)
    assert kept_counts(other_learner) == {("python", "easy"): (1, 1, 0)}


def test_the_progress_groups_are_one_query_however_long_the_history(learner, django_assert_num_queries):
    for n in range(30):
        answered(learner, right=n % 3 != 0, topic=("python", "sql", "git")[n % 3], difficulty="medium")
    with django_assert_num_queries(1):
        groups = progress_topics(user=learner)
    assert sum(group.answered for group in groups) == 30
    assert sum(group.correct for group in groups) == 20


def test_challenges_cannot_be_deleted_in_the_admin(admin_client, learner):
    challenge = answered(learner, right=True)

    response = admin_client.post(f"/admin/challengeapp/challenge/{challenge.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Challenge.objects.filter(pk=challenge.pk).exists()
