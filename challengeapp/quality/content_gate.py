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
  TODO, TBD or FIXME alone or opening a line as a note ("TODO: write the question"); lorem ipsum.
  TODO inside a sentence is a word of the question ("Which command lists every TODO?",
  `git grep TODO`), and in the code only the bracketed forms count (a TODO comment is ordinary
  code).
- `of_the_above`: an option that points at the other options: "All of the above", "None of
  these", "Both of them", "Both A and C". The options are shuffled before a learner sees them, and
  the prompt forbids these. "Each of them prints its own index" speaks of the question's things,
  not of the options, and "A, B and C" are names when the code or the question uses those letters
  as names (`class A`).
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
- `code_is_prose`: a code snippet that is one line with none of the symbols code is made of and
  is a lone word or number ("Python", "123") or a sentence ("The answer is no, it is
  impossible"). A line of lowercase words without sentence words, or opening with a command or a
  keyword, is code (`git stash pop`, `import this`, `SELECT name FROM users`).
- `option_is_code`: an option identical to the code snippet (whitespace aside).
- `duplicate_options`: two options that are one answer: the same output once a code span around
  one is taken off and trailing spaces are ignored (as verification ignores them), or the same
  list, tuple, dict or set written with other spaces ("[1, 2]" and "[1,2]"). Spaces count when the
  question is about them (a join, `sep=`, json's separators). The validator already refuses
  options equal but for runs of spaces; letter case is kept, being meaning in code ("True",
  "true").
- `near_duplicate_options`: two options that are sentences saying the same thing once case,
  punctuation, markdown, hyphens and articles are folded ("It raises a `TypeError`." and "It
  raises TypeError"). Values are left alone: "3.5" is not "35", nor "[1, 2]" "(1, 2)".
- `explanation_contradicts_key`: the explanation argues for an option other than the key. It
  names it as the answer ("The correct answer is B", "Option C is correct", "Answer: [3, 3, 3]";
  a number such as "option 2" is read both 0-based and 1-based, an option's own text first), or
  concludes with its value without calling it the answer ("so it prints 4", "Therefore the
  output is `[3, 3, 3]`", "`[0, 1, 2]` is printed", "**Output:** 4"). Discussing a distractor is
  not arguing for it: a claim in a clause that holds a learner's belief or a condition ("It is
  easy to think the answer is [3], but …", "Many beginners believe option A is correct",
  "[0, 1, 2] would be the output if …"), a question ("Why is the answer not [3]?"), a step of the
  reasoning ("After `x += 2`, the result is 4") or a piece of the key ("prints 1, then 2") passes.
"""

from __future__ import annotations

import io
import re
import tokenize

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
RULE_DUPLICATE_OPTIONS = "duplicate_options"
RULE_NEAR_DUPLICATE_OPTIONS = "near_duplicate_options"

# Fewer words of letters than this in a question or an explanation: not a sentence.
MIN_WORDS = 2
# Options with fewer words of letters than this are values, not sentences, for near_duplicate_options.
MIN_PROSE_OPTION_WORDS = 3


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
# TODO, TBD and FIXME are template residue only where a template puts them: alone, or opening a
# line as a note ("TODO: write the question", "FIXME - explain"). Anywhere else they are words of a
# real question ("Which command lists every TODO?", `git grep TODO`). Capitals only.
_PLACEHOLDER_WORDS = re.compile(r"(?m:^[\W_]*(?:TODO|TBD|FIXME)(?:[\W_]*$|\s*[:\-–—]))|(?i:lorem ipsum)")
_LABEL_ONLY_OPTION = re.compile(r"(?:option|answer|choice)\s*\(?[a-d1-4]\)?[.:]?", re.IGNORECASE)


def prose_placeholder(text: str) -> bool:
    """Whether prose (a title, a question, an explanation) holds template text. Shared with the
    coding problems' gate (coding/problem_gate.py), as are the helpers below it names."""
    return bool(_PROSE_PLACEHOLDER.search(text) or _PLACEHOLDER_WORDS.search(text))


def code_placeholder(code: str) -> bool:
    """Whether code holds a bracketed placeholder (`[your code here]`, `<insert code>`)."""
    return bool(_CODE_PLACEHOLDER.search(code))


def _has_placeholder(draft: ChallengeDraft) -> bool:
    prose = (draft.title, draft.question, draft.explanation, *draft.options)
    if any(prose_placeholder(text) for text in prose):
        return True
    if any(_LABEL_ONLY_OPTION.fullmatch(option) for option in draft.options):
        return True
    return bool(draft.code and code_placeholder(draft.code))


# --- of_the_above -----------------------------------------------------------------------------------

# "above", "below", "preceding", "previous", "the other options" can only mean the list of options;
# "these", "those", "them" only when nothing follows that says what they are ("Each of them
# prints its own index" is about the question's threads, "All of them" alone about the options).
_OF_THE_ABOVE = re.compile(
    r"\b(?:all|none|both|neither|any|each|either)\s+of\s+(?:the\s+)?"
    r"(?:(?:above|below|preceding|previous|other\s+(?:options|answers|choices))\b"
    r"|(?:options|answers|choices)\b"
    r"|(?:these|those|them)(?:\s+(?:options|answers|choices)\b|\s+(?:is|are)\s+(?:correct|right|true"
    r"|wrong|false)\b|[\W_]*$))",
    re.IGNORECASE,
)
# "A and C", "Both B and D", "Options A, B or C": capital letters, the words between them apart.
_LETTER_COMBINATION = re.compile(
    r"(?i:(?:both|only|either|neither)\s+)?(?i:(?:options?|answers?|choices?)\s+)?"
    r"\(?[A-D]\)?(?:\s*,\s*\(?[A-D]\)?)*(?:\s+(?i:and|or|nor)\s+|\s*[&,]\s*)\(?[A-D]\)?[.!]?"
)


_NAME_LETTER = re.compile(r"(?<![\w'\"])[A-D](?![\w'\"])")


def _points_at_other_options(option: str, draft: ChallengeDraft) -> bool:
    if _OF_THE_ABOVE.search(option):
        return True
    if not _LETTER_COMBINATION.fullmatch(option):
        return False
    # "A, B and C" names classes, tables or variables when the code or the question uses those
    # letters as names ("class A", "tables A and B"); a capital A in the question alone is as
    # likely the article.
    names = set(_NAME_LETTER.findall(draft.code)) | (set(_NAME_LETTER.findall(draft.question)) - {"A"})
    return not set(_NAME_LETTER.findall(option)) <= names


# --- no_words ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]{2,}")


def word_count(text: str) -> int:
    """The words of letters in `text` (two letters or more; digits and symbols are not words)."""
    return len(_WORD.findall(text))


def _too_few_words(text: str) -> bool:
    return word_count(text) < MIN_WORDS


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


def title_names_only(title: str, also_ignored: frozenset[str] = frozenset()) -> bool:
    """Whether a title names nothing but a topic, a difficulty, generic words ("question", "quiz",
    numbers) and `also_ignored`."""
    words = re.findall(r"[^\W_]+", title.casefold())
    ignored = _TOPIC_WORDS | _GENERIC_TITLE_WORDS | also_ignored
    return not [word for word in words if not word.isdigit() and word not in ignored]


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


def echoes_prompt(text: str) -> bool:
    """Whether `text` repeats our instructions ("distractors", "in JSON format", "multiple choice")."""
    return bool(_PROMPT_ECHO.search(text))


def _echoes_the_prompt(draft: ChallengeDraft) -> bool:
    return any(echoes_prompt(text) for text in (draft.title, draft.question, *draft.options))


# --- code_is_prose ----------------------------------------------------------------------------------

# Characters that code of every language we ask for is made of; one line of words without any of
# them is prose (or a lone word or number), not a snippet.
_CODE_SYMBOLS = re.compile(r"[()\[\]{}=;<>_$#*/\\|@:+\-]")


# Words that make a line of lowercase words a sentence rather than a command or a statement
# ("the output is the same list" against `git stash pop`, `import this`).
_SENTENCE_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "of",
        "to",
        "and",
        "or",
        "but",
        "not",
        "no",
        "yes",
        "will",
        "would",
        "can",
        "cannot",
        "should",
        "does",
        "do",
        "because",
        "which",
        "answer",
        "output",
        "result",
    ]
)
# Lines that open with a command or a statement keyword are code whatever words follow
# (`import this`, `echo it is done`).
_COMMAND_WORDS = frozenset(
    [
        "git",
        "npm",
        "npx",
        "yarn",
        "pnpm",
        "pip",
        "pip3",
        "python",
        "python3",
        "node",
        "deno",
        "docker",
        "kubectl",
        "ls",
        "cd",
        "cat",
        "echo",
        "printf",
        "grep",
        "find",
        "rm",
        "mkdir",
        "cp",
        "mv",
        "touch",
        "chmod",
        "chown",
        "curl",
        "wget",
        "make",
        "ssh",
        "tar",
        "sudo",
        "export",
        "source",
        "which",
        "head",
        "tail",
        "sort",
        "uniq",
        "wc",
        "ps",
        "kill",
        "pwd",
        "env",
        "cargo",
        "go",
        "java",
        "javac",
        "psql",
        "sqlite3",
        "mysql",
        "import",
        "from",
        "pass",
        "print",
        "return",
        "del",
        "raise",
        "assert",
        "global",
        "nonlocal",
        "yield",
        "await",
        "break",
        "continue",
        "let",
        "const",
        "var",
        "typeof",
        "throw",
    ]
)


def _code_is_prose(code: str) -> bool:
    """One line without code symbols that is a lone word or number ("Python", "123") or reads as a
    sentence: it opens with a capitalised word ("The answer is no") or is made of the words
    sentences are made of. A line of lowercase words without them is a command (`git stash pop`,
    `git grep TODO`) and a line opening with an upper-case keyword is a query (`SELECT name FROM
    users`)."""
    if not code or "\n" in code.strip() or _CODE_SYMBOLS.search(code):
        return False
    words = code.split()
    if len(words) == 1:
        return True
    first = words[0]
    if first in _COMMAND_WORDS or (first.isupper() and first.isalpha() and len(first) > 1):
        return False
    if first[0].isupper():
        return True
    return any(word.strip(",.;!?'\"").casefold() in _SENTENCE_WORDS for word in words)


# --- option_is_code ---------------------------------------------------------------------------------


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _an_option_is_the_code(draft: ChallengeDraft) -> bool:
    if not draft.code:
        return False
    code = _collapsed(draft.code)
    return any(_collapsed(option) == code for option in draft.options)


# --- duplicate_options ------------------------------------------------------------------------------

# The question is about the spaces themselves (json.dumps' separators, print's sep, a join), so
# "[1,2]" and "[1, 2]" are different answers there.
_ABOUT_SPACING = re.compile(
    r"json|separators|\bsep\s*=|\.join\b|pprint|indent|\bformat\b|whitespace|\bspac(?:e|es|ing)\b",
    re.IGNORECASE,
)
_WRAPPED_IN_CODE = re.compile(r"```[\w+-]*\n?(?P<block>.*?)\n?```|`(?P<span>[^`]+)`", re.DOTALL)
_LITERAL_OPENERS = {"[": "]", "(": ")", "{": "}"}


def _as_output(option: str) -> str:
    """The option as output: without a code span or fence around it, and without the trailing
    spaces of each line that verification ignores too."""
    text = option.strip()
    wrapped = _WRAPPED_IN_CODE.fullmatch(text)
    if wrapped:
        text = (
            wrapped.group("block") if wrapped.group("block") is not None else wrapped.group("span")
        ).strip()
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def _literal_tokens(option: str) -> tuple[str, ...] | None:
    """A list, tuple, dict or set display as its Python tokens (spaces between them do not count),
    or None when the option is not one."""
    text = _as_output(option)
    if not text or _LITERAL_OPENERS.get(text[0]) != text[-1]:
        return None
    try:
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        return tuple(token.string for token in tokens if token.type not in _LAYOUT_TOKENS)
    except (tokenize.TokenError, SyntaxError):
        return None


_LAYOUT_TOKENS = frozenset(
    {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.COMMENT}
)


def _two_options_are_one_answer(draft: ChallengeDraft) -> bool:
    outputs = [_as_output(option) for option in draft.options]
    if len(set(outputs)) < len(outputs):
        return True
    if _ABOUT_SPACING.search(draft.question) or _ABOUT_SPACING.search(draft.code):
        return False
    literals = [tokens for tokens in map(_literal_tokens, draft.options) if tokens is not None]
    return len(set(literals)) < len(literals)


# --- near_duplicate_options -------------------------------------------------------------------------

# A word (a number keeps its point: 3.5 is not 35), or any other symbol but the punctuation and
# markdown a sentence is dressed in.
_PROSE_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|\w+|[^\s\w.,;:!?*`]")
_ARTICLE = re.compile(r"""\b(?:a|an|the)\s+(?=[\w`*_"'“‘])""", re.IGNORECASE)


def _reads_as_prose(option: str) -> bool:
    words = _WORD.findall(option)
    return len(words) >= MIN_PROSE_OPTION_WORDS and any(word.casefold() in _SENTENCE_WORDS for word in words)


def _prose_folded(option: str) -> tuple[str, ...]:
    # An article is dropped only before a word: "A, B and C" names three things, the first "A".
    text = _ARTICLE.sub("", option)
    text = re.sub(r"(?<=[^\W\d_])-(?=[^\W\d_])", " ", text.casefold())
    tokens = (token.strip("_") for token in _PROSE_TOKEN.findall(text))
    return tuple(token for token in tokens if token)


def _two_options_say_the_same(options: tuple[str, ...]) -> bool:
    folded = [_prose_folded(option) for option in options if _reads_as_prose(option)]
    return len(set(folded)) < len(folded)


# --- explanation_contradicts_key --------------------------------------------------------------------

# An explanation argues for an option in two ways. It names it as the answer ("The correct answer
# is B", "Answer: [3, 3, 3]", "Option C is correct"): a letter or a number may then stand for an
# option's position. Or it concludes with its value ("so it prints 4", "Therefore the output is
# `[3, 3, 3]`", "`[0, 1, 2]` is printed", "**Output:** 4"): only an option's own text counts there.
# A claim is read in its clause (a sentence, or the part of it before or after "but", "however",
# ";", a dash), and the clause decides whether it is argued or discussed: "It is easy to think the
# answer is [3]", "Many beginners believe option A is correct", "[0, 1, 2] is the output you'd
# expect if…", "Why is the answer [3]?" discuss a distractor, and pass.
_ANSWER_CLAIMS = (
    re.compile(
        r"\b(?:the\s+)?(?:correct|right|only\s+correct|final|actual)\s+(?:answer|option|choice|one)\s*"
        r"(?:is|was|would\s+be|here\s+is|:|=)\s*(?P<ref>[^\n]{1,300})",
        re.IGNORECASE,
    ),
    re.compile(r"\bthe\s+answer\s+is\s*:?\s*(?P<ref>[^\n]{1,300})", re.IGNORECASE),
    re.compile(r"(?m:^)[\W_]*(?:correct\s+)?answer[*_]*\s*:[*_]*\s*(?P<ref>[^\n]{1,300})", re.IGNORECASE),
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
_CONCLUSION = (
    r"\b(?:so|therefore|thus|hence|consequently|as\s+a\s+result|this\s+means|that\s+means)\b[,:]?\s+"
)
_PRINTS = (
    r"(?:(?:the|this)\s+(?:program|code|snippet|script|call|statement|expression|query|line)\s+|it\s+|this\s+)?"
    r"(?:(?:will|would)\s+)?(?:prints?|outputs?|displays?|logs?|shows?|returns?|evaluates?\s+to|gives?|"
    r"yields?|produces?|writes?)\s*:?\s*"
)
_OUTPUT_IS = r"(?:the\s+)?(?:final\s+|printed\s+|actual\s+)?(?:output|result)\s+(?:is|will\s+be)\s*:?\s*"
# Value claims, each followed by the value (`ref`). The ones without a conclusion word count only
# at the start of a clause: "After `x += 2`, the result is 4" is a step, not the conclusion.
_VALUE_CLAIMS = (
    (
        re.compile(rf"{_CONCLUSION}(?P<verb>{_PRINTS}|{_OUTPUT_IS})?(?P<ref>[^\n]{{1,300}})", re.IGNORECASE),
        False,
    ),
    (
        re.compile(
            r"\b(?:(?:the|this)\s+(?:program|code|snippet|script)\s+(?:(?:will|would)\s+)?"
            rf"(?:prints?|outputs?|displays?|logs?|produces?)\s*:?\s*|{_OUTPUT_IS}|(?:final\s+)?output[*_]*\s*:[*_]*\s*)"
            r"(?P<ref>[^\n]{1,300})",
            re.IGNORECASE,
        ),
        True,
    ),
)
# "`[3, 3, 3]` is printed", "[0, 1, 2] is the result": the value first. Matched after an option's
# text.
_IS_THE_VALUE = re.compile(
    r"""["'`”’*)]*\s*(?:is|gets|will\s+be)\s+(?:what\s+(?:gets\s+|is\s+)?)?(?:printed|output|displayed|logged"""
    r"|returned|the\s+(?:final\s+|correct\s+|right\s+|actual\s+|printed\s+)?(?:answer|output|result)"
    r"|correct|right)\b"
    # "… is the result of `rotate(-1)`", "… is the output for n = 2": another program's value.
    r"(?!\s+(?:of|for|from|with|under|when|if)\b)",
    re.IGNORECASE,
)
# Where a clause starts and ends: a sentence, a line, or the part of a sentence around a turn.
_CLAUSE_BREAK = re.compile(
    r"[.!?](?=[\s\"'”’*)]|$)|[;\n]|\s[—–-]\s|—|\b(?:but|however|yet|whereas|although|though|instead)\b",
    re.IGNORECASE,
)
_CLAUSE_OPENING = re.compile(r"""^[\s"'“‘`*_>#,:-]*(?:(?:and|then|now|here)\b[\s,]*)?$""", re.IGNORECASE)
# Words that make a claim one a learner might hold, not the explanation's own.
_DISCUSSED = re.compile(
    r"\b(?:think\w*|thought|expect\w*|assum\w*|believ\w*|guess\w*|suppos\w*|imagin\w*|tempt\w*|mistak\w*"
    r"|misread\w*|misconception\w*|confus\w*|naive\w*|wrongly|incorrectly|erroneously|seem\w*|appear\w*"
    r"|looks?\s+like|might|may|could|pick\w*|choos\w*|chose|select\w*|trap|pitfall|glance|sight"
    r"|intuiti\w*)\b",
    re.IGNORECASE,
)
# Words of a step of the reasoning: a value claimed there is a line or a call's, not the output's
# ("First `1` is printed, then `2`", "`True` is returned by the first call").
_STEP = re.compile(
    r"\b(?:first|firstly|then|next|followed\s+by|afterwards|after\s+that|before\s+that"
    r"|(?:first|second|third|last|inner|outer|each)\s+(?:call|line|print|loop|iteration|time))\b",
    re.IGNORECASE,
)
_CONDITION_NEXT = re.compile(r"""^[\s"'`”’*),]*(?:only\s+)?(?:if|unless|when|were|had)\b""", re.IGNORECASE)
_REF_LEAD = re.compile(r"""^(?:(?:option|choice|answer)\b\s*)?[\s"'`“‘(*_]*""", re.IGNORECASE)
_REF_LEAD_WORD = re.compile(r"^[\s*_]*(?:option|choice|answer)\b", re.IGNORECASE)
# What may follow an option's text for the text to be the whole of the value named: the end of the
# clause or a reason, not "and then 2" (a line of a longer output) or "4.5".
_AFTER_OPTION = re.compile(
    r"""^["'`”’)*_]*(?:$|\.(?!\d)|[;:!?)]|,(?!\s*(?:and|then|or|followed|plus)\b)|\s*[—–]|\s+-\s"""
    r"""|\s+(?!(?:and|then|or|followed|plus|times|more|less|\+|\*|-)(?:\W|$))\S)""",
    re.IGNORECASE,
)
_ENDS_THE_CLAUSE = re.compile(r"""^["'`”’)*_]*(?:$|\.(?!\d)|[;!])""")
# What may follow a letter or number for it to be a reference, not the start of a phrase.
_REF_END = r"""(?=["'`”’)*]*(?:$|[.,:;!?–—(]|\s+(?:because|since|as|which|is|was)\b|\s+[-–—]\s|\s*$))"""
_REF_LETTER = re.compile(r"(?P<letter>[A-D])" + _REF_END)
_REF_LOWER_LETTER = re.compile(r"(?P<letter>[a-d])" + _REF_END)
_REF_NUMBER = re.compile(r"(?P<number>[1-4])" + _REF_END)
_LETTERS = "abcd"


def _option_named_by_text(text: str, draft: ChallengeDraft, *, alone: bool = False) -> int | None:
    """The option whose whole text `text` starts with: the key when it may be read so (in "prints
    a:b: join() …" the colon may be the sentence's), else the longest ("4.0" beats "4"). With
    `alone`, the option must also end its clause ("Therefore, [3, 3, 3].")."""
    folded = _collapsed(text).casefold()
    after = _ENDS_THE_CLAUSE if alone else _AFTER_OPTION
    named = [
        index
        for index, option in enumerate(draft.options)
        if (value := _collapsed(option).casefold())
        and folded.startswith(value)
        and after.match(folded[len(value) :])
    ]
    if draft.correct_index in named:
        return draft.correct_index
    return max(named, key=lambda index: len(draft.options[index]), default=None)


def _position_named(text: str, *, named_by_word: bool, draft: ChallengeDraft) -> set[int] | None:
    """The options a letter or a number may name; a number is read both 0- and 1-based."""
    letter = _REF_LETTER.match(text) or (named_by_word and _REF_LOWER_LETTER.match(text))
    if letter:
        return {_LETTERS.index(letter.group("letter").lower())}
    number = _REF_NUMBER.match(text)
    if number:
        value = int(number.group("number"))
        return {value - 1, value} & set(range(len(draft.options)))
    return None


def _answer_named(ref: str, draft: ChallengeDraft) -> set[int] | None:
    """The option indexes `ref` names as the answer: by its text first ("The answer is 4" means the
    option 4), by its position when the text is "option 2" or a letter; None when it names none."""
    named_by_word = bool(_REF_LEAD_WORD.match(ref))
    text = _REF_LEAD.sub("", ref.strip(), count=1)
    by_position = _position_named(text, named_by_word=named_by_word, draft=draft)
    if named_by_word and by_position:
        return by_position
    by_text = _option_named_by_text(text, draft)
    return {by_text} if by_text is not None else by_position


def _is_part_of_the_key(option: str, draft: ChallengeDraft) -> bool:
    """`option` is a line or a piece of the key ("2" of "[2, 2, 2]", "1" of "1\\n2"): a value claim
    may name it on the way to the whole output."""
    value = re.escape(_collapsed(option).casefold())
    return bool(re.search(rf"(?<![\w.]){value}(?![\w.])", _collapsed(draft.correct_option).casefold()))


def _discussed(
    explanation: str, start: int, end: int, *, clause_opening: bool = False, value: bool = False
) -> bool:
    """The claim between `start` and `end` is discussed, not argued: its clause holds a learner's
    belief or a condition, or it is a question. With `clause_opening`, a claim that does not open
    its clause is a step of the reasoning, and counts as discussed too; with `value` (a value
    claimed, not an answer named), so does a clause with the words of a step."""
    opening = max((found.end() for found in _CLAUSE_BREAK.finditer(explanation, 0, start)), default=0)
    closing_break = _CLAUSE_BREAK.search(explanation, end)
    closing = closing_break.start() if closing_break else len(explanation)
    lead, tail = explanation[opening:start], explanation[end:closing]
    if clause_opening and not _CLAUSE_OPENING.match(lead):
        return True
    if closing_break and closing_break.group() == "?":
        return True
    if value and (_STEP.search(lead) or _STEP.search(tail)):
        return True
    return bool(_DISCUSSED.search(lead) or _DISCUSSED.search(tail) or _CONDITION_NEXT.match(tail))


def _claim_end(explanation: str, ref_start: int, index: int, draft: ChallengeDraft) -> int:
    """Where the option's text ends after `ref_start` (or the reference, when it was a letter)."""
    value = _collapsed(draft.options[index])
    found = re.compile(r"\s+".join(map(re.escape, value.split())), re.IGNORECASE).search(
        explanation, ref_start, ref_start + len(value) + 40
    )
    return found.end() if found else min(len(explanation), ref_start + 2)


def _explanation_contradicts_key(draft: ChallengeDraft) -> bool:
    explanation = draft.explanation
    for pattern in _ANSWER_CLAIMS:
        for match in pattern.finditer(explanation):
            groups = match.groupdict()
            letter_or_number = groups.get("index") or groups.get("paren")
            if letter_or_number:
                named = _position_named(letter_or_number, named_by_word=True, draft=draft) or set()
                end = match.end()
            else:
                named = _answer_named(groups["ref"], draft)
                if not named:
                    continue
                end = _claim_end(explanation, match.start("ref"), min(named), draft)
            if draft.correct_index not in named and not _discussed(explanation, match.start(), end):
                return True
    for pattern, at_clause_opening in _VALUE_CLAIMS:
        for match in pattern.finditer(explanation):
            ref = match.group("ref")
            # "Therefore, [3, 3, 3]." names a value with no verb; "so O(n log n) does not apply" does not.
            alone = "verb" in match.groupdict() and not match.group("verb")
            named = _option_named_by_text(_REF_LEAD.sub("", ref.strip(), count=1), draft, alone=alone)
            if named is None or named == draft.correct_index:
                continue
            if _is_part_of_the_key(draft.options[named], draft):
                continue
            end = _claim_end(explanation, match.start("ref"), named, draft)
            if not _discussed(explanation, match.start(), end, clause_opening=at_clause_opening, value=True):
                return True
    for index, option in enumerate(draft.options):
        if index == draft.correct_index or _is_part_of_the_key(option, draft):
            continue
        text = r"\s+".join(map(re.escape, _collapsed(option).split()))
        for match in re.finditer(rf"(?<![\w.]){text}", explanation, re.IGNORECASE):
            said = _IS_THE_VALUE.match(explanation, match.end())
            if said and not _discussed(explanation, match.start(), said.end(), value=True):
                return True
    return False


# --- the gate ---------------------------------------------------------------------------------------


def content_gate_rule_broken(draft: ChallengeDraft) -> str | None:
    """The name of the first rule the draft breaks, or None when it passes."""
    if _has_placeholder(draft):
        return RULE_PLACEHOLDER
    if any(_points_at_other_options(option, draft) for option in draft.options):
        return RULE_OF_THE_ABOVE
    if _too_few_words(draft.question) or _too_few_words(draft.explanation):
        return RULE_NO_WORDS
    if title_names_only(draft.title):
        return RULE_TITLE_ONLY_TOPIC
    if _options_are_labelled(draft.options):
        return RULE_LABELLED_OPTIONS
    if _echoes_the_prompt(draft):
        return RULE_ECHOES_PROMPT
    if _code_is_prose(draft.code):
        return RULE_CODE_IS_PROSE
    if _an_option_is_the_code(draft):
        return RULE_OPTION_IS_CODE
    if _two_options_are_one_answer(draft):
        return RULE_DUPLICATE_OPTIONS
    if _two_options_say_the_same(draft.options):
        return RULE_NEAR_DUPLICATE_OPTIONS
    if _explanation_contradicts_key(draft):
        return RULE_EXPLANATION_CONTRADICTS_KEY
    return None


def content_gate_check(draft: ChallengeDraft) -> None:
    """Raise ContentRefused when the draft breaks a rule of the gate."""
    rule = content_gate_rule_broken(draft)
    if rule is not None:
        raise ContentRefused(rule)
