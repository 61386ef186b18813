"""The blind second check: a key nothing could run is served only when a second model, answering
the question without the key and with the options in another order, picks that key.

What running cannot settle (a concept question, code in a language the sandbox does not run, a
value it could not evaluate) is otherwise the model's word alone. Before such a challenge is
served, the check model (OPENAI_CHECK_MODEL, by default the model that wrote it) is shown the
question, its code and the four options under the letters A to D, shuffled so that the key's
place says nothing, and asked which options are correct. Then:

- it names the key alone: served, stored as "checked";
- it names another option, more than one (two right answers are one too many) or none: refused,
  cause `check_disagrees`, `check_two_right` or `check_none_right`; the learner's quota unit is given back, as for every
  failed generation;
- its answer names no option we can read (`check_unreadable`), or the request fails
  (`check_failed`): refused too. "Only when it picks the key" has no third way: a key nobody
  confirmed is not served as if one had.

Its tokens are stored on the challenge (check_model_name, check_prompt_tokens,
check_completion_tokens) and reported by `make bench-quality`. BLIND_CHECK=0 turns it off: such
keys are then served "unverified", as before the check existed.

This module builds the request and reads the answer; the request itself goes through the provider
(generation/openai_provider.py, the one module that imports the SDK).

How an answer is read, liberally, because compatible servers and smaller models answer loosely:
a JSON object with "answers" (a list) or "answer" (one value), each a letter ("B", "b", "(B)",
"Option B"), or an option's exact text (an empty list: no option is right); failing JSON, plain
text that is one letter ("B", "Answer: B") or one option's exact text.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

from challengeapp.core.drafts import OPTION_COUNT, ChallengeDraft
from challengeapp.core.errors import GenerationError

LETTERS = "ABCD"
OPTION_INDENT = "   "

CHECK_DISAGREES = (
    "A second check answered this challenge differently from its key, so it was not served. Please try again."
)
CHECK_TWO_RIGHT = "A second check found more than one right answer to this challenge, so it was not served. Please try again."
CHECK_NONE_RIGHT = "A second check found no right answer among this challenge's options, so it was not served. Please try again."
CHECK_UNREADABLE = (
    "The second check's answer could not be read, so the challenge was not served. Please try again."
)

CHECK_SYSTEM_PROMPT = (
    "You answer multiple-choice questions for developers, carefully and on your own. Some questions "
    "have a mistake: more than one option is correct, or none is. Say so when that happens. "
    "You respond with a single JSON object and nothing else."
)

# Strict structured output: a short reasoning first (models choose better after it), then the
# letters of every option that is correct.
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string", "description": "At most three sentences."},
        "answers": {
            "type": "array",
            "items": {"type": "string", "enum": list(LETTERS)},
            "description": "The letter of every correct option: one, unless the question is flawed.",
        },
    },
    "required": ["reasoning", "answers"],
    "additionalProperties": False,
}
CHECK_SCHEMA_NAME = "blind_answer"

# The system random source, as for the options' shuffle before serving.
_rng = random.SystemRandom()


class CheckRefused(GenerationError):
    """The blind check did not confirm the key (the module docstring's rules)."""


@dataclass(frozen=True)
class CheckOutcome:
    """What the check said, and what it cost."""

    picked: frozenset[int] | None  # indices into the draft's options; None when unreadable
    model_name: str
    prompt_tokens: int | None
    completion_tokens: int | None


def check_order(rng: random.Random = _rng) -> tuple[int, ...]:
    """The order the checker sees the options in: a random permutation that is not the original
    one, so the key's position cannot be read back."""
    while True:
        order = list(range(OPTION_COUNT))
        rng.shuffle(order)
        if order != list(range(OPTION_COUNT)):
            return tuple(order)


def check_messages(draft: ChallengeDraft, order: tuple[int, ...], *, context: str) -> list[dict[str, str]]:
    """The checker's messages: the question, its code, the options lettered in `order` (order[k]
    is the draft's option shown as letter k), never the key or the explanation. `context` names the
    language versions the question assumes (as the writer was told)."""
    lines = [context, "", "Question:", draft.question]
    if draft.code:
        fence = "~~~~" if "```" in draft.code else "```"
        lines += ["", f"{fence}{draft.language}", draft.code, fence]
    lines += ["", "Options:"]
    for shown, index in enumerate(order):
        # An option of several lines (a program's output) keeps them, indented under its letter.
        first, *rest = draft.options[index].splitlines() or [""]
        lines += [f"{LETTERS[shown]}. {first}", *(f"{OPTION_INDENT}{line}" for line in rest)]
    lines += [
        "",
        'Answer with JSON: {"reasoning": "...", "answers": ["<letter>"]}. List the letter of every '
        "correct option: exactly one when the question is sound, two or more when several are "
        "correct, none when no option is.",
    ]
    return [
        {"role": "system", "content": CHECK_SYSTEM_PROMPT},
        {"role": "user", "content": "\n".join(lines)},
    ]


def check_prompt_options(prompt: str) -> dict[str, str]:
    """The options a check prompt shows, by letter: what check_messages wrote, read back (for a
    fake checker in the tests and the quality benchmark)."""
    options: dict[str, list[str]] = {}
    current = None
    lines = prompt.splitlines()
    after = max((i for i, line in enumerate(lines) if line == "Options:"), default=-1)
    for line in lines[after + 1 :]:
        if len(line) >= 3 and line[0] in LETTERS and line[1:3] == ". " and line[0] not in options:
            current = line[0]
            options[current] = [line[3:]]
        elif current and line.startswith(OPTION_INDENT):
            options[current].append(line[len(OPTION_INDENT) :])
        else:
            current = None
    return {letter: "\n".join(texts) for letter, texts in options.items()}


_LETTER = re.compile(r"^\(?\s*(?:option\s+|answer\s*:?\s*)?\(?([A-Da-d])\)?[.):]?$", re.IGNORECASE)
_TEXT_LETTER = re.compile(
    r"^(?:the\s+)?(?:correct\s+)?(?:answer|option)?\s*(?:is|:)?\s*\(?([A-D])\)?\.?$", re.IGNORECASE
)


def check_answer_read(
    content: object, draft: ChallengeDraft, order: tuple[int, ...]
) -> frozenset[int] | None:
    """The draft's options the checker named as correct (indices into draft.options): empty when
    it said none is, None when its answer cannot be read."""
    if not isinstance(content, str):
        return None
    text = content.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        if "answers" not in data and "answer" not in data:
            return _echoed_question(data, draft)
        named = data.get("answers", data.get("answer"))
        values = named if isinstance(named, list) else [named]
        picked = [_option_named(value, draft, order) for value in values]
        if None in picked:
            return None
        return frozenset(index for index in picked if index is not None)
    found = _TEXT_LETTER.match(text) or _LETTER.match(text)
    if found:
        return frozenset({order[LETTERS.index(found[1].upper())]})
    index = _option_by_text(text, draft)
    return None if index is None else frozenset({index})


def _echoed_question(data: dict, draft: ChallengeDraft) -> frozenset[int] | None:
    """A checker that answered in the shape of a question (its own "options" and a
    "correct_index": small local models do) names the option at that index, found by its text."""
    options = data.get("options")
    index = data.get("correct_index")
    if not isinstance(options, list) or isinstance(index, bool) or not isinstance(index, int):
        return None
    if not 0 <= index < len(options) or not isinstance(options[index], str):
        return None
    found = _option_by_text(options[index], draft)
    return None if found is None else frozenset({found})


def _option_named(value: object, draft: ChallengeDraft, order: tuple[int, ...]) -> int | None:
    if not isinstance(value, str):
        return None
    found = _LETTER.match(value.strip())
    if found:
        return order[LETTERS.index(found[1].upper())]
    return _option_by_text(value, draft)


def _option_by_text(text: str, draft: ChallengeDraft) -> int | None:
    wanted = " ".join(text.split()).casefold()
    matches = [i for i, option in enumerate(draft.options) if " ".join(option.split()).casefold() == wanted]
    return matches[0] if len(matches) == 1 else None


def check_decide(outcome: CheckOutcome, draft: ChallengeDraft) -> None:
    """Raise CheckRefused unless the checker named the key, and only the key."""
    if outcome.picked is None:
        raise CheckRefused(CHECK_UNREADABLE, cause="check_unreadable")
    if not outcome.picked:
        raise CheckRefused(CHECK_NONE_RIGHT, cause="check_none_right")
    if len(outcome.picked) > 1:
        raise CheckRefused(CHECK_TWO_RIGHT, cause="check_two_right")
    if outcome.picked != {draft.correct_index}:
        raise CheckRefused(CHECK_DISAGREES, cause="check_disagrees")
