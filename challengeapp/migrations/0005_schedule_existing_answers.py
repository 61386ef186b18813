"""Challenges answered before spaced review existed enter it as if scheduled when answered."""

import datetime as dt
import random

from django.db import migrations


def schedule_existing_answers(apps, schema_editor):
    from fsrs import Card, Rating, Scheduler

    Attempt = apps.get_model("challengeapp", "Attempt")
    ReviewCard = apps.get_model("challengeapp", "ReviewCard")
    ReviewLog = apps.get_model("challengeapp", "ReviewLog")
    scheduler = Scheduler()
    rng = random.SystemRandom()
    attempts = Attempt.objects.filter(challenge__review_card__isnull=True).select_related("challenge")
    for attempt in attempts.iterator():
        answered_at = attempt.answered_at.astimezone(dt.UTC)
        rating = Rating.Good if attempt.is_correct else Rating.Again
        scheduled, _ = scheduler.review_card(Card(card_id=attempt.challenge_id), rating, answered_at)
        order = [0, 1, 2, 3]
        rng.shuffle(order)
        card = ReviewCard.objects.create(
            challenge_id=attempt.challenge_id,
            owner_id=attempt.challenge.owner_id,
            state=int(scheduled.state),
            step=scheduled.step,
            stability=scheduled.stability,
            difficulty=scheduled.difficulty,
            due_at=scheduled.due,
            last_review_at=scheduled.last_review,
            option_order=order,
        )
        ReviewLog.objects.create(
            card=card,
            owner_id=attempt.challenge.owner_id,
            is_first_answer=True,
            chosen_index=attempt.chosen_index,
            is_correct=attempt.is_correct,
            rating=int(rating),
            elapsed_seconds=0,
            reviewed_at=answered_at,
            due_after=scheduled.due,
        )


class Migration(migrations.Migration):
    dependencies = [("challengeapp", "0004_review_schedule_and_log")]

    operations = [migrations.RunPython(schedule_existing_answers, migrations.RunPython.noop)]
