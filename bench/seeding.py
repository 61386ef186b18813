"""Histories for the benchmarks: copies of the built-in bank's challenges, not yet saved.

Used by bench/django_tasks.py (the server's learners), bench/learning.py and bench/export_cost.py,
each in a process where Django is already set up. Saved with bulk_create, they bypass the counts
kept as answers happen: callers rebuild them (activity_rebuild, progress_counts_rebuild).
"""

from __future__ import annotations


def bank_challenges(*, owner, count: int, key_prefix: str) -> list:
    """`count` unsaved challenges for `owner`, the bank's entries in turn, each its own content."""
    from challengeapp.content.bank.loader import bank_entries
    from challengeapp.models import Challenge

    entries = bank_entries()
    challenges = []
    for number in range(count):
        entry = entries[number % len(entries)]
        draft = entry.draft
        challenges.append(
            Challenge(
                owner=owner,
                difficulty=entry.difficulty,
                topic=entry.topic,
                title=draft.title,
                question=draft.question,
                code=draft.code,
                code_language=draft.language,
                options=list(draft.options),
                correct_index=draft.correct_index,
                explanation=draft.explanation,
                provider="bank",
                source_key=f"{key_prefix}:{number}",
            )
        )
    return challenges
