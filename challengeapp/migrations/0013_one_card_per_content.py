"""One review card per learner and piece of content, and the new fields filled from the history.

A learner served the same content twice (a bank repeat, a question generated again) had a card
for each serving, each with its own "first" answer. Here the cards of one learner and source_key
become the card of the first serving: the other cards' answers move to it as reviews (their
attempts marked as repeats), in time order, and the schedule is replayed through FSRS so it is what
it would have been with one card all along. Every card gets its answers numbered (0 is the first
answer), its misses counted (wrong, or right by a guess), whether its latest answer was recalled; the progress counts are
recomputed from the result.
"""

import datetime as dt
from collections import defaultdict

from django.db import migrations
from django.db.models import Count, F, Q

RETENTION_GAP = dt.timedelta(days=7)
GUESSED = "guessed"
BATCH = 500
TEMPORARY = 1_000_000  # above any card's number of answers


def _replay(card, logs, scheduler):
    from fsrs import Card, Rating

    scheduled = Card(card_id=card.challenge_id)
    previous = None
    retained = False
    for log in logs:
        reviewed_at = log.reviewed_at.astimezone(dt.UTC)
        scheduled, _ = scheduler.review_card(scheduled, Rating(log.rating), reviewed_at)
        log.due_after = scheduled.due
        recalled = log.is_correct and log.confidence != GUESSED
        if not recalled:
            retained = False
        elif not log.is_first_answer and previous is not None and reviewed_at - previous >= RETENTION_GAP:
            retained = True
        previous = reviewed_at
    card.state = int(scheduled.state)
    card.step = scheduled.step
    card.stability = scheduled.stability
    card.difficulty = scheduled.difficulty
    card.due_at = scheduled.due
    card.last_review_at = scheduled.last_review
    card.retained = retained


def merge_cards(apps, schema_editor):
    from fsrs import Scheduler

    ReviewCard = apps.get_model("challengeapp", "ReviewCard")
    ReviewLog = apps.get_model("challengeapp", "ReviewLog")
    Attempt = apps.get_model("challengeapp", "Attempt")
    ProgressCount = apps.get_model("challengeapp", "ProgressCount")
    scheduler = Scheduler(
        desired_retention=0.9,
        learning_steps=(dt.timedelta(minutes=1), dt.timedelta(minutes=10)),
        relearning_steps=(dt.timedelta(minutes=10),),
        enable_fuzzing=False,
    )

    groups = defaultdict(list)
    # Read whole (not .iterator()): the loop below writes on the same connection as it goes.
    for card in ReviewCard.objects.select_related("challenge").order_by("challenge_id"):
        card.source_key = card.challenge.source_key
        groups[(card.owner_id, card.source_key)].append(card)

    kept_cards, gone = [], []
    for cards in groups.values():
        kept, others = cards[0], cards[1:]
        for place, other in enumerate(others, start=1):
            # Numbers apart from the kept card's, should (card, review_number) be unique already.
            ReviewLog.objects.filter(card_id=other.pk).update(
                card_id=kept.pk, review_number=F("review_number") + TEMPORARY * place
            )
            Attempt.objects.filter(challenge_id=other.challenge_id).update(is_repeat=True)
            gone.append(other.pk)
        logs = list(ReviewLog.objects.filter(card_id=kept.pk).order_by("reviewed_at", "id"))
        renumbered = [log for number, log in enumerate(logs) if log.review_number != number]
        # In two steps, through numbers no answer has, so no step repeats a number on the card.
        for number, log in enumerate(logs):
            log.review_number = TEMPORARY * 1000 + number
        ReviewLog.objects.bulk_update(renumbered, ["review_number"], batch_size=BATCH)
        for number, log in enumerate(logs):
            log.review_number = number
            log.is_first_answer = number == 0
        if others:
            _replay(kept, logs, scheduler)
        ReviewLog.objects.bulk_update(logs, ["review_number", "is_first_answer", "due_after"], batch_size=BATCH)
        kept.reviews = max(len(logs) - 1, 0)
        misses = [log for log in logs if not (log.is_correct and log.confidence != GUESSED)]
        kept.misses = len(misses)
        kept.missed_at = misses[-1].reviewed_at if misses else None
        kept.recalled = bool(logs) and logs[-1].is_correct and logs[-1].confidence != GUESSED
        kept_cards.append(kept)
    ReviewCard.objects.filter(pk__in=gone).delete()
    ReviewCard.objects.bulk_update(
        kept_cards,
        [
            "source_key",
            "reviews",
            "misses",
            "missed_at",
            "recalled",
            "state",
            "step",
            "stability",
            "difficulty",
            "due_at",
            "last_review_at",
            "retained",
        ],
        batch_size=BATCH,
    )

    counts = {}

    def group(owner_id, topic, difficulty):
        key = (owner_id, topic, difficulty)
        if key not in counts:
            counts[key] = ProgressCount(owner_id=owner_id, topic=topic, difficulty=difficulty)
        return counts[key]

    firsts = Attempt.objects.filter(is_repeat=False).values(
        "challenge__owner_id", "challenge__topic", "challenge__difficulty"
    )
    for row in firsts.annotate(answered=Count("id"), correct=Count("id", filter=Q(is_correct=True))):
        row_group = group(row["challenge__owner_id"], row["challenge__topic"], row["challenge__difficulty"])
        row_group.answered, row_group.correct = row["answered"], row["correct"]
    by_card = ReviewCard.objects.values("owner_id", "challenge__topic", "challenge__difficulty").annotate(
        cards=Count("id"),
        recalled=Count("id", filter=Q(recalled=True)),
        retained=Count("id", filter=Q(retained=True)),
    )
    for row in by_card:
        row_group = group(row["owner_id"], row["challenge__topic"], row["challenge__difficulty"])
        row_group.cards, row_group.recalled, row_group.retained = row["cards"], row["recalled"], row["retained"]
    ProgressCount.objects.all().delete()
    ProgressCount.objects.bulk_create(counts.values(), batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("challengeapp", "0012_learning_loop_fields")]

    operations = [migrations.RunPython(merge_cards, migrations.RunPython.noop)]
