"""The content gate: it refuses each family of schema-valid nonsense that small models write, and
never a sound question: every bank entry and the procedural generators' output pass it."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from challengeapp.content.bank import procedural
from challengeapp.content.bank.loader import bank_entries
from challengeapp.core.drafts import ChallengeDraft, challenge_draft_validate
from challengeapp.quality import content_gate
from challengeapp.quality.content_gate import ContentRefused, content_gate_check, content_gate_rule_broken
from challengeapp.tests.test_openai_provider import CHALLENGE

# Draws per procedural generator: each draw is a different snippet with its own options.
PROCEDURAL_DRAWS = 150


def draft(**changes: Any) -> ChallengeDraft:
    return challenge_draft_validate({**CHALLENGE, **changes})


def test_every_bank_entry_passes_the_gate() -> None:
    refused = {entry.entry_id: content_gate_rule_broken(entry.draft) for entry in bank_entries()}

    assert len(refused) == len(bank_entries()) > 0
    assert {entry: rule for entry, rule in refused.items() if rule} == {}


@pytest.mark.parametrize("generator", procedural.GENERATORS, ids=lambda generator: generator.name)
def test_procedural_challenges_pass_the_gate(generator: procedural.SnippetGenerator) -> None:
    refused = []
    for seed in range(PROCEDURAL_DRAWS):
        snippet = generator.build(random.Random(seed))
        rule = content_gate_rule_broken(challenge_draft_validate(dataclasses.asdict(snippet)))
        if rule:
            refused.append((seed, rule))

    assert refused == []


def test_a_sound_challenge_passes() -> None:
    content_gate_check(draft())  # raises nothing


# --- Each family of nonsense, as small models write it --------------------------------------------

NONSENSE = {
    content_gate.RULE_PLACEHOLDER: [
        {"question": "What does [placeholder] return?"},
        {"title": "[Your title here]"},
        {"options": ["<your answer>", "[2, 2, 2]", "[3, 3, 3]", "NameError"], "correct_index": 0},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "[Option C]", "NameError"]},
        {"options": ["Option A", "Option B", "Option C", "Option D"]},
        {"explanation": "TODO: explain why the answer is right."},
        {"question": "Lorem ipsum dolor sit amet?"},
        {"code": "def f():\n    [insert code here]\n"},
        {"explanation": "Because {{placeholder}} is the answer."},
    ],
    content_gate.RULE_OF_THE_ABOVE: [
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "All of the above", "NameError"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "[3, 3, 3]", "None of the above"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "Both A and B", "NameError"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "A, B and C", "none of these"]},
    ],
    content_gate.RULE_NO_WORDS: [
        {"question": "1.2.3.1.1.1"},
        {"question": "2 + 2 = ?"},
        {"explanation": "1.1.1"},
    ],
    content_gate.RULE_TITLE_ONLY_TOPIC: [
        {"title": "Python"},
        {"title": "Python question"},
        {"title": "SQL Challenge #3"},
        {"title": "Medium data structures quiz"},
        {"title": "JavaScript (Node.js 20)"},
        {"title": "Question 20"},
        {"title": "Your Answer"},
    ],
    content_gate.RULE_LABELLED_OPTIONS: [
        {"options": ["1. [0, 1, 2]", "2. [2, 2, 2]", "3. [3, 3, 3]", "4. NameError"]},
        {"options": ["A) [0, 1, 2]", "B) [2, 2, 2]", "C) [3, 3, 3]", "NameError"]},
    ],
    content_gate.RULE_ECHOES_PROMPT: [
        {"title": "diff: the most tempting distractor is right"},
        {"title": "The answer to the question is: X"},
        {"question": "What does this print? Provide a response in JSON format."},
        {"question": "Difficulty: easy. What does this print?"},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "It is a multiple-choice question", "NameError"]},
    ],
    content_gate.RULE_CODE_IS_PROSE: [
        {"code": "Python"},
        {"code": "123"},
        {"code": "The answer is no, it is impossible"},
    ],
    content_gate.RULE_OPTION_IS_CODE: [
        {"options": [CHALLENGE["code"], "[2, 2, 2]", "[3, 3, 3]", "NameError"]},
        {
            "options": [
                "[0, 1, 2]",
                "[2, 2, 2]",
                "funcs = [lambda: i for i in range(3)] print([f() for f in funcs])",
                "x",
            ]
        },
    ],
    content_gate.RULE_EXPLANATION_CONTRADICTS_KEY: [
        {"explanation": "The correct answer is A because the list is built first."},
        {"explanation": "Option C is correct: every lambda sees the last i."},
        {"explanation": "Each lambda sees i after the loop. D is correct."},
        {"explanation": "The correct answer is (4): the loop ends with i == 3."},
        {"explanation": "The correct answer is [3, 3, 3], since range(3) stops at 3."},
        {"explanation": "Answer: the right answer is option c, as the loop ends at 2."},
    ],
}
CASES = [(rule, changes) for rule, family in NONSENSE.items() for changes in family]


@pytest.mark.parametrize(("rule", "changes"), CASES, ids=[f"{rule}-{i}" for i, (rule, _) in enumerate(CASES)])
def test_each_family_of_nonsense_is_refused_by_its_rule(rule: str, changes: dict[str, Any]) -> None:
    with pytest.raises(ContentRefused) as refused:
        content_gate_check(draft(**changes))

    assert refused.value.rule == rule
    assert refused.value.cause == "content_gate"
    assert refused.value.message == content_gate.CONTENT_REFUSED


# --- Sound questions that look a little like nonsense ---------------------------------------------

LOOKALIKES = {
    "a file named todo.txt": {"question": "Why does git status list todo.txt as untracked?"},
    "indexing with a variable named answer": {
        "code": "scores = {'a': 1}\nanswer = 'a'\nprint(scores[answer])"
    },
    "an HTML title element": {"question": "Where must the <title> element appear in an HTML page?"},
    "an f-string field": {"question": "What does print(f'{answer}') show when answer = 42?"},
    "both in a sound option": {"options": ["Both staged-line and unstaged-line", "b", "c", "d"]},
    "letters that spell a word": {"options": ["cora", "eco", "roc", "cor"], "correct_index": 3},
    "a title with a subject": {"title": "Python closures"},
    "a version in the title": {"title": "Python 3.12 f-string quotes"},
    "the key by its text": {"explanation": "The correct answer is [2, 2, 2]: i is looked up late."},
    "the key by its letter": {"explanation": "The correct answer is B, because i is looked up late."},
    "a B-tree": {"explanation": "The answer is B-tree shaped, which is not relevant; i is looked up late."},
    "a printed number as the answer": {
        "options": ["2", "3", "4", "5"],
        "correct_index": 2,
        "explanation": "The answer is 4 because the loop adds one four times.",
    },
    "an article before correct": {"explanation": "A correct closure would bind i as a default argument."},
    "a one-line shell command": {"code": "git commit -a -m 'notes'", "language": "bash"},
    "a one-line query": {"code": "SELECT count(*) FROM emp;", "language": "sql"},
    "numbers as options": {"options": ["3.5 1 3.5", "1 None", "2", "4"], "correct_index": 0},
    "JSON in a web question": {"question": "Which Content-Type does a JSON object body need?"},
}


@pytest.mark.parametrize("changes", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_sound_questions_that_look_like_nonsense_pass(changes: dict[str, Any]) -> None:
    assert content_gate_rule_broken(draft(**changes)) is None
