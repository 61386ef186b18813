"""The content gate: it refuses each family of schema-valid nonsense that small models write, and
never a sound question: every bank entry and the procedural generators' output pass it."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
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
QUALITY_CORPUS = Path(__file__).resolve().parents[2] / "bench" / "quality" / "corpus"


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


def test_every_sound_challenge_of_the_quality_corpus_passes_the_gate() -> None:
    # bench/quality/corpus: challenges written as gpt-4.1-mini and gpt-4o write them, markdown,
    # unicode and discussed distractors included. The gate's precision on them is 100 %.
    sound = [
        entry
        for path in sorted(QUALITY_CORPUS.glob("*.json"))
        for entry in json.loads(path.read_text(encoding="utf-8"))
        if entry["expect"] == "sound"
    ]
    refused = {
        entry["id"]: content_gate_rule_broken(challenge_draft_validate(entry["reply"])) for entry in sound
    }

    assert len(refused) >= 100
    assert {entry: rule for entry, rule in refused.items() if rule} == {}


def test_a_sound_challenge_passes() -> None:
    content_gate_check(draft())  # raises nothing


# --- Each family of nonsense, as small models write it --------------------------------------------

ALIAS = {
    "question": "What does this code print?",
    "code": "x = [1, 2, 3]\ny = x\ny.append(4)\nprint(len(x))",
    "options": ["3", "4", "1", "TypeError"],
    "correct_index": 1,
}

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
        {"question": "TODO: write the question"},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "TBD", "NameError"]},
        {"explanation": "FIXME - explain the closure"},
    ],
    content_gate.RULE_OF_THE_ABOVE: [
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "All of the above", "NameError"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "[3, 3, 3]", "None of the above"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "Both A and B", "NameError"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "A, B and C", "none of these"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "All of them", "NameError"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "Both of the previous answers", "NameError"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "Each of these is correct", "NameError"]},
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
        {"code": "the output is the same list", "language": "python"},
        {"code": "List comprehension", "language": "python"},
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
        # After a distractor has been discussed, the explanation still argues for another option.
        {"explanation": "You might expect `[2, 2, 2]`, but the correct answer is `[3, 3, 3]`."},
        {"explanation": "It is tempting to pick B. However, the right answer is option C."},
        # Arguing for another option without calling it "the answer".
        {"explanation": "Each lambda captures `i` when it is created, so it prints `[0, 1, 2]`."},
        {
            "explanation": "The comprehension has finished when the lambdas run.\n\nTherefore the output is `[3, 3, 3]`."
        },
        {"explanation": "Because every lambda reads `i` after the loop, `[3, 3, 3]` is printed."},
        {"explanation": "**Output:** `[0, 1, 2]` — each closure keeps its own copy of `i`."},
        {"explanation": "`[0, 1, 2]` is the result: each lambda keeps the `i` it saw."},
        {"explanation": "Each of the three lambdas returns `i`; hence the program outputs [3, 3, 3]."},
        {
            "code": "count = 0\nfor _ in range(5):\n    count += 1\nprint(count)",
            "options": ["2", "3", "4", "5"],
            "correct_index": 3,
            "explanation": "The loop body runs once per item of `range(5)`, so it prints 4.",
        },
        {
            "code": "count = 0\nfor _ in range(5):\n    count += 1\nprint(count)",
            "options": ["2", "3", "4", "5"],
            "correct_index": 3,
            "explanation": "The answer is 4, because the loop runs four times.",
        },
        # An aliasing question (the key is 4) whose explanation argues for the copy's 3.
        {**ALIAS, "explanation": "`y` is a new list, therefore the output is 3."},
        {**ALIAS, "explanation": "**Answer:** 3 — `y` is a copy, so appending to it leaves `x` alone."},
        {**ALIAS, "explanation": "`x` still has three elements after `y.append(4)`, so the result is 3."},
        {**ALIAS, "explanation": "It is easy to think it prints 4, but `y` is a copy, so the answer is 3."},
    ],
    content_gate.RULE_DUPLICATE_OPTIONS: [
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "[2,2,2]", "NameError"]},
        {"options": ["[0, 1, 2]", "[2, 2, 2]", "`[2, 2, 2]`", "NameError"]},
        {
            "code": "pair = (0, 1)\nprint(pair)",
            "options": ["(0, 1)", "(0,1)", "[0, 1]", "0 1"],
            "correct_index": 0,
            "explanation": "A tuple prints with parentheses and a space after each comma.",
        },
        {
            "code": "print(dict(a=1, b=2))",
            "options": ["{'a': 1, 'b': 2}", "{'a':1,'b':2}", "{a: 1, b: 2}", "[('a', 1), ('b', 2)]"],
            "correct_index": 0,
            "explanation": "`dict(a=1, b=2)` builds a dict whose repr quotes the keys.",
        },
        {
            "code": "print(1)\nprint(2)",
            "options": ["1\n2", "```\n1\n2\n```", "12", "2\n1"],
            "correct_index": 0,
            "explanation": "Each `print` ends its line, so 1 and 2 are on lines of their own.",
        },
    ],
    content_gate.RULE_NEAR_DUPLICATE_OPTIONS: [
        {
            "question": "What happens when this code runs?",
            "code": "print(len(5))",
            "options": ["It raises a `TypeError`.", "It raises TypeError", "It prints 5", "It prints 1"],
            "correct_index": 0,
            "explanation": "`len()` needs a sized object; an `int` has no length.",
        },
        {
            "question": "What does `b = a` do to the list `a`?",
            "code": "a = [1, 2]\nb = a",
            "options": [
                "Both names point to the same list object.",
                "Both names point to **the same** list object",
                "The list is copied",
                "b is an empty list",
            ],
            "correct_index": 0,
            "explanation": "Assignment binds a second name to the same object; nothing is copied.",
        },
        {
            "question": "What does `list.sort()` do?",
            "code": "",
            "options": [
                "Sorts the list in place.",
                "sorts the list in-place",
                "Returns a new sorted list",
                "Sorts a copy and discards it",
            ],
            "correct_index": 0,
            "explanation": "`list.sort()` sorts the list itself and returns `None`.",
        },
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

# Explanations that discuss a distractor, as gpt-4.1-mini and gpt-4o write them: saying why an
# option is wrong, or what a learner might think, is not arguing for it. The key is [2, 2, 2].
DISCUSSES_A_DISTRACTOR = {
    "easy to think": "It is easy to think the answer is `[3, 3, 3]`, but `range(3)` stops at 2, so the "
    "last value of `i` is 2.",
    "looks right, however": "Option A looks right because the lambdas are created in order; however, each "
    "one reads `i` only when it is called.",
    "you might think": "You might think the correct answer is `[0, 1, 2]`, since each lambda is created "
    "with a different `i`. It isn't: closures capture variables, not values.",
    "a common mistake": "A common mistake is to say the answer is [0, 1, 2]. Python closures are "
    "late-binding, so every call sees the final `i`.",
    "at first glance": "At first glance the output is `[0, 1, 2]`, but the lambdas run after the "
    "comprehension has finished, when `i` is 2.",
    "correct only if": "Option C (`[3, 3, 3]`) would be correct only if `range` included its stop "
    "value, which it does not. The lambdas all see `i == 2`.",
    "many beginners believe": "Many beginners believe option A is correct because each lambda is "
    "made in a different iteration. But they all share one `i`, which ends at 2.",
    "gpt-4o markdown list": "**Why `[2, 2, 2]`?** Each `lambda` closes over the *variable* `i`, not "
    "its value at creation time.\n\n"
    "- `[0, 1, 2]` would be the output if each lambda captured `i` early (e.g. `lambda i=i: i`).\n"
    "- `[3, 3, 3]` is what you'd expect if `range(3)` included 3 — it doesn't.\n"
    "- `NameError` is wrong: `i` is still reachable from the closures.",
    "unicode quotes": "Each λ reads `i` late → `[2, 2, 2]`. It’s tempting to say the answer is "
    "“[0, 1, 2]”, but closures don’t snapshot values.",
    "why not": "**Why not [0, 1, 2]?** Because the answer is not fixed when each lambda is created; "
    "`i` is looked up when `f()` runs, and by then it is 2.",
    "the key after a distractor": "You may expect `[0, 1, 2]`, yet the program prints `[2, 2, 2]`: "
    "the comprehension has finished before any lambda is called.",
}


@pytest.mark.parametrize("explanation", DISCUSSES_A_DISTRACTOR.values(), ids=DISCUSSES_A_DISTRACTOR.keys())
def test_an_explanation_that_discusses_a_distractor_passes(explanation: str) -> None:
    assert content_gate_rule_broken(draft(explanation=explanation)) is None


COUNTER = {"code": "x = 2\nx += 2\nx *= 2\nprint(x)", "options": ["2", "4", "6", "8"], "correct_index": 3}

# Sound challenges of each family a rule was narrowed for, and the near misses of the new rules.
SOUND = {
    "a distractor named as another program's result": {
        "question": "What is `list(d)` after these lines run?",
        "code": "from collections import deque\n\nd = deque([1, 2, 3, 4])\nd.rotate(1)",
        "options": ["[2, 3, 4, 1]", "[4, 1, 2, 3]", "[1, 2, 3, 4]", "[3, 4, 1, 2]"],
        "correct_index": 1,
        "explanation": "A **positive** `n` rotates right, so `[1, 2, 3, 4]` becomes `[4, 1, 2, 3]`.\n\n"
        "`[2, 3, 4, 1]` is the result of `rotate(-1)` (rotate left).",
    },
    "options naming things with the letter A": {
        "question": "The branch `topic` has commits `A ← B ← C`. Which commits does the command apply?",
        "code": "git cherry-pick A..C",
        "language": "bash",
        "options": [
            "A, B and C, in that order",
            "B and C, in that order",
            "Only C",
            "C, B and A, newest first",
        ],
        "correct_index": 1,
        "explanation": "`A..C` excludes `A` itself, so only `B` and `C` are picked, oldest first.",
    },
    "an intermediate value that is a distractor": {
        **COUNTER,
        "explanation": "`x += 2` gives 4, and doubling that gives 8, so the program prints 8.",
    },
    "an intermediate result": {
        **COUNTER,
        "explanation": "After `x += 2`, the result is 4; `x *= 2` then makes it 8.",
    },
    "a number read as a value, not a position": {
        **COUNTER,
        "explanation": "The answer is 8: x goes 2 → 4 → 8. If you thought 6, you added instead of doubling.",
    },
    "a distractor's value at a step of the reasoning": {
        "code": "def check(n):\n    return n > 2\n\ncheck(3)\nprint(check(1))",
        "options": ["False", "True", "None", "2"],
        "correct_index": 0,
        "explanation": "`True` is returned by the first call, `check(3)`, but its result is thrown away. "
        "The second call compares 1 > 2, so the program prints `False`.",
    },
    "a multi-line output told line by line": {
        "code": "print(1)\nprint(2)",
        "options": ["1\n2", "1", "2", "2\n1"],
        "correct_index": 0,
        "explanation": "The first `print` shows 1, then the second prints 2, so it prints 1 and then 2:\n"
        "```\n1\n2\n```",
    },
    "an aliasing explanation with a markdown list of distractors": {
        **ALIAS,
        "explanation": "`y = x` does not copy the list; both names refer to **the same** object. Appending "
        "through `y` changes `x`, so `len(x)` is 4.\n\n"
        "- **3** would be right if `y` were a copy (`x.copy()` or `x[:]`).\n"
        "- **1** confuses `len` with counting appends.\n"
        "- **TypeError**: nothing here is an invalid operation.",
    },
    "an aliasing explanation naming the distractor learners pick": {
        **ALIAS,
        "explanation": "Since `y` is an alias, `x` now holds `[1, 2, 3, 4]`, so the program prints `4`. "
        "Many learners answer 3 because they think assignment copies.",
    },
    "it may look like": {
        **ALIAS,
        "explanation": "It may look like the output is 3, but `x` and `y` share one list, so 4 is printed.",
    },
    "a trap, then the conclusion": {
        **ALIAS,
        "explanation": "Option `3` is a trap: it assumes a copy. The list has four items after `append`, "
        "therefore 4.",
    },
    "git stash pop": {"code": "git stash pop", "language": "bash"},
    "git status": {"code": "git status", "language": "bash"},
    "git rebase -i": {"code": "git rebase -i HEAD~3", "language": "bash"},
    "git log --oneline --graph": {"code": "git log --oneline --graph", "language": "bash"},
    "a query without symbols": {"code": "SELECT name FROM users", "language": "sql"},
    "import this": {"code": "import this", "language": "python"},
    "TODO in a git question": {
        "title": "Searching tracked files",
        "question": "Which command lists every line containing TODO in the files git tracks?",
        "code": "",
        "language": "bash",
        "options": ["git grep TODO", "git log -S TODO", "git find TODO", "git status TODO"],
        "correct_index": 0,
        "explanation": "`git grep TODO` searches the tracked files of the working tree. `git log -S TODO` "
        "searches history for commits that added or removed TODO.",
    },
    "TODO comments in code": {"question": "Which TODO comment does flake8-todos report here?"},
    "each of them, in an option": {
        "question": "What does each thread print?",
        "options": ["Each of them prints its own index", "Only the last one prints", "Nothing", "NameError"],
        "correct_index": 0,
    },
    "both of them, in an option": {
        "code": "a = [1]\nb = a\nb.append(2)\nprint(a, b)",
        "options": ["Both of them point to the same list", "b is a copy", "a is empty", "NameError"],
        "correct_index": 0,
    },
    "both a and b, as names": {
        "code": "a = [1]\nb = a\nb.append(2)",
        "question": "Which names see the appended 2?",
        "options": ["Both a and b", "Only a", "Only b", "Neither"],
        "correct_index": 0,
    },
    "class names A, B and C": {
        "question": "Which `__init__` methods run when `C()` is created?",
        "code": "class A:\n    def __init__(self): print('A')\n"
        "class B(A):\n    def __init__(self): super().__init__(); print('B')\n"
        "class C(B):\n    def __init__(self): super().__init__(); print('C')\nC()",
        "options": ["A, B and C", "Only C", "B and C", "A and C"],
        "correct_index": 0,
        "explanation": "Each `__init__` calls `super().__init__()` first, so all three run.",
    },
    "True and 'True'": {"options": ["True", "'True'", "1", "False"], "correct_index": 0},
    "a join's separator": {
        "code": "print(' '.join('abc'))",
        "options": ["a b c", "abc", "a,b,c", "['a', 'b', 'c']"],
        "correct_index": 0,
    },
    "json separators": {
        "code": "import json\nprint(json.dumps([1, 2], separators=(',', ':')))",
        "options": ["[1,2]", "[1, 2]", "(1, 2)", "'[1,2]'"],
        "correct_index": 0,
        "explanation": "`separators=(',', ':')` drops the spaces `json.dumps` puts after commas by default.",
    },
    "json quotes": {
        "code": "import json\nprint(json.dumps({'a': 1}))",
        "options": ['{"a": 1}', "{'a': 1}", "{a: 1}", "['a']"],
        "correct_index": 0,
    },
    "numbers that differ by a point": {"options": ["3.0", "30", "3", "3.00"], "correct_index": 0},
    "a sign": {"options": ["-1", "1", "0", "None"], "correct_index": 0},
    "prose options with the same words in another order": {
        "question": "What does `b = a.copy()` do?",
        "options": ["a is copied into b", "b is copied into a", "a and b are the same object", "nothing"],
        "correct_index": 0,
    },
    "prose options that differ by one word": {
        "question": "What happens?",
        "options": [
            "It raises a TypeError",
            "It raises a ValueError",
            "It returns None",
            "It prints nothing",
        ],
        "correct_index": 0,
    },
}


@pytest.mark.parametrize("changes", SOUND.values(), ids=SOUND.keys())
def test_sound_challenges_of_each_narrowed_family_pass(changes: dict[str, Any]) -> None:
    assert content_gate_rule_broken(draft(**changes)) is None


@pytest.mark.parametrize("changes", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_sound_questions_that_look_like_nonsense_pass(changes: dict[str, Any]) -> None:
    assert content_gate_rule_broken(draft(**changes)) is None
