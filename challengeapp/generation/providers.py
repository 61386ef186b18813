"""The provider interface: what every challenge source (built-in bank, OpenAI) takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from challengeapp.core.drafts import ChallengeDraft


@dataclass(frozen=True)
class GenerationRequest:
    difficulty: str
    topic: str
    # Titles of the learner's most recent challenges, newest first, for the model to avoid.
    recent_titles: tuple[str, ...] = ()
    # source_key of every challenge the learner already has, for the bank to avoid.
    seen_source_keys: frozenset[str] = frozenset()
    # Content an operator retired: never served again.
    retired_source_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GeneratedChallenge:
    draft: ChallengeDraft
    provider: str
    source_key: str
    model_name: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    # How far the key can be trusted: "curated" (bank), "executed" (checked by running the code),
    # "checked" (a second model answered it blind and agreed), "unverified" (a model's word).
    verification: str = "unverified"
    # The blind second check's cost, when one was asked (quality/blind_check.py).
    check_model_name: str = ""
    check_prompt_tokens: int | None = None
    check_completion_tokens: int | None = None


class ChallengeProvider(Protocol):
    name: str

    def generate(self, request: GenerationRequest) -> GeneratedChallenge:
        """Return a validated draft, or raise GenerationError (never anything else)."""
        ...
