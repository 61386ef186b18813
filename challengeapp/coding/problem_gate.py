"""The content gate for coding problems: cheap rules that refuse a schema-valid problem that is not
a problem, before it is run in the sandbox, as quality/content_gate.py does for multiple-choice
challenges (whose public helpers it reuses). A refusal is a failed generation like a failed
verification: no charge, nothing stored, one log line with `cause=content_gate rule=<rule>`.
Every curated problem passes the gate (test_coding_gate.py), so a rule never refuses a sound
problem of ours.

The rules, by the name the log gives them:

- `placeholder`: template text left in the title, statement or explanation (`[Your code here]`,
  `<TODO>`, `{{placeholder}}`, "TODO: …" opening a line, lorem ipsum), or a bracketed placeholder
  in the starter code or the reference solution (`[your code here]`, `<insert code>`). A comment
  such as `# Your code here` in starter code is what starter code says, and passes.
- `no_words`: a statement with fewer than MIN_STATEMENT_WORDS words of letters, or an explanation
  with fewer than MIN_EXPLANATION_WORDS: not a description of a task.
- `title_only_topic`: a title that only names the topic, the language or the difficulty ("Python",
  "Medium JavaScript problem", "Coding challenge 3").
- `echoes_prompt`: a title, statement or explanation that repeats our instructions instead of
  stating a task: the schema's field names (`reference_solution`, `hidden_tests`,
  `wrong_solution`, `starter_code`, `function_name`), "in JSON format", "multiple choice".
- `reference_is_starter`, `reference_is_wrong`: the reference solution is the starter code, or the
  wrong solution, but for whitespace.
- `hidden_tests_shown`: every hidden test is an example, or its call is written out in the
  statement: the hidden tests test nothing the learner was not shown.
- `duplicate_tests`: two tests (examples and hidden tests together) make the same call, however
  their arguments are spaced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from challengeapp.coding.languages import test_call_key
from challengeapp.quality.content_gate import (
    RULE_ECHOES_PROMPT,
    RULE_NO_WORDS,
    RULE_PLACEHOLDER,
    RULE_TITLE_ONLY_TOPIC,
    code_placeholder,
    echoes_prompt,
    prose_placeholder,
    title_names_only,
    word_count,
)

RULE_REFERENCE_IS_STARTER = "reference_is_starter"
RULE_REFERENCE_IS_WRONG = "reference_is_wrong"
RULE_HIDDEN_TESTS_SHOWN = "hidden_tests_shown"
RULE_DUPLICATE_TESTS = "duplicate_tests"

# Fewer words of letters than these: a statement or an explanation that says nothing.
MIN_STATEMENT_WORDS = 6
MIN_EXPLANATION_WORDS = 4

# Words a coding problem's title may add to a topic's name and still name nothing else.
_CODING_TITLE_WORDS = frozenset(
    {"function", "functions", "write", "implement", "solve", "task", "kata", "javascript", "python"}
)
# The schema's field names; not "schema" itself, which a problem about data may well say.
_CODING_PROMPT_ECHO = re.compile(
    r"\b(?:reference_solution|hidden_tests|wrong_solution|starter_code|function_name)\b", re.IGNORECASE
)


class CodingProblem(Protocol):
    """What the gate reads: a generated ProblemDraft or a CuratedProblem."""

    title: str
    statement: str
    explanation: str
    function_name: str
    starter_code: str
    reference_solution: str
    wrong_solution: str
    examples: Sequence[dict]
    hidden_tests: Sequence[dict]
    language: str


def problem_gate_rule(problem: CodingProblem, *, topic: str) -> str:
    """The name of the first rule `problem` breaks, or "" when it passes the gate. Its tests are
    already valid in its language (parsed before the gate)."""
    prose = (problem.title, problem.statement, problem.explanation)
    if any(prose_placeholder(text) for text in prose):
        return RULE_PLACEHOLDER
    if any(code_placeholder(code) for code in (problem.starter_code, problem.reference_solution)):
        return RULE_PLACEHOLDER
    if (
        word_count(problem.statement) < MIN_STATEMENT_WORDS
        or word_count(problem.explanation) < MIN_EXPLANATION_WORDS
    ):
        return RULE_NO_WORDS
    if title_names_only(problem.title, _CODING_TITLE_WORDS):
        return RULE_TITLE_ONLY_TOPIC
    if any(echoes_prompt(text) or _CODING_PROMPT_ECHO.search(text) for text in prose):
        return RULE_ECHOES_PROMPT
    reference = _without_whitespace(problem.reference_solution)
    if reference == _without_whitespace(problem.starter_code):
        return RULE_REFERENCE_IS_STARTER
    if reference == _without_whitespace(problem.wrong_solution):
        return RULE_REFERENCE_IS_WRONG
    return _tests_rule(problem)


def _without_whitespace(code: str) -> str:
    return "".join(code.split())


def _tests_rule(problem: CodingProblem) -> str:
    def key(test: dict) -> str:
        return test_call_key(test["args"], language=problem.language)

    examples = [key(test) for test in problem.examples]
    hidden = [key(test) for test in problem.hidden_tests]
    statement = _without_whitespace(problem.statement)
    shown = set(examples)
    if all(
        call in shown or _without_whitespace(f"{problem.function_name}({test['args']})") in statement
        for call, test in zip(hidden, problem.hidden_tests, strict=True)
    ):
        return RULE_HIDDEN_TESTS_SHOWN
    calls = examples + hidden
    if len(set(calls)) != len(calls):
        return RULE_DUPLICATE_TESTS
    return ""
