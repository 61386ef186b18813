"""The languages a coding problem is written in, which topic allows which, and how a test is
written in each: Python literals for Python (`[1, 2], 3` and `'a'`), JSON for JavaScript
(`[1, 2], 3` and `"a"`)."""

from __future__ import annotations

import json

from challengeapp.coding.harness import arguments_value, literal_value
from challengeapp.coding.js_harness import json_arguments, json_value
from challengeapp.models import CodeLanguage, Topic

CODE_LANGUAGES = (CodeLanguage.PYTHON, CodeLanguage.JAVASCRIPT)
# A topic that names a language is always written in it; the others in either.
TOPIC_LANGUAGE = {Topic.PYTHON: CodeLanguage.PYTHON, Topic.JAVASCRIPT: CodeLanguage.JAVASCRIPT}

UNKNOWN_LANGUAGE = "Choose a language: Python or JavaScript."
LANGUAGE_MISMATCH = (
    "{topic} problems are written in {language}: choose {language} as the language, or another topic."
)


def topic_languages(topic: str) -> tuple[str, ...]:
    """The languages a problem on `topic` can be written in."""
    fixed = TOPIC_LANGUAGE.get(topic)
    return (fixed,) if fixed else CODE_LANGUAGES


def problem_language(*, topic: str, language: str | None) -> str:
    """The language of a problem on `topic` asked for in `language` (None: the topic's own, else
    Python); ValueError with a message for a learner when that pair is not offered."""
    if language is None:
        return TOPIC_LANGUAGE.get(topic, CodeLanguage.PYTHON)
    if language not in CODE_LANGUAGES:
        raise ValueError(UNKNOWN_LANGUAGE)
    if language not in topic_languages(topic):
        fixed = TOPIC_LANGUAGE[topic]
        raise ValueError(LANGUAGE_MISMATCH.format(topic=Topic(topic).label, language=fixed.label))
    return language


def test_values(*, args: str, expected: str, language: str) -> tuple[object, object]:
    """A test's arguments and expected value as values; ValueError when they are not written in
    the language's form."""
    if language == CodeLanguage.JAVASCRIPT:
        return json_arguments(args), json_value(expected)
    return arguments_value(args), literal_value(expected)


def test_call_key(args: str, *, language: str) -> str:
    """One text for every way of writing the same arguments (`[1,2]` and `[1, 2]`), so that two
    tests of one call are found alike."""
    if language == CodeLanguage.JAVASCRIPT:
        return json.dumps(json_arguments(args), sort_keys=True)
    return repr(arguments_value(args))
