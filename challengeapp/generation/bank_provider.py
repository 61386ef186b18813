"""The embedded generator: bank challenges and procedural Python snippets, no network, no cost."""

from __future__ import annotations

import dataclasses
import random

from challengeapp.content.bank import procedural
from challengeapp.content.bank.loader import BankEntry, bank_entries_for
from challengeapp.core.drafts import challenge_draft_validate
from challengeapp.core.errors import GenerationError, InvalidModelOutput
from challengeapp.generation.providers import GeneratedChallenge, GenerationRequest
from challengeapp.models import Provider, Verification

BANK_EMPTY = "There are no built-in challenges for that difficulty and topic."

# How many draws a procedural generator gets to produce a snippet the learner has not seen.
PROCEDURAL_DRAWS = 20


class BankProvider:
    name = Provider.BANK

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.SystemRandom()

    def generate(self, request: GenerationRequest) -> GeneratedChallenge:
        entries = [
            entry
            for entry in bank_entries_for(request.difficulty, request.topic)
            if entry.source_key not in request.retired_source_keys
        ]
        generators = procedural.generators_for(difficulty=request.difficulty, topic=request.topic)
        unseen = [entry for entry in entries if entry.source_key not in request.seen_source_keys]
        # Unseen bank entries and each procedural generator are equally likely. Only when every
        # entry has been seen and no generator exists does a learner get a repeat.
        candidates: list[BankEntry | procedural.SnippetGenerator] = [*unseen, *generators]
        if not candidates:
            candidates = list(entries)
        if not candidates:
            raise GenerationError(BANK_EMPTY, cause="bank_empty")
        pick = self._rng.choice(candidates)
        if isinstance(pick, BankEntry):
            return _from_entry(pick)
        return self._from_generator(pick, request=request, unseen=unseen)

    def _from_generator(
        self,
        generator: procedural.SnippetGenerator,
        *,
        request: GenerationRequest,
        unseen: list[BankEntry],
    ) -> GeneratedChallenge:
        for _ in range(PROCEDURAL_DRAWS):
            snippet = generator.build(random.Random(self._rng.getrandbits(64)))
            if snippet.source_key not in request.seen_source_keys | request.retired_source_keys:
                return _from_snippet(snippet)
        if unseen:
            return _from_entry(self._rng.choice(unseen))
        if snippet.source_key in request.retired_source_keys:
            raise GenerationError(BANK_EMPTY, cause="bank_empty")
        return _from_snippet(snippet)


def _from_entry(entry: BankEntry) -> GeneratedChallenge:
    return GeneratedChallenge(
        draft=entry.draft,
        provider=Provider.BANK,
        source_key=entry.source_key,
        verification=Verification.CURATED,
    )


def _from_snippet(snippet: procedural.ProceduralChallenge) -> GeneratedChallenge:
    # Generated snippets pass the same validator as everything else before anyone sees them.
    try:
        draft = challenge_draft_validate(dataclasses.asdict(snippet))
    except InvalidModelOutput as error:
        raise GenerationError(str(error), cause="procedural_invalid") from error
    # The key was computed by running the generated snippet: verified by construction.
    return GeneratedChallenge(
        draft=draft, provider=Provider.BANK, source_key=snippet.source_key, verification=Verification.EXECUTED
    )
