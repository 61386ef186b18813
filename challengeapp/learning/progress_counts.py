"""The progress page's per-group counts (ProgressCount), kept as answers happen.

Progress per topic and difficulty needs, for each group: first answers, the right ones, the
review cards (one per piece of content), those whose latest answer was recalled, and those that
count as retained. Grouping the learner's whole history for that grows with it
(5,000 answers: 35 ms a page; 50,000: 150 ms, docs/BENCHMARKS.md); these rows make it one small
read however long the history is. Every write that changes one of the three moves its count by a
delta, in the same transaction:
- a first answer (learning/attempts.py): answered + 1, correct + 1 when right (not for a repeat of
  content already answered, which is a review); cards + 1 and recalled + 1 for a new card;
- a review that changes whether a card is recalled or retained (learning/review.py): ± 1;
- an operator's regrade (content/reports.py): correct ± 1 per answer whose grade changed, and
  retained ± 1 per card whose replay changed it.
Challenges are never deleted one by one (the admin does not allow it); a learner's deletion takes
their rows with it. `progress_counts_rebuild` recomputes the rows from the history, for data stored
another way (a migration, a bulk load) or to repair a drift.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q

from challengeapp.models import Attempt, ProgressCount, ReviewCard


def progress_count_add(*, owner_id: int, topic: str, difficulty: str, **deltas: int) -> None:
    """Move the group's counts by `deltas` (answered=, correct=, retained=), creating its row."""
    deltas = {name: delta for name, delta in deltas.items() if delta}
    if not deltas:
        return
    group = ProgressCount.objects.filter(owner_id=owner_id, topic=topic, difficulty=difficulty)
    change = {name: F(name) + delta for name, delta in deltas.items()}
    if group.update(**change):
        return
    try:
        with transaction.atomic():
            ProgressCount.objects.create(owner_id=owner_id, topic=topic, difficulty=difficulty, **deltas)
    except IntegrityError:  # another answer in the same group created the row first
        group.update(**change)


def progress_counts_rebuild(*, user=None) -> int:
    """Recompute the rows from the stored answers and review cards, for one learner or everyone.
    Returns how many rows there are."""
    attempts = Attempt.objects.filter(is_repeat=False)
    if user is not None:
        attempts = attempts.filter(challenge__owner=user)
    cards = ReviewCard.objects.all()
    if user is not None:
        cards = cards.filter(owner=user)
    groups: dict[tuple[int, str, str], ProgressCount] = {}

    def group(owner_id: int, topic: str, difficulty: str) -> ProgressCount:
        key = (owner_id, topic, difficulty)
        if key not in groups:
            groups[key] = ProgressCount(owner_id=owner_id, topic=topic, difficulty=difficulty)
        return groups[key]

    for row in attempts.values("challenge__owner_id", "challenge__topic", "challenge__difficulty").annotate(
        answered=Count("id"), correct=Count("id", filter=Q(is_correct=True))
    ):
        counts = group(row["challenge__owner_id"], row["challenge__topic"], row["challenge__difficulty"])
        counts.answered, counts.correct = row["answered"], row["correct"]
    for row in cards.values("owner_id", "challenge__topic", "challenge__difficulty").annotate(
        cards=Count("id"),
        recalled=Count("id", filter=Q(recalled=True)),
        retained=Count("id", filter=Q(retained=True)),
    ):
        counts = group(row["owner_id"], row["challenge__topic"], row["challenge__difficulty"])
        counts.cards, counts.recalled, counts.retained = row["cards"], row["recalled"], row["retained"]
    with transaction.atomic():
        (ProgressCount.objects.all() if user is None else ProgressCount.objects.filter(owner=user)).delete()
        ProgressCount.objects.bulk_create(groups.values(), batch_size=500)
    return len(groups)
