"""challenge_draft_parse: recover a challenge from what models really send, reject the rest, and
never raise anything but InvalidModelOutput, whatever the input."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from challengeapp.core import drafts
from challengeapp.core.drafts import ChallengeDraft, challenge_draft_validate
from challengeapp.core.errors import InvalidModelOutput
from challengeapp.generation import parsing
from challengeapp.generation.parsing import MAX_OUTPUT_CHARS, challenge_draft_parse

VALID: dict[str, Any] = {
    "title": "Mutable default arguments",
    "question": "What does this program print?",
    "code": "def append_one(items=[]):\n    items.append(1)\n    return items\n\nappend_one()\nprint(append_one())",
    "language": "python",
    "options": ["[1]", "[1, 1]", "[]", "TypeError"],
    "correct_index": 1,
    "explanation": "The default list is created once, when the function is defined, so the second "
    "call appends to the same list. [1] is tempting if you expect a fresh list per call.",
}


_DROP = object()  # challenge(title=_DROP): the field is left out


def challenge(**changes: Any) -> dict[str, Any]:
    data = {**VALID, **changes}
    return {key: value for key, value in data.items() if value is not _DROP}


VALID_JSON = json.dumps(VALID)
PRETTY_JSON = json.dumps(VALID, indent=2, ensure_ascii=False)
THREE_OPTIONS_JSON = json.dumps(challenge(options=["a", "b", "c"]))
OTHER_VALID_JSON = json.dumps(challenge(title="Another challenge", correct_index=3))

BRACES_AND_QUOTES = challenge(
    question='What does `print("{}".format("{\\"a\\": 1}"))` print? Note the "quotes" and {braces}.',
    code='config = {"outer": {"inner": "}{"}}\nprint(config["outer"]["inner"] + "\\"")',
    options=['{"a": 1}', "{}", '{\\"a\\": 1}', "KeyError: 'a'"],
)
UNICODE = challenge(
    title="Émojis 🐍 and 漢字 and עברית",
    question="Which length does len('🐍') return in Python 3.12? مرحبا",
    options=["1", "2", "4", "ValueError 😱"],
    explanation="len counts code points; 🐍 is one code point. 漢字 are two. עברית is five.",
)

RECOVERABLE = [
    ("bare object", VALID_JSON, VALID),
    ("pretty-printed with CRLF", PRETTY_JSON.replace("\n", "\r\n"), VALID),
    ("json fence", f"```json\n{PRETTY_JSON}\n```", VALID),
    ("bare fence", f"```\n{VALID_JSON}\n```", VALID),
    (
        "fence with prose around",
        f"Sure! Here is your challenge:\n\n```json\n{PRETTY_JSON}\n```\n\nGood luck!",
        VALID,
    ),
    ("prose before and after", f"Here you go: {VALID_JSON} Hope this helps.", VALID),
    ("stray braces in prose", f"Use {{not json}} and {{{{ this }}. {VALID_JSON} }} trailing {{", VALID),
    ("byte-order mark", "\ufeff" + VALID_JSON, VALID),
    ("footnote list in prose is skipped", f"Note [1]: see below.\n{VALID_JSON}", VALID),
    ("braces and escaped quotes in strings", json.dumps(BRACES_AND_QUOTES), BRACES_AND_QUOTES),
    (
        "first object invalid, second valid",
        f"{THREE_OPTIONS_JSON}\n{OTHER_VALID_JSON}",
        json.loads(OTHER_VALID_JSON),
    ),
    ("two valid objects: the first wins", f"{VALID_JSON}\n\n{OTHER_VALID_JSON}", VALID),
    (
        "truncated object then a whole one",
        VALID_JSON[:80] + "\n" + OTHER_VALID_JSON,
        json.loads(OTHER_VALID_JSON),
    ),
    ("index as a digit string", json.dumps(challenge(correct_index="2")), challenge(correct_index=2)),
    (
        "extra unknown fields",
        json.dumps(challenge(difficulty="hard", tags=["x"], meta={"a": [1, {}]})),
        VALID,
    ),
    ("emoji, CJK and RTL text", json.dumps(UNICODE, ensure_ascii=False), UNICODE),
    ("emoji, CJK and RTL as escapes", json.dumps(UNICODE, ensure_ascii=True), UNICODE),
    ("no code", json.dumps(challenge(code="", language="")), challenge(code="", language="")),
]


@pytest.mark.parametrize(
    ("text", "expected"), [case[1:] for case in RECOVERABLE], ids=[case[0] for case in RECOVERABLE]
)
def test_recovers_the_challenge(text: str, expected: dict[str, Any]) -> None:
    draft = challenge_draft_parse(text)

    assert draft == challenge_draft_validate(expected)
    assert draft.title == expected["title"].strip()
    assert draft.correct_option == expected["options"][int(expected["correct_index"])]


def test_braces_inside_strings_survive_intact() -> None:
    draft = challenge_draft_parse("Intro {oops}\n" + json.dumps(BRACES_AND_QUOTES) + "\n} trailing")

    assert draft.code == 'config = {"outer": {"inner": "}{"}}\nprint(config["outer"]["inner"] + "\\"")'
    assert draft.options[2] == '{\\"a\\": 1}'


def _nested(depth: int) -> str:
    # Closing brackets inside strings hide this nesting from a bracket count; only decoding sees it.
    return '["]",' * depth


REJECTED = [
    ("empty", "", parsing.EMPTY_OUTPUT),
    ("whitespace", " \n\t\r\n ", parsing.EMPTY_OUTPUT),
    ("null", "null", parsing.NO_JSON_OBJECT),
    ("number", "42", parsing.NO_JSON_OBJECT),
    ("float", "-3.5e2", parsing.NO_JSON_OBJECT),
    ("string", '"a challenge"', parsing.NO_JSON_OBJECT),
    ("prose only", "I'm sorry, but I can't help with that.", parsing.NO_JSON_OBJECT),
    ("empty list", "[]", parsing.ARRAY_NOT_OBJECT),
    ("list holding a valid challenge", f"[{VALID_JSON}]", parsing.ARRAY_NOT_OBJECT),
    ("fenced list holding a valid challenge", f"```json\n[{PRETTY_JSON}]\n```", parsing.ARRAY_NOT_OBJECT),
    ("truncated mid-string", VALID_JSON[: len(VALID_JSON) // 2], parsing.NO_JSON_OBJECT),
    ("truncated before the last brace", VALID_JSON[:-1], parsing.NO_JSON_OBJECT),
    ("3 options", THREE_OPTIONS_JSON, drafts.WRONG_OPTION_COUNT),
    ("5 options", json.dumps(challenge(options=["a", "b", "c", "d", "e"])), drafts.WRONG_OPTION_COUNT),
    ("options not a list", json.dumps(challenge(options="a, b, c, d")), drafts.WRONG_OPTION_COUNT),
    (
        "duplicates by surrounding spaces",
        json.dumps(challenge(options=["Yes", "no", " no ", "maybe"])),
        drafts.DUPLICATE_OPTIONS,
    ),
    (
        "duplicates by inner spaces",
        json.dumps(challenge(options=["a  b", "a b", "c", "d"])),
        drafts.DUPLICATE_OPTIONS,
    ),
    ("option a number", json.dumps(challenge(options=["a", 42, "c", "d"])), drafts.OPTION_NOT_TEXT),
    ("option empty", json.dumps(challenge(options=["a", "", "c", "d"])), drafts.OPTION_NOT_TEXT),
    ("option blank", json.dumps(challenge(options=["a", "  ", "c", "d"])), drafts.OPTION_NOT_TEXT),
    ("option null", json.dumps(challenge(options=["a", None, "c", "d"])), drafts.OPTION_NOT_TEXT),
    ("missing title", json.dumps(challenge(title=_DROP)), drafts.MISSING_FIELD.format(field="title")),
    ("blank title", json.dumps(challenge(title="  \n")), drafts.BLANK_FIELD.format(field="title")),
    ("title not text", json.dumps(challenge(title=["t"])), drafts.FIELD_NOT_TEXT.format(field="title")),
    (
        "missing question",
        json.dumps(challenge(question=_DROP)),
        drafts.MISSING_FIELD.format(field="question"),
    ),
    ("blank question", json.dumps(challenge(question="")), drafts.BLANK_FIELD.format(field="question")),
    (
        "missing explanation",
        json.dumps(challenge(explanation=_DROP)),
        drafts.MISSING_FIELD.format(field="explanation"),
    ),
    (
        "blank explanation",
        json.dumps(challenge(explanation="\t")),
        drafts.BLANK_FIELD.format(field="explanation"),
    ),
    (
        "missing index",
        json.dumps(challenge(correct_index=_DROP)),
        drafts.MISSING_FIELD.format(field="correct_index"),
    ),
    ("index -1", json.dumps(challenge(correct_index=-1)), drafts.BAD_CORRECT_INDEX),
    ("index 4", json.dumps(challenge(correct_index=4)), drafts.BAD_CORRECT_INDEX),
    ("index true", json.dumps(challenge(correct_index=True)), drafts.BAD_CORRECT_INDEX),
    ("index 1.0", json.dumps(challenge(correct_index=1.0)), drafts.BAD_CORRECT_INDEX),
    ("index '1.0'", json.dumps(challenge(correct_index="1.0")), drafts.BAD_CORRECT_INDEX),
    ("index 'one'", json.dumps(challenge(correct_index="one")), drafts.BAD_CORRECT_INDEX),
    (
        "oversized field",
        json.dumps(challenge(title="t" * (drafts.MAX_TITLE_CHARS + 1))),
        drafts.FIELD_TOO_LONG.format(field="title", limit=drafts.MAX_TITLE_CHARS),
    ),
    ("oversized output", VALID_JSON + " " * MAX_OUTPUT_CHARS, parsing.OUTPUT_TOO_LONG),
    ("lone surrogate", json.dumps(challenge(title="half an emoji \ud83d")), parsing.NOT_VALID_UNICODE),
    # Pathological input: each must be refused at once, not after a deep recursion or a
    # quadratic scan. Running them is the test; a regression shows as a hang or a RecursionError.
    ("100k open brackets", "[" * 100_000, parsing.OUTPUT_TOO_LONG),
    ("50k nested keys", '{"a":' * 50_000, parsing.OUTPUT_TOO_LONG),
    ("20k open braces", "{" * MAX_OUTPUT_CHARS, parsing.NESTED_TOO_DEEPLY),
    ("nested keys just under the size limit", '{"a":' * (MAX_OUTPUT_CHARS // 5), parsing.NESTED_TOO_DEEPLY),
    ("nesting hidden by brackets in strings", _nested(MAX_OUTPUT_CHARS // 5), parsing.NO_JSON_OBJECT),
    ("10k empty objects", "{}" * (MAX_OUTPUT_CHARS // 2), drafts.MISSING_FIELD.format(field="title")),
    ("unterminated string to the end", '{"title": "' + "x" * (MAX_OUTPUT_CHARS - 20), parsing.NO_JSON_OBJECT),
    ("stray braces everywhere", "{x}" * (MAX_OUTPUT_CHARS // 3), parsing.NO_JSON_OBJECT),
    ("huge integer", '{"correct_index": ' + "9" * 10_000 + "}", parsing.NO_JSON_OBJECT),
]


@pytest.mark.parametrize(
    ("text", "message"), [case[1:] for case in REJECTED], ids=[case[0] for case in REJECTED]
)
def test_rejects_with_a_readable_message(text: str, message: str) -> None:
    with pytest.raises(InvalidModelOutput) as raised:
        challenge_draft_parse(text)

    assert raised.value.message == message
    assert raised.value.cause == "invalid_output"


@pytest.mark.parametrize(
    "value", [None, b'{"title": "x"}', VALID_JSON.encode(), 123, 1.5, VALID, [VALID], object()]
)
def test_rejects_anything_but_text(value: object) -> None:
    with pytest.raises(InvalidModelOutput) as raised:
        challenge_draft_parse(value)

    assert raised.value.message == parsing.NOT_TEXT


def test_gives_the_first_rejection_when_every_object_is_invalid() -> None:
    text = THREE_OPTIONS_JSON + json.dumps(challenge(correct_index=9))

    with pytest.raises(InvalidModelOutput) as raised:
        challenge_draft_parse(text)

    assert raised.value.message == drafts.WRONG_OPTION_COUNT


def test_accepts_output_exactly_at_the_size_limit() -> None:
    text = VALID_JSON.ljust(MAX_OUTPUT_CHARS)

    assert challenge_draft_parse(text) == challenge_draft_validate(VALID)


# --- Property test: any input, a draft that is valid again, or InvalidModelOutput ------------------

PROPERTY_EXAMPLES = 2000

_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=15,
)
_nonblank = st.text(min_size=1, max_size=60).map(lambda text: "x" + text)
_valid_challenges = st.builds(
    lambda title, question, code, language, options, index, explanation, as_string: {
        "title": title,
        "question": question,
        "code": code,
        "language": language,
        "options": [f"{position}) {option}" for position, option in enumerate(options)],
        "correct_index": str(index) if as_string else index,
        "explanation": explanation,
    },
    _nonblank,
    _nonblank,
    st.text(max_size=70),  # fewer newlines than the code line limit
    st.sampled_from(["python", "js", "SQL", "brainfuck", "", "  Python3 "]),
    st.lists(st.text(max_size=40), min_size=4, max_size=4),
    st.integers(0, 3),
    _nonblank,
    st.booleans(),
)
_FIELDS = ["title", "question", "code", "language", "options", "correct_index", "explanation", "extra"]


@st.composite
def _mutated_challenges(draw: st.DrawFn) -> str:
    data = draw(_valid_challenges)
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(_FIELDS))
        if draw(st.booleans()):
            data.pop(field, None)
        else:
            data[field] = draw(_json_values)
    text = json.dumps(data, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
    cut = draw(st.integers(0, len(text)))
    operation = draw(st.sampled_from(["keep", "truncate", "insert", "delete"]))
    if operation == "truncate":
        return text[:cut]
    if operation == "insert":
        return (
            text[:cut]
            + draw(st.sampled_from(["{", "}", "[", "]", '"', "\\", ",", ":", "\ud800"]))
            + text[cut:]
        )
    if operation == "delete":
        return text[:cut] + text[cut + 1 :]
    return text


_JUNK_TOKENS = [
    "{",
    "}",
    "[",
    "]",
    '"',
    "\\",
    ":",
    ",",
    "```",
    "```json\n",
    "\n",
    " ",
    "null",
    "true",
    "1",
    "-0.5e3",
    '"title"',
    '"options"',
    "[[",
    "{{",
    "}}",
    "\\u12",
    "\\ud83d",
    "🐍",
    "漢",
    "ע",
]
_junk = st.lists(st.sampled_from(_JUNK_TOKENS) | st.text(max_size=8), max_size=40).map("".join)


@st.composite
def _embedded_challenges(draw: st.DrawFn) -> str:
    body = json.dumps(draw(_valid_challenges), ensure_ascii=draw(st.booleans()))
    fence = draw(st.sampled_from(["", "```", "```json"]))
    if fence:
        body = f"{fence}\n{body}\n```"
    return draw(_junk) + body + draw(_junk)


_pathological = st.builds(
    lambda unit, count: unit * count,
    st.sampled_from(["[", "{", '{"a":', '["]",', "{}", "}{", '"', "\\", "[{", '{"t":"']),
    st.integers(0, 25_000),
)
_not_text = st.none() | st.binary(max_size=50) | st.integers() | _json_values
_any_input = st.one_of(
    st.text(max_size=300), _junk, _embedded_challenges(), _mutated_challenges(), _pathological, _not_text
)


def test_never_raises_anything_but_invalid_model_output() -> None:
    examples_run = 0

    @settings(
        max_examples=PROPERTY_EXAMPLES,
        deadline=None,
        database=None,  # no .hypothesis/ directory in the project
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(_any_input)
    def check(value: object) -> None:
        nonlocal examples_run
        examples_run += 1
        try:
            draft = challenge_draft_parse(value)
        except InvalidModelOutput as rejection:
            # The catch-all safety net must stay unused: every input is handled on purpose.
            assert rejection.message != parsing.UNREADABLE
            return
        assert isinstance(draft, ChallengeDraft)
        assert challenge_draft_validate(dataclasses.asdict(draft)) == draft

    check()

    # Hypothesis stops early when it thinks it has seen everything; make sure it did not.
    assert examples_run >= PROPERTY_EXAMPLES


@settings(max_examples=300, deadline=None, database=None)
@given(
    data=_valid_challenges,
    before=st.text(max_size=80).map(lambda text: text.replace("{", "(").replace("[", "(")),
    after=st.text(max_size=80),
    fence=st.sampled_from(["", "```", "```json"]),
)
def test_recovers_any_valid_challenge_from_bracket_free_prose(
    data: dict[str, Any], before: str, after: str, fence: str
) -> None:
    body = json.dumps(data, ensure_ascii=False)
    text = f"{before}{fence}\n{body}\n```{after}" if fence else f"{before}{body}{after}"

    assert challenge_draft_parse(text) == challenge_draft_validate(data)


def test_options_that_differ_only_in_case_are_different_answers() -> None:
    # In code, case is meaning: Python prints True, JavaScript true; SQLite's UPPER() leaves ü alone.
    draft = parsing.challenge_draft_parse(
        json.dumps(challenge(options=["True", "true", "ZüRICH", "ZÜRICH"], correct_index=0))
    )
    assert draft.options == ("True", "true", "ZüRICH", "ZÜRICH")
