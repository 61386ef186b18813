"""The content gate: cheap rules that refuse schema-valid nonsense before a model's challenge is
stored.

The validator (drafts.py) checks a challenge's shape; a model can fill that shape with text that
is not a question at all. Each rule below looks at the draft as the provider proposed it (before
the server's shuffle, so an option's letter still means what the model meant) and names what is
wrong. A refusal is a failed generation like any other: no charge, one log line with
`cause=content_gate rule=<rule>`. Every bank entry and every procedural generator passes the gate
(test_content_gate.py), so a rule here never refuses a sound question of ours.

The rules, by the name the log gives them:

- `placeholder`: template text left unfilled in the title, question, options or explanation: a
  bracketed placeholder such as `[placeholder]`, `[Your question here]`, `<your answer>`,
  `[insert code]`, `{{placeholder}}`, `[Option A]`; an option that is only a label ("Option B");
  TODO, TBD, FIXME or lorem ipsum. In the code only the bracketed forms count (a TODO comment is
  ordinary code).
- `of_the_above`: an option that points at the other options: "All of the above", "None of
  these", "Both A and C". The options are shuffled before a learner sees them, and the prompt
  forbids these.
- `no_words`: a question or an explanation with fewer than two words of letters, e.g.
  "1.2.3.1.1.1".
- `title_only_topic`: a title made of nothing but a topic's name, the difficulty, numbers and
  words such as "question", "challenge" or "answer" ("Python", "SQL Question", "Medium data
  structures challenge", "Question 20", "Your Answer").
- `labelled_options`: options that carry their own position ("1. …", "2. …", "B) …"): the
  options are shuffled, so the labels would be wrong.
- `echoes_prompt`: a title, question or option that repeats our instructions instead of asking
  something ("distractor", "correct_index", "multiple-choice question", "Difficulty: easy",
  "in JSON format", "the answer to the question is").
- `code_is_prose`: a code snippet that is one line of words with none of the symbols code is made
  of ("Python", "123", "The answer is no, it is impossible").
- `option_is_code`: an option identical to the code snippet (whitespace aside).
- `explanation_contradicts_key`: the explanation names an option other than the key as the
  correct one: "The correct answer is B", "Option C is correct", "The correct answer is [3, 3]"
  when the key is another option. A number such as "option 2" is read both 0-based and 1-based,
  and a reference that matches the key's own text always passes, so only a plain contradiction is
  refused.
"""

from __future__ import annotations

import re

from challengeapp.core.drafts import ChallengeDraft
from challengeapp.core.errors import GenerationError
from challengeapp.models import Difficulty, Topic

CONTENT_REFUSED = "The challenge generator wrote a question that does not make sense. Please try again."

RULE_PLACEHOLDER = "placeholder"
RULE_OF_THE_ABOVE = "of_the_above"
RULE_NO_WORDS = "no_words"
RULE_TITLE_ONLY_TOPIC = "title_only_topic"
RULE_LABELLED_OPTIONS = "labelled_options"
RULE_ECHOES_PROMPT = "echoes_prompt"
RULE_CODE_IS_PROSE = "code_is_prose"
RULE_OPTION_IS_CODE = "option_is_code"
RULE_EXPLANATION_CONTRADICTS_KEY = "explanation_contradicts_key"

# Fewer words of letters than this in a question or an explanation: not a sentence.
MIN_WORDS = 2


class ContentRefused(GenerationError):
    """A valid-looking challenge that the content gate refused; `rule` names the rule."""

    def __init__(self, rule: str) -> None:
        super().__init__(CONTENT_REFUSED, cause="content_gate")
        self.rule = rule


# --- placeholder ------------------------------------------------------------------------------------

# What a template leaves between brackets. A bracket directly after a word or a closing bracket is
# indexing (`scores[answer]`), not a placeholder, so it never counts.
_STRONG_PLACEHOLDER = (
    r"placeholder[^\]>}\n]{0,40}"
    r"|insert\s[^\]>}\n]{1,40}"
    r"|your\s[^\]>}\n]{1,40}"
    r"|[^\[\]<>{}\n]{0,40}\shere"
    r"|fill[\s-]?in[^\]>}\n]{0,40}"
    r"|todo|tbd|fixme"
)
_LABEL_PLACEHOLDER = (
    r"(?:option|answer|choice|distractor)(?:\s*(?:[a-d1-4]|one|two|three|four))?"
    r"|(?:correct|wrong|right|incorrect)\s+(?:answer|option)(?:\s*[a-d1-4])?"
    r"|question(?:\s+text)?|title|explanation"
)
_NOT_AFTER_A_WORD = r"(?<![\w\]\)])"
_PROSE_PLACEHOLDER = re.compile(
    _NOT_AFTER_A_WORD
    + rf"(?:\[\s*(?:{_STRONG_PLACEHOLDER}|{_LABEL_PLACEHOLDER})\s*\]"
    + rf"|<\s*(?:{_STRONG_PLACEHOLDER})\s*>"
    # In braces only the unmistakable forms: `{answer}` is an ordinary f-string field.
    + rf"|\{{{{1,2}}\s*(?:{_STRONG_PLACEHOLDER})\s*\}}{{1,2}})",
    re.IGNORECASE,
)
_CODE_PLACEHOLDER = re.compile(
    _NOT_AFTER_A_WORD + rf"(?:\[\s*(?:{_STRONG_PLACEHOLDER})\s*\]|<\s*(?:{_STRONG_PLACEHOLDER})\s*>)",
    re.IGNORECASE,
)
# Capitals only, and not a file name (todo.txt): "todo" is an ordinary word in examples.
_PLACEHOLDER_WORDS = re.compile(r"\b(?:TODO|TBD|FIXME)\b(?!\.\w)|(?i:lorem ipsum)")
_LABEL_ONLY_OPTION = re.compile(r"(?:option|answer|choice)\s*\(?[a-d1-4]\)?[.:]?", re.IGNORECASE)


def _has_placeholder(draft: ChallengeDraft) -> bool:
    prose = (draft.title, draft.question, draft.explanation, *draft.options)
    if any(_PROSE_PLACEHOLDER.search(text) or _PLACEHOLDER_WORDS.search(text) for text in prose):
        return True
    if any(_LABEL_ONLY_OPTION.fullmatch(option) for option in draft.options):
        return True
    return bool(draft.code and _CODE_PLACEHOLDER.search(draft.code))


# --- of_the_above -----------------------------------------------------------------------------------

_OF_THE_ABOVE = re.compile(
    r"\b(?:all|none|both|neither|any|each)\s+of\s+(?:the\s+)?"
    r"(?:above|below|these|those|them|preceding|previous|other\s+(?:options|answers|choices)"
    r"|(?:options|answers|choices)\b)",
    re.IGNORECASE,
)
# "A and C", "Both B and D", "Options A, B or C": capital letters, the words between them apart.
_LETTER_COMBINATION = re.compile(
    r"(?i:(?:both|only|either|neither)\s+)?(?i:(?:options?|answers?|choices?)\s+)?"
    r"\(?[A-D]\)?(?:\s*,\s*\(?[A-D]\)?)*(?:\s+(?i:and|or|nor)\s+|\s*[&,]\s*)\(?[A-D]\)?[.!]?"
)


def _points_at_other_options(option: str) -> bool:
    return bool(_OF_THE_ABOVE.search(option) or _LETTER_COMBINATION.fullmatch(option))


# --- no_words ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]{2,}")


def _too_few_words(text: str) -> bool:
    return len(_WORD.findall(text)) < MIN_WORDS


# --- title_only_topic -------------------------------------------------------------------------------

_TOPIC_WORDS = frozenset(
    word
    for topic in Topic
    for name in (topic.value, str(topic.label))
    for word in re.findall(r"[^\W_]+", name.casefold())
) | {
    "algorithm",
    "structure",
    "ds",
    "dsa",
    "js",
    "node",
    "nodejs",
    "ecmascript",
    "py",
    "python3",
    "postgres",
    "postgresql",
    "development",
    "dev",
    "programming",
    "coding",
    "code",
}
_GENERIC_TITLE_WORDS = frozenset(
    {
        "question",
        "questions",
        "challenge",
        "challenges",
        "quiz",
        "test",
        "exercise",
        "problem",
        "puzzle",
        "interview",
        "multiple",
        "choice",
        "mcq",
        "title",
        "topic",
        "level",
        "difficulty",
        "basic",
        "basics",
        "fundamentals",
        "beginner",
        "intermediate",
        "advanced",
        "difficult",
        "new",
        "sample",
        "example",
        "about",
        "on",
        "in",
        "of",
        "for",
        "the",
        "a",
        "an",
        "and",
        "with",
        "your",
        "my",
        "no",
        "number",
        "answer",
        "answers",
        "untitled",
    }
    | {difficulty.value for difficulty in Difficulty}
)


def _title_only_names_the_topic(title: str) -> bool:
    words = re.findall(r"[^\W_]+", title.casefold())
    meaningful = [
        word
        for word in words
        if not word.isdigit() and word not in _TOPIC_WORDS and word not in _GENERIC_TITLE_WORDS
    ]
    return not meaningful


# --- labelled_options -------------------------------------------------------------------------------

# How many options must carry their own position's label ("1. ", "B) ") for the rule to apply.
MIN_LABELLED_OPTIONS = 3


def _options_are_labelled(options: tuple[str, ...]) -> bool:
    labelled = sum(
        1
        for index, option in enumerate(options)
        if re.match(rf"(?:{index + 1}|{'ABCD'[index]}|{'abcd'[index]})[.):]\s", option)
    )
    return labelled >= MIN_LABELLED_OPTIONS


# --- echoes_prompt ----------------------------------------------------------------------------------

_PROMPT_ECHO = re.compile(
    r"\bdistractors?\b|\bcorrect_index\b|\bmulti(?:ple)?[- ]choice\b|\bdifficulty\s*:?\s*(?:easy|medium|hard)\b"
    r"|\bin\s+json\s+format\b|\brespond\s+with\s+json\b|\banswer\s+to\s+(?:the|this)\s+question\s+is\b",
    re.IGNORECASE,
)


def _echoes_the_prompt(draft: ChallengeDraft) -> bool:
    return any(_PROMPT_ECHO.search(text) for text in (draft.title, draft.question, *draft.options))


# --- code_is_prose ----------------------------------------------------------------------------------

# Characters that code of every language we ask for is made of; one line of words without any of
# them is prose (or a lone word or number), not a snippet.
_CODE_SYMBOLS = re.compile(r"[()\[\]{}=;<>_$#*/\\|@:+\-]")


def _code_is_prose(code: str) -> bool:
    return bool(code) and "\n" not in code and not _CODE_SYMBOLS.search(code)


# --- option_is_code ---------------------------------------------------------------------------------


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _an_option_is_the_code(draft: ChallengeDraft) -> bool:
    if not draft.code:
        return False
    code = _collapsed(draft.code)
    return any(_collapsed(option) == code for option in draft.options)


# --- explanation_contradicts_key --------------------------------------------------------------------

# Where an explanation names the option it holds correct. `ref` is the rest of the sentence (read
# by _referenced_indexes); `index` is a bare letter or number.
_NAMED_CORRECT = (
    re.compile(
        r"\b(?:the\s+)?(?:correct|right|only\s+correct)\s+(?:answer|option|choice|one)\s*"
        r"(?:is|was|would\s+be|here\s+is|:|=)\s*(?P<ref>[^\n]{1,300})",
        re.IGNORECASE,
    ),
    re.compile(r"\bthe\s+answer\s+is\s*:?\s*(?P<ref>[^\n]{1,300})", re.IGNORECASE),
    re.compile(
        r"\b(?:option|answer|choice)\s*\(?(?P<index>[A-Da-d1-4])\)?\s+(?:is|was)\s+(?:the\s+)?"
        r"(?:correct|right)\b",
        re.IGNORECASE,
    ),
    # A bare capital letter: "B is correct", "(C) is the right answer". A capital A alone is too
    # often the article to count.
    re.compile(
        r"(?:(?<![\w'\"])\((?P<paren>[A-D])\)|(?<![\w'\"(])(?P<index>[B-D]))\s+is\s+(?:the\s+)?"
        r"(?:correct|right)\b"
    ),
)
_REF_LEAD = re.compile(r"""^(?:(?:option|choice|answer)\b\s*)?[\s"'`“‘(*]*""", re.IGNORECASE)
_REF_LEAD_WORD = re.compile(r"^(?:option|choice|answer)\b", re.IGNORECASE)
# What may follow a letter or number for it to be a reference, not the start of a phrase.
_REF_END = r"""(?=["'`”’)*]*(?:$|[.,:;!?–—(]|\s+(?:because|since|as|which|is|was)\b|\s+[-–—]\s|\s*$))"""
_REF_LETTER = re.compile(r"(?P<letter>[A-D])" + _REF_END)
_REF_LOWER_LETTER = re.compile(r"(?P<letter>[a-d])" + _REF_END)
_REF_NUMBER = re.compile(r"(?P<number>[1-4])" + _REF_END)
_LETTERS = "abcd"


def _referenced_indexes(ref: str, draft: ChallengeDraft) -> set[int] | None:
    """The option indexes `ref` may name (several when a number is read 0- and 1-based); None when
    it names no option or matches the key's own text."""
    named_by_word = bool(_REF_LEAD_WORD.match(ref.strip()))
    text = _REF_LEAD.sub("", ref.strip(), count=1)
    folded = _collapsed(text).casefold()
    key = _collapsed(draft.correct_option).casefold()
    if _starts_with(folded, key):
        return None
    letter = _REF_LETTER.match(text) or (named_by_word and _REF_LOWER_LETTER.match(text))
    if letter:
        return {_LETTERS.index(letter.group("letter").lower())}
    number = _REF_NUMBER.match(text)
    if number:
        value = int(number.group("number"))
        return {value - 1, value} & set(range(len(draft.options)))
    others = {
        index
        for index, option in enumerate(draft.options)
        if index != draft.correct_index and _starts_with(folded, _collapsed(option).casefold())
    }
    return others or None


def _starts_with(text: str, option: str) -> bool:
    """`text` begins with the whole of `option`, not with a longer word or number."""
    if not option or not text.startswith(option):
        return False
    rest = text[len(option) :]
    return not rest or not (rest[0].isalnum() or rest[0] == "_")


def _explanation_contradicts_key(draft: ChallengeDraft) -> bool:
    for pattern in _NAMED_CORRECT:
        for match in pattern.finditer(draft.explanation):
            groups = match.groupdict()
            letter_or_number = groups.get("index") or groups.get("paren")
            if letter_or_number:
                if letter_or_number.isdigit():
                    value = int(letter_or_number)
                    named = {value - 1, value}
                else:
                    named = {_LETTERS.index(letter_or_number.lower())}
            else:
                named = _referenced_indexes(groups["ref"], draft)
            if named is not None and draft.correct_index not in named:
                return True
    return False


# --- the gate ---------------------------------------------------------------------------------------


def content_gate_rule_broken(draft: ChallengeDraft) -> str | None:
    """The name of the first rule the draft breaks, or None when it passes."""
    if _has_placeholder(draft):
        return RULE_PLACEHOLDER
    if any(_points_at_other_options(option) for option in draft.options):
        return RULE_OF_THE_ABOVE
    if _too_few_words(draft.question) or _too_few_words(draft.explanation):
        return RULE_NO_WORDS
    if _title_only_names_the_topic(draft.title):
        return RULE_TITLE_ONLY_TOPIC
    if _options_are_labelled(draft.options):
        return RULE_LABELLED_OPTIONS
    if _echoes_the_prompt(draft):
        return RULE_ECHOES_PROMPT
    if _code_is_prose(draft.code):
        return RULE_CODE_IS_PROSE
    if _an_option_is_the_code(draft):
        return RULE_OPTION_IS_CODE
    if _explanation_contradicts_key(draft):
        return RULE_EXPLANATION_CONTRADICTS_KEY
    return None


def content_gate_check(draft: ChallengeDraft) -> None:
    """Raise ContentRefused when the draft breaks a rule of the gate."""
    rule = content_gate_rule_broken(draft)
    if rule is not None:
        raise ContentRefused(rule)
